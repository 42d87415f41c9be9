-- Trains the reference convolutional autoencoder (or its BatchNorm/ELU
-- variant) on an IDX data set for a fixed number of epochs and prints the
-- test MSE, one JSON line per seed. scripts/compare/ae_test_loss.py is the
-- PyTorch counterpart with the same models, optimizer, batches and output;
-- scripts/compare/ae_test_loss.sh runs both and compares the losses.
--
--   latent scripts/compare/ae_test_loss.lua --data data/mnist10k --model bn_elu --seeds 3
local lt = require "latent"
local nn = lt.nn

local opts = { data = "data/mnist10k", model = "reference", epochs = 10, batch = 250, code = 8, seeds = 3,
  threads = 2 }
for i = 1, #arg, 2 do
  local key = arg[i]:match("^%-%-(.+)$")
  if not key or opts[key] == nil or arg[i + 1] == nil then
    error("usage: ae_test_loss.lua [--data dir] [--model reference|bn_elu] [--epochs n] [--batch n] "
      .. "[--code n] [--seeds n] [--threads n]", 0)
  end
  opts[key] = type(opts[key]) == "number" and assert(tonumber(arg[i + 1]), arg[i]) or arg[i + 1]
end

local models = {}

function models.reference(code)
  local encoder = nn.Sequential {
    nn.Conv2d(1, 8, 3, { stride = 2, padding = 1 }), nn.ReLU(),
    nn.Conv2d(8, 16, 3, { stride = 2, padding = 1 }), nn.ReLU(),
    nn.Conv2d(16, 32, 3, { stride = 2, padding = 0 }), nn.ReLU(),
    nn.Flatten(), nn.Linear(288, 64), nn.ReLU(), nn.Linear(64, code) }
  local decoder = nn.Sequential {
    nn.Linear(code, 64), nn.ReLU(), nn.Linear(64, 288), nn.ReLU(), nn.Unflatten(2, { 32, 3, 3 }),
    nn.ConvTranspose2d(32, 16, 3, { stride = 2 }), nn.ReLU(),
    nn.ConvTranspose2d(16, 8, 3, { stride = 2, padding = 1, output_padding = 1 }), nn.ReLU(),
    nn.ConvTranspose2d(8, 1, 3, { stride = 2, padding = 1, output_padding = 1 }), nn.Sigmoid() }
  return encoder, decoder
end

function models.bn_elu(code)
  local encoder = nn.Sequential {
    nn.Conv2d(1, 8, 3, { stride = 2, padding = 1 }), nn.BatchNorm2d(8), nn.ELU(),
    nn.Conv2d(8, 16, 3, { stride = 2, padding = 1 }), nn.BatchNorm2d(16), nn.ELU(),
    nn.Conv2d(16, 32, 3, { stride = 2, padding = 0 }), nn.BatchNorm2d(32), nn.ELU(),
    nn.Flatten(), nn.Linear(288, 64), nn.BatchNorm1d(64), nn.ELU(), nn.Linear(64, code) }
  local decoder = nn.Sequential {
    nn.Linear(code, 64), nn.BatchNorm1d(64), nn.ELU(),
    nn.Linear(64, 288), nn.BatchNorm1d(288), nn.ELU(), nn.Unflatten(2, { 32, 3, 3 }),
    nn.ConvTranspose2d(32, 16, 3, { stride = 2 }), nn.BatchNorm2d(16), nn.ELU(),
    nn.ConvTranspose2d(16, 8, 3, { stride = 2, padding = 1, output_padding = 1 }), nn.BatchNorm2d(8), nn.ELU(),
    nn.ConvTranspose2d(8, 1, 3, { stride = 2, padding = 1, output_padding = 1 }), nn.Sigmoid() }
  return encoder, decoder
end

local function test_loss(model, test)
  model:eval()
  local total, count = 0, 0
  lt.no_grad(function()
    for x in test:batches { size = 500 } do
      total = total + lt.mse(model(x), x, "sum"):item()
      count = count + x:numel()
    end
  end)
  model:train()
  return total / count
end

local function run(seed, train, test)
  lt.manual_seed(seed)
  local build = assert(models[opts.model], "--model: reference or bn_elu")
  local encoder, decoder = build(opts.code)
  local model = nn.Sequential { encoder, decoder }
  local opt = lt.optim.Adam(model:parameters(), { lr = 1e-3, weight_decay = 1e-5 })
  local t0 = lt.clock()
  for epoch = 1, opts.epochs do
    for x in train:batches { size = opts.batch, shuffle = true, seed = seed, epoch = epoch, drop_last = true } do
      local loss = lt.mse(model(x), x)
      opt:zero_grad()
      loss:backward()
      opt:step()
    end
  end
  return string.format('{"framework": "latent", "model": "%s", "seed": %d, "epochs": %d, "test_mse": %.9g, '
    .. '"train_seconds": %.2f}', opts.model, seed, opts.epochs, test_loss(model, test), lt.clock() - t0)
end

lt.set_num_threads(opts.threads)
local train, test = lt.data.idx(opts.data)
for seed = 1, opts.seeds do
  print(run(seed, train, test))
  io.stdout:flush()
end
