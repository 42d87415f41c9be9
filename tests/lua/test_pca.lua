-- lt.PCA / lt.pca against scikit-learn 1.2's PCA(svd_solver="full")
-- (tests/fixtures/pca.lua, made by tests/fixtures/gen_pca.py), plus the
-- properties that hold whatever the data, and errors.
local H = require "harness"
local lt = require "latent"

local root = os.getenv("LATENT_SOURCE_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/") or ".")
local F = dofile(root .. "/tests/fixtures/pca.lua")

-- ==================== helpers ====================

local function flat(rows)
  local out = {}
  for _, r in ipairs(rows) do
    if type(r) == "table" then for _, v in ipairs(r) do out[#out + 1] = v end else out[#out + 1] = r end
  end
  return out
end

local function matrix(rows) return lt.tensor(flat(rows)):view(#rows, #rows[1]) end

local function max_abs(list)
  local m = 0
  for _, v in ipairs(flat(list)) do m = math.max(m, math.abs(v)) end
  return m
end

-- got (a tensor) against scikit-learn's values: within 1e-4 relative, with
-- entries near zero judged against the largest entry of the array.
local function match(what, got, want, rtol)
  rtol = rtol or 1e-4
  H.close(got, flat(type(want[1]) == "table" and want or { want }), rtol * max_abs(want), rtol, what)
end

local function by_name(name)
  for _, c in ipairs(F) do if c.name == name then return c end end
  error("no fixture case " .. name)
end

local function gram(c) return c:matmul(c:t()) end

-- ==================== against scikit-learn ====================

for _, c in ipairs(F) do
  H.test("fixture " .. c.name .. ": fitted fields", function()
    local p = lt.pca(matrix(c.x), c.k)
    match(c.name .. " components", p.components, c.components)
    match(c.name .. " mean", p.mean, c.mean, 1e-6)
    match(c.name .. " explained_variance", p.explained_variance, c.explained_variance)
    match(c.name .. " explained_variance_ratio", p.explained_variance_ratio, c.explained_variance_ratio)
    match(c.name .. " singular_values", p.singular_values, c.singular_values)
    H.close(p.total_variance, c.total_variance, 0, 1e-6, c.name .. " total_variance")
    H.eq(p.n_samples, #c.x)
    H.eq(p.n_features, #c.x[1])
  end)

  H.test("fixture " .. c.name .. ": transform and inverse_transform", function()
    local x, new = matrix(c.x), matrix(c.new)
    for _, whiten in ipairs { false, true } do
      local want = whiten and c.whiten or c.plain
      local tag = c.name .. (whiten and " whiten" or " plain")
      local p = lt.PCA { k = c.k, whiten = whiten }
      match(tag .. " fit_transform", p:fit_transform(x), want.transform)
      match(tag .. " transform", p:transform(x), want.transform)
      local t = p:transform(new)
      match(tag .. " transform(new)", t, want.transform_new)
      match(tag .. " inverse_transform", p:inverse_transform(t), want.inverse_new)
    end
  end)

  H.test("fixture " .. c.name .. ": loadings signs (scikit-learn 1.5's rule)", function()
    local p = lt.pca(matrix(c.x), c.k, { sign = "loadings" })
    match(c.name .. " components", p.components, c.loadings.components)
    match(c.name .. " transform", p:transform(matrix(c.x)), c.loadings.transform)
  end)
end

-- ==================== properties ====================

H.test("components are orthonormal; scores are uncorrelated with the explained variances", function()
  local x = lt.randn(200, 12) * lt.linspace(3, 0.2, 12)
  local p = lt.pca(x, 7)
  H.close(gram(p.components), lt.eye(7), 1e-5)
  local y = p:transform(x)
  local cov = y:t():matmul(y) / (200 - 1)
  H.close(cov, lt.eye(7) * p.explained_variance, 1e-4 * p.explained_variance:get(1))
  for i = 2, 7 do H.ok(p.explained_variance:get(i) <= p.explained_variance:get(i - 1), "sorted") end
end)

H.test("whitened scores have unit variance and the inverse is exact at k = D", function()
  local x = lt.randn(300, 5) * lt.tensor { 10, 1, 0.1, 5, 2 } + 7
  local p = lt.PCA { k = 5, whiten = true }
  local y = p:fit_transform(x)
  H.close(y:var(1), lt.ones(5), 1e-4)
  H.close(y:mean(1), lt.zeros(5), 1e-4)
  H.close(p:inverse_transform(y), x, 1e-4)
  local q = lt.pca(x, 5) -- and without whitening
  H.close(q:inverse_transform(q:transform(x)), x, 1e-4)
end)

H.test("explained variance and singular values agree (ddof 1); ratios sum to 1 at k = D", function()
  local x = lt.randn(40, 6)
  local p = lt.pca(x, 6)
  H.close(p.singular_values ^ 2 / 39, p.explained_variance, 0, 1e-5)
  H.close(p.explained_variance_ratio:sum():item(), 1, 1e-6)
  H.close(p.total_variance, x:var(1):sum():item(), 0, 1e-5)
end)

H.test("rank-deficient data: null directions get zero variance", function()
  local c = by_name("rank_deficient")
  local p = lt.pca(matrix(c.x), 5)
  local ev = p.explained_variance
  H.ok(ev:get(4) < 1e-9 * ev:get(1) and ev:get(5) < 1e-9 * ev:get(1),
    string.format("null variances %g %g", ev:get(4), ev:get(5)))
  H.ok(ev:get(4) >= 0 and ev:get(5) >= 0, "never negative")
  H.close(gram(p.components), lt.eye(5), 1e-5)
  H.close(p.explained_variance_ratio:narrow(1, 1, 3), c.explained_variance_ratio, 1e-5)
end)

H.test("sign rules: the largest score / loading of each component is positive", function()
  local x = lt.randn(100, 8)
  local scores = lt.pca(x, 4):transform(x)
  for j = 1, 4 do
    local col = scores:select(2, j)
    H.eq(col:max():item() >= -col:min():item(), true, "scores column " .. j)
  end
  local comp = lt.pca(x, 4, { sign = "loadings" }).components
  for j = 1, 4 do
    local row = comp:select(1, j)
    H.eq(row:max():item() >= -row:min():item(), true, "loadings row " .. j)
  end
end)

H.test("repeatable, bit for bit; non-contiguous input gives the same model", function()
  local x = lt.randn(60, 9)
  local a, b = lt.pca(x, 4), lt.pca(x, 4)
  for _, f in ipairs { "components", "mean", "explained_variance", "singular_values" } do H.eq(a[f], b[f], f) end
  local xt = x:t():contiguous():t() -- same values, transposed strides
  H.ok(not xt:is_contiguous())
  local c = lt.pca(xt, 4)
  H.close(c.components, a.components, 1e-6)
  H.close(c:transform(xt), a:transform(x), 1e-5)
end)

H.test("the thread count changes nothing", function()
  local x = lt.randn(3000, 40) -- big enough for the threaded loops
  local threads = lt.get_num_threads()
  lt.set_num_threads(1)
  local a = lt.pca(x, 6)
  local ya = a:transform(x)
  lt.set_num_threads(2)
  local b = lt.pca(x, 6)
  local yb = b:transform(x)
  lt.set_num_threads(threads)
  H.eq(a.components, b.components)
  H.eq(a.explained_variance, b.explained_variance)
  H.eq(ya, yb)
end)

H.test("a single vector is transformed as one row", function()
  local x = lt.randn(30, 4)
  local p = lt.pca(x, 2)
  local v = p:transform(x:select(1, 3))
  H.eq(v.shape, { 2 })
  H.close(v, p:transform(x):select(1, 3), 1e-6)
  H.eq(p:inverse_transform(v).shape, { 4 })
end)

H.test("k as 2.0 works; tostring says what the model is", function()
  local p = lt.PCA { k = 2.0 }
  H.ok(tostring(p):find("not fitted"), tostring(p))
  p:fit(lt.randn(10, 3))
  H.ok(tostring(p):find("fitted on 10x3"), tostring(p))
end)

-- ==================== errors ====================

H.test("errors name the function, the argument and the shapes", function()
  local x = lt.randn(10, 4)
  H.raises("pca: k = 5 must be in 1%.%.min%(N, D%) = 4 for x 10x4", lt.pca, x, 5)
  H.raises("pca: k = 11 must be in 1%.%.min%(N, D%) = 3 for x 3x8", lt.pca, lt.randn(3, 8), 11)
  H.raises("pca: option 'k' must be a positive integer, got 0", lt.pca, x, 0)
  H.raises("PCA: option 'k' must be a positive integer, got 2.5", lt.PCA, { k = 2.5 })
  H.raises("PCA: option 'k' must be a positive integer, got nil", lt.PCA, {})
  H.raises("PCA: unknown option 'n_components'", lt.PCA, { k = 2, n_components = 2 })
  H.raises("PCA: option 'whiten' must be a boolean", lt.PCA, { k = 2, whiten = 1 })
  H.raises("PCA: option 'sign' must be \"scores\" or \"loadings\"", lt.PCA, { k = 2, sign = "u" })
  H.raises("pca: x must be a matrix N x D, got 2x3x4", lt.pca, lt.randn(2, 3, 4), 1)
  H.raises("pca: x 1x4 needs at least 2 rows", lt.pca, lt.randn(1, 4), 1)
  H.raises("pca: x 0x4 is empty", lt.pca, lt.zeros(0, 4), 1)
  local bad = x:clone()
  bad:set(3, 2, 0 / 0)
  H.raises("pca: x %(10x4%) holds nan at row 3, column 2", lt.pca, bad, 2)
  bad:set(3, 2, math.huge)
  H.raises("pca: x %(10x4%) holds inf at row 3, column 2", lt.pca, bad, 2)
  local p = lt.pca(x, 2)
  H.raises("pca:transform: x 5x3 must have 4 columns %(the model has components 2x4%)", p.transform, p,
    lt.randn(5, 3))
  H.raises("pca:inverse_transform: y 5x3 must have 2 columns %(the model has components 2x4%)",
    p.inverse_transform, p, lt.randn(5, 3))
  local nan = lt.randn(5, 4)
  nan:set(5, 4, 0 / 0)
  H.raises("pca:transform: x %(5x4%) holds nan at row 5, column 4", p.transform, p, nan)
  H.raises("PCA:transform: the model is not fitted", lt.PCA { k = 2 }.transform, lt.PCA { k = 2 }, x)
  H.raises("PCA:transform: expected a tensor, got table", p.transform, p, { 1, 2 })
  H.raises("PCA:fit: x must be a tensor N x D, got table", lt.pca, { 1, 2 }, 1)
  H.raises("pca: give k as argument #2, not as an option", lt.pca, x, 2, { k = 2 })
end)

H.test("whitening a zero-variance component is an error, not inf", function()
  local x = lt.randn(20, 3)
  x:select(2, 3):fill(1) -- a constant column: one direction without variance
  local p = lt.PCA { k = 3, whiten = true }:fit(x)
  H.raises("pca:transform: component 3 has explained variance 0, cannot whiten with it", p.transform, p, x)
end)

H.done()
