-- t-SNE embeddings; the work is C (src/analysis/tsne.c), the options are
-- read by src/lua/l_tsne.c.
--
--   local y, kl = lt.tsne(x, {dims = 2, perplexity = 30, method = "barnes_hut"})
--   local y_new = lt.tsne.transform(x_new, x, y)         -- new points into the embedding y of x
--   local P = lt.tsne.affinities(x, {perplexity = 30})   -- the input affinities, dense
--
-- Options (all optional): dims (2; 3 too, any for "exact"), perplexity (30,
-- below the number of points), iterations (1000), early_exaggeration (12),
-- exaggeration_iterations (250), learning_rate ("auto" = max(n / 12 / 4, 50),
-- or a number), method ("barnes_hut"; "exact": every pair, O(n^2) time and
-- memory, for a few thousand points; "fft": interpolation on a grid, 2-D
-- only, whose cost grows with the embedding's extent rather than with n, so
-- it pays for large n), angle (0.5,
-- Barnes-Hut's accuracy trade-off in [0, 1]), init ("pca", "random" or an
-- n x dims tensor), seed (for init = "random": a private stream; without it
-- the draws come from lt.manual_seed's generator), n_iter_without_progress
-- (300), min_grad_norm (1e-7), verbose (progress every 50 iterations; by
-- default only when stdout is a terminal).
--
-- lt.tsne is a table that can be called, so related functions sit beside it.
local core = require "latent.core"

local M = {}

-- Embeds the rows of x (n x d) in opts.dims dimensions; returns y (n x dims)
-- and the final KL divergence. Also lt.tsne(x, opts).
M.fit = core.tsne

-- Places new points into an embedding y of x, which stays fixed: each row of
-- x_new gets affinities to its 3 * perplexity + 1 nearest rows of x, starts
-- at their weighted mean in y and descends its own KL divergence (as
-- openTSNE's transform). Returns y_new (m x dims) and the mean of the new
-- points' KL divergences. opts: perplexity (5), iterations (250),
-- learning_rate ("auto" = 0.1), angle (0.5), verbose.
M.transform = core.tsne_transform

-- The joint affinities P that t-SNE matches: symmetric, summing to 1, as a
-- dense n x n tensor (n at most 16384). opts: perplexity, method.
M.affinities = core.tsne_affinities

-- The C functions are used as they are (no Lua wrapper), so that an error
-- points at the caller's line; as __call, core.tsne drops the table itself.
return setmetatable(M, { __call = core.tsne })
