/* Reduction kernels against naive double-precision loops, with their
 * gradients, errors, and no leaks. */
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "core/lt_rng.h"
#include "core/lt_tensor.h"
#include "lt_test.h"
#include "ops/reduce.h"
#include "ops/view.h"

#include <stdlib.h>
#include <string.h>

static lt_tensor *randn(int nd, const int64_t *shape) {
  lt_tensor *t = lt_tensor_empty(nd, shape);
  lt_rng_fill_normal(t, 0, 1);
  return t;
}

/* Value at a multi-index, through the strides. */
static double at(const lt_tensor *t, const int64_t *idx) {
  int64_t off = t->offset;
  for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
  return t->storage->data[off];
}

enum { SUM, MEAN, VAR0, VAR1, STD1, MAX, MIN };

/* Naive reduction of t over dim (or all) for output element e (row-major over
 * the non-reduced dims); *arg receives the first index of the extreme. */
static double naive(const lt_tensor *t, int dim, int64_t e, int op, int64_t *arg) {
  int64_t n = dim == LT_DIM_ALL ? lt_tensor_numel(t) : t->shape[dim];
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  for (int64_t i = 0; i < n; i++) {
    int64_t idx[LT_MAX_DIMS], rest = dim == LT_DIM_ALL ? i : e;
    for (int d = t->ndim - 1; d >= 0; d--) {
      if (d == dim) { idx[d] = i; continue; }
      idx[d] = rest % t->shape[d];
      rest /= t->shape[d];
    }
    v[i] = at(t, idx);
  }
  double s = 0, m, r;
  for (int64_t i = 0; i < n; i++) s += v[i];
  m = s / (double)n;
  double ss = 0;
  for (int64_t i = 0; i < n; i++) ss += (v[i] - m) * (v[i] - m);
  *arg = 0;
  for (int64_t i = 1; i < n; i++)
    if (op == MAX ? v[i] > v[*arg] : v[i] < v[*arg]) *arg = i;
  switch (op) {
  case SUM: r = s; break;
  case MEAN: r = m; break;
  case VAR0: r = ss / (double)n; break;
  case VAR1: r = ss / (double)(n - 1); break;
  case STD1: r = sqrt(ss / (double)(n - 1)); break;
  default: r = v[*arg];
  }
  free(v);
  return r;
}

/* Runs op on t over dim and compares every output with the naive value. */
static void compare(lt_tensor *t, int dim, bool keepdim, int op) {
  lt_tensor *y = NULL, *ix = NULL, *am = NULL;
  lt_status st;
  switch (op) {
  case SUM: st = lt_sum(&y, t, dim, keepdim); break;
  case MEAN: st = lt_mean(&y, t, dim, keepdim); break;
  case VAR0: st = lt_var(&y, t, dim, keepdim, 0); break;
  case VAR1: st = lt_var(&y, t, dim, keepdim, 1); break;
  case STD1: st = lt_std(&y, t, dim, keepdim, 1); break;
  case MAX: st = lt_max(&y, &ix, t, dim, keepdim, 0); break;
  default: st = lt_min(&y, &ix, t, dim, keepdim, 0); break;
  }
  CHECK(st == LT_OK);
  if (st != LT_OK) return;
  int want_nd = dim == LT_DIM_ALL ? (keepdim ? t->ndim : 0) : t->ndim - !keepdim;
  CHECK(y->ndim == want_nd && lt_tensor_is_contiguous(y));
  int64_t m = lt_tensor_numel(y);
  double *want = malloc((size_t)m * sizeof *want), *want_i = malloc((size_t)m * sizeof *want_i);
  for (int64_t e = 0; e < m; e++) {
    int64_t arg;
    want[e] = naive(t, dim, e, op, &arg);
    want_i[e] = (double)arg;
  }
  double tol = 1e-5 * (dim == LT_DIM_ALL ? sqrt((double)lt_tensor_numel(t)) : 4);
  CHECK_ARRAY_CLOSE(lt_tensor_data(y), want, m, op >= MAX ? 0 : tol);
  if (ix) {
    CHECK_ARRAY_CLOSE(lt_tensor_data(ix), want_i, m, 0);
    CHECK((op == MAX ? lt_argmax : lt_argmin)(&am, t, dim, keepdim, 1) == LT_OK);
    for (int64_t e = 0; e < m; e++) want_i[e] += 1; /* base 1 */
    CHECK_ARRAY_CLOSE(lt_tensor_data(am), want_i, m, 0);
    if (dim == LT_DIM_ALL) {
      int64_t flat;
      CHECK((op == MAX ? lt_argmax_all(&flat, t) : lt_argmin_all(&flat, t)) == LT_OK);
      CHECK(flat == (int64_t)want_i[0] - 1);
    }
  }
  free(want);
  free(want_i);
  lt_tensor_release(y);
  lt_tensor_release(ix);
  lt_tensor_release(am);
}

