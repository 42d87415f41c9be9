/* 2-D convolution and transposed convolution (NCHW, float32), with autograd.
 *
 * Both go through im2col/col2im and one cblas_sgemm per chunk of images, the
 * columns of several images side by side so that small images still give
 * GEMMs of a good shape. Each call records one autograd node whose inputs
 * are x, weight and (when given) bias, all differentiable. Groups are not
 * supported. */
#ifndef LT_CONV_H
#define LT_CONV_H

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* Settings as {height, width} pairs. output_padding is read only by
 * conv_transpose2d. lt_conv_params_default gives stride 1, padding 0,
 * output_padding 0, dilation 1. */
typedef struct lt_conv_params {
  int64_t stride[2], padding[2], output_padding[2], dilation[2];
} lt_conv_params;

lt_conv_params lt_conv_params_default(void);

/* y = conv2d(x, w, b). PyTorch: torch.nn.functional.conv2d (groups = 1).
 *   x: N x Cin x H x W (or Cin x H x W, unbatched)   w: Cout x Cin x kh x kw
 *   b: Cout or NULL
 *   y: N x Cout x OH x OW, OH = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1 */
lt_status lt_conv2d(lt_tensor **out, lt_tensor *x, lt_tensor *w, lt_tensor *b, const lt_conv_params *p);

/* y = conv_transpose2d(x, w, b), the adjoint of conv2d (its input gradient).
 * PyTorch: torch.nn.functional.conv_transpose2d (groups = 1).
 *   x: N x Cin x H x W (or unbatched)   w: Cin x Cout x kh x kw   b: Cout or NULL
 *   y: N x Cout x OH x OW, OH = (H - 1) sh - 2 ph + dh (kh - 1) + oph + 1,
 *   output_padding smaller than the stride or the dilation. */
lt_status lt_conv_transpose2d(lt_tensor **out, lt_tensor *x, lt_tensor *w, lt_tensor *b,
                              const lt_conv_params *p);

#endif
