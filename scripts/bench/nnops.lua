-- latent's timings for the non-convolution ops of the reference autoencoder
-- (and its BatchNorm/ELU variant): linear, batch_norm, activations, losses.
--
-- Prints ms per forward and per backward at batch 250, on 2 threads and on
-- 1; compare with scripts/bench/nnops.py (PyTorch, same cases, same format).
--
--   latent scripts/bench/nnops.lua [reps]
--
-- Forward is timed recording the graph, as in training; backward as the time
-- of forward + backward less that of forward. Each figure is the best of 5
-- blocks of reps / 5 calls.
local lt = require "latent"

local REPS = tonumber(arg and arg[1]) or 200
local N = 250

local function leaf(...) return lt.randn(...):requires_grad_() end

-- name, function building the inputs and returning the forward function
local CASES = {
  { "linear 250x288 -> 64", function()
    local x, w, b = leaf(N, 288), leaf(64, 288), leaf(64)
    return function() return lt.linear(x, w, b) end
  end },
  { "linear 250x64 -> 288", function()
    local x, w, b = leaf(N, 64), leaf(288, 64), leaf(288)
    return function() return lt.linear(x, w, b) end
  end },
  { "linear 250x64 -> 8", function()
    local x, w, b = leaf(N, 64), leaf(8, 64), leaf(8)
    return function() return lt.linear(x, w, b) end
  end },
  { "linear 250x8 -> 64", function()
    local x, w, b = leaf(N, 8), leaf(64, 8), leaf(64)
    return function() return lt.linear(x, w, b) end
  end },
  { "batch_norm train 250x16x14x14", function()
    local x, w, b, rm, rv = leaf(N, 16, 14, 14), leaf(16), leaf(16), lt.zeros(16), lt.ones(16)
    return function() return lt.batch_norm(x, rm, rv, w, b, { training = true }) end
  end },
  { "batch_norm eval 250x16x14x14", function()
    local x, w, b, rm, rv = leaf(N, 16, 14, 14), leaf(16), leaf(16), lt.zeros(16), lt.ones(16)
    return function() return lt.batch_norm(x, rm, rv, w, b, { training = false }) end
  end },
  { "batch_norm train 250x8x14x14", function()
    local x, w, b, rm, rv = leaf(N, 8, 14, 14), leaf(8), leaf(8), lt.zeros(8), lt.ones(8)
    return function() return lt.batch_norm(x, rm, rv, w, b, { training = true }) end
  end },
  { "batch_norm train 250x64", function()
    local x, w, b, rm, rv = leaf(N, 64), leaf(64), leaf(64), lt.zeros(64), lt.ones(64)
    return function() return lt.batch_norm(x, rm, rv, w, b, { training = true }) end
  end },
  { "elu 250x16x14x14", function()
    local x = leaf(N, 16, 14, 14)
    return function() return x:elu() end
  end },
  { "leaky_relu 250x16x14x14", function()
    local x = leaf(N, 16, 14, 14)
    return function() return x:leaky_relu(0.01) end
  end },
  { "softplus 250x16x14x14", function()
    local x = leaf(N, 16, 14, 14)
    return function() return x:softplus() end
  end },
  { "dropout 0.5 250x16x14x14", function()
    local x = leaf(N, 16, 14, 14)
    return function() return x:dropout(0.5) end
  end },
  { "mse 250x1x28x28", function()
    local x, t = leaf(N, 1, 28, 28), lt.rand(N, 1, 28, 28)
    return function() return lt.mse(x, t) end
  end },
  { "bce 250x1x28x28", function()
    local x, t = lt.rand(N, 1, 28, 28):requires_grad_(), lt.rand(N, 1, 28, 28)
    return function() return lt.bce(x, t, "sum") end
  end },
  { "bce_with_logits 250x1x28x28", function()
    local x, t = leaf(N, 1, 28, 28), lt.rand(N, 1, 28, 28)
    return function() return lt.bce_with_logits(x, t) end
  end },
  { "cross_entropy 250x10", function()
    local x, t = leaf(N, 10), lt.randint(1, 10, N)
    return function() return lt.cross_entropy(x, t) end
  end },
}

-- The best of BLOCKS blocks of REPS / BLOCKS calls: this machine's other
-- load only ever adds time.
local BLOCKS = 5

local function best_of(f)
  local reps, best = math.max(1, REPS // BLOCKS), math.huge
  for _ = 1, BLOCKS do
    local t0 = lt.clock()
    for _ = 1, reps do f() end
    best = math.min(best, (lt.clock() - t0) / reps)
  end
  return best
end

local function bench(case)
  lt.manual_seed(0)
  local fwd = case[2]()
  local g = lt.randn_like(lt.no_grad(fwd))
  for _ = 1, 5 do fwd():backward(g) end
  collectgarbage()
  local f = best_of(function() local _ = fwd() end)
  local fb = best_of(function() fwd():backward(g) end)
  return 1e3 * f, 1e3 * (fb - f)
end

for _, threads in ipairs({ 2, 1 }) do
  lt.set_num_threads(threads)
  print(string.format("latent, %d thread(s), batch %d, %d reps", threads, N, REPS))
  for _, c in ipairs(CASES) do
    local f, b = bench(c)
    print(string.format("  %-30s forward %8.4f ms  backward %8.4f ms", c[1], f, b))
  end
end
