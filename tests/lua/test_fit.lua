-- lt.fit and lt.run: loss bookkeeping, early stopping on a scripted
-- validation sequence, best weights restored, a run killed mid-epoch and
-- resumed in a fresh process ending bit for bit where an uninterrupted run
-- ends, run folder contents, and errors for bad arguments.
local H = require "harness"
local lt = require "latent"
local nn = lt.nn

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))

-- ==================== data and models ====================

local function dataset(x, y) return lt.data.from_tensor(x, y) end

-- All of a data set's images as one batch (they went through uint8).
local function all_of(ds)
  local idx = {}
  for i = 1, #ds do idx[i] = i end
  return (ds:get(idx))
end

local function images(n) return lt.rand(n, 1, 2, 2) end

local function tiny()
  local model = nn.Sequential{nn.Flatten(), nn.Linear(4, 3), nn.Tanh(), nn.Dropout(0.25), nn.Linear(3, 4)}
  local function loss(x) return lt.mse(model(x), x:reshape(x.shape[1], 4)) end
  return model, loss
end

local function snapshot(model)
  local out = {}
  for name, t in pairs(model:state_dict()) do out[name] = t:detach():clone() end
  return out
end

local function same_weights(a, b)
  for name, t in pairs(a) do
    if not b[name] then return false end
    local fa, fb = t:view(-1):totable(), b[name]:contiguous():view(-1):totable()
    for i = 1, #fa do if fa[i] ~= fb[i] then return false end end
  end
  return true
end

local function quiet(o)
  if o.progress == nil then o.progress = false end
  return lt.fit(o)
end

-- ==================== losses ====================

