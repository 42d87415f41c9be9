-- latent.data (lt.data): image data sets held as uint8, batches converted to
-- float32 in [0, 1] on the fly.
--
--   local train, test = lt.data.load("mnist10k")          -- or data.idx(dir), or a directory path
--   local tr, va = train:split{0.8, 0.2, seed = 0, stratify = true}
--   for x, y, idx in tr:batches{size = 250, shuffle = true, seed = 7, epoch = e} do ... end
--
-- A data set is a list of images inside shared byte stores (the C part, core.data):
-- subset, split, kfold and concat make new lists over the same bytes, never copies.
-- Labels are 1-based classes here (file label + 1), as lt.cross_entropy and argmax use.
local core = require "latent.core"

local data = {}

-- ==================== errors ====================

local THIS_FILE = debug.getinfo(1, "S").source

-- Raises msg at the first caller outside this file, so that the error points at the user's line.
local function raise(msg)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info or info.source ~= THIS_FILE then break end
    level = level + 1
  end
  error(msg, level)
end

local function pass_on(ok, ...)
  if not ok then raise(tostring((...))) end
  return ...
end

-- The C functions of a table, each raising its errors through raise().
local function guarded(fns)
  local out = {}
  for name, f in pairs(fns) do out[name] = function(...) return pass_on(pcall(f, ...)) end end
  return out
end

-- The C half (core.data; lt.data, this module, replaces it in the user-facing table) and the
-- methods of its data set userdata (called as M.gather(self._c, idx)).
local C, M = guarded(core.data), guarded(core.data.methods)

local Dataset = { __name = "latent.data.Dataset" }
Dataset.__index = Dataset

local function wrap(c, name)
  local ch, h, w = M.shape(c)
  return setmetatable({ _c = c, _n = M.size(c), shape = { ch, h, w }, num_classes = M.num_classes(c), name = name },
    Dataset)
end

function Dataset.__len(self) return self._n end

