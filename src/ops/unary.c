/* Unary elementwise ops with autograd: neg, exp, log, sqrt, square, abs,
 * sign, tanh, sigmoid, relu, clamp. Forward and backward side by side; the
 * iterator and kernel macros are in elementwise_iter.h.
 *
 * exp, sigmoid, tanh and log use the vectorizable versions below; sqrt
 * and powf come from libm. */
#include "ops/elementwise.h"
#include "ops/elementwise_iter.h"
#include "autograd/graph.h"
#include "core/lt_profile.h"

#include <math.h>
#include <string.h>

/* ==================== vectorizable exp, tanh, log ==================== */

/* Branch-free float math, so that the loops calling it vectorize (libm's
 * calls do not). Each is within 2.5 ulp of the exact result (measured
 * against double precision in tests/c/test_elementwise.c), with the IEEE
 * special values: NaN gives NaN; exp(-inf) = 0, exp(inf) = inf;
 * log(0) = -inf, log(x < 0) = NaN. */

static const float LOG2E = 1.44269504f;
/* ln 2 = LN2_HI + LN2_LO, LN2_HI with few significant bits so that k * LN2_HI
 * is exact for the integers k used here */
static const float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
static const float ROUND = 12582912.0f; /* 1.5 * 2^23: x + ROUND - ROUND rounds x to an integer */

