/* Losses, forward and backward side by side: the elementwise ones (mse, l1,
 * bce, bce_with_logits) from one value/derivative pair each, then
 * cross_entropy and nll over rows of class scores.
 *
 * Elementwise, reduced: one fused pass over contiguous data, summing in
 * double per fixed-size chunk (OpenMP over chunks), then the chunks in order.
 * Unreduced, and every backward: the elementwise iterator (any strides). */
#include "ops/loss.h"
#include "ops/activation.h"
#include "ops/fastmath.h"
#include "ops/elementwise_iter.h"
#include "autograd/graph.h"
#include "core/lt_profile.h"

#include <math.h>

enum { PAR_CHEAP = 32768, PAR_HEAVY = 8192, MAX_CHUNKS = 256, MIN_CHUNK = 4096 };

/* ==================== elementwise losses: value and derivative ==================== */

static inline float mse_f(float p, float t) { return (p - t) * (p - t); }
static inline float mse_d(float p, float t) { return 2.0f * (p - t); }

static inline float l1_f(float p, float t) { return fabsf(p - t); }
static inline float l1_d(float p, float t) { return (float)((p - t > 0.0f) - (p - t < 0.0f)); }

/* PyTorch's: each log clamped at -100, so p = 0 or 1 gives a finite loss */
static inline float bce_f(float p, float t) {
  float lp = lt_fm_log(p), lq = lt_fm_log1p(-p);
  lp = lp > -100.0f ? lp : -100.0f;
  lq = lq > -100.0f ? lq : -100.0f;
  return (t - 1.0f) * lq - t * lp;
}
static inline float bce_d(float p, float t) {
  float q = (1.0f - p) * p;
  return (p - t) / (q > 1e-12f ? q : 1e-12f);
}

static inline float bcel_f(float x, float t) { return lt_fm_softplus(x) - x * t; }
static inline float bcel_d(float x, float t) { return lt_fm_sigmoid(x) - t; }

typedef double (*sum_fn)(int64_t n, const float *p, const float *t);

/* For each loss: its values (X = pred, Y = target), its gradient times P0,
 * its gradient times an incoming gradient (X = g, Y = pred, Z = target), and
 * the double sum of its values over contiguous arrays. */
