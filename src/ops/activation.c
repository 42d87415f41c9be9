/* Activations with autograd: leaky_relu, elu, softplus and dropout, forward
 * and backward side by side. They run on the elementwise family's strided
 * iterator (elementwise_iter.h: any strides, OpenMP on large tensors, an AVX2
 * clone of each kernel), with the branch-free math of fastmath.h. */
#include "ops/activation.h"
#include "ops/fastmath.h"
#include "ops/elementwise_iter.h"
#include "autograd/graph.h"
#include "core/lt_profile.h"
#include "core/lt_rng.h"

#include <math.h>
#include <string.h>

/* ==================== kernels ==================== */

/* forward: X is the input; P0, P1 the op's parameters */
LT_EW_UNARY(row_leaky_relu, X > 0.0f ? X : X * P0)
LT_EW_UNARY(row_elu, X > 0.0f ? X : P0 * lt_fm_expm1(X))
LT_EW_UNARY(row_softplus, X * P0 > P1 ? X : lt_fm_softplus(X * P0) / P0)

/* backward: X is the incoming gradient, Y the saved input (or mask) */
LT_EW_BINARY(row_leaky_relu_dx, Y > 0.0f ? X : X * P0)
LT_EW_BINARY(row_elu_dx, Y > 0.0f ? X : X * (P0 * lt_fm_exp(Y)))
LT_EW_BINARY(row_softplus_dx, Y * P0 > P1 ? X : X * lt_fm_sigmoid(Y * P0))
LT_EW_BINARY(row_mul, X * Y)

/* y = f(x) with params p, recorded with `op` saving x; the params also go to
 * the node (f[0], f[1]) for backward. */
static lt_status activation(lt_tensor **out, lt_tensor *x, lt_row_fn f, int heavy, const lt_op *op, float p0,
                            float p1) {
  LT_PROFILE_OP(op->name);
  float p[4] = {p0, p1, 0, 0};
  lt_tensor *y = lt_ew_new(x->ndim, x->shape, f, 1, &x, p, heavy);
  if (!y) return LT_ERR_MEMORY;
  lt_node *n;
  lt_status st = lt_ew_finish(out, y, op, 1, &x, 1, &x, &n);
  if (st == LT_OK && n) {
    n->f[0] = p0;
    n->f[1] = p1;
  }
  return st;
}

/* gi[0] = f(g, saved[0]) with the node's params. */
static lt_status activation_backward(lt_node *n, lt_tensor *g, lt_tensor **gi, lt_row_fn f, int heavy) {
  float p[4] = {(float)n->f[0], (float)n->f[1], 0, 0};
  lt_tensor *ops[2] = {g, n->saved[0]};
  return (gi[0] = lt_ew_new(g->ndim, g->shape, f, 2, ops, p, heavy)) ? LT_OK : LT_ERR_MEMORY;
}

/* ==================== leaky_relu ==================== */

/* d leaky_relu(x) = dx where x > 0, slope * dx elsewhere (PyTorch's
 * leaky_relu_backward on the input: slope at 0) */
static lt_status leaky_relu_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return activation_backward(n, g, gi, row_leaky_relu_dx, 0);
}
static const lt_op OP_LEAKY_RELU = {"leaky_relu", leaky_relu_backward};

/* Shapes: any. PyTorch: F.leaky_relu */
lt_status lt_leaky_relu(lt_tensor **out, lt_tensor *x, float slope) {
  return activation(out, x, row_leaky_relu, 0, &OP_LEAKY_RELU, slope, 0);
}

/* ==================== elu ==================== */

/* d elu(x) = dx where x > 0, alpha exp(x) dx elsewhere (from the input, as
 * PyTorch: y + alpha would lose the digits of small exp(x)) */
static lt_status elu_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return activation_backward(n, g, gi, row_elu_dx, 1);
}
static const lt_op OP_ELU = {"elu", elu_backward};

