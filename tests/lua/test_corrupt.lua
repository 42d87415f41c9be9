-- Corruption schemes (lt.corrupt): random erasing against torchvision's
-- distribution of rectangles (tests/fixtures/erasing.lua, made by
-- gen_erasing.py) with two-sample chi-square tests, and the power of those
-- tests against deliberately wrong variants; per-image rectangles, the
-- rejection rule, fills, Gaussian noise statistics, seeds, and the errors.
local H = require "harness"
local lt = require "latent"

local root = os.getenv("LATENT_SOURCE_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/") or ".")
local FX = dofile(root .. "/tests/fixtures/erasing.lua")

local corrupt = lt.corrupt
local ALPHA = 1e-4 -- significance: with fixed seeds the test is deterministic, and a
                   -- correct implementation's p-values sit far above this
local FIELDS = { "h", "w", "area", "top", "left" }

-- ==================== chi-square machinery ====================

-- log Gamma(a) for a = k/2 (k a positive integer): the only case a chi-square
-- p-value needs, exact through Gamma(a) = (a-1) Gamma(a-1), Gamma(1/2) = sqrt(pi).
local function lgamma_half(a)
  local r = 0
  while a > 1 do a = a - 1; r = r + math.log(a) end
  return a == 0.5 and r + 0.5 * math.log(math.pi) or r
end

-- The regularized upper incomplete gamma Q(a, x): the power series of P for
-- x < a + 1, else the continued fraction of Q evaluated by Lentz's method
-- (the usual split, as in Press et al., Numerical Recipes, ch. 6.2).
local function gamma_q(a, x)
  if x <= 0 then return 1 end
  local front = math.exp(-x + a * math.log(x) - lgamma_half(a))
  if x < a + 1 then
    local term, sum = 1 / a, 1 / a
    for n = 1, 10000 do
      term = term * x / (a + n)
      sum = sum + term
      if term < sum * 1e-15 then break end
    end
    return 1 - sum * front
  end
  local tiny = 1e-300
  local b = x + 1 - a
  local c, d = 1 / tiny, 1 / b
  local h = d
  for i = 1, 10000 do
    local an = -i * (i - a)
    b = b + 2
    d = an * d + b; if math.abs(d) < tiny then d = tiny end
    c = b + an / c; if math.abs(c) < tiny then c = tiny end
    d = 1 / d
    local delta = d * c
    h = h * delta
    if math.abs(delta - 1) < 1e-15 then break end
  end
  return front * h
end

local function chi2_pvalue(chi2, df) return gamma_q(df / 2, chi2 / 2) end