#define LOSS_KERNELS(NAME, F, D)                                                    \
  LT_EW_BINARY(row_##NAME, F(X, Y))                                                 \
  LT_EW_BINARY(row_##NAME##_ds, P0 * D(X, Y))                                       \
  LT_EW_TERNARY(row_##NAME##_d, X * D(Y, Z))                                        \
  LT_EW_CLONES static double sum_##NAME(int64_t n, const float *p, const float *t) { \
    double s = 0;                                                                   \
    _Pragma("omp simd reduction(+ : s)") for (int64_t i = 0; i < n; i++) s += F(p[i], t[i]); \
    return s;                                                                       \
  }

LOSS_KERNELS(mse, mse_f, mse_d)
LOSS_KERNELS(l1, l1_f, l1_d)
LOSS_KERNELS(bce, bce_f, bce_d)
LOSS_KERNELS(bcel, bcel_f, bcel_d)

typedef struct {
  lt_row_fn value, grad_scaled, grad;
  sum_fn sum;
  int heavy;
} loss_kind;

enum { MSE, L1, BCE, BCE_LOGITS };
static const loss_kind KINDS[] = {
    [MSE] = {row_mse, row_mse_ds, row_mse_d, sum_mse, 0},
    [L1] = {row_l1, row_l1_ds, row_l1_d, sum_l1, 0},
    [BCE] = {row_bce, row_bce_ds, row_bce_d, sum_bce, 1},
    [BCE_LOGITS] = {row_bcel, row_bcel_ds, row_bcel_d, sum_bcel, 1},
};

/* ==================== helpers ==================== */

/* The sum of F over n contiguous pairs: fixed chunks (their size depends on n
 * only), OpenMP over chunks when large, then the chunks in order. */
static double chunked_sum(sum_fn sum, int64_t n, const float *p, const float *t, int heavy) {
  int64_t chunk = (n + MAX_CHUNKS - 1) / MAX_CHUNKS;
  chunk = chunk < MIN_CHUNK ? MIN_CHUNK : (chunk + 15) & ~(int64_t)15;
  int64_t nc = (n + chunk - 1) / chunk;
  double part[MAX_CHUNKS];
#pragma omp parallel for schedule(static) if (n >= (heavy ? PAR_HEAVY : PAR_CHEAP) && nc > 1)
  for (int64_t k = 0; k < nc; k++) {
    int64_t lo = k * chunk, len = n - lo < chunk ? n - lo : chunk;
    part[k] = sum(len, p + lo, t + lo);
  }
  double s = 0;
  for (int64_t k = 0; k < nc; k++) s += part[k];
  return s;
}

/* A scalar holding s, or s / count for the mean. */
static lt_tensor *reduced(double s, int64_t count, lt_reduction r) {
  return lt_tensor_full(0, NULL, (float)(r == LT_REDUCTION_MEAN ? s / (double)count : s));
}

/* The incoming gradient of a reduced loss, per element: g / count for the mean. */
static float reduced_grad(const lt_node *n, const lt_tensor *g) {
  float gv = lt_tensor_data(g)[0];
  return n->i[0] == LT_REDUCTION_MEAN ? (float)(gv / n->f[0]) : gv;
}

/* Records `op` on y with pred as the only input (targets get no gradient);
 * the node keeps i[0] = the reduction, f[0] = the count a mean divides by,
 * and i[1] = `extra` (the loss kind, or the class index base). */
static lt_status finish(lt_tensor **out, lt_tensor *y, const lt_op *op, lt_tensor *pred, int n_saved,
                        lt_tensor *const *saved, lt_reduction r, double count, int extra) {
  lt_node *n;
  lt_status st = lt_ew_finish(out, y, op, 1, &pred, n_saved, saved, &n);
  if (st == LT_OK && n) n->i[0] = r, n->i[1] = extra, n->f[0] = count;
  return st;
}

/* The position (counting from 0) of the first value outside [0, 1] (or NaN), or -1. */
static int64_t first_outside_unit(const float *p, int64_t n) {
  int bad = 0;
#pragma omp simd reduction(| : bad)
  for (int64_t i = 0; i < n; i++) bad |= !(p[i] >= 0.0f && p[i] <= 1.0f);
  if (!bad) return -1;
  int64_t i = 0;
  while (p[i] >= 0.0f && p[i] <= 1.0f) i++;
  return i;
}

/* ==================== mse, l1, bce, bce_with_logits ==================== */

/* d loss / d pred, times g (elementwise for "none", g / count for "mean").
 * saved[0] = pred, saved[1] = target; i[0] = reduction, i[1] = kind,
 * f[0] = the element count. */
static lt_status elementwise_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  const loss_kind *K = &KINDS[n->i[1]];
  lt_tensor *p = n->saved[0];
  if (n->i[0] == LT_REDUCTION_NONE) {
    lt_tensor *ops[3] = {g, p, n->saved[1]};
    gi[0] = lt_ew_new(p->ndim, p->shape, K->grad, 3, ops, NULL, K->heavy);
  } else {
    float coef[4] = {reduced_grad(n, g), 0, 0, 0};
    gi[0] = lt_ew_new(p->ndim, p->shape, K->grad_scaled, 2, n->saved, coef, K->heavy);
  }
  return gi[0] ? LT_OK : LT_ERR_MEMORY;
}
static const lt_op OP_MSE = {"mse", elementwise_backward};
static const lt_op OP_L1 = {"l1", elementwise_backward};
static const lt_op OP_BCE = {"bce", elementwise_backward};
static const lt_op OP_BCE_LOGITS = {"bce_with_logits", elementwise_backward};

static lt_status elementwise_loss(lt_tensor **out, const lt_op *op, int kind, lt_tensor *p, lt_tensor *t,
                                  lt_reduction r) {
  LT_PROFILE_OP(op->name);
  const loss_kind *K = &KINDS[kind];
  char sp[LT_SHAPE_STR], st_[LT_SHAPE_STR];
  if (!lt_same_shape(p, t))
    return lt_error(LT_ERR_SHAPE, "%s: input %s and target %s differ in shape", op->name, LT_SHAPE(p, sp),
                    LT_SHAPE(t, st_));
  if ((unsigned)r > LT_REDUCTION_NONE) return lt_error(LT_ERR_ARG, "%s: unknown reduction %d", op->name, (int)r);
  lt_tensor *pc = lt_tensor_contiguous_values(p), *tc = pc ? lt_tensor_contiguous_values(t) : NULL, *y = NULL;
  int64_t n = lt_tensor_numel(p);
  lt_status st = LT_OK;
  if (!tc) st = LT_ERR_MEMORY;
  int64_t bad = st == LT_OK && kind == BCE ? first_outside_unit(lt_tensor_data(pc), n) : -1;
  if (bad >= 0) {
    float v = lt_tensor_data(pc)[bad];
    st = lt_error(LT_ERR_ARG, "bce: input values must be probabilities in [0, 1], got %g (element %lld)",
                  v == v ? v : NAN, (long long)bad + 1);
  }
  if (st == LT_OK) {
    if (r == LT_REDUCTION_NONE) {
      lt_tensor *ops[2] = {pc, tc};
      y = lt_ew_new(p->ndim, p->shape, K->value, 2, ops, NULL, K->heavy);
    } else {
      y = reduced(chunked_sum(K->sum, n, lt_tensor_data(pc), lt_tensor_data(tc), K->heavy), n, r);
    }
    lt_tensor *saved[2] = {p, t};
    st = y ? finish(out, y, op, p, 2, saved, r, (double)n, kind) : LT_ERR_MEMORY;
  }
  lt_tensor_release(pc);
  lt_tensor_release(tc);
  return st;
}

/* PyTorch: F.mse_loss */
lt_status lt_mse_loss(lt_tensor **out, lt_tensor *pred, lt_tensor *target, lt_reduction r) {
  return elementwise_loss(out, &OP_MSE, MSE, pred, target, r);
}
/* PyTorch: F.l1_loss */
lt_status lt_l1_loss(lt_tensor **out, lt_tensor *pred, lt_tensor *target, lt_reduction r) {
  return elementwise_loss(out, &OP_L1, L1, pred, target, r);
}
/* PyTorch: F.binary_cross_entropy */
lt_status lt_bce_loss(lt_tensor **out, lt_tensor *prob, lt_tensor *target, lt_reduction r) {
  return elementwise_loss(out, &OP_BCE, BCE, prob, target, r);
}
/* PyTorch: F.binary_cross_entropy_with_logits */
lt_status lt_bce_with_logits_loss(lt_tensor **out, lt_tensor *logits, lt_tensor *target, lt_reduction r) {
  return elementwise_loss(out, &OP_BCE_LOGITS, BCE_LOGITS, logits, target, r);
}

/* ==================== class-index losses ==================== */

/* x as N x C (a 1-D x is one row) and target as N class indices: checks the
 * shapes and that every target is an integer class; tc receives the target
 * as a contiguous tensor. */
static lt_status check_classes(const char *fn, lt_tensor *x, lt_tensor *t, lt_reduction r, int base, int64_t *N,
                               int64_t *C, lt_tensor **tc) {
  char sx[LT_SHAPE_STR], st[LT_SHAPE_STR], sn[LT_SHAPE_STR];
  if ((unsigned)r > LT_REDUCTION_NONE) return lt_error(LT_ERR_ARG, "%s: unknown reduction %d", fn, (int)r);
  if (x->ndim != 1 && x->ndim != 2)
    return lt_error(LT_ERR_SHAPE, "%s: input must be N x C (or C), got %s", fn, LT_SHAPE(x, sx));
  *N = x->ndim == 2 ? x->shape[0] : 1;
  *C = x->shape[x->ndim - 1];
  if (t->ndim != x->ndim - 1 || (t->ndim == 1 && t->shape[0] != *N))
    return lt_error(LT_ERR_SHAPE, "%s: target %s must have shape %s (one class index per row of input %s)", fn,
                    LT_SHAPE(t, st), x->ndim == 2 ? lt_shape_str(1, N, sn) : "scalar", LT_SHAPE(x, sx));
  if (!(*tc = lt_tensor_contiguous_values(t))) return LT_ERR_MEMORY;
  const float *td = lt_tensor_data(*tc);
  for (int64_t i = 0; i < *N; i++) {
    float v = td[i];
    const char *why = NULL;
    if (v != floorf(v)) why = "is not an integer class index";
    else if (v < base || v > (double)*C - 1 + base) why = "is out of range";
    if (why) {
      lt_tensor_release(*tc);
      return lt_error(LT_ERR_INDEX, "%s: target %g at position %lld %s (classes are %d..%lld)", fn, v,
                      (long long)(i + base), why, base, (long long)(*C - 1 + base));
    }
  }
  return LT_OK;
}

/* The incoming gradient of row i (a reduced loss: the same for every row). */
static float row_grad(const lt_node *n, const lt_tensor *g, int64_t i) {
  if (n->i[0] != LT_REDUCTION_NONE) return reduced_grad(n, g);
  return lt_tensor_data(g)[g->ndim ? i * g->stride[0] : 0];
}

/* The loss of each row (in `losses`, N values) -> the result tensor. */
static lt_tensor *rows_result(lt_tensor *losses, const lt_tensor *x, lt_reduction r, int64_t N) {
  if (r == LT_REDUCTION_NONE) /* N values, or a scalar for a 1-D input */
    return lt_tensor_alias(losses, x->ndim - 1, losses->shape, losses->stride, losses->offset);
  double s = 0;
  const float *l = lt_tensor_data(losses);
  for (int64_t i = 0; i < N; i++) s += l[i];
  return reduced(s, N, r);
}

/* logsumexp of a row of C values: max + log(sum exp(x - max)). */
static float row_lse(const float *x, int64_t C) {
  float m = -INFINITY, s = 0.0f;
  for (int64_t c = 0; c < C; c++) m = x[c] > m ? x[c] : m;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < C; c++) s += lt_fm_exp(x[c] - m);
  return m + lt_fm_log(s);
}

