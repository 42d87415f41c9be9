/* batch_norm forward and backward.
 *
 * x is read as N x C x L (L = the product of the dims after the channel).
 * Two layouts get their own loops:
 *   - L > 1 ("planes", BatchNorm2d): one channel at a time, its statistics
 *     and its output in the same visit, so the channel's data is still in
 *     cache for the second pass; OpenMP over channels.
 *   - L = 1 ("rows", BatchNorm1d on N x C): row by row, vectorized across a
 *     block of channels; OpenMP over blocks of channels.
 * Either way each channel is computed by one thread in a fixed order, so
 * results do not depend on the thread count. Moments are taken in one pass
 * in double, shifted by the channel's first value (which keeps the
 * sum-of-squares formula accurate when the mean is large).
 *
 * Saved for backward: x (contiguous), a 2 x C tensor of the mean and
 * 1/sqrt(var + eps) that were used, and the weight. */
#include "ops/norm.h"
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "core/lt_profile.h"
#include "ops/elementwise_iter.h" /* LT_EW_CLONES: an AVX2 clone of each kernel */
#include "ops/view.h"

#include <math.h>
#include <string.h>

enum { PAR_MIN = 32768, ROW_BLOCK = 64 };

typedef struct {
  int64_t n, c, l; /* x as N x C x L */
} geom;

/* The per-channel numbers of one call. */
typedef struct {
  double *s1, *s2;      /* moments (forward) or gradient sums (backward) */
  float *mean, *invstd; /* rows of the saved 2 x C stats tensor */
  float *a, *b, *k;     /* forward: scale and shift; backward: see batch_norm_backward */
} chan;

/* ==================== the two layouts ==================== */

/* Channels [c0, c1) of x: s1 = sum of (x - K), s2 = sum of (x - K)^2 with K =
 * the channel's first value; mean[c] = K + s1 / m afterwards. */
LT_EW_CLONES static void moments(const float *x, geom G, int64_t c0, int64_t c1, chan *ch) {
  int64_t C = G.c, L = G.l;
  for (int64_t c = c0; c < c1; c++) ch->s1[c] = ch->s2[c] = 0, ch->mean[c] = x[c * L];
  if (L > 1) {
    for (int64_t c = c0; c < c1; c++) {
      double s1 = 0, s2 = 0, K = ch->mean[c];
      for (int64_t n = 0; n < G.n; n++) {
        const float *p = x + (n * C + c) * L;
#pragma omp simd reduction(+ : s1, s2)
        for (int64_t l = 0; l < L; l++) {
          double d = (double)p[l] - K;
          s1 += d, s2 += d * d;
        }
      }
      ch->s1[c] = s1, ch->s2[c] = s2;
    }
    return;
  }
  for (int64_t n = 0; n < G.n; n++) {
    const float *p = x + n * C;
#pragma omp simd
    for (int64_t c = c0; c < c1; c++) {
      double d = (double)p[c] - ch->mean[c];
      ch->s1[c] += d, ch->s2[c] += d * d;
    }
  }
}

/* y = (x - mean) a + b over channels [c0, c1). */
LT_EW_CLONES static void affine(const float *x, float *y, geom G, int64_t c0, int64_t c1, const chan *ch) {
  int64_t C = G.c, L = G.l;
  if (L > 1) {
    for (int64_t c = c0; c < c1; c++) {
      const float m = ch->mean[c], a = ch->a[c], b = ch->b[c];
      for (int64_t n = 0; n < G.n; n++) {
        const float *p = x + (n * C + c) * L;
        float *q = y + (n * C + c) * L;
#pragma omp simd
        for (int64_t l = 0; l < L; l++) q[l] = (p[l] - m) * a + b;
      }
    }
    return;
  }
  for (int64_t n = 0; n < G.n; n++) {
    const float *p = x + n * C;
    float *q = y + n * C;
#pragma omp simd
    for (int64_t c = c0; c < c1; c++) q[c] = (p[c] - ch->mean[c]) * ch->a[c] + ch->b[c];
  }
}

