/* Broadcasting (NumPy/PyTorch rules): shapes are aligned on the right and a
 * dimension of size 1, or a missing one, stretches to match the other. */
#ifndef LT_BROADCAST_H
#define LT_BROADCAST_H

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* The broadcast shape of a and b into out_ndim and out_shape; an error naming `fn` and
 * both shapes when they do not fit. */
lt_status lt_broadcast_shape(const char *fn, const lt_tensor *a, const lt_tensor *b,
                             int *out_ndim, int64_t out_shape[LT_MAX_DIMS]);

/* Strides that read t as if it had the (broadcast-compatible) shape `shape`:
 * 0 on stretched dimensions. */
void lt_broadcast_strides(const lt_tensor *t, int ndim, const int64_t *shape,
                          int64_t stride[LT_MAX_DIMS]);

/* The gradient of a broadcast: sums g over the dimensions that were stretched
 * to reach g's shape from `shape`. Returns a new reference, contiguous unless
 * it is g itself (shapes equal); NULL when out of memory. Like torch-autograd's
 * `unbroadcast` and ggml's `ggml_repeat_back`. */
lt_tensor *lt_sum_to_shape(lt_tensor *g, int ndim, const int64_t *shape);

#endif
