-- latent: the user-facing module.
--
--   local lt = require "latent"
--   local x = lt.randn(2, 3)
--
-- The C part (latent.core) holds the tensor type and its kernels; this file
-- adds what is better written in Lua: printing, gradcheck, small helpers.
local core = require "latent.core"

local lt = {}
for name, value in pairs(core) do
  local internal = { methods = true, Tensor = true, layers = true, layer_methods = true, optimizers = true, corrupt = true, tsne_affinities = true, tsne_transform = true, analysis = true }
  if not internal[name] then
    lt[name] = value
  end
end

lt._VERSION = "latent 0.1.0"
lt.version = "0.1.0"
lt.core = core

require("latent.tensor").install(core)
lt.gradcheck = require "latent.gradcheck"
lt.nn = require "latent.nn"
lt.optim = require "latent.optim"
lt.checkpoint = require "latent.checkpoint"
lt.models = require "latent.models"
lt.profile = require "latent.profile" -- replaces the core.profile table copied above
lt.data = require "latent.data"
lt.progress = require "latent.progress"
lt.run = require "latent.run"
lt.fit = require "latent.fit"
lt.corrupt = require "latent.corrupt"
lt.metrics = require "latent.metrics"
lt.plot = require "latent.plot"
lt.tsne = require "latent.tsne" -- replaces the core.tsne function copied above
require("latent.pca").install(lt) -- lt.PCA, lt.pca

return lt
