-- lt.gradcheck(fn, inputs [, opts]): compares the gradients autograd computes
-- with central finite differences.
--
-- fn takes the inputs and returns a tensor y. A fixed random projection p
-- turns y into the scalar sum(y * p), so one backward gives the analytic
-- gradient of every input, and each finite difference needs two calls of fn.
-- The differences are taken in double from the float32 values actually
-- stored after perturbing (x + eps rounds in float32), so the comparison is
-- limited only by float32 evaluation of fn. Inputs that do not require grad
-- are held fixed. Returns true, or raises naming the input, the element and
-- both values.
--
-- opts: eps (1e-3), atol (1e-2), rtol (1e-2).
local core = require "latent.core"

local function flat_to_index(shape, k)
  local idx = {}
  for d = #shape, 1, -1 do
    idx[d] = k % shape[d] + 1
    k = k // shape[d]
  end
  return idx
end

local function project(fn, inputs, p)
  local y = core.no_grad(fn, table.unpack(inputs, 1, inputs.n))
  return core.fdot(y, p)
end

-- The finite-difference gradient of sum(fn(...) * p) for one element of x.
local function numeric(fn, inputs, p, x, idx, eps)
  local orig = x:get(table.unpack(idx))
  local args = { table.unpack(idx) }
  local function at(v)
    args[#idx + 1] = v
    core.no_grad(function() x:set(table.unpack(args)) end)
    return x:get(table.unpack(idx)), project(fn, inputs, p)
  end
  local hi, f_hi = at(orig + eps)
  local lo, f_lo = at(orig - eps)
  at(orig)
  return (f_hi - f_lo) / (hi - lo)
end

local function analytic(fn, inputs, p)
  local saved = {}
  for i = 1, inputs.n do
    local x = inputs[i]
    if core.is_tensor(x) then saved[i] = x.grad; x.grad = nil end
  end
  local y = fn(table.unpack(inputs, 1, inputs.n))
  if not core.is_tensor(y) then error("gradcheck: fn must return a tensor, got " .. type(y), 3) end
  if not y.requires_grad then error("gradcheck: the output does not depend on any input that requires grad", 3) end
  y:backward(p)
  local grads = {}
  for i = 1, inputs.n do
    local x = inputs[i]
    if core.is_tensor(x) then grads[i] = x.grad; x.grad = saved[i] end
  end
  return grads
end

return function(fn, inputs, opts)
  opts = opts or {}
  local eps, atol, rtol = opts.eps or 1e-3, opts.atol or 1e-2, opts.rtol or 1e-2
  if core.is_tensor(inputs) then inputs = { inputs } end
  if type(fn) ~= "function" then error("gradcheck: argument 1 must be a function", 2) end
  if type(inputs) ~= "table" then error("gradcheck: argument 2 must be a tensor or a list of tensors", 2) end
  inputs = table.pack(table.unpack(inputs))
  local y = core.no_grad(fn, table.unpack(inputs, 1, inputs.n))
  local p = core.randn_like(y)
  local grads = analytic(fn, inputs, p)
  for i = 1, inputs.n do
    local x = inputs[i]
    if core.is_tensor(x) and x.requires_grad then
      local shape = x.shape
      for k = 0, x:numel() - 1 do
        local idx = flat_to_index(shape, k)
        local num = numeric(fn, inputs, p, x, idx, eps)
        local ana = grads[i] and grads[i]:get(table.unpack(idx)) or 0
        if math.abs(ana - num) > atol + rtol * math.abs(num) or ana ~= ana then
          error(string.format("gradcheck: input %d, element (%s): analytic %.6g, numeric %.6g",
            i, table.concat(idx, ","), ana, num), 2)
        end
      end
    end
  end
  return true
end