-- Two-sample chi-square test of homogeneity for histograms a and b (value ->
-- count). Neighbouring values are pooled until every cell expects >= 5 counts.
-- Returns the p-value, chi2 and degrees of freedom.
local function chi2_two_sample(a, b)
  local keys, seen = {}, {}
  for _, t in ipairs { a, b } do
    for k in pairs(t) do if not seen[k] then seen[k] = true; keys[#keys + 1] = k end end
  end
  table.sort(keys)
  local na, nb = 0, 0
  for _, k in ipairs(keys) do na, nb = na + (a[k] or 0), nb + (b[k] or 0) end
  local min_share = math.min(na, nb) / (na + nb)
  local bins, ca, cb = {}, 0, 0
  for _, k in ipairs(keys) do
    ca, cb = ca + (a[k] or 0), cb + (b[k] or 0)
    if (ca + cb) * min_share >= 5 then bins[#bins + 1] = { ca, cb }; ca, cb = 0, 0 end
  end
  if ca + cb > 0 then
    if #bins == 0 then bins[1] = { 0, 0 } end
    bins[#bins][1], bins[#bins][2] = bins[#bins][1] + ca, bins[#bins][2] + cb
  end
  if #bins < 2 then return 1, 0, 0 end
  local chi2 = 0
  for _, bin in ipairs(bins) do
    local total = bin[1] + bin[2]
    local ea, eb = total * na / (na + nb), total * nb / (na + nb)
    chi2 = chi2 + (bin[1] - ea) ^ 2 / ea + (bin[2] - eb) ^ 2 / eb
  end
  return chi2_pvalue(chi2, #bins - 1), chi2, #bins - 1
end

H.test("chi-square p-values match known quantiles", function()
  -- reference values from scipy.stats.chi2 (isf for the quantiles, sf for the tails)
  H.close(chi2_pvalue(3.8414588206941285, 1), 0.05, 1e-12)
  H.close(chi2_pvalue(18.30703805327515, 10), 0.05, 1e-12)
  H.close(chi2_pvalue(4.86518205192533, 10), 0.9, 1e-12)          -- the series branch
  H.close(chi2_pvalue(2, 2), math.exp(-1), 1e-12)                  -- df 2: Q = exp(-x/2)
  H.close(chi2_pvalue(66.6190500496, 27), 3.3594122691129084e-05, 0, 1e-9)
  H.close(chi2_pvalue(40, 3), 1.065509033425585e-08, 0, 1e-9)       -- odd df, far tail
  H.close(chi2_pvalue(3, 40), 0.9999999999999997, 1e-12)
  local p = chi2_two_sample({ [1] = 50, [2] = 50 }, { [1] = 50, [2] = 50 })
  H.eq(p, 1)
  H.ok(chi2_two_sample({ [1] = 900, [2] = 100 }, { [1] = 500, [2] = 500 }) < 1e-50)
end)

-- ==================== histograms of rectangles ====================

local function new_hist()
  local hist = { erased = 0 }
  for _, f in ipairs(FIELDS) do hist[f] = {} end
  return hist
end

-- Adds one rectangle (0-based top and left) to a histogram.
local function count(hist, top, left, h, w)
  local v = { h = h, w = w, area = h * w, top = top, left = left }
  hist.erased = hist.erased + 1
  for _, f in ipairs(FIELDS) do hist[f][v[f]] = (hist[f][v[f]] or 0) + 1 end
end

-- latent's rectangles for a fixture configuration, drawn with `seed`.
local function latent_hist(cfg, seed)
  lt.manual_seed(seed)
  local boxes = corrupt.erasing_boxes(FX.n, cfg.H, cfg.W, { p = cfg.p, scale = cfg.scale, ratio = cfg.ratio })
  local hist = new_hist()
  for _, b in ipairs(boxes:totable()) do
    if b[1] > 0 then count(hist, b[1] - 1, b[2] - 1, b[3], b[4]) end
  end
  return hist
end

-- The p-values of every histogram of `hist` against torchvision's for cfg.
local function pvalues(cfg, hist)
  local out = {}
  out.erased = chi2_two_sample({ [1] = cfg.erased, [0] = FX.n - cfg.erased },
    { [1] = hist.erased, [0] = FX.n - hist.erased })
  for _, f in ipairs(FIELDS) do out[f] = chi2_two_sample(cfg[f], hist[f]) end
  return out
end

local function worst(ps)
  local name, p = nil, 2
  for k, v in pairs(ps) do if v < p then name, p = k, v end end
  return name, p
end

H.test("random erasing matches torchvision's rectangles (chi-square, p >= 1e-4)", function()
  for i, cfg in ipairs(FX.configs) do
    local ps = pvalues(cfg, latent_hist(cfg, 100 + i))
    for _, f in ipairs { "erased", "h", "w", "area", "top", "left" } do
      H.ok(ps[f] >= ALPHA,
        string.format("%s: histogram of %s differs from torchvision's (p = %.3g)", cfg.name, f, ps[f]))
    end
    local name, p = worst(ps)
    print(string.format("  %-8s smallest p-value %.3g (%s)", cfg.name, p, name))
  end
end)

-- ==================== power: wrong variants must fail ====================

local function round_half_even(v)
  local f = math.floor(v + 0.5)
  if f - v == 0.5 and f % 2 == 1 then f = f - 1 end
  return f
end

-- get_params written again in Lua, with one rule changed by `variant`.
local function lua_draw(cfg, variant)
  if not (math.random() < cfg.p) then return nil end
  local lo, hi = math.log(cfg.ratio[1]), math.log(cfg.ratio[2])
  local round = variant == "floor instead of round" and math.floor or round_half_even
  for _ = 1, variant == "one try instead of 10" and 1 or 10 do
    local area = cfg.H * cfg.W * (cfg.scale[1] + (cfg.scale[2] - cfg.scale[1]) * math.random())
    local ratio = variant == "ratio uniform, not log-uniform"
      and cfg.ratio[1] + (cfg.ratio[2] - cfg.ratio[1]) * math.random()
      or math.exp(lo + (hi - lo) * math.random())
    local h, w = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
    if variant == "ratio as w/h" then h, w = w, h end
    if h < cfg.H and w < cfg.W then
      local last = variant == "randint upper bound excluded" and 1 or 0
      return math.random(0, math.max(cfg.H - h - last, 0)), math.random(0, math.max(cfg.W - w - last, 0)), h, w
    end
  end
  return nil
end

local function variant_pvalues(variant, seed)
  math.randomseed(seed)
  local all = {}
  for _, cfg in ipairs(FX.configs) do
    local hist = new_hist()
    for _ = 1, FX.n do
      local top, left, h, w = lua_draw(cfg, variant)
      if top then count(hist, top, left, h, w) end
    end
    for f, p in pairs(pvalues(cfg, hist)) do all[cfg.name .. "." .. f] = p end
  end
  return all
end

H.test("the same formula in Lua passes, so the reference is right", function()
  local name, p = worst(variant_pvalues("exact", 7))
  H.ok(p >= ALPHA, string.format("exact Lua variant fails at %s (p = %.3g)", name, p))
end)

H.test("the chi-square check has power: each wrong variant fails it", function()
  for _, variant in ipairs { "ratio uniform, not log-uniform", "floor instead of round", "one try instead of 10",
                             "randint upper bound excluded", "ratio as w/h" } do
    local ps = variant_pvalues(variant, 7)
    local name, p = worst(ps)
    local per_config = {}
    for _, cfg in ipairs(FX.configs) do
      local sub = {}
      for k, v in pairs(ps) do if k:find(cfg.name .. ".", 1, true) == 1 then sub[k] = v end end
      local n1, p1 = worst(sub)
      per_config[#per_config + 1] = string.format("%s %.2g", n1, p1)
    end
    print(string.format("  %-30s smallest p: %s", variant, table.concat(per_config, ", ")))
    H.ok(p < ALPHA, string.format("variant '%s' passed the check (smallest p = %.3g at %s)", variant, p, name))
  end
end)

-- ==================== random erasing on images ====================

-- Expected result of erasing x (B x C x H x W) with the given boxes and fill.
local function check_erased(x, y, boxes, value)
  local B, C, Hh, W = table.unpack(x.shape)
  for b = 1, B do
    local top, left, h, w = boxes:get(b, 1), boxes:get(b, 2), boxes:get(b, 3), boxes:get(b, 4)
    for c = 1, C do
      for i = 1, Hh do
        for j = 1, W do
          local inside = top > 0 and i >= top and i < top + h and j >= left and j < left + w
          local want = inside and value or x:get(b, c, i, j)
          H.eq(y:get(b, c, i, j), want, string.format("image %d, channel %d, pixel (%d, %d)", b, c, i, j))
        end
      end
    end
  end
end

H.test("each image gets its own rectangle, filled with the value, the rest untouched", function()
  local x = lt.rand(64, 2, 12, 10)
  local before = x:clone()
  local y, boxes = corrupt.random_erasing(x, { p = 1, scale = { 0.05, 0.3 }, value = 0.25, return_boxes = true })
  H.eq(boxes.shape, { 64, 4 })
  H.eq(x, before, "the input is not written")
  check_erased(x, y, boxes, 0.25)
  local distinct = {}
  for _, b in ipairs(boxes:totable()) do
    H.ok(b[1] >= 1 and b[2] >= 1 and b[1] + b[3] - 1 <= 12 and b[2] + b[4] - 1 <= 10, "box inside the image")
    distinct[table.concat(b, ",")] = true
  end
  local n = 0
  for _ in pairs(distinct) do n = n + 1 end
  H.ok(n >= 40, "only " .. n .. " distinct rectangles among 64 images")
end)

H.test("a rectangle that never fits leaves the image as it is (box zeros)", function()
  -- 2 x 2 image, area >= 3.6 and ratio 1: h = w = 2 = H every try, so all 10 tries fail
  local x = lt.rand(5, 1, 2, 2)
  local y, boxes = corrupt.random_erasing(x, { p = 1, scale = { 0.9, 1 }, ratio = { 1, 1 }, return_boxes = true })
  H.eq(y, x)
  H.eq(boxes, lt.zeros(5, 4))
  -- area 1, ratio 1: h = w = 1 always fits; every position of the 2 x 2 image occurs
  local seen = {}
  for _ = 1, 10 do
    local z, b = corrupt.random_erasing(lt.ones(8, 1, 2, 2), { p = 1, scale = { 0.25, 0.25 }, ratio = { 1, 1 },
                                                               return_boxes = true })
    for _, row in ipairs(b:totable()) do
      H.eq({ row[3], row[4] }, { 1, 1 })
      seen[string.format("%d,%d", row[1], row[2])] = true
    end
    H.eq(z:sum():item(), 8 * 3, "one pixel erased per image")
  end
  H.ok(seen["1,1"] and seen["1,2"] and seen["2,1"] and seen["2,2"], "every position drawn")
end)

H.test("p = 0 erases nothing; one C x H x W image gives a box of 4", function()
  local x = lt.rand(6, 3, 8, 8)
  local y, boxes = corrupt.random_erasing(x, { p = 0, return_boxes = true })
  H.eq(y, x)
  H.eq(boxes, lt.zeros(6, 4))
  local img = lt.rand(3, 8, 8)
  local z, box = corrupt.random_erasing(img, { p = 1, scale = { 0.1, 0.2 }, return_boxes = true })
  H.eq(box.shape, { 4 })
  check_erased(img:unsqueeze(1), z:unsqueeze(1), box:view(1, 4), 0)
  H.eq(#{ corrupt.random_erasing(img) }, 1, "boxes only when asked")
end)

H.test("value = \"random\": standard normals per element and per channel", function()
  local x = lt.zeros(200, 2, 28, 28)
  local y, boxes = corrupt.random_erasing(x, { p = 1, scale = { 0.1, 0.2 }, value = "random", return_boxes = true })
  local vals, diff = {}, 0
  for b = 1, 200 do
    local top, left, h, w = table.unpack(boxes:totable()[b])
    local r1 = y:select(1, b):narrow(2, top, h):narrow(3, left, w)
    for _, v in ipairs(H.values(r1)) do vals[#vals + 1] = v end
    diff = diff + (r1:select(1, 1) - r1:select(1, 2)):abs():sum():item()
    H.eq(y:select(1, b):sum():item() - r1:sum():item(), 0, "outside the box stays zero")
  end
  local t = lt.tensor(vals)
  local n = #vals
  H.ok(n > 20000, "enough erased pixels: " .. n)
  H.close(t:mean():item(), 0, 5 / math.sqrt(n))
  H.close(t:std():item(), 1, 0.02)
  H.ok(diff > 0, "channels get their own values")
end)

H.test("non-contiguous input, 0-sized batch", function()
  local x = lt.rand(3, 1, 9, 7)
  local xt = x:transpose(3, 4):contiguous():transpose(3, 4)
  H.ok(not xt:is_contiguous())
  lt.manual_seed(3)
  local a, ba = corrupt.random_erasing(x, { p = 1, return_boxes = true })
  lt.manual_seed(3)
  local b, bb = corrupt.random_erasing(xt, { p = 1, return_boxes = true })
  H.eq(a, b)
  H.eq(ba, bb)
  local e, be = corrupt.random_erasing(lt.zeros(0, 1, 28, 28), { return_boxes = true })
  H.eq(e.shape, { 0, 1, 28, 28 })
  H.eq(be.shape, { 0, 4 })
end)

H.test("seeds repeat exactly; erasing_boxes draws what random_erasing draws", function()
  local x = lt.rand(32, 1, 28, 28)
  local opts = { p = 0.7, scale = { 0.02, 0.15 }, ratio = { 0.7, 1.7 }, return_boxes = true }
  lt.manual_seed(42)
  local y1, b1 = corrupt.random_erasing(x, opts)
  lt.manual_seed(42)
  local y2, b2 = corrupt.random_erasing(x, opts)
  H.eq(y1, y2)
  H.eq(b1, b2)
  lt.manual_seed(42)
  H.eq(corrupt.erasing_boxes(32, 28, 28, { p = 0.7, scale = { 0.02, 0.15 }, ratio = { 0.7, 1.7 } }), b1)
  local _, b3 = corrupt.random_erasing(x, opts)
  H.ok(lt.ne(b1, b3):sum():item() > 0, "the next call draws new rectangles")
  opts.value = "random"
  lt.manual_seed(9)
  local r1 = corrupt.random_erasing(x, opts)
  lt.manual_seed(9)
  H.eq(corrupt.random_erasing(x, opts), r1)
end)

-- ==================== Gaussian noise ====================

H.test("gaussian: x + std * N(0, 1), from the generator in row-major order", function()
  local x = lt.full({ 400, 250 }, 0.5)
  local y = corrupt.gaussian(x, 0.1)
  local noise = y - 0.5
  H.close(noise:mean():item(), 0, 5 * 0.1 / math.sqrt(1e5))
  H.close(noise:std():item(), 0.1, 0.002)
  H.eq(x, lt.full({ 400, 250 }, 0.5), "the input is not written")
  local z = lt.rand(3, 4, 5)
  lt.manual_seed(11)
  local g = corrupt.gaussian(z, 0.3)
  lt.manual_seed(11)
  H.close(g, z + 0.3 * lt.randn(3, 4, 5), 1e-6)
  H.eq(corrupt.gaussian(z, 0), z, "std 0 changes nothing")
end)

H.test("gaussian: clamp to [0, 1]", function()
  local x = lt.full({ 100000 }, 0.5)
  local y = corrupt.gaussian(x, 1, { clamp = true })
  H.eq(y:min():item(), 0)
  H.eq(y:max():item(), 1)
  local at0 = y:eq(0):mean():item() -- P(N(0, 1) < -0.5) = 0.30854
  H.close(at0, 0.30854, 0.01)
  local free = corrupt.gaussian(x, 1)
  H.ok(free:min():item() < -2 and free:max():item() > 3, "without clamp values leave [0, 1]")
end)

H.test("gaussian: seeds repeat exactly", function()
  local x = lt.rand(8, 1, 28, 28)
  lt.manual_seed(5)
  local a = corrupt.gaussian(x, 0.2, { clamp = true })
  lt.manual_seed(5)
  H.eq(corrupt.gaussian(x, 0.2, { clamp = true }), a)
end)

-- ==================== gradients and errors ====================

H.test("a tensor that requires grad is refused, except under no_grad", function()
  local x = lt.rand(2, 1, 8, 8):requires_grad_()
  H.raises("random_erasing: x requires grad.*detach", corrupt.random_erasing, x)
  H.raises("gaussian: x requires grad", corrupt.gaussian, x, 0.1)
  local y = lt.no_grad(function() return corrupt.random_erasing(x, { p = 1 }) end)
  H.eq(y.requires_grad, false)
  H.eq(corrupt.gaussian(x:detach(), 0.1).requires_grad, false)
end)

H.test("errors name the function and the argument", function()
  local x = lt.rand(2, 1, 8, 8)
  local E = corrupt.random_erasing
  H.raises("random_erasing: x must be B x C x H x W .*got 8x8", E, lt.rand(8, 8))
  H.raises("random_erasing: x must be B x C x H x W .*got 1x2x1x8x8", E, lt.rand(1, 2, 1, 8, 8))
  H.raises("bad argument #1 to '[%w.]*random_erasing' %(latent.Tensor expected", E, {})
  H.raises("random_erasing: option 'p' must be in %[0, 1%], got 1.5", E, x, { p = 1.5 })
  H.raises("random_erasing: option 'p' must be in %[0, 1%], got %-0.1", E, x, { p = -0.1 })
  H.raises("option 'p' must be a number, got string", E, x, { p = "1" })
  H.raises("option 'scale' must be {lo, hi} with 0 <= lo <= hi <= 1, got {0.3, 0.1}", E, x, { scale = { 0.3, 0.1 } })
  H.raises("option 'scale' must be {lo, hi} with 0 <= lo <= hi <= 1, got {0.1, 1.5}", E, x, { scale = { 0.1, 1.5 } })
  H.raises("option 'scale' must be {lo, hi} .*got {%-0.1, 0.5}", E, x, { scale = { -0.1, 0.5 } })
  H.raises("option 'scale' must be a table of two numbers {lo, hi}, got number", E, x, { scale = 0.2 })
  H.raises("option 'scale' must be a table of two numbers", E, x, { scale = { 0.1, 0.2, 0.3 } })
  H.raises("option 'scale'%[2%] must be a number, got string", E, x, { scale = { 0.1, "x" } })
  H.raises("option 'ratio' must be {lo, hi} with 0 < lo <= hi %(finite%), got {3, 0.3}", E, x, { ratio = { 3, 0.3 } })
  H.raises("option 'ratio' must be {lo, hi} with 0 < lo", E, x, { ratio = { 0, 1 } })
  H.raises("option 'ratio' must be {lo, hi} with 0 < lo", E, x, { ratio = { 1, math.huge } })
  H.raises("option 'value' must be a number or \"random\", got noise", E, x, { value = "noise" })
  H.raises("option 'value' must be a number or \"random\", got table", E, x, { value = { 0, 1 } })
  H.raises("option 'value' must be a finite number or \"random\", got %-?nan", E, x, { value = 0 / 0 })
  H.raises("random_erasing: unknown option 'scales'", E, x, { scales = { 0.1, 0.2 } })
  H.raises("option 'return_boxes' must be a boolean", E, x, { return_boxes = 1 })
  H.raises("bad argument #2 to '[%w.]*random_erasing' %(table expected, got number%)", E, x, 0.5)
  local G = corrupt.gaussian
  H.raises("gaussian: std must be a finite number >= 0, got %-0.1", G, x, -0.1)
  H.raises("gaussian: std must be a finite number >= 0, got %-?nan", G, x, 0 / 0)
  H.raises("bad argument #2 to '[%w.]*gaussian' %(number expected, got no value%)", G, x)
  H.raises("gaussian: unknown option 'clip'", G, x, 0.1, { clip = true })
  H.raises("option 'clamp' must be a boolean, got number", G, x, 0.1, { clamp = 1 })
  local B = corrupt.erasing_boxes
  H.raises("erasing_boxes: n, H and W must not be negative, got %-1, 28, 28", B, -1, 28, 28)
  H.raises("bad argument #2 to '[%w.]*erasing_boxes' %(number has no integer representation%)", B, 5, 2.5, 28)
  H.raises("erasing_boxes: option 'scale'", B, 5, 28, 28, { scale = { 0.5, 0.1 } })
  H.raises("erasing_boxes: unknown option 'value'", B, 5, 28, 28, { value = 0 })
end)

H.done()