/* s1 = sum of g, s2 = sum of g (x - mean) over channels [c0, c1). */
LT_EW_CLONES static void grad_sums(const float *g, const float *x, geom G, int64_t c0, int64_t c1, chan *ch) {
  int64_t C = G.c, L = G.l;
  if (L > 1) {
    for (int64_t c = c0; c < c1; c++) {
      double s1 = 0, s2 = 0;
      const float m = ch->mean[c];
      for (int64_t n = 0; n < G.n; n++) {
        const float *pg = g + (n * C + c) * L, *px = x + (n * C + c) * L;
#pragma omp simd reduction(+ : s1, s2)
        for (int64_t l = 0; l < L; l++) s1 += pg[l], s2 += (double)pg[l] * (px[l] - m);
      }
      ch->s1[c] = s1, ch->s2[c] = s2;
    }
    return;
  }
  for (int64_t c = c0; c < c1; c++) ch->s1[c] = ch->s2[c] = 0;
  for (int64_t n = 0; n < G.n; n++) {
    const float *pg = g + n * C, *px = x + n * C;
#pragma omp simd
    for (int64_t c = c0; c < c1; c++) {
      ch->s1[c] += pg[c];
      ch->s2[c] += (double)pg[c] * (px[c] - ch->mean[c]);
    }
  }
}

/* gx = a g + b (x - mean) + k over channels [c0, c1); gx = a g alone in eval
 * mode (`affine_only`), which then does not read x. */
LT_EW_CLONES static void grad_x(const float *g, const float *x, float *gx, geom G, int64_t c0, int64_t c1,
                                const chan *ch, bool affine_only) {
  const float *k = ch->k;
  int64_t C = G.c, L = G.l;
  if (L > 1) {
    for (int64_t c = c0; c < c1; c++) {
      const float m = ch->mean[c], a = ch->a[c], b = ch->b[c], kc = k[c];
      for (int64_t n = 0; n < G.n; n++) {
        size_t o = (size_t)((n * C + c) * L);
        const float *pg = g + o, *px = x + o;
        float *q = gx + o;
        if (affine_only) {
#pragma omp simd
          for (int64_t l = 0; l < L; l++) q[l] = a * pg[l];
        } else {
#pragma omp simd
          for (int64_t l = 0; l < L; l++) q[l] = a * pg[l] + b * (px[l] - m) + kc;
        }
      }
    }
    return;
  }
  for (int64_t n = 0; n < G.n; n++) {
    const float *pg = g + n * C, *px = x + n * C;
    float *q = gx + n * C;
    if (affine_only) {
#pragma omp simd
      for (int64_t c = c0; c < c1; c++) q[c] = ch->a[c] * pg[c];
    } else {
#pragma omp simd
      for (int64_t c = c0; c < c1; c++) q[c] = ch->a[c] * pg[c] + ch->b[c] * (px[c] - ch->mean[c]) + k[c];
    }
  }
}

/* Channel blocks: one channel for planes, ROW_BLOCK channels for rows. */
static int64_t block_of(geom G) { return G.l > 1 ? 1 : ROW_BLOCK; }
static bool parallel(geom G) { return G.n * G.c * G.l >= PAR_MIN && G.c > block_of(G); }

/* ==================== per-channel numbers ==================== */

/* Scratch for C channels: 2C doubles and 3C floats in one block. */
static size_t scratch_bytes(int64_t C) { return (size_t)C * (2 * sizeof(double) + 3 * sizeof(float)) + 1; }
static void *scratch_new(int64_t C, chan *ch) {
  char *p = lt_alloc(scratch_bytes(C));
  if (!p) return NULL;
  ch->s1 = (double *)p;
  ch->s2 = ch->s1 + C;
  ch->a = (float *)(ch->s2 + C);
  ch->b = ch->a + C;
  ch->k = ch->b + C;
  return p;
}
static void scratch_free(void *p, int64_t C) { lt_free(p, scratch_bytes(C)); }

static float value_at(const lt_tensor *t, int64_t c) { return t ? lt_tensor_data(t)[c * t->stride[0]] : 0.0f; }
static float weight_at(const lt_tensor *w, int64_t c) { return w ? lt_tensor_data(w)[c * w->stride[0]] : 1.0f; }

/* ==================== checks ==================== */

static lt_status check_channels(const char *what, const lt_tensor *t, const lt_tensor *x) {
  if (!t || (t->ndim == 1 && t->shape[0] == x->shape[1])) return LT_OK;
  char st[LT_SHAPE_STR], sx[LT_SHAPE_STR];
  return lt_error(LT_ERR_SHAPE, "batch_norm: %s of size %s does not match the %lld channels of input %s", what,
                  LT_SHAPE(t, st), (long long)x->shape[1], LT_SHAPE(x, sx));
}

