-- Checkpoints: a model's tensors, an optimizer's state, the generator state
-- and your own values in one safetensors file (docs/checkpoints.md).
--
--   local checkpoint = require "latent.checkpoint"
--   checkpoint.save("run/model.safetensors", {model = m, optimizer = opt, extra = {epoch = 3}})
--   local extra = checkpoint.load("run/model.safetensors", {model = m, optimizer = opt})
--   local report = checkpoint.load_partial("ae.safetensors", classifier,
--                                          {prefix = "encoder.", target_prefix = "features."})
--
-- A model is anything with m:state_dict() -> {name = tensor} and
-- m:load_state_dict(tensors, {strict = bool}); an optimizer anything with
-- opt:state_dict() -> tensors, meta and opt:load_state_dict(tensors, meta).
-- Writes are atomic: a failed or interrupted save leaves any earlier file
-- under the same name as it was.
local core = require "latent.core"

local checkpoint = {}

checkpoint.FORMAT = "latent-checkpoint"
checkpoint.VERSION = "1"

local function fail(fn, path, fmt, ...)
  error(string.format("checkpoint.%s: %s: " .. fmt, fn, path, ...), 0)
end

-- Calls f(...) and re-raises its error as "checkpoint.<fn>: <path>: <what>: <message>".
local function guarded(fn, path, what, f, ...)
  local res = table.pack(pcall(f, ...))
  if not res[1] then
    local msg = tostring(res[2]):gsub("^load_tensors: ", ""):gsub("^save_tensors: ", "")
    if what then fail(fn, path, "%s: %s", what, msg) end
    error(string.format("checkpoint.%s: %s", fn, msg), 0)
  end
  return table.unpack(res, 2, res.n)
end

local function has_method(obj, name)
  local ok, f = pcall(function() return obj[name] end)
  if not ok or f == nil then return false end
  if type(f) == "function" then return true end
  local mt = getmetatable(f)
  return type(mt) == "table" and mt.__call ~= nil
end

local function check_path(fn, path)
  if type(path) ~= "string" then
    error(string.format("checkpoint.%s: the path must be a string, got %s", fn, type(path)), 0)
  end
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- checkpoint.save(path, {model = m, optimizer = opt, extra = value})
-- Every field is optional. extra is any value lt.json_encode takes (numbers,
-- strings, booleans, nested tables); integers stay integers and floats come
-- back bit for bit.
function checkpoint.save(path, state)
  check_path("save", path)
  if type(state) ~= "table" then fail("save", path, "the state must be a table {model = ..., optimizer = ..., extra = ...}") end
  for k in pairs(state) do
    if k ~= "model" and k ~= "optimizer" and k ~= "extra" then
      fail("save", path, "unknown field '%s' (expected model, optimizer, extra)", tostring(k))
    end
  end
  local tensors = {}
  local meta = { format = checkpoint.FORMAT, format_version = checkpoint.VERSION,
                 latent_version = (package.loaded["latent"] or {}).version or "unknown",
                 rng_state = core.rng_state() }
  if state.model ~= nil then
    if not has_method(state.model, "state_dict") then fail("save", path, "the model has no state_dict method") end
    for name, t in pairs(state.model:state_dict()) do tensors["model." .. name] = t end
  end
  if state.optimizer ~= nil then
    if not has_method(state.optimizer, "state_dict") then fail("save", path, "the optimizer has no state_dict method") end
    local ot, om = state.optimizer:state_dict()
    for key, t in pairs(ot or {}) do tensors["optim." .. key] = t end
    meta.optimizer = guarded("save", path, "optimizer state", core.json_encode, om or {})
  end
  if state.extra ~= nil then meta.extra = guarded("save", path, "extra", core.json_encode, state.extra) end
  guarded("save", path, nil, core.save_tensors, path, tensors, meta)
end

-- Checks that a file's metadata is a checkpoint this version understands and
-- splits its tensors into {model = {...}, optim = {...}} by their prefix.
local function split(fn, path, tensors, meta)
  if meta.format == nil then
    fail(fn, path, "not a latent checkpoint (no 'format' in its metadata; lt.load_tensors reads any safetensors file)")
  end
  if meta.format ~= checkpoint.FORMAT then
    fail(fn, path, "not a latent checkpoint (its format is '%s')", meta.format)
  end
  if meta.format_version ~= checkpoint.VERSION then
    fail(fn, path, "checkpoint format version %s is not supported (this latent reads version %s)",
      tostring(meta.format_version), checkpoint.VERSION)
  end
  local parts = { model = {}, optim = {} }
  for _, name in ipairs(sorted_keys(tensors)) do
    local group, rest = name:match("^(%a+)%.(.*)$")
    if not parts[group] then
      fail(fn, path, "unexpected tensor '%s' (a checkpoint holds model.* and optim.* tensors)", name)
    end
    parts[group][rest] = tensors[name]
  end
  return parts
