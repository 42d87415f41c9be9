-- latent.optim: optimizers, learning-rate schedules and gradient clipping.
--
--   local optim = require "latent.optim"
--   local opt = optim.Adam(params, {lr = 1e-3, weight_decay = 1e-5})
--   local sched = optim.CosineAnnealingLR(opt, {T_max = epochs})
--   for epoch = 1, epochs do
--     for x in batches do
--       opt:zero_grad(); loss(x):backward()
--       optim.clip_grad_norm(params, 1.0)
--       opt:step()
--     end
--     sched:step()
--   end
--
-- The optimizers are C userdata (src/optim, src/lua/l_optim.c): SGD, RMSprop,
-- Adam, AdamW, matching torch.optim 1.13 element by element. They hold their
-- parameters (keeping them alive) and offer opt:step([closure]),
-- opt:zero_grad([set_to_none = true]), opt.lr (read/write) or opt:set_lr(x),
-- opt.type, opt:param_count(), opt:params(), and for checkpoints
-- opt:state_dict() -> tensors, meta (tensors = {["1.exp_avg"] = ...}: fresh
-- copies, safe to keep or change; meta = {type, step = {...}, lr, ...}) and
-- opt:load_state_dict(tensors, meta), which copies them back in; training then
-- continues bit for bit as if never interrupted. A parameter without a
-- gradient, or frozen (requires_grad = false), is skipped. The schedules are
-- small Lua objects that set opt.lr, with PyTorch's lr sequences (its chained,
-- recursive forms, so an lr changed by hand in between is taken into account
-- as PyTorch does).
local core = require "latent.core"
local C = core.optimizers

local optim = {
  SGD = C.SGD,
  RMSprop = C.RMSprop,
  Adam = C.Adam,
  AdamW = C.AdamW,
  -- clip_grad_norm(params, max_norm) -> the total 2-norm of the gradients
  -- before clipping; scales every gradient by max_norm / (total + 1e-6) when
  -- that is below 1 (torch.nn.utils.clip_grad_norm_). Parameters without a
  -- gradient are skipped.
  clip_grad_norm = C.clip_grad_norm,
}

