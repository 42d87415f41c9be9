-- The VAE objective written in Lua from tensor ops, as a user would:
--   z    = mu + exp(0.5 logvar) * eps                (reparameterisation, fixed eps)
--   loss = recon(decoder(z), x, "sum") / n + KL,
--   KL   = -0.5 * sum(1 + logvar - mu^2 - exp(logvar)) / n
-- Its value against a closed-form computation in double, and its gradient
-- against finite differences w.r.t. mu, logvar, the encoder output they are
-- narrowed from, the decoder input and the decoder weights.
local H = require "harness"
local lt = require "latent"

local n, d, D = 5, 3, 7 -- batch, code size, data size

local function leaf(t) return t:requires_grad_() end

-- A fixed problem: eps, decoder weights, targets in [0, 1].
local function problem()
  return {
    eps = lt.randn(n, d),
    W = leaf(lt.randn(D, d) * 0.7),
    b = leaf(lt.randn(D) * 0.3),
    x = lt.rand(n, D),
  }
end

local function decode(P, z, W, b) return lt.linear(z, W or P.W, b or P.b):sigmoid() end

local function recon_loss(kind, xr, x)
  if kind == "bce" then return lt.bce(xr, x, "sum") / n end
  return lt.mse(xr, x, "sum") / n
end

local function kl_term(mu, logvar) return -0.5 * (1 + logvar - mu ^ 2 - logvar:exp()):sum() / n end

local function vae_loss(P, kind, mu, logvar)
  local z = mu + (0.5 * logvar):exp() * P.eps
  return recon_loss(kind, decode(P, z), P.x) + kl_term(mu, logvar)
end

-- The same objective in double precision, from the tensors' values.
local function closed_form(P, kind, mu, logvar)
  local M, L, E, W, B, X = H.values(mu), H.values(logvar), H.values(P.eps), H.values(P.W), H.values(P.b), H.values(P.x)
  local rec, kl = 0, 0
  for i = 0, n - 1 do
    local z = {}
    for k = 0, d - 1 do
      local m, lv = M[i * d + k + 1], L[i * d + k + 1]
      z[k] = m + math.exp(0.5 * lv) * E[i * d + k + 1]
      kl = kl + (1 + lv - m * m - math.exp(lv))
    end
    for j = 0, D - 1 do
      local a = B[j + 1]
      for k = 0, d - 1 do a = a + z[k] * W[j * d + k + 1] end
      local p, t = 1 / (1 + math.exp(-a)), X[i * D + j + 1]
      if kind == "bce" then rec = rec - (t * math.log(p) + (1 - t) * math.log(1 - p))
      else rec = rec + (p - t) ^ 2 end
    end
  end
  return rec / n - 0.5 * kl / n
end

for _, kind in ipairs({ "bce", "mse" }) do
  H.test("vae loss (" .. kind .. "): value agrees with the closed form", function()
    local P = problem()
    local mu, logvar = lt.randn(n, d), lt.randn(n, d) * 0.5
    local loss = vae_loss(P, kind, mu, logvar)
    H.eq(loss:dim(), 0, "a scalar")
    H.close(loss:item(), closed_form(P, kind, mu, logvar), 0, 1e-5)
    -- the KL of the prior itself is 0
    H.close(kl_term(lt.zeros(n, d), lt.zeros(n, d)), 0, 0, 0)
  end)

  H.test("vae loss (" .. kind .. "): gradcheck w.r.t. mu, logvar and the decoder weights", function()
    local P = problem()
    local mu, logvar = leaf(lt.randn(n, d)), leaf(lt.randn(n, d) * 0.5)
    H.ok(lt.gradcheck(function(m, lv) return vae_loss(P, kind, m, lv) end, { mu, logvar }))
    H.ok(lt.gradcheck(function(m, lv, W, b)
      local z = m + (0.5 * lv):exp() * P.eps
      return recon_loss(kind, decode(P, z, W, b), P.x) + kl_term(m, lv)
    end, { mu, logvar, P.W, P.b }))
  end)

  H.test("vae loss (" .. kind .. "): gradcheck through the encoder output split by narrow", function()
    local P = problem()
    local h = leaf(lt.randn(n, 2 * d)) -- the encoder's output: [mu | logvar]
    H.ok(lt.gradcheck(function(hh)
      return vae_loss(P, kind, hh:narrow(2, 1, d), hh:narrow(2, d + 1, d))
    end, { h }))
    -- and through a non-contiguous encoder output
    H.ok(lt.gradcheck(function(hh)
      return vae_loss(P, kind, hh:narrow(2, 1, d), hh:narrow(2, d + 1, d))
    end, { H.noncontig(lt.randn(n, 2 * d)) }))
  end)

  H.test("vae loss (" .. kind .. "): gradcheck w.r.t. the decoder input", function()
    local P = problem()
    local z = leaf(lt.randn(n, d))
    H.ok(lt.gradcheck(function(zz) return recon_loss(kind, decode(P, zz), P.x) end, { z }))
  end)
end

H.test("vae loss: the analytic KL gradient", function()
  -- d KL / d mu = mu / n, d KL / d logvar = 0.5 (exp(logvar) - 1) / n
  local mu, logvar = leaf(lt.randn(n, d)), leaf(lt.randn(n, d))
  kl_term(mu, logvar):backward()
  H.close(mu.grad, mu:detach() / n, 1e-6, 1e-5)
  H.close(logvar.grad, (logvar:detach():exp() - 1) * 0.5 / n, 1e-6, 1e-5)
end)

H.done()