end

local function read(fn, path)
  check_path(fn, path)
  local tensors, meta = guarded(fn, path, nil, core.load_tensors, path)
  return tensors, meta
end

-- checkpoint.load(path, {model = m, optimizer = opt, strict = true, rng = true}) -> extra
-- Loads what is asked for: the model's tensors (every one, unless strict =
-- false), the optimizer's state, and the generator state (unless rng = false).
-- Returns the extra value saved with the checkpoint ({} if none).
function checkpoint.load(path, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("checkpoint.load: options must be a table {model = ..., optimizer = ...}", 0) end
  local tensors, meta = read("load", path)
  local parts = split("load", path, tensors, meta)
  if opts.model ~= nil then
    if not has_method(opts.model, "load_state_dict") then fail("load", path, "the model has no load_state_dict method") end
    guarded("load", path, "model", opts.model.load_state_dict, opts.model, parts.model, { strict = opts.strict ~= false })
  end
  if opts.optimizer ~= nil then
    if meta.optimizer == nil then fail("load", path, "it holds no optimizer state") end
    if not has_method(opts.optimizer, "load_state_dict") then
      fail("load", path, "the optimizer has no load_state_dict method")
    end
    local om = guarded("load", path, "optimizer metadata", core.json_decode, meta.optimizer)
    guarded("load", path, "optimizer", opts.optimizer.load_state_dict, opts.optimizer, parts.optim, om)
  end
  if opts.rng ~= false and meta.rng_state ~= nil then
    guarded("load", path, "generator state", core.set_rng_state, meta.rng_state)
  end
  if meta.extra == nil then return {} end
  return guarded("load", path, "extra", core.json_decode, meta.extra)
end

-- checkpoint.load_partial(path, model, {prefix = "encoder.", target_prefix = "", strict = false})
--   -> {loaded = {...}, missing = {...}, unexpected = {...}}
-- Loads the saved model tensors whose names start with `prefix` into the
-- model's tensors named target_prefix .. (the rest of the name): with
-- prefix = "encoder." and target_prefix = "", "encoder.0.weight" goes to
-- "0.weight". Names in the report are the model's: loaded, missing (the
-- model's names under target_prefix that got nothing); unexpected lists the
-- file's names (under prefix) that the model lacks. strict = true makes
-- anything missing or unexpected an error. Sizes must match. The file may
-- also be a plain safetensors file (say from PyTorch's
-- safetensors.torch.save_file, whose metadata may say format "pt"): then every
-- tensor counts as a model tensor, under its own name.
function checkpoint.load_partial(path, model, opts)
  opts = opts or {}
  local prefix, target = opts.prefix or "", opts.target_prefix or ""
  if type(prefix) ~= "string" or type(target) ~= "string" then
    error("checkpoint.load_partial: prefix and target_prefix must be strings", 0)
  end
  if not (has_method(model, "state_dict") and has_method(model, "load_state_dict")) then
    error("checkpoint.load_partial: the model needs state_dict and load_state_dict methods", 0)
  end
  local tensors, meta = read("load_partial", path)
  local saved = meta.format ~= checkpoint.FORMAT and tensors or split("load_partial", path, tensors, meta).model
  local own = model:state_dict()
  local report, chosen = { loaded = {}, missing = {}, unexpected = {} }, {}
  for _, name in ipairs(sorted_keys(saved)) do
    if name:sub(1, #prefix) == prefix then
      local to = target .. name:sub(#prefix + 1)
      local dst, src = own[to], saved[name]
      if dst == nil then
        report.unexpected[#report.unexpected + 1] = name
      else
        if table.concat(dst.shape, "x") ~= table.concat(src.shape, "x") then
          fail("load_partial", path, "'%s' has size %s in the file, but '%s' has size %s in the model", name,
            table.concat(src.shape, "x"), to, table.concat(dst.shape, "x"))
        end
        chosen[to] = src
        report.loaded[#report.loaded + 1] = to
      end
    end
  end
  for _, name in ipairs(sorted_keys(own)) do
    if name:sub(1, #target) == target and chosen[name] == nil then report.missing[#report.missing + 1] = name end
  end
  if #report.loaded == 0 then
    fail("load_partial", path, "no saved tensor matches prefix '%s' and the model's names", prefix)
  end
  if opts.strict and (#report.missing > 0 or #report.unexpected > 0) then
    fail("load_partial", path, "missing %s; unexpected %s",
      #report.missing > 0 and table.concat(report.missing, ", ") or "none",
      #report.unexpected > 0 and table.concat(report.unexpected, ", ") or "none")
  end
  guarded("load_partial", path, "model", model.load_state_dict, model, chosen, { strict = false })
  return report
end

return checkpoint
