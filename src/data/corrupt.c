/* Corruption schemes: Gaussian noise and random erasing (see corrupt.h).
 *
 * Random erasing follows torchvision 0.14's RandomErasing.forward and
 * get_params (transforms.py) rule for rule, including where it works in
 * float32: the p test and both uniforms are float32 draws (torch.rand,
 * torch.empty(1).uniform_), the log-ratio bounds are float32 logs and the
 * aspect ratio a float32 exp; the area and the square roots are doubles, and
 * Python's round() rounds half to even, which rint() does under the default
 * rounding mode. Positions are uniform on [0, H-h] and [0, W-w], both ends
 * included (torch.randint(0, H - h + 1)). */
#include "data/corrupt.h"

#include <math.h>
#include <stddef.h>

#include "autograd/graph.h"
#include "core/lt_rng.h"

/* ==================== shared checks ==================== */

/* Corruptions record no gradient: refuse a tensor that would expect one. */
static lt_status check_no_grad(const lt_tensor *x, const char *fname) {
  if (!lt_tracks(x)) return LT_OK;
  return lt_error(LT_ERR_ARG, "%s: x requires grad, but a corruption is a data transform that records "
                  "no gradient (pass x:detach(), or call it under lt.no_grad)", fname);
}

/* A float32 on [lo, hi) from 24 random bits: torch's uniform_ on a float tensor. */
static float uniform_f(float lo, float hi) {
  float u = (float)(lt_rng_u64() >> 40) * 0x1.0p-24f;
  return lo + (hi - lo) * u;
}

/* ==================== Gaussian noise ==================== */

lt_status lt_corrupt_gaussian(lt_tensor **out, const lt_tensor *x, double std, bool clamp) {
  lt_status st = check_no_grad(x, "gaussian");
  if (st != LT_OK) return st;
  if (!(std >= 0 && isfinite(std)))
    return lt_error(LT_ERR_ARG, "gaussian: std must be a finite number >= 0, got %g", std);
  lt_tensor *y = lt_tensor_copy_values(x); /* contiguous, row-major: the normals' order */
  if (!y) return LT_ERR_MEMORY;
  float *d = lt_tensor_data(y);
  int64_t n = lt_tensor_numel(y);
  for (int64_t i = 0; i < n; i++) {
    float v = (float)((double)d[i] + std * lt_rng_normal());
    if (clamp) v = v < 0 ? 0 : v > 1 ? 1 : v; /* NaN stays NaN */
    d[i] = v;
  }
  *out = y;
  return LT_OK;
}

/* ==================== random erasing: parameters ==================== */

lt_erasing_opts lt_erasing_defaults(void) {
  lt_erasing_opts o = {.p = 0.5, .scale = {0.02, 0.33}, .ratio = {0.3, 3.3}, .random_fill = false, .value = 0};
  return o;
}

lt_status lt_erasing_check(const lt_erasing_opts *o, const char *fname) {
  if (!(o->p >= 0 && o->p <= 1))
    return lt_error(LT_ERR_ARG, "%s: option 'p' must be in [0, 1], got %g", fname, o->p);
  const double *s = o->scale, *r = o->ratio;
  if (!(s[0] >= 0 && s[0] <= s[1] && s[1] <= 1))
    return lt_error(LT_ERR_ARG, "%s: option 'scale' must be {lo, hi} with 0 <= lo <= hi <= 1, got {%g, %g}",
                    fname, s[0], s[1]);
  /* checked as float32, the precision the ratio is used in */
  if (!((float)r[0] > 0 && r[0] <= r[1] && isfinite((float)r[1])))
    return lt_error(LT_ERR_ARG, "%s: option 'ratio' must be {lo, hi} with 0 < lo <= hi (finite), got {%g, %g}",
                    fname, r[0], r[1]);
  if (!o->random_fill && !isfinite(o->value))
    return lt_error(LT_ERR_ARG, "%s: option 'value' must be a finite number or \"random\", got %g", fname,
                    (double)o->value);
  return LT_OK;
}