static void compare_all_ops(lt_tensor *t) {
  for (int op = SUM; op <= MIN; op++)
    for (int dim = LT_DIM_ALL; dim < t->ndim; dim++)
      for (int keep = 0; keep < 2; keep++) {
        if ((op == VAR1 || op == STD1) && (dim == LT_DIM_ALL ? lt_tensor_numel(t) : t->shape[dim]) < 2) continue;
        compare(t, dim, keep, op);
      }
}

TEST(kernels_match_naive_loops) {
  int64_t shapes[][4] = {{37}, {5, 7}, {3, 4, 5}, {2, 3, 2100}, {2, 1, 3, 5}};
  int nds[] = {1, 2, 3, 3, 4};
  size_t live = lt_mem_live();
  for (int s = 0; s < 5; s++) {
    lt_tensor *t = randn(nds[s], shapes[s]);
    compare_all_ops(t);
    lt_tensor_release(t);
  }
  CHECK(lt_mem_live() == live);
}

TEST(non_contiguous_inputs) {
  int64_t shape[3] = {4, 5, 6};
  lt_tensor *t = randn(3, shape), *tr, *nar;
  CHECK(lt_transpose(&tr, t, 0, 2) == LT_OK);
  CHECK(!lt_tensor_is_contiguous(tr));
  compare_all_ops(tr);
  CHECK(lt_narrow(&nar, t, 1, 1, 3) == LT_OK);
  compare_all_ops(nar);
  lt_tensor_release(tr);
  lt_tensor_release(nar);
  lt_tensor_release(t);
}

TEST(chunked_and_parallel_paths) {
  /* long rows with few units are split into chunks; results must equal the
   * naive ones and not depend on the thread count */
  int64_t shapes[][3] = {{1, 300001, 1}, {1, 150001, 3}, {3, 100003, 1}, {2, 60000, 2}};
  for (int s = 0; s < 4; s++) {
    lt_tensor *t = lt_tensor_empty(3, shapes[s]);
    lt_rng_fill_uniform(t, -1, 1);
    compare(t, LT_DIM_ALL, false, SUM);
    compare(t, 1, false, SUM);
    compare(t, 1, false, VAR1);
    compare(t, 1, true, MAX);
    compare(t, 1, false, MIN);
    lt_tensor_release(t);
  }
}

TEST(accumulation_is_in_double) {
  int64_t n = (1 << 24) + 1000;
  lt_tensor *t = lt_tensor_full(1, &n, 1.0f), *s, *v;
  CHECK(lt_sum(&s, t, LT_DIM_ALL, false) == LT_OK);
  CHECK(lt_tensor_data(s)[0] == (float)n);
  int64_t shape[2] = {4, 1000000};
  lt_tensor *u = lt_tensor_full(2, shape, 1000.0f);
  lt_tensor_data(u)[0] = 1001.0f; /* mean 1000 + 1e-6, variance about 1e-6 */
  CHECK(lt_var(&v, u, LT_DIM_ALL, false, 0) == LT_OK);
  CHECK_CLOSE(lt_tensor_data(v)[0], 1.0 / 4e6, 1e-9);
  lt_tensor_release(t);
  lt_tensor_release(s);
  lt_tensor_release(u);
  lt_tensor_release(v);
}

TEST(ties_and_nan) {
  int64_t shape[2] = {2, 3};
  lt_tensor *t = lt_tensor_empty(2, shape), *v, *ix;
  float vals[6] = {1, 3, 3, 2, NAN, NAN};
  memcpy(lt_tensor_data(t), vals, sizeof vals);
  CHECK(lt_max(&v, &ix, t, 1, false, 0) == LT_OK);
  CHECK(lt_tensor_data(v)[0] == 3 && lt_tensor_data(ix)[0] == 1);
  CHECK(isnan(lt_tensor_data(v)[1]) && lt_tensor_data(ix)[1] == 1);
  lt_tensor_release(v);
  lt_tensor_release(ix);
  CHECK(lt_min(&v, &ix, t, 1, false, 0) == LT_OK);
  CHECK(lt_tensor_data(v)[0] == 1 && lt_tensor_data(ix)[0] == 0);
  CHECK(isnan(lt_tensor_data(v)[1]) && lt_tensor_data(ix)[1] == 1);
  int64_t flat;
  CHECK(lt_argmax_all(&flat, t) == LT_OK && flat == 4);
  lt_tensor_release(v);
  lt_tensor_release(ix);
  lt_tensor_release(t);
}

