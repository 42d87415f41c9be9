-- Smoke runs of the examples, with a check that each does what it says.
local H = require "harness"

local root = os.getenv("LATENT_SOURCE_DIR") or (debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/") or ".")

H.test("two_layer_sgd: the loss falls", function()
  arg = { [0] = "two_layer_sgd.lua", "150" }
  local losses = dofile(root .. "/examples/two_layer_sgd.lua")
  H.eq(#losses, 150)
  H.ok(losses[150] < 0.25 * losses[1],
    string.format("loss went from %.4f to %.4f", losses[1], losses[150]))
  -- the same seed gives the same run, bit for bit
  local again = dofile(root .. "/examples/two_layer_sgd.lua")
  H.eq(again, losses)
end)

H.test("salt_and_pepper: the noise has the asked amount, split evenly, and repeats", function()
  arg = { [0] = "salt_and_pepper.lua", "0.2" }
  local r = dofile(root .. "/examples/salt_and_pepper.lua")
  H.close(r.salt, 0.1, 0.01)
  H.close(r.pepper, 0.1, 0.01)
  -- pixels are U(0.25, 0.75), so E[(x - noise)^2] = 0.2 * (1/48 + 1/4)
  H.close(r.mse, 0.2 * (1 / 48 + 1 / 4), 0.003)
  H.eq(dofile(root .. "/examples/salt_and_pepper.lua").noisy, r.noisy)
end)

H.done()
