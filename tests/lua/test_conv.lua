-- Convolutions, pooling and upsampling: outputs and gradients against
-- PyTorch (tests/fixtures/conv.lua, made by gen_conv.py), with contiguous and
-- non-contiguous inputs; gradchecks of every op on small shapes, both
-- column layouts and unbatched inputs; option parsing; error messages.
local H = require "harness"
local lt = require "latent"

local root = os.getenv("LATENT_SOURCE_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/") or ".")
local F = dofile(root .. "/tests/fixtures/conv.lua")

local function T(values, shape) return lt.tensor(values):view(table.unpack(shape)) end
local function leaf(...) return lt.randn(...):requires_grad_() end

-- The same values in a non-contiguous tensor (last two dims stored transposed).
local function noncontig(t)
  local n = t:dim()
  local y = lt.no_grad(function() return t:transpose(n - 1, n):contiguous():transpose(n - 1, n) end)
  assert(not y:is_contiguous() or t:size(n) == 1 or t:size(n - 1) == 1)
  return y
end

local function run_case(c, x, w, b)
  if c.op == "conv2d" then
    return lt.conv2d(x, w, b, { stride = c.stride, padding = c.padding, dilation = c.dilation })
  elseif c.op == "conv_transpose2d" then
    return lt.conv_transpose2d(x, w, b, { stride = c.stride, padding = c.padding,
      output_padding = c.output_padding, dilation = c.dilation })
  elseif c.op == "max_pool2d" then
    return lt.max_pool2d(x, { kernel_size = c.kernel_size, stride = c.stride, padding = c.padding })
  end
  return lt.upsample_nearest2d(x, c.scale)
end

-- ==================== PyTorch fixtures ====================

