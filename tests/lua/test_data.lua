-- lt.data: IDX files written and read back (gzipped and raw), broken files as
-- errors that name the file, splits and folds (counts, fractions, stratified
-- proportions to within one image), subsets and concatenation, batches
-- (sizes, drop_last, byte / 255 exactly, labels + 1, seeded shuffles that
-- repeat in a fresh process and change with the epoch). Needs no data/ folder;
-- the one test of the installed MNIST-10k set skips (with a note) without it.
local H = require "harness"
local lt = require "latent"
local data = lt.data

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
local function tmp(name) return dir .. "/" .. name end

local function write_bytes(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  return path
end

-- n images of 1 x 4 x 5 with known bytes, and unbalanced labels over 4 classes (0-based).
local H_, W_ = 4, 5
local function image_bytes(n)
  local out = {}
  for i = 1, n do
    local img = {}
    for k = 1, H_ * W_ do img[k] = string.char((i * 31 + k * 7) % 256) end
    out[i] = table.concat(img)
  end
  return table.concat(out)
end
local function label_of(i) return (i * i + i // 3) % 7 % 4 end
local function label_bytes(n)
  local out = {}
  for i = 1, n do out[i] = string.char(label_of(i)) end
  return table.concat(out)
end
local function make_set(n) return data.from_bytes(image_bytes(n), { n, 1, H_, W_ }, label_bytes(n)) end

-- The images of `idx` as floats, computed the way the contract states: byte / 255 in float32.
local function expected_x(bytes, idx)
  local vals = {}
  for _, i in ipairs(idx) do
    for k = 1, H_ * W_ do vals[#vals + 1] = bytes:byte((i - 1) * H_ * W_ + k) end
  end
  return lt.tensor(vals):view(#idx, 1, H_, W_) / 255
end

local function class_counts(labels)
  local counts = {}
  for _, c in ipairs(labels) do counts[c] = (counts[c] or 0) + 1 end
  return counts
end

-- ==================== IDX files ====================

H.test("IDX files round-trip, gzipped and raw, through data.idx", function()
  local n, t = 37, 11
  local sub = tmp("pair")
  assert(os.execute("mkdir -p '" .. sub .. "'"))
  data.write_idx(sub .. "/train-images-idx3-ubyte.gz", image_bytes(n), { n, H_, W_ }, true)
  data.write_idx(sub .. "/train-labels-idx1-ubyte.gz", label_bytes(n), { n }, true)
  data.write_idx(sub .. "/t10k-images-idx3-ubyte", image_bytes(t), { t, H_, W_ }, false)
  data.write_idx(sub .. "/t10k-labels-idx1-ubyte", label_bytes(t), { t }, false)
  local train, test = data.idx(sub)
  H.eq(#train, n)
  H.eq(#test, t)
  H.eq(train.shape, { 1, H_, W_ })
  H.eq(train.num_classes, 4)
  H.eq(train.name, "pair/train")
  H.eq(test.name, "pair/test")
  local idx = {}
  for i = 1, n do idx[i] = i end
  local x, y = train:get(idx)
  H.eq(x, expected_x(image_bytes(n), idx))
  for i = 1, n do H.eq(y[i], label_of(i) + 1) end
  H.eq(train:labels(), y)
  local back = data.load(sub)                            -- a path works as a name too
  H.eq(#back, n)
end)

H.test("ds:save writes IDX .gz files that read back the same", function()
  local ds = make_set(23):subset { 5, 1, 23, 5 }
  ds:save(dir, "saved")
  local back = data.idx_files(tmp("saved-images-idx3-ubyte.gz"), tmp("saved-labels-idx1-ubyte.gz"))
  H.eq(#back, 4)
  H.eq(back:get { 1, 2, 3, 4 }, ds:get { 1, 2, 3, 4 })
  H.eq(back:labels(), ds:labels())
  local f = assert(io.open(tmp("saved-images-idx3-ubyte.gz"), "rb"))
  H.eq(f:read(2), "\x1f\x8b", "gzip magic")
  f:close()
end)

H.test("sets of several channels save as idx4 and load through data.idx", function()
  local sub = tmp("rgb")
  assert(os.execute("mkdir -p '" .. sub .. "'"))
  local ds = data.from_bytes(image_bytes(12), { 2, 3, H_, W_ * 2 }, "\1\0")
  ds:save(sub, "train")
  local back, test = data.idx(sub)
  H.eq(test, nil)
  H.eq(back.shape, { 3, H_, W_ * 2 })
  H.eq(back:get { 1, 2 }, ds:get { 1, 2 })
  H.eq(back:labels(), lt.tensor { 2, 1 })
  local images_only = data.idx(sub, { labels = false })
  H.eq(images_only.num_classes, nil)
  os.remove(sub .. "/train-labels-idx1-ubyte.gz")
  H.raises("has no labels file beside it", data.idx, sub)
end)

-- A raw IDX file: magic (type byte, dims), big-endian sizes, then `body` bytes.
local function idx_file(name, type_byte, sizes, body)
  local head = string.pack(">BBBB", 0, 0, type_byte, #sizes)
  for _, s in ipairs(sizes) do head = head .. string.pack(">I4", s) end
  return write_bytes(tmp(name), head .. body)
end

H.test("broken files are errors naming the file and the problem", function()
  local good = idx_file("good-images", 8, { 3, H_, W_ }, image_bytes(3))
  local labels = idx_file("good-labels", 8, { 3 }, "\0\1\2")
  local function fails(pattern, images, lab)
    local err = H.raises(pattern, data.idx_files, images, lab)
    local named = err:find(images, 1, true) or (lab and err:find(lab, 1, true))
    H.ok(named, "the message names the file: " .. err)
  end
  fails("truncated: the header promises 60 bytes of data, the file ends after 59",
    idx_file("cut", 8, { 3, H_, W_ }, image_bytes(3):sub(1, -2)), labels)
  fails("3 bytes of trailing data", idx_file("long", 8, { 3, H_, W_ }, image_bytes(3) .. "abc"), labels)
  fails("bad magic", write_bytes(tmp("magic"), "\1\0\8\3" .. string.rep("\0", 72)), labels)
  fails("type byte 0x0c %(int %(32%-bit%)%) is not supported", idx_file("int", 12, { 3, H_, W_ }, ""), labels)
  fails("5 dimensions in the header", idx_file("dims", 8, { 3, 1, 1, H_, W_ }, image_bytes(3)), labels)
  fails("a size of 0", idx_file("zero", 8, { 3, 0, W_ }, ""), labels)
  fails("absurd sizes", idx_file("absurd", 8, { 4000000000, 4000000, 28 }, image_bytes(3)), labels)
  fails("the file is empty", write_bytes(tmp("empty"), ""), labels)
  fails("five%-labels: 5 labels, but .*good%-images holds 3 images", good,
    idx_file("five-labels", 8, { 5 }, "\0\1\2\3\4"))
  fails("a labels file has 1 dimension, this one has 3", good, idx_file("labels3", 8, { 3, 1, 1 }, "\0\1\2"))
  fails("an images file has 3 dimensions", labels, labels)
  fails("cannot open", tmp("no-such-file.gz"), labels)
  H.raises("no training images in", data.idx, tmp("nowhere"))
  H.raises("no data set 'no%-such%-set'.*scripts/data%.sh", data.load, "no-such-set")
  H.eq(#data.idx_files(good, labels), 3) -- the process survived and still reads good files
end)

H.test("data.write_idx refuses sizes that do not match the bytes", function()
  H.raises("the dims need 20 bytes, the string holds 3", data.write_idx, tmp("w"), "abc", { 4, 5 })
  H.raises("1 to 4 dims", data.write_idx, tmp("w"), "abc", {})
end)

-- ==================== sources ====================

H.test("from_tensor rounds to bytes; from_bytes and random check their sizes", function()
  local x = lt.tensor { 0, 1 / 255, 0.5, 1, 0.2, 0.7 }:view(3, 1, 1, 2)
  local ds = data.from_tensor(x, lt.tensor { 1, 3, 2 })
  H.eq(ds.num_classes, 3)
  H.eq(ds.shape, { 1, 1, 2 })
  H.eq(ds:get { 1, 2, 3 }, lt.tensor { 0, 1, 128, 255, 51, 179 }:view(3, 1, 1, 2) / 255)
  H.eq(data.from_tensor(lt.zeros(2, 3, 3)).shape, { 1, 3, 3 }) -- N x H x W means one channel
  H.eq(data.from_tensor(lt.zeros(2, 3, 3)).num_classes, nil)
  H.raises("outside %[0, 1%]", data.from_tensor, lt.tensor { 0, 1.5 }:view(1, 1, 1, 2))
  H.raises("integers in %[1, 256%]", data.from_tensor, lt.zeros(2, 1, 1, 1), lt.tensor { 1, 0 })
  H.raises("one label per image", data.from_tensor, lt.zeros(2, 1, 1, 1), lt.tensor { 1, 2, 3 })
  H.raises("N x C x H x W", data.from_tensor, lt.zeros(4, 4))
  H.raises("holds 3 bytes, not the 20", data.from_bytes, "abc", { 1, 1, H_, W_ })
  H.raises("labels string holds 1 bytes", data.from_bytes, image_bytes(2), { 2, 1, H_, W_ }, "a")
  local r1 = data.random { n = 50, shape = { 2, 3, 3 }, seed = 9, num_classes = 5 }
  local r2 = data.random { n = 50, shape = { 2, 3, 3 }, seed = 9, num_classes = 5 }
  H.eq(r1:get { 1, 50 }, r2:get { 1, 50 })
  H.eq(r1:labels(), r2:labels())
  H.eq(r1.shape, { 2, 3, 3 })
  H.eq(r1.num_classes, 5)
  H.raises("'n' %(the number of images%) is required", data.random, {})
  H.raises("random: option 'shape'%[2%] must be an integer >= 1, got 2.5", data.random, { n = 2, shape = { 1, 2.5, 3 } })
  H.raises("from_bytes: images must be a string, got nil", data.from_bytes, nil, { 1, 1, 1, 1 })
  H.raises("from_bytes: shape must be a table {n, c, h, w}", data.from_bytes, "a", { 1, 1, 1 })
  H.raises("from_tensor: x must be a tensor, got table", data.from_tensor, { 1, 2 })
  H.raises("permutation: seed must be an integer, got nil", data.permutation, 5)
end)

-- ==================== access, subsets, concatenation ====================

H.test("get takes tables or one integer; bad indices are errors", function()
  local ds = make_set(10)
  local x, y = ds:get(4)
  H.eq(x, expected_x(image_bytes(10), { 4 }))
  H.eq(y, lt.tensor { label_of(4) + 1 })
  H.raises("get: index 11 out of range %[1, 10%]", ds.get, ds, 11)
  H.raises("get: indices%[2%] = 0 is out of range", ds.get, ds, { 1, 0 })
  H.raises("get: indices%[1%] must be an integer, got 1.5", ds.get, ds, { 1.5 })
  H.eq(ds:get { 2.0 }, ds:get { 2 }) -- integral floats are integers
  local unlabelled = data.from_bytes(image_bytes(2), { 2, 1, H_, W_ })
  H.eq(unlabelled.num_classes, nil)
  H.eq(select("#", unlabelled:get { 1, 2 }), 1)
  H.raises("has no labels", unlabelled.labels, unlabelled)
end)

H.test("subset and concat share the images and keep the labels", function()
  local ds = make_set(30)
  local s = ds:subset { 3, 3, 30 }
  H.eq(#s, 3)
  H.eq(s:get { 1, 2, 3 }, ds:get { 3, 3, 30 })
  H.eq(s.num_classes, 4)
  local other = data.from_bytes(image_bytes(5), { 5, 1, H_, W_ }, label_bytes(5))
  local both = data.concat(s, other)
  H.eq(#both, 8)
  H.eq(both:get { 4, 8 }, other:get { 1, 5 })
  H.eq(both:labels(), lt.cat({ s:labels(), other:labels() }, 1))
  H.eq(both.name, "bytes/subset+bytes")
  s, ds, other = nil, nil, nil
  collectgarbage()
  H.eq(both:get { 1 }, expected_x(image_bytes(30), { 3 })) -- the bytes outlive the sets they came from
  H.raises("^concat: images of set 1 are 1x4x5, of set 2 1x5x4$", data.concat, both,
    data.from_bytes(image_bytes(1), { 1, 1, 5, 4 }, "\0"))
  H.raises("set 2 has labels and set 1 has none", data.concat, data.from_bytes(image_bytes(1), { 1, 1, H_, W_ }), both)
  H.raises("^subset: indices%[1%] = 99 is out of range %[1, 8%]$", both.subset, both, { 99 })
end)

-- ==================== splits and folds ====================

-- Checks that parts are disjoint, sorted and cover 1..n exactly once (or leave `rest` out).
local function check_partition(parts_idx, n, rest)
  local seen, total = {}, 0
  for _, idx in ipairs(parts_idx) do
    for j, i in ipairs(idx) do
      H.ok(not seen[i], "index " .. i .. " in two parts")
      H.ok(j == 1 or idx[j - 1] < i, "a part keeps the data set's order")
      seen[i], total = true, total + 1
    end
  end
  H.eq(total, n - (rest or 0))
end

-- The 1-based original indices of a split part: the parts come from ds:subset over 1..n, so
-- their images identify them (image i has first byte (31 i + 7) % 256, unique for i <= 256).
local first_byte_of = {}
for j = 1, 256 do first_byte_of[(j * 31 + 7) % 256] = j end
local function origin(part)
  local idx, all = {}, {}
  if #part == 0 then return idx end
  for i = 1, #part do all[i] = i end
  local rows = part:get(all):view(#part, -1):totable()
  for i = 1, #part do idx[i] = first_byte_of[math.floor(rows[i][1] * 255 + 0.5)] end
  return idx
end

H.test("split by counts and by fractions: disjoint, covering, seeded", function()
  local ds = make_set(103)
  local a, b = ds:split { 80, 23, seed = 1 }
  H.eq({ #a, #b }, { 80, 23 })
  check_partition({ origin(a), origin(b) }, 103)
  local f1, f2 = ds:split { 0.8, 0.2, seed = 1 }
  H.eq({ #f1, #f2 }, { 82, 21 }) -- 82.4 and 20.6: the larger remainder gets the last image
  local p, q, r = ds:split { 0.5, 0.3, 0.2, seed = 5 }
  H.eq(#p + #q + #r, 103)
  check_partition({ origin(p), origin(q), origin(r) }, 103)
  local s1 = ds:split { 10, 20, seed = 3 }           -- counts may leave images out
  H.eq(#s1, 10)
  local again = ds:split { 10, 20, seed = 3 }
  H.eq(origin(again), origin(s1))
  local other = ds:split { 10, 20, seed = 4 }
  H.ok(table.concat(origin(other), ",") ~= table.concat(origin(s1), ","), "another seed, another split")
  lt.manual_seed(77)
  local d1 = origin((ds:split { 10, 93 }))
  lt.manual_seed(77)
  H.eq(origin((ds:split { 10, 93 })), d1, "the default seed comes from the global generator")
  H.eq(a.name, "bytes/part1")
  H.raises("the counts add up to 104, the data set has 103", ds.split, ds, { 100, 4 })
  H.raises("the fractions add up to 1.1", ds.split, ds, { 0.6, 0.5 })
  H.raises("part 2 must be a number >= 0", ds.split, ds, { 0.5, -0.1 })
  H.raises("unknown option 'stratified'", ds.split, ds, { 0.5, 0.5, stratified = true })
  H.raises("stratify needs labels", data.from_bytes(image_bytes(4), { 4, 1, H_, W_ }).split,
    data.from_bytes(image_bytes(4), { 4, 1, H_, W_ }), { 2, 2, stratify = true })
end)

-- Every class in every part within one image of its share: n_c * size_p / N.
local function check_stratified(parts, counts, n)
  for p, part in ipairs(parts) do
    local got = class_counts(part:labels():totable())
    for c, n_c in pairs(counts) do
      local exact = n_c * #part / n
      H.ok(math.abs((got[c] or 0) - exact) < 1,
        string.format("part %d class %d: %d images, its share is %.3f", p, c, got[c] or 0, exact))
    end
  end
end

H.test("stratified splits hold each class in proportion, to within one image", function()
  local ds = make_set(211)
  local counts = class_counts(ds:labels():totable())
  for _, spec in ipairs { { 0.8, 0.2 }, { 0.5, 0.3, 0.2 }, { 100, 60, 51 }, { 0.1, 0.25, 0.15, 0.3, 0.2 }, { 50, 7 } } do
    spec.seed, spec.stratify = 11, true
    local parts = { ds:split(spec) }
    local total = 0
    for i, part in ipairs(parts) do
      total = total + #part
      if math.type(spec[i]) == "integer" then H.eq(#part, spec[i]) end
    end
    check_stratified(parts, counts, 211)
    local idx = {}
    for i, part in ipairs(parts) do idx[i] = origin(part) end
    if total == 211 then check_partition(idx, 211) end
  end
end)

H.test("kfold: each image in exactly one validation fold, stratified within one image", function()
  local ds = make_set(103)
  local counts = class_counts(ds:labels():totable())
  for _, stratify in ipairs { false, true } do
    local folds = ds:kfold(5, { seed = 2, stratify = stratify })
    H.eq(#folds, 5)
    local vals = {}
    for f, fold in ipairs(folds) do
      H.ok(#fold.val == 20 or #fold.val == 21, "fold sizes differ by at most one")
      H.eq(#fold.train + #fold.val, 103)
      check_partition({ origin(fold.train), origin(fold.val) }, 103)
      vals[f] = origin(fold.val)
      H.eq(fold.val.name, "bytes/fold" .. f .. "/val")
    end
    check_partition(vals, 103)
    if stratify then
      local v = {}
      for f, fold in ipairs(folds) do v[f] = fold.val end
      check_stratified(v, counts, 103)
    end
  end
  H.raises("k must be an integer in %[2, 103%]", ds.kfold, ds, 1)
  H.raises("k must be an integer in %[2, 103%]", ds.kfold, ds, 2.5)
end)

-- ==================== batches ====================

H.test("large batches (converted by several threads) hold the same values as small ones", function()
  local n = 1400 -- 1400 x 784 values: above the size where the conversion goes parallel
  local ds = data.random { n = n, shape = { 1, 28, 28 }, seed = 4 }
  local idx = {}
  for i = 1, n do idx[i] = n + 1 - i end
  local threads = lt.get_num_threads()
  lt.set_num_threads(2)
  local x = ds:get(idx)
  lt.set_num_threads(threads)
  H.eq(x:narrow(1, 1, 100), ds:get(table.move(idx, 1, 100, 1, {})))
  H.eq(x:narrow(1, n - 99, 100), ds:get(table.move(idx, n - 99, n, 1, {})))
end)

local function batch_orders(ds, opts)
  local sizes, all = {}, {}
  for x, y, idx in ds:batches(opts) do
    sizes[#sizes + 1] = #idx
    H.eq(x.shape[1], #idx)
    H.eq(y.shape[1], #idx)
    for _, i in ipairs(idx) do all[#all + 1] = i end
  end
  return sizes, all
end

H.test("batches: sizes, drop_last, and the plain order", function()
  local ds = make_set(103)
  local sizes, order = batch_orders(ds, { size = 25 })
  H.eq(sizes, { 25, 25, 25, 25, 3 })
  for i = 1, 103 do H.eq(order[i], i) end
  H.eq((batch_orders(ds, { size = 25, drop_last = true })), { 25, 25, 25, 25 })
  H.eq(ds:num_batches { size = 25 }, 5)
  H.eq(ds:num_batches { size = 25, drop_last = true }, 4)
  H.eq((batch_orders(ds, { size = 200 })), { 103 })
  H.eq((batch_orders(ds, { size = 200, drop_last = true })), {})
  H.raises("option 'size' must be at least 1", ds.batches, ds, { size = 0 })
  H.raises("option 'size' must be an integer, got 2.5", ds.batches, ds, { size = 2.5 })
  H.raises("unknown option 'batch_size'", ds.batches, ds, { batch_size = 5 })
end)

H.test("batches: x is byte / 255 exactly and y is label + 1, shuffled or not", function()
  local n = 64
  local ds, bytes = make_set(n), image_bytes(n)
  for x, y, idx in ds:batches { size = 10, shuffle = true, seed = 3 } do
    H.eq(x, expected_x(bytes, idx))
    for j, i in ipairs(idx) do H.eq(y[j], label_of(i) + 1) end
  end
end)

H.test("shuffles are a function of (seed, epoch), the same in a fresh process", function()
  local ds = make_set(103)
  local _, e1 = batch_orders(ds, { size = 16, shuffle = true, seed = 7, epoch = 1 })
  local _, e1b = batch_orders(ds, { size = 16, shuffle = true, seed = 7, epoch = 1 })
  local _, e2 = batch_orders(ds, { size = 16, shuffle = true, seed = 7, epoch = 2 })
  H.eq(e1, e1b)
  H.ok(table.concat(e1, ",") ~= table.concat(e2, ","), "another epoch, another order")
  local sorted = table.move(e1, 1, #e1, 1, {})
  table.sort(sorted)
  for i = 1, 103 do H.eq(sorted[i], i) end
  -- a fresh process, after other draws from the global generator, gives the same order
  local script = write_bytes(tmp("order.lua"), [[
    local lt = require "latent"
    lt.manual_seed(999); lt.randn(10)
    local ds = lt.data.random { n = 103, shape = { 1, 2, 2 }, seed = 1 }
    local all = {}
    for _, _, idx in ds:batches { size = 16, shuffle = true, seed = 7, epoch = 1 } do
      for _, i in ipairs(idx) do all[#all + 1] = i end
    end
    io.write(table.concat(all, ","))
  ]])
  local exe = (os.getenv("LATENT_TEST_BUILD_DIR") or "build") .. "/latent"
  local p = assert(io.popen("'" .. exe .. "' '" .. script .. "'"))
  local out = p:read("a")
  p:close()
  H.eq(out, table.concat(e1, ","))
  -- without a seed, one draw from the global generator: lt.manual_seed repeats it
  lt.manual_seed(5)
  local _, d1 = batch_orders(ds, { size = 16, shuffle = true })
  local _, d2 = batch_orders(ds, { size = 16, shuffle = true })
  lt.manual_seed(5)
  local _, d3 = batch_orders(ds, { size = 16, shuffle = true })
  H.eq(d1, d3)
  H.ok(table.concat(d1, ",") ~= table.concat(d2, ","), "each call draws a new seed")
end)

-- ==================== the installed MNIST-10k set ====================

H.test("data/mnist10k, when installed, is 8000/2000 and stratified", function()
  local ok, train, test = pcall(data.load, "mnist10k")
  if not ok then
    print("note: mnist10k is not installed (bash scripts/data.sh installs it); skipping its check")
    return
  end
  H.eq({ #train, #test }, { 8000, 2000 })
  H.eq(train.shape, { 1, 28, 28 })
  H.eq(train.num_classes, 10)
  -- the npm package's counts per digit, 0 to 9
  local per_digit = { 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978 }
  local tr, te = class_counts(train:labels():totable()), class_counts(test:labels():totable())
  for d = 1, 10 do
    H.eq(tr[d] + te[d], per_digit[d], "digit " .. (d - 1))
    H.ok(math.abs(te[d] - per_digit[d] * 0.2) < 1, "digit " .. (d - 1) .. " holds its share of the test set")
  end
  local x = train:get { 1, 2, 3 }
  H.ok(x:min():item() == 0 and x:max():item() == 1, "pixels span [0, 1]")
end)

os.execute("rm -rf '" .. dir .. "'")
H.done()
