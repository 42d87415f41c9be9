/* Reductions: sum, mean, var, std, max, min, argmax, argmin, forward and
 * backward side by side.
 *
 * Every kernel sees a contiguous input as [outer, n, inner] and reduces the
 * middle dimension (reducing all elements is outer = inner = 1). Work is cut
 * into units of (one outer index, a block of up to BLOCK inner columns, a
 * chunk of rows); units run in parallel and write partial results, which are
 * then combined in a fixed order. The cut depends on the shape alone, so the
 * results are the same for any number of threads. */
#include "ops/reduce.h"
#include "autograd/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
  BLOCK = 1024,          /* inner columns accumulated at once (an 8 KiB stack buffer) */
  CHUNK = 1 << 16,       /* elements per unit when the rows are split */
  FEW_UNITS = 64,        /* below this many units, long rows are split in chunks */
  PAR_MIN = 1 << 15      /* below this many elements a loop stays on one thread */
};

/* ==================== layout and work units ==================== */

typedef struct {
  const float *x;             /* contiguous [outer, n, inner] */
  int64_t outer, n, inner;
  int64_t nblk, nch, rows;    /* column blocks; row chunks of `rows` rows */
} layout;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static layout make_layout(const float *x, int64_t outer, int64_t n, int64_t inner) {
  layout L = {x, outer, n, inner, (inner + BLOCK - 1) / BLOCK, 1, n};
  int64_t w = min64(inner, BLOCK), units = outer * L.nblk;
  if ((units < FEW_UNITS && n * w > 2 * CHUNK) || n > INT32_MAX / 2) { /* arg_unit counts rows in 32 bits */
    L.rows = CHUNK / w > 0 ? CHUNK / w : 1;
    L.nch = (n + L.rows - 1) / L.rows;
  }
  return L;
}

/* One unit: outer index o, columns [j0, j0 + w), rows [i0, i1). */
typedef struct { int64_t o, j0, w, i0, i1; } unit;

static unit unit_at(const layout *L, int64_t u) {
  int64_t c = u % L->nch, item = u / L->nch, blk = item % L->nblk;
  unit t = {item / L->nblk, blk * BLOCK, 0, c * L->rows, 0};
  t.w = min64(BLOCK, L->inner - t.j0);
  t.i1 = min64(L->n, t.i0 + L->rows);
  return t;
}

static int64_t unit_count(const layout *L) { return L->outer * L->nblk * L->nch; }
static bool go_parallel(const layout *L) { return L->outer * L->n * L->inner > PAR_MIN && unit_count(L) > 1; }

/* ==================== sums (plain, or of squared deviations) ==================== */

/* sum of x[i], or of (x[i] - c)^2 when square */
static double row_sum(const float *x, int64_t n, double c, bool square) {
  double s = 0;
  if (square) {
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) {
      double d = (double)x[i] - c;
      s += d * d;
    }
  } else {
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += x[i];
  }
  return s;
}

/* acc[j] += x[i * inner + j] (or its squared deviation from c[j]) over rows i
 * of a unit. Rows are taken in groups (8 summed in float, or 4 squared
 * deviations in double) before touching acc, so the accumulator's loads and
 * stores do not bound the loop; the float part sums only 8 values. */
