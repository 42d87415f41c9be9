-- What every module does, whether a C layer (latent.Layer userdata) or a Lua
-- container: walk its tree of parameters and buffers with stable names
-- ("encoder.3.weight"), switch train/eval, freeze, save and load state.
--
-- A module provides two primitives: children() -> ordered {{name, module}...}
-- and own_tensors() -> ordered {{name, param}...}, {{name, buffer}...}.
-- Everything here is written in terms of those two.
local core = require "latent.core"

local M = {}

local function join(prefix, name) return prefix == "" and name or prefix .. "." .. name end

-- Calls visit(full_name, tensor, is_param) over the tree in a fixed order:
-- a module's own tensors first, then its children in order.
local function walk(m, prefix, visit)
  local params, buffers = m:own_tensors()
  for _, p in ipairs(params) do visit(join(prefix, p[1]), p[2], true) end
  for _, b in ipairs(buffers) do visit(join(prefix, b[1]), b[2], false) end
  for _, c in ipairs(m:children()) do walk(c[2], join(prefix, c[1]), visit) end
end

-- m:named_parameters() -> ordered list of {name, tensor}
function M.named_parameters(m, prefix)
  local out = {}
  walk(m, prefix or "", function(name, t, is_param) if is_param then out[#out + 1] = { name, t } end end)
  return out
end

function M.parameters(m)
  local out = {}
  walk(m, "", function(_, t, is_param) if is_param then out[#out + 1] = t end end)
  return out
end

function M.named_buffers(m, prefix)
  local out = {}
  walk(m, prefix or "", function(name, t, is_param) if not is_param then out[#out + 1] = { name, t } end end)
  return out
end

-- m:state_dict() -> {name = tensor}: parameters and buffers (the live tensors, not copies)
function M.state_dict(m)
  local out = {}
  walk(m, "", function(name, t) out[name] = t end)
  return out
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- m:load_state_dict(tensors [, {strict = true}]) copies values into the
-- module's tensors by name. Returns {loaded = {...}, missing = {...},
-- unexpected = {...}}; with strict (the default) anything missing or
-- unexpected is an error. A size mismatch is always an error.
function M.load_state_dict(m, tensors, opts)
  local strict = not (opts and opts.strict == false)
  local own = M.state_dict(m)
  local report = { loaded = {}, missing = {}, unexpected = {} }
  for _, name in ipairs(sorted_keys(own)) do
    local src = tensors[name]
    if src == nil then
      report.missing[#report.missing + 1] = name
    else
      local dst = own[name]
      if table.concat(dst.shape, "x") ~= table.concat(src.shape, "x") then
        error(string.format("load_state_dict: '%s' has size %s in the module and %s in the state", name,
          table.concat(dst.shape, "x"), table.concat(src.shape, "x")), 2)
      end
      core.no_grad(function() dst:copy(src) end)
      report.loaded[#report.loaded + 1] = name
    end
  end
  for _, name in ipairs(sorted_keys(tensors)) do
    if own[name] == nil then report.unexpected[#report.unexpected + 1] = name end
  end
  if strict and (#report.missing > 0 or #report.unexpected > 0) then
    error(string.format("load_state_dict: missing %s; unexpected %s",
      #report.missing > 0 and table.concat(report.missing, ", ") or "none",
      #report.unexpected > 0 and table.concat(report.unexpected, ", ") or "none"), 2)
  end
  return report
end

local function set_requires_grad(m, prefix, on)
  local n = 0
  for _, p in ipairs(M.named_parameters(m)) do
    local name, t = p[1], p[2]
    if prefix == nil or name == prefix or name:sub(1, #prefix + 1) == prefix .. "." then
      t.requires_grad = on
      if not on then t.grad = nil end
      n = n + 1
    end
  end
  if prefix and n == 0 then error("freeze: no parameter named '" .. prefix .. "' or below it", 3) end
  return m
end

-- m:freeze([prefix]): its parameters (or those at or below `prefix`, e.g.
-- "1" for the first child) get no gradient and so no update.
function M.freeze(m, prefix) return set_requires_grad(m, prefix, false) end
function M.unfreeze(m, prefix) return set_requires_grad(m, prefix, true) end

function M.num_parameters(m)
  local n = 0
  for _, t in ipairs(M.parameters(m)) do n = n + t:numel() end
  return n
end

-- The methods a C layer gets (it has no children).
function M.install_on_layers(methods)
  methods.children = function() return {} end
  for _, name in ipairs { "named_parameters", "parameters", "named_buffers", "state_dict",
    "load_state_dict", "freeze", "unfreeze", "num_parameters" } do
    methods[name] = M[name]
  end
end

return M
