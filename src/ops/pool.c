/* max_pool2d and upsample_nearest2d: forward and backward side by side.
 *
 * Both work plane by plane (one plane = one channel of one image), which is
 * also how OpenMP splits them: planes never share output elements. */
#include "ops/pool.h"
#include "autograd/graph.h"
#include "core/lt_profile.h"
#include "ops/view.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PAR_MIN 32768 /* loops over fewer elements run on one thread */

/* "2" when both entries are equal, else "(2, 3)". */
static const char *pair_str(const int64_t *v, char buf[48]) {
  if (v[0] == v[1]) snprintf(buf, 48, "%lld", (long long)v[0]);
  else snprintf(buf, 48, "(%lld, %lld)", (long long)v[0], (long long)v[1]);
  return buf;
}

static lt_status check_rank(const char *fn, const lt_tensor *x) {
  if (x->ndim == 3 || x->ndim == 4) return LT_OK;
  char sx[LT_SHAPE_STR];
  return lt_error(LT_ERR_SHAPE, "%s: input must be 4-D (batch x channels x height x width) or 3-D (unbatched), "
                  "got shape %s", fn, LT_SHAPE(x, sx));
}

/* y = f(x4) for x4 = x with a batch dimension of one in front. */
static lt_status unbatched(lt_status (*f)(lt_tensor **, lt_tensor *, const int64_t *, const int64_t *,
                                          const int64_t *),
                           lt_tensor **out, lt_tensor *x, const int64_t *a, const int64_t *b, const int64_t *c) {
  lt_tensor *x4 = NULL, *y4 = NULL;
  lt_status st = lt_unsqueeze(&x4, x, 0);
  if (st == LT_OK) st = f(&y4, x4, a, b, c);
  if (st == LT_OK) st = lt_squeeze(out, y4, 0);
  lt_tensor_release(x4);
  lt_tensor_release(y4);
  return st;
}

/* Records op for y = f(x) with `saved`; releases y on failure. */
static lt_status finish(lt_tensor **out, lt_tensor *y, const lt_op *op, lt_tensor *x, int n_saved,
                        lt_tensor *saved, lt_node **node) {
  lt_status st = lt_record(y, op, 1, &x, n_saved, &saved, node);
  if (st != LT_OK) {
    lt_tensor_release(y);
    return st;
  }
  *out = y;
  return LT_OK;
}

/* ==================== max_pool2d ==================== */

typedef struct {
  int64_t planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw;
} pool_geom;

/* The max of each window and its offset within the plane. */
static void max_pool_kernel(const pool_geom *g, const float *x, float *y, int32_t *idx) {
  const int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
#pragma omp parallel for schedule(static) if (g->planes * ohw * g->kh * g->kw > PAR_MIN)
  for (int64_t p = 0; p < g->planes; p++) {
    const float *src = x + p * hw;
    for (int64_t oy = 0; oy < g->oh; oy++) {
      const int64_t y0 = oy * g->sh - g->ph;
      const int64_t ys = y0 < 0 ? 0 : y0, ye = y0 + g->kh < g->h ? y0 + g->kh : g->h;
      for (int64_t ox = 0; ox < g->ow; ox++) {
        const int64_t x0 = ox * g->sw - g->pw;
        const int64_t xs = x0 < 0 ? 0 : x0, xe = x0 + g->kw < g->w ? x0 + g->kw : g->w;
        float m = -INFINITY;
        int64_t at = ys * g->w + xs;
        for (int64_t yy = ys; yy < ye; yy++)
          for (int64_t xx = xs; xx < xe; xx++) {
            const float v = src[yy * g->w + xx];
            if (v > m || isnan(v)) { /* strict: the first maximum wins */
              m = v;
              at = yy * g->w + xx;
            }
          }
        y[p * ohw + oy * g->ow + ox] = m;
        idx[p * ohw + oy * g->ow + ox] = (int32_t)at;
      }
    }
  }
}

