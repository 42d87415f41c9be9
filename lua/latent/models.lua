-- latent.models: architectures that scripts, examples and benchmarks share.
--
--   local encoder, decoder = lt.models.reference_autoencoder(8)
--
-- reference_autoencoder is the convolutional autoencoder of the training
-- benchmark (scripts/bench/ae_train.lua): three stride-2 convolutions
-- (1 -> 8 -> 16 -> 32 channels, 28x28 -> 3x3), two linear layers down to the
-- code, and the mirror image up with transposed convolutions and a Sigmoid.
-- bn_elu_autoencoder is the same with BatchNorm after every hidden layer and
-- ELU activations. Both take 1x28x28 images in [0, 1].
local nn = require "latent.nn"

local models = {}

function models.reference_autoencoder(code)
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

function models.bn_elu_autoencoder(code)
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