/* ---- cross_entropy ---- */

/* d/dx[i, c] = (softmax(x_i)[c] - [c == target_i]) g_i, softmax from the
 * saved logsumexp. saved = logits (contiguous), target (contiguous), lse. */
static lt_status cross_entropy_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  lt_tensor *x = n->saved[0];
  int64_t C = x->shape[x->ndim - 1], N = C ? lt_tensor_numel(x) / C : 0;
  if (!(gi[0] = lt_tensor_empty(x->ndim, x->shape))) return LT_ERR_MEMORY;
  const float *xd = lt_tensor_data(x), *td = lt_tensor_data(n->saved[1]), *lse = lt_tensor_data(n->saved[2]);
  float *gd = lt_tensor_data(gi[0]);
  int base = (int)n->i[1]; /* class index base */
#pragma omp parallel for schedule(static) if (N * C >= PAR_HEAVY)
  for (int64_t i = 0; i < N; i++) {
    const float *xr = xd + i * C, l = lse[i], gs = row_grad(n, g, i);
    float *gr = gd + i * C;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) gr[c] = lt_fm_exp(xr[c] - l) * gs;
    gr[(int64_t)td[i] - base] -= gs;
  }
  return LT_OK;
}
static const lt_op OP_CROSS_ENTROPY = {"cross_entropy", cross_entropy_backward};