static inline float from_bits(int32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}
static inline int32_t to_bits(float f) {
  int32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* exp(r) - 1 for |r| <= ln2 / 2: its Taylor polynomial to r^7, whose
 * truncation (|r|^8 / 8! < 6e-9) is far below float precision; no constant
 * term, so it stays accurate relative to small results. */
static inline float expm1_poly(float r) {
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  return p * r;
}

/* exp(x) = 2^n * exp(r) with n = round(x / ln2) and r = x - n ln2. 2^n is
 * built from exponent bits in two factors, so results that are subnormal or
 * overflow to inf round once, correctly. */
static inline float exp_f(float x) {
  float xc = x > 88.8f ? 88.8f : x; /* beyond: inf or 0 anyway */
  xc = xc < -104.0f ? -104.0f : xc;
  xc = xc == xc ? xc : 0.0f;
  float nf = (xc * LOG2E + ROUND) - ROUND;
  float r = (xc - nf * LN2_HI) - nf * LN2_LO;
  int32_t n = (int32_t)nf, n1 = n / 2, n2 = n - n1; /* n in [-150, 129] */
  float y = (1.0f + expm1_poly(r)) * from_bits((n1 + 127) << 23) * from_bits((n2 + 127) << 23);
  return x == x ? y : x;
}

/* tanh(x) = sign(x) * e / (e + 2) with e = exp(2|x|) - 1, computed as
 * (2^n - 1) + 2^n expm1(r), which keeps full relative precision for small
 * |x| (where tanh(x) ~ x). Beyond |x| = 9, tanh rounds to +-1. */
static inline float tanh_f(float x) {
  float ax = fabsf(x);
  float y = ax > 9.0f ? 18.0f : 2.0f * ax;
  y = y == y ? y : 0.0f;
  float nf = (y * LOG2E + ROUND) - ROUND;
  float r = (y - nf * LN2_HI) - nf * LN2_LO;
  float s = from_bits(((int32_t)nf + 127) << 23); /* n in [0, 26] */
  float e = (s - 1.0f) + s * expm1_poly(r);
  float t = e / (e + 2.0f);
  t = from_bits(to_bits(t) | (to_bits(x) & (int32_t)0x80000000)); /* tanh(-0) = -0 */
  return x == x ? t : x;
}

/* log(x) = k ln2 + log(m) with x = 2^k m, m in [sqrt(1/2), sqrt(2)), and
 * log(m) = 2 atanh(f), f = (m - 1) / (m + 1), |f| < 0.172: the odd series
 * 2 (f + f^3/3 + ... + f^9/9) leaves an error below 2e-9 relative.
 * Subnormal x is scaled by 2^25 first. */
static inline float log_f(float x) {
  int sub = x < 1.17549435e-38f;
  float xs = sub ? x * 33554432.0f : x;
  xs = (xs > 0.0f && xs < INFINITY) ? xs : 1.0f; /* 0, < 0, inf, NaN: set below */
  uint32_t b;
  memcpy(&b, &xs, sizeof b);
  /* the exponent, one more where the mantissa is at least sqrt(2) */
  int32_t k = (int32_t)(b - 0x3f3504f3u) >> 23; /* 0x3f3504f3 = sqrt(1/2) */
  b -= (uint32_t)k * 0x800000u;
  float m;
  memcpy(&m, &b, sizeof m);
  float kf = (float)k - (sub ? 25.0f : 0.0f);
  float f = (m - 1.0f) / (m + 1.0f), f2 = f * f;
  float p = 1.0f / 9;
  p = p * f2 + 1.0f / 7;
  p = p * f2 + 1.0f / 5;
  p = p * f2 + 1.0f / 3;
  float lm = 2.0f * f + 2.0f * f * f2 * p;
  float y = kf * LN2_HI + (lm + kf * LN2_LO);
  y = x == 0.0f ? -INFINITY : y;
  y = x < 0.0f ? NAN : y;
  y = x == INFINITY ? x : y;
  return x == x ? y : x;
}

/* 1 / (1 + exp(-x)), written so that exp never overflows: for x < 0 it is
 * exp(x) / (1 + exp(x)). */
static inline float sigmoid_f(float x) {
  float e = exp_f(-fabsf(x));
  float q = 1.0f / (1.0f + e);
  return x >= 0.0f ? q : e * q;
}

/* ==================== kernels ==================== */

LT_EW_UNARY(row_neg, -X)
LT_EW_UNARY(row_exp, exp_f(X))
LT_EW_UNARY(row_log, log_f(X))
LT_EW_UNARY(row_sqrt, sqrtf(X))
LT_EW_UNARY(row_square, X * X)
LT_EW_UNARY(row_abs, fabsf(X))
LT_EW_UNARY(row_sign, (float)((X > 0.0f) - (X < 0.0f)))
LT_EW_UNARY(row_tanh, tanh_f(X))
LT_EW_UNARY(row_sigmoid, sigmoid_f(X))
LT_EW_UNARY(row_relu, X < 0.0f ? 0.0f : X) /* NaN stays NaN */
LT_EW_UNARY(row_clamp, (X < P0 ? P0 : X) > P1 ? P1 : (X < P0 ? P0 : X))

/* gradients: X is the incoming gradient g, Y the saved input or output */
LT_EW_BINARY(row_mul, X * Y)
LT_EW_BINARY(row_div, X / Y)
LT_EW_BINARY(row_sqrt_da, X / (2.0f * Y))
LT_EW_BINARY(row_square_da, 2.0f * X * Y)
LT_EW_BINARY(row_abs_da, Y > 0.0f ? X : Y < 0.0f ? -X : 0.0f)
LT_EW_BINARY(row_tanh_da, X * (1.0f - Y * Y))
LT_EW_BINARY(row_sigmoid_da, X * Y * (1.0f - Y))
LT_EW_BINARY(row_relu_da, Y > 0.0f ? X : 0.0f)
LT_EW_BINARY(row_clamp_da, (Y >= P0 && Y <= P1) ? X : 0.0f)

/* ==================== the pattern ==================== */

enum { SAVE_NONE, SAVE_INPUT, SAVE_OUTPUT };

/* y = f(a), recorded with `op` and one saved tensor (a or y) or none. */
static lt_status unary(lt_tensor **out, lt_tensor *a, lt_row_fn f, int heavy, const lt_op *op, int save,
                       const float *p, lt_node **node) {
  LT_PROFILE_OP(op->name);
  lt_tensor *y = lt_ew_new(a->ndim, a->shape, f, 1, &a, p, heavy);
  if (!y) return LT_ERR_MEMORY;
  lt_tensor *saved = save == SAVE_OUTPUT ? y : a;
  return lt_ew_finish(out, y, op, 1, &a, save != SAVE_NONE, &saved, node);
}

/* gi[0] = f(g, saved[0]), g's shape (which is the input's). */
static lt_status grad_with_saved(lt_node *n, lt_tensor *g, lt_tensor **gi, lt_row_fn f, const float *p) {
  lt_tensor *ops[2] = {g, n->saved[0]};
  return (gi[0] = lt_ew_new(g->ndim, g->shape, f, 2, ops, p, 0)) ? LT_OK : LT_ERR_MEMORY;
}

/* ==================== neg ==================== */

static lt_status neg_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return (gi[0] = lt_ew_new(g->ndim, g->shape, row_neg, 1, &g, NULL, 0)) ? LT_OK : LT_ERR_MEMORY;
}
static const lt_op OP_NEG = {"neg", neg_backward};

/* y = -a. PyTorch: torch.neg */
lt_status lt_neg(lt_tensor **out, lt_tensor *a) {
  return unary(out, a, row_neg, 0, &OP_NEG, SAVE_NONE, NULL, NULL);
}

/* ==================== exp / log ==================== */

/* d exp(a) = exp(a) da: uses the saved output */
static lt_status exp_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return grad_with_saved(n, g, gi, row_mul, NULL);
}
static const lt_op OP_EXP = {"exp", exp_backward};

/* y = exp(a). PyTorch: torch.exp */
lt_status lt_exp(lt_tensor **out, lt_tensor *a) {
  return unary(out, a, row_exp, 1, &OP_EXP, SAVE_OUTPUT, NULL, NULL);
}

/* d log(a) = da / a: uses the saved input */
static lt_status log_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return grad_with_saved(n, g, gi, row_div, NULL);
}
static const lt_op OP_LOG = {"log", log_backward};

