-- Elementwise math: forward values against Lua's math in double, operand
-- orders (number first and tensor first), broadcasting, masks and where,
-- gradchecks of every differentiable op (broadcast and non-contiguous inputs
-- included), IEEE edge values, and the error messages.
local H = require "harness"
local lt = require "latent"

local function leaf(...) return lt.randn(...):requires_grad_() end

-- Uniform values in (lo, hi) as a leaf: keeps log, sqrt, pow and the kinks of
-- abs/relu/clamp out of the finite differences' way.
local function leaf_in(lo, hi, ...)
  return (lt.rand(...) * (hi - lo) + lo):requires_grad_()
end

local noncontig = H.noncontig
local shape_of = H.shape_of

local values = H.values

-- Expected values of f over a (and b, a tensor or number) broadcast to `shape`.
local function expected(shape, f, a, b)
  local nd, n = #shape, 1
  for _, s in ipairs(shape) do n = n * s end
  local function reader(t)
    if type(t) == "number" then return function() return t end end
    local v, ts = values(t), t.shape
    return function(idx)
      local off, lead = 0, nd - #ts
      for d = 1, #ts do off = off * ts[d] + (ts[d] == 1 and 0 or idx[d + lead]) end
      return v[off + 1]
    end
  end
  local ra, rb = reader(a), b ~= nil and reader(b)
  local out = {}
  for k = 0, n - 1 do
    local idx, r = {}, k
    for d = nd, 1, -1 do idx[d] = r % shape[d]; r = r // shape[d] end
    out[k + 1] = rb and f(ra(idx), rb(idx)) or f(ra(idx))
  end
  return out
end

local function check(y, shape, want, rtol)
  H.eq(shape_of(y), table.concat(shape, "x"), "shape")
  H.close(values(y), want, 1e-6, rtol or 1e-6)
end

local function tanh(v) if v > 20 then return 1 elseif v < -20 then return -1 end local e = math.exp(2 * v) return (e - 1) / (e + 1) end
local function sigmoid(v) return 1 / (1 + math.exp(-v)) end

-- ==================== forward values ====================

local arith = {
  add = function(a, b) return a + b end, sub = function(a, b) return a - b end,
  mul = function(a, b) return a * b end, div = function(a, b) return a / b end,
  pow = function(a, b) return a ^ b end,
}

H.test("binary ops: tensor with tensor, every broadcast case of the brief", function()
  local cases = {
    { { 2, 3 }, { 2, 3 }, { 2, 3 } }, { { 2, 3 }, { 3 }, { 2, 3 } }, { { 2, 1 }, { 1, 3 }, { 2, 3 } },
    { {}, { 2, 3 }, { 2, 3 } }, { { 4, 1, 2 }, { 3, 1 }, { 4, 3, 2 } }, { { 0, 3 }, { 3 }, { 0, 3 } },
  }
  for _, c in ipairs(cases) do
    local a = lt.rand(table.unpack(c[1])) + 0.5
    local b = lt.rand(table.unpack(c[2])) + 0.5
    for name, f in pairs(arith) do
      check(lt[name](a, b), c[3], expected(c[3], f, a, b), 1e-5)
      check(a[name](a, b), c[3], expected(c[3], f, a, b), 1e-5)
      check(lt[name](b, a), c[3], expected(c[3], function(x, y) return f(y, x) end, a, b), 1e-5)
    end
  end
end)