static lt_status check(const lt_tensor *x, const lt_tensor *rm, const lt_tensor *rv, const lt_tensor *w,
                       const lt_tensor *b, bool training) {
  char sx[LT_SHAPE_STR];
  if (x->ndim < 2)
    return lt_error(LT_ERR_SHAPE, "batch_norm: expected an input of 2 or more dimensions (N x C x ...), got %s",
                    LT_SHAPE(x, sx));
  lt_status st;
  if ((st = check_channels("running_mean", rm, x)) || (st = check_channels("running_var", rv, x)) ||
      (st = check_channels("weight", w, x)) || (st = check_channels("bias", b, x)))
    return st;
  if (!rm != !rv) return lt_error(LT_ERR_ARG, "batch_norm: give both running_mean and running_var, or neither");
  if (!training && !rm)
    return lt_error(LT_ERR_ARG, "batch_norm: running_mean and running_var are needed in eval mode");
  if (training && x->shape[1] > 0 && lt_tensor_numel(x) / x->shape[1] <= 1)
    return lt_error(LT_ERR_SHAPE, "batch_norm: expected more than 1 value per channel when training, got input %s",
                    LT_SHAPE(x, sx));
  if (training && rm && ((st = lt_check_inplace("batch_norm (running_mean)", rm)) ||
                         (st = lt_check_inplace("batch_norm (running_var)", rv))))
    return st;
  return LT_OK;
}

/* ==================== batch_norm ==================== */

/* Backward per channel, with s1 = sum g, s2 = sum g (x - mean), m = N L:
 *   gbias = s1, gweight = s2 invstd,
 *   gx = a g + b (x - mean) + k with a = w invstd and, in training (through
 *   the batch statistics), b = -a invstd^2 s2 / m, k = -a s1 / m; in eval
 *   b = k = 0.
 * saved[0] = x, saved[1] = stats (mean; invstd), saved[2] = weight;
 * i[0] = training, i[1] = has weight, i[2] = has bias. */
static lt_status batch_norm_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  lt_tensor *x = n->saved[0], *w = n->i[1] ? n->saved[2] : NULL;
  bool training = n->i[0];
  int iw = 1, ib = 1 + (int)n->i[1];
  bool need_x = lt_edge_needs_grad(&n->inputs[0]);
  bool need_w = n->i[1] && lt_edge_needs_grad(&n->inputs[iw]);
  bool need_b = n->i[2] && lt_edge_needs_grad(&n->inputs[ib]);
  geom G = {x->shape[0], x->shape[1], 0};
  G.l = G.n * G.c > 0 ? lt_tensor_numel(x) / (G.n * G.c) : 0;
  double m = (double)(G.n * G.l);
  chan ch;
  void *scratch = scratch_new(G.c, &ch);
  lt_tensor *gc = lt_tensor_contiguous_values(g);
  /* (gradients already set are released by the engine on failure) */
  if (!scratch || !gc || (need_x && !(gi[0] = lt_tensor_empty(x->ndim, x->shape))) ||
      (need_w && !(gi[iw] = lt_tensor_empty(1, &G.c))) || (need_b && !(gi[ib] = lt_tensor_empty(1, &G.c)))) {
    if (scratch) scratch_free(scratch, G.c);
    lt_tensor_release(gc);
    return LT_ERR_MEMORY;
  }
  ch.mean = lt_tensor_data(n->saved[1]);
  ch.invstd = ch.mean + G.c;
  bool sums = need_w || need_b || (training && need_x);
  const float *gd = lt_tensor_data(gc), *xd = lt_tensor_data(x);
  float *gxd = need_x ? lt_tensor_data(gi[0]) : NULL;
  int64_t blk = block_of(G);
#pragma omp parallel for schedule(static) if (parallel(G))
  for (int64_t c0 = 0; c0 < G.c; c0 += blk) {
    int64_t c1 = c0 + blk < G.c ? c0 + blk : G.c;
    if (sums) grad_sums(gd, xd, G, c0, c1, &ch);
    for (int64_t c = c0; c < c1; c++) {
      double is = ch.invstd[c], a = weight_at(w, c) * is;
      ch.a[c] = (float)a;
      ch.b[c] = training ? (float)(-a * is * is * ch.s2[c] / m) : 0.0f;
      ch.k[c] = training ? (float)(-a * ch.s1[c] / m) : 0.0f;
    }
    if (need_x) grad_x(gd, xd, gxd, G, c0, c1, &ch, !training);
  }
  for (int64_t c = 0; c < G.c; c++) {
    if (need_w) lt_tensor_data(gi[iw])[c] = (float)(ch.s2[c] * ch.invstd[c]);
    if (need_b) lt_tensor_data(gi[ib])[c] = (float)ch.s1[c];
  }
  scratch_free(scratch, G.c);
  lt_tensor_release(gc);
  return LT_OK;
}
static const lt_op OP_BATCH_NORM = {"batch_norm", batch_norm_backward};

