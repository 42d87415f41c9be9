-- Salt-and-pepper noise: a corruption scheme written in Lua from tensor ops
-- (a uniform mask from lt.rand_like, then lt.where), beside the C ones in
-- lt.corrupt. Any scheme a study needs can be composed the same way.
--
--   latent examples/salt_and_pepper.lua [amount]
--
-- In a denoising autoencoder the corruption goes on the input only; the
-- loss compares the reconstruction with the clean batch:
--
--   for x in train:batches{ size = 250, shuffle = true, epoch = epoch } do
--     local noisy = salt_and_pepper(x, 0.2)         -- or lt.corrupt.gaussian(x, 0.3, { clamp = true })
--     local loss = lt.mse(decoder(encoder(noisy)), x)
--     opt:zero_grad(); loss:backward(); opt:step()
--   end
local lt = require "latent"

-- Sets about a fraction `amount` of the pixels of x to 1 (salt) or 0 (pepper),
-- each pixel independently; `salt` is the share of salt among them (0.5).
-- One uniform draw per pixel decides: u < amount * salt gives salt, u at or
-- above 1 - amount * (1 - salt) gives pepper, anything between keeps x.
local function salt_and_pepper(x, amount, salt)
  salt = salt or 0.5
  assert(amount >= 0 and amount <= 1, "salt_and_pepper: amount must be in [0, 1]")
  local u = lt.rand_like(x)
  local y = lt.where(u:lt(amount * salt), 1, x)
  return lt.where(u:ge(1 - amount * (1 - salt)), 0, y)
end

local amount = tonumber(arg and arg[1]) or 0.1
lt.manual_seed(0)

-- Stand-in images with no pixel at exactly 0 or 1, so every 0 and 1 below is noise.
local x = 0.25 + 0.5 * lt.rand(64, 1, 28, 28)
local noisy = salt_and_pepper(x, amount)

local n = x:numel()
local salt_frac = noisy:eq(1):sum():item() / n
local pepper_frac = noisy:eq(0):sum():item() / n
local mse = lt.metrics.reconstruction_error(x, noisy)
print(string.format("amount %.2f: %.4f of the pixels salt, %.4f pepper, MSE to the clean batch %.4f",
  amount, salt_frac, pepper_frac, mse))

-- Schemes compose: a few pixels of noise, then a random rectangle erased per image.
local erasing = { p = 1, scale = { 0.02, 0.15 }, ratio = { 0.7, 1.7 } } -- the seed study's settings
local both = lt.corrupt.random_erasing(salt_and_pepper(x, 0.05), erasing)
print(string.format("salt and pepper (0.05), then random erasing: MSE %.4f", lt.metrics.reconstruction_error(x, both)))

return { salt = salt_frac, pepper = pepper_frac, mse = mse, noisy = noisy }