static void block_sum(const float *x, int64_t rows, int64_t inner, int64_t w, const double *c,
                      double *acc) {
  int64_t i = 0;
  if (c) {
    for (; i + 4 <= rows; i += 4) {
      const float *r0 = x + i * inner, *r1 = r0 + inner, *r2 = r1 + inner, *r3 = r2 + inner;
#pragma omp simd
      for (int64_t j = 0; j < w; j++) {
        double d0 = (double)r0[j] - c[j], d1 = (double)r1[j] - c[j];
        double d2 = (double)r2[j] - c[j], d3 = (double)r3[j] - c[j];
        acc[j] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
      }
    }
  } else {
    for (; i + 8 <= rows; i += 8) {
      const float *r = x + i * inner;
      const int64_t s = inner;
#pragma omp simd
      for (int64_t j = 0; j < w; j++) {
        float g = ((r[j] + r[j + s]) + (r[j + 2 * s] + r[j + 3 * s])) +
                  ((r[j + 4 * s] + r[j + 5 * s]) + (r[j + 6 * s] + r[j + 7 * s]));
        acc[j] += g;
      }
    }
  }
  for (; i < rows; i++) {
    const float *r = x + i * inner;
    if (c) {
#pragma omp simd
      for (int64_t j = 0; j < w; j++) {
        double d = (double)r[j] - c[j];
        acc[j] += d * d;
      }
    } else {
#pragma omp simd
      for (int64_t j = 0; j < w; j++) acc[j] += r[j];
    }
  }
}

static void sum_unit(const layout *L, int64_t u, const double *center, double *part) {
  unit t = unit_at(L, u);
  int64_t m = L->outer * L->inner, e = t.o * L->inner + t.j0;
  const float *x = L->x + (t.o * L->n + t.i0) * L->inner + t.j0;
  double *dst = part + (u % L->nch) * m + e;
  if (L->inner == 1) {
    dst[0] = row_sum(x, t.i1 - t.i0, center ? center[e] : 0, center != NULL);
    return;
  }
  double acc[BLOCK];
  memset(acc, 0, (size_t)t.w * sizeof *acc);
  block_sum(x, t.i1 - t.i0, L->inner, t.w, center ? center + e : NULL, acc);
  memcpy(dst, acc, (size_t)t.w * sizeof *acc);
}

/* out[o * inner + j] = sum over i of x[o, i, j] (or of (x - center)^2), in
 * double; out has outer * inner entries. False when out of memory. */
static bool reduce_sum(const layout *L, const double *center, double *out) {
  int64_t m = L->outer * L->inner, units = unit_count(L);
  double *part = L->nch == 1 ? out : malloc((size_t)(L->nch * m) * sizeof *part);
  if (!part) return false;
#pragma omp parallel for schedule(static) if (go_parallel(L))
  for (int64_t u = 0; u < units; u++) sum_unit(L, u, center, part);
  if (part == out) return true;
  for (int64_t e = 0; e < m; e++) { /* chunks in order: a fixed summation order */
    double s = 0;
    for (int64_t c = 0; c < L->nch; c++) s += part[c * m + e];
    out[e] = s;
  }
  free(part);
  return true;
}

/* ==================== max / min with their index ==================== */

/* v beats best: larger (smaller with is_min), or the first NaN. */
static inline bool beats(float v, float best, bool is_min) {
  return (is_min ? v < best : v > best) || (v != v && best == best);
}

/* The first index of the extreme of a contiguous row: a vectorised pass for
 * the value, then a search for its first occurrence. */
static int64_t row_arg(const float *x, int64_t n, bool is_min) {
  float m = x[0];
  int nan = 0;
  if (is_min) {
#pragma omp simd reduction(min : m) reduction(| : nan)
    for (int64_t i = 0; i < n; i++) {
      m = x[i] < m ? x[i] : m;
      nan |= x[i] != x[i];
    }
  } else {
#pragma omp simd reduction(max : m) reduction(| : nan)
    for (int64_t i = 0; i < n; i++) {
      m = x[i] > m ? x[i] : m;
      nan |= x[i] != x[i];
    }
  }
  for (int64_t b = 0; b < n; b += 64) { /* find the block first, vectorised */
    int64_t e = min64(n, b + 64);
    int hit = 0;
    if (nan) {
#pragma omp simd reduction(| : hit)
      for (int64_t i = b; i < e; i++) hit |= x[i] != x[i];
    } else {
#pragma omp simd reduction(| : hit)
      for (int64_t i = b; i < e; i++) hit |= x[i] == m;
    }
    if (hit)
      for (int64_t i = b; i < e; i++)
        if (nan ? x[i] != x[i] : x[i] == m) return i;
  }
  return 0;
}

