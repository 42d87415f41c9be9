-- Checkpoint files: lt.save_tensors / lt.load_tensors (safetensors), the
-- generator state, lt.json_encode / lt.json_decode, and latent.checkpoint
-- with stand-in models and optimizers (anything with state_dict and
-- load_state_dict).
local H = require "harness"
local lt = require "latent"
local checkpoint = require "latent.checkpoint"

local root = os.getenv("LATENT_SOURCE_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/") or ".")
local fixtures = root .. "/tests/fixtures/"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
local function tmp(name) return dir .. "/" .. name end

local function read_bytes(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write_bytes(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- Names in dir that look like left-over temporary files.
local function temp_files()
  local out = {}
  local p = io.popen("ls -a '" .. dir .. "'")
  for name in p:lines() do if name:find("%.tmp%-") then out[#out + 1] = name end end
  p:close()
  return out
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- ==================== stand-ins for layers and optimizers ====================

-- A model holding named tensors; load_state_dict copies values, as nn modules do.
local function Model(spec)
  local m = { tensors = {} }
  for name, shape in pairs(spec) do m.tensors[name] = lt.randn(table.unpack(shape)) end
  function m:state_dict()
    local out = {}
    for k, v in pairs(self.tensors) do out[k] = v end
    return out
  end
  function m:load_state_dict(tensors, opts)
    local strict = not (opts and opts.strict == false)
    for name, t in pairs(self.tensors) do
      if tensors[name] then lt.no_grad(function() t:copy(tensors[name]) end)
      elseif strict then error("load_state_dict: missing " .. name, 2) end
    end
    for name in pairs(tensors) do
      if strict and not self.tensors[name] then error("load_state_dict: unexpected " .. name, 2) end
    end
  end
  return m
end

-- An optimizer whose state is two tensors and a meta table.
local function Optimizer()
  local o = {
    tensors = { ["1.exp_avg"] = lt.randn(3, 2), ["2.exp_avg"] = lt.randn(3) },
    meta = { type = "Adam", step = { 5, 5 }, lr = 0.1 + 0.2, betas = { 0.9, 0.999 }, amsgrad = false },
  }
  function o:state_dict() return self.tensors, self.meta end
  function o:load_state_dict(tensors, meta)
    self.loaded_tensors, self.loaded_meta = tensors, meta
  end
  return o
end

local ae_spec = { ["encoder.0.weight"] = { 3, 2 }, ["encoder.0.bias"] = { 3 }, ["encoder.2.weight"] = { 4, 3 },
                  ["decoder.0.weight"] = { 2, 4 }, ["bn.running_mean"] = { 3 } }

-- ==================== safetensors ====================

H.test("save_tensors / load_tensors round trip", function()
  local a = lt.randn(2, 3)
  local tensors = { a = a, ["a.t"] = a:t(), s = lt.full({}, 3.5), e = lt.zeros(0, 3), ["é"] = lt.arange(4) }
  lt.save_tensors(tmp("rt.safetensors"), tensors, { note = "café", epoch = "3" })
  local t, meta = lt.load_tensors(tmp("rt.safetensors"))
  H.eq(sorted_keys(t), { "a", "a.t", "e", "s", "é" })
  for name, orig in pairs(tensors) do
    H.eq(t[name], orig, name)
    H.ok(t[name]:is_contiguous(), name .. " is contiguous")
  end
  H.eq(H.shape_of(t.e), "0x3")
  H.eq(t.s:dim(), 0)
  H.eq(meta, { note = "café", epoch = "3" })
  -- loaded tensors are new: changing the original does not change them
  a:fill(0)
  H.ok(t.a:abs():sum():item() > 0)
  -- no metadata: an empty table
  lt.save_tensors(tmp("nometa.safetensors"), { x = lt.ones(2) })
  local _, m2 = lt.load_tensors(tmp("nometa.safetensors"))
  H.eq(next(m2), nil)
  H.eq(#temp_files(), 0)
end)

H.test("the same content gives the same bytes", function()
  local x, y = lt.randn(5), lt.randn(2, 2)
  lt.save_tensors(tmp("one"), { x = x, y = y }, { b = "2", a = "1" })
  lt.save_tensors(tmp("two"), { y = y, x = x }, { a = "1", b = "2" })
  H.ok(read_bytes(tmp("one")) == read_bytes(tmp("two")))
  local bytes = read_bytes(tmp("one"))
  local n = string.unpack("<I8", bytes)
  H.eq(n % 8, 0)
  H.eq(#bytes, 8 + n + (5 + 4) * 4)
end)

H.test("reads files written outside latent", function()
  local t, meta = lt.load_tensors(fixtures .. "reference.safetensors")
  H.eq(t["enc.0.weight"], lt.tensor({ { -1, -0.5, 0 }, { 0.5, 1, 1.5 } }))
  H.eq(t.half:totable(), { 1, -2.5, 65504, 2 ^ -24, 0, 0.333251953125 })
  H.eq(t.steps:item(), 1234)
  H.eq(t.steps:dim(), 0)
  H.eq(t.mask:totable(), { 1, 0, 0, 1 })
  H.eq(meta.format, "pt")
  H.eq(meta.note, "café ☃ 😀")
  local s = lt.load_tensors(fixtures .. "spaced.safetensors")
  H.eq(s["enc.0.weight"], t["enc.0.weight"])
end)

H.test("load_tensors errors name the file and the problem", function()
  H.raises("load_tensors: .*nope%.safetensors: cannot open: No such file", lt.load_tensors, tmp("nope.safetensors"))
  write_bytes(tmp("text.safetensors"), "just some text, not tensors")
  H.raises("load_tensors: .*text%.safetensors: not a safetensors file", lt.load_tensors, tmp("text.safetensors"))
  lt.save_tensors(tmp("good.safetensors"), { w = lt.randn(10) })
  local bytes = read_bytes(tmp("good.safetensors"))
  write_bytes(tmp("cut.safetensors"), bytes:sub(1, #bytes - 3))
  H.raises("load_tensors: .*cut%.safetensors: truncated: header says 40 bytes of data, file has 37",
    lt.load_tensors, tmp("cut.safetensors"))
  for cut = 0, #bytes - 1, 7 do -- any cut fails cleanly
    write_bytes(tmp("cut.safetensors"), bytes:sub(1, cut))
    H.raises("load_tensors: .*cut%.safetensors: ", lt.load_tensors, tmp("cut.safetensors"))
  end
  local bad = bytes:gsub('"F32"', '"I64"', 1)
  write_bytes(tmp("dtype.safetensors"), bad)
  H.raises("tensor 'w' of shape 10 and dtype I64 needs 80 bytes", lt.load_tensors, tmp("dtype.safetensors"))
  H.raises("load_tensors: .*not a regular file", lt.load_tensors, dir)
  H.raises("bad argument #1 to '.*load_tensors'", lt.load_tensors, {})
end)

H.test("save_tensors checks its arguments", function()
  H.raises("save_tensors: 'w' is not a tensor %(got number%)", lt.save_tensors, tmp("x"), { w = 1 })
  H.raises("save_tensors: tensor names must be strings, got a number key", lt.save_tensors, tmp("x"), { lt.ones(1) })
  H.raises("save_tensors: metadata 'epoch' must be a string %(got number%)", lt.save_tensors, tmp("x"),
    { w = lt.ones(1) }, { epoch = 3 })
  H.raises("save_tensors: .*a tensor cannot be named '__metadata__'", lt.save_tensors, tmp("x"),
    { __metadata__ = lt.ones(1) })
  H.raises("save_tensors: .*not valid UTF%-8", lt.save_tensors, tmp("x"), { ["\xff"] = lt.ones(1) })
  H.raises("bad argument #2 to '.*save_tensors' %(table expected", lt.save_tensors, tmp("x"), lt.ones(1))
  H.raises("bad argument #1 to '.*save_tensors'", lt.save_tensors, nil, {})
  local closed
  do
    local c <close> = lt.ones(2)
    closed = c
  end
  H.raises("save_tensors: 'w' is not a tensor", lt.save_tensors, tmp("x"), { w = closed })
  H.eq(io.open(tmp("x")), nil)
end)

H.test("a failed save leaves the old file and no temporary file", function()
  H.raises("save_tensors: .*missing/dir/m%.safetensors: cannot create a file in .*No such file or directory",
    lt.save_tensors, tmp("missing/dir/m.safetensors"), { w = lt.ones(2) })
  assert(os.execute("mkdir -p '" .. tmp("adir") .. "'"))
  H.raises("save_tensors: .*adir: cannot rename", lt.save_tensors, tmp("adir"), { w = lt.ones(2) })
  H.eq(temp_files(), {})
  -- an existing file survives a save that fails
  lt.save_tensors(tmp("keep.safetensors"), { w = lt.ones(2) })
  local before = read_bytes(tmp("keep.safetensors"))
  H.raises("save_tensors:", lt.save_tensors, tmp("keep.safetensors"), { w = lt.ones(2), __metadata__ = lt.ones(1) })
  H.ok(read_bytes(tmp("keep.safetensors")) == before)
  H.eq(temp_files(), {})
end)

-- ==================== the generator state ====================

H.test("rng_state restores the generator exactly", function()
  local s = lt.rng_state()
  H.ok(type(s) == "string" and #s == 81 and s:match("^%x+$"), "81 hex digits")
  local a, b, c = lt.randn(7), lt.rand(3), lt.randint(1, 100, 5)
  lt.set_rng_state(s)
  H.eq(lt.randn(7), a)
  H.eq(lt.rand(3), b)
  H.eq(lt.randint(1, 100, 5), c)
  -- with a normal pending from Box-Muller (an odd count leaves one waiting)
  lt.manual_seed(3)
  lt.randn(1)
  local s2 = lt.rng_state()
  H.eq(s2:sub(-1), "1")
  local x = lt.randn(3)
  lt.set_rng_state(s2)
  H.eq(lt.randn(3), x)
  H.ok(lt.rng_state() ~= s2)
end)

H.test("set_rng_state rejects what rng_state cannot have made", function()
  H.raises("bad argument #1 to '.*set_rng_state' %(expected a generator state from lt.rng_state%(%)",
    lt.set_rng_state, "xyz")
  H.raises("expected a generator state", lt.set_rng_state, string.rep("g", 81))
  H.raises("expected a generator state", lt.set_rng_state, string.rep("0", 80) .. "2")
  H.raises("all%-zero generator state is invalid", lt.set_rng_state, string.rep("0", 81))
  H.raises("bad argument #1 to '.*set_rng_state'", lt.set_rng_state, {})
end)

-- ==================== JSON ====================

H.test("json_encode / json_decode keep integers and floats exact", function()
  local v = { epoch = 3, lr = 0.1 + 0.2, betas = { 0.9, 0.999 }, name = "café \"q\"\n", flag = true, off = false,
              nested = { list = { 1, 2.0, { a = -7 } }, empty = {} }, big = math.maxinteger, huge = math.huge,
              tiny = 5e-324, neg = -0.0 }
  local s = lt.json_encode(v)
  local back = lt.json_decode(s)
  H.eq(math.type(back.epoch), "integer")
  H.eq(back.epoch, 3)
  H.ok(back.lr == 0.1 + 0.2, "0.1 + 0.2 comes back bit for bit")
  H.eq(math.type(back.nested.list[2]), "float")
  H.eq(back.nested.list[3].a, -7)
  H.eq(back.big, math.maxinteger)
  H.eq(back.huge, math.huge)
  H.eq(back.tiny, 5e-324)
  H.eq(1 / back.neg, -math.huge)
  H.eq(back.name, v.name)
  H.eq(back.flag, true)
  H.eq(back.off, false)
  H.eq(back.betas, { 0.9, 0.999 })
  H.eq(next(back.nested.empty), nil)
  H.eq(lt.json_encode(back), s) -- stable: keys are sorted
  H.eq(lt.json_encode({ b = 1, a = { 1, 2 } }), '{"a":[1,2],"b":1}')
  H.eq(lt.json_encode(3.0), "3.0")
  local nan = lt.json_decode(lt.json_encode(0 / 0))
  H.ok(nan ~= nan, "NaN survives")
  H.eq(lt.json_decode('[1, null, 3]')[3], 3)
  H.eq(lt.json_decode('"\\u00e9\\ud83d\\ude00"'), "é😀")
end)

H.test("json errors say where", function()
  H.raises("json_encode: cannot encode a function at %$%.f", lt.json_encode, { f = print })
  H.raises("json_encode: cannot encode a latent%.Tensor at %$%.a%.b%[2%]", lt.json_encode, { a = { b = { 1, lt.ones(1) } } })
  H.raises("json_encode: a table with non%-string keys", lt.json_encode, { [1] = 1, [3] = 3 })
  H.raises("json_encode: a table with non%-string keys", lt.json_encode, { 1, 2, x = 3 })
  local cyc = {}
  cyc.self = cyc
  H.raises("json_encode: tables nested too deeply %(a cycle%?%)", lt.json_encode, cyc)
  H.raises("json_encode: a string that is not valid UTF%-8 at %$%.s", lt.json_encode, { s = "\xff" })
  H.raises("json_decode: at byte 7: expected ',' or '}' in an object", lt.json_decode, '{"a":1 "b":2}')
  H.raises("json_decode: at byte 0: unexpected end of text", lt.json_decode, "")
end)

-- ==================== latent.checkpoint ====================

H.test("checkpoint save and load restore model, optimizer, generator and extra", function()
  local m, opt = Model(ae_spec), Optimizer()
  local path = tmp("ckpt.safetensors")
  local saved = {}
  for k, v in pairs(m:state_dict()) do saved[k] = v:clone() end
  checkpoint.save(path, { model = m, optimizer = opt, extra = { epoch = 3, best = 0.25, history = { 1.5, 1.25 } } })
  local after_save = lt.randn(4) -- what a resumed run must draw next

  -- the file is a plain safetensors file with readable names
  local t, meta = lt.load_tensors(path)
  H.eq(sorted_keys(t), { "model.bn.running_mean", "model.decoder.0.weight", "model.encoder.0.bias",
    "model.encoder.0.weight", "model.encoder.2.weight", "optim.1.exp_avg", "optim.2.exp_avg" })
  H.eq(meta.format, "latent-checkpoint")
  H.eq(meta.format_version, "1")
  H.eq(lt.json_decode(meta.optimizer).type, "Adam")

  local m2, opt2 = Model(ae_spec), Optimizer()
  lt.randn(10) -- move the generator on
  local extra = checkpoint.load(path, { model = m2, optimizer = opt2 })
  for k, v in pairs(saved) do H.eq(m2.tensors[k], v, k) end
  H.eq(extra, { epoch = 3, best = 0.25, history = { 1.5, 1.25 } })
  H.eq(math.type(extra.epoch), "integer")
  H.eq(opt2.loaded_tensors["1.exp_avg"], opt.tensors["1.exp_avg"])
  H.eq(opt2.loaded_tensors["2.exp_avg"], opt.tensors["2.exp_avg"])
  H.eq(sorted_keys(opt2.loaded_tensors), { "1.exp_avg", "2.exp_avg" })
  H.ok(opt2.loaded_meta.lr == 0.1 + 0.2, "lr bit for bit")
  H.eq(opt2.loaded_meta.step, { 5, 5 })
  H.eq(math.type(opt2.loaded_meta.step[1]), "integer")
  H.eq(opt2.loaded_meta.amsgrad, false)
  H.eq(lt.randn(4), after_save) -- the generator continues as after the save

  -- rng = false leaves the generator alone; no extra gives {}
  checkpoint.save(path, { model = m })
  local before = lt.rng_state()
  H.eq(checkpoint.load(path, { model = m2, rng = false }), {})
  H.eq(lt.rng_state(), before)
end)

H.test("checkpoint.load gives clear errors", function()
  local path = tmp("c.safetensors")
  local m = Model(ae_spec)
  checkpoint.save(path, { model = m })
  local bigger = Model(ae_spec)
  bigger.tensors["head.weight"] = lt.randn(2)
  H.raises("checkpoint%.load: .*c%.safetensors: model: load_state_dict: missing head%.weight", checkpoint.load, path,
    { model = bigger })
  checkpoint.load(path, { model = bigger, strict = false })
  H.raises("checkpoint%.load: .*: it holds no optimizer state", checkpoint.load, path, { optimizer = Optimizer() })

  lt.save_tensors(tmp("plain.safetensors"), { w = lt.ones(2) })
  H.raises("checkpoint%.load: .*plain%.safetensors: not a latent checkpoint %(no 'format'", checkpoint.load,
    tmp("plain.safetensors"))
  lt.save_tensors(tmp("other.safetensors"), { w = lt.ones(2) }, { format = "pt" })
  H.raises("not a latent checkpoint %(its format is 'pt'%)", checkpoint.load, tmp("other.safetensors"))
  lt.save_tensors(tmp("v2.safetensors"), {}, { format = "latent-checkpoint", format_version = "2" })
  H.raises("checkpoint format version 2 is not supported %(this latent reads version 1%)", checkpoint.load,
    tmp("v2.safetensors"))
  lt.save_tensors(tmp("odd.safetensors"), { ["weird.w"] = lt.ones(1) },
    { format = "latent-checkpoint", format_version = "1" })
  H.raises("unexpected tensor 'weird%.w'", checkpoint.load, tmp("odd.safetensors"))

  local bytes = read_bytes(path)
  write_bytes(tmp("cut.safetensors"), bytes:sub(1, #bytes // 2))
  H.raises("checkpoint%.load: .*cut%.safetensors: truncated", checkpoint.load, tmp("cut.safetensors"), { model = m })
  H.raises("checkpoint%.load: .*nothing%.safetensors: cannot open", checkpoint.load, tmp("nothing.safetensors"))
  H.raises("checkpoint%.load: the path must be a string", checkpoint.load, 3)
end)

H.test("checkpoint.save gives clear errors and writes atomically", function()
  local m = Model(ae_spec)
  H.raises("checkpoint%.save: .*: unknown field 'modle' %(expected model, optimizer, extra%)", checkpoint.save,
    tmp("e.safetensors"), { modle = m })
  H.raises("checkpoint%.save: .*: the model has no state_dict method", checkpoint.save, tmp("e.safetensors"),
    { model = {} })
  H.raises("checkpoint%.save: .*: extra: json_encode: cannot encode a function at %$%.f", checkpoint.save,
    tmp("e.safetensors"), { extra = { f = print } })
  H.eq(io.open(tmp("e.safetensors")), nil)
  local path = tmp("kept.safetensors")
  checkpoint.save(path, { model = m, extra = { epoch = 1 } })
  local before = read_bytes(path)
  H.raises("checkpoint%.save:", checkpoint.save, path, { model = m, extra = { bad = lt.ones(1) } })
  H.ok(read_bytes(path) == before, "the old checkpoint is untouched")
  assert(os.execute("mkdir -p '" .. tmp("ckdir") .. "'"))
  H.raises("checkpoint%.save: .*ckdir: cannot rename", checkpoint.save, tmp("ckdir"), { model = m })
  H.eq(temp_files(), {})
end)

H.test("load_partial moves an encoder into another model by name", function()
  local ae = Model(ae_spec)
  local path = tmp("ae.safetensors")
  checkpoint.save(path, { model = ae })
  local clf = Model({ ["0.weight"] = { 3, 2 }, ["0.bias"] = { 3 }, ["2.weight"] = { 4, 3 }, ["head.weight"] = { 10, 4 } })
  local head = clf.tensors["head.weight"]:clone()
  local report = checkpoint.load_partial(path, clf, { prefix = "encoder." })
  H.eq(report.loaded, { "0.bias", "0.weight", "2.weight" })
  H.eq(report.missing, { "head.weight" })
  H.eq(report.unexpected, {})
  H.eq(clf.tensors["0.weight"], ae.tensors["encoder.0.weight"])
  H.eq(clf.tensors["2.weight"], ae.tensors["encoder.2.weight"])
  H.eq(clf.tensors["head.weight"], head)

  -- into names under a target prefix; the model's other names are not "missing"
  local feat = Model({ ["features.0.weight"] = { 3, 2 }, ["features.0.bias"] = { 3 }, ["classifier.w"] = { 2 } })
  report = checkpoint.load_partial(path, feat, { prefix = "encoder.", target_prefix = "features." })
  H.eq(report.loaded, { "features.0.bias", "features.0.weight" })
  H.eq(report.missing, {})
  H.eq(report.unexpected, { "encoder.2.weight" })
  H.eq(feat.tensors["features.0.bias"], ae.tensors["encoder.0.bias"])
  H.raises("checkpoint%.load_partial: .*: missing none; unexpected encoder%.2%.weight", checkpoint.load_partial, path,
    feat, { prefix = "encoder.", target_prefix = "features.", strict = true })

  local wrong = Model({ ["0.weight"] = { 4, 2 } })
  H.raises("'encoder%.0%.weight' has size 3x2 in the file, but '0%.weight' has size 4x2", checkpoint.load_partial,
    path, wrong, { prefix = "encoder." })
  H.raises("no saved tensor matches prefix 'dec%.'", checkpoint.load_partial, path, clf, { prefix = "dec." })
  H.raises("checkpoint%.load_partial: the model needs state_dict and load_state_dict", checkpoint.load_partial, path, {})

  -- a plain safetensors file from elsewhere: names as they are
  local lin = Model({ weight = { 2, 3 }, bias = { 2 } })
  report = checkpoint.load_partial(fixtures .. "reference.safetensors", lin, { prefix = "enc.0." })
  H.eq(report.loaded, { "bias", "weight" })
  H.eq(lin.tensors.bias:totable(), { 0.25, -0.125 })
end)

H.test("a resumed run draws what an uninterrupted one draws", function()
  -- a toy "training" whose steps consume random numbers (noise, shuffling)
  local function step(w) return w + 0.1 * lt.randn(3) + lt.rand(3) end
  lt.manual_seed(7)
  local w = lt.zeros(3)
  for _ = 1, 6 do w = step(w) end
  local straight = w:clone()

  local m, m2 = Model({ w = { 3 } }), Model({ w = { 3 } })
  lt.manual_seed(7)
  m.tensors.w:zero()
  for _ = 1, 3 do m.tensors.w:copy(step(m.tensors.w)) end
  checkpoint.save(tmp("resume.safetensors"), { model = m, extra = { step = 3 } })
  lt.manual_seed(999) -- a fresh process would start elsewhere
  local extra = checkpoint.load(tmp("resume.safetensors"), { model = m2 })
  for _ = extra.step + 1, 6 do m2.tensors.w:copy(step(m2.tensors.w)) end
  H.eq(m2.tensors.w, straight)
end)

os.execute("rm -rf '" .. dir .. "'")
H.done()
