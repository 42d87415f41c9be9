-- Lockstep comparison, latent side: loads the initial weights that
-- scripts/compare/ae_lockstep.py wrote, trains on the same batches in the
-- same order with the same optimizer, and prints the same lines. Run both
-- with scripts/compare/ae_lockstep.sh.
--
--   latent scripts/compare/ae_lockstep.lua --model bn_elu --weights /tmp/w.safetensors
local lt = require "latent"
local argparse = require "argparse"

local p = argparse("ae_lockstep.lua", "Trains from PyTorch's initial weights on the first batches in order.")
p:option("--data", "a folder of IDX files", "data/mnist10k")
p:option("--model", "reference or bn_elu", "reference"):choices { "reference", "bn_elu" }
p:option("--steps", "training steps", "320", math.tointeger)
p:option("--batch", "batch size", "250", math.tointeger)
p:option("--threads", "threads", "1", math.tointeger)
p:option("--weights", "the safetensors file the PyTorch side wrote"):args(1)
local a = p:parse(arg)

local models = { reference = lt.models.reference_autoencoder, bn_elu = lt.models.bn_elu_autoencoder }

lt.set_num_threads(a.threads)
local encoder, decoder = models[a.model](8)
local model = lt.nn.Sequential { encoder, decoder }
model:load_state_dict(lt.load_tensors(a.weights))
local train, test = lt.data.idx(a.data)
local opt = lt.optim.Adam(model:parameters(), { lr = 1e-3, weight_decay = 1e-5 })
for step = 1, a.steps do
  local start = ((step - 1) * a.batch) % (#train - a.batch + 1)
  local idx = {}
  for i = 1, a.batch do idx[i] = start + i end
  local x = train:get(idx)
  local loss = lt.mse(model(x), x)
  opt:zero_grad()
  loss:backward()
  opt:step()
  if step % 20 == 0 or step == 1 then print(string.format("step %d loss %.7f", step, loss:item())) end
end
model:eval()
lt.no_grad(function()
  local all = {}
  for i = 1, #test do all[i] = i end
  local x = test:get(all)
  print(string.format("test_mse %.7f", lt.mse(model(x), x):item()))
end)