H.test("operators with the number first and the tensor first", function()
  local x = lt.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
  local s = { 2, 3 }
  H.close(x + 2, expected(s, function(v) return v + 2 end, x))
  H.close(2 + x, expected(s, function(v) return 2 + v end, x))
  H.close(x - 2, expected(s, function(v) return v - 2 end, x))
  H.close(2 - x, expected(s, function(v) return 2 - v end, x))
  H.close(x * 0.5, expected(s, function(v) return v * 0.5 end, x))
  H.close(0.5 * x, expected(s, function(v) return 0.5 * v end, x))
  H.close(x / 4, expected(s, function(v) return v / 4 end, x))
  H.close(2 / x, expected(s, function(v) return 2 / v end, x), 1e-6, 1e-6)
  H.close(x ^ 2, expected(s, function(v) return v ^ 2 end, x))
  H.close(2 ^ x, expected(s, function(v) return 2 ^ v end, x))
  H.close(x ^ 0.5, expected(s, function(v) return math.sqrt(v) end, x), 1e-6, 1e-6)
  H.close(x ^ -1, expected(s, function(v) return 1 / v end, x), 1e-6, 1e-6)
  H.close(x ^ 3, expected(s, function(v) return v ^ 3 end, x), 1e-6, 1e-6)
  H.close(x ^ 1.5, expected(s, function(v) return v ^ 1.5 end, x), 1e-6, 1e-6)
  H.close(0.5 ^ x, expected(s, function(v) return 0.5 ^ v end, x), 1e-7, 1e-6)
  H.close(-x, expected(s, function(v) return -v end, x))
  H.close(x + x, expected(s, function(v) return 2 * v end, x))
  -- integers are numbers too; functions and methods take numbers on either side
  H.close(x * 2, x * 2.0)
  H.close(lt.sub(10, x), 10 - x)
  H.close(lt.div(1, x), 1 / x)
  H.close(lt.pow(3, x), 3 ^ x)
  H.close(x:sub(1), x - 1)
  H.close(x:mul(x), x * x)
  -- a number is never materialized: a scalar tensor is still a tensor
  H.eq(shape_of(x + lt.tensor(1)), "2x3")
  H.eq(shape_of(lt.tensor(1) + 1), "")
end)

H.test("results are new contiguous tensors, whatever the inputs' strides", function()
  local x = lt.randn(3, 4)
  local xt = x:t()
  for _, y in ipairs { xt + 1, xt * xt, xt:exp(), xt:gt(0), lt.where(xt:gt(0), xt, 0), xt + xt:narrow(2, 1, 1) } do
    H.ok(y:is_contiguous())
    H.ok(y:storage_id() ~= x:storage_id())
  end
  H.close(xt * 2, expected({ 4, 3 }, function(v) return 2 * v end, xt))
  H.close(xt - x:narrow(1, 1, 1):t(), expected({ 4, 3 }, function(a, b) return a - b end, xt, x:narrow(1, 1, 1):t()))
end)

H.test("unary ops against Lua's math", function()
  local x = lt.randn(5, 7) * 3
  local p = lt.rand(5, 7) * 10 + 0.01
  local s = { 5, 7 }
  H.close(x:neg(), expected(s, function(v) return -v end, x))
  H.close(x:exp(), expected(s, math.exp, x), 1e-6, 3e-7)
  H.close(p:log(), expected(s, math.log, p), 1e-6, 3e-7)
  H.close(p:sqrt(), expected(s, math.sqrt, p), 1e-6, 3e-7)
  H.close(x:square(), expected(s, function(v) return v * v end, x), 1e-6, 3e-7)
  H.close(x:abs(), expected(s, math.abs, x))
  H.close(x:sign(), expected(s, function(v) return v > 0 and 1 or v < 0 and -1 or 0 end, x))
  H.close(x:tanh(), expected(s, tanh, x), 1e-6, 3e-7)
  H.close(x:sigmoid(), expected(s, sigmoid, x), 1e-6, 3e-7)
  H.close(x:relu(), expected(s, function(v) return math.max(v, 0) end, x))
  H.close(x:clamp(-1, 2), expected(s, function(v) return math.min(math.max(v, -1), 2) end, x))
  H.close(x:clamp(-1), expected(s, function(v) return math.max(v, -1) end, x))
  H.close(x:clamp(nil, 2), expected(s, function(v) return math.min(v, 2) end, x))
  H.close(x:clamp { max = 0.5 }, expected(s, function(v) return math.min(v, 0.5) end, x))
  H.close(x:clamp { min = 0 }, x:relu())
  H.close(x:clamp(3, 1), lt.full({ 5, 7 }, 1)) -- min > max gives max, as PyTorch
  for _, name in ipairs { "neg", "exp", "abs", "sign", "tanh", "sigmoid", "relu" } do
    H.close(lt[name](x), x[name](x))
  end
  -- exp and sigmoid over a wide range, both tails
  local w = lt.linspace(-87, 88, 1751)
  H.close(w:exp(), expected({ 1751 }, math.exp, w), 0, 3e-7)
  w = lt.linspace(-100, 100, 2001) -- sigmoid(-100) is subnormal: an absolute tolerance
  H.close(w:sigmoid(), expected({ 2001 }, sigmoid, w), 1e-44, 3e-7)
end)

