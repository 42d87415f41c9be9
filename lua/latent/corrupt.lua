-- lt.corrupt: corruption schemes for image batches (kernels in src/data/corrupt.c).
--
--   local y = lt.corrupt.gaussian(x, 0.3, { clamp = true })       -- x + 0.3 * N(0, 1), clamped to [0, 1]
--   local y = lt.corrupt.random_erasing(x, { p = 1, scale = { 0.02, 0.15 }, ratio = { 0.7, 1.7 } })
--   local y, boxes = lt.corrupt.random_erasing(x, { return_boxes = true })
--
-- gaussian(x, std [, {clamp = false}]): a new tensor x + std * N(0, 1), any
--   shape; with clamp, values are clamped to [0, 1].
--
-- random_erasing(x [, opts]): torchvision's RandomErasing, rule for rule
--   (get_params in torchvision/transforms/transforms.py), but every image of a
--   batch draws its own rectangle. x is B x C x H x W, or C x H x W for one
--   image. Options, with torchvision's defaults:
--     p = 0.5               probability that an image is erased
--     scale = {0.02, 0.33}  erased area as a fraction of H * W, drawn uniformly
--     ratio = {0.3, 3.3}    aspect ratio h / w, drawn log-uniformly
--     value = 0             the fill: a number, or "random" for a standard
--                           normal per erased element (per channel too)
--     return_boxes = false  also return the rectangles: B x 4 (4 for one image)
--                           of 1-based top, left, h, w; zeros where the image
--                           was left as it is
--   Per image: erase with probability p; area = H*W * U(scale), ratio =
--   exp(U(log r1, log r2)), h = round(sqrt(area * ratio)), w = round(sqrt(area /
--   ratio)) (half to even, as Python's round); accepted only when h < H and
--   w < W, up to 10 tries, else the image stays as it is; top and left uniform
--   over every position where the rectangle fits. An accepted rectangle may
--   have h or w of 0 (torchvision accepts those too): it changes nothing.
--
-- erasing_boxes(n, h, w [, {p, scale, ratio}]): only the rectangles, n x 4,
--   for n images of h x w: the same draws random_erasing makes when its value
--   is a number (e.g. for figures, or to study the distribution).
--
-- These are data transforms: they return new tensors (the input is never
-- written) and record no gradient. A tensor that requires grad is refused
-- while grad mode is on (pass x:detach(), or call under lt.no_grad): noise
-- that gradients should flow through is plain tensor math, x + s * lt.randn_like(x).
-- All randomness comes from the one generator, so lt.manual_seed(n) repeats
-- a corruption exactly. Other schemes are composed in Lua from tensor ops;
-- examples/salt_and_pepper.lua shows one.
local core = require "latent.core"

local C = core.corrupt
local corrupt = {
  gaussian = C.gaussian,
  random_erasing = C.random_erasing,
  erasing_boxes = C.erasing_boxes,
}

return corrupt