/* running = (1 - momentum) running + momentum stat, in double. */
static void update_running(lt_tensor *r, const double *stat, double scale, double momentum) {
  float *d = lt_tensor_data(r);
  for (int64_t c = 0; c < r->shape[0]; c++) {
    float *v = d + c * r->stride[0];
    *v = (float)((1.0 - momentum) * *v + momentum * stat[c] * scale);
  }
  lt_tensor_bump_version(r);
}

/* Shapes and modes: see norm.h. PyTorch: F.batch_norm */
lt_status lt_batch_norm(lt_tensor **out, lt_tensor *x, lt_tensor *rm, lt_tensor *rv, lt_tensor *w, lt_tensor *b,
                        bool training, double momentum, double eps) {
  LT_PROFILE_OP(OP_BATCH_NORM.name);
  lt_status st = check(x, rm, rv, w, b, training);
  if (st != LT_OK) return st;
  geom G = {x->shape[0], x->shape[1], 0};
  G.l = G.n * G.c > 0 ? lt_tensor_numel(x) / (G.n * G.c) : 0;
  double m = (double)(G.n * G.l);
  int64_t stats_shape[2] = {2, G.c};
  chan ch;
  void *scratch = scratch_new(G.c, &ch);
  lt_tensor *xc = scratch ? lt_tensor_contiguous_values(x) : NULL;
  lt_tensor *stats = xc ? lt_tensor_empty(2, stats_shape) : NULL;
  lt_tensor *y = stats ? lt_tensor_empty(x->ndim, x->shape) : NULL;
  if (!y) {
    if (scratch) scratch_free(scratch, G.c);
    lt_tensor_release(xc);
    lt_tensor_release(stats);
    return LT_ERR_MEMORY;
  }
  ch.mean = lt_tensor_data(stats);
  ch.invstd = ch.mean + G.c;
  const float *xd = lt_tensor_data(xc);
  float *yd = lt_tensor_data(y);
  int64_t blk = block_of(G);
#pragma omp parallel for schedule(static) if (parallel(G))
  for (int64_t c0 = 0; c0 < G.c; c0 += blk) {
    int64_t c1 = c0 + blk < G.c ? c0 + blk : G.c;
    if (training) moments(xd, G, c0, c1, &ch);
    for (int64_t c = c0; c < c1; c++) {
      double mean, var;
      if (training) {
        mean = ch.mean[c] + ch.s1[c] / m;
        var = (ch.s2[c] - ch.s1[c] * ch.s1[c] / m) / m;
        var = var > 0 ? var : 0;
        ch.s1[c] = mean, ch.s2[c] = var; /* for the running statistics */
      } else {
        mean = value_at(rm, c), var = value_at(rv, c);
      }
      double is = 1.0 / sqrt(var + eps);
      ch.mean[c] = (float)mean;
      ch.invstd[c] = (float)is;
      ch.a[c] = (float)(weight_at(w, c) * is);
      ch.b[c] = value_at(b, c);
    }
    affine(xd, yd, G, c0, c1, &ch);
  }
  if (training && rm) {
    update_running(rm, ch.s1, 1.0, momentum);
    update_running(rv, ch.s2, m / (m - 1), momentum);
  }
  scratch_free(scratch, G.c);
  lt_tensor *in[3] = {x, NULL, NULL}, *saved[3] = {xc, stats, w};
  int n_in = 1;
  if (w) in[n_in++] = w;
  if (b) in[n_in++] = b;
  lt_node *n;
  st = lt_record(y, &OP_BATCH_NORM, n_in, in, w ? 3 : 2, saved, &n);
  lt_tensor_release(xc);
  lt_tensor_release(stats);
  if (st != LT_OK) {
    lt_tensor_release(y);
    return st;
  }
  if (n) n->i[0] = training, n->i[1] = w != NULL, n->i[2] = b != NULL;
  *out = y;
  return LT_OK;
}
