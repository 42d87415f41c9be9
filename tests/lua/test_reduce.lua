-- Reductions: sum, mean, var, std, max, min, argmax, argmin.
-- Forward values against naive Lua loops in double, every dim (negative too),
-- keepdim shapes, ties and NaN, gradchecks over all and over each dim
-- (contiguous and non-contiguous inputs), and the error messages.
local H = require "harness"
local lt = require "latent"

local function leaf(...) return lt.randn(...):requires_grad_() end

local noncontig = H.noncontig
local shape_of = H.shape_of

local values = H.values

-- Naive reduction in Lua: f(list) over dim (1-based; nil = all). Returns the
-- flat expected values and the expected shape string.
local function naive(x, dim, keepdim, f)
  local v, shape = values(x), x.shape
  if not dim then
    local ks = {}
    for i = 1, #shape do ks[i] = 1 end
    return { f(v) }, keepdim and table.concat(ks, "x") or ""
  end
  local outer, inner = 1, 1
  for d = 1, dim - 1 do outer = outer * shape[d] end
  for d = dim + 1, #shape do inner = inner * shape[d] end
  local n, out = shape[dim], {}
  for o = 0, outer - 1 do
    for j = 0, inner - 1 do
      local list = {}
      for i = 0, n - 1 do list[#list + 1] = v[(o * n + i) * inner + j + 1] end
      out[#out + 1] = f(list)
    end
  end
  local os = {}
  for d = 1, #shape do
    if d ~= dim then os[#os + 1] = shape[d] elseif keepdim then os[#os + 1] = 1 end
  end
  return out, table.concat(os, "x")
end

local function lsum(l) local s = 0 for _, v in ipairs(l) do s = s + v end return s end
local function lmean(l) return lsum(l) / #l end
local function lvar(unbiased)
  return function(l)
    local m, s = lmean(l), 0
    for _, v in ipairs(l) do s = s + (v - m) ^ 2 end
    return s / (#l - (unbiased and 1 or 0))
  end
end
local function lstd(unbiased) local v = lvar(unbiased) return function(l) return math.sqrt(v(l)) end end
local function lext(is_min)
  return function(l)
    local best, at = l[1], 1
    for i = 2, #l do if (is_min and l[i] < best) or (not is_min and l[i] > best) then best, at = l[i], i end end
    return best, at
  end
end
local function first(f) return function(l) return (f(l)) end end
local function second(f) return function(l) return select(2, f(l)) end end

-- Compares x:name(dim, keepdim, ...) (first result, or the `which`-th) with naive f.
local function check(x, name, dim, keepdim, f, tol, which, extra)
  local results = table.pack(x[name](x, dim, keepdim, extra))
  local y = results[which or 1]
  local pd = dim and (dim < 0 and dim + x:dim() + 1 or dim)
  local want, wshape = naive(x, pd, keepdim, f)
  local label = string.format("%s(%s, %s) of %s", name, tostring(dim), tostring(keepdim), shape_of(x))
  H.eq(shape_of(y), wshape, label .. ": shape")
  H.close(values(y), want, tol, tol, label)
end

local shapes = { { 7 }, { 3, 4 }, { 2, 3, 4 }, { 2, 1, 3, 5 }, { 3, 5, 300 }, { 2, 3, 1100 } }

H.test("sum, mean, var, std match naive loops over every dim and keepdim", function()
  for _, s in ipairs(shapes) do
    local x = lt.randn(table.unpack(s))
    local nd = #s
    for _, dim in ipairs { false, 1, 2, 3, 4, -1, -2 } do
      local d = dim
      if d == false then d = nil end
      if d == nil or (d >= -nd and d <= nd) then
        local pd = d and (d < 0 and d + nd + 1 or d)
        for _, keep in ipairs { false, true } do
          local function chk(name, f, tol, extra)
            local results = table.pack(x[name](x, d, keep, extra))
            local want, wshape = naive(x, pd, keep, f)
            local label = string.format("%s(%s, %s) of %s", name, tostring(d), tostring(keep), shape_of(x))
            H.eq(shape_of(results[1]), wshape, label .. ": shape")
            H.close(values(results[1]), want, tol, tol, label)
          end
          chk("sum", lsum, 1e-5)
          chk("mean", lmean, 1e-5)
          if not pd or s[pd] > 1 then
            chk("var", lvar(true), 1e-5)
            chk("std", lstd(true), 1e-5)
          end
          chk("var", lvar(false), 1e-5, false)
          chk("std", lstd(false), 1e-5, false)
        end
      end
    end
  end
end)

H.test("reducing all gives a scalar; keepdim keeps every dim with size 1", function()
  local x = lt.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
  H.eq(x:sum():dim(), 0)
  H.eq(x:sum():item(), 21)
  H.eq(x:sum(nil, true).shape, { 1, 1 })
  H.eq(x:sum(1):totable(), { 5, 7, 9 })
  H.eq(x:sum(2):totable(), { 6, 15 })
  H.eq(x:sum(-1, true):totable(), { { 6 }, { 15 } })
  H.eq(x:mean(1, true):totable(), { { 2.5, 3.5, 4.5 } })
  H.close(x:var():item(), 3.5, 1e-6)
  H.close(x:var(nil, false, false):item(), 17.5 / 6, 1e-6)
  H.close(x:std(2):totable(), { 1, 1 }, 1e-6)
  H.eq(lt.sum(x, 2):totable(), x:sum(2):totable(), "lt.sum and x:sum agree")
  H.eq(lt.mean(x):item(), 3.5)
  -- a scalar tensor reduces to itself
  local s = lt.tensor(4)
  H.eq(s:sum():item(), 4)
  H.eq(s:max():item(), 4)
  H.eq(s:argmax(), 1)
end)

H.test("sums are accurate and the same for any thread count (chunked paths)", function()
  -- one long row, a tall matrix reduced over rows (few units, many rows), wide inner blocks
  local cases = { { { 300001 }, nil }, { { 200003, 3 }, 1 }, { { 3, 200003 }, 2 }, { { 70000, 2, 3 }, 1 },
    { { 5, 40000, 2 }, 2 } }
  for _, c in ipairs(cases) do
    local x = lt.rand(table.unpack(c[1]))
    local t1 = { x:sum(c[2]), x:var(c[2]), x:max(c[2]), x:min(c[2]) }
    local i1 = c[2] and select(2, x:max(c[2])) or x:argmax()
    lt.set_num_threads(2)
    local t2 = { x:sum(c[2]), x:var(c[2]), x:max(c[2]), x:min(c[2]) }
    local i2 = c[2] and select(2, x:max(c[2])) or x:argmax()
    lt.set_num_threads(1)
    for k = 1, #t1 do H.eq(t1[k], t2[k], "same bits with 1 and 2 threads") end
    if c[2] then H.eq(i1, i2) else H.eq(i1, i2) end
    local want = naive(x, c[2], false, lsum)
    H.close(values(t1[1]), want, 0, 1e-6, "sum of " .. shape_of(x))
    want = naive(x, c[2], false, lvar(true))
    H.close(values(t1[2]), want, 0, 1e-5, "var of " .. shape_of(x))
    want = naive(x, c[2], false, first(lext(false)))
    H.eq(values(t1[3]), want, "max of " .. shape_of(x))
  end
  -- ties in different chunks: the first occurrence still wins
  local t = lt.zeros(300001)
  t[100000], t[250000] = 5, 5
  H.eq(t:argmax(), 100000)
  H.eq(select(2, t:view(1, 300001):max(2)):item(), 100000)
  H.eq(lt.ones(300001):argmin(), 1)
  H.eq(values(select(2, lt.ones(200003, 3):min(1))), { 1, 1, 1 })
  local u = lt.zeros(200003, 3)
  u[150000] = 2
  u[190000] = 2
  H.eq(values(select(2, u:max(1))), { 150000, 150000, 150000 })
  -- 2^24 + ones: a float accumulator would stop growing
  local big = lt.ones(1 << 24 | 1000)
  H.eq(big:sum():item(), (1 << 24) + 1000)
  H.eq(big:mean():item(), 1)
  H.eq(big:var():item(), 0)
end)

H.test("max/min values and 1-based indices, every dim", function()
  for _, s in ipairs(shapes) do
    local x = lt.randn(table.unpack(s))
    for d = -#s, #s do
      if d ~= 0 then
        local pd = d < 0 and d + #s + 1 or d
        for _, keep in ipairs { false, true } do
          for _, name in ipairs { "max", "min" } do
            local f = lext(name == "min")
            check(x, name, d, keep, first(f), 0, 1)
            local v, i = x[name](x, d, keep)
            local want = naive(x, pd, keep, second(f))
            H.eq(values(i), want, name .. " indices")
            H.eq(shape_of(i), shape_of(v))
            local am = (name == "max") and x:argmax(d, keep) or x:argmin(d, keep)
            H.eq(values(am), want, "arg" .. name)
            H.eq(shape_of(am), shape_of(v))
          end
        end
      end
    end
    -- over all: a scalar tensor of the value; argmax a Lua integer (flat index)
    local want, at = lext(false)(values(x))
    H.eq(x:max():item(), want)
    H.eq(x:max():dim(), 0)
    H.eq(x:argmax(), at)
    H.ok(math.type(x:argmax()) == "integer")
    local wmin, atmin = lext(true)(values(x))
    H.eq(x:min():item(), wmin)
    H.eq(x:argmin(), atmin)
    H.eq(x:argmax(nil, true):dim(), #s)
  end
end)

H.test("ties go to the first occurrence; NaN wins", function()
  local x = lt.tensor { { 1, 3, 3 }, { 2, 2, 1 } }
  local v, i = x:max(2)
  H.eq(v:totable(), { 3, 2 })
  H.eq(i:totable(), { 2, 1 })
  v, i = x:min(2)
  H.eq(v:totable(), { 1, 1 })
  H.eq(i:totable(), { 1, 3 })
  v, i = x:max(1)
  H.eq(i:totable(), { 2, 1, 1 })
  H.eq(x:argmax(), 2)
  H.eq(x:argmin(), 1)
  H.eq(lt.tensor { 5, 5, 5 }:argmin(), 1)
  local n = lt.tensor { 1, 0 / 0, 7, 0 / 0 }
  H.ok(n:max():item() ~= n:max():item(), "max with a NaN is NaN")
  H.eq(n:argmax(), 2)
  H.eq(n:argmin(), 2)
  -- infinities are ordinary values
  local inf = math.huge
  H.eq(lt.tensor { -inf, -inf }:argmax(), 1)
  H.eq(lt.tensor { -inf, 3, -inf }:argmax(), 2)
  H.eq(lt.tensor { inf, inf, 2 }:argmin(), 3)
  H.eq(lt.tensor { { -inf, -inf }, { 1, -inf } }:max(1):totable(), { 1, -inf })
  H.eq(lt.tensor { 1, inf, 2 }:max():item(), inf)
  -- the gradient of a tie goes to the first element only
  local y = lt.tensor { 1, 3, 3, 2 }:requires_grad_()
  y:max():backward()
  H.eq(y.grad:totable(), { 0, 1, 0, 0 })
  local z = lt.tensor { { 1, 3, 3 }, { 2, 2, 1 } }:requires_grad_()
  z:max(2):backward(lt.tensor { 10, 20 })
  H.eq(z.grad:totable(), { { 0, 10, 0 }, { 20, 0, 0 } })
  -- indices from max feed index_select
  local _, idx = x:max(2)
  H.eq(x:select(1, 1):index_select(1, idx):totable(), { 3, 1 })
end)

H.test("empty tensors: sum 0, mean NaN, max an error", function()
  local e = lt.zeros(0, 3)
  H.eq(e:sum(1):totable(), { 0, 0, 0 })
  H.eq(e:sum():item(), 0)
  H.eq(e:sum(2).shape, { 0 })
  H.ok(e:mean():item() ~= e:mean():item())
  H.raises("max: cannot reduce dimension 1 of size 0", function() return e:max(1) end)
  H.raises("argmax: cannot reduce an empty tensor", function() return e:argmax() end)
  H.eq(e:max(2).shape, { 0 })
  -- one element: unbiased variance is NaN (0/0) as in PyTorch; biased is 0
  H.ok(lt.tensor { 3 }:var():item() ~= lt.tensor { 3 }:var():item())
  H.eq(lt.tensor { 3 }:var(1, false, false):item(), 0)
end)

-- distinct values, so max/min are far from ties for finite differences
local function distinct(...)
  local n = 1
  for _, s in ipairs { ... } do n = n * s end
  local vals = {}
  for i = 1, n do vals[i] = (i - n / 2) * 0.37 end
  for i = n, 2, -1 do
    local j = lt.randint(1, i, 1):item() // 1
    vals[i], vals[j] = vals[j], vals[i]
  end
  return lt.tensor(vals):view(...):requires_grad_()
end

H.test("gradients of every reduction over all and each dim match finite differences", function()
  local ops = {
    sum = function(a, d, k) return a:sum(d, k) end,
    mean = function(a, d, k) return a:mean(d, k) end,
    var = function(a, d, k) return a:var(d, k) end,
    var_biased = function(a, d, k) return a:var(d, k, false) end,
    std = function(a, d, k) return a:std(d, k) end,
    std_biased = function(a, d, k) return a:std(d, k, false) end,
    max = function(a, d, k) return (a:max(d, k)) end,
    min = function(a, d, k) return (a:min(d, k)) end,
  }
  local inputs = { distinct(3, 4), noncontig(distinct(3, 4)), distinct(2, 3, 4), distinct(5) }
  for name, f in pairs(ops) do
    for _, x in ipairs(inputs) do
      for d = 0, x:dim() do
        for _, keep in ipairs { false, true } do
          local dim = d > 0 and d or nil
          local ok, err = pcall(lt.gradcheck, function(a) return f(a, dim, keep) end, { x })
          if not ok then
            error(string.format("%s(%s, %s) of %s%s: %s", name, tostring(dim), tostring(keep), shape_of(x),
              x:is_contiguous() and "" or " (non-contiguous)", tostring(err)))
          end
        end
      end
    end
  end
  -- through a view inside fn: x:transpose(1, 2) reduced over each dim
  local x = distinct(3, 4)
  for _, name in ipairs { "sum", "mean", "var", "std", "max", "min" } do
    for d = -2, 2 do
      if d ~= 0 then
        H.ok(lt.gradcheck(function(a) return (a:transpose(1, 2)[name](a:transpose(1, 2), d)) end, { x }))
      end
    end
  end
end)

H.test("std's gradient is 0 where std is 0; reductions of reductions", function()
  local x = lt.ones(2, 3):requires_grad_()
  x:std(2):sum():backward()
  H.eq(x.grad:totable(), { { 0, 0, 0 }, { 0, 0, 0 } })
  local y = leaf(3, 4)
  H.ok(lt.gradcheck(function(a) return a:sum(2):max() end, { y }))
  H.ok(lt.gradcheck(function(a) return a:mean(1, true):std() end, { y }))
  H.ok(lt.gradcheck(function(a) return a:var(2):sum() end, { y }))
  -- x:sum():backward() without a gradient
  local z = leaf(4, 5)
  z:mean():backward()
  H.close(z.grad, lt.full({ 4, 5 }, 1 / 20), 1e-7)
  -- argmax and indices carry no gradient
  local _, i = z:max(1)
  H.ok(not i.requires_grad)
  H.ok(not z:argmax(2).requires_grad)
end)

H.test("misuse raises clear messages", function()
  local x = lt.randn(3, 4)
  H.raises("sum.*dimension 3 out of range", function() return x:sum(3) end)
  H.raises("mean.*dimension %-3 out of range", function() return x:mean(-3) end)
  H.raises("var.*dimension 0 out of range", function() return x:var(0) end)
  H.raises("max.*dimension 5 out of range", function() return x:max(5) end)
  H.raises("argmax.*dimension 3 out of range", function() return lt.argmax(x, 3) end)
  H.raises("sum.*number has no integer representation", function() return x:sum(1.5) end)
  H.raises("sum.*boolean expected, got number", function() return x:sum(1, 1) end)
  H.raises("std.*boolean expected, got string", function() return x:std(1, false, "yes") end)
  H.raises("sum.*latent.Tensor expected, got number", function() return lt.sum(3) end)
  H.raises("max.*latent.Tensor expected, got no value", function() return lt.max() end)
  H.raises("sum.*a scalar tensor has no dimensions", function() return lt.tensor(1):sum(1) end)
  H.raises("set_num_threads.*between 1 and", function() return lt.set_num_threads(0) end)
  H.raises("set_num_threads.*number has no integer representation", function() return lt.set_num_threads(1.5) end)
  -- backward through max after its indices were modified in place
  local y = leaf(2, 3)
  local v, i = y:max(2)
  i:fill(1)
  H.raises("backward: a tensor that 'max' saved", function() v:sum():backward() end)
end)

H.test("set_num_threads / get_num_threads", function()
  lt.set_num_threads(2)
  H.eq(lt.get_num_threads(), 2)
  lt.set_num_threads(1.0)
  H.eq(lt.get_num_threads(), 1)
end)

H.done()
