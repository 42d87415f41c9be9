/* Elementwise arithmetic with broadcasting: the strided iterator shared by the
 * family, add/sub/mul/div/pow on two tensors or a tensor and a number, and
 * where. Forward and backward side by side. Unary ops are in unary.c,
 * comparisons in compare.c. */
#include "ops/elementwise.h"
#include "ops/elementwise_iter.h"
#include "autograd/graph.h"
#include "core/lt_profile.h"
#include "ops/broadcast.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* ==================== the iterator ==================== */

/* The output shape as rows: dims merged where every operand allows it. */
typedef struct {
  int nd, n_ops;
  int64_t numel;
  int64_t shape[LT_MAX_DIMS];
  int64_t stride[3][LT_MAX_DIMS];
  const float *base[3];
} plan;

static void make_plan(plan *P, const lt_tensor *y, int n_ops, lt_tensor *const *ops) {
  int64_t st[3][LT_MAX_DIMS];
  for (int k = 0; k < n_ops; k++) {
    lt_broadcast_strides(ops[k], y->ndim, y->shape, st[k]);
    P->base[k] = lt_tensor_data(ops[k]);
  }
  for (int k = n_ops; k < 3; k++) P->base[k] = NULL;
  P->n_ops = n_ops;
  P->numel = lt_tensor_numel(y);
  int nd = 0;
  for (int d = 0; d < y->ndim; d++) {
    if (y->shape[d] == 1) continue; /* size-1 dims add nothing */
    bool merge = nd > 0;
    for (int k = 0; k < n_ops && merge; k++)
      merge = P->stride[k][nd - 1] == st[k][d] * y->shape[d];
    if (merge) {
      P->shape[nd - 1] *= y->shape[d];
      for (int k = 0; k < n_ops; k++) P->stride[k][nd - 1] = st[k][d];
    } else {
      P->shape[nd] = y->shape[d];
      for (int k = 0; k < n_ops; k++) P->stride[k][nd] = st[k][d];
      nd++;
    }
  }
  if (nd == 0) { /* a scalar, or all sizes 1 */
    P->shape[0] = 1;
    for (int k = 0; k < 3; k++) P->stride[k][0] = 0;
    nd = 1;
  }
  for (int k = n_ops; k < 3; k++)
    for (int d = 0; d < nd; d++) P->stride[k][d] = 0;
  P->nd = nd;
}

/* Outputs [e0, e1) of the flat (row-major) output: a partial first row, whole
 * rows, a partial last row, with odometer-style index updates in between. */
static void run_range(const plan *P, lt_row_fn f, float *y, const float *p, int64_t e0, int64_t e1) {
  int nd = P->nd, last = nd - 1;
  int64_t idx[LT_MAX_DIMS], off[3] = {0, 0, 0}, rest = e0;
  for (int d = last; d >= 0; d--) {
    idx[d] = rest % P->shape[d];
    rest /= P->shape[d];
    for (int k = 0; k < 3; k++) off[k] += idx[d] * P->stride[k][d];
  }
  const int64_t inner = P->shape[last];
  const int64_t s0 = P->stride[0][last], s1 = P->stride[1][last], s2 = P->stride[2][last];
  for (int64_t e = e0; e < e1;) {
    int64_t len = inner - idx[last];
    if (len > e1 - e) len = e1 - e;
    f(len, y + e, P->base[0] + off[0], s0, P->base[1] ? P->base[1] + off[1] : NULL, s1,
      P->base[2] ? P->base[2] + off[2] : NULL, s2, p);
    e += len;
    if (e >= e1) break;
    /* len reached the end of the row: move to the next one */
    for (int k = 0; k < 3; k++) off[k] -= idx[last] * P->stride[k][last];
    idx[last] = 0;
    for (int d = last - 1; d >= 0; d--) {
      for (int k = 0; k < 3; k++) off[k] += P->stride[k][d];
      if (++idx[d] < P->shape[d]) break;
      for (int k = 0; k < 3; k++) off[k] -= P->shape[d] * P->stride[k][d];
      idx[d] = 0;
    }
  }
}