function optim.is_optimizer(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  return mt and mt.__name == "latent.Optimizer" or false
end

-- ==================== option checking ====================

local function check_optimizer(who, opt)
  if not optim.is_optimizer(opt) then
    error(string.format("%s: argument 1 must be an optimizer, got %s", who, type(opt)), 3)
  end
end

-- Validates `opts` against `spec` = {name = {kind, default}} where kind is
-- "number", "integer", "positive integer" or {"choice1", "choice2"}; a
-- default of nil makes the option required. Returns a table of values.
local function read_options(who, opts, spec)
  if opts ~= nil and type(opts) ~= "table" then
    error(string.format("%s: options must be a table, got %s", who, type(opts)), 3)
  end
  opts = opts or {}
  local names = {}
  for name in pairs(spec) do names[#names + 1] = name end
  table.sort(names)
  for k in pairs(opts) do
    if spec[k] == nil then
      error(string.format("%s: unknown option '%s' (%s takes %s)", who, tostring(k), who,
        table.concat(names, ", ")), 3)
    end
  end
  local out = {}
  for _, name in ipairs(names) do
    local kind, default = spec[name][1], spec[name][2]
    local v = opts[name]
    if v == nil then v = default end
    if v == nil then error(string.format("%s: option '%s' is required", who, name), 3) end
    if type(kind) == "table" then
      local ok = false
      for _, c in ipairs(kind) do ok = ok or v == c end
      if not ok then
        error(string.format("%s: option '%s' must be one of '%s', got %s", who, name,
          table.concat(kind, "', '"), tostring(v)), 3)
      end
    elseif type(v) ~= "number" then
      error(string.format("%s: option '%s' must be a number, got %s", who, name, type(v)), 3)
    elseif kind ~= "number" then
      local i = math.tointeger(v)
      if not i or (kind == "positive integer" and i < 1) or i < 0 then
        error(string.format("%s: option '%s' must be a %s, got %s", who, name,
          kind == "integer" and "non-negative integer" or kind, tostring(v)), 3)
      end
      v = i
    end
    out[name] = v
  end
  return out
end

-- ==================== schedules ====================

-- The fields of a schedule that are its state (all but the optimizer).
local function state_dict(self)
  local s = {}
  for k, v in pairs(self) do if k ~= "optimizer" then s[k] = v end end
  return s
end

local function load_state_dict(self, s)
  for k, v in pairs(s) do if k ~= "optimizer" then self[k] = v end end
end

local function get_last_lr(self) return self.last_lr end

local function make_class(name)
  local class = {state_dict = state_dict, load_state_dict = load_state_dict, get_last_lr = get_last_lr}
  class.__index = class
  class.__name = "latent.optim." .. name
  class.__tostring = function(self)
    return string.format("%s(lr=%s, last_epoch=%d)", name, tostring(self.last_lr), self.last_epoch)
  end
  return class
end

-- StepLR(opt, {step_size, gamma = 0.1}): lr *= gamma every step_size steps.
local StepLR = make_class("StepLR")

function optim.StepLR(opt, opts)
  check_optimizer("StepLR", opt)
  local o = read_options("StepLR", opts, {step_size = {"positive integer"}, gamma = {"number", 0.1}})
  return setmetatable({optimizer = opt, step_size = o.step_size, gamma = o.gamma, last_epoch = 0,
                       base_lr = opt.lr, last_lr = opt.lr}, StepLR)
end

function StepLR:step()
  self.last_epoch = self.last_epoch + 1
  if self.last_epoch % self.step_size == 0 then self.optimizer.lr = self.optimizer.lr * self.gamma end
  self.last_lr = self.optimizer.lr
  return self.last_lr
end

-- CosineAnnealingLR(opt, {T_max, eta_min = 0}): half a cosine from the
-- initial lr down to eta_min over T_max steps, then back up (PyTorch's
-- recursive form, not the closed form; the two differ by rounding only).
local Cosine = make_class("CosineAnnealingLR")

function optim.CosineAnnealingLR(opt, opts)
  check_optimizer("CosineAnnealingLR", opt)
  local o = read_options("CosineAnnealingLR", opts, {T_max = {"positive integer"}, eta_min = {"number", 0}})
  return setmetatable({optimizer = opt, T_max = o.T_max, eta_min = o.eta_min, last_epoch = 0,
                       base_lr = opt.lr, last_lr = opt.lr}, Cosine)
end

function Cosine:step()
  self.last_epoch = self.last_epoch + 1
  local e, T, eta_min, lr = self.last_epoch, self.T_max, self.eta_min, self.optimizer.lr
  local new
  if (e - 1 - T) % (2 * T) == 0 then
    new = lr + (self.base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
  else
    new = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - eta_min) + eta_min
  end
  self.optimizer.lr = new
  self.last_lr = new
  return new
end

-- ReduceLROnPlateau(opt, {mode = "min", factor = 0.1, patience = 10,
-- threshold = 1e-4, threshold_mode = "rel", cooldown = 0, min_lr = 0,
-- eps = 1e-8}): sched:step(metric) multiplies lr by factor after more than
-- `patience` steps without improvement.
local Plateau = make_class("ReduceLROnPlateau")

function optim.ReduceLROnPlateau(opt, opts)
  check_optimizer("ReduceLROnPlateau", opt)
  local o = read_options("ReduceLROnPlateau", opts, {
    mode = {{"min", "max"}, "min"}, factor = {"number", 0.1}, patience = {"integer", 10},
    threshold = {"number", 1e-4}, threshold_mode = {{"rel", "abs"}, "rel"}, cooldown = {"integer", 0},
    min_lr = {"number", 0}, eps = {"number", 1e-8}})
  if not (o.factor < 1) then error("ReduceLROnPlateau: factor must be < 1, got " .. tostring(o.factor), 2) end
  o.optimizer = opt
  o.best = o.mode == "min" and math.huge or -math.huge
  o.num_bad_epochs, o.cooldown_counter, o.last_epoch, o.last_lr = 0, 0, 0, opt.lr
  return setmetatable(o, Plateau)
end

function Plateau:is_better(a)
  local best, th = self.best, self.threshold
  if self.mode == "min" then
    if self.threshold_mode == "rel" then return a < best * (1 - th) end
    return a < best - th
  end
  if self.threshold_mode == "rel" then return a > best * (th + 1) end
  return a > best + th
end

function Plateau:step(metric)
  if type(metric) ~= "number" then
    if core.is_tensor(metric) and metric:numel() == 1 then
      metric = metric:item()
    else
      error("ReduceLROnPlateau:step: metric must be a number, got " .. type(metric), 2)
    end
  end
  self.last_epoch = self.last_epoch + 1
  if self:is_better(metric) then
    self.best, self.num_bad_epochs = metric, 0
  else
    self.num_bad_epochs = self.num_bad_epochs + 1
  end
  if self.cooldown_counter > 0 then
    self.cooldown_counter = self.cooldown_counter - 1
    self.num_bad_epochs = 0 -- bad steps during cooldown do not count
  end
  if self.num_bad_epochs > self.patience then
    local old = self.optimizer.lr
    local new = math.max(old * self.factor, self.min_lr)
    if old - new > self.eps then self.optimizer.lr = new end
    self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
  end
  self.last_lr = self.optimizer.lr
  return self.last_lr
end

return optim
