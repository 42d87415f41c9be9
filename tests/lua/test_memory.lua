-- Memory behind tensors is visible to Lua's collector: loops that drop
-- tensors without calling collectgarbage() keep the resident size bounded.
local H = require "harness"
local lt = require "latent"

-- The limit on growth of the resident set during each loop. Without
-- reporting tensor bytes to the collector the 4 MB loop alone would grow by
-- gigabytes; with it, growth stays within a few collector cycles' worth.
local LIMIT_MB = 256

local function rss_mb()
  local f = assert(io.open("/proc/self/status"))
  for line in f:lines() do
    local kb = line:match("^VmRSS:%s+(%d+)")
    if kb then f:close(); return tonumber(kb) / 1024 end
  end
  f:close()
  error("no VmRSS in /proc/self/status")
end

H.test("1,000,000 small tensors", function()
  local base, peak = rss_mb(), 0
  for i = 1, 1000000 do
    local t = lt.ones(4)
    if i % 50000 == 0 then peak = math.max(peak, rss_mb() - base) end
  end
  print(string.format("small tensors: peak growth %.1f MB (limit %d MB)", peak, LIMIT_MB))
  H.ok(peak < LIMIT_MB, string.format("RSS grew by %.1f MB", peak))
end)

H.test("1,000 tensors of 4 MB", function()
  local base, peak = rss_mb(), 0
  for i = 1, 1000 do
    local t = lt.ones(1024, 1024) -- 4 MB, every page touched
    if i % 20 == 0 then peak = math.max(peak, rss_mb() - base) end
  end
  print(string.format("4 MB tensors: peak growth %.1f MB (limit %d MB)", peak, LIMIT_MB))
  H.ok(peak < LIMIT_MB, string.format("RSS grew by %.1f MB", peak))
end)

H.test("graphs are freed with their tensors", function()
  local x = lt.randn(256, 256):requires_grad_()
  collectgarbage()
  local live0 = lt.memory().live
  for _ = 1, 200 do
    local y = x:t():contiguous():view(-1):narrow(1, 1, 1000)
    y:backward(lt.ones(1000))
  end
  x.grad = nil
  collectgarbage(); collectgarbage()
  local grown = lt.memory().live - live0
  H.ok(grown < 1024 * 1024, "engine memory still held after collection: " .. grown .. " bytes")
end)

H.test("<close> frees a tensor at once", function()
  collectgarbage()
  local live0 = lt.memory().live
  do
    local big <close> = lt.zeros(1024, 1024)
    H.ok(lt.memory().live - live0 >= 4 * 1024 * 1024)
  end
  H.ok(lt.memory().live - live0 < 4096, "a closed tensor's memory is released")
end)

H.done()