void lt_ew_map(lt_tensor *y, lt_row_fn f, int n_ops, lt_tensor *const *ops, const float *p, int heavy) {
  LT_ASSERT(n_ops >= 1 && n_ops <= 3 && lt_tensor_is_contiguous(y));
  static const float none[4] = {0, 0, 0, 0};
  if (!p) p = none;
  plan P;
  make_plan(&P, y, n_ops, ops);
  int64_t n = P.numel;
  if (n == 0) return;
  float *yd = lt_tensor_data(y);
  int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (n < (heavy ? LT_EW_PAR_HEAVY : LT_EW_PAR_CHEAP) || threads < 2) {
    run_range(&P, f, yd, p, 0, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    /* equal shares, cut at multiples of 16 so vector loops stay aligned */
    int t = omp_get_thread_num(), T = omp_get_num_threads();
    int64_t e0 = t == 0 ? 0 : (n * t / T) & ~(int64_t)15;
    int64_t e1 = t == T - 1 ? n : (n * (t + 1) / T) & ~(int64_t)15;
    if (e0 < e1) run_range(&P, f, yd, p, e0, e1);
  }
}

lt_tensor *lt_ew_new(int ndim, const int64_t *shape, lt_row_fn f, int n_ops, lt_tensor *const *ops,
                     const float *p, int heavy) {
  lt_tensor *y = lt_tensor_empty(ndim, shape);
  if (y) lt_ew_map(y, f, n_ops, ops, p, heavy);
  return y;
}

lt_tensor *lt_ew_reduce(lt_tensor *full, const lt_edge *e) {
  if (!full) return NULL;
  lt_tensor *r = lt_sum_to_shape(full, e->ndim, e->shape);
  lt_tensor_release(full);
  return r;
}

lt_status lt_ew_finish(lt_tensor **out, lt_tensor *y, const lt_op *op, int n_in, lt_tensor *const *in,
                       int n_saved, lt_tensor *const *saved, lt_node **node) {
  if (!y) return LT_ERR_MEMORY;
  lt_status st = lt_record(y, op, n_in, in, n_saved, saved, node);
  if (st != LT_OK) {
    lt_tensor_release(y);
    return st;
  }
  *out = y;
  return LT_OK;
}

/* ==================== kernels ==================== */

LT_EW_BINARY(row_add, X + Y)
LT_EW_BINARY(row_sub, X - Y)
LT_EW_BINARY(row_mul, X * Y)
LT_EW_BINARY(row_div, X / Y)
LT_EW_BINARY(row_pow, powf(X, Y))
LT_EW_UNARY(row_neg, -X)
LT_EW_UNARY(row_add_s, X + P0)
LT_EW_UNARY(row_rsub_s, P0 - X)
LT_EW_UNARY(row_mul_s, X * P0)
LT_EW_UNARY(row_div_s, X / P0)
LT_EW_UNARY(row_rdiv_s, P0 / X)
LT_EW_UNARY(row_pow_s, powf(X, P0))
LT_EW_UNARY(row_rpow_s, powf(P0, X))
LT_EW_UNARY(row_square, X * X)
LT_EW_UNARY(row_sqrt, sqrtf(X))
LT_EW_UNARY(row_recip, 1.0f / X)
LT_EW_UNARY(row_copy, X)

/* gradients: X is the incoming gradient g */
/* d(a/b)/db: -g * a / b^2 */
LT_EW_TERNARY(row_div_db, -X * Y / (Z * Z))
/* d(a^e)/da = e * a^(e-1), and 0 where e == 0 (even at a == 0), as PyTorch */
LT_EW_TERNARY(row_pow_da, Z == 0.0f ? 0.0f : X * Z * powf(Y, Z - 1.0f))
/* d(a^e)/de = a^e * log(a), and 0 where a == 0 and e >= 0, as PyTorch */
LT_EW_TERNARY(row_pow_de, (Y == 0.0f && Z >= 0.0f) ? 0.0f : X * powf(Y, Z) * logf(Y))
/* d(s/a)/da = -s / a^2 */
LT_EW_BINARY(row_rdiv_da, -(X * P0) / (Y * Y))
/* d(a^s)/da = s * a^(s-1) (s != 0) */
LT_EW_BINARY(row_pow_s_da, X * P0 * powf(Y, P0 - 1.0f))
LT_EW_BINARY(row_pow2_da, 2.0f * X * Y)
/* d(s^a)/da = s^a * log(s), with y = s^a; P1 = log(s); 0 where s == 0 and a >= 0 */
LT_EW_TERNARY(row_rpow_da, (P0 == 0.0f && Z >= 0.0f) ? 0.0f : X * Y * P1)
/* where: Y is the condition */
LT_EW_TERNARY(row_where, X != 0.0f ? Y : Z)
LT_EW_BINARY(row_where_dx, Y != 0.0f ? X : 0.0f)
LT_EW_BINARY(row_where_dy, Y != 0.0f ? 0.0f : X)

/* ==================== add / sub ==================== */

/* Shapes: a and b broadcast to y. Backward: each input gets g (negated for
 * the subtrahend) summed over its broadcast dimensions. */
static lt_status add_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  for (int k = 0; k < 2; k++) {
    if (!lt_edge_needs_grad(&n->inputs[k])) continue;
    lt_tensor *full = k == 1 && n->i[0] ? lt_ew_new(g->ndim, g->shape, row_neg, 1, &g, NULL, 0)
                                        : lt_tensor_retain(g);
    if (!(gi[k] = lt_ew_reduce(full, &n->inputs[k]))) return LT_ERR_MEMORY;
  }
  return LT_OK;
}
static const lt_op OP_ADD = {"add", add_backward};
static const lt_op OP_SUB = {"sub", add_backward};