function Dataset.__tostring(self)
  local classes = self.num_classes and string.format(", %d classes", self.num_classes) or ", no labels"
  return string.format("Dataset '%s': %d images of %s%s", self.name, #self, table.concat(self.shape, "x"), classes)
end

-- ==================== argument checks ====================

local function check_options(fn, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then raise(string.format("%s: options must be a table, got %s", fn, type(opts))) end
  for k in pairs(opts) do
    if type(k) ~= "number" and not allowed[k] then
      local names = {}
      for name in pairs(allowed) do names[#names + 1] = name end
      table.sort(names)
      raise(string.format("%s: unknown option '%s' (known: %s)", fn, tostring(k), table.concat(names, ", ")))
    end
  end
  return opts
end

-- An integer option (floats with an integer value pass, 2.5 does not).
local function int_option(fn, opts, key, default, min)
  local v = opts[key]
  if v == nil then return default end
  local i = math.tointeger(v)
  if not i then raise(string.format("%s: option '%s' must be an integer, got %s", fn, key, tostring(v))) end
  if min and i < min then raise(string.format("%s: option '%s' must be at least %d, got %d", fn, key, min, i)) end
  return i
end

local function bool_option(fn, opts, key, default)
  local v = opts[key]
  if v == nil then return default end
  if type(v) ~= "boolean" then
    raise(string.format("%s: option '%s' must be a boolean, got %s", fn, key, type(v)))
  end
  return v
end

-- A table of `count` integers >= 1 (image shapes and sizes).
local function check_sizes(fn, what, t, count, form)
  if type(t) ~= "table" or #t ~= count then raise(string.format("%s: %s must be a table %s", fn, what, form)) end
  for i = 1, count do
    local v = math.type(t[i]) and math.tointeger(t[i])
    if not v or v < 1 then
      raise(string.format("%s: %s[%d] must be an integer >= 1, got %s", fn, what, i, tostring(t[i])))
    end
  end
  return t
end

local function check_type(fn, what, v, want, allow_nil)
  if type(v) == want or (allow_nil and v == nil) then return v end
  raise(string.format("%s: %s must be a %s%s, got %s", fn, what, want, allow_nil and " or nil" or "", type(v)))
end

local function is_dataset(x) return getmetatable(x) == Dataset end

local function check_dataset(fn, x, what)
  if not is_dataset(x) then raise(string.format("%s: %s must be a data set, got %s", fn, what, type(x))) end
  return x
end

-- ==================== making data sets ====================

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- dir/<prefix>-<kind>-idxN-ubyte[.gz], also with '.' before idxN (a common variant); images are
-- idx3 (N x H x W) or idx4 (N x C x H x W, as ds:save writes sets of several channels).
local function find_idx(dir, prefix, kind)
  for _, idx in ipairs(kind == "images" and { "idx3", "idx4" } or { "idx1" }) do
    for _, sep in ipairs { "-", "." } do
      for _, ext in ipairs { "", ".gz" } do
        local path = string.format("%s/%s-%s%s%s-ubyte%s", dir, prefix, kind, sep, idx, ext)
        if exists(path) then return path end
      end
    end
  end
end

--- data.idx_files(images_path [, labels_path [, {name = }]]) -> a data set from two IDX files.
function data.idx_files(images, labels, opts)
  opts = check_options("idx_files", opts, { name = true })
  if type(images) ~= "string" then raise("idx_files: images must be a file name, got " .. type(images)) end
  if labels ~= nil and type(labels) ~= "string" then
    raise("idx_files: labels must be a file name or nil, got " .. type(labels))
  end
  return wrap(C.read_idx(images, labels), opts.name or images:match("([^/]+)$"))
end

local function load_part(dir, prefix, opts, name)
  local images = find_idx(dir, prefix, "images")
  if not images then return nil end
  local labels
  if opts.labels ~= false then
    labels = find_idx(dir, prefix, "labels")
    if not labels then
      raise(string.format("idx: %s has no labels file beside it (looked for %s-labels-idx1-ubyte[.gz]); "
        .. "pass {labels = false} for images alone", images, prefix))
    end
  end
  return wrap(C.read_idx(images, labels), name .. "/" .. (prefix == "t10k" and "test" or prefix))
end

--- data.idx(dir [, {name =, labels = true}]) -> train, test (test is nil when there are no t10k-* files).
function data.idx(dir, opts)
  opts = check_options("idx", opts, { name = true, labels = true })
  if type(dir) ~= "string" then raise("idx: dir must be a directory name, got " .. type(dir)) end
  dir = dir:gsub("(.)/+$", "%1")
  local name = opts.name or dir:match("([^/]+)$") or dir
  local train = load_part(dir, "train", opts, name)
  if not train then
    raise(string.format("idx: no training images in '%s' (looked for train-images-idx3-ubyte[.gz])", dir))
  end
  return train, load_part(dir, "t10k", opts, name)
end

-- The directory of this file's library (".../lua" in a source tree, ".../share/lua/5.4" installed).
local function library_dir()
  local src = debug.getinfo(1, "S").source
  return src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/latent/data%.lua$") or nil
end

-- Where named sets are looked for, in order (see README, "Data").
function data.roots()
  local roots = {}
  for dir in (os.getenv("LATENT_DATA") or ""):gmatch("[^:]+") do roots[#roots + 1] = dir end
  local lib = library_dir()
  local prefix = lib and lib:match("^(.*)/share/lua/5%.4$")
  if prefix then
    roots[#roots + 1] = prefix .. "/share/latent/data"                -- installed: <prefix>/share/latent/data
  elseif lib then
    roots[#roots + 1] = (lib:match("^(.*)/[^/]+$") or ".") .. "/data"  -- a source tree: <repo>/data
  end
  return roots
end

-- Debian's data set packages install under /usr/share/datasets/<name> (dataset-fashion-mnist does).
local SYSTEM_DATASETS = "/usr/share/datasets"

--- data.load(name_or_dir [, opts]) -> train, test. Names: "mnist10k", "fashion-mnist", or any folder in a root.
function data.load(name, opts)
  if type(name) ~= "string" or name == "" then raise("load: name must be a data set name or a directory") end
  opts = check_options("load", opts, { labels = true })
  if name:find("/") or name:sub(1, 1) == "." then
    return data.idx(name, { labels = opts.labels })
  end
  local tried = {}
  local dirs = {}
  for _, root in ipairs(data.roots()) do dirs[#dirs + 1] = root .. "/" .. name end
  dirs[#dirs + 1] = SYSTEM_DATASETS .. "/" .. name
  for _, dir in ipairs(dirs) do
    if find_idx(dir, "train", "images") then return data.idx(dir, { name = name, labels = opts.labels }) end
    tried[#tried + 1] = dir
  end
  raise(string.format("load: no data set '%s' (looked in %s); `bash scripts/data.sh` installs mnist10k and "
    .. "fashion-mnist, or set LATENT_DATA to the folder that holds it", name, table.concat(tried, ", ")))
end

--- data.from_tensor(x [, y [, {name =}]]): x float N x C x H x W (or N x H x W) in [0, 1], y 1-based classes.
function data.from_tensor(x, y, opts)
  opts = check_options("from_tensor", opts, { name = true })
  if not core.is_tensor(x) then raise("from_tensor: x must be a tensor, got " .. type(x)) end
  if y ~= nil and not core.is_tensor(y) then raise("from_tensor: y must be a tensor or nil, got " .. type(y)) end
  return wrap(C.from_tensor(x, y), opts.name or "tensor")
end

--- data.from_bytes(images, {n, c, h, w} [, labels [, {name =, num_classes =}]]): raw bytes, no float copy.
-- images: a string of n*c*h*w bytes (row-major); labels: a string of n bytes, the 0-based classes as in IDX files.
function data.from_bytes(images, shape, labels, opts)
  opts = check_options("from_bytes", opts, { name = true, num_classes = true })
  check_type("from_bytes", "images", images, "string")
  check_sizes("from_bytes", "shape", shape, 4, "{n, c, h, w}")
  check_type("from_bytes", "labels", labels, "string", true)
  local classes = int_option("from_bytes", opts, "num_classes", 0, 0)
  return wrap(C.from_bytes(images, shape[1], shape[2], shape[3], shape[4], labels, classes), opts.name or "bytes")
end

--- data.random{n =, shape = {c, h, w}, seed =, num_classes =, name =}: uniformly random bytes (benchmarks, tests).
-- Without a seed the bytes come from the global generator (lt.manual_seed governs them).
function data.random(opts)
  opts = check_options("random", opts, { n = true, shape = true, seed = true, num_classes = true, name = true })
  local n = int_option("random", opts, "n", nil, 1)
  if not n then raise("random: option 'n' (the number of images) is required") end
  local shape = check_sizes("random", "option 'shape'", opts.shape or { 1, 28, 28 }, 3, "{c, h, w}")
  local seed = int_option("random", opts, "seed", nil)
  local classes = int_option("random", opts, "num_classes", 0, 0)
  return wrap(C.random(n, shape[1], shape[2], shape[3], classes, seed), opts.name or "random")
end

--- data.concat(a, b, ...): one set after the other, sharing their images.
function data.concat(...)
  local sets, names = { ... }, {}
  if #sets == 0 then raise("concat: needs at least one data set") end
  local cs = {}
  for i, s in ipairs(sets) do
    check_dataset("concat", s, "argument " .. i)
    cs[i], names[i] = s._c, s.name
  end
  return wrap(C.concat(cs), table.concat(names, "+"))
end

--- data.write_idx(path, bytes, dims [, gzip]): an unsigned-byte IDX file, written atomically; gzip defaults
-- to whether the name ends in ".gz". bytes is a string of prod(dims) bytes.
function data.write_idx(path, bytes, dims, gzip)
  check_type("write_idx", "path", path, "string")
  check_type("write_idx", "bytes", bytes, "string")
  check_type("write_idx", "dims", dims, "table")
  if gzip == nil then gzip = path:sub(-3) == ".gz" end
  C.write_idx(path, bytes, dims, gzip)
end

--- data.permutation(n, seed [, stream]): a random order of 1..n, a pure function of (seed, stream).
function data.permutation(n, seed, stream)
  stream = stream or 0
  for _, arg in ipairs { { "n", n }, { "seed", seed }, { "stream", stream } } do
    if not (math.type(arg[2]) and math.tointeger(arg[2])) then
      raise(string.format("permutation: %s must be an integer, got %s", arg[1], tostring(arg[2])))
    end
  end
  return C.permutation(n, seed, stream)
end

-- ==================== access ====================

--- ds:get(indices) -> x, y: a batch by 1-based indices (a table, or one integer for a batch of one).
function Dataset:get(indices) return M.gather(self._c, indices) end

--- ds:labels() -> a float tensor of the N 1-based classes.
function Dataset:labels()
  if not self.num_classes then raise("labels: data set '" .. self.name .. "' has no labels") end
  return M.labels(self._c)
end

--- ds:subset(indices [, {name =}]) -> a set of those images (1-based; repeats allowed), sharing the bytes.
function Dataset:subset(indices, opts)
  opts = check_options("subset", opts, { name = true })
  return wrap(M.subset(self._c, indices), opts.name or self.name .. "/subset")
end

--- ds:save(dir, prefix): writes <dir>/<prefix>-images-idx3-ubyte.gz (and -labels-idx1-ubyte.gz), atomically.
function Dataset:save(dir, prefix)
  if type(dir) ~= "string" or type(prefix) ~= "string" then raise("save: expected (dir, prefix) strings") end
  local kind = self.shape[1] == 1 and "idx3" or "idx4"
  M.save(self._c, string.format("%s/%s-images-%s-ubyte.gz", dir, prefix, kind),
    self.num_classes and string.format("%s/%s-labels-idx1-ubyte.gz", dir, prefix) or nil)
end

local batch_options = { size = true, shuffle = true, seed = true, epoch = true, drop_last = true }

local function batch_size(fn, opts, n)
  local size = int_option(fn, opts, "size", 250, 1)
  local drop_last = bool_option(fn, opts, "drop_last", false)
  return size, drop_last, drop_last and n // size or (n + size - 1) // size
end

--- ds:num_batches{size =, drop_last =}: how many batches ds:batches gives with these options.
function Dataset:num_batches(opts)
  opts = check_options("num_batches", opts, batch_options)
  local _, _, count = batch_size("num_batches", opts, #self)
  return count
end

--- for x, y, idx in ds:batches{size = 250, shuffle = false, seed =, epoch = 1, drop_last = false} do ... end
-- The shuffled order is a pure function of (seed, epoch); seed defaults to one draw from the global generator.
function Dataset:batches(opts)
  opts = check_options("batches", opts, batch_options)
  local n = #self
  local size, drop_last, count = batch_size("batches", opts, n)
  local order
  if bool_option("batches", opts, "shuffle", false) then
    local seed = int_option("batches", opts, "seed", nil) or C.draw_seed()
    order = C.permutation(n, seed, int_option("batches", opts, "epoch", 1))
  end
  local c, k = self._c, 0
  return function()
    if k >= count then return nil end
    local first, idx = k * size, {}
    k = k + 1
    for i = 1, math.min(size, n - first) do idx[i] = order and order[first + i] or first + i end
    local x, y = M.gather(c, idx)
    return x, y, idx
  end
end

-- ==================== splits and folds ====================

-- Entries m[c][p], each the floor or the ceiling of counts[c] * totals[p] / N, with rows summing to
-- counts[c] and columns to totals[p]. Such a rounding always exists (Bacharach, "Matrix rounding
-- problems", 1966); it is found as a maximum flow: each row gives its missing units to distinct
-- columns with a fractional cell, each column takes the units it misses (augmenting paths, BFS).
local function round_table(counts, totals, N)
  local m, row_need, col_need, up = {}, {}, {}, {}
  for p = 1, #totals do col_need[p] = totals[p] end
  for c = 1, #counts do
    m[c], up[c], row_need[c] = {}, {}, counts[c]
    for p = 1, #totals do
      m[c][p] = counts[c] * totals[p] // N
      up[c][p] = false
      row_need[c], col_need[p] = row_need[c] - m[c][p], col_need[p] - m[c][p]
    end
  end
  local function augment()
    local from, queue = {}, {}
    for c = 1, #counts do if row_need[c] > 0 then from["r" .. c], queue[#queue + 1] = "s", { "r", c } end end
    local head = 1
    while queue[head] do
      local kind, i = queue[head][1], queue[head][2]
      head = head + 1
      if kind == "r" then
        for p = 1, #totals do
          if not up[i][p] and counts[i] * totals[p] % N ~= 0 and not from["c" .. p] then
            from["c" .. p], queue[#queue + 1] = { "r", i }, { "c", p }
          end
        end
      elseif col_need[i] > 0 then -- a column that still misses a unit: walk the path back
        col_need[i] = col_need[i] - 1
        local p = i
        while true do
          local r = from["c" .. p][2]
          up[r][p] = true                         -- the forward step row r -> column p
          local back = from["r" .. r]
          if back == "s" then row_need[r] = row_need[r] - 1; return true end
          p = back[2]
          up[r][p] = false                        -- the backward step column p -> row r undoes a unit
        end
      else
        for c = 1, #counts do
          if up[c][i] and not from["r" .. c] then from["r" .. c], queue[#queue + 1] = { "c", i }, { "r", c } end
        end
      end
    end
    return false
  end
  local missing = 0
  for c = 1, #counts do missing = missing + row_need[c] end
  for _ = 1, missing do assert(augment(), "data: internal error: no stratified rounding found") end
  for c = 1, #counts do for p = 1, #totals do if up[c][p] then m[c][p] = m[c][p] + 1 end end end
  return m
end

-- Part sizes from counts (integers) or fractions; a last "rest" part takes what they leave.
local function part_sizes(fn, spec, n)
  if #spec == 0 then raise(fn .. ": give the parts as counts {800, 200} or fractions {0.8, 0.2}") end
  local integral, total = true, 0
  for i, v in ipairs(spec) do
    if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
      raise(string.format("%s: part %d must be a number >= 0, got %s", fn, i, tostring(v)))
    end
    integral, total = integral and math.tointeger(v) ~= nil, total + v
  end
  local sizes, target = {}, nil
  if integral then
    for i, v in ipairs(spec) do sizes[i] = math.tointeger(v) end
    if total > n then raise(string.format("%s: the counts add up to %d, the data set has %d", fn, total, n)) end
    target = total
  else
    if total > 1 + 1e-9 then raise(string.format("%s: the fractions add up to %.17g, more than 1", fn, total)) end
    target = total >= 1 - 1e-9 and n or math.floor(n * total + 0.5)
    local order, given = {}, 0
    for i, v in ipairs(spec) do sizes[i], order[i] = math.floor(n * v), i; given = given + sizes[i] end
    table.sort(order, function(a, b)            -- largest remainders first, then by position
      local ra, rb = n * spec[a] - sizes[a], n * spec[b] - sizes[b]
      if ra ~= rb then return ra > rb end
      return a < b
    end)
    for j = 1, target - given do sizes[order[(j - 1) % #order + 1]] = sizes[order[(j - 1) % #order + 1]] + 1 end
  end
  if target < n then sizes[#sizes + 1] = n - target end
  return sizes
end

-- Deals the n indices into parts of the given sizes: a seeded shuffle (per class when stratified),
-- then consecutive runs; each part comes back sorted, keeping the data set's order.
local function deal(self, fn, sizes, seed, stratify)
  local n, parts = #self, {}
  for p = 1, #sizes do parts[p] = {} end
  local function give(list, counts)
    local at = 0
    for p = 1, #counts do
      for i = at + 1, at + counts[p] do parts[p][#parts[p] + 1] = list[i] end
      at = at + counts[p]
    end
  end
  if stratify then
    if not self.num_classes then raise(fn .. ": stratify needs labels; data set '" .. self.name .. "' has none") end
    local groups, classes = {}, {}
    for i, label in ipairs(M.label_list(self._c)) do
      if not groups[label] then groups[label] = {}; classes[#classes + 1] = label end
      table.insert(groups[label], i)
    end
    table.sort(classes)
    local counts = {}
    for j, label in ipairs(classes) do counts[j] = #groups[label] end
    local m = round_table(counts, sizes, n)
    for j, label in ipairs(classes) do
      local g, perm, shuffled = groups[label], C.permutation(#groups[label], seed, label), {}
      for i = 1, #g do shuffled[i] = g[perm[i]] end
      give(shuffled, m[j])
    end
  else
    give(C.permutation(n, seed, 0), sizes)
  end
  for p = 1, #parts do table.sort(parts[p]) end
  return parts
end

--- ds:split{a, b, ..., seed =, stratify = false} -> parts: counts {8000, 2000} or fractions {0.8, 0.2}.
-- Counts or fractions that leave some images out simply leave them out. Stratified parts hold each class
-- in the proportion of the part's size, to within one image. Each part keeps the set's order.
function Dataset:split(spec)
  if type(spec) ~= "table" then raise("split: expects a table like {0.8, 0.2, seed = 0}") end
  check_options("split", spec, { seed = true, stratify = true })
  local sizes = part_sizes("split", spec, #self)
  local seed = int_option("split", spec, "seed", nil) or C.draw_seed()
  local parts = deal(self, "split", sizes, seed, bool_option("split", spec, "stratify", false))
  local out = {}
  for p = 1, #spec do out[p] = wrap(M.subset(self._c, parts[p]), string.format("%s/part%d", self.name, p)) end
  return table.unpack(out, 1, #spec)
end

--- ds:kfold(k [, {seed =, stratify = false}]) -> { {train = set, val = set}, ... }: each image in exactly one val.
function Dataset:kfold(k, opts)
  opts = check_options("kfold", opts, { seed = true, stratify = true })
  local n = #self
  k = math.tointeger(k)
  if not k or k < 2 or k > n then raise(string.format("kfold: k must be an integer in [2, %d]", n)) end
  local sizes = {}
  for f = 1, k do sizes[f] = n // k + (f <= n % k and 1 or 0) end
  local seed = int_option("kfold", opts, "seed", nil) or C.draw_seed()
  local parts = deal(self, "kfold", sizes, seed, bool_option("kfold", opts, "stratify", false))
  local folds = {}
  for f = 1, k do
    local train = {}
    for g = 1, k do if g ~= f then table.move(parts[g], 1, #parts[g], #train + 1, train) end end
    table.sort(train)
    folds[f] = {
      train = wrap(M.subset(self._c, train), string.format("%s/fold%d/train", self.name, f)),
      val = wrap(M.subset(self._c, parts[f]), string.format("%s/fold%d/val", self.name, f)) }
  end
  return folds
end

data.Dataset = Dataset
data.is_dataset = is_dataset
return data