/* y = log(a): -inf at 0, NaN below. PyTorch: torch.log */
lt_status lt_log(lt_tensor **out, lt_tensor *a) {
  return unary(out, a, row_log, 1, &OP_LOG, SAVE_INPUT, NULL, NULL);
}

/* ==================== sqrt / square ==================== */

/* d sqrt(a) = da / (2 sqrt(a)): uses the saved output (inf at 0) */
static lt_status sqrt_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return grad_with_saved(n, g, gi, row_sqrt_da, NULL);
}
static const lt_op OP_SQRT = {"sqrt", sqrt_backward};

/* y = sqrt(a): NaN below 0. PyTorch: torch.sqrt */
lt_status lt_sqrt(lt_tensor **out, lt_tensor *a) {
  return unary(out, a, row_sqrt, 1, &OP_SQRT, SAVE_OUTPUT, NULL, NULL);
}

/* d a^2 = 2 a da: uses the saved input */
static lt_status square_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return grad_with_saved(n, g, gi, row_square_da, NULL);
}
static const lt_op OP_SQUARE = {"square", square_backward};

/* y = a * a. PyTorch: torch.square */
lt_status lt_square(lt_tensor **out, lt_tensor *a) {
  return unary(out, a, row_square, 0, &OP_SQUARE, SAVE_INPUT, NULL, NULL);
}

/* ==================== abs / sign ==================== */

/* d |a| = sign(a) da, 0 at 0: uses the saved input */
static lt_status abs_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return grad_with_saved(n, g, gi, row_abs_da, NULL);
}
static const lt_op OP_ABS = {"abs", abs_backward};

/* y = |a|. PyTorch: torch.abs */
lt_status lt_abs(lt_tensor **out, lt_tensor *a) {
  return unary(out, a, row_abs, 0, &OP_ABS, SAVE_INPUT, NULL, NULL);
}

/* sign is flat almost everywhere: a zero gradient (left NULL) */
static lt_status sign_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) { return LT_OK; }
static const lt_op OP_SIGN = {"sign", sign_backward};

/* y = -1, 0 or 1 (0 for NaN). PyTorch: torch.sign */
lt_status lt_sign(lt_tensor **out, lt_tensor *a) {
  return unary(out, a, row_sign, 0, &OP_SIGN, SAVE_NONE, NULL, NULL);
}

/* ==================== tanh / sigmoid / relu ==================== */

/* d tanh(a) = (1 - y^2) da: uses the saved output */
static lt_status tanh_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return grad_with_saved(n, g, gi, row_tanh_da, NULL);
}
static const lt_op OP_TANH = {"tanh", tanh_backward};

/* y = tanh(a). PyTorch: torch.tanh */
lt_status lt_tanh(lt_tensor **out, lt_tensor *a) {
  return unary(out, a, row_tanh, 1, &OP_TANH, SAVE_OUTPUT, NULL, NULL);
}

/* d sigmoid(a) = y (1 - y) da: uses the saved output */
static lt_status sigmoid_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return grad_with_saved(n, g, gi, row_sigmoid_da, NULL);
}
static const lt_op OP_SIGMOID = {"sigmoid", sigmoid_backward};

/* y = 1 / (1 + exp(-a)), stable for large |a|. PyTorch: torch.sigmoid */
lt_status lt_sigmoid(lt_tensor **out, lt_tensor *a) {
  return unary(out, a, row_sigmoid, 1, &OP_SIGMOID, SAVE_OUTPUT, NULL, NULL);
}

/* d relu(a) = da where y > 0 (PyTorch's threshold_backward on the result) */
static lt_status relu_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return grad_with_saved(n, g, gi, row_relu_da, NULL);
}
static const lt_op OP_RELU = {"relu", relu_backward};

/* y = max(a, 0), NaN stays NaN. PyTorch: torch.relu */
lt_status lt_relu(lt_tensor **out, lt_tensor *a) {
  return unary(out, a, row_relu, 0, &OP_RELU, SAVE_OUTPUT, NULL, NULL);
}

/* ==================== clamp ==================== */

/* d clamp(a) = da where lo <= a <= hi (node params f[0] = lo, f[1] = hi) */
static lt_status clamp_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  float p[4] = {(float)n->f[0], (float)n->f[1], 0, 0};
  return grad_with_saved(n, g, gi, row_clamp_da, p);
}
static const lt_op OP_CLAMP = {"clamp", clamp_backward};

/* y = min(max(a, lo), hi); -INFINITY / INFINITY for a missing bound; lo > hi
 * gives hi everywhere. PyTorch: torch.clamp */
lt_status lt_clamp(lt_tensor **out, lt_tensor *a, float lo, float hi) {
  float p[4] = {lo, hi, 0, 0};
  lt_node *n;
  lt_status st = unary(out, a, row_clamp, 0, &OP_CLAMP, SAVE_INPUT, p, &n);
  if (st == LT_OK && n) {
    n->f[0] = lo;
    n->f[1] = hi;
  }
  return st;
}