/* The output shape of a binary op, or the broadcast error naming `fn`. */
static lt_status binary(const char *fn, lt_tensor *a, lt_tensor *b, lt_row_fn f, int heavy, lt_tensor **y) {
  int nd;
  int64_t shape[LT_MAX_DIMS];
  lt_status st = lt_broadcast_shape(fn, a, b, &nd, shape);
  if (st != LT_OK) return st;
  lt_tensor *ops[2] = {a, b};
  *y = lt_ew_new(nd, shape, f, 2, ops, NULL, heavy);
  return *y ? LT_OK : LT_ERR_MEMORY;
}

static lt_status add_or_sub(lt_tensor **out, lt_tensor *a, lt_tensor *b, int sub) {
  LT_PROFILE_OP(sub ? OP_SUB.name : OP_ADD.name);
  lt_tensor *y, *in[2] = {a, b};
  lt_status st = binary(sub ? "sub" : "add", a, b, sub ? row_sub : row_add, 0, &y);
  if (st != LT_OK) return st;
  lt_node *n;
  st = lt_ew_finish(out, y, sub ? &OP_SUB : &OP_ADD, 2, in, 0, NULL, &n);
  if (st == LT_OK && n) n->i[0] = sub;
  return st;
}

/* y = a + b. PyTorch: torch.add */
lt_status lt_add(lt_tensor **out, lt_tensor *a, lt_tensor *b) { return add_or_sub(out, a, b, 0); }
/* y = a - b. PyTorch: torch.sub */
lt_status lt_sub(lt_tensor **out, lt_tensor *a, lt_tensor *b) { return add_or_sub(out, a, b, 1); }

/* ==================== mul / div ==================== */

/* mul and div save only what the gradients that are needed use: the node's
 * i[0] holds where each operand sits in saved[] (-1: not saved). */
static lt_status record_saving(lt_tensor **out, lt_tensor *y, const lt_op *op, lt_tensor *a, lt_tensor *b,
                               bool save_a, bool save_b) {
  lt_tensor *in[2] = {a, b}, *saved[2];
  int n = 0, at_a = -1, at_b = -1;
  if (save_a) at_a = n, saved[n++] = a;
  if (save_b) at_b = n, saved[n++] = b;
  lt_node *node;
  lt_status st = lt_ew_finish(out, y, op, 2, in, n, saved, &node);
  if (st == LT_OK && node) {
    node->i[0] = at_a;
    node->i[1] = at_b;
  }
  return st;
}

static lt_tensor *saved_a(lt_node *n) { return n->saved[n->i[0]]; }
static lt_tensor *saved_b(lt_node *n) { return n->saved[n->i[1]]; }