static void arg_unit(const layout *L, int64_t u, bool is_min, float *val, int64_t *idx) {
  unit t = unit_at(L, u);
  int64_t m = L->outer * L->inner, e = (u % L->nch) * m + t.o * L->inner + t.j0;
  const float *x = L->x + (t.o * L->n + t.i0) * L->inner + t.j0;
  if (L->inner == 1) {
    int64_t i = row_arg(x, t.i1 - t.i0, is_min);
    val[e] = x[i];
    idx[e] = t.i0 + i;
    return;
  }
  float bv[BLOCK];
  int32_t bi[BLOCK]; /* row within the unit: 32 bits keep the loop in one vector width */
  int64_t rows = t.i1 - t.i0;
  LT_ASSERT(rows <= INT32_MAX);
  for (int64_t j = 0; j < t.w; j++) bv[j] = x[j], bi[j] = 0;
  for (int32_t i = 1; i < (int32_t)rows; i++) {
    const float *r = x + i * L->inner;
    if (is_min) {
#pragma omp simd
      for (int64_t j = 0; j < t.w; j++) {
        bool take = !(r[j] >= bv[j]) & (bv[j] == bv[j]); /* smaller, or a first NaN */
        bv[j] = take ? r[j] : bv[j];
        bi[j] = take ? i : bi[j];
      }
    } else {
#pragma omp simd
      for (int64_t j = 0; j < t.w; j++) {
        bool take = !(r[j] <= bv[j]) & (bv[j] == bv[j]); /* larger, or a first NaN */
        bv[j] = take ? r[j] : bv[j];
        bi[j] = take ? i : bi[j];
      }
    }
  }
  for (int64_t j = 0; j < t.w; j++) {
    val[e + j] = bv[j];
    idx[e + j] = t.i0 + bi[j];
  }
}

/* val/idx[o * inner + j] = the extreme over i of x[o, i, j] and its first
 * index i; n must be > 0. False when out of memory. */
static bool reduce_arg(const layout *L, bool is_min, float *val, int64_t *idx) {
  int64_t m = L->outer * L->inner, units = unit_count(L);
  float *pv = val;
  int64_t *pi = idx;
  if (L->nch > 1) {
    pv = malloc((size_t)(L->nch * m) * sizeof *pv);
    pi = malloc((size_t)(L->nch * m) * sizeof *pi);
    if (!pv || !pi) {
      free(pv);
      free(pi);
      return false;
    }
  }
#pragma omp parallel for schedule(static) if (go_parallel(L))
  for (int64_t u = 0; u < units; u++) arg_unit(L, u, is_min, pv, pi);
  if (pv == val) return true;
  for (int64_t e = 0; e < m; e++) { /* chunks in order keep the first occurrence */
    val[e] = pv[e], idx[e] = pi[e];
    for (int64_t c = 1; c < L->nch; c++)
      if (beats(pv[c * m + e], val[e], is_min)) val[e] = pv[c * m + e], idx[e] = pi[c * m + e];
  }
  free(pv);
  free(pi);
  return true;
}

/* ==================== plans: shapes and checks ==================== */

typedef struct {
  int dim;                    /* 0-based, or LT_DIM_ALL */
  bool keepdim;
  int64_t outer, n, inner;
  int out_ndim;
  int64_t out_shape[LT_MAX_DIMS];
} plan;

