-- A script mistake is a Lua error that names the function and the problem,
-- and the process goes on. Each row: a pattern the message must match, and
-- the mistake.
local H = require "harness"
local lt = require "latent"

local x = lt.randn(3, 4)
local w = lt.randn(4):requires_grad_()

local mistakes = {
  -- wrong types
  { "bad argument #1 to 'zeros' %(size 1 must be an integer, got string%)", function() lt.zeros("a") end },
  { "bad argument #1 to 'view' %(latent.Tensor expected, got number%)", function() x.view(3, 4) end },
  { "bad argument #1 to 'copy' %(latent.Tensor expected, got table%)", function() x:copy({}) end },
  { "bad argument #2 to 'index_select' %(table or tensor of indices expected", function() x:index_select(1, "a") end },
  { "cat: element 2 of the list is a number, expected a tensor", function() lt.cat({ x, 3 }) end },
  { "tensor: table%[2%] has 3 elements, expected 2", function() lt.tensor { { 1, 2 }, { 1, 2, 3 } } end },
  { "tensor: table%[1%]%[2%] is a string, expected a number", function() lt.tensor { { 1, "b" } } end },
  -- integers
  { "size 2 must be an integer, got 64.5", function() lt.zeros(2, 64.5) end },
  { "number has no integer representation", function() x:narrow(1, 1.5, 1) end },
  { "size 1 must not be negative", function() lt.zeros(-1) end },
  { "too large", function() lt.zeros(1 << 30, 1 << 30, 1 << 30) end },
  -- shapes
  { "view: cannot view 3x4 %(12 elements%) as 5x5 %(25 elements%)", function() x:view(5, 5) end },
  { "view: the strides of 4x3 do not allow a view as 12; use reshape", function() x:t():view(12) end },
  { "expand: cannot expand 3x4 to 3x5", function() x:expand(3, 5) end },
  { "cat: tensor 2 has size 2x3, tensor 1 has 3x4", function() lt.cat({ x, lt.zeros(2, 3) }) end },
  { "stack: tensor 2 has size 4x3, tensor 1 has 3x4", function() lt.stack({ x, x:t() }) end },
  { "copy: source of size 5 does not fit a tensor of size 3x4", function() x:clone():copy(lt.zeros(5)) end },
  { "permute: a tensor of size 3x4 needs 2 dimensions, got 3", function() x:permute(1, 2, 3) end },
  { "permute: the dimensions must be a permutation", function() x:permute(1, 1) end },
  { "t: expects a 2%-D tensor, got 2x3x4", function() lt.zeros(2, 3, 4):t() end },
  -- indices
  { "bad argument #1 to 'size' %(dimension 3 out of range %[1, 2%]", function() x:size(3) end },
  { "bad argument #1 to 'transpose' %(dimension 0 out of range", function() x:transpose(0, 1) end },
  { "narrow: elements 3 to 6 are out of range for dimension 2 of 3x4", function() x:narrow(2, 3, 4) end },
  { "select: index 4 is out of range for dimension 1 of 3x4", function() x:select(1, 4) end },
  { "index: index 5 is out of range for dimension 1 of 3x4", function() return x[5] end },
  { "index: index 1.5 is not an integer", function() return x[1.5] end },
  { "index_select: index 5 is out of range for dimension 2 of 3x4", function() x:index_select(2, { 1, 5 }) end },
  { "index 1 is not an integer %(%-?nan%)", function() x:index_select(2, { 0 / 0 }) end },
  { "index 2 is not an integer", function() x:index_select(1, lt.tensor { 1, 1.5 }) end },
  { "get: a tensor of size 3x4 needs 2 indices, got 1", function() x:get(1) end },
  { "get: index 0 is out of range for dimension 1 of 3x4", function() x:get(0, 1) end },
  { "item: a tensor of size 3x4 has 12 elements, expected 1", function() x:item() end },
  { "index: a scalar tensor cannot be indexed", function() return lt.tensor(1)[1] end },
  -- autograd
  { "backward: a gradient can be implied only for a tensor of one element, got 4", function() w:view(4):backward() end },
  { "backward: the tensor does not require grad", function() x:backward(x) end },
  { "fill: in%-place change of a tensor that requires grad", function() w:fill(1) end },
  { "requires_grad: only leaf tensors can be changed", function() w:view(4).requires_grad = false end },
  { "requires_grad: expects a boolean, got number", function() x.requires_grad = 1 end },
  { "backward: the graph through 'index_select' was freed", function()
    local y = w:index_select(1, { 1 })
    y:backward()
    y:backward()
  end },
  -- closed tensors
  { "tensor was closed: cannot use its 'numel'", function()
    local t <close> = lt.zeros(2)
    local u = t
    do local v <close> = u end
    return u:numel()
  end },
  { "bad argument #1 to 'numel' %(tensor was closed%)", function()
    local t = lt.zeros(2)
    local numel = t.numel
    do local v <close> = t end
    return numel(t)
  end },
  -- creation arguments
  { "bad argument #2 to 'randint' %(the upper bound must not be below the lower bound%)", function() lt.randint(5, 1, 3) end },
  { "bad argument #3 to 'linspace' %(the number of points must not be negative%)", function() lt.linspace(0, 1, -2) end },
  { "bad argument #3 to 'arange' %(start, stop and step must be finite and step non%-zero%)", function() lt.arange(0, 1, 0) end },
}

H.test("every mistake raises a clear error and the process survives", function()
  for i, m in ipairs(mistakes) do
    local ok, err = pcall(m[2])
    if ok then error(string.format("mistake %d ('%s') raised no error", i, m[1])) end
    if not tostring(err):find(m[1]) then
      error(string.format("mistake %d: message '%s' does not match '%s'", i, tostring(err), m[1]))
    end
  end
  print(#mistakes .. " mistakes checked")
end)

H.test("errors point at the script line", function()
  local ok, err = pcall(function() x:view(5, 5) end)
  H.ok(not ok and err:find("test_errors.lua:%d+: view:"), err)
end)

H.done()