/* d(ab): g*b and g*a. saved: b if a needs a gradient, a if b does */
static lt_status mul_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  for (int k = 0; k < 2; k++) {
    if (!lt_edge_needs_grad(&n->inputs[k])) continue;
    lt_tensor *ops[2] = {g, k == 0 ? saved_b(n) : saved_a(n)};
    if (!(gi[k] = lt_ew_reduce(lt_ew_new(g->ndim, g->shape, row_mul, 2, ops, NULL, 0), &n->inputs[k])))
      return LT_ERR_MEMORY;
  }
  return LT_OK;
}
static const lt_op OP_MUL = {"mul", mul_backward};

/* y = a * b. PyTorch: torch.mul */
lt_status lt_mul(lt_tensor **out, lt_tensor *a, lt_tensor *b) {
  LT_PROFILE_OP(OP_MUL.name);
  lt_tensor *y;
  lt_status st = binary("mul", a, b, row_mul, 0, &y);
  if (st != LT_OK) return st;
  return record_saving(out, y, &OP_MUL, a, b, lt_tracks(b), lt_tracks(a));
}

/* d(a/b): g/b and -g*a/b^2. saved: b, and a if b needs a gradient */
static lt_status div_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  if (lt_edge_needs_grad(&n->inputs[0])) {
    lt_tensor *ops[2] = {g, saved_b(n)};
    if (!(gi[0] = lt_ew_reduce(lt_ew_new(g->ndim, g->shape, row_div, 2, ops, NULL, 0), &n->inputs[0])))
      return LT_ERR_MEMORY;
  }
  if (lt_edge_needs_grad(&n->inputs[1])) {
    lt_tensor *ops[3] = {g, saved_a(n), saved_b(n)};
    if (!(gi[1] = lt_ew_reduce(lt_ew_new(g->ndim, g->shape, row_div_db, 3, ops, NULL, 0), &n->inputs[1])))
      return LT_ERR_MEMORY;
  }
  return LT_OK;
}
static const lt_op OP_DIV = {"div", div_backward};

/* y = a / b (true division; x/0 is inf or NaN). PyTorch: torch.div */
lt_status lt_div(lt_tensor **out, lt_tensor *a, lt_tensor *b) {
  LT_PROFILE_OP(OP_DIV.name);
  lt_tensor *y;
  lt_status st = binary("div", a, b, row_div, 0, &y);
  if (st != LT_OK) return st;
  return record_saving(out, y, &OP_DIV, a, b, lt_tracks(b), true);
}

/* ==================== pow ==================== */

/* d(a^e): g*e*a^(e-1) (0 where e == 0) and g*a^e*log(a) (0 where a == 0 and
 * e >= 0), PyTorch's pow_backward_self / pow_backward_exponent. saved: a, e */
static lt_status pow_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  static const lt_row_fn rows[2] = {row_pow_da, row_pow_de};
  for (int k = 0; k < 2; k++) {
    if (!lt_edge_needs_grad(&n->inputs[k])) continue;
    lt_tensor *ops[3] = {g, n->saved[0], n->saved[1]};
    if (!(gi[k] = lt_ew_reduce(lt_ew_new(g->ndim, g->shape, rows[k], 3, ops, NULL, 1), &n->inputs[k])))
      return LT_ERR_MEMORY;
  }
  return LT_OK;
}
static const lt_op OP_POW = {"pow", pow_backward};

/* y = a ^ e elementwise (powf: a negative base with a fractional exponent is
 * NaN). PyTorch: torch.pow */
lt_status lt_pow(lt_tensor **out, lt_tensor *a, lt_tensor *e) {
  LT_PROFILE_OP(OP_POW.name);
  lt_tensor *y, *in[2] = {a, e};
  lt_status st = binary("pow", a, e, row_pow, 1, &y);
  if (st != LT_OK) return st;
  return lt_ew_finish(out, y, &OP_POW, 2, in, 2, in, NULL);
}

/* ==================== ops with a number ==================== */

/* One op on a tensor a and a number s (node param f[0] = s). y has a's shape,
 * so no gradient needs reducing. */
enum { S_ADD, S_RSUB, S_MUL, S_DIV, S_RDIV, S_POW, S_RPOW };

