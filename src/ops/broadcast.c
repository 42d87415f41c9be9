/* Broadcast shapes and the reduction that undoes a broadcast in backward. */
#include "ops/broadcast.h"

#include <string.h>

lt_status lt_broadcast_shape(const char *fn, const lt_tensor *a, const lt_tensor *b,
                             int *out_ndim, int64_t out_shape[LT_MAX_DIMS]) {
  int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int k = 0; k < nd; k++) { /* k counts from the right */
    int64_t da = k < a->ndim ? a->shape[a->ndim - 1 - k] : 1;
    int64_t db = k < b->ndim ? b->shape[b->ndim - 1 - k] : 1;
    if (da != db && da != 1 && db != 1) {
      char sa[LT_SHAPE_STR], sb[LT_SHAPE_STR];
      return lt_error(LT_ERR_SHAPE, "%s: shapes %s and %s cannot be broadcast together", fn,
                      LT_SHAPE(a, sa), LT_SHAPE(b, sb));
    }
    out_shape[nd - 1 - k] = da == 1 ? db : da;
  }
  *out_ndim = nd;
  return LT_OK;
}

void lt_broadcast_strides(const lt_tensor *t, int ndim, const int64_t *shape,
                          int64_t stride[LT_MAX_DIMS]) {
  int lead = ndim - t->ndim;
  LT_ASSERT(lead >= 0);
  for (int d = 0; d < ndim; d++) {
    if (d < lead) stride[d] = 0;
    else stride[d] = (t->shape[d - lead] == 1 && shape[d] != 1) ? 0 : t->stride[d - lead];
  }
}

lt_tensor *lt_sum_to_shape(lt_tensor *g, int ndim, const int64_t *shape) {
  if (g->ndim == ndim && !memcmp(g->shape, shape, (size_t)ndim * sizeof *shape))
    return lt_tensor_retain(g);
  lt_tensor *r = lt_tensor_zeros(ndim, shape);
  if (!r) return NULL;
  /* View r with g's shape (stride 0 where summed) and add g into it. */
  int64_t rs[LT_MAX_DIMS];
  lt_broadcast_strides(r, g->ndim, g->shape, rs);
  int nd = g->ndim;
  int64_t n = lt_tensor_numel(g);
  if (n == 0) return r;
  int64_t idx[LT_MAX_DIMS] = {0}, inner = nd ? g->shape[nd - 1] : 1;
  int64_t gs_in = nd ? g->stride[nd - 1] : 1, rs_in = nd ? rs[nd - 1] : 1;
  float *rd = lt_tensor_data(r);
  const float *gd = lt_tensor_data(g);
  for (int64_t row = 0; row < n / inner; row++) {
    int64_t og = 0, orr = 0;
    for (int k = 0; k < nd - 1; k++) {
      og += idx[k] * g->stride[k];
      orr += idx[k] * rs[k];
    }
    if (rs_in == 0) {
      double s = 0;
      for (int64_t i = 0; i < inner; i++) s += gd[og + i * gs_in];
      rd[orr] += (float)s;
    } else {
      for (int64_t i = 0; i < inner; i++) rd[orr + i * rs_in] += gd[og + i * gs_in];
    }
    for (int k = nd - 2; k >= 0 && ++idx[k] == g->shape[k]; k--) idx[k] = 0;
  }
  return r;
}
