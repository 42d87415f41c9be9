-- lt.fit: a training loop with validation, early stopping, best-weight
-- restoring, per-epoch checkpoints that resume bit for bit, progress output
-- and callbacks (docs/training.md).
--
--   local result = lt.fit{
--     model = {encoder = enc, decoder = dec}, optimizer = opt, train = tr, val = va,
--     loss = function(x, y) return lt.mse(dec(enc(x)), x) end,
--     batch_size = 250, max_epochs = 100, patience = 5, run = lt.run.new{task = "ae"}}
--   print(result.best_epoch, result.best_val_loss, #result.history)
--
-- It is a convenience, not a cage: everything it does is a few lines of the
-- same pieces (ds:batches, opt:step, lt.checkpoint, lt.progress), and the
-- loop below is meant to be copied into a script and changed there.
local core = require "latent.core"
local nn = require "latent.nn"
local optim = require "latent.optim"
local checkpoint = require "latent.checkpoint"
local progress = require "latent.progress"
local run_mod = require "latent.run"

-- In a checkpoint the best weights so far sit beside the live ones under this
-- prefix, so one atomic file holds everything a resume needs.
local BEST = "~best."

local function fail(fmt, ...) error("fit: " .. string.format(fmt, ...), 0) end

-- ==================== options ====================

local DEFAULTS = {batch_size = 250, max_epochs = 100, min_delta = 0, restore_best = true,
                  checkpoint_every = 1, resume = true, progress = "auto"}
local KNOWN = {model = 1, optimizer = 1, train = 1, val = 1, loss = 1, batch_size = 1, max_epochs = 1,
               patience = 1, min_delta = 1, restore_best = 1, seed = 1, scheduler = 1, clip_grad_norm = 1,
               run = 1, checkpoint_every = 1, resume = 1, callbacks = 1, progress = 1}

local function expect(cond, fmt, ...) if not cond then fail(fmt, ...) end end

local function has_method(obj, name)
  local ok, f = pcall(function() return obj[name] end)
  if not ok then return false end
  return type(f) == "function" or (type(f) == "table" and getmetatable(f) ~= nil and getmetatable(f).__call ~= nil)
end

local function is_dataset(ds)
  return (type(ds) == "table" or type(ds) == "userdata") and has_method(ds, "batches")
    and pcall(function() return #ds end)
end

local function is_module(m) return has_method(m, "state_dict") and has_method(m, "train") end

local function positive_int(o, name)
  local v = math.type(o[name]) == "float" and math.tointeger(o[name]) or o[name]
  expect(math.type(v) == "integer" and v >= 1, "option '%s' must be a positive integer, got %s", name, tostring(o[name]))
  o[name] = v
end

-- A module, or a list / name table of modules made into one module whose
-- children they are ("1", "2", ... or their names), so one state_dict holds them.
local Models = nn.Module:extend("Models")
local function as_module(model)
  if is_module(model) then return model end
  expect(type(model) == "table" and getmetatable(model) == nil and next(model) ~= nil,
    "option 'model' must be a module or a table of modules, got %s", type(model))
  local group, names = Models:new(), {}
  for k in pairs(model) do names[#names + 1] = k end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  if #model == #names then names = {} for i = 1, #model do names[i] = i end end
  for _, k in ipairs(names) do
    expect(is_module(model[k]), "option 'model': entry %s is not a module", tostring(k))
    group:add(k, model[k])
  end
  return group
end

-- The model, optimizer, loss and data sets.
local function check_parts(o)
  expect(o.model ~= nil, "option 'model' is required")
  o.model = as_module(o.model)
  expect(optim.is_optimizer(o.optimizer), "option 'optimizer' must be an optimizer, got %s", type(o.optimizer))
  expect(type(o.loss) == "function", "option 'loss' must be a function (x, y) -> loss tensor, got %s", type(o.loss))
  expect(is_dataset(o.train), "option 'train' must be a data set (with #ds and ds:batches), got %s", type(o.train))
  expect(#o.train >= 1, "option 'train': the data set is empty")
  expect(o.val == nil or is_dataset(o.val), "option 'val' must be a data set, got %s", type(o.val))
  expect(o.val == nil or #o.val >= 1, "option 'val': the data set is empty")
end

-- Numbers and switches.
local function check_settings(o)
  positive_int(o, "batch_size"); positive_int(o, "max_epochs"); positive_int(o, "checkpoint_every")
  if o.patience ~= nil then
    positive_int(o, "patience")
    expect(o.val ~= nil, "option 'patience' needs a validation set (option 'val')")
  end
  expect(type(o.min_delta) == "number" and o.min_delta >= 0, "option 'min_delta' must be a number >= 0, got %s",
    tostring(o.min_delta))
  expect(o.seed == nil or math.type(o.seed) == "integer", "option 'seed' must be an integer, got %s", tostring(o.seed))
  local clip = o.clip_grad_norm
  expect(clip == nil or (type(clip) == "number" and clip > 0), "option 'clip_grad_norm' must be a positive number, got %s",
    tostring(clip))
  for _, name in ipairs{"restore_best", "resume"} do
    expect(type(o[name]) == "boolean", "option '%s' must be a boolean, got %s", name, type(o[name]))
  end
end

-- Scheduler, run folder, callbacks, progress.
local function check_extras(o)
  expect(o.scheduler == nil or has_method(o.scheduler, "step"), "option 'scheduler' has no step method")
  expect(o.run == nil or run_mod.is_run(o.run), "option 'run' must be a run folder from lt.run.new or lt.run.open")
  o.callbacks = o.callbacks or {}
  expect(type(o.callbacks) == "table", "option 'callbacks' must be a table, got %s", type(o.callbacks))
  for k, f in pairs(o.callbacks) do
    expect(k == "on_epoch_end" or k == "on_batch_end", "unknown callback '%s' (on_epoch_end, on_batch_end)", tostring(k))
    expect(type(f) == "function", "callback '%s' must be a function, got %s", k, type(f))
  end
  expect(o.progress == "auto" or o.progress == false or type(o.progress) == "table",
    "option 'progress' must be \"auto\", false or a table of lt.progress options, got %s", tostring(o.progress))
end

local function check(opts)
  expect(type(opts) == "table", "expects a table of options, got %s", type(opts))
  local o = {}
  for k, v in pairs(opts) do
    expect(KNOWN[k], "unknown option '%s'", tostring(k))
    o[k] = v
  end
  for k, v in pairs(DEFAULTS) do if o[k] == nil then o[k] = v end end
  check_parts(o)
  check_settings(o)
  check_extras(o)
  return o
end

-- ==================== one epoch ====================

local function scalar(loss, where)
  if not core.is_tensor(loss) or loss:numel() ~= 1 then
    fail("the loss function must return a one-element tensor (%s), got %s", where,
      core.is_tensor(loss) and ("a tensor of size " .. table.concat(loss.shape, "x")) or type(loss))
  end
  return loss
end

local function new_bar(o, label, total)
  if o.progress == false then return nil end
  local opts = {label = label, total = total}
  if type(o.progress) == "table" then for k, v in pairs(o.progress) do opts[k] = v end end
  return progress.new(opts)
end

-- Trains one epoch; returns the sample-weighted mean loss, the number of
-- samples and the seconds spent.
local function train_epoch(o, state, epoch, bar)
  local model, opt = o.model, o.optimizer
  local batches = (#o.train + o.batch_size - 1) // o.batch_size
  local sum, n, j, t0 = 0, 0, 0, core.clock()
  model:train()
  for x, y in o.train:batches{size = o.batch_size, shuffle = true, seed = state.seed, epoch = epoch} do
    local loss = scalar(o.loss(x, y), "training")
    opt:zero_grad()
    loss:backward()
    if o.clip_grad_norm then optim.clip_grad_norm(opt:params(), o.clip_grad_norm) end
    opt:step()
    local b, value = x.shape[1], loss:item()
    sum, n, j = sum + value * b, n + b, j + 1
    if bar then bar:update(j, {loss = sum / n, samples = n}) end
    if o.callbacks.on_batch_end then
      o.callbacks.on_batch_end{epoch = epoch, batch = j, batches = batches, loss = value, size = b, model = model,
                               optimizer = opt}
    end
  end
  return sum / n, n, core.clock() - t0
end

-- The sample-weighted mean loss over a data set, in eval mode without a graph.
local function evaluate(o, ds)
  o.model:eval()
  local sum, n = 0, 0
  core.no_grad(function()
    for x, y in ds:batches{size = o.batch_size, shuffle = false} do
      local b = x.shape[1]
      sum, n = sum + scalar(o.loss(x, y), "validation"):item() * b, n + b
    end
  end)
  o.model:train()
  return sum / n
end

-- ==================== best weights and checkpoints ====================

local function clone_state(model)
  local out = {}
  core.no_grad(function()
    for name, t in pairs(model:state_dict()) do out[name] = t:detach():clone() end
  end)
  return out
end

-- What lt.checkpoint saves as the "model": the live tensors plus the best
-- ones under BEST; loading splits them again (into holder.best).
local function saved_model(model, holder)
  return {
    state_dict = function()
      local sd = model:state_dict()
      for name, t in pairs(holder.best or {}) do sd[BEST .. name] = t end
      return sd
    end,
    load_state_dict = function(_, tensors)
      local live, best = {}, nil
      for name, t in pairs(tensors) do
        if name:sub(1, #BEST) == BEST then best = best or {}; best[name:sub(#BEST + 1)] = t else live[name] = t end
      end
      model:load_state_dict(live)
      holder.best = best
    end,
  }
end

local function save(o, state, holder)
  local extra = {fit = state}
  if o.scheduler and has_method(o.scheduler, "state_dict") then extra.scheduler = o.scheduler:state_dict() end
  local model = saved_model(o.model, holder)
  checkpoint.save(o.run:checkpoint_path(), {model = model, optimizer = o.optimizer, extra = extra})
end

-- best.safetensors: the best weights alone, as a latent checkpoint without a
-- generator state (loading plain weights should not reseed anything).
local function save_best(o, state, best)
  local tensors = {}
  for name, t in pairs(best) do tensors["model." .. name] = t end
  local extra = core.json_encode{epoch = state.best_epoch, val_loss = state.best_val_loss}
  core.save_tensors(o.run:path("best.safetensors"), tensors,
    {format = checkpoint.FORMAT, format_version = checkpoint.VERSION, extra = extra})
end

local function resume(o, holder, say)
  local path = o.run:checkpoint_path()
  local f = io.open(path, "rb")
  if not f then return nil end
  f:close()
  local extra = checkpoint.load(path, {model = saved_model(o.model, holder), optimizer = o.optimizer})
  local state = extra.fit
  if type(state) ~= "table" then fail("%s was not written by lt.fit (no fit state in it)", path) end
  if state.batch_size ~= o.batch_size then
    fail("%s was trained with batch_size %s; resuming with %d would not repeat it", path,
      tostring(state.batch_size), o.batch_size)
  end
  if o.scheduler and extra.scheduler then o.scheduler:load_state_dict(extra.scheduler) end
  state.history = state.history or {}
  -- Epochs after the checkpoint run again, and log themselves again.
  o.run:filter_log(function(e) return type(e.epoch) ~= "number" or e.epoch <= state.epoch end)
  say(string.format("resuming %s after epoch %d", path, state.epoch))
  return state
end

-- ==================== the loop ====================

-- After an epoch: the best so far (and its weights), the bad-epoch count.
local function track_best(o, state, holder, val_loss)
  if not val_loss then return false end
  if val_loss < state.best_val_loss - o.min_delta then
    state.best_epoch, state.best_val_loss, state.bad_epochs = state.epoch, val_loss, 0
    if o.restore_best or o.run then holder.best = clone_state(o.model) end
    return true
  end
  state.bad_epochs = state.bad_epochs + 1
  return false
end

local function step_scheduler(o, entry)
  local mt = getmetatable(o.scheduler)
  if mt and mt.__name == "latent.optim.ReduceLROnPlateau" then
    o.scheduler:step(entry.val_loss or entry.train_loss)
  else
    o.scheduler:step()
  end
end

local function stop_reason(o, state, entry)
  if entry.train_loss ~= entry.train_loss or math.abs(entry.train_loss) == math.huge then return "non-finite loss" end
  if o.patience and state.bad_epochs >= o.patience then return "patience" end
  if state.epoch >= o.max_epochs then return "max_epochs" end
end

local function epoch_end_callback(o, state, entry, improved)
  local info = {model = o.model, optimizer = o.optimizer, run = o.run, best_epoch = state.best_epoch,
                best_val_loss = state.best_val_loss, improved = improved}
  for k, v in pairs(entry) do info[k] = v end
  return o.callbacks.on_epoch_end(info) == "stop"
end

local function result(state)
  return {history = state.history, best_epoch = state.best_epoch,
          best_val_loss = state.best_epoch and state.best_val_loss,
          stopped_early = state.stop_reason ~= "max_epochs", stop_reason = state.stop_reason,
          epochs_run = #state.history, seed = state.seed}
end

-- lt.fit{...} -> {history, best_epoch, best_val_loss, stopped_early, stop_reason, epochs_run, seed}
return function(opts)
  local o = check(opts)
  local holder = {} -- holder.best: clones of the best weights so far
  local printer = new_bar(o, "", nil)
  local state = o.run and o.resume and resume(o, holder, function(text) if printer then printer:print(text) end end)
  if not state then
    state = {epoch = 0, history = {}, best_val_loss = math.huge, bad_epochs = 0, batch_size = o.batch_size,
             seed = o.seed or math.tointeger(core.randint(0, 2 ^ 24 - 1, 1):item())}
    -- A fresh start in a used folder (resume = false): the old epochs' lines go.
    if o.run and o.run:exists("log.jsonl") then o.run:filter_log(function(e) return e.epoch == nil end) end
  end
  local best_saved = state.best_epoch
  while not state.stop_reason do
    local epoch, t0 = state.epoch + 1, core.clock()
    local batches = (#o.train + o.batch_size - 1) // o.batch_size
    local bar = new_bar(o, string.format("epoch %d/%d", epoch, o.max_epochs), batches)
    local train_loss, n, train_s = train_epoch(o, state, epoch, bar)
    local entry = {epoch = epoch, train_loss = train_loss, val_loss = o.val and evaluate(o, o.val), lr = o.optimizer.lr}
    entry.seconds, entry.samples_per_s = core.clock() - t0, n / math.max(train_s, 1e-9)
    state.history[#state.history + 1], state.epoch = entry, epoch
    local improved = track_best(o, state, holder, entry.val_loss)
    if o.scheduler then step_scheduler(o, entry) end
    state.stop_reason = stop_reason(o, state, entry)
    if bar then bar:finish(progress.epoch_line(entry, o.max_epochs, improved)) end
    if o.callbacks.on_epoch_end and epoch_end_callback(o, state, entry, improved) then
      state.stop_reason = state.stop_reason or "callback"
    end
    if o.run then
      o.run:log(entry) -- before the checkpoint: a run killed in between drops this line on resume
      if epoch % o.checkpoint_every == 0 or state.stop_reason then
        save(o, state, holder)
        if holder.best and best_saved ~= state.best_epoch then save_best(o, state, holder.best) end
        best_saved = state.best_epoch
      end
    end
  end
  if not state.done then
    if o.restore_best and holder.best then o.model:load_state_dict(holder.best) end
    state.done = true
    if o.run then save(o, state, holder) end
  end
  return result(state)
end