static lt_status scalar_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  float s = (float)n->f[0], p[4] = {s, (float)n->f[1], 0, 0};
  lt_tensor *a = n->n_saved > 0 ? n->saved[0] : NULL;
  lt_tensor *ops[3] = {g, a, n->n_saved > 1 ? n->saved[1] : NULL};
  int nd = g->ndim;
  const int64_t *shape = g->shape;
  lt_tensor *r;
  switch (n->i[0]) {
  case S_ADD: r = lt_tensor_retain(g); break;
  case S_RSUB: r = lt_ew_new(nd, shape, row_neg, 1, ops, NULL, 0); break;
  case S_MUL: r = lt_ew_new(nd, shape, row_mul_s, 1, ops, p, 0); break;
  case S_DIV: r = lt_ew_new(nd, shape, row_div_s, 1, ops, p, 0); break;
  case S_RDIV: r = lt_ew_new(nd, shape, row_rdiv_da, 2, ops, p, 0); break;
  case S_POW:
    if (s == 0.0f) return LT_OK; /* a^0 = 1: a zero gradient */
    r = s == 2.0f ? lt_ew_new(nd, shape, row_pow2_da, 2, ops, p, 0)
                  : lt_ew_new(nd, shape, row_pow_s_da, 2, ops, p, 1);
    break;
  case S_RPOW: { /* saved: y, a */
    lt_tensor *o[3] = {g, n->saved[0], n->saved[1]};
    r = lt_ew_new(nd, shape, row_rpow_da, 3, o, p, 0);
    break;
  }
  default: LT_ASSERT(0); return LT_ERR_STATE;
  }
  return (gi[0] = r) ? LT_OK : LT_ERR_MEMORY;
}
static const lt_op OP_ADD_S = {"add", scalar_backward};
static const lt_op OP_RSUB_S = {"rsub", scalar_backward};
static const lt_op OP_MUL_S = {"mul", scalar_backward};
static const lt_op OP_DIV_S = {"div", scalar_backward};
static const lt_op OP_RDIV_S = {"rdiv", scalar_backward};
static const lt_op OP_POW_S = {"pow", scalar_backward};
static const lt_op OP_RPOW_S = {"rpow", scalar_backward};

/* Runs kind `k` with kernel f; `save` 0: nothing, 1: a, 2: y then a. */
static lt_status scalar_op(lt_tensor **out, lt_tensor *a, float s, int k, const lt_op *op, lt_row_fn f,
                           int heavy, int save) {
  LT_PROFILE_OP(op->name);
  float p[4] = {s, 0, 0, 0};
  lt_tensor *y = lt_ew_new(a->ndim, a->shape, f, 1, &a, p, heavy);
  if (!y) return LT_ERR_MEMORY;
  lt_tensor *saved[2] = {save == 2 ? y : a, a};
  lt_node *n;
  lt_status st = lt_ew_finish(out, y, op, 1, &a, save, saved, &n);
  if (st == LT_OK && n) {
    n->i[0] = k;
    n->f[0] = s;
    n->f[1] = k == S_RPOW ? logf(s) : 0;
  }
  return st;
}

/* y = a + s */
lt_status lt_add_scalar(lt_tensor **out, lt_tensor *a, float s) {
  return scalar_op(out, a, s, S_ADD, &OP_ADD_S, row_add_s, 0, 0);
}
/* y = a - s, computed as a + (-s), which is exact */
lt_status lt_sub_scalar(lt_tensor **out, lt_tensor *a, float s) {
  return scalar_op(out, a, -s, S_ADD, &OP_ADD_S, row_add_s, 0, 0);
}
/* y = s - a. PyTorch: torch.rsub */
lt_status lt_rsub_scalar(lt_tensor **out, lt_tensor *a, float s) {
  return scalar_op(out, a, s, S_RSUB, &OP_RSUB_S, row_rsub_s, 0, 0);
}
/* y = a * s; gradient g * s */
lt_status lt_mul_scalar(lt_tensor **out, lt_tensor *a, float s) {
  return scalar_op(out, a, s, S_MUL, &OP_MUL_S, row_mul_s, 0, 0);
}
/* y = a / s (a true division, not a * (1/s)); gradient g / s */
lt_status lt_div_scalar(lt_tensor **out, lt_tensor *a, float s) {
  return scalar_op(out, a, s, S_DIV, &OP_DIV_S, row_div_s, 0, 0);
}
/* y = s / a; gradient -g * s / a^2. saved: a */
lt_status lt_rdiv_scalar(lt_tensor **out, lt_tensor *a, float s) {
  return scalar_op(out, a, s, S_RDIV, &OP_RDIV_S, row_rdiv_s, 0, 1);
}
/* y = a ^ s, with exact shortcuts for s = 1, 2, -1, 0.5; gradient
 * g * s * a^(s-1), 0 for s = 0. saved: a. PyTorch: torch.pow(Tensor, Scalar) */
