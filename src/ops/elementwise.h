/* Elementwise math with broadcasting and autograd.
 *
 * Binary ops broadcast their operands (NumPy/PyTorch rules, see broadcast.h);
 * a number operand has its own entry point (`_scalar`), which never builds a
 * broadcast tensor. Every result is a new contiguous tensor. Comparisons give
 * float masks (1 where true, 0 where false) and are not differentiable.
 *
 * IEEE semantics as in PyTorch: log(0) = -inf, sqrt(-1) = NaN, 1/0 = inf;
 * none of these is an error. */
#ifndef LT_ELEMENTWISE_H
#define LT_ELEMENTWISE_H

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* ---- binary, tensor with tensor (broadcasting) ---- */
lt_status lt_add(lt_tensor **out, lt_tensor *a, lt_tensor *b); /* a + b   torch.add */
lt_status lt_sub(lt_tensor **out, lt_tensor *a, lt_tensor *b); /* a - b   torch.sub */
lt_status lt_mul(lt_tensor **out, lt_tensor *a, lt_tensor *b); /* a * b   torch.mul */
lt_status lt_div(lt_tensor **out, lt_tensor *a, lt_tensor *b); /* a / b   torch.div */
lt_status lt_pow(lt_tensor **out, lt_tensor *a, lt_tensor *b); /* a ^ b   torch.pow */

/* ---- binary, tensor with a number ---- */
lt_status lt_add_scalar(lt_tensor **out, lt_tensor *a, float s);  /* a + s */
lt_status lt_sub_scalar(lt_tensor **out, lt_tensor *a, float s);  /* a - s */
lt_status lt_rsub_scalar(lt_tensor **out, lt_tensor *a, float s); /* s - a   torch.rsub */
lt_status lt_mul_scalar(lt_tensor **out, lt_tensor *a, float s);  /* a * s */
lt_status lt_div_scalar(lt_tensor **out, lt_tensor *a, float s);  /* a / s */
lt_status lt_rdiv_scalar(lt_tensor **out, lt_tensor *a, float s); /* s / a */
lt_status lt_pow_scalar(lt_tensor **out, lt_tensor *a, float s);  /* a ^ s */
lt_status lt_rpow_scalar(lt_tensor **out, lt_tensor *a, float s); /* s ^ a */

/* ---- unary ---- */
lt_status lt_neg(lt_tensor **out, lt_tensor *a);
lt_status lt_exp(lt_tensor **out, lt_tensor *a);
lt_status lt_log(lt_tensor **out, lt_tensor *a);
lt_status lt_sqrt(lt_tensor **out, lt_tensor *a);
lt_status lt_square(lt_tensor **out, lt_tensor *a);
lt_status lt_abs(lt_tensor **out, lt_tensor *a);   /* gradient sign(a), 0 at 0 */
lt_status lt_sign(lt_tensor **out, lt_tensor *a);  /* -1, 0 or 1; gradient 0 */
lt_status lt_tanh(lt_tensor **out, lt_tensor *a);
lt_status lt_sigmoid(lt_tensor **out, lt_tensor *a);
lt_status lt_relu(lt_tensor **out, lt_tensor *a);  /* gradient 1 where a > 0 */
/* min(max(a, lo), hi); pass -INFINITY / INFINITY for a missing bound. The
 * gradient passes where lo <= a <= hi (torch.clamp); NaN stays NaN. */
lt_status lt_clamp(lt_tensor **out, lt_tensor *a, float lo, float hi);

/* ---- comparisons: float masks, no gradient ---- */
typedef enum { LT_CMP_EQ, LT_CMP_NE, LT_CMP_LT, LT_CMP_LE, LT_CMP_GT, LT_CMP_GE } lt_cmp;
lt_status lt_compare(lt_tensor **out, lt_cmp cmp, lt_tensor *a, lt_tensor *b);
lt_status lt_compare_scalar(lt_tensor **out, lt_cmp cmp, lt_tensor *a, float s);

/* cond ? x : y elementwise, all three broadcast together; cond is a mask
 * (nonzero = true). Differentiable in x and y. torch.where */
lt_status lt_where(lt_tensor **out, lt_tensor *cond, lt_tensor *x, lt_tensor *y);

#endif