H.test("IEEE values, as PyTorch: no errors", function()
  local inf = math.huge
  local z = lt.tensor { 0, -1, inf, -inf, 0 / 0 }
  local function nan(v) return v ~= v end
  local l = values(z:log())
  H.ok(l[1] == -inf and nan(l[2]) and l[3] == inf and nan(l[4]) and nan(l[5]), "log")
  local s = values(z:sqrt())
  H.ok(s[1] == 0 and nan(s[2]) and s[3] == inf and nan(s[5]), "sqrt")
  local d = values(1 / z)
  H.ok(d[1] == inf and d[2] == -1 and d[3] == 0, "1/x")
  local g = values(z:sigmoid())
  H.ok(g[1] == 0.5 and g[3] == 1 and g[4] == 0 and nan(g[5]), "sigmoid")
  local e = values(z:exp())
  H.ok(e[1] == 1 and e[3] == inf and e[4] == 0 and nan(e[5]), "exp")
  local t = values(z:tanh())
  H.ok(t[3] == 1 and t[4] == -1 and nan(t[5]), "tanh")
  H.ok(nan(values(z:relu())[5]) and nan(values(z:clamp(0, 1))[5]), "NaN passes relu and clamp")
  H.ok(values(lt.tensor { -1 } ^ 0.5)[1] ~= values(lt.tensor { -1 } ^ 0.5)[1], "(-1)^0.5 is NaN")
  H.eq(values(lt.tensor { 0 } ^ 0)[1], 1)
end)

-- ==================== masks and where ====================

H.test("comparisons give float masks, with numbers and broadcasting", function()
  local x = lt.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
  local r = lt.tensor { 2, 5, 3 }
  local s = { 2, 3 }
  local cmp = {
    eq = function(a, b) return a == b end, ne = function(a, b) return a ~= b end,
    lt = function(a, b) return a < b end, le = function(a, b) return a <= b end,
    gt = function(a, b) return a > b end, ge = function(a, b) return a >= b end,
  }
  local function mask(f) return function(a, b) return f(a, b) and 1 or 0 end end
  for name, f in pairs(cmp) do
    H.eq(values(x[name](x, r)), expected(s, mask(f), x, r), name .. " tensor")
    H.eq(values(lt[name](x, 3)), expected(s, mask(f), x, 3), name .. " number")
    H.eq(values(lt[name](3, x)), expected(s, mask(function(a, b) return f(b, a) end), x, 3), name .. " number first")
    H.eq(values(lt[name](r, x)), expected(s, mask(function(a, b) return f(b, a) end), x, r), name .. " broadcast first")
  end
  H.eq(x:gt(2), lt.tensor { { 0, 0, 1 }, { 1, 1, 1 } })
  H.eq(lt.tensor { 0 / 0 }:eq(0 / 0), lt.tensor { 0 })
  H.eq(lt.tensor { 0 / 0 }:ne(0 / 0), lt.tensor { 1 })
  -- masks have no history and compose with arithmetic
  local w = leaf(2, 3)
  H.ok(not w:gt(0).requires_grad)
  H.close(w * w:gt(0), w:relu())
  -- Lua's own comparison metamethods are left alone (they must return booleans)
  H.ok(getmetatable(x).__lt == nil and getmetatable(x).__le == nil and getmetatable(x).__eq == nil)
  H.ok(x ~= x:clone())
end)

