-- latent's timings for the conv layers of the reference autoencoder.
--
-- Prints ms per forward and per backward (input, weight and bias gradients)
-- for each layer shape at batch 250, on 2 threads and on 1; compare with
-- scripts/bench/conv_layers.py (PyTorch, same shapes, same format).
--
--   latent scripts/bench/conv_layers.lua [reps [rounds]]
--
-- Forward is timed over `reps` calls recording the graph, as in training;
-- backward as (reps x (forward + backward) - reps x forward) / reps. Each is
-- the best of ROUNDS rounds, which keeps other load on the machine out.
local lt = require "latent"

local REPS = tonumber(arg and arg[1]) or 20
local ROUNDS = tonumber(arg and arg[2]) or 5
local N = 250
-- name, transposed, cin, cout, H, stride, padding, output_padding
local SHAPES = {
  { "conv 1->8 s2 p1 28x28", false, 1, 8, 28, 2, 1, 0 },
  { "conv 8->16 s2 p1 14x14", false, 8, 16, 14, 2, 1, 0 },
  { "conv 16->32 s2 p0 7x7", false, 16, 32, 7, 2, 0, 0 },
  { "convT 32->16 s2 p0 3x3", true, 32, 16, 3, 2, 0, 0 },
  { "convT 16->8 s2 p1 op1 7x7", true, 16, 8, 7, 2, 1, 1 },
  { "convT 8->1 s2 p1 op1 14x14", true, 8, 1, 14, 2, 1, 1 },
}

-- A wall clock in seconds: the engine's if it has one, else date(1).
local clock = lt.clock or lt.wall_time or function()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

local function bench(s)
  local _, tr, cin, cout, h, stride, pad, op = table.unpack(s)
  lt.manual_seed(0)
  local x = lt.randn(N, cin, h, h):requires_grad_()
  local w = (tr and lt.randn(cin, cout, 3, 3) or lt.randn(cout, cin, 3, 3)):requires_grad_()
  local b = lt.randn(cout):requires_grad_()
  local function fwd()
    if tr then return lt.conv_transpose2d(x, w, b, { stride = stride, padding = pad, output_padding = op }) end
    return lt.conv2d(x, w, b, { stride = stride, padding = pad })
  end
  local g = lt.randn_like(lt.no_grad(fwd))
  for _ = 1, 3 do fwd():backward(g) end
  local f, fb = math.huge, math.huge
  for _ = 1, ROUNDS do
    collectgarbage()
    local t0 = clock()
    for _ = 1, REPS do local _ = fwd() end
    local t1 = clock()
    for _ = 1, REPS do fwd():backward(g) end
    local t2 = clock()
    f, fb = math.min(f, (t1 - t0) / REPS), math.min(fb, (t2 - t1) / REPS)
  end
  return 1e3 * f, 1e3 * (fb - f)
end

for _, threads in ipairs({ 2, 1 }) do
  lt.set_num_threads(threads)
  print(string.format("latent, %d thread(s), batch %d, best of %d x %d reps", threads, N, ROUNDS, REPS))
  local tf, tb = 0, 0
  for _, s in ipairs(SHAPES) do
    local f, b = bench(s)
    tf, tb = tf + f, tb + b
    print(string.format("  %-28s forward %8.3f ms  backward %8.3f ms", s[1], f, b))
  end
  print(string.format("  %-28s forward %8.3f ms  backward %8.3f ms", "total", tf, tb))
end
