/* Core and autograd engine tests, in C without Lua. */
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "core/lt_rng.h"
#include "core/lt_tensor.h"
#include "lt_test.h"
#include "ops/broadcast.h"
#include "ops/view.h"

#include <string.h>

static lt_tensor *arange(int ndim, const int64_t *shape) {
  lt_tensor *t = lt_tensor_empty(ndim, shape);
  for (int64_t i = 0; i < lt_tensor_numel(t); i++) lt_tensor_data(t)[i] = (float)i;
  return t;
}

TEST(strides_and_contiguity) {
  int64_t shape[3] = {2, 3, 4};
  lt_tensor *t = lt_tensor_zeros(3, shape);
  CHECK(t->stride[0] == 12 && t->stride[1] == 4 && t->stride[2] == 1);
  CHECK(lt_tensor_is_contiguous(t));
  lt_tensor *tr;
  CHECK(lt_transpose(&tr, t, 0, 2) == LT_OK);
  CHECK(!lt_tensor_is_contiguous(tr));
  CHECK(tr->storage == t->storage && t->storage->refcount == 2);
  lt_tensor_release(tr);
  CHECK(t->storage->refcount == 1);
  lt_tensor_release(t);
}

TEST(strided_copy_of_transpose) {
  int64_t shape[2] = {3, 4};
  lt_tensor *a = arange(2, shape), *t, *c;
  CHECK(lt_transpose(&t, a, 0, 1) == LT_OK);
  c = lt_tensor_copy_values(t);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++) CHECK(lt_tensor_data(c)[i * 3 + j] == (float)(j * 4 + i));
  lt_tensor_release(c);
  lt_tensor_release(t);
  lt_tensor_release(a);
}

TEST(shape_errors_name_the_function) {
  int64_t shape[2] = {3, 4}, bad[2] = {5, 5};
  lt_tensor *a = arange(2, shape), *v = NULL;
  CHECK(lt_view(&v, a, 2, bad) == LT_ERR_SHAPE);
  CHECK(v == NULL);
  CHECK(strstr(lt_errmsg(), "view: cannot view 3x4 (12 elements) as 5x5 (25 elements)") != NULL);
  CHECK(lt_narrow(&v, a, 1, 3, 2) == LT_ERR_INDEX);
  CHECK(strstr(lt_errmsg(), "narrow:") != NULL);
  lt_tensor_release(a);
}

TEST(too_large_tensor_is_an_error) {
  int64_t huge[3] = {1 << 20, 1 << 20, 1 << 20};
  CHECK(lt_tensor_empty(3, huge) == NULL);
  CHECK(strstr(lt_errmsg(), "too large") != NULL);
}

TEST(rng_is_reproducible_and_unbiased) {
  lt_rng_seed(42);
  uint64_t a = lt_rng_u64(), b = lt_rng_u64();
  lt_rng_seed(42);
  CHECK(lt_rng_u64() == a && lt_rng_u64() == b);
  int counts[3] = {0};
  for (int i = 0; i < 30000; i++) counts[lt_rng_int(0, 2)]++;
  for (int k = 0; k < 3; k++) CHECK(counts[k] > 9500 && counts[k] < 10500);
  lt_rng_state s;
  lt_rng_get_state(&s);
  double x = lt_rng_normal();
  lt_rng_set_state(&s);
  CHECK(lt_rng_normal() == x);
}

TEST(sum_to_shape_reduces_broadcast_dims) {
  int64_t gs[3] = {2, 3, 4}, target[2] = {1, 4};
  lt_tensor *g = arange(3, gs);
  lt_tensor *r = lt_sum_to_shape(g, 2, target);
  CHECK(r->ndim == 2 && r->shape[0] == 1 && r->shape[1] == 4);
  for (int j = 0; j < 4; j++) {
    double want = 0;
    for (int i = 0; i < 6; i++) want += i * 4 + j;
    CHECK_CLOSE(lt_tensor_data(r)[j], want, 1e-4);
  }
  lt_tensor_release(r);
  lt_tensor_release(g);
}

/* y = cat(x, x[1:]) backward: x.grad = [1, 2, 2] */
TEST(backward_accumulates_over_paths) {
  int64_t n = 3;
  lt_tensor *x = lt_tensor_zeros(1, &n), *tail, *y;
  x->requires_grad = true;
  CHECK(lt_narrow(&tail, x, 0, 1, 2) == LT_OK);
  lt_tensor *parts[2] = {x, tail};
  CHECK(lt_cat(&y, 2, parts, 0) == LT_OK);
  CHECK(y->grad_fn != NULL);
  lt_tensor *g = lt_tensor_full(1, y->shape, 1.0f);
  CHECK(lt_backward(y, g, false) == LT_OK);
  float want[3] = {1, 2, 2};
  CHECK_ARRAY_CLOSE(lt_tensor_data(x->grad), want, 3, 0);
  CHECK(lt_backward(y, g, false) == LT_ERR_STATE); /* freed graph */
  lt_tensor_release(g);
  lt_tensor_release(y);
  lt_tensor_release(tail);
  lt_tensor_release(x);
}

TEST(everything_is_freed) {
  size_t live = lt_mem_live();
  int64_t shape[2] = {4, 5};
  lt_tensor *x = arange(2, shape), *y, *z;
  x->requires_grad = true;
  CHECK(lt_transpose(&y, x, 0, 1) == LT_OK);
  CHECK(lt_contiguous(&z, y) == LT_OK);
  lt_tensor_release(y);
  lt_tensor_release(x);
  lt_tensor_release(z); /* the last reference: frees the graph and x */
  CHECK(lt_mem_live() == live);
}

int main(void) {
  RUN(strides_and_contiguity);
  RUN(strided_copy_of_transpose);
  RUN(shape_errors_name_the_function);
  RUN(too_large_tensor_is_an_error);
  RUN(rng_is_reproducible_and_unbiased);
  RUN(sum_to_shape_reduces_broadcast_dims);
  RUN(backward_accumulates_over_paths);
  RUN(everything_is_freed);
  return lt_test_summary();
}
