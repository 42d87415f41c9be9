-- Progress output for long loops: a bar redrawn in place on a terminal, plain
-- lines (one per epoch) when stdout is a file, a pipe or a CI log.
--
--   local bar = lt.progress.new{total = #batches, label = "epoch 3/10"}
--   for j, x in ... do
--     ...
--     bar:update(j, {loss = running_loss, samples = seen})
--   end
--   bar:finish("epoch 3/10  train 0.0123  val 0.0131")   -- the bar's line becomes this
--
-- On a terminal the bar looks like
--   epoch 3/10 [=========>          ] 120/200  loss 0.01234  4567 samples/s  ETA 0:12
-- and is redrawn with "\r" at most 1/interval times a second (and always on
-- the last step), shortened to fit the terminal's width. Elsewhere update()
-- writes nothing and finish()/print() write their line.
--
-- Everything it touches can be injected, which is how the tests drive it:
-- write (a function taking a string; default io.stdout:write + flush), clock
-- (seconds; default lt.clock), tty (default: isatty(1) when writing to
-- stdout, false for an injected writer), width (default: the terminal's, then
-- $COLUMNS, then 80), interval (seconds between redraws, default 0.1).
local core = require "latent.core"

local progress = {}

local Bar = {}
Bar.__index = Bar
Bar.__name = "latent.Progress"

local function stdout_write(s)
  io.stdout:write(s)
  io.stdout:flush()
end

local function check_field(opts, name, kind)
  local v = opts[name]
  if v ~= nil and type(v) ~= kind then
    error(string.format("progress.new: option '%s' must be a %s, got %s", name, kind, type(v)), 3)
  end
  return v
end

-- progress.new{total = n, label = "text", write = f, clock = f, tty = bool, width = n, interval = s}
function progress.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("progress.new: options must be a table, got " .. type(opts), 2) end
  local known = {total = true, label = true, write = true, clock = true, tty = true, width = true, interval = true}
  for k in pairs(opts) do
    if not known[k] then error(string.format("progress.new: unknown option '%s'", tostring(k)), 2) end
  end
  local total = check_field(opts, "total", "number")
  if total and (total < 0 or math.tointeger(total) == nil) then
    error("progress.new: option 'total' must be a non-negative integer, got " .. tostring(total), 2)
  end
  local write = check_field(opts, "write", "function")
  local tty = check_field(opts, "tty", "boolean")
  if tty == nil then tty = write == nil and core.sys.isatty(1) end
  local width = check_field(opts, "width", "number")
  if not width and tty then width = core.sys.terminal_width(1) or tonumber(os.getenv("COLUMNS")) end
  local self = setmetatable({
    total = total and math.tointeger(total), label = check_field(opts, "label", "string") or "",
    write = write or stdout_write, clock = check_field(opts, "clock", "function") or core.clock,
    tty = tty, width = math.max(20, math.floor(width or 80)),
    interval = check_field(opts, "interval", "number") or 0.1, drawn = false, last_draw = -math.huge,
  }, Bar)
  self.start = self.clock()
  return self
end

-- m:ss, or h:mm:ss from an hour on.
function progress.format_time(s)
  if s ~= s or s == math.huge or s < 0 then return "?" end
  s = math.floor(s + 0.5)
  local h, m, sec = s // 3600, s % 3600 // 60, s % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, sec) end
  return string.format("%d:%02d", m, sec)
end

-- The bar's line for `done` steps out of total, at most width - 1 columns
-- (writing the last column makes some terminals wrap).
function Bar:line(done, stats, now)
  local elapsed = now - self.start
  -- Fixed-width fields, so the bar keeps its length and the numbers stay put.
  local parts = {}
  if self.total then
    parts[#parts + 1] = string.format("%" .. #tostring(self.total) .. "d/%d", done, self.total)
  else
    parts[#parts + 1] = tostring(done)
  end
  if stats.loss then parts[#parts + 1] = string.format("loss %-10.4g", stats.loss) end
  if stats.samples then
    parts[#parts + 1] = string.format("%6.0f samples/s", elapsed > 0 and stats.samples / elapsed or 0)
  end
  if self.total then
    local eta = done > 0 and elapsed / done * (self.total - done) or 0 / 0
    parts[#parts + 1] = string.format("ETA %-7s", progress.format_time(eta))
  end
  if stats.text then parts[#parts + 1] = stats.text end
  local tail = table.concat(parts, "  ")
  local room = self.width - 1
  local bar_width = room - #self.label - #tail - 4 -- label, " [", "] "
  local line
  if self.total and self.total > 0 and bar_width >= 10 then
    local filled = math.floor(bar_width * math.min(done, self.total) / self.total)
    local bar = string.rep("=", filled) .. string.rep(" ", bar_width - filled)
    if filled > 0 and filled < bar_width then bar = string.rep("=", filled - 1) .. ">" .. string.rep(" ", bar_width - filled) end
    line = string.format("%s [%s] %s", self.label, bar, tail)
  else
    line = (self.label ~= "" and self.label .. " " or "") .. tail
  end
  return (line:sub(1, room):gsub("%s+$", ""))
end

-- bar:update(done, {loss = x, samples = n, text = "..."}): on a terminal,
-- redraws when `interval` has passed since the last redraw or done == total.
-- loss is shown as given; samples (seen so far) gives the rate.
function Bar:update(done, stats)
  if math.type(done) ~= "integer" and not (type(done) == "number" and math.tointeger(done)) then
    error("progress update: the step must be an integer, got " .. tostring(done), 2)
  end
  if not self.tty then return end
  local now = self.clock()
  if now - self.last_draw < self.interval and done ~= self.total then return end
  self.last_draw = now
  self.drawn = true
  self.write("\r" .. self:line(math.tointeger(done), stats or {}, now) .. "\27[K")
end

-- bar:print(text): a line of its own; on a terminal it takes the bar's place
-- and the bar comes back at the next update.
function Bar:print(text)
  if self.tty and self.drawn then
    self.write("\r\27[K" .. text .. "\n")
    self.drawn, self.last_draw = false, -math.huge
  else
    self.write(text .. "\n")
  end
end

-- bar:finish(text): replaces the bar with `text` (a summary line); on a
-- terminal that erases the bar, elsewhere it is the one line written.
function Bar:finish(text)
  self:print(text or "")
end

-- The one-line summary of an epoch lt.fit prints: the fields of a history
-- entry {epoch, train_loss, val_loss, seconds, samples_per_s, lr}; best = true
-- marks a new best validation loss with '*'.
function progress.epoch_line(entry, max_epochs, best)
  local s = string.format("epoch %d/%d  train %.6g", entry.epoch, max_epochs, entry.train_loss)
  if entry.val_loss then s = s .. string.format("  val %.6g%s", entry.val_loss, best and " *" or "") end
  if entry.seconds then s = s .. string.format("  %.1fs", entry.seconds) end
  if entry.samples_per_s then s = s .. string.format("  %.0f samples/s", entry.samples_per_s) end
  if entry.lr then s = s .. string.format("  lr %.3g", entry.lr) end
  return s
end

return progress
