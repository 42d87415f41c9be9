-- lt.progress: the bar on a terminal (drawn in place, throttled, fitted to
-- the width, with rate and ETA) and plain lines elsewhere, with the writer,
-- the clock and the tty flag injected; and lt.fit's output in both modes.
local H = require "harness"
local lt = require "latent"
local progress = lt.progress

-- A writer collecting everything, and a clock the test moves by hand.
local function capture()
  local buf = {}
  local now = 0
  local env = {}
  function env.write(s) buf[#buf + 1] = s end
  function env.clock() return now end
  function env.advance(dt) now = now + dt end
  function env.text() return table.concat(buf) end
  function env.writes() return #buf end
  return env
end

local function bar_with(env, o)
  o.write, o.clock = env.write, env.clock
  return progress.new(o)
end

H.test("not a terminal: updates write nothing, finish writes one line", function()
  local env = capture()
  local bar = bar_with(env, {total = 10, label = "epoch 1/3", tty = false})
  for j = 1, 10 do env.advance(1); bar:update(j, {loss = 0.5, samples = 4 * j}) end
  H.eq(env.writes(), 0)
  bar:finish("epoch 1/3  train 0.5")
  H.eq(env.text(), "epoch 1/3  train 0.5\n")
  bar:print("note")
  H.eq(env.text(), "epoch 1/3  train 0.5\nnote\n")
end)

H.test("an injected writer defaults to tty = false", function()
  local env = capture()
  local bar = progress.new{total = 2, write = env.write, clock = env.clock}
  bar:update(1, {loss = 1})
  H.eq(env.writes(), 0)
  H.eq(bar.tty, false)
end)

H.test("terminal: the bar, counts, running loss, samples/s and ETA", function()
  local env = capture()
  local bar = bar_with(env, {total = 200, label = "epoch 2/5", tty = true, width = 100})
  env.advance(10)
  bar:update(50, {loss = 0.012345678, samples = 200})
  local s = env.text()
  H.eq(s:sub(1, 1), "\r")
  H.eq(s:sub(-3), "\27[K")
  local line = s:sub(2, -4)
  H.ok(line:find("^epoch 2/5 %[=+>%s+%]  50/200  loss 0%.01235     +20 samples/s  ETA 0:30$"), line)
  H.eq(#line, 99 - 3) -- width - 1 (the last column makes some terminals wrap), less the 3 spaces padding "0:30"
  local bar_part = line:match("%[(.-)%]")
  local filled = #bar_part:match("^=*>?")
  H.eq(filled, math.floor(#bar_part * 50 / 200), "a quarter of the bar is filled")
end)

H.test("terminal: redraws are throttled to the interval, the last step always drawn", function()
  local env = capture()
  local bar = bar_with(env, {total = 1000, label = "e", tty = true, width = 80, interval = 0.1})
  for j = 1, 1000 do env.advance(0.001); bar:update(j, {loss = 1}) end -- 1 s in all
  local draws = select(2, env.text():gsub("\r", ""))
  H.ok(draws >= 9 and draws <= 12, "about 10 redraws in a second, got " .. draws)
  H.ok(env.text():find("1000/1000", 1, true), "the final step is drawn")
  local before = env.writes()
  bar:update(1000, {loss = 1}) -- done == total: drawn even within the interval
  H.eq(env.writes(), before + 1)
end)

H.test("terminal: finish replaces the bar; print keeps the bar coming back", function()
  local env = capture()
  local bar = bar_with(env, {total = 4, label = "epoch 1/1", tty = true, width = 60})
  env.advance(1)
  bar:update(1, {loss = 2})
  bar:print("a message")
  env.advance(0.01)
  bar:update(2, {loss = 2}) -- within the interval, but the bar was erased: drawn again
  bar:finish("epoch 1/1  train 2")
  local s = env.text()
  H.ok(s:find("\r\27%[Ka message\n\r"), "the message erases the bar, then the bar returns")
  H.ok(s:find("2/4", 1, true), "redrawn after the message")
  H.eq(s:sub(-#"\r\27[Kepoch 1/1  train 2\n"), "\r\27[Kepoch 1/1  train 2\n")
end)

H.test("terminal: narrow widths drop the bar, then cut the line", function()
  local env = capture()
  local bar = bar_with(env, {total = 10, label = "epoch 10/10", tty = true, width = 45})
  env.advance(2)
  bar:update(5, {loss = 0.25, samples = 100})
  local line = env.text():sub(2, -4)
  H.ok(not line:find("%["), "no room for a bar: " .. line)
  H.ok(#line <= 44, "fits: " .. line)
  H.ok(line:find("^epoch 10/10  5/10  loss 0%.25"), line)
  local tiny = bar_with(capture(), {total = 10, tty = true, width = 5})
  H.eq(tiny.width, 20) -- never narrower than 20 columns
end)

H.test("format_time", function()
  H.eq(progress.format_time(0), "0:00")
  H.eq(progress.format_time(59.6), "1:00")
  H.eq(progress.format_time(3599), "59:59")
  H.eq(progress.format_time(3600 * 2 + 61), "2:01:01")
  H.eq(progress.format_time(0 / 0), "?")
  H.eq(progress.format_time(math.huge), "?")
end)

H.test("epoch_line", function()
  local e = {epoch = 3, train_loss = 0.0123456789, val_loss = 0.02, seconds = 12.34, samples_per_s = 4567.2, lr = 1e-3}
  H.eq(progress.epoch_line(e, 10, true), "epoch 3/10  train 0.0123457  val 0.02 *  12.3s  4567 samples/s  lr 0.001")
  H.eq(progress.epoch_line({epoch = 1, train_loss = 1}, 2), "epoch 1/2  train 1")
end)

H.test("errors name the function and the option", function()
  H.raises("progress%.new: unknown option 'totl'", progress.new, {totl = 3})
  H.raises("progress%.new: option 'total' must be a non%-negative integer", progress.new, {total = 2.5})
  H.raises("progress%.new: option 'write' must be a function", progress.new, {write = "x"})
  H.raises("progress%.new: option 'tty' must be a boolean", progress.new, {tty = 1})
  H.raises("progress update: the step must be an integer", progress.new{tty = false}.update, progress.new{tty = false}, 1.5)
end)

H.test("lt.sys: isatty and terminal_width see a pipe as no terminal", function()
  local cmd = string.format("%q -e %q", arg[-1],
    'local lt = require "latent"; print(lt.sys.isatty(1), lt.sys.terminal_width(1), lt.sys.isatty(0))')
  local p = io.popen(cmd .. " < /dev/null")
  local out = p:read("a")
  p:close()
  H.eq(out, "false\tnil\tfalse\n")
  H.eq(type(lt.sys.isatty(2)), "boolean")
  H.raises("isatty: file descriptor %-1 out of range", lt.sys.isatty, -1)
  H.raises("isatty: the file descriptor must be an integer, got 1%.5", lt.sys.isatty, 1.5)
  H.raises("terminal_width: the file descriptor must be an integer, got string", lt.sys.terminal_width, "x")
  H.raises("mkdir: the path must be a string, got nil", lt.sys.mkdir, nil)
end)

H.test("lt.sys.write_file writes atomically and replaces", function()
  local path = os.tmpname()
  lt.sys.write_file(path, "one\0two")
  local f = assert(io.open(path, "rb"))
  H.eq(f:read("a"), "one\0two")
  f:close()
  lt.sys.write_file(path, "")
  f = assert(io.open(path, "rb"))
  H.eq(f:read("a"), "")
  f:close()
  os.remove(path)
  H.raises("write_file: the contents must be a string, got table", lt.sys.write_file, path, {})
  H.raises("write_file: .*: is a directory name", lt.sys.write_file, "/tmp/", "x")
end)

-- ==================== through lt.fit ====================

local function tiny_fit(env, tty, epochs)
  lt.manual_seed(3)
  local ds = lt.data.from_tensor(lt.rand(10, 1, 2, 2))
  local model = lt.nn.Linear(4, 4)
  return lt.fit{model = model, optimizer = lt.optim.SGD(model:parameters(), {lr = 0.1}), train = ds, val = ds,
    batch_size = 4, max_epochs = epochs, loss = function(b) local f = b:reshape(b.shape[1], 4) return lt.mse(model(f), f) end,
    progress = {write = env.write, clock = env.clock, tty = tty, width = 90}}
end

H.test("fit, not a terminal: exactly one line per epoch", function()
  local env = capture()
  local r = tiny_fit(env, false, 3)
  local lines = {}
  for l in env.text():gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  H.eq(#lines, 3)
  for e = 1, 3 do
    H.ok(lines[e]:find(string.format("^epoch %d/3  train %%S+  val %%S+", e)), lines[e])
    H.ok(lines[e]:find(string.format("train %.6g", r.history[e].train_loss), 1, true), lines[e])
  end
  H.ok(not env.text():find("\r"), "no carriage returns in a log")
end)

H.test("fit, terminal: a bar per epoch, replaced by the epoch's line", function()
  local env = capture()
  tiny_fit(env, true, 2)
  local s = env.text()
  H.ok(s:find("\repoch 1/2 %[[=> ]+%] 3/3  loss"), "the last batch of epoch 1 is drawn")
  H.ok(s:find("\r\27%[Kepoch 1/2  train %S+  val %S+ %*"), "the summary line replaces the bar")
  H.eq(select(2, s:gsub("\n", "")), 2)
end)

H.done()