/* Shapes: any. PyTorch: F.elu */
lt_status lt_elu(lt_tensor **out, lt_tensor *x, float alpha) {
  return activation(out, x, row_elu, 1, &OP_ELU, alpha, 0);
}

/* ==================== softplus ==================== */

/* d softplus(x) = sigmoid(beta x) dx, or dx where beta x > threshold */
static lt_status softplus_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return activation_backward(n, g, gi, row_softplus_dx, 1);
}
static const lt_op OP_SOFTPLUS = {"softplus", softplus_backward};

/* Shapes: any. PyTorch: F.softplus */
lt_status lt_softplus(lt_tensor **out, lt_tensor *x, float beta, float threshold) {
  if (beta == 0.0f || beta != beta) return lt_error(LT_ERR_ARG, "softplus: beta must be a nonzero number, got %g", beta);
  return activation(out, x, row_softplus, 1, &OP_SOFTPLUS, beta, threshold);
}

/* ==================== dropout ==================== */

/* d dropout(x) = mask dx, the mask holding 0 or 1 / (1 - p) (saved[0]) */
static lt_status dropout_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return activation_backward(n, g, gi, row_mul, 0);
}
static const lt_op OP_DROPOUT = {"dropout", dropout_backward};

/* scale where the 32 random bits u are at least thr, else 0. The sign of
 * u - thr masks scale's bits: the decisions are coin flips that no branch
 * predictor follows, and GCC compiles a plain `u < thr ? 0 : scale` to a
 * jump (2.5x slower here). */
static inline float keep_or_zero(uint64_t u, int64_t thr, uint32_t scale_bits) {
  uint32_t drop = (uint32_t)(((int64_t)u - thr) >> 63); /* all ones when u < thr */
  return lt_fm_from_bits((int32_t)(scale_bits & ~drop));
}

/* A tensor of x's shape holding 0 (probability p) or `scale`. Each random
 * 64-bit number decides two elements from its 32-bit halves; the fill is
 * sequential, so the same seed gives the same mask on any thread count. */
static lt_tensor *dropout_mask(const lt_tensor *x, double p, float scale) {
  lt_tensor *m = lt_tensor_empty(x->ndim, x->shape);
  if (!m) return NULL;
  float *d = lt_tensor_data(m);
  int64_t n = lt_tensor_numel(m), i = 0;
  int64_t thr = (int64_t)llround(p * 4294967296.0); /* drop where u < p 2^32 */
  uint32_t sb;
  memcpy(&sb, &scale, sizeof sb);
  for (; i + 1 < n; i += 2) {
    uint64_t r = lt_rng_u64();
    d[i] = keep_or_zero(r & 0xffffffffu, thr, sb);
    d[i + 1] = keep_or_zero(r >> 32, thr, sb);
  }
  if (i < n) d[i] = keep_or_zero(lt_rng_u64() & 0xffffffffu, thr, sb);
  return m;
}

/* Shapes: any. PyTorch: F.dropout */
lt_status lt_dropout(lt_tensor **out, lt_tensor *x, double p, bool training) {
  LT_PROFILE_OP(OP_DROPOUT.name);
  if (!(p >= 0.0 && p <= 1.0)) return lt_error(LT_ERR_ARG, "dropout: probability p must be in [0, 1], got %g", p);
  if (!training || p == 0.0) {
    *out = lt_tensor_retain(x);
    return LT_OK;
  }
  lt_tensor *mask = dropout_mask(x, p, p == 1.0 ? 0.0f : (float)(1.0 / (1.0 - p)));
  if (!mask) return LT_ERR_MEMORY;
  lt_tensor *ops[2] = {x, mask};
  lt_tensor *y = lt_ew_new(x->ndim, x->shape, row_mul, 2, ops, NULL, 0);
  lt_status st = y ? lt_ew_finish(out, y, &OP_DROPOUT, 1, &x, 1, &mask, NULL) : LT_ERR_MEMORY;
  lt_tensor_release(mask);
  return st;
}