static lt_status make_plan(const char *fn, const lt_tensor *a, int dim, bool keepdim, plan *p) {
  char s[LT_SHAPE_STR];
  if (dim != LT_DIM_ALL && (dim < 0 || dim >= a->ndim)) {
    if (a->ndim == 0) return lt_error(LT_ERR_INDEX, "%s: a scalar tensor has no dimension %d", fn, dim + 1);
    return lt_error(LT_ERR_INDEX, "%s: dimension %d out of range for a tensor of size %s", fn, dim + 1,
                    LT_SHAPE(a, s));
  }
  p->dim = dim;
  p->keepdim = keepdim;
  p->out_ndim = 0;
  if (dim == LT_DIM_ALL) {
    p->outer = p->inner = 1;
    p->n = lt_tensor_numel(a);
    if (keepdim)
      for (int d = 0; d < a->ndim; d++) p->out_shape[p->out_ndim++] = 1;
    return LT_OK;
  }
  p->outer = lt_numel(dim, a->shape);
  p->n = a->shape[dim];
  p->inner = lt_numel(a->ndim - dim - 1, a->shape + dim + 1);
  for (int d = 0; d < a->ndim; d++) {
    if (d != dim) p->out_shape[p->out_ndim++] = a->shape[d];
    else if (keepdim) p->out_shape[p->out_ndim++] = 1;
  }
  return LT_OK;
}

/* The plan of a recorded node, from its params (i[0] = dim, i[1] = keepdim). */
static plan node_plan(const lt_node *n) {
  const lt_edge *e = &n->inputs[0];
  lt_tensor shape_only = {.ndim = e->ndim};
  memcpy(shape_only.shape, e->shape, sizeof shape_only.shape);
  plan p;
  LT_ASSERT(make_plan(n->op->name, &shape_only, (int)n->i[0], n->i[1] != 0, &p) == LT_OK);
  return p;
}

static void set_plan_params(lt_node *n, const plan *p) {
  if (!n) return;
  n->i[0] = p->dim;
  n->i[1] = p->keepdim;
}

static layout plan_layout(const plan *p, const lt_tensor *x) {
  return make_layout(lt_tensor_data(x), p->outer, p->n, p->inner);
}

/* Records op with `saved` on y; releases y on failure. */
static lt_status finish(lt_tensor **out, lt_tensor *y, const lt_op *op, lt_tensor *a, int n_saved,
                        lt_tensor *const *saved, const plan *p, lt_node **node) {
  lt_node *n;
  lt_status st = lt_record(y, op, 1, &a, n_saved, saved, &n);
  if (st != LT_OK) {
    lt_tensor_release(y);
    return st;
  }
  set_plan_params(n, p);
  if (node) *node = n;
  *out = y;
  return LT_OK;
}

/* ==================== gradient helpers ==================== */

/* A contiguous tensor shaped like the node's input holding g (output-shaped,
 * any strides) broadcast along the reduced dimension, times scale. */
static lt_tensor *spread(const lt_node *nd, lt_tensor *g, double scale) {
  plan p = node_plan(nd);
  const lt_edge *e = &nd->inputs[0];
  lt_tensor *gi = lt_tensor_empty(e->ndim, e->shape), *gc = gi ? lt_tensor_contiguous_values(g) : NULL;
  if (!gc) {
    lt_tensor_release(gi);
    return NULL;
  }
  const float *src = lt_tensor_data(gc);
  float *dst = lt_tensor_data(gi);
  float s = (float)scale;
  if (p.inner == 1) { /* rows of one value each: fills */
#pragma omp parallel for schedule(static) if (lt_tensor_numel(gi) > PAR_MIN && p.outer > 1)
    for (int64_t o = 0; o < p.outer; o++) {
      float v = src[o] * s, *d = dst + o * p.n;
      for (int64_t i = 0; i < p.n; i++) d[i] = v;
    }
  } else {
#pragma omp parallel for schedule(static) if (lt_tensor_numel(gi) > PAR_MIN && p.outer > 1)
    for (int64_t o = 0; o < p.outer; o++)
      for (int64_t i = 0; i < p.n; i++) {
        float *d = dst + (o * p.n + i) * p.inner;
        const float *r = src + o * p.inner;
#pragma omp simd
        for (int64_t j = 0; j < p.inner; j++) d[j] = r[j] * s;
      }
  }
  lt_tensor_release(gc);
  return gi;
}

