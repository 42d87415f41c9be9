-- Optimizers, schedules and gradient clipping against PyTorch 1.13
-- (tests/fixtures/optim.lua, made by tests/fixtures/gen_optim.py), plus
-- skipping, lr changes, checkpoint round trips and errors.
local H = require "harness"
local lt = require "latent"
local optim = require "latent.optim"

local root = os.getenv("LATENT_SOURCE_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/") or ".")
local F = dofile(root .. "/tests/fixtures/optim.lua")

-- ==================== helpers ====================

local function tensor(values, shape)
  return lt.tensor(values):view(table.unpack(shape))
end

local function fresh_params()
  local ps = {}
  for i, shape in ipairs(F.shapes) do ps[i] = tensor(F.params0[i], shape):requires_grad_() end
  return ps
end

-- x rounded to float32 (fixtures print float32 values with 9 digits)
local function f32(x) return (string.unpack("f", string.pack("f", x))) end

-- The distance between float32 values a and b in units in the last place of b.
local function ulps(a, b)
  if a == b then return 0 end
  local m = math.abs(b)
  if m < 2 ^ -126 then m = 2 ^ -126 end
  local _, e = math.frexp(m)           -- m = f * 2^e, f in [0.5, 1)
  return math.abs(a - b) / 2 ^ (e - 24)
end

-- Worst differences seen against PyTorch, reported at the end.
local worst = {optim = {rel = 0, ulps = 0, abs = 0}, sched = 0, clip = 0}