/* grad_x[plane][idx] += grad_y: saved[0] holds the argmax offsets. */
static lt_status max_pool_backward(lt_node *n, lt_tensor *gy, lt_tensor **gi) {
  const lt_edge *e = &n->inputs[0];
  const int64_t hw = e->shape[2] * e->shape[3], ohw = n->out_shape[2] * n->out_shape[3];
  const int64_t planes = e->shape[0] * e->shape[1];
  lt_tensor *gc = lt_tensor_contiguous_values(gy), *gx = lt_tensor_zeros(e->ndim, e->shape);
  if (!gc || !gx) {
    lt_tensor_release(gc);
    lt_tensor_release(gx);
    return LT_ERR_MEMORY;
  }
  const float *g = lt_tensor_data(gc);
  const int32_t *idx = (const int32_t *)lt_tensor_data(n->saved[0]);
  float *d = lt_tensor_data(gx);
#pragma omp parallel for schedule(static) if (planes * ohw > PAR_MIN)
  for (int64_t p = 0; p < planes; p++)
    for (int64_t k = 0; k < ohw; k++) d[p * hw + idx[p * ohw + k]] += g[p * ohw + k];
  lt_tensor_release(gc);
  gi[0] = gx;
  return LT_OK;
}
static const lt_op OP_MAX_POOL2D = {"max_pool2d", max_pool_backward};

static lt_status check_pool(const lt_tensor *x, const int64_t *k, const int64_t *s, const int64_t *p) {
  char s1[48], s2[48], sx[LT_SHAPE_STR];
  const int64_t h = x->shape[x->ndim - 2], w = x->shape[x->ndim - 1];
  for (int d = 0; d < 2; d++) {
    if (k[d] < 1) return lt_error(LT_ERR_ARG, "max_pool2d: kernel_size must be positive, got %s", pair_str(k, s1));
    if (s[d] < 1) return lt_error(LT_ERR_ARG, "max_pool2d: stride must be positive, got %s", pair_str(s, s1));
    if (p[d] < 0 || p[d] > k[d] / 2)
      return lt_error(LT_ERR_ARG, "max_pool2d: padding %s must be between 0 and half the kernel size %s",
                      pair_str(p, s1), pair_str(k, s2));
  }
  if (h + 2 * p[0] < k[0] || w + 2 * p[1] < k[1])
    return lt_error(LT_ERR_SHAPE, "max_pool2d: input %s is smaller than the kernel %lldx%lld (with padding %s)",
                    LT_SHAPE(x, sx), (long long)k[0], (long long)k[1], pair_str(p, s1));
  if (h * w > INT32_MAX)
    return lt_error(LT_ERR_SHAPE, "max_pool2d: input %s has planes too large", LT_SHAPE(x, sx));
  return LT_OK;
}

lt_status lt_max_pool2d(lt_tensor **out, lt_tensor *x, const int64_t k[2], const int64_t s[2], const int64_t p[2]) {
  LT_PROFILE_OP(OP_MAX_POOL2D.name);
  lt_status st = check_rank("max_pool2d", x);
  if (st == LT_OK) st = check_pool(x, k, s, p);
  if (st != LT_OK) return st;
  if (x->ndim == 3) return unbatched(lt_max_pool2d, out, x, k, s, p);
  pool_geom g = {x->shape[0] * x->shape[1], x->shape[2], x->shape[3], 0, 0, k[0], k[1], s[0], s[1], p[0], p[1]};
  g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1;
  g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
  const int64_t shape[4] = {x->shape[0], x->shape[1], g.oh, g.ow};
  lt_tensor *xc = lt_tensor_contiguous_values(x), *y = lt_tensor_empty(4, shape);
  /* the argmax offsets, int32 values in a tensor's storage: only this file reads them */
  lt_tensor *idx = lt_tensor_empty(4, shape);
  if (!xc || !y || !idx) {
    lt_tensor_release(xc);
    lt_tensor_release(y);
    lt_tensor_release(idx);
    return LT_ERR_MEMORY;
  }
  max_pool_kernel(&g, lt_tensor_data(xc), lt_tensor_data(y), (int32_t *)lt_tensor_data(idx));
  lt_tensor_release(xc);
  st = finish(out, y, &OP_MAX_POOL2D, x, 1, idx, NULL);
  lt_tensor_release(idx);
  return st;
}

/* ==================== upsample_nearest2d ==================== */

