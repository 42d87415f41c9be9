-- Autograd: the backward engine's rules, and gradchecks of the view ops.
local H = require "harness"
local lt = require "latent"

local function leaf(...) return lt.randn(...):requires_grad_() end

H.test("gradients of view ops match finite differences", function()
  local x = leaf(3, 4)
  local cases = {
    view = function(a) return a:view(3, 2, 2) end,
    reshape_copy = function(a) return a:t():reshape(12) end,
    narrow = function(a) return a:narrow(2, 2, 2) end,
    select = function(a) return a:select(1, 3) end,
    index = function(a) return a[2] end,
    transpose = function(a) return a:transpose(1, 2) end,
    permute = function(a) return a:view(3, 2, 2):permute(3, 1, 2) end,
    unsqueeze = function(a) return a:unsqueeze(2) end,
    squeeze = function(a) return a:view(3, 1, 4):squeeze() end,
    expand = function(a) return a:narrow(1, 1, 1):expand(5, 4) end,
    expand_new_dims = function(a) return a:expand(2, 3, 4) end,
    contiguous = function(a) return a:t():contiguous() end,
    clone = function(a) return a:clone() end,
    index_select = function(a) return a:index_select(2, { 4, 1, 4 }) end,
    cat = function(a) return lt.cat({ a, a:narrow(1, 2, 2) }, 1) end,
    stack = function(a) return lt.stack({ a, a:t():t() }, 2) end,
  }
  -- the same 3x4 values through a non-contiguous leaf (a transposed 4x3)
  local xt = lt.no_grad(function() return x:t():contiguous():t() end):requires_grad_()
  H.ok(not xt:is_contiguous())
  for name, f in pairs(cases) do
    for _, input in ipairs { x, xt } do
      local ok, err = pcall(lt.gradcheck, f, { input })
      if not ok then error(name .. ": " .. tostring(err)) end
    end
  end
end)

H.test("gradcheck of several inputs, one without grad", function()
  local a, b, c = leaf(2, 3), lt.randn(2, 3), leaf(1, 3)
  H.ok(lt.gradcheck(function(p, q, r) return lt.cat({ p, q, r }, 1) end, { a, b, c }))
end)

H.test("gradcheck fails on a wrong gradient", function()
  -- index_select through a non-contiguous input: gradient correct; compare
  -- against a deliberately wrong function by mutating the input inside fn.
  local x = leaf(4)
  local calls = 0
  H.raises("gradcheck: input 1", lt.gradcheck, function(a)
    calls = calls + 1
    -- analytic path sees a:select, numeric path sees a different element
    if lt.is_grad_enabled() then return a:narrow(1, 1, 2) else return a:narrow(1, 3, 2) end
  end, { x })
end)

H.test("leaf gradients accumulate; zero_grad clears", function()
  local x = leaf(2, 2)
  local p = lt.ones(2, 2)
  x:view(4):backward(lt.ones(4))
  x:view(4):backward(lt.ones(4))
  H.eq(x.grad:totable(), { { 2, 2 }, { 2, 2 } })
  x:zero_grad()
  H.eq(x.grad:totable(), { { 0, 0 }, { 0, 0 } })
  x.grad = nil
  H.eq(x.grad, nil)
  x:backward(p) -- a leaf as the root
  H.eq(x.grad:totable(), p:totable())
end)

H.test("a tensor used twice gets both gradients", function()
  local x = leaf(3)
  local y = lt.cat({ x, x, x:narrow(1, 2, 1) }, 1)
  y:backward(lt.ones(7))
  H.eq(x.grad:totable(), { 2, 3, 2 })
end)

H.test("backward twice through a freed graph is an error; retain_graph allows it", function()
  local x = leaf(3)
  local y = x:index_select(1, { 1, 2 })
  y:backward(lt.ones(2))
  H.raises("backward: the graph through 'index_select' was freed", function() y:backward(lt.ones(2)) end)
  local z = x:index_select(1, { 3 })
  z:backward(lt.ones(1), { retain_graph = true })
  z:backward(lt.ones(1))
  H.eq(x.grad:totable(), { 1, 1, 2 })
end)

H.test("backward needs a gradient for non-scalars and a graph", function()
  local x = leaf(3)
  H.raises("backward: a gradient can be implied only for a tensor of one element, got 3", function()
    x:view(3):backward()
  end)
  H.raises("backward: gradient of size 2 for a tensor of size 3", function() x:view(3):backward(lt.ones(2)) end)
  H.raises("backward: the tensor does not require grad", function() lt.ones(1):backward() end)
  local s = x:select(1, 2)
  s:backward()
  H.eq(x.grad:totable(), { 0, 1, 0 })
end)

H.test("no_grad records nothing and restores the mode, even on error", function()
  local x = leaf(3)
  local y = lt.no_grad(function() return x:view(3, 1) end)
  H.eq(y.grad_fn, nil)
  H.ok(not y.requires_grad)
  H.ok(lt.is_grad_enabled())
  H.raises("boom", lt.no_grad, function() error("boom") end)
  H.ok(lt.is_grad_enabled())
  local a, b = lt.no_grad(function(p, q) return p + q, "two" end, 1, 2)
  H.eq(a, 3); H.eq(b, "two")
  H.eq(lt.set_grad_enabled(false), true)
  H.eq(x:view(3).grad_fn, nil)
  lt.set_grad_enabled(true)
  H.eq(x:view(3).grad_fn, "view")
end)

H.test("detach shares storage and cuts history", function()
  local x = leaf(2)
  local d = x:view(2):detach()
  H.eq(d.grad_fn, nil)
  H.ok(not d.requires_grad)
  H.eq((d:storage_id()), (x:storage_id()))
end)

H.test("requires_grad rules", function()
  local x = leaf(2)
  H.ok(x.is_leaf)
  local v = x:view(2)
  H.ok(not v.is_leaf and v.requires_grad)
  H.raises("requires_grad: only leaf tensors can be changed", function() v.requires_grad = false end)
  x.requires_grad = false
  H.eq(x:view(2).grad_fn, nil)
  H.raises("a tensor has no field 'foo' to set", function() x.foo = 1 end)
  H.raises("grad: a gradient of size 3 for a tensor of size 2", function() x.grad = lt.ones(3) end)
end)

H.test("in-place changes of a leaf that requires grad need no_grad", function()
  local w = leaf(2)
  H.raises("fill: in%-place change of a tensor that requires grad", function() w:fill(0) end)
  H.raises("set: in%-place", function() w:set(1, 0) end)
  H.raises("copy: in%-place", function() w:copy(lt.ones(2)) end)
  H.raises("index assignment: in%-place", function() w[1] = 3 end)
  lt.no_grad(function() w:fill(0.5); w[2] = 2 end)
  H.eq(w:totable(), { 0.5, 2 })
end)

H.test("a long chain is freed without recursion", function()
  local x = leaf(1)
  local y = x
  for _ = 1, 200000 do y = y:view(1) end
  y:backward(lt.ones(1))
  H.eq(x.grad:item(), 1)
  y = nil
  collectgarbage()
end)

H.done()