bool lt_erasing_draw(int64_t H, int64_t W, const lt_erasing_opts *o, int64_t box[4]) {
  if (!(uniform_f(0, 1) < o->p)) return false; /* forward: torch.rand(1) < p */
  float log_lo = logf((float)o->ratio[0]), log_hi = logf((float)o->ratio[1]);
  double area = (double)H * (double)W;
  for (int attempt = 0; attempt < 10; attempt++) {
    double erase_area = area * uniform_f((float)o->scale[0], (float)o->scale[1]);
    double aspect = expf(uniform_f(log_lo, log_hi));
    double h = rint(sqrt(erase_area * aspect)), w = rint(sqrt(erase_area / aspect));
    if (!(h < (double)H && w < (double)W)) continue; /* compared as doubles: h may be huge */
    box[2] = (int64_t)h;
    box[3] = (int64_t)w;
    box[0] = lt_rng_int(0, H - box[2]);
    box[1] = lt_rng_int(0, W - box[3]);
    return true;
  }
  return false; /* torchvision returns the image as it is */
}

/* ==================== random erasing: images ==================== */

/* Fills the rectangle of one C x H x W image (contiguous), channel by channel. */
static void erase_rect(float *img, int64_t C, int64_t H, int64_t W, const int64_t box[4], const lt_erasing_opts *o) {
  for (int64_t c = 0; c < C; c++)
    for (int64_t i = box[0]; i < box[0] + box[2]; i++) {
      float *row = img + (c * H + i) * W;
      for (int64_t j = box[1]; j < box[1] + box[3]; j++)
        row[j] = o->random_fill ? (float)lt_rng_normal() : o->value;
    }
}

static void store_box(lt_tensor *boxes, int64_t b, const int64_t box[4]) {
  float *row = lt_tensor_data(boxes) + 4 * b; /* 1-based top and left, for Lua */
  row[0] = (float)(box[0] + 1);
  row[1] = (float)(box[1] + 1);
  row[2] = (float)box[2];
  row[3] = (float)box[3];
}

static lt_status check_images(const lt_tensor *x, const char *fname) {
  char buf[LT_SHAPE_STR];
  if (x->ndim != 3 && x->ndim != 4)
    return lt_error(LT_ERR_SHAPE, "%s: x must be B x C x H x W (or C x H x W for one image), got %s", fname,
                    LT_SHAPE(x, buf));
  return check_no_grad(x, fname);
}

lt_status lt_corrupt_random_erasing(lt_tensor **out, lt_tensor **boxes, const lt_tensor *x,
                                    const lt_erasing_opts *o) {
  lt_status st = check_images(x, "random_erasing");
  if (st == LT_OK) st = lt_erasing_check(o, "random_erasing");
  if (st != LT_OK) return st;
  int nd = x->ndim;
  int64_t B = nd == 4 ? x->shape[0] : 1, C = x->shape[nd - 3], H = x->shape[nd - 2], W = x->shape[nd - 1];
  int64_t box_shape[2] = {B, 4};
  lt_tensor *y = lt_tensor_copy_values(x);
  lt_tensor *bx = boxes && y ? lt_tensor_zeros(nd == 4 ? 2 : 1, nd == 4 ? box_shape : box_shape + 1) : NULL;
  if (!y || (boxes && !bx)) {
    lt_tensor_release(y);
    return LT_ERR_MEMORY;
  }
  for (int64_t b = 0; b < B; b++) {
    int64_t box[4];
    if (!lt_erasing_draw(H, W, o, box)) continue;
    erase_rect(lt_tensor_data(y) + b * C * H * W, C, H, W, box, o);
    if (bx) store_box(bx, b, box);
  }
  *out = y;
  if (boxes) *boxes = bx;
  return LT_OK;
}

lt_status lt_erasing_boxes(lt_tensor **boxes, int64_t n, int64_t H, int64_t W, const lt_erasing_opts *o) {
  if (n < 0 || H < 0 || W < 0)
    return lt_error(LT_ERR_ARG, "erasing_boxes: n, H and W must not be negative, got %lld, %lld, %lld",
                    (long long)n, (long long)H, (long long)W);
  lt_status st = lt_erasing_check(o, "erasing_boxes");
  if (st != LT_OK) return st;
  int64_t shape[2] = {n, 4};
  lt_tensor *bx = lt_tensor_zeros(2, shape);
  if (!bx) return LT_ERR_MEMORY;
  for (int64_t b = 0; b < n; b++) {
    int64_t box[4];
    if (lt_erasing_draw(H, W, o, box)) store_box(bx, b, box);
  }
  *boxes = bx;
  return LT_OK;
}
