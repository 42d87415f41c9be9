-- The per-op timer: where a training step spends its time.
--
--   lt.profile.start()
--   for step = 1, 50 do ... end            -- forward, backward, optimizer steps
--   lt.profile.stop()
--   lt.profile.report()                    -- prints a table, slowest op first
--   local r = lt.profile.results()         -- the same as a Lua table
--   lt.profile.reset()                     -- forget the records
--
-- Off by default, and free when off. The timing is done in C, where the ops
-- run: each op's forward at its entry point (ops called inside another op
-- count as part of it), each autograd node's backward by its op's name, each
-- optimizer step ("Adam.step"), and the backward engine's own work
-- ("autograd engine": ordering the graph, summing gradients, freeing).
-- Views, reductions and matmul have no timer of their own: their calls are
-- counted, their forward time is not (the report shows "-"). start() after
-- stop() adds to the records; reset() clears them.
local core = require "latent.core"
local C = core.profile

local profile = {}

profile.start = C.start
profile.stop = C.stop
profile.reset = C.reset
profile.enabled = C.enabled

-- { wall_ms, total_ms, ops = { {name, calls, forward_ms, forward_timed,
--   backward_calls, backward_ms, total_ms, share}, ... } }, ops sorted by
-- total time (forward + backward), largest first; share is the op's part of
-- total_ms, the time of all ops together.
function profile.results()
  local rows, wall_ms = C.rows()
  local total = 0
  for _, r in ipairs(rows) do
    r.total_ms = r.forward_ms + r.backward_ms
    r.forward_timed = r.untimed == 0
    r.untimed = nil
    total = total + r.total_ms
  end
  for _, r in ipairs(rows) do r.share = total > 0 and r.total_ms / total or 0 end
  table.sort(rows, function(a, b)
    if a.total_ms ~= b.total_ms then return a.total_ms > b.total_ms end
    return a.name < b.name
  end)
  return { wall_ms = wall_ms, total_ms = total, ops = rows }
end

local function ms(v) return string.format("%11.3f", v) end

-- The results as a text table; prints it (unless opts.print == false) and
-- returns it.
function profile.report(opts)
  local r = profile.results()
  local lines = {
    string.format("profile: %.1f ms recorded, %.1f ms (%.1f%%) in the ops below, the rest in Lua",
      r.wall_ms, r.total_ms, r.wall_ms > 0 and 100 * r.total_ms / r.wall_ms or 0),
    string.format("%-22s %8s %11s %9s %11s %11s %7s", "op", "calls", "forward ms", "bw calls", "backward ms",
      "total ms", "share"),
  }
  local untimed = false
  for _, o in ipairs(r.ops) do
    untimed = untimed or not o.forward_timed
    lines[#lines + 1] = string.format("%-22s %8d %s %9d %s %s %6.1f%%", o.name, o.calls,
      o.forward_timed and ms(o.forward_ms) or string.format("%11s", "-"), o.backward_calls, ms(o.backward_ms),
      ms(o.total_ms), 100 * o.share)
  end
  if untimed then lines[#lines + 1] = "(-: forward not timed: views, reductions, matmul)" end
  local text = table.concat(lines, "\n")
  if not (opts and opts.print == false) then print(text) end
  return text
end

return profile
