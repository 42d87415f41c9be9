-- Neural-network ops: linear, batch_norm, leaky_relu / elu / softplus /
-- dropout, and the losses (mse, l1, bce, bce_with_logits, cross_entropy,
-- nll). Outputs and gradients against PyTorch's (tests/fixtures/nnops.lua,
-- made by gen_nnops.py), gradchecks of every op (non-contiguous inputs and
-- both batch-norm modes included), dropout's statistics, and the errors.
local H = require "harness"
local lt = require "latent"

local root = os.getenv("LATENT_SOURCE_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/") or ".")
local FX = dofile(root .. "/tests/fixtures/nnops.lua")

local noncontig = H.noncontig
local FWD_ATOL, FWD_RTOL, GRAD_ATOL, GRAD_RTOL = 1e-6, 1e-5, 1e-5, 1e-4

-- Field `k` of fixture case c as a tensor (nil when absent); a leaf when `grad`.
local function fx(c, k, grad)
  if c[k] == nil then return nil end
  local t = lt.tensor(c[k]):view(c[k .. "_shape"])
  if grad then t:requires_grad_() end
  return t
end

local function close_fwd(got, want, msg) H.close(got, want, FWD_ATOL, FWD_RTOL, msg) end
local function close_grad(got, want, msg)
  H.ok(got ~= nil, (msg or "") .. ": no gradient")
  H.close(got, want, GRAD_ATOL, GRAD_RTOL, msg)
end

