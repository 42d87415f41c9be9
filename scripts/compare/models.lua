-- The two models the comparisons with PyTorch train: the reference
-- convolutional autoencoder of scripts/bench/ae_train.lua and its BatchNorm/ELU
-- variant. scripts/compare/ae_test_loss.py defines the same in PyTorch.
local nn = require("latent").nn

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

return models