lt_status lt_pow_scalar(lt_tensor **out, lt_tensor *a, float s) {
  lt_row_fn f = s == 2.0f ? row_square : s == 1.0f ? row_copy : s == -1.0f ? row_recip
              : s == 0.5f ? row_sqrt : row_pow_s;
  return scalar_op(out, a, s, S_POW, &OP_POW_S, f, f == row_pow_s, 1);
}
/* y = s ^ a; gradient g * y * log(s), 0 where s == 0 and a >= 0. saved: y, a.
 * PyTorch: torch.pow(Scalar, Tensor) */
lt_status lt_rpow_scalar(lt_tensor **out, lt_tensor *a, float s) {
  return scalar_op(out, a, s, S_RPOW, &OP_RPOW_S, row_rpow_s, 1, 2);
}

/* ==================== where ==================== */

/* Broadcasts three shapes; the error names all three. */
static lt_status broadcast3(const char *fn, lt_tensor *const *t, int *nd, int64_t *shape) {
  *nd = 0;
  for (int k = 0; k < 3; k++)
    if (t[k]->ndim > *nd) *nd = t[k]->ndim;
  for (int d = 0; d < *nd; d++) {
    int64_t s = 1;
    for (int k = 0; k < 3; k++) {
      int j = t[k]->ndim - *nd + d;
      int64_t v = j >= 0 ? t[k]->shape[j] : 1;
      if (v != 1 && s != 1 && v != s) {
        char a[LT_SHAPE_STR], b[LT_SHAPE_STR], c[LT_SHAPE_STR];
        return lt_error(LT_ERR_SHAPE, "%s: shapes %s, %s and %s cannot be broadcast together", fn,
                        LT_SHAPE(t[0], a), LT_SHAPE(t[1], b), LT_SHAPE(t[2], c));
      }
      if (v != 1) s = v;
    }
    shape[d] = s;
  }
  return LT_OK;
}

/* gx = g where cond, gy = g elsewhere, each reduced to its input's shape.
 * Inputs: x, y; saved: cond */
static lt_status where_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  static const lt_row_fn rows[2] = {row_where_dx, row_where_dy};
  for (int k = 0; k < 2; k++) {
    if (!lt_edge_needs_grad(&n->inputs[k])) continue;
    lt_tensor *ops[2] = {g, n->saved[0]};
    if (!(gi[k] = lt_ew_reduce(lt_ew_new(g->ndim, g->shape, rows[k], 2, ops, NULL, 0), &n->inputs[k])))
      return LT_ERR_MEMORY;
  }
  return LT_OK;
}
static const lt_op OP_WHERE = {"where", where_backward};

/* out = cond ? x : y; cond, x, y broadcast together. PyTorch: torch.where */
lt_status lt_where(lt_tensor **out, lt_tensor *cond, lt_tensor *x, lt_tensor *y) {
  LT_PROFILE_OP(OP_WHERE.name);
  lt_tensor *ops[3] = {cond, x, y};
  int nd;
  int64_t shape[LT_MAX_DIMS];
  lt_status st = broadcast3("where", ops, &nd, shape);
  if (st != LT_OK) return st;
  lt_tensor *r = lt_ew_new(nd, shape, row_where, 3, ops, NULL, 0);
  return lt_ew_finish(out, r, &OP_WHERE, 2, ops + 1, 1, &cond, NULL);
}
