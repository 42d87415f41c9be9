-- nn.init: the usual weight initialisations (torch.nn.init's schemes), in
-- place, drawing from the one generator. Each returns the tensor.
--
--   nn.init.xavier_uniform(layer.weight)
--   nn.init.kaiming_normal(layer.weight, {nonlinearity = "relu"})
local core = require "latent.core"

local init = {}

-- fan_in = size(2) * receptive field, fan_out = size(1) * receptive field
function init.fans(t)
  local shape = t.shape
  if #shape < 2 then error("init: fan in and fan out need a tensor of at least 2 dims, got " .. #shape, 3) end
  local receptive = 1
  for d = 3, #shape do receptive = receptive * shape[d] end
  return shape[2] * receptive, shape[1] * receptive
end

-- The recommended gain of torch.nn.init.calculate_gain.
function init.gain(nonlinearity, param)
  if nonlinearity == nil or nonlinearity == "linear" or nonlinearity == "sigmoid" then return 1 end
  if nonlinearity == "tanh" then return 5 / 3 end
  if nonlinearity == "relu" then return math.sqrt(2) end
  if nonlinearity == "leaky_relu" then
    local slope = param or 0.01
    return math.sqrt(2 / (1 + slope * slope))
  end
  if nonlinearity == "selu" then return 3 / 4 end
  error("init: unknown nonlinearity '" .. tostring(nonlinearity) .. "'", 3)
end

local function fill(t, values)
  core.no_grad(function() t:copy(values) end)
  return t
end

function init.uniform(t, lo, hi) return fill(t, core.rand_like(t) * ((hi or 1) - (lo or 0)) + (lo or 0)) end
function init.normal(t, mean, std) return fill(t, core.randn_like(t) * (std or 1) + (mean or 0)) end
function init.constant(t, v) return core.no_grad(function() return t:fill(v) end) end
function init.zeros(t) return init.constant(t, 0) end
function init.ones(t) return init.constant(t, 1) end

function init.xavier_uniform(t, gain)
  local fan_in, fan_out = init.fans(t)
  local bound = (gain or 1) * math.sqrt(6 / (fan_in + fan_out))
  return init.uniform(t, -bound, bound)
end

function init.xavier_normal(t, gain)
  local fan_in, fan_out = init.fans(t)
  return init.normal(t, 0, (gain or 1) * math.sqrt(2 / (fan_in + fan_out)))
end

-- opts: a (the negative slope, 0), mode ("fan_in" or "fan_out"), nonlinearity ("leaky_relu")
local function kaiming_std(t, opts)
  opts = opts or {}
  local fan_in, fan_out = init.fans(t)
  local fan = (opts.mode or "fan_in") == "fan_in" and fan_in or fan_out
  return init.gain(opts.nonlinearity or "leaky_relu", opts.a or 0) / math.sqrt(fan)
end

function init.kaiming_uniform(t, opts)
  local bound = math.sqrt(3) * kaiming_std(t, opts)
  return init.uniform(t, -bound, bound)
end

function init.kaiming_normal(t, opts) return init.normal(t, 0, kaiming_std(t, opts)) end

return init