H.test("where: tensors and numbers, broadcast together", function()
  local c = lt.tensor { { 1, 0, 1 }, { 0, 0, 1 } }
  local x = lt.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
  local y = lt.tensor { 10, 20, 30 }
  H.eq(lt.where(c, x, y), lt.tensor { { 1, 20, 3 }, { 10, 20, 6 } })
  H.eq(lt.where(c, x, 0), lt.tensor { { 1, 0, 3 }, { 0, 0, 6 } })
  H.eq(lt.where(c, -1, y), lt.tensor { { -1, 20, -1 }, { 10, 20, -1 } })
  H.eq(lt.where(c, 1, 0), c)
  H.eq(lt.where(lt.tensor { { 1 }, { 0 } }, y, -y), lt.tensor { { 10, 20, 30 }, { -10, -20, -30 } })
  H.eq(lt.where(x:gt(3.5), x, y), lt.tensor { { 10, 20, 30 }, { 4, 5, 6 } })
  H.eq(lt.where(lt.tensor { 2, -1, 0 }, 1, 0), lt.tensor { 1, 1, 0 }) -- nonzero is true
  H.eq(lt.where(c:t():t(), x:t():t(), 7), lt.where(c, x, 7))
end)

-- ==================== gradients ====================

H.test("gradcheck: binary ops, same shapes and broadcast", function()
  local pairs_ = {
    { function() return leaf_in(0.5, 2, 2, 3) end, function() return leaf_in(0.5, 2, 2, 3) end },
    { function() return leaf_in(0.5, 2, 2, 3) end, function() return leaf_in(0.5, 2, 3) end },
    { function() return leaf_in(0.5, 2, 2, 1) end, function() return leaf_in(0.5, 2, 1, 3) end },
    { function() return lt.tensor(1.3):requires_grad_() end, function() return leaf_in(0.5, 2, 2, 3) end },
  }
  for i, p in ipairs(pairs_) do
    for name in pairs(arith) do
      local a, b = p[1](), p[2]()
      local f = lt[name]
      H.ok(lt.gradcheck(f, { a, b }), name .. " case " .. i)
      H.ok(lt.gradcheck(function(u, v) return f(v, u) end, { a, b }), name .. " swapped, case " .. i)
    end
  end
end)

H.test("gradcheck: operators, non-contiguous and one-sided inputs", function()
  local a, b = noncontig(leaf_in(0.5, 2, 3, 4)), leaf_in(0.5, 2, 3, 4)
  H.ok(lt.gradcheck(function(u, v) return u * v + u / v - v ^ u end, { a, b }))
  local n = (lt.rand(4, 6) + 0.5):narrow(2, 2, 3):requires_grad_() -- a leaf view, row stride 6
  H.ok(lt.gradcheck(function(u, v) return (u * v:t()):t() - v end, { n, b }))
  -- only one input requires grad
  local c = lt.rand(3, 4) + 0.5
  H.ok(lt.gradcheck(function(u) return u / c + c ^ u end, { b }))
  H.ok(lt.gradcheck(function(u) return c / u + u ^ c end, { b }))
  -- the same tensor on both sides
  H.ok(lt.gradcheck(function(u) return u * u - u / u + u ^ u end, { b }))
end)

H.test("gradcheck: ops with a number, both orders", function()
  local x = leaf_in(0.5, 2, 2, 3)
  local fs = {
    function(u) return u + 2 end, function(u) return 2 + u end, function(u) return u - 2 end,
    function(u) return 2 - u end, function(u) return 0.5 * u end, function(u) return u * -3 end,
    function(u) return u / 4 end, function(u) return 2 / u end, function(u) return u ^ 2 end,
    function(u) return u ^ 0.5 end, function(u) return u ^ -1 end, function(u) return u ^ 1 end,
    function(u) return u ^ 3 end, function(u) return u ^ -1.5 end, function(u) return 2 ^ u end,
    function(u) return 0.5 ^ u end, function(u) return -u end, function(u) return lt.pow(u, 0) + u end,
  }
  for i, f in ipairs(fs) do H.ok(lt.gradcheck(f, { x }), "case " .. i) end
  H.ok(lt.gradcheck(function(u) return 2 - u:t() end, { noncontig(leaf_in(0.5, 2, 3, 2)) }))
end)

