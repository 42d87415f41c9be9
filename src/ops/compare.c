/* Comparisons to masks: eq, ne, lt, le, gt, ge on two tensors (broadcasting)
 * or a tensor and a number. The result is a float tensor of 1 where the
 * comparison holds and 0 elsewhere (PyTorch gives bool; a float mask can be
 * multiplied in directly). Not differentiable: nothing is recorded. NaN
 * compares unequal to everything, itself included, as in IEEE. */
#include "ops/elementwise.h"
#include "ops/elementwise_iter.h"
#include "ops/broadcast.h"

#include <stddef.h>

LT_EW_BINARY(row_eq, (float)(X == Y))
LT_EW_BINARY(row_ne, (float)(X != Y))
LT_EW_BINARY(row_lt, (float)(X < Y))
LT_EW_BINARY(row_le, (float)(X <= Y))
LT_EW_BINARY(row_gt, (float)(X > Y))
LT_EW_BINARY(row_ge, (float)(X >= Y))
LT_EW_UNARY(row_eq_s, (float)(X == P0))
LT_EW_UNARY(row_ne_s, (float)(X != P0))
LT_EW_UNARY(row_lt_s, (float)(X < P0))
LT_EW_UNARY(row_le_s, (float)(X <= P0))
LT_EW_UNARY(row_gt_s, (float)(X > P0))
LT_EW_UNARY(row_ge_s, (float)(X >= P0))

static const struct {
  const char *name;
  lt_row_fn tensor, scalar;
} CMP[] = {
  [LT_CMP_EQ] = {"eq", row_eq, row_eq_s}, [LT_CMP_NE] = {"ne", row_ne, row_ne_s},
  [LT_CMP_LT] = {"lt", row_lt, row_lt_s}, [LT_CMP_LE] = {"le", row_le, row_le_s},
  [LT_CMP_GT] = {"gt", row_gt, row_gt_s}, [LT_CMP_GE] = {"ge", row_ge, row_ge_s},
};

/* mask = a <cmp> b, a and b broadcast together. PyTorch: torch.eq, torch.gt, ... */
lt_status lt_compare(lt_tensor **out, lt_cmp cmp, lt_tensor *a, lt_tensor *b) {
  LT_ASSERT(cmp >= LT_CMP_EQ && cmp <= LT_CMP_GE);
  int nd;
  int64_t shape[LT_MAX_DIMS];
  lt_status st = lt_broadcast_shape(CMP[cmp].name, a, b, &nd, shape);
  if (st != LT_OK) return st;
  lt_tensor *ops[2] = {a, b};
  lt_tensor *y = lt_ew_new(nd, shape, CMP[cmp].tensor, 2, ops, NULL, 0);
  if (!y) return LT_ERR_MEMORY;
  *out = y;
  return LT_OK;
}

/* mask = a <cmp> s */
lt_status lt_compare_scalar(lt_tensor **out, lt_cmp cmp, lt_tensor *a, float s) {
  LT_ASSERT(cmp >= LT_CMP_EQ && cmp <= LT_CMP_GE);
  float p[4] = {s, 0, 0, 0};
  lt_tensor *y = lt_ew_new(a->ndim, a->shape, CMP[cmp].scalar, 1, &a, p, 0);
  if (!y) return LT_ERR_MEMORY;
  *out = y;
  return LT_OK;
}
