-- The per-op timer (lt.profile): off by default, exact call counts for a
-- known graph, nested ops counted once, start/stop/reset, the report.
local H = require "harness"
local lt = require "latent"
local nn = lt.nn

-- The results' rows by op name.
local function by_name()
  local rows = {}
  for _, o in ipairs(lt.profile.results().ops) do rows[o.name] = o end
  return rows
end

-- One training step of a small model: linear, relu, linear, sigmoid, mse,
-- backward and an Adam step.
local function model()
  local net = nn.Sequential { nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 6), nn.Sigmoid() }
  local opt = lt.optim.Adam(net:parameters(), { lr = 1e-3 })
  local x = lt.rand(4, 6)
  return function()
    local loss = lt.mse(net(x), x)
    opt:zero_grad()
    loss:backward()
    opt:step()
  end
end

H.test("off by default: ops leave no records", function()
  H.eq(lt.profile.enabled(), false)
  local step = model()
  step()
  H.eq(#lt.profile.results().ops, 0)
end)

H.test("a known graph gives exact counts of forward and backward calls", function()
  local step = model()
  lt.profile.reset()
  lt.profile.start()
  H.eq(lt.profile.enabled(), true)
  for _ = 1, 3 do step() end
  lt.profile.stop()
  local r = by_name()
  local want = { linear = { 6, 6 }, relu = { 3, 3 }, sigmoid = { 3, 3 }, mse = { 3, 3 }, ["Adam.step"] = { 3, 0 } }
  for name, n in pairs(want) do
    H.ok(r[name], "a row for " .. name)
    H.eq(r[name].calls, n[1], name .. " forward calls")
    H.eq(r[name].backward_calls, n[2], name .. " backward calls")
    H.ok(r[name].forward_timed, name .. " forward is timed")
  end
  H.eq(r["autograd engine"].backward_calls, 3)
  local res, total, share = lt.profile.results(), 0, 0
  for _, o in ipairs(res.ops) do
    H.ok(o.forward_ms >= 0 and o.backward_ms >= 0, "times are not negative")
    H.close(o.total_ms, o.forward_ms + o.backward_ms, 1e-9)
    total, share = total + o.total_ms, share + o.share
  end
  H.close(res.total_ms, total, 1e-9)
  H.close(share, 1, 1e-9)
  H.ok(res.wall_ms >= res.total_ms, "the ops fit in the recorded wall time")
  for k = 2, #res.ops do H.ok(res.ops[k - 1].total_ms >= res.ops[k].total_ms, "sorted by total time") end
  lt.profile.reset()
end)

H.test("stop pauses, start adds, reset clears", function()
  local x = lt.randn(3, 3)
  lt.profile.reset()
  lt.profile.start()
  local _ = x:relu()
  lt.profile.stop()
  local _ = x:relu()
  H.eq(by_name().relu.calls, 1)
  lt.profile.start()
  local _ = x:relu()
  lt.profile.stop()
  H.eq(by_name().relu.calls, 2)
  lt.profile.reset()
  H.eq(#lt.profile.results().ops, 0)
  H.eq(lt.profile.results().wall_ms, 0)
end)

H.test("ops run inside other ops or backward functions count once, for the outer one", function()
  -- an unbatched conv2d runs as a batch of one through conv2d itself
  local x, w = lt.randn(1, 5, 5):requires_grad_(), lt.randn(2, 1, 3, 3):requires_grad_()
  lt.profile.reset()
  lt.profile.start()
  local y = lt.conv2d(x, w)
  y:sum():backward()
  lt.profile.stop()
  local r = by_name()
  H.eq(r.conv2d.calls, 1)
  H.eq(r.conv2d.backward_calls, 1)
  H.eq(r.sum.calls, 1)
  H.eq(r.sum.forward_timed, false) -- reductions have no timer of their own
  H.eq(r.sum.backward_calls, 1)
  lt.profile.reset()
end)

H.test("forward calls are counted in no_grad mode too", function()
  local x = lt.randn(2, 2):requires_grad_()
  lt.profile.reset()
  lt.profile.start()
  lt.no_grad(function() return x:sigmoid() end)
  lt.profile.stop()
  H.eq(by_name().sigmoid.calls, 1)
  H.eq(by_name().sigmoid.backward_calls, 0)
  lt.profile.reset()
end)

H.test("the report is a table of the ops, slowest first", function()
  local step = model()
  lt.profile.reset()
  lt.profile.start()
  step()
  lt.profile.stop()
  local text = lt.profile.report { print = false }
  H.ok(text:find("^profile: [%d.]+ ms recorded"), text)
  H.ok(text:find("\nop +calls +forward ms +bw calls +backward ms +total ms +share\n"), text)
  H.ok(text:find("\nlinear +2 +[%d.]+ +2 +[%d.]+ +[%d.]+ +[%d.]+%%"), text)
  H.ok(text:find("\nAdam.step +1 "), text)
  local first = lt.profile.results().ops[1].name
  H.ok(text:find("share\n" .. first:gsub("%p", "%%%0") .. " "), "the first row is the slowest op")
  lt.profile.reset()
end)

H.done()
