-- t-SNE: input affinities and final KL / trustworthiness against
-- scikit-learn 1.2 (tests/fixtures/tsne.lua, made by
-- tests/fixtures/gen_tsne.py), separation of clusters for every method,
-- determinism, options, progress output and errors.
local H = require "harness"
local lt = require "latent"

local root = os.getenv("LATENT_SOURCE_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/") or ".")
-- Under the sanitizers (scripts/test.sh sets ASAN_OPTIONS) a build is ~40x
-- slower: every path still runs, but the statistical comparisons with
-- scikit-learn, which need full runs over several starts, run only in
-- release builds.
local SANITIZED = os.getenv("ASAN_OPTIONS") ~= nil
local F = dofile(root .. "/tests/fixtures/tsne.lua")
local X = lt.tensor(F.x):view(F.n, F.dims)

-- ==================== helpers ====================

-- k Gaussian clusters of `per` points in d dims, centres 10 apart on the axes
-- (so well separated); rows are interleaved: label of row i is (i-1) % k + 1.
local function blobs(k, per, d)
  local x = lt.randn(k * per, d)
  local labels = {}
  for i = 1, k * per do
    local c = (i - 1) % k + 1
    labels[i] = c
    x[i][(c - 1) % d + 1] = x[i][(c - 1) % d + 1] + 10 * (1 + (c - 1) // d)
  end
  return x, labels
end

local function rows(t)
  local v, n, d = t:contiguous():view(-1):totable(), t:size(1), t:size(2)
  local out = {}
  for i = 1, n do
    local r = {}
    for j = 1, d do r[j] = v[(i - 1) * d + j] end
    out[i] = r
  end
  return out
end

local function sqdist(a, b)
  local s = 0
  for j = 1, #a do s = s + (a[j] - b[j]) ^ 2 end
  return s
end

-- Indices of every point's neighbours, nearest first (ties: lower index).
local function neighbour_order(points)
  local n, order = #points, {}
  for i = 1, n do
    local idx, d = {}, {}
    for j = 1, n do
      if j ~= i then idx[#idx + 1] = j; d[j] = sqdist(points[i], points[j]) end
    end
    table.sort(idx, function(a, b) return d[a] < d[b] or (d[a] == d[b] and a < b) end)
    order[i] = idx
  end
  return order
end

-- Leave-one-out k-NN classification accuracy of an embedding.
local function knn_accuracy(y, labels, k)
  local order, right = neighbour_order(rows(y)), 0
  for i = 1, #order do
    local votes, best, best_votes = {}, nil, -1
    for a = 1, k do
      local l = labels[order[i][a]]
      votes[l] = (votes[l] or 0) + 1
      if votes[l] > best_votes then best, best_votes = l, votes[l] end
    end
    if best == labels[i] then right = right + 1 end
  end
  return right / #order
end

-- scikit-learn's trustworthiness (Venna & Kaski): penalises embedding
-- neighbours by how far down the input's ranking they sit.
local function trustworthiness(x, y, k)
  local n = x:size(1)
  local in_order, out_order = neighbour_order(rows(x)), neighbour_order(rows(y))
  local sum = 0
  for i = 1, n do
    local rank = {}
    for r, j in ipairs(in_order[i]) do rank[j] = r end
    for a = 1, k do sum = sum + math.max(0, rank[out_order[i][a]] - k) end
  end
  return 1 - 2 / (n * k * (2 * n - 3 * k - 1)) * sum
end

-- ==================== affinities ====================

H.test("P matches scikit-learn's (kNN, bisection, symmetrised)", function()
  local P = lt.tsne.affinities(X, { perplexity = F.perplexity })
  H.eq(P.shape, { F.n, F.n })
  H.close(P:sum(2):view(-1), F.p_row_sums, 1e-7, 1e-4, "row sums")
  H.close(P:sum(), 1, 1e-5)
  H.close(P, P:t(), 0, 0, "symmetric")
  for r, want in pairs(F.p_rows) do
    local got = {}
    for _, c in ipairs(want.cols) do got[#got + 1] = P[r][c] end
    H.close(got, want.vals, 1e-9, 1e-4, "row " .. r)
    local nonzero = (P[r]:gt(0)):sum():item()
    H.eq(nonzero, #want.cols, "row " .. r .. " entries")
  end
end)

H.test("exact P: every pair, symmetric, sums to 1, zero diagonal", function()
  local x = lt.randn(40, 3)
  local P = lt.tsne.affinities(x, { perplexity = 5, method = "exact" })
  H.close(P, P:t(), 0, 0)
  H.close(P:sum(), 1, 1e-5)
  for i = 1, 40 do H.eq(P[i][i], 0) end
  H.ok(P:lt(2.2e-16):sum():item() == 40, "only the diagonal is below the floor")
end)

-- ==================== against scikit-learn ====================

local function mean(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return s / #t
end

-- t-SNE is chaotic (starts 1e-10 apart end about 5% apart in KL), so the
-- comparison is between means over several random starts, each side its own.
local function compare(method, ref, seeds)
  local kls, tws = {}, {}
  for s = 1, seeds do
    local y, kl = lt.tsne(X, { perplexity = F.perplexity, method = method, init = "random", seed = s, verbose = false })
    kls[s], tws[s] = kl, trustworthiness(X, y, F.trust_k)
  end
  print(string.format("  %s: mean KL %.4f over %d starts (scikit-learn %.4f over %d), trustworthiness %.4f (%.4f)",
    method, mean(kls), seeds, mean(ref.kl), #ref.kl, mean(tws), mean(ref.trustworthiness)))
  H.ok(mean(kls) <= mean(ref.kl) * 1.05, method .. ": mean KL more than 5% above scikit-learn's")
  H.ok(mean(kls) >= mean(ref.kl) * 0.85, method .. ": mean KL implausibly low")
  H.ok(mean(tws) >= mean(ref.trustworthiness) - 0.01, method .. ": trustworthiness more than 0.01 below")
end

H.test("KL and trustworthiness near scikit-learn's: barnes_hut", function()
  if not SANITIZED then compare("barnes_hut", F.barnes_hut_random, 4) end
  local y, kl = lt.tsne(X, { perplexity = F.perplexity, verbose = false }) -- init "pca", as scikit-learn's default
  local worst = math.max(table.unpack(F.barnes_hut_random.kl))
  print(string.format("  barnes_hut, init pca: KL %.4f (scikit-learn %.4f)", kl, F.barnes_hut.kl))
  H.ok(kl <= worst * 1.02, "init pca: KL above scikit-learn's worst start")
  H.ok(trustworthiness(X, y, F.trust_k) >= F.barnes_hut.trustworthiness - 0.01)
end)

H.test("KL and trustworthiness near scikit-learn's: exact", function()
  if not SANITIZED then compare("exact", F.exact_random, 2) end
end)

H.test("KL and trustworthiness near scikit-learn's: fft (against Barnes-Hut's)", function()
  if not SANITIZED then compare("fft", F.barnes_hut_random, 2) end
end)

-- ==================== behaviour ====================

H.test("well-separated clusters stay apart, every method, 2-D and 3-D", function()
  local x, labels = blobs(4, 25, 5)
  local cases = { { "barnes_hut", 2 }, { "barnes_hut", 3 }, { "exact", 2 }, { "exact", 3 }, { "fft", 2 } }
  if SANITIZED then cases[5] = nil end -- the FFT's grid costs the same for 100 points as for 10,000
  for _, c in ipairs(cases) do
    local y, kl = lt.tsne(x, { method = c[1], dims = c[2], perplexity = 10, iterations = 350,
                               exaggeration_iterations = 100, verbose = false })
    H.eq(y.shape, { 100, c[2] })
    H.ok(kl > 0 and kl < 2, c[1] .. " KL " .. kl)
    local acc = knn_accuracy(y, labels, 5)
    H.ok(acc >= 0.98, string.format("%s %d-D: 5-NN accuracy %.2f", c[1], c[2], acc))
  end
end)

H.test("the same seed gives the same embedding, bit for bit", function()
  local x = blobs(3, 20, 4)
  for _, method in ipairs({ "barnes_hut", "exact", "fft" }) do
    local o = { method = method, perplexity = 10, iterations = 100, exaggeration_iterations = 60, verbose = false }
    if SANITIZED and method == "fft" then o.iterations, o.exaggeration_iterations = 20, 10 end
    local y1, kl1 = lt.tsne(x, o)
    local y2, kl2 = lt.tsne(x, o)
    H.eq(y1, y2, method)
    H.eq(kl1, kl2, method)
  end
  local r = { init = "random", seed = 7, perplexity = 10, iterations = 100, verbose = false }
  lt.manual_seed(1)
  local y1 = lt.tsne(x, r)
  local after = lt.rand(3)
  lt.manual_seed(1)
  H.eq(lt.rand(3), after, "a seeded random init leaves the generator alone")
  local y2 = lt.tsne(x, r)
  H.eq(y1, y2, "init random, seed 7")
  r.seed = 8
  H.ok((lt.tsne(x, r) - y1):abs():max():item() > 0, "another seed, another embedding")
  r.seed = nil
  lt.manual_seed(3); local y3 = lt.tsne(x, r)
  lt.manual_seed(3); local y4 = lt.tsne(x, r)
  H.eq(y3, y4, "without a seed, lt.manual_seed decides")
end)

H.test("init: pca is scikit-learn's scaled PCA; a given embedding is the start", function()
  -- one step with a negligible learning rate returns the start itself
  local y0 = lt.tsne(X, { perplexity = F.perplexity, iterations = 1, learning_rate = 1e-30, verbose = false })
  H.close(y0:narrow(1, 1, 5), F.init_pca, 1e-9, 1e-4, "scikit-learn's init 'pca'")
  local x = blobs(3, 20, 4)
  local start = lt.randn(60, 2) * 1e-4
  local o = { init = start, perplexity = 10, iterations = 50, exaggeration_iterations = 50, verbose = false }
  local a = lt.tsne(x, o)
  local b = lt.tsne(x, o)
  H.eq(a, b)
  o.init = "pca"
  H.ok((lt.tsne(x, o) - a):abs():max():item() > 0, "pca start differs from the given one")
  -- one iteration of plain descent from the start moves each point by -lr * grad
  local one = lt.tsne(x, { init = start, iterations = 1, exaggeration_iterations = 0, perplexity = 10, verbose = false })
  H.ok((one - start):abs():max():item() < 1, "one step stays near the start")
end)

H.test("options: learning rate, angle, exaggeration, integers given as floats", function()
  local x = blobs(3, 20, 4)
  local base = { perplexity = 10, iterations = 250, verbose = false }
  local y1 = lt.tsne(x, base)
  local y2 = lt.tsne(x, { perplexity = 10, iterations = 250.0, learning_rate = 50, verbose = false })
  H.eq(y1, y2, "learning_rate 'auto' is 50 for 60 points")
  local y3 = lt.tsne(x, { perplexity = 10, iterations = 250, learning_rate = 10, verbose = false })
  H.ok((y3 - y1):abs():max():item() > 0, "another learning rate")
  local exact = lt.tsne(x, { perplexity = 10, iterations = 250, method = "exact", verbose = false })
  local bh0 = lt.tsne(x, { perplexity = 10, iterations = 250, angle = 0, verbose = false })
  H.ok(lt.tsne(x, { perplexity = 10, iterations = 250, angle = 1, verbose = false }):size(1) == 60)
  H.ok(exact:size(1) == 60 and bh0:size(1) == 60)
  H.eq(lt.tsne.fit(x:t():contiguous():t(), base), y1, "a non-contiguous x, through lt.tsne.fit")
end)

H.test("transform places new points among their own cluster, and known points near themselves", function()
  local x, labels = blobs(3, 40, 5)
  local y = lt.tsne(x, { perplexity = 15, iterations = 500, verbose = false })
  local xn, ln = blobs(3, 10, 5) -- new draws around the same centres
  local yn, kl = lt.tsne.transform(xn, x, y, { verbose = false })
  H.eq(yn.shape, { 30, 2 })
  H.ok(kl > 0 and kl < 3, "mean KL " .. kl)
  local ys, right = rows(y), 0
  for i, p in ipairs(rows(yn)) do
    local best, bd = nil, math.huge
    for j, q in ipairs(ys) do
      if sqdist(p, q) < bd then best, bd = j, sqdist(p, q) end
    end
    if labels[best] == ln[i] then right = right + 1 end
  end
  H.ok(right >= 29, right .. " of 30 new points land beside their own cluster")
  local again = lt.tsne.transform(xn, x, y, { verbose = false })
  H.eq(again, yn, "repeatable")
  local spread = (y:max(1) - y:min(1)):max():item()
  local back = lt.tsne.transform(x:narrow(1, 1, 12), x, y, { verbose = false, iterations = 100 })
  local worst = (back - y:narrow(1, 1, 12)):abs():max():item()
  H.ok(worst < 0.1 * spread, string.format("known points land near themselves: %.3g of a spread of %.3g", worst, spread))
  H.raises("x_new %(m x d%), x %(n x d, n >= 2%) and its embedding y %(n x 2 or n x 3%) do not fit: got 30x4, 120x5 and 120x2",
    lt.tsne.transform, lt.randn(30, 4), x, y)
  H.raises("do not fit: got 30x5, 120x5 and 119x2", lt.tsne.transform, xn, x, y:narrow(1, 1, 119))
  H.raises("tsne.transform: unknown option 'dims'", lt.tsne.transform, xn, x, y, { dims = 2 })
  H.raises("perplexity %(200%) must be positive and less than the number of embedded points %(120%)",
    lt.tsne.transform, xn, x, y, { perplexity = 200 })
  local bad = xn:clone()
  bad[3][1] = 0 / 0
  H.raises("tsne.transform: x_new row 3 holds a NaN", lt.tsne.transform, bad, x, y)
end)

H.test("progress is printed when verbose, and not otherwise", function()
  local build = os.getenv("LATENT_TEST_BUILD_DIR")
  if not build then return end
  local script = [[local lt = require "latent"; lt.manual_seed(1)
    lt.tsne(lt.randn(60, 3), {perplexity = 10, iterations = 100, verbose = %s})]]
  local function run(v)
    local f = assert(io.popen(build .. "/latent -e '" .. script:format(v) .. "' 2>&1"))
    local out = f:read("a")
    f:close()
    return out
  end
  local out = run("true")
  H.ok(out:find("%[t%-SNE%] iteration 50: KL divergence [%d.]+") ~= nil, out)
  H.ok(out:find("iteration 100:") ~= nil, out)
  H.eq(run("false"), "")
  H.eq(run("nil"), "", "not a terminal: quiet")
end)

H.test("errors name the function, the argument and the values", function()
  local x = lt.randn(30, 3)
  H.raises("x must be 2%-D %(points x features%), got 2x3x5", lt.tsne, lt.randn(2, 3, 5))
  H.raises("at least 2 points", lt.tsne, lt.randn(1, 3))
  local bad = lt.randn(30, 3)
  bad[17][2] = 0 / 0
  H.raises("x row 17 holds a NaN or an infinite value", lt.tsne, bad, { perplexity = 5 })
  bad[17][2] = math.huge
  H.raises("x row 17 holds a NaN", lt.tsne, bad, { perplexity = 5 })
  H.raises("perplexity %(30%) must be less than the number of points %(30%)", lt.tsne, x)
  H.raises("perplexity must be positive", lt.tsne, x, { perplexity = 0 })
  H.raises("method 'barnes_hut' embeds in 2 or 3 dims, got dims = 4", lt.tsne, x, { perplexity = 5, dims = 4 })
  H.raises("method 'fft' embeds in 2 dims, got dims = 3", lt.tsne, x, { perplexity = 5, dims = 3, method = "fft" })
  H.raises("option 'method' must be one of 'exact', 'barnes_hut', 'fft', got 'bh'", lt.tsne, x, { method = "bh" })
  H.raises("unknown option 'perplexty'", lt.tsne, x, { perplexty = 5 })
  H.raises("option 'iterations' must be an integer, got 64.5", lt.tsne, x, { perplexity = 5, iterations = 64.5 })
  H.raises("iterations must be at least 1", lt.tsne, x, { perplexity = 5, iterations = 0 })
  H.raises("option 'learning_rate' must be 'auto' or a positive number, got fast", lt.tsne, x,
    { perplexity = 5, learning_rate = "fast" })
  H.raises("option 'init' must be one of 'pca', 'random', got 'zeros'", lt.tsne, x, { perplexity = 5, init = "zeros" })
  H.raises("init must be 30x2 %(points x dims%), got 30x3", lt.tsne, x, { perplexity = 5, init = lt.randn(30, 3) })
  H.raises("init 'pca' needs at least dims %(3%) columns in x, got 2", lt.tsne, lt.randn(30, 2),
    { perplexity = 5, dims = 3, method = "exact" })
  H.raises("angle must be in %[0, 1%], got 1.5", lt.tsne, x, { perplexity = 5, angle = 1.5 })
  H.raises("early_exaggeration must be at least 1", lt.tsne, x, { perplexity = 5, early_exaggeration = 0.5 })
  H.raises("option 'verbose' must be a boolean", lt.tsne, x, { perplexity = 5, verbose = 1 })
  H.raises("option 'seed' must be an integer", lt.tsne, x, { perplexity = 5, seed = "a" })
  H.raises("latent.Tensor expected", lt.tsne, "x")
  H.raises("table expected", lt.tsne, x, 5)
  H.raises("perplexity %(30%) must be less", lt.tsne.affinities, x)
  local ok, err = pcall(function() return lt.tsne(x) end)
  H.ok(not ok and err:find("^[^\n]*test_tsne%.lua:%d+: tsne:") ~= nil, "the message points at the caller: " .. err)
end)

H.done()
