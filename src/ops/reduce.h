/* Reductions with autograd: sum, mean, var, std, max, min, argmax, argmin.
 *
 * Each reduces either one dimension `dim` (0-based) or, with dim ==
 * LT_DIM_ALL, every element. The result drops the reduced dimension (a 0-dim
 * scalar when reducing all), or keeps it with size 1 when keepdim is true
 * (all dims of size 1 when reducing all), as in PyTorch.
 *
 * Accuracy: sums and variances accumulate in double (variance in two passes:
 * the mean, then the squared deviations), so results do not drift with the
 * number of elements. Results are bit-for-bit the same for any thread count.
 *
 * Indices (max, min, argmax, argmin) are float32 values counting from
 * `index_base` (0 in C, 1 from Lua): exact up to 2^24. Ties go to the first
 * occurrence; a NaN wins over numbers (the first NaN), as in PyTorch. */
#ifndef LT_REDUCE_H
#define LT_REDUCE_H

#include <stdbool.h>

#include "core/lt_error.h"
#include "core/lt_tensor.h"

#define LT_DIM_ALL (-1) /* reduce every element */

/* PyTorch: torch.sum(a[, dim, keepdim]). The sum of nothing is 0. */
lt_status lt_sum(lt_tensor **out, lt_tensor *a, int dim, bool keepdim);
/* PyTorch: torch.mean. The mean of nothing is NaN. */
lt_status lt_mean(lt_tensor **out, lt_tensor *a, int dim, bool keepdim);
/* PyTorch: torch.var(a, dim, correction=, keepdim): sum((x - mean)^2) / (n - correction);
 * correction 1 is the unbiased estimate (PyTorch's default), 0 the population
 * variance. NaN (or inf) when n - correction <= 0, as in PyTorch. */
lt_status lt_var(lt_tensor **out, lt_tensor *a, int dim, bool keepdim, int correction);
/* PyTorch: torch.std: sqrt(var). Its gradient is 0 where std is 0. */
lt_status lt_std(lt_tensor **out, lt_tensor *a, int dim, bool keepdim, int correction);

/* PyTorch: torch.max(a, dim, keepdim) -> (values, indices), and torch.max(a).
 * indices may be NULL when not wanted; with LT_DIM_ALL it holds the flat
 * (row-major) index. The gradient flows to the selected element only. An
 * empty reduced dimension is an error. */
lt_status lt_max(lt_tensor **values, lt_tensor **indices, lt_tensor *a, int dim, bool keepdim,
                 int index_base);
lt_status lt_min(lt_tensor **values, lt_tensor **indices, lt_tensor *a, int dim, bool keepdim,
                 int index_base);

/* PyTorch: torch.argmax(a, dim, keepdim): indices only (no gradient). */
lt_status lt_argmax(lt_tensor **out, lt_tensor *a, int dim, bool keepdim, int index_base);
lt_status lt_argmin(lt_tensor **out, lt_tensor *a, int dim, bool keepdim, int index_base);
/* The 0-based flat (row-major) index of the largest / smallest element, exact
 * for any size. */
lt_status lt_argmax_all(int64_t *index, lt_tensor *a);
lt_status lt_argmin_all(int64_t *index, lt_tensor *a);

#endif