/* backward of op(x).sum-with-weights r: returns x.grad (a new reference) */
static lt_tensor *grad_of(lt_tensor *x, int op, int dim, bool keepdim) {
  lt_tensor *y = NULL;
  switch (op) {
  case SUM: lt_sum(&y, x, dim, keepdim); break;
  case MEAN: lt_mean(&y, x, dim, keepdim); break;
  case VAR1: lt_var(&y, x, dim, keepdim, 1); break;
  case STD1: lt_std(&y, x, dim, keepdim, 1); break;
  case MAX: lt_max(&y, NULL, x, dim, keepdim, 0); break;
  default: break;
  }
  lt_tensor *r = lt_tensor_empty_like(y);
  for (int64_t e = 0; e < lt_tensor_numel(r); e++) lt_tensor_data(r)[e] = (float)(e + 1);
  CHECK(lt_backward(y, r, false) == LT_OK);
  lt_tensor *g = lt_tensor_retain(x->grad);
  lt_tensor_release(x->grad);
  x->grad = NULL;
  lt_tensor_release(y);
  lt_tensor_release(r);
  return g;
}

TEST(gradients_match_formulas) {
  int64_t shape[3] = {2, 3, 4};
  lt_tensor *x = randn(3, shape);
  x->requires_grad = true;
  for (int dim = 0; dim < 3; dim++) {
    int64_t n = shape[dim];
    lt_tensor *gs = grad_of(x, SUM, dim, dim == 1), *gm = grad_of(x, MEAN, dim, false);
    lt_tensor *gv = grad_of(x, VAR1, dim, false), *gd = grad_of(x, STD1, dim, true);
    lt_tensor *gx = grad_of(x, MAX, dim, false);
    for (int64_t k = 0; k < 24; k++) {
      int64_t idx[3] = {k / 12, k / 4 % 3, k % 4}, e = 0, m, arg;
      for (int d = 0; d < 3; d++) /* the output element this input feeds */
        if (d != dim) e = e * shape[d] + idx[d];
      double w = (double)(e + 1), mean = naive(x, dim, e, MEAN, &m), sd = naive(x, dim, e, STD1, &m);
      naive(x, dim, e, MAX, &arg);
      double xv = lt_tensor_data(x)[k];
      CHECK_CLOSE(lt_tensor_data(gs)[k], w, 1e-6);
      CHECK_CLOSE(lt_tensor_data(gm)[k], w / (double)n, 1e-6);
      CHECK_CLOSE(lt_tensor_data(gv)[k], w * 2 * (xv - mean) / (double)(n - 1), 1e-5);
      CHECK_CLOSE(lt_tensor_data(gd)[k], w * (xv - mean) / ((double)(n - 1) * sd), 1e-4);
      CHECK_CLOSE(lt_tensor_data(gx)[k], idx[dim] == arg ? w : 0, 0);
    }
    lt_tensor_release(gs);
    lt_tensor_release(gm);
    lt_tensor_release(gv);
    lt_tensor_release(gd);
    lt_tensor_release(gx);
  }
  lt_tensor_release(x);
}

TEST(errors_name_the_function_and_shape) {
  int64_t shape[2] = {3, 4}, empty[2] = {0, 4};
  lt_tensor *t = randn(2, shape), *e = lt_tensor_zeros(2, empty), *y = NULL, *ix = NULL;
  CHECK(lt_sum(&y, t, 2, false) == LT_ERR_INDEX);
  CHECK(strstr(lt_errmsg(), "sum: dimension 3 out of range for a tensor of size 3x4") != NULL);
  CHECK(lt_var(&y, t, 0, false, -1) == LT_ERR_ARG);
  CHECK(strstr(lt_errmsg(), "var: correction must not be negative") != NULL);
  CHECK(lt_max(&y, &ix, e, 0, false, 0) == LT_ERR_SHAPE);
  CHECK(strstr(lt_errmsg(), "max: cannot reduce dimension 1 of size 0 (tensor of size 0x4)") != NULL);
  int64_t flat;
  CHECK(lt_argmin_all(&flat, e) == LT_ERR_SHAPE);
  CHECK(strstr(lt_errmsg(), "argmin: cannot reduce an empty tensor") != NULL);
  CHECK(y == NULL && ix == NULL);
  CHECK(lt_sum(&y, e, 0, false) == LT_OK && lt_tensor_numel(y) == 4 && lt_tensor_data(y)[3] == 0);
  lt_tensor_release(y);
  lt_tensor_release(t);
  lt_tensor_release(e);
}

int main(void) {
  lt_rng_seed(7);
  RUN(kernels_match_naive_loops);
  RUN(non_contiguous_inputs);
  RUN(chunked_and_parallel_paths);
  RUN(accumulation_is_in_double);
  RUN(ties_and_nan);
  RUN(gradients_match_formulas);
  RUN(errors_name_the_function_and_shape);
  return lt_test_summary();
}
