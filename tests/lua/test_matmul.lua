-- matmul: every supported shape combination against a naive triple loop,
-- operands as contiguous tensors and as views (transposed: the CblasTrans
-- path; column slices: a leading dimension wider than the row; strided or
-- expanded: the copy path), gradchecks including batch broadcasting, and
-- the error messages.
local H = require "harness"
local lt = require "latent"

local function shape_of(t) return table.concat(t.shape, "x") end

-- Naive matmul in Lua doubles, following torch.matmul's rules for 1 to 3 dims.
local function naive(a, b)
  local A, B = a:totable(), b:totable()
  local av, bv = a:dim() == 1, b:dim() == 1
  if av then A = { A } end                                 -- k -> 1 x k
  if bv then local c = {} for i, v in ipairs(B) do c[i] = { v } end B = c end -- k -> k x 1
  local a3, b3 = #a.shape == 3, #b.shape == 3
  if not a3 then A = { A } end
  if not b3 then B = { B } end
  local batch = math.max(#A, #B)
  local out = {}
  for bi = 1, batch do
    local Am, Bm = A[#A == 1 and 1 or bi], B[#B == 1 and 1 or bi]
    local C = {}
    for i = 1, #Am do
      C[i] = {}
      for j = 1, #Bm[1] do
        local s = 0
        for k = 1, #Bm do s = s + Am[i][k] * Bm[k][j] end
        C[i][j] = s
      end
    end
    if bv then for i = 1, #C do C[i] = C[i][1] end end -- drop the column of a 1-D b
    if av then C = C[1] end                            -- drop the row of a 1-D a
    out[bi] = C
  end
  if not (a3 or b3) then out = out[1] end
  return out
end

local function flat(t)
  local out = {}
  local function walk(v) if type(v) == "table" then for _, e in ipairs(v) do walk(e) end else out[#out + 1] = v end end
  walk(t)
  return out
end

-- All the ways to present a tensor of `shape` (at most 3 dims) as an operand.
local function layouts(shape)
  local n = #shape
  local r = {
    contiguous = function() return lt.randn(table.unpack(shape)) end,
  }
  if n >= 2 then
    local rev = { table.unpack(shape) }
    rev[n], rev[n - 1] = shape[n - 1], shape[n]
    -- a transposed contiguous tensor: rows contiguous -> CblasTrans, no copy
    r.transposed = function() return lt.randn(table.unpack(rev)):transpose(n - 1, n) end
    -- a column slice: leading dimension larger than the row
    r.narrowed = function()
      local wide = { table.unpack(shape) }
      wide[n] = shape[n] + 3
      return lt.randn(table.unpack(wide)):narrow(n, 2, shape[n])
    end
    -- every other column: no BLAS form, copied
    r.strided = function()
      local wide = { table.unpack(shape) }
      wide[n + 1] = 2
      return lt.randn(table.unpack(wide)):select(n + 1, 2)
    end
  else
    r.strided = function() return lt.randn(shape[1], 2):select(2, 1) end
  end
  if n == 3 then
    -- batch not outermost in memory: matrices fine, batch stride unusual
    r.batch_inner = function() return lt.randn(shape[2], shape[1], shape[3]):transpose(1, 2) end
    -- one matrix expanded over the batch (batch stride 0)
    r.expanded = function() return lt.randn(shape[2], shape[3]):expand(table.unpack(shape)) end
  end
  -- a row expanded (stride 0 inside a matrix): copied
  if n == 2 and shape[1] > 1 then r.row_expanded = function() return lt.randn(1, shape[2]):expand(table.unpack(shape)) end end
  return r
end

local combos = {
  { { 3, 4 }, { 4, 5 } }, { { 4 }, { 4 } }, { { 3, 4 }, { 4 } }, { { 4 }, { 4, 5 } },
  { { 2, 3, 4 }, { 2, 4, 5 } }, { { 2, 3, 4 }, { 4, 5 } }, { { 3, 4 }, { 2, 4, 5 } },
  { { 1, 3, 4 }, { 2, 4, 5 } }, { { 2, 3, 4 }, { 1, 4, 5 } }, { { 2, 3, 4 }, { 4 } }, { { 4 }, { 2, 4, 5 } },
  { { 1, 4 }, { 4, 1 } }, { { 5, 1 }, { 1, 6 } }, { { 1, 4 }, { 4, 6 } }, { { 6, 4 }, { 4, 1 } },
  { { 3, 1, 4 }, { 3, 4, 5 } }, { { 3, 6, 4 }, { 3, 4, 1 } }, { { 4, 7, 5 }, { 5, 6 } },
}

H.test("matmul matches a naive triple loop for every shape combination and layout", function()
  local count = 0
  for _, c in ipairs(combos) do
    for an, af in pairs(layouts(c[1])) do
      for bn, bf in pairs(layouts(c[2])) do
        local a, b = af(), bf()
        H.eq(shape_of(a), table.concat(c[1], "x"))
        local y = lt.matmul(a, b)
        local want = naive(a, b)
        local label = string.format("%s (%s) @ %s (%s)", shape_of(a), an, shape_of(b), bn)
        H.close(flat(y:totable()), flat(want), 1e-5, 1e-5, label)
        H.ok(y:is_contiguous(), label .. ": contiguous result")
        count = count + 1
      end
    end
  end
  H.ok(count > 200)
end)

H.test("result shapes follow torch.matmul", function()
  local cases = {
    { { 3, 4 }, { 4, 5 }, "3x5" }, { { 4 }, { 4 }, "" }, { { 3, 4 }, { 4 }, "3" }, { { 4 }, { 4, 5 }, "5" },
    { { 2, 3, 4 }, { 2, 4, 5 }, "2x3x5" }, { { 2, 3, 4 }, { 4, 5 }, "2x3x5" }, { { 3, 4 }, { 2, 4, 5 }, "2x3x5" },
    { { 1, 3, 4 }, { 6, 4, 5 }, "6x3x5" }, { { 2, 3, 4 }, { 4 }, "2x3" }, { { 4 }, { 2, 4, 5 }, "2x5" },
    { { 3, 0 }, { 0, 5 }, "3x5" }, { { 0, 4 }, { 4, 5 }, "0x5" }, { { 0, 3, 4 }, { 4, 2 }, "0x3x2" },
  }
  for _, c in ipairs(cases) do
    local y = lt.randn(table.unpack(c[1])):matmul(lt.randn(table.unpack(c[2])))
    H.eq(shape_of(y), c[3], table.concat(c[1], "x") .. " @ " .. table.concat(c[2], "x"))
  end
  H.eq(lt.zeros(3, 0):matmul(lt.zeros(0, 2)):totable(), { { 0, 0 }, { 0, 0 }, { 0, 0 } })
  H.eq(lt.matmul(lt.tensor { 1, 2, 3 }, lt.tensor { 4, 5, 6 }):item(), 32)
  H.eq(lt.matmul(lt.tensor { { 1, 2 }, { 3, 4 } }, lt.tensor { { 5, 6 }, { 7, 8 } }):totable(),
    { { 19, 22 }, { 43, 50 } })
end)

H.test("transposed operands are used in place, not copied", function()
  local a, b = lt.randn(300, 200), lt.randn(400, 300)
  local out_bytes = 200 * 400 * 4
  local before = lt.memory().total
  local y = a:t():matmul(b:t())        -- both through CblasTrans
  local used = lt.memory().total - before
  H.ok(used < out_bytes + 4096, "no copy of the operands: " .. used .. " bytes")
  H.close(y:get(7, 9), (function() local s = 0 for k = 1, 300 do s = s + a:get(k, 7) * b:get(9, k) end return s end)(),
    1e-4, 1e-4)
  -- a column slice is also used in place; a stride-2 view is copied
  before = lt.memory().total
  lt.randn(200, 300):narrow(2, 1, 200):matmul(lt.randn(200, 10))
  H.ok(lt.memory().total - before < (200 * 300 + 200 * 10 + 200 * 10) * 4 + 4096)
end)

local function leaf(...) return lt.randn(...):requires_grad_() end
local function noncontig(...)
  local x = lt.randn(...)
  local n = x:dim()
  local y = lt.no_grad(function() return x:transpose(n - 1, n):contiguous():transpose(n - 1, n) end)
  return y:requires_grad_()
end

H.test("gradients match finite differences, batch broadcasting included", function()
  for _, c in ipairs(combos) do
    local a, b = leaf(table.unpack(c[1])), leaf(table.unpack(c[2]))
    local label = table.concat(c[1], "x") .. " @ " .. table.concat(c[2], "x")
    local ok, err = pcall(lt.gradcheck, lt.matmul, { a, b })
    if not ok then error(label .. ": " .. tostring(err)) end
    -- one input without grad
    ok, err = pcall(lt.gradcheck, lt.matmul, { a, lt.randn(table.unpack(c[2])) })
    if not ok then error(label .. " (b fixed): " .. tostring(err)) end
    ok, err = pcall(lt.gradcheck, lt.matmul, { lt.randn(table.unpack(c[1])), b })
    if not ok then error(label .. " (a fixed): " .. tostring(err)) end
    -- non-contiguous leaves (transposed storage)
    if #c[1] >= 2 and #c[2] >= 2 then
      ok, err = pcall(lt.gradcheck, lt.matmul, { noncontig(table.unpack(c[1])), noncontig(table.unpack(c[2])) })
      if not ok then error(label .. " (non-contiguous): " .. tostring(err)) end
    end
  end
  -- views inside fn: transposes, an expanded batch, a column slice
  local w = leaf(5, 4)
  H.ok(lt.gradcheck(function(x, v) return x:matmul(v:t()) end, { leaf(3, 4), w }))
  H.ok(lt.gradcheck(function(x, v) return x:t():matmul(v) end, { leaf(4, 3), leaf(4, 2) }))
  H.ok(lt.gradcheck(function(x, v) return x:matmul(v:expand(3, 5, 4):transpose(2, 3)) end, { leaf(3, 2, 4), w }))
  H.ok(lt.gradcheck(function(x, v) return x:narrow(2, 2, 4):matmul(v) end, { leaf(3, 6), leaf(4, 2) }))
  H.ok(lt.gradcheck(function(x, v) return x:transpose(1, 2):matmul(v) end, { leaf(3, 2, 4), leaf(2, 4, 5) }))
end)

H.test("backward with an expanded gradient (from sum) and through two matmuls", function()
  local a, b = leaf(3, 4), leaf(4, 5)
  a:matmul(b):sum():backward()
  -- d sum(A B) / dA = ones(3x5) B^T: every row holds B's row sums
  local bt = b:totable()
  for i = 1, 3 do
    for k = 1, 4 do
      local s = 0
      for j = 1, 5 do s = s + bt[k][j] end
      H.close(a.grad:get(i, k), s, 1e-5, 1e-5)
    end
  end
  local x, w1, w2 = leaf(2, 3, 4), leaf(4, 6), leaf(6, 2)
  H.ok(lt.gradcheck(function(p, q, r) return p:matmul(q):matmul(r):sum(2) end, { x, w1, w2 }))
end)

H.test("misuse raises clear messages", function()
  H.raises("matmul: shapes 3x4 and 5x2 do not match", lt.matmul, lt.randn(3, 4), lt.randn(5, 2))
  H.raises("matmul: shapes 3 and 4 do not match", lt.matmul, lt.randn(3), lt.randn(4))
  H.raises("matmul: shapes 2x3x4 and 3x4x5 do not match %(batch sizes 2 and 3%)", lt.matmul, lt.randn(2, 3, 4),
    lt.randn(3, 4, 5))
  H.raises("matmul: shapes 2x3x4 and 5x6 do not match", lt.matmul, lt.randn(2, 3, 4), lt.randn(5, 6))
  H.raises("matmul: expects tensors of 1 to 3 dimensions, got shapes 2x2x3x4 and 4x5", lt.matmul,
    lt.randn(2, 2, 3, 4), lt.randn(4, 5))
  H.raises("matmul: expects tensors of 1 to 3 dimensions, got shapes scalar and 4x5 %(multiply by a scalar with %*%)",
    lt.matmul, lt.tensor(2), lt.randn(4, 5))
  H.raises("matmul.*latent.Tensor expected, got number", lt.matmul, 2, lt.randn(4, 5))
  H.raises("matmul.*latent.Tensor expected, got number", lt.matmul, lt.randn(4, 5), 2)
  local x = lt.randn(3, 4)
  H.raises("matmul.*latent.Tensor expected, got no value", function() return x:matmul() end)
  -- the process survives and the next call works
  H.eq(shape_of(x:matmul(lt.randn(4, 2))), "3x2")
end)

H.test("matmul with several threads matches one thread", function()
  local a, b = lt.randn(64, 300, 40), lt.randn(40, 50)
  local y1 = a:matmul(b)
  lt.set_num_threads(2)
  local y2 = a:matmul(b)
  lt.set_num_threads(1)
  H.close(y1, y2, 1e-5, 1e-5)
end)

H.done()
