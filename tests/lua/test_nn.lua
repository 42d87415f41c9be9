-- Layers and containers: calling, naming, train/eval, freezing, state.
local H = require "harness"
local lt = require "latent"
local nn = lt.nn

-- A Lua module with parameters of its own, to test the tree without C layers.
local Affine = nn.Module:extend("Affine")
function Affine.create(n)
  local m = Affine:new()
  m.w = lt.randn(n):requires_grad_()
  m.b = lt.zeros(n):requires_grad_()
  m._params = { { "w", m.w }, { "b", m.b } }
  m._buffers = { { "count", lt.zeros(1) } }
  return m
end
function Affine:forward(x) return x * self.w + self.b end

H.test("Sequential calls its children in order and names them from 1", function()
  local m = nn.Sequential { Affine.create(3), nn.ReLU(), Affine.create(3) }
  H.eq(#m, 3)
  H.eq(m[2].type, "ReLU")
  local x = lt.randn(2, 3)
  local want = (((x * m[1].w + m[1].b):relu()) * m[3].w + m[3].b)
  H.close(m(x), want, 0)
  local names = {}
  for _, p in ipairs(m:named_parameters()) do names[#names + 1] = p[1] end
  H.eq(table.concat(names, " "), "1.w 1.b 3.w 3.b")
  H.eq(#m:parameters(), 4)
  H.eq(m:num_parameters(), 12)
  local sd = m:state_dict()
  H.ok(sd["1.count"] and sd["3.w"], "state_dict holds buffers and parameters")
end)

H.test("nested modules give dotted names", function()
  local Net = nn.Module:extend("Net")
  local net = Net:new()
  net:add("encoder", nn.Sequential { Affine.create(2), nn.Tanh() })
  net:add("decoder", nn.Sequential { Affine.create(2), nn.Sigmoid() })
  function net:forward(x) return self.decoder(self.encoder(x)) end
  local names = {}
  for _, p in ipairs(net:named_parameters()) do names[#names + 1] = p[1] end
  H.eq(table.concat(names, " "), "encoder.1.w encoder.1.b decoder.1.w decoder.1.b")
  H.eq(net(lt.randn(5, 2)).shape, { 5, 2 })
  H.ok(tostring(net):find("(encoder): Sequential(", 1, true), tostring(net))
  H.ok(tostring(net):find("(2): Tanh()", 1, true))
end)

H.test("train and eval reach every child", function()
  local inner = nn.Sequential { nn.ReLU() }
  local m = nn.Sequential { inner, nn.Sigmoid() }
  m:eval()
  H.eq(m.training, false); H.eq(inner.training, false); H.eq(inner[1].training, false)
  m:train()
  H.eq(inner[1].training, true)
end)

H.test("freeze stops gradients below a prefix", function()
  local m = nn.Sequential { Affine.create(3), Affine.create(3) }
  m:freeze("1")
  local loss = m(lt.randn(4, 3)):sum()
  loss:backward()
  H.eq(m[1].w.grad, nil)
  H.ok(m[2].w.grad ~= nil)
  H.ok(not m[1].w.requires_grad)
  m:unfreeze()
  H.ok(m[1].w.requires_grad)
  H.raises("freeze: no parameter named 'enc'", function() m:freeze("enc") end)
end)

H.test("load_state_dict copies by name, strictly by default", function()
  local a, b = nn.Sequential { Affine.create(3) }, nn.Sequential { Affine.create(3) }
  b:load_state_dict(a:state_dict())
  H.eq(b[1].w, a[1].w)
  H.ok(b[1].w.requires_grad, "parameters stay parameters")
  local sd = a:state_dict()
  sd["1.w"] = nil
  sd["9.x"] = lt.zeros(1)
  H.raises("load_state_dict: missing 1.w; unexpected 9.x", function() b:load_state_dict(sd) end)
  local report = b:load_state_dict(sd, { strict = false })
  H.eq(report.missing, { "1.w" }); H.eq(report.unexpected, { "9.x" })
  H.raises("load_state_dict: '1.w' has size 3 in the module and 4 in the state", function()
    b:load_state_dict({ ["1.w"] = lt.zeros(4) }, { strict = false })
  end)
end)

H.test("a failing layer names its position in the Sequential", function()
  local m = nn.Sequential { nn.Flatten(), nn.Unflatten(2, { 2, 3 }) }
  H.raises("Sequential: layer 2 %(Unflatten%(2, {2, 3}%)%): reshape: cannot view 4x5", m, lt.randn(4, 5))
end)

H.test("shape layers", function()
  local x = lt.randn(2, 3, 4, 5)
  H.eq(nn.Flatten()(x).shape, { 2, 60 })
  H.eq(nn.Flatten(1)(x).shape, { 120 })
  H.eq(nn.Flatten(2, 3)(x).shape, { 2, 12, 5 })
  H.eq(nn.Unflatten(2, { 3, 20 })(nn.Flatten()(x)).shape, { 2, 3, 20 })
  H.eq(tostring(nn.Flatten()), "Flatten(start_dim=2, end_dim=-1)")
  local g = lt.gradcheck(function(a) return nn.Flatten()(a) end, { lt.randn(2, 3, 2):requires_grad_() })
  H.ok(g)
end)

H.test("nn.init schemes have the right spread", function()
  local t = lt.empty(256, 400)
  local function std(x) return x:std():item() end
  nn.init.xavier_uniform(t)
  H.close(std(t), math.sqrt(2 / (400 + 256)), 0.003)
  nn.init.kaiming_normal(t, { nonlinearity = "relu" })
  H.close(std(t), math.sqrt(2 / 400), 0.003)
  nn.init.kaiming_uniform(t, { a = math.sqrt(5) }) -- PyTorch's Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  H.ok(t:max():item() <= 1 / math.sqrt(400) and t:min():item() >= -1 / math.sqrt(400))
  H.close(std(t), 1 / math.sqrt(400) / math.sqrt(3), 0.003)
  nn.init.normal(t, 2, 0.5)
  H.close(t:mean():item(), 2, 0.01)
  nn.init.uniform(t, -1, 3)
  H.ok(t:min():item() >= -1 and t:max():item() < 3)
  H.eq(nn.init.zeros(lt.ones(3)):totable(), { 0, 0, 0 })
  H.eq(nn.init.constant(lt.ones(2), 5):totable(), { 5, 5 })
  local w = lt.zeros(3, 3):requires_grad_()
  nn.init.ones(w) -- allowed on parameters: it runs without recording
  H.eq(w:sum():item(), 9)
  H.raises("init: fan in and fan out need a tensor of at least 2 dims", nn.init.xavier_uniform, lt.zeros(3))
end)

H.test("layers with parameters: shapes, PyTorch's default init, printing", function()
  local lin = nn.Linear(20, 5)
  H.eq(lin.weight.shape, { 5, 20 }); H.eq(lin.bias.shape, { 5 })
  H.ok(lin.weight.requires_grad and lin.weight.is_leaf)
  local bound = 1 / math.sqrt(20)
  H.ok(lin.weight:abs():max():item() <= bound and lin.bias:abs():max():item() <= bound)
  H.eq(lin(lt.randn(3, 20)).shape, { 3, 5 })
  H.eq(tostring(lin), "Linear(20, 5)")
  H.eq(nn.Linear(2, 3, { bias = false }).bias, nil)
  local conv = nn.Conv2d(3, 8, 5, { stride = 2, padding = 1 })
  H.eq(conv.weight.shape, { 8, 3, 5, 5 })
  H.ok(conv.weight:abs():max():item() <= 1 / math.sqrt(3 * 25))
  H.eq(conv(lt.randn(2, 3, 28, 28)).shape, { 2, 8, 13, 13 })
  H.eq(tostring(conv), "Conv2d(3, 8, kernel_size=5, stride=2, padding=1)")
  local up = nn.ConvTranspose2d(16, 8, 3, { stride = 2, padding = 1, output_padding = 1 })
  H.eq(up.weight.shape, { 16, 8, 3, 3 })
  H.ok(up.weight:abs():max():item() <= 1 / math.sqrt(8 * 9)) -- PyTorch's fan_in: dim 2 of the weight
  H.eq(up(lt.randn(2, 16, 7, 7)).shape, { 2, 8, 14, 14 })
  H.eq(tostring(up), "ConvTranspose2d(16, 8, kernel_size=3, stride=2, padding=1, output_padding=1)")
  local bn = nn.BatchNorm2d(4)
  H.eq(bn.weight:totable(), { 1, 1, 1, 1 }); H.eq(bn.running_var:totable(), { 1, 1, 1, 1 })
  H.eq(tostring(bn), "BatchNorm2d(4, eps=1e-05, momentum=0.1)")
  H.eq(tostring(nn.MaxPool2d(2)), "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))")
  H.eq(nn.MaxPool2d(2)(lt.randn(1, 1, 4, 6)).shape, { 1, 1, 2, 3 })
  H.eq(nn.Upsample(2)(lt.randn(1, 1, 2, 3)).shape, { 1, 1, 4, 6 })
  H.close(nn.LeakyReLU(0.2)(lt.tensor { -1, 2 }), { -0.2, 2 }, 1e-7)
  H.close(nn.ELU()(lt.tensor { -1 }), { math.exp(-1) - 1 }, 1e-6)
  H.close(nn.Softplus()(lt.tensor { 0 }), { math.log(2) }, 1e-6)
end)

H.test("BatchNorm and Dropout behave differently in train and eval", function()
  local bn = nn.BatchNorm1d(3)
  local x = lt.randn(64, 3) * 2 + 5
  local y = bn(x)
  H.close(y:mean(1), { 0, 0, 0 }, 1e-5)
  H.close(bn.running_mean, (x:mean(1) * 0.1), 1e-5)
  bn:eval()
  H.close(bn(x), (x - bn.running_mean) / (bn.running_var + 1e-5):sqrt(), 1e-5)
  local drop = nn.Dropout(0.5)
  local ones = lt.ones(1000)
  local kept = drop(ones):gt(0):sum():item()
  H.ok(kept > 400 and kept < 600, "kept " .. kept)
  drop:eval()
  H.eq(drop(ones), ones)
  H.raises("BatchNorm2d: expects a 4%-D %(N x C x H x W%) input, got 8x3", nn.BatchNorm2d(3), lt.randn(8, 3))
end)

H.test("layer gradients match finite differences", function()
  local lin, conv = nn.Linear(4, 3), nn.Conv2d(2, 3, 3, { padding = 1 })
  local x = lt.randn(2, 4):requires_grad_()
  H.ok(lt.gradcheck(function(a, w, b) return lin(a) end, { x, lin.weight, lin.bias }))
  local img = lt.randn(1, 2, 4, 4):requires_grad_()
  H.ok(lt.gradcheck(function(a, w) return conv(a) end, { img, conv.weight }, { atol = 2e-2 }))
end)

H.test("layer mistakes are clear errors", function()
  H.raises("Linear: sizes must be positive, got 0 and 3", nn.Linear, 0, 3)
  H.raises("bad argument #2 to '[%w.]*Linear' %(number has no integer representation%)", nn.Linear, 3, 2.5)
  H.raises("Conv2d: kernel_size must be an integer or a pair of integers", nn.Conv2d, 1, 2, "a")
  H.raises("Conv2d: stride and dilation must be positive", nn.Conv2d, 1, 2, 3, { stride = 0 })
  H.raises("Conv2d: output_padding is for ConvTranspose2d", nn.Conv2d, 1, 2, 3, { output_padding = 1 })
  H.raises("Dropout: p must lie in %[0, 1%], got 1.5", nn.Dropout, 1.5)
  local lin = nn.Linear(3, 2)
  H.raises("Linear: 'weight' has size 2x3, cannot set a tensor of size 3x3", function() lin.weight = lt.zeros(3, 3) end)
  H.raises("Linear: no parameter or buffer named 'wieght'", function() lin.wieght = lt.zeros(2, 3) end)
  H.raises("linear", lin, lt.randn(4, 5))
end)

H.test("the reference autoencoder: freezing the conv part of its encoder", function()
  local enc = nn.Sequential {
    nn.Conv2d(1, 8, 3, { stride = 2, padding = 1 }), nn.ReLU(),
    nn.Conv2d(8, 16, 3, { stride = 2, padding = 1 }), nn.ReLU(),
    nn.Conv2d(16, 32, 3, { stride = 2, padding = 0 }), nn.ReLU(),
    nn.Flatten(), nn.Linear(288, 64), nn.ReLU(), nn.Linear(64, 10) }
  for _, prefix in ipairs { "1", "3", "5" } do enc:freeze(prefix) end
  local names = {}
  for _, p in ipairs(enc:named_parameters()) do
    if p[2].requires_grad then names[#names + 1] = p[1] end
  end
  H.eq(table.concat(names, " "), "8.weight 8.bias 10.weight 10.bias")
  local loss = lt.cross_entropy(enc(lt.rand(4, 1, 28, 28)), lt.tensor { 1, 2, 3, 10 })
  loss:backward()
  H.eq(enc[1].weight.grad, nil)
  H.ok(enc[8].weight.grad ~= nil)
end)

H.done()