/* Shapes: see loss.h. PyTorch: F.cross_entropy */
lt_status lt_cross_entropy_loss(lt_tensor **out, lt_tensor *x, lt_tensor *t, lt_reduction r, int base) {
  LT_PROFILE_OP(OP_CROSS_ENTROPY.name);
  int64_t N, C;
  lt_tensor *tc;
  lt_status st = check_classes("cross_entropy", x, t, r, base, &N, &C, &tc);
  if (st != LT_OK) return st;
  lt_tensor *xc = lt_tensor_contiguous_values(x);
  lt_tensor *lse = xc ? lt_tensor_empty(1, &N) : NULL, *losses = lse ? lt_tensor_empty(1, &N) : NULL, *y = NULL;
  if (losses) {
    const float *xd = lt_tensor_data(xc), *td = lt_tensor_data(tc);
    float *ld = lt_tensor_data(lse), *lo = lt_tensor_data(losses);
#pragma omp parallel for schedule(static) if (N * C >= PAR_HEAVY)
    for (int64_t i = 0; i < N; i++) {
      ld[i] = row_lse(xd + i * C, C);
      lo[i] = ld[i] - xd[i * C + (int64_t)td[i] - base];
    }
    y = rows_result(losses, x, r, N);
  }
  lt_tensor *saved[3] = {xc, tc, lse};
  st = y ? finish(out, y, &OP_CROSS_ENTROPY, x, 3, saved, r, (double)N, base) : LT_ERR_MEMORY;
  lt_tensor_release(xc);
  lt_tensor_release(tc);
  lt_tensor_release(lse);
  lt_tensor_release(losses);
  return st;
}

