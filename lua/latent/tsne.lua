-- t-SNE embeddings (the C code is src/analysis/tsne.c; options in src/lua/l_tsne.c).
--
--   local y, kl = lt.tsne(x, {dims = 2, perplexity = 30, method = "barnes_hut"})
--
-- lt.tsne is a callable table, so that related functions can sit beside it.
local core = require "latent.core"

local M = {}

-- Embeds the rows of x (n x d) in opts.dims dimensions; returns y (n x dims)
-- and the final KL divergence.
function M.fit(x, opts)
  return core.tsne(x, opts)
end

return setmetatable(M, { __call = function(_, x, opts) return core.tsne(x, opts) end })
