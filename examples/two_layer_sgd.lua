-- A two-layer network built from tensors by hand and trained with a
-- hand-written SGD loop: no layers, no optimizer, only tensors and autograd.
--
--   latent examples/two_layer_sgd.lua [steps]
local lt = require "latent"

local steps = tonumber(arg and arg[1]) or 300
lt.manual_seed(0)

-- Random data with a learnable target: y = tanh(x w*) + noise.
local n, d_in, d_hidden = 512, 10, 32
local x = lt.randn(n, d_in)
local y = x:matmul(lt.randn(d_in, 1)):tanh() + 0.05 * lt.randn(n, 1)

-- Parameters: leaves that require grad.
local w1 = (lt.randn(d_in, d_hidden) / math.sqrt(d_in)):requires_grad_()
local b1 = lt.zeros(d_hidden):requires_grad_()
local w2 = (lt.randn(d_hidden, 1) / math.sqrt(d_hidden)):requires_grad_()
local b2 = lt.zeros(1):requires_grad_()
local params = { w1, b1, w2, b2 }

local function forward(input)
  local h = (input:matmul(w1) + b1):relu()
  return h:matmul(w2) + b2
end

local lr, losses = 0.1, {}
for step = 1, steps do
  local loss = ((forward(x) - y) ^ 2):mean()
  for _, p in ipairs(params) do p.grad = nil end
  loss:backward()
  lt.no_grad(function()                   -- the update is not part of the graph
    for _, p in ipairs(params) do p:copy(p - lr * p.grad) end
  end)
  losses[step] = loss:item()
  if step == 1 or step % 50 == 0 then print(string.format("step %4d  loss %.5f", step, losses[step])) end
end

return losses
