-- The latent side of the t-SNE benchmark (scripts/bench/tsne.sh): embeds one
-- input of the file scripts/bench/tsne.py wrote, with the same settings as
-- scikit-learn's side (perplexity 30, 1000 iterations, init 'pca', learning
-- rate 'auto'), writes the embedding, and prints wall and CPU seconds and the
-- KL divergence.
--
--   latent scripts/bench/tsne.lua --data F --input x8 --out E [--method barnes_hut|fft|exact] [--threads 2]
local lt = require "latent"

local opts = { data = nil, input = "x8", out = nil, method = "barnes_hut", threads = "2" }
for i = 1, #arg, 2 do
  local key = arg[i]:match("^%-%-(.+)$")
  if not key or not arg[i + 1] or not (opts[key] ~= nil or key == "data" or key == "out") then
    error("usage: tsne.lua --data F --out E [--input x8|x32] [--method barnes_hut|fft|exact] [--threads n]", 0)
  end
  opts[key] = arg[i + 1]
end
assert(opts.data and opts.out, "tsne.lua: --data and --out are required")

lt.set_num_threads(tonumber(opts.threads))
local tensors = lt.load_tensors(opts.data)
local x = assert(tensors[opts.input], "tsne.lua: no input '" .. opts.input .. "' in " .. opts.data)
local wall, cpu = lt.clock(), os.clock()
local y, kl = lt.tsne(x, { perplexity = 30, iterations = 1000, method = opts.method, verbose = false })
wall, cpu = lt.clock() - wall, os.clock() - cpu
lt.save_tensors(opts.out, { y = y })
print(string.format("latent %s %s: seconds %.2f cpu %.2f kl %.4f", opts.input, opts.method, wall, cpu, kl))
