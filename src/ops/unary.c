/* Unary elementwise ops with autograd: neg, exp, log, sqrt, square, abs,
 * sign, tanh, sigmoid, relu, clamp. Forward and backward side by side; the
 * iterator and kernel macros are in elementwise_iter.h.
 *
 * exp, sigmoid, tanh and log use the vectorizable versions of fastmath.h;
 * sqrt and powf come from libm. */
#include "ops/elementwise.h"
#include "ops/elementwise_iter.h"
#include "ops/fastmath.h"
#include "autograd/graph.h"
#include "core/lt_profile.h"

#include <math.h>
#include <string.h>

/* ==================== kernels ==================== */

LT_EW_UNARY(row_neg, -X)
LT_EW_UNARY(row_exp, lt_fm_exp(X))
LT_EW_UNARY(row_log, lt_fm_log(X))
LT_EW_UNARY(row_sqrt, sqrtf(X))
LT_EW_UNARY(row_square, X * X)
LT_EW_UNARY(row_abs, fabsf(X))
LT_EW_UNARY(row_sign, (float)((X > 0.0f) - (X < 0.0f)))
LT_EW_UNARY(row_tanh, lt_fm_tanh(X))
LT_EW_UNARY(row_sigmoid, lt_fm_sigmoid(X))
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