/* ==================== sum / mean ==================== */

static lt_status sum_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  /* d sum(a) / da = 1 everywhere: g spread over the reduced dimension */
  return (gi[0] = spread(n, g, 1.0)) ? LT_OK : LT_ERR_MEMORY;
}
static const lt_op OP_SUM = {"sum", sum_backward};

static lt_status mean_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  plan p = node_plan(n);
  return (gi[0] = spread(n, g, p.n ? 1.0 / (double)p.n : 0.0)) ? LT_OK : LT_ERR_MEMORY;
}
static const lt_op OP_MEAN = {"mean", mean_backward};

/* y = sum (or mean) of a over p, contiguous; NULL when out of memory. */
static lt_tensor *sum_forward(lt_tensor *a, const plan *p, bool mean) {
  lt_tensor *x = lt_tensor_contiguous_values(a);
  lt_tensor *y = x ? lt_tensor_empty(p->out_ndim, p->out_shape) : NULL;
  int64_t m = p->outer * p->inner;
  double *acc = y ? malloc((size_t)(m ? m : 1) * sizeof *acc) : NULL;
  layout L = plan_layout(p, x ? x : a);
  bool ok = acc && reduce_sum(&L, NULL, acc);
  if (ok) {
    double scale = !mean ? 1.0 : p->n ? 1.0 / (double)p->n : NAN;
    for (int64_t e = 0; e < m; e++) lt_tensor_data(y)[e] = (float)(acc[e] * scale);
  } else if (y) {
    lt_error(LT_ERR_MEMORY, "%s: out of memory", mean ? "mean" : "sum");
    lt_tensor_release(y);
    y = NULL;
  }
  free(acc);
  lt_tensor_release(x);
  return y;
}

/* y = sum of a over dim (or all). Shapes: any -> a's shape without dim. PyTorch: torch.sum */
lt_status lt_sum(lt_tensor **out, lt_tensor *a, int dim, bool keepdim) {
  plan p;
  lt_status st = make_plan("sum", a, dim, keepdim, &p);
  if (st != LT_OK) return st;
  lt_tensor *y = sum_forward(a, &p, false);
  if (!y) return LT_ERR_MEMORY;
  return finish(out, y, &OP_SUM, a, 0, NULL, &p, NULL);
}

/* y = mean of a over dim (or all). PyTorch: torch.mean */
lt_status lt_mean(lt_tensor **out, lt_tensor *a, int dim, bool keepdim) {
  plan p;
  lt_status st = make_plan("mean", a, dim, keepdim, &p);
  if (st != LT_OK) return st;
  lt_tensor *y = sum_forward(a, &p, true);
  if (!y) return LT_ERR_MEMORY;
  return finish(out, y, &OP_MEAN, a, 0, NULL, &p, NULL);
}

/* ==================== var / std ==================== */

/* mean[outer * inner] of x (contiguous) in double; NULL when out of memory */
static double *mean_of(const layout *L) {
  int64_t m = L->outer * L->inner;
  double *mean = malloc((size_t)(m ? m : 1) * sizeof *mean);
  if (!mean || !reduce_sum(L, NULL, mean)) {
    free(mean);
    return NULL;
  }
  for (int64_t e = 0; e < m; e++) mean[e] /= (double)L->n;
  return mean;
}

/* d var = 2 (x - mean) / (n - c) * g;  d std = d var / (2 std), 0 where std = 0.
 * saved[0] = the input, saved[1] = the output (std only). */