H.test("gradcheck: unary ops, contiguous and not", function()
  local ops = {
    { "neg", -2, 2 }, { "exp", -2, 2 }, { "log", 0.2, 3 }, { "sqrt", 0.2, 3 }, { "square", -2, 2 },
    { "abs", 0.1, 2 }, { "abs", -2, -0.1 }, { "sign", 0.1, 2 }, { "tanh", -2, 2 }, { "sigmoid", -4, 4 },
    { "relu", 0.1, 2 }, { "relu", -2, -0.1 },
  }
  for _, o in ipairs(ops) do
    local name, lo, hi = o[1], o[2], o[3]
    H.ok(lt.gradcheck(function(u) return u[name](u) end, { leaf_in(lo, hi, 3, 4) }), name)
    H.ok(lt.gradcheck(function(u) return lt[name](u) end, { noncontig(leaf_in(lo, hi, 4, 3)) }), name .. " non-contiguous")
  end
  -- clamp: values inside, below and above the bounds (away from them)
  local x = lt.tensor { -3, -1.5, 0.2, 0.9, 1.7, 4 }:requires_grad_()
  H.ok(lt.gradcheck(function(u) return u:clamp(-1, 1) end, { x }))
  H.ok(lt.gradcheck(function(u) return u:clamp(0) end, { x }))
  H.ok(lt.gradcheck(function(u) return u:clamp(nil, 1) end, { x }))
end)

H.test("kinks and special points follow PyTorch", function()
  local x = lt.tensor { -1, 0, 0.5, 1, 2 }:requires_grad_()
  x:clamp(0, 1):sum():backward()
  H.eq(x.grad, lt.tensor { 0, 1, 1, 1, 0 }) -- 1 on [min, max] inclusive
  x.grad = nil
  x:relu():sum():backward()
  H.eq(x.grad, lt.tensor { 0, 0, 1, 1, 1 })
  x.grad = nil
  x:abs():sum():backward()
  H.eq(x.grad, lt.tensor { -1, 0, 1, 1, 1 })
  x.grad = nil
  local y = x:sign() + x
  y:sum():backward()
  H.eq(x.grad, lt.tensor { 1, 1, 1, 1, 1 })
  -- pow: d/da 0 where e == 0; d/de 0 where a == 0 and e >= 0
  local a = lt.tensor { 0, 0, 2, 0 }:requires_grad_()
  local e = lt.tensor { 0, 2, 3, -1 }:requires_grad_()
  lt.pow(a, e):sum():backward()
  H.eq(values(a.grad)[1], 0)
  H.eq(values(a.grad)[2], 0)
  H.eq(values(a.grad)[3], 12)
  H.eq(values(e.grad)[1], 0)
  H.eq(values(e.grad)[2], 0)
  H.close(values(e.grad)[3], 8 * math.log(2), 1e-5)
  local z = lt.tensor { 0, 1, 2 }:requires_grad_()
  local p = 0 ^ z
  p:sum():backward()
  H.eq(z.grad, lt.tensor { 0, 0, 0 })
  z.grad = nil
  p = z ^ 0
  p:sum():backward() -- a zero gradient, even at 0
  H.ok(z.grad == nil or values(z.grad)[1] == 0)
end)

