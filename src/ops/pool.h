/* Pooling and upsampling over images (NCHW, float32), with autograd. */
#ifndef LT_POOL_H
#define LT_POOL_H

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* y = max_pool2d(x). PyTorch: torch.nn.functional.max_pool2d (dilation 1, no ceil_mode).
 *   x: N x C x H x W (or C x H x W)   kernel, stride, padding: {height, width}
 *   y: N x C x OH x OW, OH = floor((H + 2 ph - kh) / sh) + 1
 * Padding counts as -inf and may be at most half the kernel. NaN wins, as in
 * PyTorch. The gradient goes to the first maximum of each window. */
lt_status lt_max_pool2d(lt_tensor **out, lt_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                        const int64_t padding[2]);

/* y = x repeated scale[0] times along the height and scale[1] times along
 * the width (nearest neighbour, integer factors >= 1). PyTorch:
 * torch.nn.functional.interpolate(x, scale_factor=s, mode="nearest").
 *   x: N x C x H x W (or C x H x W)   y: N x C x (H sh) x (W sw)
 * The gradient of each input pixel is the sum over its block. */
lt_status lt_upsample_nearest2d(lt_tensor **out, lt_tensor *x, const int64_t scale[2]);

#endif