/* y[p][r sh + a][c sw + b] = x[p][r][c] over rows = planes x h input rows. */
static void upsample_kernel(const float *x, int64_t rows, int64_t w, int64_t sh, int64_t sw, float *y) {
  const int64_t ow = w * sw;
#pragma omp parallel for schedule(static) if (rows * w * sh * sw > PAR_MIN)
  for (int64_t r = 0; r < rows; r++) {
    const float *s = x + r * w;
    float *d = y + r * sh * ow;
    if (sw == 1) memcpy(d, s, (size_t)w * sizeof *d);
    else
      for (int64_t c = 0; c < w; c++)
        for (int64_t b = 0; b < sw; b++) d[c * sw + b] = s[c];
    for (int64_t a = 1; a < sh; a++) memcpy(d + a * ow, d, (size_t)ow * sizeof *d);
  }
}

/* grad_x[p][r][c] = sum of grad_y over the block the pixel was copied to. */
static lt_status upsample_backward(lt_node *n, lt_tensor *gy, lt_tensor **gi) {
  const lt_edge *e = &n->inputs[0];
  const int64_t w = e->shape[3], sh = n->i[0], sw = n->i[1], ow = w * sw;
  const int64_t rows = e->shape[0] * e->shape[1] * e->shape[2];
  lt_tensor *gc = lt_tensor_contiguous_values(gy), *gx = lt_tensor_empty(e->ndim, e->shape);
  if (!gc || !gx) {
    lt_tensor_release(gc);
    lt_tensor_release(gx);
    return LT_ERR_MEMORY;
  }
  const float *g = lt_tensor_data(gc);
  float *d = lt_tensor_data(gx);
#pragma omp parallel for schedule(static) if (rows * w * sh * sw > PAR_MIN)
  for (int64_t r = 0; r < rows; r++) {
    float *dr = d + r * w;
    for (int64_t c = 0; c < w; c++) dr[c] = 0;
    for (int64_t a = 0; a < sh; a++) {
      const float *s = g + (r * sh + a) * ow;
      for (int64_t c = 0; c < w; c++) {
        float acc = 0;
        for (int64_t b = 0; b < sw; b++) acc += s[c * sw + b];
        dr[c] += acc;
      }
    }
  }
  lt_tensor_release(gc);
  gi[0] = gx;
  return LT_OK;
}
static const lt_op OP_UPSAMPLE_NEAREST2D = {"upsample_nearest2d", upsample_backward};

static lt_status upsample3(lt_tensor **out, lt_tensor *x, const int64_t *scale, const int64_t *u1,
                           const int64_t *u2) {
  (void)u1, (void)u2;
  return lt_upsample_nearest2d(out, x, scale);
}

lt_status lt_upsample_nearest2d(lt_tensor **out, lt_tensor *x, const int64_t scale[2]) {
  LT_PROFILE_OP(OP_UPSAMPLE_NEAREST2D.name);
  char s1[48];
  lt_status st = check_rank("upsample_nearest2d", x);
  if (st != LT_OK) return st;
  if (scale[0] < 1 || scale[1] < 1)
    return lt_error(LT_ERR_ARG, "upsample_nearest2d: scale factor must be a positive integer, got %s",
                    pair_str(scale, s1));
  if (x->ndim == 3) return unbatched(upsample3, out, x, scale, NULL, NULL);
  const int64_t shape[4] = {x->shape[0], x->shape[1], x->shape[2] * scale[0], x->shape[3] * scale[1]};
  lt_tensor *xc = lt_tensor_contiguous_values(x), *y = lt_tensor_empty(4, shape);
  if (!xc || !y) {
    lt_tensor_release(xc);
    lt_tensor_release(y);
    return LT_ERR_MEMORY;
  }
  upsample_kernel(lt_tensor_data(xc), x->shape[0] * x->shape[1] * x->shape[2], x->shape[3], scale[0], scale[1],
                  lt_tensor_data(y));
  lt_tensor_release(xc);
  lt_node *node = NULL;
  st = finish(out, y, &OP_UPSAMPLE_NEAREST2D, x, 0, NULL, &node);
  if (node) node->i[0] = scale[0], node->i[1] = scale[1];
  return st;
}