local names = {}
for name in pairs(F) do names[#names + 1] = name end
table.sort(names)

for _, name in ipairs(names) do
  local c = F[name]
  for _, layout in ipairs({ "contiguous", "noncontiguous" }) do
    H.test(name .. " vs PyTorch, " .. layout .. " inputs", function()
      local function input(key)
        if not c[key] then return nil end
        local t = T(c[key], c[key .. "_shape"])
        if layout == "noncontiguous" and #c[key .. "_shape"] >= 2 then t = noncontig(t) end
        return t:requires_grad_()
      end
      local x, w, b = input("x"), input("w"), input("b")
      local y = run_case(c, x, w, b)
      H.eq(y.shape, c.y_shape, "output shape")
      H.close(y, c.y, 1e-5, 1e-5, "output")
      local gy = T(c.gy, c.y_shape)
      if layout == "noncontiguous" then gy = noncontig(gy) end
      y:backward(gy)
      H.close(x.grad, c.gx, 1e-4, 1e-4, "grad x")
      if w then H.close(w.grad, c.gw, 1e-4, 1e-4, "grad w") end
      if b then H.close(b.grad, c.gb, 1e-4, 1e-4, "grad b") end
    end)
  end
end

-- ==================== gradchecks ====================

local function conv(opts) return function(x, w, b) return lt.conv2d(x, w, b, opts) end end
local function convt(opts) return function(x, w, b) return lt.conv_transpose2d(x, w, b, opts) end end

H.test("gradcheck conv2d: strides, paddings, dilations, with and without bias", function()
  H.ok(lt.gradcheck(conv({}), { leaf(2, 2, 4, 5), leaf(3, 2, 2, 3), leaf(3) }))
  H.ok(lt.gradcheck(conv({ stride = 2, padding = 1 }), { leaf(2, 2, 5, 6), leaf(3, 2, 3, 3) }))
  H.ok(lt.gradcheck(conv({ stride = { 1, 2 }, padding = { 2, 0 }, dilation = { 2, 1 } }),
    { leaf(1, 2, 5, 7), leaf(2, 2, 2, 3), leaf(2) }))
  H.ok(lt.gradcheck(conv({ stride = 3 }), { leaf(2, 1, 7, 7), leaf(2, 1, 2, 2), leaf(2) }))
end)

H.test("gradcheck conv2d: plain column layout (one output column) and a 1x1 kernel", function()
  H.ok(lt.gradcheck(conv({}), { leaf(2, 2, 3, 3), leaf(2, 2, 3, 3), leaf(2) }))
  H.ok(lt.gradcheck(conv({ padding = { 1, 0 } }), { leaf(1, 2, 2, 3), leaf(2, 2, 3, 3) }))
  H.ok(lt.gradcheck(conv({}), { leaf(3, 3, 2, 3), leaf(2, 3, 1, 1), leaf(2) }))
  H.ok(lt.gradcheck(conv({ stride = 2 }), { leaf(2, 3, 3, 4), leaf(2, 3, 1, 1) }))
end)

H.test("gradcheck conv2d: non-contiguous inputs, one input without grad", function()
  local x = noncontig(lt.randn(2, 2, 5, 4)):requires_grad_()
  local w = lt.no_grad(function() return lt.randn(3, 2, 3, 3):transpose(1, 2) end)
  w = lt.no_grad(function() return w:contiguous():transpose(1, 2) end):requires_grad_()
  H.ok(not x:is_contiguous() and not w:is_contiguous())
  H.ok(lt.gradcheck(conv({ padding = 1 }), { x, w, leaf(3) }))
  -- a narrowed view of a bigger tensor as the input, weights fixed
  H.ok(lt.gradcheck(function(x, w) return lt.conv2d(x:narrow(3, 2, 4), w, nil, { stride = 2 }) end,
    { leaf(2, 2, 6, 5), lt.randn(2, 2, 2, 2) }))
  H.ok(lt.gradcheck(conv({}), { lt.randn(1, 2, 4, 4), leaf(2, 2, 2, 2) }))
end)

H.test("gradcheck conv_transpose2d: strides, paddings, output_padding, dilations", function()
  H.ok(lt.gradcheck(convt({}), { leaf(2, 2, 3, 4), leaf(2, 3, 2, 3), leaf(3) }))
  H.ok(lt.gradcheck(convt({ stride = 2, padding = 1, output_padding = 1 }), { leaf(2, 3, 3, 3), leaf(3, 2, 3, 3), leaf(2) }))
  H.ok(lt.gradcheck(convt({ stride = { 2, 1 }, padding = { 0, 1 }, output_padding = { 1, 0 }, dilation = { 1, 2 } }),
    { leaf(1, 2, 3, 3), leaf(2, 2, 2, 3) }))
  H.ok(lt.gradcheck(convt({ dilation = 2, output_padding = 1 }), { leaf(1, 1, 3, 3), leaf(1, 2, 3, 3), leaf(2) }))
  H.ok(lt.gradcheck(convt({}), { leaf(2, 3, 2, 3), leaf(3, 2, 1, 1) }))
  H.ok(lt.gradcheck(convt({ stride = 2 }), { leaf(2, 2, 1, 1), leaf(2, 2, 3, 3), leaf(2) }))
end)

H.test("gradcheck conv_transpose2d: non-contiguous inputs", function()
  local x = noncontig(lt.randn(2, 2, 3, 4)):requires_grad_()
  local w = noncontig(lt.randn(2, 3, 3, 2)):requires_grad_()
  H.ok(lt.gradcheck(convt({ stride = 2, padding = 1, output_padding = 1 }), { x, w, leaf(3) }))
end)

H.test("gradcheck max_pool2d and upsample_nearest2d", function()
  H.ok(lt.gradcheck(function(x) return lt.max_pool2d(x, 2) end, { leaf(2, 2, 4, 6) }))
  H.ok(lt.gradcheck(function(x) return lt.max_pool2d(x, { kernel_size = 3, stride = 2, padding = 1 }) end,
    { leaf(1, 2, 5, 5) }))
  H.ok(lt.gradcheck(function(x) return lt.max_pool2d(x, { kernel_size = { 2, 3 }, stride = { 1, 2 } }) end,
    { noncontig(lt.randn(1, 2, 4, 5)):requires_grad_() }))
  H.ok(lt.gradcheck(function(x) return lt.upsample_nearest2d(x, 2) end, { leaf(2, 2, 2, 3) }))
  H.ok(lt.gradcheck(function(x) return lt.upsample_nearest2d(x, { 3, 1 }) end,
    { noncontig(lt.randn(1, 2, 3, 2)):requires_grad_() }))
end)

H.test("unbatched (C x H x W) inputs match a batch of one", function()
  local x, w, b = leaf(2, 5, 5), leaf(3, 2, 3, 3), leaf(3)
  local y = lt.conv2d(x, w, b, { padding = 1 })
  H.eq(y.shape, { 3, 5, 5 })
  H.close(y, lt.conv2d(x:unsqueeze(1), w, b, { padding = 1 }):squeeze(1), 1e-6)
  H.ok(lt.gradcheck(conv({ stride = 2 }), { leaf(2, 5, 4), leaf(3, 2, 3, 3), leaf(3) }))
  H.ok(lt.gradcheck(convt({ stride = 2 }), { leaf(2, 2, 3), leaf(2, 3, 3, 3) }))
  H.eq(lt.max_pool2d(lt.randn(2, 4, 4), 2).shape, { 2, 2, 2 })
  H.eq(lt.upsample_nearest2d(lt.randn(2, 4, 3), 2).shape, { 2, 8, 6 })
  -- errors show the shape as given
  H.raises("conv2d: input 3x5x5 has 3 channels, weight 2x4x3x3 expects 4", lt.conv2d, lt.randn(3, 5, 5),
    lt.randn(2, 4, 3, 3))
  H.raises("max_pool2d: input 3x2x2 is smaller than the kernel 3x3", lt.max_pool2d, lt.randn(3, 2, 2), 3)
end)

-- ==================== forward values by hand ====================

H.test("hand-computed values", function()
  -- a 2x2 box filter over 1..9 (3x3): sums of each 2x2 block
  local x = lt.arange(1, 10):view(1, 1, 3, 3)
  H.eq(lt.conv2d(x, lt.ones(1, 1, 2, 2)):view(-1):totable(), { 12, 16, 24, 28 })
  -- transposed conv with a 1x1 kernel and stride 2 spreads pixels apart
  local y = lt.conv_transpose2d(lt.tensor({ 1, 2, 3, 4 }):view(1, 1, 2, 2), lt.full({ 1, 1, 1, 1 }, 2), nil, { stride = 2 })
  H.eq(y:view(-1):totable(), { 2, 0, 4, 0, 0, 0, 6, 0, 8 })
  H.eq(lt.max_pool2d(x, 2, { stride = 1 }):view(-1):totable(), { 5, 6, 8, 9 })
  H.eq(lt.upsample_nearest2d(lt.tensor({ 1, 2 }):view(1, 1, 1, 2), { 1, 2 }):view(-1):totable(), { 1, 1, 2, 2 })
  -- max_pool2d: NaN wins; -inf padding never does
  local n = lt.tensor({ 1, 0 / 0, 3, 4 }):view(1, 1, 2, 2)
  local m = lt.max_pool2d(n, 2):item()
  H.ok(m ~= m, "NaN propagates")
  H.eq(lt.max_pool2d(lt.full({ 1, 1, 1, 1 }, -5), { kernel_size = 3, stride = 1, padding = 1 }):item(), -5)
end)

H.test("empty batches and channels, bias-only gradients", function()
  H.eq(lt.conv2d(lt.randn(2, 0, 5, 5), lt.randn(3, 0, 3, 3), lt.full({ 3 }, 2)):view(-1):totable(),
    lt.full({ 2 * 3 * 3 * 3 }, 2):totable())
  H.eq(lt.conv2d(lt.randn(2, 3, 5, 5), lt.randn(0, 3, 3, 3)).shape, { 2, 0, 3, 3 })
  local y = lt.conv2d(lt.randn(0, 2, 5, 5), lt.randn(3, 2, 3, 3), lt.randn(3))
  H.eq(y.shape, { 0, 3, 3, 3 })
  local x = lt.randn(0, 2, 3, 3):requires_grad_()
  local w = leaf(2, 3, 3, 3)
  lt.conv_transpose2d(x, w):sum():backward()
  H.eq(w.grad:abs():sum():item(), 0)
  local b = leaf(3)
  lt.conv2d(lt.randn(2, 2, 4, 4), lt.randn(3, 2, 3, 3), b):sum():backward()
  H.eq(b.grad:totable(), { 8, 8, 8 })
end)

H.test("batches split into several chunks match image by image", function()
  -- 25 x 2 x 16 x 16: several images per chunk, the last chunk shorter;
  -- 3 x 24 x 48 x 48 with a 5x5 kernel: one image per chunk
  for _, c in ipairs({ { 25, 2, 16, 3, 1 }, { 3, 24, 48, 5, 2 } }) do
    local n, ch, hw, k, pad = table.unpack(c)
    local x, w, b = leaf(n, ch, hw, hw), leaf(4, ch, k, k), leaf(4)
    local y = lt.conv2d(x, w, b, { padding = pad })
    local g = lt.randn_like(y)
    y:backward(g)
    local acc = lt.zeros_like(w)
    for i = 1, n do
      local wi = w:detach():requires_grad_()
      local yi = lt.conv2d(x:detach():narrow(1, i, 1), wi, b:detach(), { padding = pad })
      H.close(y:narrow(1, i, 1), yi, 1e-4, 1e-4)
      yi:backward(g:narrow(1, i, 1))
      acc = acc + wi.grad
    end
    H.close(w.grad, acc, 1e-3, 1e-4)
  end
end)

-- ==================== options ====================

H.test("options: integers, {h, w} pairs, floats with integer values, defaults", function()
  local x, w = lt.randn(1, 1, 6, 7), lt.randn(1, 1, 3, 3)
  H.eq(lt.conv2d(x, w, nil, { stride = 2 }).shape, { 1, 1, 2, 3 })
  H.eq(lt.conv2d(x, w, nil, { stride = { 1, 2 }, padding = { 1, 0 } }).shape, { 1, 1, 6, 3 })
  H.eq(lt.conv2d(x, w, { stride = 2.0 }).shape, { 1, 1, 2, 3 }) -- a table in place of the bias
  H.eq(lt.conv2d(x, w).shape, { 1, 1, 4, 5 })
  H.eq(lt.conv_transpose2d(x, w, nil, { stride = 2, output_padding = { 1, 0 } }).shape, { 1, 1, 14, 15 })
  H.eq(lt.max_pool2d(x, { kernel_size = { 2, 3 } }).shape, { 1, 1, 3, 2 })
  H.eq(lt.max_pool2d(x, 2).shape, { 1, 1, 3, 3 })
  H.eq(lt.upsample_nearest2d(x, { 2, 1 }).shape, { 1, 1, 12, 7 })
end)

-- ==================== errors ====================

H.test("errors name the function, the argument and the shapes", function()
  local x, w = lt.randn(250, 3, 28, 28), lt.randn(8, 1, 3, 3)
  H.raises("conv2d: input 250x3x28x28 has 3 channels, weight 8x1x3x3 expects 1", lt.conv2d, x, w)
  H.raises("conv2d: input 1x1x2x2 is smaller than the kernel 3x3 %(with padding 0, dilation 1%)",
    lt.conv2d, lt.randn(1, 1, 2, 2), lt.randn(1, 1, 3, 3))
  H.raises("conv2d: input must be 4%-D .* got shape 28x28", lt.conv2d, lt.randn(28, 28), w)
  H.raises("conv2d: weight must be 4%-D .* got shape 8x9", lt.conv2d, lt.randn(1, 1, 5, 5), lt.randn(8, 9))
  H.raises("conv2d: bias of shape 5 does not match weight 8x1x3x3 %(8 output channels%)",
    lt.conv2d, lt.randn(1, 1, 5, 5), w, lt.randn(5))
  H.raises("conv2d: stride must be positive, got 0", lt.conv2d, lt.randn(1, 1, 5, 5), w, nil, { stride = 0 })
  H.raises("conv2d: stride must be positive, got %(1, %-1%)", lt.conv2d, lt.randn(1, 1, 5, 5), w, nil,
    { stride = { 1, -1 } })
  H.raises("conv2d: padding must not be negative", lt.conv2d, lt.randn(1, 1, 5, 5), w, nil, { padding = -1 })
  H.raises("conv2d: dilation must be positive", lt.conv2d, lt.randn(1, 1, 5, 5), w, nil, { dilation = 0 })
  H.raises("conv2d: option 'stride' must be an integer or a {height, width} pair, got 1.5",
    lt.conv2d, lt.randn(1, 1, 5, 5), w, nil, { stride = 1.5 })
  H.raises("conv2d: option 'padding' must hold integers, got string", lt.conv2d, lt.randn(1, 1, 5, 5), w, nil,
    { padding = { 1, "a" } })
  H.raises("conv2d: option 'stride' must be an integer or a {height, width} pair, got a table of 3 values",
    lt.conv2d, lt.randn(1, 1, 5, 5), w, nil, { stride = { 1, 2, 3 } })
  H.raises("conv2d: unknown option 'strides' %(expected stride, padding, dilation%)",
    lt.conv2d, lt.randn(1, 1, 5, 5), w, nil, { strides = 2 })
  H.raises("conv2d: unknown option 'output_padding'", lt.conv2d, lt.randn(1, 1, 5, 5), w, nil, { output_padding = 1 })
  H.raises("bad argument #3 to '[%w.]*conv2d' %(latent.Tensor expected, got string%)", lt.conv2d, lt.randn(1, 1, 5, 5), w, "b")
  H.raises("bad argument #1 to '[%w.]*conv2d'", lt.conv2d, nil, w)
end)

H.test("conv_transpose2d errors", function()
  local w = lt.randn(4, 8, 3, 3)
  H.raises("conv_transpose2d: input 2x3x5x5 has 3 channels, weight 4x8x3x3 expects 4",
    lt.conv_transpose2d, lt.randn(2, 3, 5, 5), w)
  H.raises("conv_transpose2d: output_padding 2 must be smaller than either stride 2 or dilation 1",
    lt.conv_transpose2d, lt.randn(1, 4, 5, 5), w, nil, { stride = 2, output_padding = 2 })
  H.raises("conv_transpose2d: output_padding %(1, 0%) must be smaller",
    lt.conv_transpose2d, lt.randn(1, 4, 5, 5), w, nil, { output_padding = { 1, 0 } })
  H.raises("conv_transpose2d: input 1x4x1x1 gives an output of %-1x%-1, which is too small",
    lt.conv_transpose2d, lt.randn(1, 4, 1, 1), w, nil, { padding = 2 })
  H.raises("conv_transpose2d: bias of shape 4 does not match weight 4x8x3x3 %(8 output channels%)",
    lt.conv_transpose2d, lt.randn(1, 4, 5, 5), w, lt.randn(4))
  H.raises("conv_transpose2d: weight must be 4%-D %(in_channels x out_channels x kh x kw%)",
    lt.conv_transpose2d, lt.randn(1, 4, 5, 5), lt.randn(4, 8, 3))
  H.raises("conv_transpose2d: unknown option 'groups'", lt.conv_transpose2d, lt.randn(1, 4, 5, 5), w, nil, { groups = 2 })
end)

H.test("max_pool2d and upsample_nearest2d errors", function()
  local x = lt.randn(1, 2, 5, 5)
  H.raises("max_pool2d: option 'kernel_size' is required", lt.max_pool2d, x, { stride = 2 })
  H.raises("max_pool2d: kernel_size must be positive, got 0", lt.max_pool2d, x, 0)
  H.raises("max_pool2d: stride must be positive, got 0", lt.max_pool2d, x, { kernel_size = 2, stride = 0 })
  H.raises("max_pool2d: padding 2 must be between 0 and half the kernel size 3", lt.max_pool2d, x,
    { kernel_size = 3, padding = 2 })
  H.raises("max_pool2d: input 1x2x5x5 is smaller than the kernel 6x6 %(with padding 0%)", lt.max_pool2d, x, 6)
  H.raises("max_pool2d: input must be 4%-D .* got shape 5x5", lt.max_pool2d, lt.randn(5, 5), 2)
  H.raises("max_pool2d: unknown option 'dilation'", lt.max_pool2d, x, { kernel_size = 2, dilation = 2 })
  H.raises("max_pool2d: kernel_size given twice", lt.max_pool2d, x, 2, { kernel_size = 2 })
  H.raises("upsample_nearest2d: scale factor must be a positive integer, got 0", lt.upsample_nearest2d, x, 0)
  H.raises("upsample_nearest2d: scale factor must be a positive integer, got %(2, %-1%)", lt.upsample_nearest2d, x,
    { 2, -1 })
  H.raises("number has no integer representation", lt.upsample_nearest2d, x, 1.5)
  H.raises("upsample_nearest2d: input must be 4%-D", lt.upsample_nearest2d, lt.randn(2, 2), 2)
end)

H.test("a weight modified in place after the forward is detected in backward", function()
  local x, w = leaf(1, 1, 4, 4), lt.randn(1, 1, 3, 3):requires_grad_()
  local y = lt.conv2d(x, w)
  lt.no_grad(function() w:fill(1) end)
  H.raises("modified in place", function() y:sum():backward() end)
end)

H.done()