local function cases(prefix)
  local names = {}
  for name in pairs(FX) do if name:sub(1, #prefix) == prefix then names[#names + 1] = name end end
  table.sort(names)
  assert(#names > 0, "no fixture cases " .. prefix)
  return names
end

local function leaf(...) return lt.randn(...):requires_grad_() end

-- ==================== linear ====================

H.test("linear: output and gradients match PyTorch (1-D, 2-D, 3-D input, with and without bias)", function()
  for _, name in ipairs(cases("linear_")) do
    local c = FX[name]
    local x, w, b = fx(c, "x", true), fx(c, "w", true), fx(c, "b", true)
    local y = lt.linear(x, w, b)
    close_fwd(y, c.y, name .. " y")
    H.eq(H.shape_of(y), table.concat(c.y_shape, "x"), name .. " shape")
    y:backward(fx(c, "gy"))
    close_grad(x.grad, c.gx, name .. " gx")
    close_grad(w.grad, c.gw, name .. " gw")
    if b then close_grad(b.grad, c.gb, name .. " gb") end
  end
end)

H.test("linear: agrees with matmul for transposed and strided operands", function()
  local x, w, b = lt.randn(7, 5), lt.randn(3, 5), lt.randn(3)
  local want = x:matmul(w:t()) + b
  local xt = x:t():contiguous():t()          -- column-major x
  local wt = w:t():contiguous():t()          -- column-major w (a tied weight's view)
  local xs = lt.randn(7, 10):narrow(2, 3, 5) -- rows with a stride
  xs = lt.no_grad(function() local z = xs:clone(); return z end)
  H.close(lt.linear(xt, w, b), want, 1e-5, 1e-5, "x transposed")
  H.close(lt.linear(x, wt, b), want, 1e-5, 1e-5, "w transposed")
  local big = lt.randn(7, 10); big:narrow(2, 3, 5):copy(x)
  H.close(lt.linear(big:narrow(2, 3, 5), w, b), want, 1e-5, 1e-5, "x narrowed")
  local bs = lt.randn(3, 2):select(2, 1); bs:copy(b)
  H.close(lt.linear(x, w, bs), want, 1e-5, 1e-5, "strided bias")
  -- a 3-D input whose leading dims do not merge is copied
  local x3 = lt.randn(4, 2, 5)
  local want3 = x3:transpose(1, 2):contiguous():view(8, 5):matmul(w:t()):view(2, 4, 3)
  H.close(lt.linear(x3:transpose(1, 2), w), want3, 1e-5, 1e-5, "3-D transposed input")
  -- empty batch, zero features
  H.eq(H.shape_of(lt.linear(lt.zeros(0, 5), w, b)), "0x3")
  H.close(lt.linear(lt.zeros(4, 0), lt.zeros(3, 0), b), b:view(1, 3):expand(4, 3), 0, 0, "in = 0: the bias")
end)

H.test("linear: gradcheck, with contiguous and non-contiguous operands", function()
  local f = function(x, w, b) return lt.linear(x, w, b) end
  H.ok(lt.gradcheck(f, { leaf(4, 3), leaf(2, 3), leaf(2) }))
  H.ok(lt.gradcheck(f, { noncontig(lt.randn(4, 3)), noncontig(lt.randn(2, 3)), leaf(2) }))
  H.ok(lt.gradcheck(function(x, w) return lt.linear(x, w) end, { leaf(2, 3, 4), leaf(5, 4) }))
  H.ok(lt.gradcheck(function(x, w) return lt.linear(x:transpose(1, 2), w) end, { leaf(3, 2, 4), leaf(5, 4) }))
  H.ok(lt.gradcheck(f, { leaf(3), leaf(2, 3), leaf(2) }), "1-D input")
  -- only some inputs need a gradient
  H.ok(lt.gradcheck(f, { lt.randn(4, 3), leaf(2, 3), lt.randn(2) }))
  H.ok(lt.gradcheck(f, { leaf(4, 3), lt.randn(2, 3), nil }))
end)

H.test("linear: errors name the shapes", function()
  H.raises("linear: input 4x3 has 3 features, weight 2x5 expects 5", lt.linear, lt.randn(4, 3), lt.randn(2, 5))
  H.raises("linear: weight must be 2%-D %(out x in%), got 5", lt.linear, lt.randn(4, 5), lt.randn(5))
  H.raises("linear: bias 3 does not match weight 2x5", lt.linear, lt.randn(4, 5), lt.randn(2, 5), lt.randn(3))
  H.raises("linear: input must have at least 1 dimension", lt.linear, lt.tensor(1):view({}), lt.randn(2, 1))
  H.raises("latent.Tensor expected", lt.linear, lt.randn(4, 5), "w")
end)

-- ==================== batch_norm ====================

H.test("batch_norm: train and eval match PyTorch (output, gradients, running statistics)", function()
  for _, name in ipairs(cases("bn")) do
    local c = FX[name]
    local x, w, b = fx(c, "x", true), fx(c, "w", true), fx(c, "b", true)
    local rm, rv = fx(c, "rm"), fx(c, "rv")
    local y = lt.batch_norm(x, rm, rv, w, b, { training = c.training, momentum = c.momentum, eps = c.eps })
    close_fwd(y, c.y, name .. " y")
    close_fwd(rm, c.rm_after, name .. " running_mean")
    close_fwd(rv, c.rv_after, name .. " running_var")
    y:backward(fx(c, "gy"))
    close_grad(x.grad, c.gx, name .. " gx")
    if w then close_grad(w.grad, c.gw, name .. " gw") end
    if b then close_grad(b.grad, c.gb, name .. " gb") end
  end
end)

H.test("batch_norm: gradcheck in training and eval mode, with and without affine, non-contiguous", function()
  local function train(x, w, b) return lt.batch_norm(x, nil, nil, w, b, { training = true }) end
  for _, shape in ipairs({ { 5, 3 }, { 4, 3, 5 }, { 3, 2, 3, 3 } }) do
    local c = shape[2]
    local rm, rv = lt.randn(c), lt.rand(c) + 0.5
    local function eval(x, w, b) return lt.batch_norm(x, rm, rv, w, b) end
    local x, w, b = leaf(table.unpack(shape)), leaf(c), leaf(c)
    H.ok(lt.gradcheck(train, { x, w, b }), "train " .. table.concat(shape, "x"))
    H.ok(lt.gradcheck(eval, { x, w, b }), "eval " .. table.concat(shape, "x"))
    H.ok(lt.gradcheck(train, { x }), "train, no affine")
    H.ok(lt.gradcheck(eval, { x }), "eval, no affine")
    H.ok(lt.gradcheck(train, { x:detach(), w, nil }), "train, weight only")
  end
  -- non-contiguous inputs: N x C read from a transposed C x N, N x C x H x W from a permute
  local xt = noncontig(lt.randn(6, 3))
  H.ok(lt.gradcheck(function(x, w, b) return lt.batch_norm(x, nil, nil, w, b, { training = true }) end,
    { xt, leaf(3), leaf(3) }))
  local x4 = leaf(3, 3, 2, 4)
  H.ok(lt.gradcheck(function(x) return lt.batch_norm(x:permute(1, 4, 3, 2), nil, nil, nil, nil, { training = true }) end,
    { x4 }))
  local rm, rv = lt.randn(4), lt.rand(4) + 0.5
  H.ok(lt.gradcheck(function(x, w) return lt.batch_norm(x:permute(1, 4, 3, 2), rm, rv, w) end, { x4, leaf(4) }))
end)

H.test("batch_norm: running statistics: momentum, unbiased variance, no update in eval", function()
  local x = lt.randn(8, 3, 4) * 2 + 1
  local rm, rv = lt.zeros(3), lt.ones(3)
  lt.batch_norm(x, rm, rv, nil, nil, { training = true, momentum = 0.25 })
  local xt = x:transpose(1, 2):contiguous():view(3, 32)
  H.close(rm, xt:mean(2) * 0.25, 1e-5, 1e-5, "running_mean")
  H.close(rv, xt:var(2) * 0.25 + 0.75, 1e-5, 1e-5, "running_var (unbiased)")
  local before = rm:clone()
  lt.batch_norm(x, rm, rv, nil, nil, { training = false })
  H.eq(rm, before, "eval leaves running_mean")
  -- normalised output: mean 0, biased variance 1 per channel
  local y = lt.batch_norm(x, nil, nil, nil, nil, { training = true, eps = 0 })
  local yt = y:transpose(1, 2):contiguous():view(3, 32)
  H.close(yt:mean(2), { 0, 0, 0 }, 1e-5, 0)
  H.close(yt:var(2, false, false), { 1, 1, 1 }, 1e-4, 0)
  -- a large common offset keeps its digits (statistics in double, shifted)
  local z = lt.randn(64, 2) + 10000
  local yz = lt.batch_norm(z, nil, nil, nil, nil, { training = true, eps = 0 })
  local want = (z - z:mean(1, true)) / z:std(1, true, false)
  H.close(yz, want, 2e-3, 0, "offset 10000")
end)

H.test("batch_norm: the running buffers version, so an eval graph notices a later training update", function()
  local x = leaf(4, 3)
  local rm, rv = lt.zeros(3), lt.ones(3)
  local y = lt.batch_norm(x, rm, rv, nil, nil, { training = true })
  lt.batch_norm(x, rm, rv, nil, nil, { training = true }) -- updates rm, rv again
  y:sum():backward()                                          -- y did not save them: fine
  H.ok(x.grad ~= nil)
end)

H.test("batch_norm: errors", function()
  local x = lt.randn(4, 3, 5)
  H.raises("batch_norm: running_mean of size 4 does not match the 3 channels of input 4x3x5",
    lt.batch_norm, x, lt.zeros(4), lt.ones(3))
  H.raises("batch_norm: weight of size 2 does not match the 3 channels", lt.batch_norm, x, lt.zeros(3), lt.ones(3),
    lt.ones(2))
  H.raises("batch_norm: bias of size 3x1 does not match", lt.batch_norm, x, lt.zeros(3), lt.ones(3), nil, lt.ones(3, 1))
  H.raises("batch_norm: expected an input of 2 or more dimensions %(N x C x ...%), got 5", lt.batch_norm,
    lt.randn(5), lt.zeros(5), lt.ones(5))
  H.raises("batch_norm: running_mean and running_var are needed in eval mode", lt.batch_norm, x)
  H.raises("batch_norm: give both running_mean and running_var", lt.batch_norm, x, lt.zeros(3), nil, nil, nil,
    { training = true })
  H.raises("batch_norm: expected more than 1 value per channel when training, got input 1x3", lt.batch_norm,
    lt.randn(1, 3), lt.zeros(3), lt.ones(3), nil, nil, { training = true })
  H.raises("batch_norm: unknown option 'train'", lt.batch_norm, x, lt.zeros(3), lt.ones(3), nil, nil, { train = true })
  H.raises("option 'momentum' must be a number", lt.batch_norm, x, lt.zeros(3), lt.ones(3), nil, nil,
    { training = true, momentum = "fast" })
  H.raises("batch_norm %(running_mean%): in%-place change of a tensor that requires grad", lt.batch_norm, x,
    lt.zeros(3):requires_grad_(), lt.ones(3), nil, nil, { training = true })
  -- eval mode with 1 value per channel is fine
  H.eq(H.shape_of(lt.batch_norm(lt.randn(1, 3), lt.zeros(3), lt.ones(3))), "1x3")
end)

-- ==================== activations ====================

local ACT = {
  leaky_relu = function(x, c) return lt.leaky_relu(x, c.slope) end,
  elu = function(x, c) return lt.elu(x, c.alpha) end,
  softplus = function(x, c) return lt.softplus(x, c.beta, c.threshold) end,
}

H.test("activations: output and gradient match PyTorch (softplus above its threshold included)", function()
  for _, op in ipairs({ "leaky_relu", "elu", "softplus" }) do
    for _, name in ipairs(cases(op .. "_")) do
      local c = FX[name]
      local x = fx(c, "x", true)
      local y = ACT[op](x, c)
      close_fwd(y, c.y, name .. " y")
      y:backward(fx(c, "gy"))
      close_grad(x.grad, c.gx, name .. " gx")
    end
  end
end)

H.test("activations: defaults, methods and functions agree", function()
  local x = lt.randn(3, 4) * 3
  H.eq(x:leaky_relu(), lt.leaky_relu(x, 0.01))
  H.eq(x:elu(), lt.elu(x, 1))
  H.eq(x:softplus(), lt.softplus(x, 1, 20))
  H.eq(x:leaky_relu(0.3), lt.leaky_relu(x, 0.3))
  H.close(lt.leaky_relu(lt.tensor({ -2, 0, 3 }), 0.5), { -1, 0, 3 }, 0, 0)
  H.close(lt.elu(lt.tensor({ -1, 0, 2 }), 2), { 2 * (math.exp(-1) - 1), 0, 2 }, 1e-6, 1e-6)
  H.close(lt.softplus(lt.tensor({ -100, 0, 30, 100 })), { math.exp(-100), math.log(2), 30, 100 }, 1e-44, 1e-6)
  H.close(lt.softplus(lt.tensor({ 1, 3 }), 2, 5), { math.log(1 + math.exp(2)) / 2, 3 }, 0, 1e-6)
  -- NaN passes through
  local nan = lt.tensor({ 0 / 0 })
  for _, f in ipairs({ lt.leaky_relu, lt.elu, lt.softplus }) do
    local v = f(nan):item()
    H.ok(v ~= v, "NaN stays NaN")
  end
end)

H.test("activations: gradcheck, contiguous and non-contiguous", function()
  -- values away from the kink at 0, where finite differences straddle it
  local function away(...)
    local x = lt.randn(...)
    return lt.no_grad(function() return (x + x:sign() * 0.05):requires_grad_() end)
  end
  local fs = {
    function(x) return x:leaky_relu(0.2) end, function(x) return lt.leaky_relu(x) end,
    function(x) return x:elu() end, function(x) return x:elu(0.5) end,
    function(x) return x:softplus() end, function(x) return x:softplus(2, 1) end,
  }
  for i, f in ipairs(fs) do
    H.ok(lt.gradcheck(f, { away(3, 4) }), "case " .. i)
    local nc = lt.no_grad(function() return away(4, 3):detach():t() end):requires_grad_()
    H.ok(lt.gradcheck(f, { nc }), "non-contiguous, case " .. i)
  end
end)

H.test("activations: errors", function()
  H.raises("softplus: beta must be a nonzero number, got 0", lt.softplus, lt.randn(3), 0)
  H.raises("number expected", lt.elu, lt.randn(3), "big")
  H.raises("latent.Tensor expected", lt.leaky_relu, 3)
end)

-- ==================== dropout ====================

H.test("dropout: fraction zeroed, scaling, eval identity, p = 0 and p = 1", function()
  local n = 200000
  local x = lt.rand(n) + 0.5 -- no zeros of its own
  for _, p in ipairs({ 0.1, 0.5, 0.8 }) do
    local y = lt.dropout(x, p, true)
    local zero = (y:eq(0)):sum():item() / n
    H.ok(math.abs(zero - p) < 5 * math.sqrt(p * (1 - p) / n), string.format("p = %g: zeroed %g", p, zero))
    local kept = y:ne(0)
    H.close(y, x * kept / (1 - p), 1e-6, 1e-6, "kept values are scaled by 1/(1-p)")
  end
  H.eq(lt.dropout(x, 0.5, false), x, "eval: identity")
  H.eq(x:dropout(0, true), x, "p = 0: identity")
  H.eq(x:dropout(1), lt.zeros(n), "p = 1: zeros")
  H.eq(lt.dropout(lt.zeros(0), 0.5):numel(), 0)
  -- default p = 0.5, training
  local zero = x:dropout():eq(0):sum():item() / n
  H.ok(math.abs(zero - 0.5) < 0.01, "default p = 0.5")
end)

H.test("dropout: the same seed gives the same mask; the gradient is g * mask / (1 - p)", function()
  local x = lt.rand(5, 7) + 0.5
  lt.manual_seed(42)
  local a = lt.dropout(x, 0.3)
  lt.manual_seed(42)
  local b = lt.dropout(x, 0.3)
  H.eq(a, b, "same seed, same mask")
  local xl = x:clone():requires_grad_()
  local y = lt.dropout(xl, 0.3)
  local g = lt.randn(5, 7)
  y:backward(g)
  H.close(xl.grad, g * y:ne(0) / 0.7, 1e-6, 1e-6)
  -- eval: the gradient passes unchanged
  local xe = x:clone():requires_grad_()
  lt.dropout(xe, 0.3, false):backward(g)
  H.eq(xe.grad, g)
  -- a fixed mask is linear: gradcheck through a fixed seed
  local nc = noncontig(lt.randn(4, 6))
  H.ok(lt.gradcheck(function(v) lt.manual_seed(7); return v:dropout(0.4) end, { nc }))
end)

H.test("dropout: errors", function()
  H.raises("dropout: probability p must be in %[0, 1%], got 1.5", lt.dropout, lt.randn(3), 1.5)
  H.raises("dropout: probability p must be in %[0, 1%], got %-0.1", lt.dropout, lt.randn(3), -0.1)
  H.raises("boolean expected", lt.dropout, lt.randn(3), 0.5, "yes")
end)

-- ==================== losses ====================

local LOSS = { mse = lt.mse, l1 = lt.l1, bce = lt.bce, bce_with_logits = lt.bce_with_logits,
               cross_entropy = lt.cross_entropy, nll = lt.nll }

H.test("losses: every loss with every reduction matches PyTorch (value and gradient)", function()
  for _, kind in ipairs({ "mse", "l1", "bce", "bce_with_logits", "cross_entropy", "nll" }) do
    for _, red in ipairs({ "mean", "sum", "none" }) do
      local name = kind .. "_" .. red
      local c = FX[name]
      assert(c, name)
      local x, t = fx(c, "x", true), fx(c, "target")
      local y = LOSS[kind](x, t, red)
      H.eq(H.shape_of(y), table.concat(c.y_shape, "x"), name .. " shape")
      close_fwd(y, c.y, name .. " y")
      y:backward(fx(c, "gy"))
      close_grad(x.grad, c.gx, name .. " gx")
    end
  end
end)

H.test("losses: the default reduction is the mean; values by hand", function()
  local p, t = lt.tensor({ 1, 2, 3 }), lt.tensor({ 1, 0, 5 })
  H.close(lt.mse(p, t), 8 / 3, 1e-6, 1e-6)
  H.close(lt.mse(p, t, "sum"), 8, 0, 0)
  H.close(lt.l1(p, t), 4 / 3, 1e-6, 1e-6)
  H.close(lt.l1(p, t, "none"), { 0, 2, 2 }, 0, 0)
  H.close(lt.bce(lt.tensor({ 0.25, 1, 0 }), lt.tensor({ 1, 0, 0 }), "none"), { -math.log(0.25), 100, 0 }, 1e-6, 1e-6)
  H.close(lt.bce_with_logits(lt.tensor({ 0, 100, -100 }), lt.tensor({ 1, 0, 0 }), "none"),
    { math.log(2), 100, 0 }, 1e-6, 1e-6)
  H.close(lt.cross_entropy(lt.tensor({ { 0, 0 }, { 1000, 0 } }), lt.tensor({ 1, 2 }), "none"),
    { math.log(2), 1000 }, 1e-6, 1e-6)
  H.close(lt.cross_entropy(lt.tensor({ 1, 2, 3 }), lt.tensor(3):view({})),
    math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 3, 1e-6, 1e-6, "1-D input, scalar target")
  H.close(lt.nll(lt.tensor({ { -1, -2 }, { -3, -4 } }), lt.tensor({ 2, 1 })), 2.5, 0, 0)
  -- a large input: the chunked, threaded sum agrees with a sum in Lua
  local a, b = lt.randn(100003), lt.randn(100003)
  local d, s = H.values(a - b), 0
  for i = 1, #d do s = s + d[i] * d[i] end
  H.close(lt.mse(a, b, "sum"), s, 0, 1e-5)
end)

H.test("losses: gradcheck each loss and reduction, non-contiguous inputs, targets get no gradient", function()
  local function prob(a, b) return lt.no_grad(function() return (lt.rand(a, b) * 0.8 + 0.1) end) end
  for _, red in ipairs({ "mean", "sum", "none" }) do
    local cases_ = {
      { lt.mse, leaf(3, 4), lt.randn(3, 4) },
      { lt.l1, leaf(3, 4), lt.randn(3, 4) },
      { lt.bce, prob(3, 4):requires_grad_(), lt.rand(3, 4) },
      { lt.bce_with_logits, leaf(3, 4), lt.rand(3, 4) },
      { lt.cross_entropy, leaf(5, 3), lt.tensor({ 1, 3, 2, 2, 1 }) },
      { lt.nll, leaf(5, 3), lt.tensor({ 1, 3, 2, 2, 1 }) },
    }
    for i, c in ipairs(cases_) do
      local f, x, t = c[1], c[2], c[3]
      H.ok(lt.gradcheck(function(v) return f(v, t, red) end, { x }), red .. " case " .. i)
    end
  end
  -- non-contiguous prediction and target
  local p, t = noncontig(lt.randn(4, 3)), lt.randn(3, 4):t()
  H.ok(lt.gradcheck(function(v) return lt.mse(v, t) end, { p }))
  local tp = lt.rand(3, 4):t()
  H.ok(lt.gradcheck(function(v) return lt.bce_with_logits(v, tp, "none") end, { p }))
  H.ok(lt.gradcheck(function(v) return lt.cross_entropy(v, lt.tensor({ 3, 1, 2, 2 }), "sum") end, { p }))
  H.ok(lt.gradcheck(function(v) return lt.nll(v, lt.tensor({ 3, 1, 2, 2 }), "none") end, { p }))
  local pb = lt.no_grad(function() return (lt.rand(3, 4) * 0.8 + 0.1):t() end):requires_grad_()
  local tb = lt.rand(4, 3)
  H.ok(lt.gradcheck(function(v) return lt.bce(v, tb, "sum") end, { pb }))
  -- targets get no gradient
  local x, tt = leaf(3, 2), lt.randn(3, 2):requires_grad_()
  lt.mse(x, tt):backward()
  H.ok(x.grad ~= nil and tt.grad == nil, "no gradient for the target")
  local only_t = lt.mse(lt.randn(3, 2), tt)
  H.ok(not only_t.requires_grad, "a loss whose prediction needs no grad records nothing")
end)

H.test("losses: errors name the function and shapes", function()
  H.raises("mse: input 250x784 and target 250x1x28x28 differ in shape", lt.mse, lt.zeros(250, 784),
    lt.zeros(250, 1, 28, 28))
  H.raises("l1: input 3 and target 3x1 differ in shape", lt.l1, lt.zeros(3), lt.zeros(3, 1))
  H.raises("bce_with_logits: input 2x3 and target 3 differ in shape", lt.bce_with_logits, lt.zeros(2, 3), lt.zeros(3))
  H.raises("mse: reduction must be 'mean', 'sum' or 'none', got 'avg'", lt.mse, lt.zeros(3), lt.zeros(3), "avg")
  H.raises("cross_entropy: reduction must be 'mean', 'sum' or 'none', got number", lt.cross_entropy,
    lt.zeros(2, 3), lt.tensor({ 1, 1 }), 1)
  H.raises("bce: input values must be probabilities in %[0, 1%], got 1.5 %(element 2%)", lt.bce,
    lt.tensor({ 0.5, 1.5 }), lt.tensor({ 0, 1 }))
  H.raises("bce: input values must be probabilities in %[0, 1%], got nan", lt.bce, lt.tensor({ 0 / 0 }), lt.tensor({ 0 }))
  local x = lt.randn(4, 3)
  H.raises("cross_entropy: target 4 at position 2 is out of range %(classes are 1..3%)", lt.cross_entropy, x,
    lt.tensor({ 1, 4, 1, 1 }))
  H.raises("cross_entropy: target 0 at position 1 is out of range", lt.cross_entropy, x, lt.tensor({ 0, 1, 1, 1 }))
  H.raises("cross_entropy: target 1.5 at position 3 is not an integer class index", lt.cross_entropy, x,
    lt.tensor({ 1, 2, 1.5, 1 }))
  H.raises("nll: target %-1 at position 4 is out of range", lt.nll, x, lt.tensor({ 1, 2, 3, -1 }))
  H.raises("cross_entropy: target 4x1 must have shape 4 %(one class index per row of input 4x3%)",
    lt.cross_entropy, x, lt.ones(4, 1))
  H.raises("cross_entropy: input must be N x C %(or C%), got 2x3x4", lt.cross_entropy, lt.randn(2, 3, 4), lt.ones(2))
  H.raises("latent.Tensor expected", lt.cross_entropy, x, { 1, 2, 3, 1 })
end)

H.done()