-- Compares got (a tensor) with want (a list): |d| <= rtol |want| + 1e-7,
-- rtol 1e-6 unless given.
local function compare(what, got, want, rec, rtol)
  rtol = rtol or 1e-6
  local vals = H.values(got)
  H.eq(#vals, #want, what .. ": number of values")
  for k = 1, #want do
    local w = f32(want[k])
    local d = math.abs(vals[k] - w)
    if rec then
      rec.abs = math.max(rec.abs, d)
      if w ~= 0 then rec.rel = math.max(rec.rel, d / math.abs(w)) end
      rec.ulps = math.max(rec.ulps, ulps(vals[k], w))
    end
    if not (d <= rtol * math.abs(w) + 1e-7) then
      error(string.format("%s: value %d is %.9g, PyTorch %.9g", what, k, vals[k], w), 2)
    end
  end
end

local function grad_of(step, i) return tensor(F.grads[step][i], F.shapes[i]) end

local function skip_of(case, step, i)
  for _, s in ipairs(case.skips) do
    if s.step == step and s.param == i then return s.how end
  end
end

-- ==================== against PyTorch ====================

for _, case in ipairs(F.cases) do
  H.test("matches torch.optim: " .. case.name, function()
    local ps = fresh_params()
    local opt = optim[case.type](ps, case.opts)
    H.eq(opt.type, case.type)
    for step = 1, F.steps do
      if step == F.lr_change_step then opt.lr = opt.lr * 0.5 end
      local given = {}
      for i, p in ipairs(ps) do
        local how = skip_of(case, step, i)
        if how == "nil" then
          p.grad = nil
        else
          given[i] = grad_of(step, i)
          p.grad = given[i]
          if how == "frozen" then p.requires_grad = false end
        end
      end
      opt:step()
      for i, p in ipairs(ps) do
        p.requires_grad = true
        if given[i] then H.eq(p.grad, given[i], "the gradient is left as it was") end
        compare(string.format("%s step %d parameter %d", case.name, step, i), p, case.history[step][i], worst.optim)
      end
    end
    -- the state, under PyTorch's names
    local tensors, meta = opt:state_dict()
    local n = 0
    for key, values in pairs(case.state) do
      H.ok(tensors[key], "state_dict has " .. key)
      -- looser: g / (sqrt(v) + eps) amplifies a one-ulp difference in v when
      -- v is tiny, and builds that fuse multiply-adds round differently
      compare(case.name .. " state " .. key, tensors[key], values, nil, 1e-5)
      n = n + 1
    end
    for _ in pairs(tensors) do n = n - 1 end
    H.eq(n, 0, "state_dict has the same keys as PyTorch's state")
    H.eq(meta.type, case.type)
    if case.type ~= "SGD" then H.eq(meta.step, case.step, "step counts") end -- PyTorch's SGD counts none
  end)
end

-- Does this build fuse a*b + c into one rounding (-march=native with FMA)?
-- Probes SGD's p + (-lr) * g against the float32 result with two roundings.
local function fuses_multiply_add()
  local n, g, p0, want = 256, {}, {}, {}
  local neglr = f32(-0.1)
  for k = 1, n do
    g[k] = f32(1 / (k + 2))
    p0[k] = f32(0.1 * g[k] * (1 + 1 / (k + 10))) -- close to lr * g: the product's rounding shows
    want[k] = f32(p0[k] + f32(neglr * g[k]))
  end
  local p = lt.tensor(p0):requires_grad_()
  p.grad = lt.tensor(g)
  optim.SGD({p}, {lr = 0.1}):step()
  local got = p:totable()
  for k = 1, n do if got[k] ~= want[k] then return true end end
  return false
end

-- PyTorch's scalar kernels (no FMA) round exactly as latent's loops do: the
-- same operations in the same order give the same bits after 10 steps.
H.test("bit-identical to PyTorch's scalar kernels after 10 steps", function()
  if fuses_multiply_add() then
    print("note: this build fuses multiply-adds; the bit-exact comparison is skipped")
    return
  end
  for _, case in ipairs(F.cases) do
    local ps = fresh_params()
    local opt = optim[case.type](ps, case.opts)
    for step = 1, F.steps do
      if step == F.lr_change_step then opt.lr = opt.lr * 0.5 end
      for i, p in ipairs(ps) do
        local how = skip_of(case, step, i)
        p.grad = how ~= "nil" and grad_of(step, i) or nil
        p.requires_grad = how ~= "frozen"
      end
      opt:step()
    end
    for i, p in ipairs(ps) do
      p.requires_grad = true
      for j, v in ipairs(H.values(p)) do
        if v ~= f32(case.final_scalar[i][j]) then
          error(string.format("%s: parameter %d value %d is %.9g, PyTorch (scalar kernels) %.9g",
            case.name, i, j, v, case.final_scalar[i][j]))
        end
      end
    end
  end
end)

for _, s in ipairs(F.schedules) do
  H.test("matches torch.optim.lr_scheduler: " .. s.name, function()
    local opt = optim.SGD({lt.zeros(1):requires_grad_()}, {lr = s.lr})
    local sched = optim[s.type](opt, s.opts)
    for k = 1, s.n do
      local lr = sched:step(s.metrics and s.metrics[k])
      H.eq(lr, opt.lr)
      local d = math.abs(opt.lr - s.lrs[k])
      local rel = s.lrs[k] ~= 0 and d / s.lrs[k] or d
      worst.sched = math.max(worst.sched, rel)
      if not (rel <= 1e-12) then
        error(string.format("%s step %d: lr %.17g, PyTorch %.17g", s.name, k, opt.lr, s.lrs[k]))
      end
    end
  end)
end

for _, c in ipairs(F.clip) do
  H.test("matches clip_grad_norm_: " .. c.name, function()
    local ps = fresh_params()
    for i, p in ipairs(ps) do p.grad = c.present[i] and grad_of(4, i) or nil end
    local total = optim.clip_grad_norm(ps, c.max_norm)
    H.ok(type(total) == "number")
    worst.clip = math.max(worst.clip, math.abs(total - c.total) / c.total)
    H.close(total, c.total, 0, 1e-6, "total norm")
    for i, p in ipairs(ps) do
      if c.grads[i] then
        local rec = {rel = 0, ulps = 0, abs = 0}
        compare(c.name .. " grad " .. i, p.grad, c.grads[i], rec)
        worst.clip = math.max(worst.clip, rec.rel)
      else
        H.eq(p.grad, nil)
      end
    end
  end)
end

-- ==================== behaviour ====================

local function random_grads(ps)
  for _, p in ipairs(ps) do p.grad = lt.randn(table.unpack(p.shape)) end
end

local KINDS = {
  {"SGD", {lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.01}},
  {"SGD", {lr = 0.1, momentum = 0.9, dampening = 0.1}},
  {"RMSprop", {lr = 0.01, momentum = 0.5, centered = true, weight_decay = 0.1}},
  {"Adam", {lr = 0.01, amsgrad = true, weight_decay = 0.1}},
  {"AdamW", {lr = 0.01, betas = {0.8, 0.99}}},
}

H.test("frozen and gradient-less parameters are skipped, state and step untouched", function()
  for _, k in ipairs(KINDS) do
    local ps = {lt.randn(3, 2):requires_grad_(), lt.randn(4):requires_grad_(), lt.randn(2):requires_grad_()}
    local opt = optim[k[1]](ps, k[2])
    random_grads(ps)
    opt:step()
    local before = {ps[1]:clone(), ps[2]:clone(), ps[3]:clone()}
    local t0, m0 = opt:state_dict()
    random_grads(ps)
    ps[2].grad = nil                 -- no gradient
    ps[3].requires_grad = false      -- frozen, though it has a gradient
    opt:step()
    local t1, m1 = opt:state_dict()
    H.eq(ps[2], before[2], k[1] .. ": no grad, no update")
    H.eq(ps[3], before[3], k[1] .. ": frozen, no update")
    H.ok(not pcall(H.eq, ps[1], before[1]), k[1] .. ": the others move")
    H.eq(m1.step, {2, 1, 1})
    H.eq(m0.step, {1, 1, 1})
    for key, t in pairs(t0) do
      if not key:match("^1%.") then H.eq(t1[key], t, k[1] .. " " .. key .. " unchanged") end
    end
  end
end)

H.test("a parameter that never had a gradient has no state", function()
  local ps = {lt.randn(2):requires_grad_(), lt.randn(2):requires_grad_()}
  local opt = optim.Adam(ps)
  ps[1].grad = lt.ones(2)
  opt:step()
  local t, m = opt:state_dict()
  H.ok(t["1.exp_avg"] and t["1.exp_avg_sq"] and not t["1.max_exp_avg_sq"])
  H.ok(not t["2.exp_avg"] and not t["2.exp_avg_sq"])
  H.eq(m.step, {1, 0})
end)

H.test("lr: read, write, set_lr, schedules see it", function()
  local opt = optim.Adam({lt.randn(2):requires_grad_()})
  H.eq(opt.lr, 1e-3)
  opt.lr = 0.01
  H.eq(opt.lr, 0.01)
  opt:set_lr(0.02)
  H.eq(opt:get_lr(), 0.02)
  opt.lr = 0 -- allowed: the end of a cosine schedule
  H.eq(opt.lr, 0)
  H.raises("Adam: lr must be positive", function() opt.lr = -1 end)
  H.raises("Adam: lr must be positive", function() opt:set_lr(0 / 0) end)
  H.raises("Adam: lr must be a number, got string", function() opt.lr = "fast" end)
  H.raises("Adam: cannot set 'eps'", function() opt.eps = 1 end)
  H.eq(opt.lr, 0)
  -- a changed lr changes the update exactly as a fresh optimizer with that lr
  local a, b = lt.randn(5):requires_grad_(), nil
  b = a:detach():clone():requires_grad_()
  local oa, ob = optim.SGD({a}, {lr = 0.5}), optim.SGD({b}, {lr = 0.25})
  oa.lr = 0.25
  local g = lt.randn(5)
  a.grad, b.grad = g, g
  oa:step(); ob:step()
  H.eq(a, b)
end)

H.test("fields: type, name, options, param_count, params, tostring", function()
  local w = lt.randn(2, 2):requires_grad_()
  local opt = optim.RMSprop({w, lt.zeros(3):requires_grad_()}, {alpha = 0.9, centered = true})
  H.eq(opt.type, "RMSprop")
  H.eq(opt.name, "RMSprop")
  H.eq(opt.alpha, 0.9)
  H.eq(opt.centered, true)
  H.eq(opt.eps, 1e-8)
  H.eq(opt.betas, nil)
  H.eq(opt:param_count(), 2)
  H.eq(opt:params()[1]:storage_id(), w:storage_id())
  H.ok(tostring(opt):match("^RMSprop%(lr=0%.01, alpha=0%.9, .*2 parameters%)$"), tostring(opt))
  local adam = optim.Adam({w}, {betas = {0.8, 0.9}})
  H.eq(adam.betas, {0.8, 0.9})
  H.eq(optim.AdamW({w}).weight_decay, 1e-2)
  H.eq(optim.Adam({w}).weight_decay, 0)
  H.ok(optim.is_optimizer(adam) and not optim.is_optimizer(w))
end)

H.test("zero_grad drops the gradients (or zeroes them)", function()
  local ps = {lt.randn(2):requires_grad_(), lt.randn(3):requires_grad_()}
  local opt = optim.SGD(ps, {lr = 0.1})
  random_grads(ps)
  opt:zero_grad(false)
  H.eq(ps[1].grad, lt.zeros(2))
  opt:zero_grad()
  H.eq(ps[1].grad, nil)
  H.eq(ps[2].grad, nil)
  opt:step() -- no gradients: nothing to do
end)

H.test("the optimizer keeps its parameters alive", function()
  local opt = optim.SGD({lt.ones(4):requires_grad_()}, {lr = 1})
  collectgarbage(); collectgarbage()
  local p = opt:params()[1]
  p.grad = lt.ones(4)
  opt:step()
  H.eq(p, lt.zeros(4))
end)

H.test("a step through autograd: loss falls, graphs that saved a parameter notice", function()
  local w = lt.randn(3, 1):requires_grad_()
  local x, y = lt.randn(32, 3), lt.randn(32, 1)
  local opt = optim.Adam({w}, {lr = 0.05})
  local first, last
  for it = 1, 60 do
    local loss = ((x:matmul(w) - y) ^ 2):mean()
    opt:zero_grad()
    loss:backward()
    opt:step()
    first = first or loss:item()
    last = loss:item()
  end
  H.ok(last < 0.8 * first, string.format("loss %.4f -> %.4f", first, last))
  local loss = (w * w):sum()
  w.grad = lt.ones(3, 1)
  opt:step()
  H.raises("modified in place", function() loss:backward() end)
end)

H.test("step(closure) calls the closure first and returns its value", function()
  local w = lt.tensor({1, 2}):requires_grad_()
  local opt = optim.SGD({w}, {lr = 0.5})
  local v = opt:step(function()
    opt:zero_grad()
    local loss = (w * w):sum()
    loss:backward()
    return loss:item()
  end)
  H.eq(v, 5)
  H.eq(w, lt.tensor({0, 0}))
end)

H.test("non-contiguous parameters are updated like contiguous ones", function()
  for _, k in ipairs(KINDS) do
    local base = lt.randn(4, 3)
    local a = H.noncontig(base)
    local b = base:clone():requires_grad_()
    local oa, ob = optim[k[1]]({a}, k[2]), optim[k[1]]({b}, k[2])
    for _ = 1, 3 do
      local g = lt.randn(4, 3)
      a.grad, b.grad = g, g
      oa:step(); ob:step()
    end
    H.ok(not a:is_contiguous())
    H.eq(a, b, k[1])
  end
end)

-- N steps, save, a new optimizer over clones, load, N more: bit for bit the
-- same as 2N uninterrupted steps.
H.test("state_dict round trip resumes bit-exactly", function()
  local N = 5
  for _, k in ipairs(KINDS) do
    lt.manual_seed(7)
    local shapes = {{3, 4}, {5}, {2, 2, 2}}
    local grads = {}
    for s = 1, 2 * N do
      grads[s] = {}
      for i, sh in ipairs(shapes) do grads[s][i] = lt.randn(table.unpack(sh)) end
    end
    local function run(ps, opt, from, to)
      for s = from, to do
        for i, p in ipairs(ps) do p.grad = (s ~= 3 or i ~= 2) and grads[s][i] or nil end
        if s == 4 then opt.lr = opt.lr * 0.7 end
        opt:step()
      end
    end
    local init = {}
    for i, sh in ipairs(shapes) do init[i] = lt.randn(table.unpack(sh)) end
    local function clones(src)
      local out = {}
      for i, t in ipairs(src) do out[i] = t:detach():clone():requires_grad_() end
      return out
    end
    local ref = clones(init)
    local ref_opt = optim[k[1]](ref, k[2])
    run(ref, ref_opt, 1, 2 * N)

    local ps = clones(init)
    local opt = optim[k[1]](ps, k[2])
    run(ps, opt, 1, N)
    local tensors, meta = opt:state_dict()
    -- copies: changing them changes nothing in the optimizer
    for _, t in pairs(tensors) do t:fill(1e9) end
    local tensors2 = opt:state_dict()
    for key, t in pairs(tensors2) do tensors[key] = t end
    local ps2 = clones(ps)
    local opt2 = optim[k[1]](ps2, {lr = 123})  -- load restores the hyper-parameters too
    opt2:load_state_dict(tensors, meta)
    H.eq(opt2.lr, opt.lr)
    for _, t in pairs(tensors) do t:fill(-1) end -- load copied them
    run(ps2, opt2, N + 1, 2 * N)
    for i = 1, #ps2 do H.eq(ps2[i], ref[i], k[1] .. " parameter " .. i) end
    local t_ref, m_ref = ref_opt:state_dict()
    local t2, m2 = opt2:state_dict()
    H.eq(m2.step, m_ref.step)
    for key, t in pairs(t_ref) do H.eq(t2[key], t, k[1] .. " " .. key) end
  end
end)

H.test("load_state_dict errors name the problem", function()
  local ps = {lt.randn(2, 3):requires_grad_(), lt.randn(4):requires_grad_()}
  local opt = optim.Adam(ps)
  random_grads(ps)
  opt:step()
  local t, m = opt:state_dict()
  local sgd = optim.SGD(ps, {lr = 0.1})
  H.raises("SGD: load_state_dict: the state is for Adam, not SGD", function() sgd:load_state_dict(t, m) end)
  local one = optim.Adam({ps[1]})
  H.raises("Adam: load_state_dict: the state has 2 parameters, the optimizer 1", function() one:load_state_dict(t, m) end)
  local swapped = optim.Adam({ps[1], lt.randn(5):requires_grad_()})
  H.raises("Adam: load_state_dict: '2.exp_avg' has size 4, parameter 2 has size 5",
    function() swapped:load_state_dict(t, m) end)
  local o2 = optim.Adam(ps)
  local bad = {}
  for k, v in pairs(t) do bad[k] = v end
  bad["2.exp_avg"] = nil
  H.raises("Adam: load_state_dict: '2.exp_avg' is missing", function() o2:load_state_dict(bad, m) end)
  bad["2.exp_avg"] = "x"
  H.raises("Adam: load_state_dict: '2.exp_avg' is a string, expected a tensor", function() o2:load_state_dict(bad, m) end)
  bad["2.exp_avg"] = t["2.exp_avg"]
  bad["2.momentum"] = t["2.exp_avg"]
  H.raises("Adam: load_state_dict: unknown key '2.momentum' %(Adam keeps exp_avg, exp_avg_sq, max_exp_avg_sq%)",
    function() o2:load_state_dict(bad, m) end)
  bad["2.momentum"] = nil
  bad["3.exp_avg"] = t["2.exp_avg"]
  H.raises("key '3.exp_avg' names parameter 3, the optimizer has 2", function() o2:load_state_dict(bad, m) end)
  bad["3.exp_avg"] = nil
  bad["2.max_exp_avg_sq"] = t["2.exp_avg"]
  H.raises("'2.max_exp_avg_sq' is not expected %(not used by these options%)", function() o2:load_state_dict(bad, m) end)
  bad["2.max_exp_avg_sq"] = nil
  bad.exp_avg = t["2.exp_avg"]
  H.raises("key 'exp_avg' is not of the form", function() o2:load_state_dict(bad, m) end)
  local m2 = {type = "Adam", step = {1, 1}, betas = {0.9}}
  H.raises("Adam: option 'betas' must be a table of two numbers", function() o2:load_state_dict(t, m2) end)
  -- nothing changed by the failed loads
  local t3, m3 = o2:state_dict()
  H.eq(m3.step, {0, 0})
  H.ok(next(t3) == nil)
  o2:load_state_dict(t, m)
  H.eq(o2:state_dict()["1.exp_avg"], t["1.exp_avg"])
end)

H.test("constructor errors", function()
  local w = lt.randn(2):requires_grad_()
  H.raises("SGD: lr must be positive", optim.SGD, {w}, {lr = -0.1})
  H.raises("SGD: option 'lr' is required", optim.SGD, {w})
  H.raises("SGD: option 'lr' is required", optim.SGD, {w}, {momentum = 0.9})
  H.raises("SGD: parameter 3 is a string, expected a tensor", optim.SGD, {w, lt.randn(2), "b"}, {lr = 1})
  H.raises("Adam: params must be a list of tensors, got one tensor", optim.Adam, w)
  H.raises("Adam: params must be a list of tensors, got nil", optim.Adam)
  H.raises("Adam: got an empty parameter list", optim.Adam, {})
  H.raises("Adam: parameter 2 is not a leaf %(it is the result of 'mul'%)", optim.Adam, {w, w * 2})
  H.raises("Adam: parameter 2 is the same tensor as parameter 1", optim.Adam, {w, w})
  H.raises("Adam: option 'betas' must be a table of two numbers", optim.Adam, {w}, {betas = 0.9})
  H.raises("Adam: option 'betas' must be a table of two numbers", optim.Adam, {w}, {betas = {0.9, "x"}})
  H.raises("Adam: beta2 must be in %[0, 1%), got 1", optim.Adam, {w}, {betas = {0.9, 1}})
  H.raises("Adam: beta1 must be in %[0, 1%), got %-0.1", optim.Adam, {w}, {betas = {-0.1, 0.9}})
  H.raises("Adam: eps must be positive or zero, got %-1", optim.Adam, {w}, {eps = -1})
  H.raises("Adam: unknown option 'momentum' %(Adam takes lr, betas, eps, weight_decay, amsgrad%)",
    optim.Adam, {w}, {momentum = 0.9})
  H.raises("AdamW: option 'amsgrad' must be a boolean, got number", optim.AdamW, {w}, {amsgrad = 1})
  H.raises("SGD: option 'momentum' must be a number, got string", optim.SGD, {w}, {lr = 1, momentum = "x"})
  H.raises("SGD: nesterov momentum needs momentum > 0 and dampening = 0", optim.SGD, {w}, {lr = 1, nesterov = true})
  H.raises("SGD: nesterov momentum needs momentum > 0 and dampening = 0", optim.SGD, {w},
    {lr = 1, nesterov = true, momentum = 0.9, dampening = 0.1})
  H.raises("SGD: weight_decay must be positive or zero", optim.SGD, {w}, {lr = 1, weight_decay = -1})
  H.raises("RMSprop: alpha must be positive or zero", optim.RMSprop, {w}, {alpha = -1})
  H.raises("RMSprop: momentum must be positive or zero", optim.RMSprop, {w}, {momentum = -1})
  H.raises("RMSprop: options must be a table, got number", optim.RMSprop, {w}, 0.1)
  local opt = optim.SGD({w}, {lr = 1})
  local closed = optim.SGD({w}, {lr = 1})
  getmetatable(closed).__close(closed)
  H.raises("optimizer was closed", function() closed:step() end)
  H.raises("step", function() opt:step(42) end)
  H.raises("bad argument #1 to 'zero_grad' %(latent.Optimizer expected, got latent.Tensor%)", function() opt.zero_grad(w) end)
end)

H.test("clip_grad_norm: skips missing grads, single tensor, errors", function()
  local a, b = lt.tensor({3, 0}):requires_grad_(), lt.tensor({4}):requires_grad_()
  a.grad, b.grad = lt.tensor({3, 0}), lt.tensor({4})
  H.close(optim.clip_grad_norm({a, b}, 10), 5, 1e-6)
  H.eq(a.grad, lt.tensor({3, 0}))         -- under the limit: untouched
  H.close(optim.clip_grad_norm({a, b}, 1), 5, 1e-6)
  H.close(a.grad, lt.tensor({0.6, 0}), 1e-6)
  H.close(b.grad, lt.tensor({0.8}), 1e-6)
  b.grad = nil
  H.close(optim.clip_grad_norm(a, 0.3), 0.6, 1e-6)
  H.close(a.grad, lt.tensor({0.3, 0}), 1e-6)
  H.eq(optim.clip_grad_norm({b}, 1), 0)
  H.raises("clip_grad_norm: max_norm must be a number, got nil", optim.clip_grad_norm, {a})
  H.raises("clip_grad_norm: parameter 2 is a number, expected a tensor", optim.clip_grad_norm, {a, 1}, 1)
end)

H.test("schedules: options, errors, state_dict, manual lr changes", function()
  local opt = optim.SGD({lt.zeros(1):requires_grad_()}, {lr = 1})
  H.raises("StepLR: option 'step_size' is required", optim.StepLR, opt, {})
  H.raises("StepLR: option 'step_size' must be a positive integer, got 1.5", optim.StepLR, opt, {step_size = 1.5})
  H.raises("StepLR: unknown option 'gama' %(StepLR takes gamma, step_size%)", optim.StepLR, opt, {step_size = 2, gama = 0.5})
  H.raises("StepLR: argument 1 must be an optimizer, got table", optim.StepLR, {}, {step_size = 2})
  H.raises("CosineAnnealingLR: option 'T_max' is required", optim.CosineAnnealingLR, opt)
  H.raises("ReduceLROnPlateau: factor must be < 1, got 1", optim.ReduceLROnPlateau, opt, {factor = 1})
  H.raises("ReduceLROnPlateau: option 'mode' must be one of 'min', 'max', got maximum",
    optim.ReduceLROnPlateau, opt, {mode = "maximum"})
  local plateau = optim.ReduceLROnPlateau(opt, {patience = 0})
  H.raises("ReduceLROnPlateau:step: metric must be a number, got nil", function() plateau:step() end)
  plateau:step(lt.tensor(1.0))   -- a one-element tensor is fine
  plateau:step(2)
  H.eq(opt.lr, 0.1)
  -- StepLR multiplies whatever lr the optimizer has, as PyTorch's chained form
  local s = optim.StepLR(opt, {step_size = 2, gamma = 0.5})
  s:step()
  opt.lr = 0.8
  H.eq(s:step(), 0.4)
  local saved = s:state_dict()
  H.eq(saved.last_epoch, 2)
  local s2 = optim.StepLR(opt, {step_size = 2, gamma = 0.5})
  s2:load_state_dict(saved)
  s2:step()
  H.eq(s2:step(), 0.2)
  H.eq(s2:get_last_lr(), 0.2)
  H.ok(tostring(s2):match("^StepLR%(lr=0%.2, last_epoch=4%)$"), tostring(s2))
end)

H.test("report: worst differences from PyTorch", function()
  print(string.format("optimizers: worst abs diff %.3g, worst rel diff %.3g, worst %.1f ulp",
    worst.optim.abs, worst.optim.rel, worst.optim.ulps))
  print(string.format("schedules: worst rel diff %.3g; clip_grad_norm: worst rel diff %.3g", worst.sched, worst.clip))
end)

H.done()
