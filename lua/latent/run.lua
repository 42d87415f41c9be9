-- Run folders: where a training run leaves what it made (DESIGN.md, "What a
-- run leaves behind").
--
--   local run = lt.run.new{task = "autoencoder", root = "runs", config = cfg, seed = 0}
--   print(run.dir)                         --> runs/autoencoder-20250101-120000
--   run:log{epoch = 1, train_loss = 0.05}  -- one JSON line appended to log.jsonl
--   run:write_json("metrics.json", {test_loss = 0.01})
--   lt.fit{..., run = run}                 -- checkpoints to run:checkpoint_path()
--   local again = lt.run.open(run.dir)     -- later, to resume or to read it back
--
-- The folder name is <task>-<YYYYmmdd-HHMMSS>, with -2, -3, ... added when a
-- folder of that name exists: mkdir fails on an existing directory, so two
-- runs started in the same second, even from two processes, never share one.
-- config.json (the config plus the seed) is written at once, atomically.
local core = require "latent.core"
local sys = core.sys

local run = {}

local Run = {}
Run.__index = Run
Run.__name = "latent.Run"

function Run:__tostring() return "Run(" .. self.dir .. ")" end

local function fail(fn, fmt, ...) error(string.format("run.%s: " .. fmt, fn, ...), 3) end

-- Creates every missing directory along path (mkdir -p).
local function make_dirs(path)
  local prefix = path:sub(1, 1) == "/" and "/" or ""
  for part in path:gmatch("[^/]+") do
    prefix = prefix .. part
    local ok, msg, why = sys.mkdir(prefix)
    if not ok and why ~= "exists" then error(msg, 0) end
    prefix = prefix .. "/"
  end
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- run.new{task = "name", root = "runs", config = {...}, seed = n} -> run
-- task: letters, digits, '_', '.', '-'. config: any table lt.json_encode
-- takes; seed (optional) is stored in it as config.seed.
function run.new(opts)
  if type(opts) ~= "table" then fail("new", "expects a table {task = ..., root = ..., config = ...}, got %s", type(opts)) end
  for k in pairs(opts) do
    if k ~= "task" and k ~= "root" and k ~= "config" and k ~= "seed" then
      fail("new", "unknown option '%s' (run.new takes task, root, config, seed)", tostring(k))
    end
  end
  local task, root = opts.task, opts.root or "runs"
  if type(task) ~= "string" or not task:match("^[%w_.%-]+$") then
    fail("new", "task must be a name of letters, digits, '_', '.' or '-', got %s", tostring(task))
  end
  if type(root) ~= "string" or root == "" then fail("new", "root must be a directory name, got %s", tostring(root)) end
  if opts.config ~= nil and type(opts.config) ~= "table" then
    fail("new", "config must be a table, got %s", type(opts.config))
  end
  if opts.seed ~= nil and math.type(opts.seed) ~= "integer" then
    fail("new", "seed must be an integer, got %s", tostring(opts.seed))
  end
  local config = {}
  for k, v in pairs(opts.config or {}) do config[k] = v end
  config.seed = opts.seed or config.seed
  local ok, text = pcall(core.json_encode, config)
  if not ok then fail("new", "config: %s", tostring(text):gsub("^json_encode: ", "")) end

  local made, err = pcall(make_dirs, root)
  if not made then fail("new", "cannot create the root folder: %s", err) end
  local base = root:gsub("/+$", "") .. "/" .. task .. "-" .. os.date("%Y%m%d-%H%M%S")
  local dir, n = base, 1
  while true do
    local done, msg, why = sys.mkdir(dir)
    if done then break end
    if why ~= "exists" then fail("new", "cannot create the run folder: %s", msg) end
    n = n + 1
    dir = base .. "-" .. n
  end
  local self = setmetatable({dir = dir, task = task, config = config}, Run)
  sys.write_file(self:path("config.json"), text .. "\n")
  return self
end

-- run.open(dir) -> run: an existing run folder (it must hold config.json).
function run.open(dir)
  if type(dir) ~= "string" or dir == "" then fail("open", "expects a folder name, got %s", tostring(dir)) end
  dir = dir:gsub("(.)/+$", "%1")
  local text = read_file(dir .. "/config.json")
  if not text then fail("open", "%s: not a run folder (no readable config.json)", dir) end
  local ok, config = pcall(core.json_decode, text)
  if not ok or type(config) ~= "table" then
    fail("open", "%s/config.json: not a JSON object (%s)", dir, ok and type(config) or tostring(config))
  end
  local task = dir:match("([^/]+)$"):match("^(.-)%-%d%d%d%d%d%d%d%d%-%d%d%d%d%d%d") or dir:match("([^/]+)$")
  return setmetatable({dir = dir, task = task, config = config}, Run)
end

function run.is_run(x) return getmetatable(x) == Run end

-- run:path(name) -> the path of a file in the folder
function Run:path(name)
  if type(name) ~= "string" or name == "" or name:sub(1, 1) == "/" or ("/" .. name .. "/"):find("/%.%./") then
    fail("path", "expects a file name inside the run folder, got %s", tostring(name))
  end
  return self.dir .. "/" .. name
end

-- run:checkpoint_path() -> <dir>/model.safetensors (what lt.fit saves and resumes from)
function Run:checkpoint_path() return self:path("model.safetensors") end

-- run:log(tbl): appends tbl as one JSON line to log.jsonl and flushes it,
-- so a run killed mid-way keeps every line written before.
function Run:log(tbl)
  if type(tbl) ~= "table" then fail("log", "expects a table, got %s", type(tbl)) end
  local ok, line = pcall(core.json_encode, tbl)
  if not ok then fail("log", "%s", tostring(line)) end
  local f, err = io.open(self:path("log.jsonl"), "ab")
  if not f then fail("log", "%s", err) end
  f:write(line, "\n")
  f:flush()
  f:close()
end

-- run:read_log() -> list of the tables in log.jsonl ({} when there is none).
-- A last line without its newline (cut short by a crash) is left out.
function Run:read_log()
  local text, out = read_file(self:path("log.jsonl")), {}
  if not text then return out end
  local n = 0
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    if line:find("%S") then
      local ok, v = pcall(core.json_decode, line)
      if not ok then fail("read_log", "%s line %d: %s", self:path("log.jsonl"), n, tostring(v)) end
      out[#out + 1] = v
    end
  end
  return out
end

-- run:filter_log(keep): rewrites log.jsonl (atomically) with the entries for
-- which keep(entry) is true. lt.fit uses it on resume to drop the lines of
-- epochs after its last checkpoint, which will be run (and logged) again.
function Run:filter_log(keep)
  local lines = {}
  for _, entry in ipairs(self:read_log()) do
    if keep(entry) then lines[#lines + 1] = core.json_encode(entry) .. "\n" end
  end
  sys.write_file(self:path("log.jsonl"), table.concat(lines))
end

-- run:write_json(name, tbl): writes <dir>/<name> atomically.
function Run:write_json(name, tbl)
  local path = self:path(name)
  local ok, text = pcall(core.json_encode, tbl)
  if not ok then fail("write_json", "%s: %s", path, tostring(text)) end
  sys.write_file(path, text .. "\n")
  return path
end

-- run:read_json(name) -> the value in <dir>/<name>
function Run:read_json(name)
  local path = self:path(name)
  local text = read_file(path)
  if not text then fail("read_json", "%s: cannot read it", path) end
  local ok, v = pcall(core.json_decode, text)
  if not ok then fail("read_json", "%s: %s", path, tostring(v)) end
  return v
end

-- run:exists(name) -> whether <dir>/<name> can be read
function Run:exists(name)
  local f = io.open(self:path(name), "rb")
  if f then f:close() end
  return f ~= nil
end

return run
