-- Trains the reference convolutional autoencoder (the model of
-- scripts/bench/ae_train.lua) with lt.fit: a seeded 10% validation split,
-- early stopping, a progress bar, and a run folder holding config.json,
-- log.jsonl, model.safetensors (resumable), best.safetensors, metrics.json
-- and, where lt.plot is there, learning_curves.png and reconstructions.png.
--
--   latent examples/train_autoencoder.lua                      # MNIST-10k, into runs/
--   latent examples/train_autoencoder.lua --data fashion-mnist --epochs 50 --patience 3 --min_delta 1e-4
--   latent examples/train_autoencoder.lua --resume runs/autoencoder-20250101-120000
--   latent examples/train_autoencoder.lua --help
local lt = require "latent"
local nn = lt.nn

-- ==================== flags ====================

local DEFAULTS = {data = "mnist10k", epochs = 100, patience = 5, min_delta = 2e-4, code = 8, out = "runs", batch = 250,
                  seed = 0, limit = 0, resume = ""}
local HELP = {data = "a data set name (mnist10k, fashion-mnist) or a folder of IDX files",
              epochs = "the most epochs to train", patience = "epochs without a better validation loss before stopping",
              min_delta = "how much lower than the best a validation loss must be to count as better",
              code = "the size of the code (the bottleneck)", out = "the folder that gets the run folder",
              batch = "the batch size", seed = "the seed of everything random", limit = "use only the first n training images (0: all)",
              resume = "a run folder to resume (its config.json gives the other flags)"}
local ORDER = {"data", "epochs", "patience", "min_delta", "code", "out", "batch", "seed", "limit", "resume"}

-- Flags through lua-argparse (Debian's lua-argparse, installed by scripts/deps.sh).
local function parse_flags(args)
  local argparse = require "argparse"
  local p = argparse("train_autoencoder.lua", "Trains the reference convolutional autoencoder with early stopping.")
  for _, name in ipairs(ORDER) do
    local d = DEFAULTS[name]
    local convert = math.type(d) == "integer" and math.tointeger or math.type(d) == "float" and tonumber or nil
    p:option("--" .. name, HELP[name], tostring(d), convert)
  end
  return p:parse(args)
end

-- ==================== the model ====================

-- The reference autoencoder: lua/latent/models.lua shows its layers; a model
-- of one's own is an nn.Sequential built the same way.
local reference_autoencoder = lt.models.reference_autoencoder

local function peak_rss_mb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s+(%d+)")
    if kb then return tonumber(kb) / 1024 end
  end
end

local function range(a, b)
  local out = {}
  for i = a, b do out[#out + 1] = i end
  return out
end

-- The sample-weighted mean loss over a data set, in eval mode, without a graph.
local function mean_loss(ds, batch, loss, models)
  for _, m in ipairs(models) do m:eval() end
  local sum = 0
  lt.no_grad(function()
    for x in ds:batches{size = batch} do sum = sum + loss(x):item() * x.shape[1] end
  end)
  return sum / #ds
end

-- ==================== the run ====================

local function main(args)
  local flags = parse_flags(args)
  local run
  if flags.resume ~= "" then
    run = lt.run.open(flags.resume)
    for k, v in pairs(run.config) do flags[k] = v end -- the same flags as the run being resumed
  end
  lt.manual_seed(flags.seed)
  local train, test = lt.data.load(flags.data)
  if flags.limit > 0 and flags.limit < #train then
    train = train:subset(range(1, flags.limit))
    test = test and test:subset(range(1, math.min(#test, math.max(1, flags.limit // 4))))
  end
  local tr, va = train:split{0.9, 0.1, seed = flags.seed}
  local encoder, decoder = reference_autoencoder(flags.code)
  local opt = lt.optim.Adam(nn.parameters(encoder, decoder), {lr = 1e-3, weight_decay = 1e-5})
  local function loss(x) return lt.mse(decoder(encoder(x)), x) end
  run = run or lt.run.new{task = "autoencoder", root = flags.out, config = flags, seed = flags.seed}
  print(string.format("%s: %d training, %d validation, %d test images; run folder %s", flags.data, #tr, #va,
    test and #test or 0, run.dir))

  local result = lt.fit{model = {encoder = encoder, decoder = decoder}, optimizer = opt, train = tr, val = va,
    loss = loss, batch_size = flags.batch, max_epochs = flags.epochs, patience = flags.patience,
    min_delta = flags.min_delta, seed = flags.seed, run = run}

  local rates = 0
  for _, h in ipairs(result.history) do rates = rates + h.samples_per_s end
  local metrics = {
    data = flags.data, test_loss = test and mean_loss(test, flags.batch, loss, {encoder, decoder}),
    best_val_loss = result.best_val_loss, best_epoch = result.best_epoch, epochs = result.epochs_run,
    stopped_early = result.stopped_early, stop_reason = result.stop_reason,
    samples_per_s = rates / #result.history, peak_rss_mb = peak_rss_mb(), train_images = #tr, val_images = #va}
  run:write_json("metrics.json", metrics)

  if lt.plot then
    local epochs, train_curve, val_curve = {}, {}, {}
    for i, h in ipairs(result.history) do epochs[i], train_curve[i], val_curve[i] = h.epoch, h.train_loss, h.val_loss end
    lt.plot.lines(run:path("learning_curves.png"), {
      {name = "train", x = epochs, y = train_curve},
      {name = "validation", x = epochs, y = val_curve, style = "dashed"}},
      {title = "Autoencoder on " .. flags.data .. " (code " .. flags.code .. ")", xlabel = "epoch",
       ylabel = "mean squared error", logy = true})
    local shown = test or va
    local x = shown:get(range(1, math.min(10, #shown)))
    local y = lt.no_grad(function() return decoder(encoder(x)) end)
    lt.plot.image_grid(run:path("reconstructions.png"), {x, y},
      {labels = {"original", "reconstruction"}, title = "Test images and their reconstructions", zoom = 3})
  end
  print(string.format("test loss %s, best validation loss %.6g at epoch %d of %d (%s); %s",
    metrics.test_loss and string.format("%.6g", metrics.test_loss) or "-", result.best_val_loss, result.best_epoch,
    result.epochs_run, result.stop_reason, run.dir))
  return run, metrics, result
end

return main(arg or {})
