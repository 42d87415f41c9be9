-- lt.metrics.trustworthiness, lt.metrics.knn_accuracy and lt.knn against
-- scikit-learn 1.2 (tests/fixtures/trust.lua, made by
-- tests/fixtures/gen_trust.py), against direct computations, and errors.
local H = require "harness"
local lt = require "latent"

local root = os.getenv("LATENT_SOURCE_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/") or ".")
local F = dofile(root .. "/tests/fixtures/trust.lua")
local M = lt.metrics

-- ==================== helpers ====================

local function matrix(rows)
  local flat = {}
  for _, r in ipairs(rows) do for _, v in ipairs(r) do flat[#flat + 1] = v end end
  return lt.tensor(flat):view(#rows, #rows[1])
end

local X = matrix(F.x)
local LABELS = lt.tensor(F.labels)

-- Squared distances from row i of x to every row, in double, as a Lua list.
local function row_dist2(rows, i)
  local out = {}
  for j, r in ipairs(rows) do
    local s = 0
    for c = 1, #r do s = s + (r[c] - rows[i][c]) ^ 2 end
    out[j] = s
  end
  return out
end

-- Indices of the other rows sorted by distance from row i (ties: smaller index).
local function order_from(rows, i)
  local d = row_dist2(rows, i)
  local idx = {}
  for j = 1, #rows do if j ~= i then idx[#idx + 1] = j end end
  table.sort(idx, function(a, b) return d[a] < d[b] or (d[a] == d[b] and a < b) end)
  return idx
end

-- Trustworthiness straight from its definition, in Lua.
local function trust_naive(high, low, k)
  local n, total = #high, 0
  for i = 1, n do
    local rank = {}
    for r, j in ipairs(order_from(high, i)) do rank[j] = r end
    local emb = order_from(low, i)
    for p = 1, k do total = total + math.max(0, rank[emb[p]] - k) end
  end
  return 1 - total * 2 / (n * k * (2 * n - 3 * k - 1))
end

local function rows_of(t) return t:totable() end

-- ==================== trustworthiness ====================

H.test("trustworthiness matches scikit-learn (3 embeddings, k = 1, 5, 12)", function()
  for name, emb in pairs(F.embeddings) do
    for k, want in pairs(F.trust[name]) do
      local got = M.trustworthiness(X, matrix(emb), tonumber(k))
      H.close(got, want, 1e-9, 0, name .. " k=" .. k)
    end
  end
end)

H.test("trustworthiness: the default k is 5", function()
  H.close(M.trustworthiness(X, matrix(F.embeddings.pca)), F.trust.pca["5"], 1e-9)
end)

H.test("trustworthiness is 1 for an isometric embedding, below 1 for a shuffled one", function()
  local x = lt.randn(120, 4)
  H.eq(M.trustworthiness(x, x * 3 + 7, 10), 1.0) -- scaled and shifted: the same neighbours
  local shuffled = x:index_select(1, lt.arange(120, 0, -1)) -- rows reversed: unrelated neighbours
  H.ok(M.trustworthiness(x, shuffled, 10) < 0.7)
end)

H.test("trustworthiness agrees with a direct computation, ties and a 1-D embedding included", function()
  local x = lt.randn(60, 3)
  local grid = {}
  for i = 1, 60 do grid[#grid + 1] = (i * 7) % 11; grid[#grid + 1] = i % 3 end
  local low = lt.tensor(grid):view(60, 2) -- points on a small grid: many exact ties
  local want = trust_naive(rows_of(x), rows_of(low), 7)
  H.close(M.trustworthiness(x, low, 7), want, 1e-12)
  local one_d = x:narrow(2, 2, 1):contiguous()
  H.close(M.trustworthiness(x, one_d, 5), trust_naive(rows_of(x), rows_of(one_d), 5), 1e-12)
end)

-- ==================== lt.knn ====================

H.test("knn matches scikit-learn's NearestNeighbors (self excluded, and queries)", function()
  local idx, dist = lt.knn(X, 6)
  H.eq(idx, matrix(F.knn_idx))
  H.close(dist, matrix(F.knn_dist), 0, 1e-6)
  local qi, qd = lt.knn(X, 4, { query = matrix(F.queries) })
  H.eq(qi, matrix(F.q_idx))
  H.close(qd, matrix(F.q_dist), 0, 1e-6)
end)

H.test("knn over many blocks and threads agrees with a direct search", function()
  local x = lt.randn(2500, 3) -- more rows than one block of distances
  local rows = rows_of(x)
  local threads = lt.get_num_threads()
  local idx1, dist1 = lt.knn(x, 5)
  lt.set_num_threads(2)
  local idx2, dist2 = lt.knn(x, 5)
  lt.set_num_threads(threads)
  H.eq(idx1, idx2, "thread count changes nothing")
  H.eq(dist1, dist2, "thread count changes nothing")
  for _, i in ipairs { 1, 777, 1024, 1025, 2500 } do
    local want = order_from(rows, i)
    local d2 = row_dist2(rows, i)
    for p = 1, 5 do
      H.eq(idx1:get(i, p), want[p], "row " .. i)
      H.close(dist1:get(i, p), math.sqrt(d2[want[p]]), 1e-6, 1e-6)
    end
  end
end)

H.test("knn: equal distances go to the smaller index", function()
  local x = lt.tensor { 0, 1, -1, 2, -2, 1 }:view(6, 1) -- 2 and 3 (and 4, 5) are equally far from 1
  local idx, dist = lt.knn(x, 4)
  H.eq(idx:select(1, 1), { 2, 3, 6, 4 })
  H.eq(dist:select(1, 1), { 1, 1, 1, 2 })
end)

-- ==================== knn_accuracy ====================

H.test("knn_accuracy, leave-one-out, with vote ties to the nearest class", function()
  for k, want in pairs(F.loo) do
    H.close(M.knn_accuracy(X, LABELS, tonumber(k:sub(2))), want, 1e-12, 0, "x " .. k)
  end
  local emb = matrix(F.embeddings.pca)
  for k, want in pairs(F.loo_pca) do
    H.close(M.knn_accuracy(emb, LABELS, tonumber(k:sub(2))), want, 1e-12, 0, "pca " .. k)
  end
end)

H.test("knn_accuracy with a test set matches KNeighborsClassifier", function()
  local emb = matrix(F.embeddings.pca)
  local y2 = lt.tensor(F.labels2)
  for k, want in pairs(F.split) do
    local acc, correct = M.knn_accuracy(emb:narrow(1, 1, 150), y2:narrow(1, 1, 150), tonumber(k:sub(2)),
      { test_x = emb:narrow(1, 151, 50), test_labels = y2:narrow(1, 151, 50) })
    H.close(acc, want, 1e-12, 0, k)
    H.eq(correct, math.tointeger(want * 50))
  end
end)

H.test("knn_accuracy: labels are any numbers, as a vector or a column", function()
  local a = M.knn_accuracy(X, LABELS, 4)
  H.eq(M.knn_accuracy(X, LABELS * 10 - 3, 4), a)
  H.eq(M.knn_accuracy(X, LABELS:view(-1, 1), 4), a)
  local acc, correct = M.knn_accuracy(X, LABELS, 4)
  H.eq(correct, math.tointeger(acc * 200))
end)

-- ==================== errors ====================

H.test("errors name the function, the argument and the shapes", function()
  local x, e = lt.randn(20, 5), lt.randn(20, 2)
  H.raises("trustworthiness: k = 10 must be at least 1 and less than n / 2 = 10 %(x 20x5%)",
    M.trustworthiness, x, e, 10)
  H.raises("trustworthiness: k = 0 must be at least 1", M.trustworthiness, x, e, 0)
  H.raises("trustworthiness: x 20x5 and embedding 19x2 have different numbers of rows",
    M.trustworthiness, x, lt.randn(19, 2), 3)
  H.raises("trustworthiness: embedding must be a matrix N x D, got 20", M.trustworthiness, x, lt.randn(20), 3)
  local bad = e:clone()
  bad:set(4, 2, 0 / 0)
  H.raises("trustworthiness: embedding %(20x2%) holds nan at row 4, column 2", M.trustworthiness, x, bad, 3)
  H.raises("bad argument #3 to '[%w.]*trustworthiness' %(number has no integer representation%)",
    M.trustworthiness, x, e, 2.5)
  H.raises("bad argument #2 to '[%w.]*trustworthiness' %(latent.Tensor expected, got no value%)", M.trustworthiness, x)

  local y = lt.ones(20)
  H.raises("knn_accuracy: labels must be a vector of 20 labels %(one per row of x 20x5%), got 19",
    M.knn_accuracy, x, lt.ones(19), 3)
  H.raises("knn_accuracy: k = 20 must be in 1%.%.19 for x 20x5 %(leave%-one%-out", M.knn_accuracy, x, y, 20)
  H.raises("knn_accuracy: give both test_x and test_labels, or neither", M.knn_accuracy, x, y, 3,
    { test_x = x })
  H.raises("knn_accuracy: test_x 4x3 and x 20x5 have different numbers of columns", M.knn_accuracy, x, y, 3,
    { test_x = lt.randn(4, 3), test_labels = lt.ones(4) })
  H.raises("knn_accuracy: unknown option 'test'", M.knn_accuracy, x, y, 3, { test = x })
  H.raises("knn_accuracy: option 'test_x' must be a tensor, got table", M.knn_accuracy, x, y, 3,
    { test_x = {}, test_labels = y })
  local nan_y = y:clone()
  nan_y:set(7, 0 / 0)
  H.raises("knn_accuracy: labels %(20x1%) holds nan at row 7", M.knn_accuracy, x, nan_y, 3)

  H.raises("knn: k = 20 must be in 1%.%.19 for x 20x5 %(a point is not its own neighbour%)", lt.knn, x, 20)
  H.raises("knn: k = 21 must be in 1%.%.20 for x 20x5", lt.knn, x, 21, { query = x })
  H.raises("knn: query 3x4 and x 20x5 have different numbers of columns", lt.knn, x, 2, { query = lt.randn(3, 4) })
  H.raises("knn: unknown option 'querry'", lt.knn, x, 2, { querry = x })
  local inf = x:clone()
  inf:set(20, 5, -math.huge)
  H.raises("knn: x %(20x5%) holds %-inf at row 20, column 5", lt.knn, inf, 2)
end)

H.done()
