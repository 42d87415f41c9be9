-- One figure of each kind from synthetic data, written as PNG files.
--
--   latent examples/figures.lua [folder [points]]
--
-- folder: where the PNGs go (default: a new temporary folder); points: the
-- size of the 2-D scatter (default 10,000; the 3-D one has a third of it).
--
-- Prints the path of each file; returns the list of paths (for the tests).
local lt = require "latent"
local plot = lt.plot

local dir = arg and arg[1]
if not dir then
  dir = os.tmpname()
  os.remove(dir)
end
assert(os.execute("mkdir -p '" .. dir .. "'"), "cannot create " .. dir)
lt.manual_seed(7)

local written = {}
local function out(name)
  local path = dir .. "/" .. name
  written[#written + 1] = path
  return path
end

-- ---- learning curves: three runs, train solid and validation dashed, log scale ----
local series = {}
for run = 1, 3 do
  local train, val = {}, {}
  local rate, floor = 0.25 + 0.08 * run, 0.012 + 0.004 * run
  for epoch = 1, 40 do
    local base = floor + 0.25 * math.exp(-rate * epoch)
    train[epoch] = base * (1 + 0.04 * lt.randn(1):item())
    val[epoch] = (base + 0.004 + 0.00015 * epoch) * (1 + 0.05 * lt.randn(1):item())
  end
  series[#series + 1] = { name = "run " .. run .. " train", y = train }
  series[#series + 1] = { name = "run " .. run .. " val", y = val, style = "dashed", color = series[#series].color }
end
for i = 2, #series, 2 do series[i].color = plot.palette[i // 2] end
for i = 1, #series, 2 do series[i].color = plot.palette[(i + 1) // 2] end
plot.lines(out("learning_curves.png"), series,
  { title = "Learning curves", xlabel = "epoch", ylabel = "MSE loss", logy = true })

-- ---- loss against code size: mean +- std over five seeds, as a band and as error bars ----
local sizes, mean, std, mean_dae, std_dae = { 2, 4, 8, 16, 32, 64 }, {}, {}, {}, {}
for i, d in ipairs(sizes) do
  local runs, runs_dae = {}, {}
  for s = 1, 5 do
    runs[s] = 0.055 / math.sqrt(d) + 0.008 + 0.002 * lt.randn(1):item() / math.sqrt(i)
    runs_dae[s] = 0.07 / math.sqrt(d) + 0.011 + 0.002 * lt.randn(1):item() / math.sqrt(i)
  end
  local t, u = lt.tensor(runs), lt.tensor(runs_dae)
  mean[i], std[i], mean_dae[i], std_dae[i] = t:mean():item(), t:std():item(), u:mean():item(), u:std():item()
end
plot.lines(out("loss_vs_code_size.png"), {
  { name = "autoencoder", x = sizes, y = mean, err = std, marker = true },
  { name = "denoising AE", x = sizes, y = mean_dae, err = std_dae, marker = true },
}, { title = "Test loss against code size", xlabel = "code size", ylabel = "test MSE", logx = true })
plot.lines(out("loss_vs_code_size_errorbars.png"), {
  { name = "autoencoder", x = sizes, y = mean, err = std, marker = true },
  { name = "denoising AE", x = sizes, y = mean_dae, err = std_dae, marker = true },
}, { title = "Test loss against code size", xlabel = "code size", ylabel = "test MSE", logx = true, errorbars = true })

-- ---- bars: per-class accuracy with spread ----
local names, acc, err = {}, {}, {}
for k = 1, 10 do
  names[k] = tostring(k - 1)
  acc[k] = 0.97 - 0.06 * math.abs(math.sin(k)) - 0.01 * (k % 3)
  err[k] = 0.005 + 0.01 * math.abs(math.cos(3 * k))
end
plot.bars(out("per_class_accuracy.png"), { labels = names, values = acc, err = err },
  { title = "Per-class accuracy (5 seeds)", xlabel = "digit", ylabel = "accuracy" })

-- ---- 2-D scatter: ten Gaussian clusters, 10,000 points ----
local n, K = tonumber(arg and arg[2]) or 10000, 10
local labels = lt.randint(1, K, { n })
local centres = lt.randn(K, 2) * 4
local z = centres:index_select(1, labels) + lt.randn(n, 2) * 0.9
local digits = {}
for k = 1, K do digits[k] = tostring(k - 1) end
plot.scatter(out("latent_scatter.png"), z, labels,
  { title = "Latent codes (2-D)", xlabel = "z1", ylabel = "z2", classes = digits })

-- ---- 3-D scatter from two viewpoints ----
local n3 = n // 3
local l3 = lt.randint(1, K, { n3 })
local c3 = lt.randn(K, 3) * 3
local z3 = c3:index_select(1, l3) + lt.randn(n3, 3) * 0.7
plot.scatter3d(out("latent_scatter3d.png"), z3, l3,
  { title = "Latent codes (3-D)", classes = digits, views = { { -60, 30 }, { 30, 15 } } })

-- ---- confusion matrix of a fairly good classifier ----
local cm = lt.zeros(K, K)
for t = 1, K do
  for p = 1, K do
    local v = t == p and 180 + math.floor(20 * math.abs(math.sin(t))) or math.floor(math.max(0, 6 * lt.randn(1):item()))
    cm:set(t, p, v)
  end
end
plot.confusion(out("confusion.png"), cm, { title = "Confusion matrix (test set)", classes = digits })

-- ---- image grid: originals, corrupted (noise and an erased patch), restored ----
-- synthetic "digits": rings and bars drawn from distances on a 28 x 28 grid
local B, S = 8, 28
local ys = lt.arange(0, S):view(S, 1):expand(S, S)
local xs = lt.arange(0, S):view(1, S):expand(S, S)
local imgs = {}
for b = 1, B do
  local cx, cy, r = 14 + 3 * lt.randn(1):item(), 14 + 3 * lt.randn(1):item(), 6 + 2 * lt.rand(1):item()
  local d = (((xs - cx) ^ 2 + (ys - cy) ^ 2):sqrt() - r):abs()
  local ring = (1.6 - d):clamp(0, 1)
  local bar = (1.4 - (xs - (cx + r * (b % 2 == 0 and 1 or -1))):abs()):clamp(0, 1) * (ys:gt(cy - 10) * ys:lt(cy + 10))
  imgs[b] = (ring + bar):clamp(0, 1):view(1, 1, S, S)
end
local x = lt.cat(imgs, 1)
local noisy = (x + lt.randn(B, 1, S, S) * 0.3):clamp(0, 1)
noisy:narrow(3, 8, 9):narrow(4, 10, 8):fill(0)
local restored = (x * 0.9 + lt.rand(B, 1, S, S) * 0.08):clamp(0, 1)
plot.image_grid(out("reconstructions.png"), { x, noisy, restored },
  { title = "Denoising", labels = { "original", "corrupted", "restored" }, zoom = 3 })

for _, p in ipairs(written) do print(p) end
return written