/* ---- nll ---- */

/* d/dx[i, c] = -g_i where c = target_i, 0 elsewhere. saved = target (contiguous). */
static lt_status nll_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  const lt_edge *e = &n->inputs[0];
  int64_t C = e->shape[e->ndim - 1], N = e->ndim == 2 ? e->shape[0] : 1;
  if (!(gi[0] = lt_tensor_zeros(e->ndim, e->shape))) return LT_ERR_MEMORY;
  const float *td = lt_tensor_data(n->saved[0]);
  float *gd = lt_tensor_data(gi[0]);
  int base = (int)n->i[1]; /* class index base */
  for (int64_t i = 0; i < N; i++) gd[i * C + (int64_t)td[i] - base] = -row_grad(n, g, i);
  return LT_OK;
}
static const lt_op OP_NLL = {"nll", nll_backward};

/* Shapes: see loss.h. PyTorch: F.nll_loss */
lt_status lt_nll_loss(lt_tensor **out, lt_tensor *x, lt_tensor *t, lt_reduction r, int base) {
  LT_PROFILE_OP(OP_NLL.name);
  int64_t N, C;
  lt_tensor *tc;
  lt_status st = check_classes("nll", x, t, r, base, &N, &C, &tc);
  if (st != LT_OK) return st;
  lt_tensor *losses = lt_tensor_empty(1, &N), *y = NULL;
  if (losses) {
    const float *xd = lt_tensor_data(x), *td = lt_tensor_data(tc);
    float *lo = lt_tensor_data(losses);
    int64_t s0 = x->ndim == 2 ? x->stride[0] : 0, s1 = x->stride[x->ndim - 1];
    for (int64_t i = 0; i < N; i++) lo[i] = -xd[i * s0 + ((int64_t)td[i] - base) * s1];
    y = rows_result(losses, x, r, N);
  }
  st = y ? finish(out, y, &OP_NLL, x, 1, &tc, r, (double)N, base) : LT_ERR_MEMORY;
  lt_tensor_release(tc);
  lt_tensor_release(losses);
  return st;
}
