-- A stopped training run resumes exactly: train 2N steps in one go; or train
-- N, save a checkpoint, load it in a fresh process, train N more. The
-- weights must agree bit for bit. Batches and dropout masks come from the
-- generator, so its state must travel with the checkpoint too.
local H = require "harness"
local lt = require "latent"
local nn = lt.nn

local N = 6

local function build()
  local model = nn.Sequential {
    nn.Conv2d(1, 4, 3, { stride = 2, padding = 1 }), nn.BatchNorm2d(4), nn.ELU(), nn.Dropout(0.2),
    nn.Flatten(), nn.Linear(4 * 4 * 4, 8), nn.LeakyReLU(0.1), nn.Linear(8, 3) }
  local opt = lt.optim.Adam(model:parameters(), { lr = 1e-2, weight_decay = 1e-4 })
  return model, opt
end

local function train(model, opt, steps)
  for _ = 1, steps do
    local x, target = lt.randn(5, 1, 8, 8), lt.randn(5, 3)
    local loss = lt.mse(model(x), target)
    opt:zero_grad()
    loss:backward()
    opt:step()
  end
end

local function worker(ckpt, out, steps)
  lt.manual_seed(999) -- a different seed: everything must come from the checkpoint
  local model, opt = build()
  lt.checkpoint.load(ckpt, { model = model, optimizer = opt })
  train(model, opt, steps)
  lt.save_tensors(out, model:state_dict())
end

if arg[1] == "--worker" then
  worker(arg[2], arg[3], tonumber(arg[4]))
  os.exit(0)
end

H.test("train N, save, load in a fresh process, train N == train 2N, bit for bit", function()
  lt.manual_seed(7)
  local model, opt = build()
  train(model, opt, 2 * N)
  local want = model:state_dict()

  lt.manual_seed(7)
  local half, half_opt = build()
  train(half, half_opt, N)
  local dir = os.tmpname()
  local ckpt, out = dir .. ".ckpt.safetensors", dir .. ".out.safetensors"
  lt.checkpoint.save(ckpt, { model = half, optimizer = half_opt, extra = { step = N } })
  local latent = arg[-1]
  local cmd = string.format("%q %q --worker %q %q %d", latent, arg[0], ckpt, out, N)
  H.ok(os.execute(cmd), "the worker process failed: " .. cmd)
  local got = lt.load_tensors(out)
  local names = 0
  for name, t in pairs(want) do
    H.ok(got[name], "missing " .. name)
    H.eq(got[name], t, name)
    names = names + 1
  end
  H.eq(names, 10) -- conv 2, batch norm 4 (with running statistics), linear 2 + 2
  os.remove(ckpt); os.remove(out); os.remove(dir)
end)

H.done()
