/* The fully connected layer's op, with autograd. */
#ifndef LT_LINEAR_H
#define LT_LINEAR_H

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* y = x w^T + b, one fused op (one sgemm, the bias in the same product).
 *   x: [..., in] (1-D or more: leading dims are rows), w: [out, in],
 *   b: [out] or NULL  ->  y: [..., out]
 * Any strides; row- or column-major operands go to BLAS without a copy.
 * PyTorch: F.linear */
lt_status lt_linear(lt_tensor **out, lt_tensor *x, lt_tensor *w, lt_tensor *b);

#endif
