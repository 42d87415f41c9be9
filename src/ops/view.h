/* Views, copies, indexing and joining, with autograd.
 *
 * Views (view, narrow, select, transpose, permute, unsqueeze, squeeze, expand)
 * share the input's storage; their backward puts the gradient back into the
 * input's geometry. Dimensions and indices are 0-based. */
#ifndef LT_VIEW_H
#define LT_VIEW_H

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* shape may hold one -1, inferred from the number of elements. view fails when
 * the strides do not allow it (PyTorch's rule); reshape copies then. */
lt_status lt_view(lt_tensor **out, lt_tensor *a, int ndim, const int64_t *shape);
lt_status lt_reshape(lt_tensor **out, lt_tensor *a, int ndim, const int64_t *shape);
lt_status lt_narrow(lt_tensor **out, lt_tensor *a, int dim, int64_t start, int64_t length);
lt_status lt_select(lt_tensor **out, lt_tensor *a, int dim, int64_t index);
lt_status lt_transpose(lt_tensor **out, lt_tensor *a, int d0, int d1);
lt_status lt_permute(lt_tensor **out, lt_tensor *a, const int *perm); /* perm has a->ndim entries */
lt_status lt_unsqueeze(lt_tensor **out, lt_tensor *a, int dim);      /* dim in [0, ndim] */
lt_status lt_squeeze(lt_tensor **out, lt_tensor *a, int dim);        /* dim < 0: every size-1 dim */
/* shape may hold -1 to keep a size; new dimensions go in front. */
lt_status lt_expand(lt_tensor **out, lt_tensor *a, int ndim, const int64_t *shape);

lt_status lt_contiguous(lt_tensor **out, lt_tensor *a); /* a itself when already contiguous */
lt_status lt_clone(lt_tensor **out, lt_tensor *a);
lt_status lt_detach(lt_tensor **out, lt_tensor *a);     /* shares storage, no history */

/* index holds n 0-based indices into dimension dim. */
lt_status lt_index_select(lt_tensor **out, lt_tensor *a, int dim, const int64_t *index, int64_t n);
lt_status lt_cat(lt_tensor **out, int n, lt_tensor *const *ts, int dim);
lt_status lt_stack(lt_tensor **out, int n, lt_tensor *const *ts, int dim);

/* In place, no history: dst = src broadcast to dst's shape. */
lt_status lt_copy_(lt_tensor *dst, lt_tensor *src);
/* An in-place write to t is allowed unless autograd would miss it. */
lt_status lt_check_inplace(const char *fn, const lt_tensor *t);

#endif
