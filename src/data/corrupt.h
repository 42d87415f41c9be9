/* Corruption schemes for image batches: Gaussian noise and random erasing.
 *
 * These are data transforms, not differentiable ops: each makes a new tensor
 * from its input (the input is never written) and records nothing in the
 * autograd graph. An input that requires grad while grad mode is on is an
 * error, so that nobody mistakes a corrupted batch for one that carries
 * gradients; pass x:detach() (or call under no_grad) instead.
 *
 * All randomness comes from the one generator (core/lt_rng.h), drawn in a
 * fixed order, so a seed repeats a corruption bit for bit. */
#ifndef LT_CORRUPT_H
#define LT_CORRUPT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* ==================== Gaussian noise ==================== */

/* out = x + std * N(0, 1) elementwise (any shape; the normals are drawn in
 * x's row-major order), then clamped to [0, 1] when `clamp`. std must be
 * finite and >= 0. */
lt_status lt_corrupt_gaussian(lt_tensor **out, const lt_tensor *x, double std, bool clamp);

/* ==================== random erasing ==================== */

/* torchvision's RandomErasing (Zhong et al., "Random Erasing Data
 * Augmentation", arXiv:1708.04896), with get_params' exact rules. */
typedef struct lt_erasing_opts {
  double p;         /* probability that an image is erased, in [0, 1] */
  double scale[2];  /* erased area as a fraction of H*W: 0 <= lo <= hi <= 1 */
  double ratio[2];  /* aspect ratio h/w, drawn log-uniformly: 0 < lo <= hi, finite */
  bool random_fill; /* fill with standard normals (per element and channel) ... */
  float value;      /* ... or with this value */
} lt_erasing_opts;

/* The defaults of torchvision: p 0.5, scale (0.02, 0.33), ratio (0.3, 3.3), value 0. */
lt_erasing_opts lt_erasing_defaults(void);

/* Checks the options; the message names `fname` and the bad option. */
lt_status lt_erasing_check(const lt_erasing_opts *o, const char *fname);

/* Draws one image's rectangle for an H x W image (torchvision's forward test
 * of p, then get_params). Returns true and sets box = {top, left, h, w}
 * (0-based top and left) when the image is to be erased; false when p said
 * no or 10 tries found no rectangle that fits. */
bool lt_erasing_draw(int64_t H, int64_t W, const lt_erasing_opts *o, int64_t box[4]);

/* out = x with one rectangle erased per image. x is B x C x H x W, or
 * C x H x W for one image. When boxes is not NULL it receives a B x 4 tensor
 * (4 for one image) of 1-based top, left, h, w, all zero where the image was
 * left as it is. Each image draws its rectangle (lt_erasing_draw), then its
 * normals when random_fill, before the next image draws (torchvision draws the
 * normals before the position; the order changes no distribution). */
lt_status lt_corrupt_random_erasing(lt_tensor **out, lt_tensor **boxes, const lt_tensor *x,
                                    const lt_erasing_opts *o);

/* Only the rectangles: n x 4 as lt_corrupt_random_erasing's boxes for n
 * images of H x W (the same draws when random_fill is off). */
lt_status lt_erasing_boxes(lt_tensor **boxes, int64_t n, int64_t H, int64_t W, const lt_erasing_opts *o);

#endif
