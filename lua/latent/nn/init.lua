-- latent.nn: layers (C userdata from latent.core) and Lua containers.
--
--   local nn = require "latent.nn"
--   local enc = nn.Sequential{ nn.Conv2d(1, 8, 3, {stride = 2, padding = 1}), nn.ReLU(), ... }
--   local y = enc(x)
--   for _, p in ipairs(enc:named_parameters()) do print(p[1], p[2].shape) end
local core = require "latent.core"
local module = require "latent.nn.module"

local nn = {}
nn.init = require "latent.nn.initializers"

module.install_on_layers(core.layer_methods)
for name, ctor in pairs(core.layers) do nn[name] = ctor end

-- ==================== Module: the base of Lua containers ====================

local Module = {}
Module.__index = Module
nn.Module = Module

for _, name in ipairs { "named_parameters", "parameters", "named_buffers", "state_dict",
  "load_state_dict", "freeze", "unfreeze", "num_parameters" } do
  Module[name] = module[name]
end

-- A new class: local Encoder = nn.Module:extend("Encoder"); function Encoder:forward(x) ... end
function Module:extend(name)
  local class = setmetatable({}, { __index = self })
  class.__index = class
  class.__name = name or "Module"
  class.__call = function(m, ...) return m:forward(...) end
  class.__tostring = Module.__tostring
  return class
end

-- An instance of a class: fields are free; children are registered with add.
function Module:new()
  return setmetatable({ _children = {}, training = true }, self)
end

-- m:add(name, child): registers a child under a name (also m[name]); returns child.
function Module:add(name, child)
  name = tostring(name)
  for _, c in ipairs(self._children) do
    if c[1] == name then error("add: a child named '" .. name .. "' already exists", 2) end
  end
  self._children[#self._children + 1] = { name, child }
  if rawget(self, name) == nil and not tonumber(name) then self[name] = child end
  return child
end

function Module:children() return self._children end
function Module:own_tensors() return self._params or {}, self._buffers or {} end

function Module:train(on)
  if on == nil then on = true end
  self.training = on
  for _, c in ipairs(self._children) do c[2]:train(on) end
  return self
end

function Module:eval() return self:train(false) end

function Module:forward() error((getmetatable(self).__name or "Module") .. ": no forward method", 2) end

function Module:__tostring()
  local lines = { (getmetatable(self).__name or "Module") .. "(" }
  for _, c in ipairs(self._children) do
    local inner = tostring(c[2]):gsub("\n", "\n  ")
    lines[#lines + 1] = "  (" .. c[1] .. "): " .. inner
  end
  if #lines == 1 then return lines[1] .. ")" end
  lines[#lines + 1] = ")"
  return table.concat(lines, "\n")
end

-- ==================== Sequential ====================

local Sequential = Module:extend("Sequential")
nn.Sequential = Sequential

-- The message of an error without its "file:line:" prefix.
local function bare(err)
  err = tostring(err)
  return (err:gsub("^[^:\n]+:%d+: ", ""))
end

-- nn.Sequential{layer, layer, ...}: children named "1", "2", ... in order.
setmetatable(Sequential, {
  __index = Module,
  __call = function(class, layers)
    if type(layers) ~= "table" then error("Sequential: expects a list of modules", 2) end
    local m = Module.new(class)
    for i, layer in ipairs(layers) do m:add(i, layer) end
    return m
  end,
})

function Sequential:forward(x)
  for i, c in ipairs(self._children) do
    local ok, y = pcall(c[2], x)
    if not ok then
      error(string.format("Sequential: layer %d (%s): %s", i, tostring(c[2]):match("^[^\n]*"), bare(y)), 3)
    end
    x = y
  end
  return x
end

function Sequential:__len() return #self._children end
Sequential.__index = function(m, k)
  if type(k) == "number" then local c = m._children[k]; return c and c[2] end
  return Sequential[k]
end

function Sequential:append(layer) return self:add(#self._children + 1, layer) end

-- ==================== helpers ====================

-- nn.parameters(m1, m2, ...): all their parameters in one list (for an optimizer).
function nn.parameters(...)
  local out = {}
  for i = 1, select("#", ...) do
    for _, p in ipairs(select(i, ...):parameters()) do out[#out + 1] = p end
  end
  return out
end

return nn
