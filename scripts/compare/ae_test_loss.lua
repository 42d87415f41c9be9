-- Trains the reference convolutional autoencoder (or its BatchNorm/ELU
-- variant) on an IDX data set for a fixed number of epochs and prints the
-- test MSE, one JSON line per seed. scripts/compare/ae_test_loss.py is the
-- PyTorch counterpart with the same models, optimizer, batches and output;
-- scripts/compare/ae_test_loss.sh runs both and compares the losses.
--
--   latent scripts/compare/ae_test_loss.lua --data data/mnist10k --model bn_elu --seeds 3
local lt = require "latent"
local nn = lt.nn
local argparse = require "argparse"
local p = argparse("ae_test_loss.lua", "Trains an autoencoder for a fixed number of epochs; prints the test MSE.")
p:option("--data", "a folder of IDX files", "data/mnist10k")
p:option("--model", "reference or bn_elu", "reference"):choices { "reference", "bn_elu" }
p:option("--epochs", "epochs", "10", math.tointeger)
p:option("--batch", "batch size", "250", math.tointeger)
p:option("--code", "code size", "8", math.tointeger)
p:option("--seeds", "runs, with seeds 1..n", "3", math.tointeger)
p:option("--threads", "threads", "2", math.tointeger)
local opts = p:parse(arg)

local models = { reference = lt.models.reference_autoencoder, bn_elu = lt.models.bn_elu_autoencoder }

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