static lt_status var_backward_common(lt_node *nd, lt_tensor *g, lt_tensor **gi, bool is_std) {
  plan p = node_plan(nd);
  int64_t m = p.outer * p.inner;
  lt_tensor *x = lt_tensor_contiguous_values(nd->saved[0]);
  lt_tensor *gc = x ? lt_tensor_contiguous_values(g) : NULL;
  lt_tensor *sd = gc && is_std ? lt_tensor_contiguous_values(nd->saved[1]) : NULL;
  layout L = plan_layout(&p, x ? x : nd->saved[0]);
  double *mean = gc && (sd || !is_std) ? mean_of(&L) : NULL;
  double *coef = mean ? malloc((size_t)(m ? m : 1) * sizeof *coef) : NULL;
  lt_tensor *r = coef ? lt_tensor_empty(x->ndim, x->shape) : NULL;
  if (r) {
    const float *xs = lt_tensor_data(x), *gs = lt_tensor_data(gc);
    float *rd = lt_tensor_data(r);
    double denom = (double)p.n - (double)nd->i[2];
    for (int64_t e = 0; e < m; e++) {
      double s = sd ? lt_tensor_data(sd)[e] : 0;
      coef[e] = is_std ? (s == 0 ? 0 : gs[e] / (denom * s)) : 2.0 * gs[e] / denom;
    }
    /* rows of length inner, or (inner == 1) whole rows of n sharing one coefficient */
    int64_t rows = p.inner == 1 ? 1 : p.n, len = p.inner == 1 ? p.n : p.inner;
    int64_t step = p.inner == 1 ? 0 : 1; /* coefficient index step along a row */
#pragma omp parallel for schedule(static) if (lt_tensor_numel(r) > PAR_MIN && p.outer > 1)
    for (int64_t o = 0; o < p.outer; o++)
      for (int64_t i = 0; i < rows; i++) {
        int64_t at = (o * rows + i) * len;
        const double *k = coef + o * p.inner, *mu = mean + o * p.inner;
#pragma omp simd
        for (int64_t j = 0; j < len; j++) rd[at + j] = (float)(k[j * step] * ((double)xs[at + j] - mu[j * step]));
      }
  }
  free(mean);
  free(coef);
  lt_tensor_release(x);
  lt_tensor_release(gc);
  lt_tensor_release(sd);
  if (!r) return lt_error(LT_ERR_MEMORY, "%s backward: out of memory", nd->op->name);
  gi[0] = r;
  return LT_OK;
}

static lt_status var_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return var_backward_common(n, g, gi, false);
}
static lt_status std_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return var_backward_common(n, g, gi, true);
}
static const lt_op OP_VAR = {"var", var_backward};
static const lt_op OP_STD = {"std", std_backward};

/* Two passes in double: the mean, then the sum of squared deviations. */
static lt_tensor *var_forward(const char *fn, lt_tensor *a, const plan *p, int correction, bool sqrt_it) {
  lt_tensor *x = lt_tensor_contiguous_values(a);
  lt_tensor *y = x ? lt_tensor_empty(p->out_ndim, p->out_shape) : NULL;
  layout L = plan_layout(p, x ? x : a);
  int64_t m = p->outer * p->inner;
  double *mean = y ? mean_of(&L) : NULL;
  double *ss = mean ? malloc((size_t)(m ? m : 1) * sizeof *ss) : NULL;
  bool ok = ss && reduce_sum(&L, mean, ss);
  if (ok) {
    double denom = (double)p->n - (double)correction;
    for (int64_t e = 0; e < m; e++) {
      double v = denom > 0 ? ss[e] / denom : ss[e] == 0 ? NAN : INFINITY; /* PyTorch's 0/0, x/0 */
      lt_tensor_data(y)[e] = (float)(sqrt_it ? sqrt(v) : v);
    }
  } else if (y) {
    lt_error(LT_ERR_MEMORY, "%s: out of memory", fn);
    lt_tensor_release(y);
    y = NULL;
  }
  free(mean);
  free(ss);
  lt_tensor_release(x);
  return y;
}