H.test("gradcheck: where, in x and y, with broadcasting and numbers", function()
  local c = lt.tensor { { 1, 0, 1 }, { 0, 0, 1 } }
  H.ok(lt.gradcheck(function(x, y) return lt.where(c, x, y) end, { leaf(2, 3), leaf(3) }))
  H.ok(lt.gradcheck(function(x, y) return lt.where(c, x, y) end, { leaf(2, 1), leaf(1, 3) }))
  H.ok(lt.gradcheck(function(x) return lt.where(c, x:t(), 0) end, { noncontig(leaf(3, 2)) }))
  H.ok(lt.gradcheck(function(y) return lt.where(c:narrow(1, 1, 1), 2, y) end, { leaf(2, 3) }))
  -- where as a differentiable switch: a piecewise function
  H.ok(lt.gradcheck(function(x) return lt.where(x:gt(0), x:square(), x:exp() - 1) end, { leaf(4, 5) }))
end)

H.test("gradcheck: expressions as written in scripts", function()
  local mu, logvar = leaf(4, 3), leaf(4, 3)
  H.ok(lt.gradcheck(function(m, lv)
    return -0.5 * (1 + lv - m ^ 2 - lv:exp()):sum() / 4
  end, { mu, logvar }))
  H.ok(lt.gradcheck(function(m, lv) return m + (0.5 * lv):exp() * 0.3 end, { mu, logvar }))
  local x, w, b = lt.randn(5, 3), leaf(3, 2), leaf(2)
  H.ok(lt.gradcheck(function(w_, b_) return (x:matmul(w_) + b_):sigmoid():log() end, { w, b }))
end)

-- ==================== errors ====================

H.test("misuse raises clear errors", function()
  local x = lt.zeros(3, 4)
  H.raises("add: shapes 3x4 and 5x2 cannot be broadcast together", function() return x + lt.zeros(5, 2) end)
  H.raises("sub: shapes 3x4 and 3 cannot be broadcast together", function() return x - lt.zeros(3) end)
  H.raises("mul: shapes 2 and 3x4 cannot be broadcast together", function() return lt.zeros(2) * x end)
  H.raises("div: shapes 3x4 and 4x1x3 cannot be broadcast together", function() return x / lt.zeros(4, 1, 3) end)
  H.raises("pow: shapes 3x4 and 2x4 cannot be broadcast together", function() return x ^ lt.zeros(2, 4) end)
  H.raises("gt: shapes 3x4 and 5 cannot be broadcast together", function() return x:gt(lt.zeros(5)) end)
  H.raises("where: shapes 3x4, 2 and 3x4 cannot be broadcast together", function() return lt.where(x, lt.zeros(2), x) end)
  H.raises("bad argument #2 to 'add' %(latent.Tensor expected, got string%)", function() return x + "a" end)
  H.raises("bad argument #2 to 'add' %(latent.Tensor expected, got string%)", function() return lt.add(x, "a") end)
  H.raises("bad argument #1 to 'mul' %(latent.Tensor expected, got table%)", function() return {} * x end)
  H.raises("bad argument #2 to 'pow' %(latent.Tensor expected, got boolean%)", function() return x ^ true end)
  H.raises("bad argument #1 to 'add' %(latent.Tensor expected, got number%)", function() return lt.add(1, 2) end)
  H.raises("bad argument #1 to 'exp' %(latent.Tensor expected, got number%)", function() return lt.exp(1) end)
  H.raises("bad argument #3 to 'where' %(latent.Tensor expected, got no value%)", function() return lt.where(x, x) end)
  H.raises("bad argument #1 to 'where' %(latent.Tensor expected, got number%)", function() return lt.where(1, x, x) end)
  H.raises("bad argument #2 to 'gt' %(latent.Tensor expected, got no value%)", function() return lt.gt(x) end)
  H.raises("clamp: give min, max or both", function() return x:clamp() end)
  H.raises("clamp: give min, max or both", function() return x:clamp {} end)
  H.raises("clamp: option 'min' must be a number, got string", function() return x:clamp { min = "a" } end)
  H.raises("bad argument #2 to 'clamp' %(number expected, got string%)", function() return lt.clamp(x, "a") end)
  -- a closed tensor is caught, not read
  local t = lt.zeros(2)
  do local c <close> = t end
  H.raises("tensor was closed", function() return x:exp() + t end)
end)

H.done()