H.test("train and val loss are sample-weighted means over uneven batches", function()
  local model, loss = tiny()
  model:eval() -- no dropout, so one full batch gives the reference
  local tr, va = dataset(images(10)), dataset(images(7))
  local want_tr = lt.no_grad(function() return loss(all_of(tr)):item() end)
  local want_va = lt.no_grad(function() return loss(all_of(va)):item() end)
  local sizes = {}
  local opt = lt.optim.SGD(model:parameters(), {lr = 0}) -- lr 0: the weights stay put
  model:train()
  local r = quiet{model = model, optimizer = opt, train = tr, val = va, batch_size = 4,
    max_epochs = 2, seed = 3, loss = function(x)
      if lt.is_grad_enabled() then model:eval() end -- dropout off in training too, to compare
      return loss(x)
    end,
    callbacks = {on_batch_end = function(info) sizes[#sizes + 1] = info.size end}}
  H.eq(sizes, {4, 4, 2, 4, 4, 2})
  H.eq(r.epochs_run, 2)
  H.eq(#r.history, 2)
  for e = 1, 2 do
    local h = r.history[e]
    H.eq(h.epoch, e)
    H.close(h.train_loss, want_tr, 1e-6, 1e-5, "train loss")
    H.close(h.val_loss, want_va, 1e-6, 1e-5, "val loss")
    H.ok(h.seconds >= 0 and h.samples_per_s > 0, "timing fields")
    H.eq(h.lr, 0)
  end
  H.eq(r.stop_reason, "max_epochs")
  H.eq(r.stopped_early, false)
  H.eq(r.seed, 3)
end)

H.test("training lowers the loss; no val set means no best epoch", function()
  local model, loss = tiny()
  local opt = lt.optim.Adam(model:parameters(), {lr = 0.05})
  local r = quiet{model = model, optimizer = opt, train = dataset(images(64)), batch_size = 16, max_epochs = 15,
    loss = loss}
  H.ok(r.history[15].train_loss < r.history[1].train_loss * 0.7,
    string.format("loss %g -> %g", r.history[1].train_loss, r.history[15].train_loss))
  H.eq(r.best_epoch, nil)
  H.eq(r.history[1].val_loss, nil)
  H.ok(math.type(r.seed) == "integer", "a seed drawn from the generator is reported")
end)

-- ==================== early stopping ====================

-- A loss whose validation values follow `script` (one per epoch); training
-- uses the real loss so the weights change each epoch.
local function scripted(script)
  local model, loss = tiny()
  local epoch = 0
  local function f(x)
    if lt.is_grad_enabled() then return loss(x) end
    return lt.full({}, script[epoch])
  end
  local cb = {on_batch_end = function(info) epoch = info.epoch end}
  return model, f, cb
end

H.test("early stopping: patience counts epochs without improvement", function()
  local model, f, cb = scripted{5, 4, 3, 3.5, 3.25, 3.125, 2, 1}
  local seen = {}
  cb.on_epoch_end = function(info) seen[info.epoch] = snapshot(info.model) end
  local r = quiet{model = model, optimizer = lt.optim.Adam(model:parameters(), {lr = 0.05}), train = dataset(images(8)),
    val = dataset(images(3)), batch_size = 4, max_epochs = 8, patience = 3, loss = f, callbacks = cb}
  H.eq(r.epochs_run, 6)
  H.eq(r.best_epoch, 3)
  H.eq(r.best_val_loss, 3)
  H.eq(r.stopped_early, true)
  H.eq(r.stop_reason, "patience")
  H.eq({r.history[4].val_loss, r.history[6].val_loss}, {3.5, 3.125})
  H.ok(same_weights(seen[3], snapshot(model)), "the best epoch's weights are restored")
  H.ok(not same_weights(seen[6], snapshot(model)), "the weights at the stop differ from the best")
end)

H.test("early stopping: min_delta, and restore_best = false keeps the last weights", function()
  local model, f, cb = scripted{5, 4, 3.75, 3.625, 3.375, 3.25, 3.125, 3}
  local last
  cb.on_epoch_end = function(info) last = snapshot(info.model) end
  local r = quiet{model = model, optimizer = lt.optim.Adam(model:parameters(), {lr = 0.05}), train = dataset(images(8)),
    val = dataset(images(3)), batch_size = 8, max_epochs = 9, patience = 3, min_delta = 0.5, restore_best = false,
    loss = f, callbacks = cb}
  -- 4 < 5 - 0.5 improves; 3.75 and 3.625 do not beat 3.5; 3.375 does; 3.25, 3.125, 3 do not beat 2.875
  H.eq(r.best_epoch, 5)
  H.eq(r.best_val_loss, 3.375)
  H.eq(r.epochs_run, 8)
  H.eq(r.stop_reason, "patience")
  H.ok(same_weights(last, snapshot(model)), "restore_best = false leaves the last weights")
end)

H.test("a callback stops training; a plateau scheduler gets the val loss", function()
  local model, f, cb = scripted{1, 1, 1, 1, 1, 1}
  local opt = lt.optim.SGD(model:parameters(), {lr = 0.1})
  local sched = lt.optim.ReduceLROnPlateau(opt, {patience = 0, factor = 0.5})
  cb.on_epoch_end = function(info) if info.epoch == 3 then return "stop" end end
  local r = quiet{model = model, optimizer = opt, train = dataset(images(4)), val = dataset(images(2)), batch_size = 4,
    max_epochs = 6, scheduler = sched, loss = f, callbacks = cb}
  H.eq(r.stop_reason, "callback")
  H.eq(r.epochs_run, 3)
  -- val loss flat at 1: epoch 1 sets the best, epochs 2 and 3 each halve the lr
  H.eq({r.history[1].lr, r.history[2].lr, r.history[3].lr}, {0.1, 0.1, 0.05})
  H.close(opt.lr, 0.025, 1e-12)
end)

H.test("a model given as a table of modules; gradient clipping", function()
  local enc, dec = nn.Linear(4, 2), nn.Linear(2, 4)
  local opt = lt.optim.SGD(nn.parameters(enc, dec), {lr = 1e9}) -- absurd lr: only clipping keeps it finite
  local r = quiet{model = {encoder = enc, decoder = dec}, optimizer = opt, train = dataset(images(8)), batch_size = 8,
    max_epochs = 2, clip_grad_norm = 1e-9, loss = function(x)
      local flat = x:reshape(x.shape[1], 4)
      return lt.mse(dec(enc(flat)), flat)
    end}
  H.ok(r.history[2].train_loss == r.history[2].train_loss and r.history[2].train_loss < 10, "finite loss")
end)

H.test("a non-finite loss stops training", function()
  local model = nn.Linear(4, 4)
  local r = quiet{model = model, optimizer = lt.optim.SGD(model:parameters(), {lr = 0.1}), train = dataset(images(4)),
    batch_size = 4, max_epochs = 5, loss = function(x) return (model(x:reshape(4, 4)) * math.huge):sum() * 0 end}
  H.eq(r.stop_reason, "non-finite loss")
  H.eq(r.epochs_run, 1)
end)

-- ==================== run folders ====================

local function list(path)
  local out, p = {}, io.popen("ls -a '" .. path .. "'")
  for name in p:lines() do if name ~= "." and name ~= ".." then out[#out + 1] = name end end
  p:close()
  table.sort(out)
  return out
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

H.test("run.new: named <task>-<stamp>, unique within a second, config.json at once", function()
  local root = dir .. "/runs/nested"
  local a = lt.run.new{task = "ae", root = root, config = {lr = 1e-3, code = 8, name = "x"}, seed = 5}
  local b = lt.run.new{task = "ae", root = root}
  local c = lt.run.new{task = "ae", root = root}
  H.ok(a.dir:match("/ae%-%d%d%d%d%d%d%d%d%-%d%d%d%d%d%d$"), a.dir)
  H.ok(a.dir ~= b.dir and b.dir ~= c.dir and a.dir ~= c.dir, "three different folders")
  local stamp = a.dir:match("(%d+%-%d+)$")
  if b.dir:find(stamp, 1, true) then H.eq(b.dir, a.dir .. "-2") end -- the same second gets -2
  local cfg = lt.json_decode(read(a:path("config.json")))
  H.eq(cfg.lr, 1e-3)
  H.eq(cfg.code, 8)
  H.eq(math.type(cfg.code), "integer")
  H.eq(cfg.seed, 5)
  H.eq(list(b.dir), {"config.json"})
  local again = lt.run.open(a.dir .. "/")
  H.eq(again.dir, a.dir)
  H.eq(again.config.name, "x")
  H.eq(again.task, "ae")
end)

H.test("run:log appends one flushed JSON line; write_json is atomic", function()
  local r = lt.run.new{task = "log", root = dir}
  r:log{epoch = 1, loss = 0.5}
  H.eq(read(r:path("log.jsonl")), '{"epoch":1,"loss":0.5}\n') -- readable before anything else happens
  r:log{epoch = 2, loss = 0.25, note = "x"}
  local entries = r:read_log()
  H.eq(#entries, 2)
  H.eq(entries[2].note, "x")
  r:write_json("metrics.json", {test_loss = 0.125, epochs = 3})
  H.eq(lt.json_decode(read(r:path("metrics.json"))).test_loss, 0.125)
  H.eq(list(r.dir), {"config.json", "log.jsonl", "metrics.json"}) -- no temporary file left
  r:filter_log(function(e) return e.epoch <= 1 end)
  H.eq(#r:read_log(), 1)
  -- a last line cut short by a crash is left out
  local f = assert(io.open(r:path("log.jsonl"), "ab")); f:write('{"epoch":2,"lo'); f:close()
  H.eq(#r:read_log(), 1)
end)

H.test("run: errors name the function and the problem", function()
  H.raises("run%.new: task must be a name", lt.run.new, {task = "a b"})
  H.raises("run%.new: unknown option 'tsk'", lt.run.new, {tsk = "a"})
  H.raises("run%.new: config must be a table", lt.run.new, {task = "a", root = dir, config = 3})
  H.raises("run%.new: config: .*function", lt.run.new, {task = "a", root = dir, config = {f = print}})
  H.raises("run%.new: cannot create the root folder: .*config.json/sub: Not a directory", lt.run.new,
    {task = "a", root = dir .. "/runs/nested/" .. list(dir .. "/runs/nested")[1] .. "/config.json/sub"})
  H.raises("run%.open: .*nowhere: not a run folder", lt.run.open, dir .. "/nowhere")
  local r = lt.run.new{task = "err", root = dir}
  H.raises("run%.path: expects a file name inside the run folder", r.path, r, "../x")
  H.raises("run%.log: expects a table", r.log, r, "text")
  H.raises("write_file: .*/no/such/dir/f.json: cannot create a file", lt.sys.write_file, dir .. "/no/such/dir/f.json", "x")
  local ok, msg, why = lt.sys.mkdir(r.dir)
  H.eq({ok, why}, {nil, "exists"})
  H.ok(msg:find(r.dir, 1, true), msg)
end)

H.test("fit with a run folder: log.jsonl per epoch, checkpoint, best.safetensors", function()
  local run = lt.run.new{task = "fit", root = dir}
  local model, f, cb = scripted{3, 2, 2.5, 2.6}
  local best
  cb.on_epoch_end = function(info) if info.epoch == 2 then best = snapshot(info.model) end end
  local r = quiet{model = model, optimizer = lt.optim.Adam(model:parameters(), {lr = 0.05}), train = dataset(images(8)),
    val = dataset(images(3)), batch_size = 4, max_epochs = 4, loss = f, callbacks = cb, run = run}
  local log = run:read_log()
  H.eq(#log, 4)
  for e = 1, 4 do
    H.eq(log[e].epoch, e)
    H.eq(log[e].train_loss, r.history[e].train_loss)
    H.eq(log[e].val_loss, r.history[e].val_loss)
  end
  H.eq(list(run.dir), {"best.safetensors", "config.json", "log.jsonl", "model.safetensors"})
  local fresh = tiny()
  local extra = lt.checkpoint.load(run:path("best.safetensors"), {model = fresh})
  H.eq(extra.epoch, 2)
  H.ok(same_weights(best, snapshot(fresh)), "best.safetensors holds epoch 2's weights")
  local tensors = lt.load_tensors(run:checkpoint_path())
  H.ok(tensors["model.2.weight"] and tensors["model.~best.2.weight"], "the checkpoint holds live and best weights")
  -- resume = false starts again in the same folder: the log holds the new run's epochs only
  run:log{note = "kept"}
  local model2, f2, cb2 = scripted{1, 1}
  quiet{model = model2, optimizer = lt.optim.SGD(model2:parameters(), {lr = 0.1}), train = dataset(images(4)),
    val = dataset(images(2)), batch_size = 4, max_epochs = 2, loss = f2, callbacks = cb2, run = run, resume = false}
  log = run:read_log()
  H.eq(#log, 3)
  H.eq({log[1].note, log[2].epoch, log[3].epoch, log[3].val_loss}, {"kept", 1, 2, 1})
end)

-- ==================== resume ====================

-- The data come from a fixed seed (as from files); the model and everything
-- after it from `seed`.
local function resume_setup(run_dir, kill_at, seed)
  lt.manual_seed(1)
  local tr, va = dataset(images(20)), dataset(images(6))
  lt.manual_seed(seed)
  local model, loss = tiny()
  local opt = lt.optim.Adam(model:parameters(), {lr = 0.03, weight_decay = 1e-4})
  local sched = lt.optim.StepLR(opt, {step_size = 2, gamma = 0.5})
  local function noisy(x) return loss(x + 0.05 * lt.randn_like(x)) end -- the generator matters
  local r = quiet{model = model, optimizer = opt, train = tr, val = va, batch_size = 6, max_epochs = 6, patience = 4,
    scheduler = sched, loss = noisy, run = lt.run.open(run_dir),
    callbacks = {on_batch_end = function(info)
      if kill_at and info.epoch == kill_at and info.batch == 2 then os.exit(3) end -- killed mid-epoch
    end}}
  return model, r
end

if arg[1] == "--worker" then -- arg: run folder, epoch to die in (or "none"), output file
  local model, r = resume_setup(arg[2], tonumber(arg[3]), tonumber(arg[5]))
  lt.save_tensors(arg[4], model:state_dict(), {history = lt.json_encode(r.history)})
  os.exit(0)
end

local function strip(history)
  local out = {}
  for i, h in ipairs(history) do out[i] = {h.epoch, h.train_loss, h.val_loss or -1, h.lr} end
  return out
end

H.test("killed mid-epoch and resumed in a fresh process == uninterrupted, bit for bit", function()
  local full_run = lt.run.new{task = "full", root = dir}
  local want_model, want = resume_setup(full_run.dir, nil, 7)
  local run = lt.run.new{task = "half", root = dir}
  local out = dir .. "/resumed.safetensors"
  local function worker(kill, seed)
    return os.execute(string.format("%q %q --worker %q %s %q %d", arg[-1], arg[0], run.dir, kill, out, seed))
  end
  local ok, how, code = worker("4", 7)
  H.eq({ok, how, code}, {nil, "exit", 3}, "the first worker dies in epoch 4")
  H.eq(#run:read_log(), 3)
  H.ok(worker("none", 999), "the resuming worker") -- another seed: all state must come from the checkpoint
  local got, meta = lt.load_tensors(out)
  local names = 0
  for name, t in pairs(want_model:state_dict()) do
    H.eq(got[name], t, name)
    names = names + 1
  end
  H.eq(names, 4)
  H.eq(strip(lt.json_decode(meta.history)), strip(want.history))
  H.eq(#want.history, 6)
  local a, b = full_run:read_log(), run:read_log()
  H.eq(#b, 6, "log.jsonl: the lines of epoch 4 before the kill are not repeated")
  for e = 1, 6 do H.eq({b[e].epoch, b[e].train_loss, b[e].val_loss}, {e, a[e].train_loss, a[e].val_loss}) end
  -- a finished run resumes to its result without training
  local model2, again = resume_setup(run.dir, 1, 5) -- would exit in epoch 1 if it trained
  H.eq(strip(again.history), strip(want.history))
  H.ok(same_weights(snapshot(model2), snapshot(want_model)), "the finished run's final weights")
end)

-- ==================== errors ====================

H.test("fit: clear errors for bad arguments", function()
  local model, loss = tiny()
  local opt = lt.optim.SGD(model:parameters(), {lr = 0.1})
  local tr, va = dataset(images(4)), dataset(images(2))
  local function base(extra)
    local o = {model = model, optimizer = opt, train = tr, loss = loss, progress = false}
    for k, v in pairs(extra) do o[k] = v end
    return o
  end
  local function without(name) local o = base{}; o[name] = nil; return o end
  H.raises("fit: expects a table of options", lt.fit, 3)
  H.raises("fit: option 'loss' must be a function", lt.fit, without("loss"))
  H.raises("fit: option 'model' is required", lt.fit, without("model"))
  H.raises("fit: option 'optimizer' must be an optimizer, got nil", lt.fit, without("optimizer"))
  H.raises("fit: option 'train' must be a data set", lt.fit, without("train"))
  H.raises("fit: option 'train' must be a data set", lt.fit, base{train = lt.rand(4, 1, 2, 2)})
  H.raises("fit: option 'batch_size' must be a positive integer, got 0", lt.fit, base{batch_size = 0})
  H.raises("fit: option 'batch_size' must be a positive integer, got 2.5", lt.fit, base{batch_size = 2.5})
  H.raises("fit: option 'max_epochs' must be a positive integer", lt.fit, base{max_epochs = -1})
  H.raises("fit: option 'patience' needs a validation set", lt.fit, base{patience = 3})
  H.raises("fit: option 'min_delta' must be a number >= 0", lt.fit, base{val = va, min_delta = -1})
  H.raises("fit: unknown option 'epochs'", lt.fit, base{epochs = 3})
  H.raises("fit: option 'resume' must be a boolean, got string", lt.fit, base{resume = "yes"})
  H.raises("fit: option 'clip_grad_norm' must be a positive number, got 0", lt.fit, base{clip_grad_norm = 0})
  local empty = setmetatable({batches = function() return function() end end}, {__len = function() return 0 end})
  H.raises("fit: option 'val': the data set is empty", lt.fit, base{val = empty})
  H.raises("fit: option 'model' must be a module or a table of modules", lt.fit, base{model = 3})
  H.raises("fit: option 'model': entry 2 is not a module", lt.fit, base{model = {model, "x"}})
  H.raises("fit: option 'run' must be a run folder", lt.fit, base{run = dir})
  H.raises("fit: unknown callback 'on_step'", lt.fit, base{callbacks = {on_step = print}})
  H.raises("fit: option 'progress' must be", lt.fit, base{progress = "yes"})
  H.raises("fit: option 'scheduler' has no step method", lt.fit, base{scheduler = {}})
  H.raises("fit: the loss function must return a one%-element tensor %(training%), got a tensor of size 4x4",
    lt.fit, base{loss = function(x) return model(x) end})
  H.raises("fit: the loss function must return a one%-element tensor %(training%), got number",
    lt.fit, base{loss = function() return 1 end})
  local run = lt.run.new{task = "bs", root = dir}
  lt.fit(base{run = run, max_epochs = 1, batch_size = 2})
  H.raises("fit: .*model.safetensors was trained with batch_size 2; resuming with 4", lt.fit,
    base{run = run, max_epochs = 1, batch_size = 4})
end)

-- ==================== the example ====================

H.test("examples/train_autoencoder.lua: 64 images, 1 epoch, a complete run folder", function()
  local data_dir = dir .. "/idx"
  assert(os.execute("mkdir -p '" .. data_dir .. "'"))
  lt.data.random{n = 64, shape = {1, 28, 28}, num_classes = 10, seed = 1}:save(data_dir, "train")
  lt.data.random{n = 16, shape = {1, 28, 28}, num_classes = 10, seed = 2}:save(data_dir, "t10k")
  local root = (debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/") or ".")
  local saved = arg
  arg = {[0] = "train_autoencoder.lua", "--data", data_dir, "--epochs", "1", "--out", dir .. "/ex", "--batch", "16"}
  local run, metrics, result = dofile(root .. "/examples/train_autoencoder.lua")
  arg = saved
  H.eq(result.epochs_run, 1)
  H.eq(metrics.train_images + metrics.val_images, 64)
  H.ok(metrics.test_loss > 0 and metrics.test_loss < 1, "test loss " .. tostring(metrics.test_loss))
  H.ok(metrics.peak_rss_mb > 1, "peak RSS")
  H.eq(run:read_json("metrics.json").test_loss, metrics.test_loss)
  H.eq(run:read_json("config.json").code, 8)
  H.eq(#run:read_log(), 1)
  for _, name in ipairs{"best.safetensors", "model.safetensors"} do H.ok(run:exists(name), name) end
  if lt.plot then
    for _, name in ipairs{"learning_curves.png", "reconstructions.png"} do H.ok(run:exists(name), name) end
  end
end)

os.execute("rm -rf '" .. dir .. "'")
H.done()