static lt_status var_or_std(lt_tensor **out, lt_tensor *a, int dim, bool keepdim, int correction,
                            bool is_std) {
  const char *fn = is_std ? "std" : "var";
  if (correction < 0) return lt_error(LT_ERR_ARG, "%s: correction must not be negative, got %d", fn, correction);
  plan p;
  lt_status st = make_plan(fn, a, dim, keepdim, &p);
  if (st != LT_OK) return st;
  lt_tensor *y = var_forward(fn, a, &p, correction, is_std);
  if (!y) return LT_ERR_MEMORY;
  lt_tensor *saved[2] = {a, y};
  lt_node *n;
  st = finish(out, y, is_std ? &OP_STD : &OP_VAR, a, is_std ? 2 : 1, saved, &p, &n);
  if (st == LT_OK && n) n->i[2] = correction;
  return st;
}

/* y = variance of a over dim (or all), divided by n - correction. PyTorch: torch.var */
lt_status lt_var(lt_tensor **out, lt_tensor *a, int dim, bool keepdim, int correction) {
  return var_or_std(out, a, dim, keepdim, correction, false);
}

/* y = sqrt(var). PyTorch: torch.std */
lt_status lt_std(lt_tensor **out, lt_tensor *a, int dim, bool keepdim, int correction) {
  return var_or_std(out, a, dim, keepdim, correction, true);
}

/* ==================== max / min / argmax / argmin ==================== */

/* The gradient goes to the selected element: saved[0] holds the indices
 * (output-shaped, counting from i[2]). */
static lt_status extreme_backward(lt_node *nd, lt_tensor *g, lt_tensor **gi) {
  plan p = node_plan(nd);
  const lt_edge *e = &nd->inputs[0];
  lt_tensor *r = lt_tensor_zeros(e->ndim, e->shape);
  lt_tensor *gc = r ? lt_tensor_contiguous_values(g) : NULL;
  lt_tensor *ic = gc ? lt_tensor_contiguous_values(nd->saved[0]) : NULL;
  if (ic) {
    const float *gs = lt_tensor_data(gc), *is = lt_tensor_data(ic);
    float *rd = lt_tensor_data(r);
    int64_t m = p.outer * p.inner;
    for (int64_t k = 0; k < m; k++) {
      int64_t i = (int64_t)is[k] - nd->i[2], o = k / p.inner, j = k % p.inner;
      LT_ASSERT(i >= 0 && i < p.n);
      rd[(o * p.n + i) * p.inner + j] = gs[k];
    }
  }
  lt_tensor_release(gc);
  lt_tensor_release(ic);
  if (!ic) {
    lt_tensor_release(r);
    return LT_ERR_MEMORY;
  }
  gi[0] = r;
  return LT_OK;
}
static const lt_op OP_MAX = {"max", extreme_backward};
static const lt_op OP_MIN = {"min", extreme_backward};

/* values (if wanted) and indices (always) of the extremes over p; contiguous. */
static lt_status extreme_forward(const char *fn, lt_tensor *a, const plan *p, bool is_min, int base,
                                 lt_tensor **values, lt_tensor **indices) {
  char s[LT_SHAPE_STR];
  if (p->n == 0)
    return p->dim == LT_DIM_ALL
               ? lt_error(LT_ERR_SHAPE, "%s: cannot reduce an empty tensor (size %s)", fn, LT_SHAPE(a, s))
               : lt_error(LT_ERR_SHAPE, "%s: cannot reduce dimension %d of size 0 (tensor of size %s)", fn,
                          p->dim + 1, LT_SHAPE(a, s));
  int64_t m = p->outer * p->inner;
  lt_tensor *x = lt_tensor_contiguous_values(a);
  lt_tensor *v = x && values ? lt_tensor_empty(p->out_ndim, p->out_shape) : NULL;
  lt_tensor *ix = x && (v || !values) ? lt_tensor_empty(p->out_ndim, p->out_shape) : NULL;
  int64_t *idx = ix ? malloc((size_t)(m ? m : 1) * sizeof *idx) : NULL;
  float *val = idx ? (v ? lt_tensor_data(v) : malloc((size_t)(m ? m : 1) * sizeof *val)) : NULL;
  layout L = plan_layout(p, x ? x : a);
  bool ok = val && reduce_arg(&L, is_min, val, idx);
  if (ok)
    for (int64_t e = 0; e < m; e++) lt_tensor_data(ix)[e] = (float)(idx[e] + base);
  if (val && !v) free(val);
  free(idx);
  lt_tensor_release(x);
  if (!ok) {
    lt_tensor_release(v);
    lt_tensor_release(ix);
    return lt_error(LT_ERR_MEMORY, "%s: out of memory", fn);
  }
  if (values) *values = v;
  *indices = ix;
  return LT_OK;
}

