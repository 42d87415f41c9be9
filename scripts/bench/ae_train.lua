-- Trains the reference convolutional autoencoder for a fixed number of steps
-- and prints samples/s and peak resident memory; scripts/bench/ae_train.py is
-- the PyTorch counterpart with the same model, batch, optimizer and output.
--
--   latent scripts/bench/ae_train.lua --threads 2 --steps 200
--   latent scripts/bench/ae_train.lua --threads 1 --steps 50 --profile   (time per op)
--   bash scripts/bench/ae_train.sh        (both sides, 1 and 2 threads)
local lt = require "latent"
local nn = lt.nn

local opts = { threads = 2, steps = 200, warmup = 10, batch = 250, images = 60000, code = 8 }
local profile = false -- --profile: print lt.profile's report of the timed steps
for i = #arg, 1, -1 do
  if arg[i] == "--profile" then profile = table.remove(arg, i) ~= nil end
end
for i = 1, #arg, 2 do
  local key = arg[i]:match("^%-%-(.+)$")
  if not key or opts[key] == nil or not tonumber(arg[i + 1]) then
    error("usage: ae_train.lua [--threads n] [--steps n] [--warmup n] [--batch n] [--images n] [--code n] [--profile]", 0)
  end
  opts[key] = tonumber(arg[i + 1])
end

-- The reference autoencoder (lua/latent/models.lua); ae_train.py builds the same.
local reference_autoencoder = lt.models.reference_autoencoder

local function peak_rss_mb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s+(%d+)")
    if kb then return tonumber(kb) / 1024 end
  end
end

lt.set_num_threads(opts.threads)
lt.manual_seed(0)
-- The images stay uint8, as PyTorch's counterpart keeps them (47 MB for
-- 60,000 images); each batch becomes float in [0, 1] on the fly.
local images = lt.data.random { n = opts.images, shape = { 1, 28, 28 }, seed = 0 }
local encoder, decoder = reference_autoencoder(opts.code)
local opt = lt.optim.Adam(nn.parameters(encoder, decoder), { lr = 1e-3, weight_decay = 1e-5 })

local order = lt.data.permutation(opts.images, 0)
local function step(i)
  local start = (i * opts.batch) % (opts.images - opts.batch + 1)
  local idx = table.move(order, start + 1, start + opts.batch, 1, {})
  local x = images:get(idx)
  local loss = lt.mse(decoder(encoder(x)), x)
  opt:zero_grad()
  loss:backward()
  opt:step()
  return loss:item()
end

for i = 0, opts.warmup - 1 do step(i) end
if profile then lt.profile.start() end
local t0, loss = lt.clock(), nil
for i = 0, opts.steps - 1 do loss = step(opts.warmup + i) end
local seconds = lt.clock() - t0
if profile then lt.profile.stop() end
print(string.format("latent %s threads=%d batch=%d steps=%d samples/s=%.0f peak_rss_mb=%.0f loss=%.5f",
  lt.version, opts.threads, opts.batch, opts.steps, opts.steps * opts.batch / seconds, peak_rss_mb(), loss))
if profile then lt.profile.report() end
