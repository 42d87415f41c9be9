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

H.done()