static lt_status max_or_min(lt_tensor **values, lt_tensor **indices, lt_tensor *a, int dim, bool keepdim,
                            int base, bool is_min) {
  const char *fn = is_min ? "min" : "max";
  plan p;
  lt_status st = make_plan(fn, a, dim, keepdim, &p);
  if (st != LT_OK) return st;
  lt_tensor *v, *ix;
  if ((st = extreme_forward(fn, a, &p, is_min, base, &v, &ix)) != LT_OK) return st;
  lt_node *n;
  st = finish(values, v, is_min ? &OP_MIN : &OP_MAX, a, 1, &ix, &p, &n);
  if (st == LT_OK && n) n->i[2] = base;
  if (st == LT_OK && indices) *indices = ix;
  else lt_tensor_release(ix);
  return st;
}

/* values, indices = the largest element over dim (or all). PyTorch: torch.max */
lt_status lt_max(lt_tensor **values, lt_tensor **indices, lt_tensor *a, int dim, bool keepdim, int base) {
  return max_or_min(values, indices, a, dim, keepdim, base, false);
}

/* PyTorch: torch.min */
lt_status lt_min(lt_tensor **values, lt_tensor **indices, lt_tensor *a, int dim, bool keepdim, int base) {
  return max_or_min(values, indices, a, dim, keepdim, base, true);
}

static lt_status arg_only(lt_tensor **out, lt_tensor *a, int dim, bool keepdim, int base, bool is_min) {
  const char *fn = is_min ? "argmin" : "argmax";
  plan p;
  lt_status st = make_plan(fn, a, dim, keepdim, &p);
  if (st != LT_OK) return st;
  return extreme_forward(fn, a, &p, is_min, base, NULL, out);
}

/* PyTorch: torch.argmax(a, dim, keepdim); not differentiable */
lt_status lt_argmax(lt_tensor **out, lt_tensor *a, int dim, bool keepdim, int base) {
  return arg_only(out, a, dim, keepdim, base, false);
}

/* PyTorch: torch.argmin */
lt_status lt_argmin(lt_tensor **out, lt_tensor *a, int dim, bool keepdim, int base) {
  return arg_only(out, a, dim, keepdim, base, true);
}

static lt_status arg_all(int64_t *index, lt_tensor *a, bool is_min) {
  const char *fn = is_min ? "argmin" : "argmax";
  char s[LT_SHAPE_STR];
  int64_t n = lt_tensor_numel(a);
  if (n == 0) return lt_error(LT_ERR_SHAPE, "%s: cannot reduce an empty tensor (size %s)", fn, LT_SHAPE(a, s));
  lt_tensor *x = lt_tensor_contiguous_values(a);
  if (!x) return LT_ERR_MEMORY;
  layout L = make_layout(lt_tensor_data(x), 1, n, 1);
  float v;
  bool ok = reduce_arg(&L, is_min, &v, index);
  lt_tensor_release(x);
  return ok ? LT_OK : lt_error(LT_ERR_MEMORY, "%s: out of memory", fn);
}

lt_status lt_argmax_all(int64_t *index, lt_tensor *a) { return arg_all(index, a, false); }
lt_status lt_argmin_all(int64_t *index, lt_tensor *a) { return arg_all(index, a, true); }
