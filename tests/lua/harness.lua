-- A small assertion helper for latent's Lua tests.
--
--   local H = require "harness"
--   H.test("adds", function() H.close(a + b, expected, 1e-6) end)
--   H.done()   -- prints "N passed, M failed" and exits non-zero on failure
--
-- Each test runs under pcall with a traceback; a failing check names what it
-- compared. Tests run on one thread with a fixed seed (printed).
local lt = require "latent"

local H = {}
local passed, failed = 0, 0
local seed = tonumber(os.getenv("LATENT_TEST_SEED")) or 1234

local function fail(msg, level) error(msg, (level or 1) + 2) end

local function is_tensor(x) return lt.is_tensor(x) end

-- Values of a tensor, number or nested table as a flat list, and its shape string.
local function flat(x)
  if is_tensor(x) then return x:contiguous():view(-1):totable(), table.concat(x.shape, "x") end
  if type(x) == "number" then return { x }, "number" end
  local out = {}
  local function walk(v) if type(v) == "table" then for _, e in ipairs(v) do walk(e) end else out[#out + 1] = v end end
  walk(x)
  return out, "table"
end

function H.ok(cond, msg) if not cond then fail(msg or "expected a true value") end end

function H.eq(a, b, msg)
  if is_tensor(a) or is_tensor(b) then
    if is_tensor(a) and is_tensor(b) and table.concat(a.shape, "x") ~= table.concat(b.shape, "x") then
      fail(string.format("%sshapes differ: %s vs %s", msg and msg .. ": " or "",
        table.concat(a.shape, "x"), table.concat(b.shape, "x")))
    end
    local fa, fb = flat(a), flat(b)
    if #fa ~= #fb then fail(string.format("%s%d values vs %d", msg and msg .. ": " or "", #fa, #fb)) end
    for i = 1, #fa do
      if fa[i] ~= fb[i] then
        fail(string.format("%svalue %d differs: %s vs %s", msg and msg .. ": " or "", i, fa[i], fb[i]))
      end
    end
    return
  end
  if type(a) == "table" and type(b) == "table" then
    local fa, fb = flat(a), flat(b)
    if #fa ~= #fb then fail(string.format("%s%d values vs %d", msg and msg .. ": " or "", #fa, #fb)) end
    for i = 1, #fa do if fa[i] ~= fb[i] then fail(string.format("%svalue %d differs: %s vs %s", msg and msg .. ": " or "", i, tostring(fa[i]), tostring(fb[i]))) end end
    return
  end
  if a ~= b then fail(string.format("%s%s ~= %s", msg and msg .. ": " or "", tostring(a), tostring(b))) end
end

-- |a - b| <= atol + rtol * |b| elementwise; a and b are tensors, numbers or tables.
function H.close(a, b, atol, rtol, msg)
  atol, rtol = atol or 1e-6, rtol or 0
  local fa, sa = flat(a)
  local fb, sb = flat(b)
  if #fa ~= #fb then fail(string.format("%s%d values (%s) vs %d (%s)", msg and msg .. ": " or "", #fa, sa, #fb, sb)) end
  local worst, at = 0, 0
  for i = 1, #fa do
    local d = math.abs(fa[i] - fb[i])
    local excess = d - (atol + rtol * math.abs(fb[i]))
    if excess > worst or fa[i] ~= fa[i] then worst, at = excess, i end
  end
  if at > 0 then
    fail(string.format("%svalue %d: %.9g vs %.9g (tolerance %g + %g*|b|)", msg and msg .. ": " or "",
      at, fa[at], fb[at], atol, rtol))
  end
end

-- f(...) must raise an error whose message matches the Lua pattern `pattern`.
function H.raises(pattern, f, ...)
  local ok, err = pcall(f, ...)
  if ok then fail("expected an error matching '" .. pattern .. "', got none") end
  err = tostring(err)
  if not err:find(pattern) then
    fail("error '" .. err .. "' does not match '" .. pattern .. "'")
  end
  return err
end

-- The same values as x in a non-contiguous leaf (a transposed copy, transposed back).
function H.noncontig(x)
  local y = lt.no_grad(function() return x:t():contiguous():t() end)
  assert(not y:is_contiguous())
  return y:requires_grad_()
end

function H.shape_of(t) return table.concat(t.shape, "x") end

-- Flat row-major values of a tensor (any strides), scalars included.
function H.values(t)
  if t:dim() == 0 then return { t:item() } end
  return (flat(t))
end

function H.test(name, f)
  lt.manual_seed(seed)
  local ok, err = xpcall(f, debug.traceback)
  if ok then
    passed = passed + 1
  else
    failed = failed + 1
    io.stderr:write("FAIL ", name, "\n", tostring(err), "\n")
  end
end

function H.done()
  print(string.format("seed %d", seed))
  print(string.format("%d passed, %d failed", passed, failed))
  os.exit(failed == 0 and 0 or 1)
end

return H
