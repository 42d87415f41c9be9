/* matmul against naive double-precision loops: every shape combination,
 * transposed / sliced / strided operands, gradients, errors, no copies on the
 * CblasTrans path, no leaks. */
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "core/lt_rng.h"
#include "core/lt_tensor.h"
#include "lt_test.h"
#include "ops/matmul.h"
#include "ops/view.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

static lt_tensor *randn(int nd, const int64_t *shape) {
  lt_tensor *t = lt_tensor_empty(nd, shape);
  lt_rng_fill_normal(t, 0, 1);
  return t;
}

/* Element (batch b, row i, col j) of an operand seen as [batch?][rows?][cols?]
 * following torch.matmul: a 1-D a is a row, a 1-D b a column; batch 1 broadcasts. */
static double elem(const lt_tensor *t, bool is_b, int64_t b, int64_t i, int64_t j) {
  int64_t off = t->offset;
  if (t->ndim == 1) return t->storage->data[off + (is_b ? i : j) * t->stride[0]];
  if (t->ndim == 3) off += (t->shape[0] == 1 ? 0 : b) * t->stride[0];
  return t->storage->data[off + i * t->stride[t->ndim - 2] + j * t->stride[t->ndim - 1]];
}

/* naive y = a @ b into want (batch x m x n, row-major), in double */
static double *naive(const lt_tensor *a, const lt_tensor *b, int64_t *count) {
  int64_t m = a->ndim == 1 ? 1 : a->shape[a->ndim - 2], k = a->shape[a->ndim - 1];
  int64_t n = b->ndim == 1 ? 1 : b->shape[b->ndim - 1];
  int64_t ba = a->ndim == 3 ? a->shape[0] : 1, bb = b->ndim == 3 ? b->shape[0] : 1;
  int64_t batch = ba == 1 ? bb : ba; /* a batch of 1 broadcasts, even against 0 */
  double *w = calloc((size_t)(batch * m * n + 1), sizeof *w);
  for (int64_t bi = 0; bi < batch; bi++)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t p = 0; p < k; p++) s += elem(a, false, bi, i, p) * elem(b, true, bi, p, j);
        w[(bi * m + i) * n + j] = s;
      }
  *count = batch * m * n;
  return w;
}

static void compare(lt_tensor *a, lt_tensor *b, const char *what) {
  lt_tensor *y = NULL;
  CHECK(lt_matmul(&y, a, b) == LT_OK);
  if (!y) return;
  int64_t count;
  double *w = naive(a, b, &count);
  CHECK(lt_tensor_numel(y) == count && lt_tensor_is_contiguous(y));
  if (lt_tensor_numel(y) != count || !lt_tensor_is_contiguous(y)) fprintf(stderr, "  (%s)\n", what);
  CHECK_ARRAY_CLOSE(lt_tensor_data(y), w, count, 1e-4);
  free(w);
  lt_tensor_release(y);
}

/* t as given, transposed storage, column slice, and every-other column */
enum { PLAIN, TRANSPOSED, SLICED, STRIDED, N_LAYOUTS };

static lt_tensor *make(int nd, const int64_t *shape, int layout) {
  int64_t s[4];
  memcpy(s, shape, (size_t)nd * sizeof *s);
  lt_tensor *base, *v = NULL;
  if (layout == PLAIN || (layout == TRANSPOSED && nd < 2)) return randn(nd, shape);
  if (layout == TRANSPOSED) {
    s[nd - 1] = shape[nd - 2], s[nd - 2] = shape[nd - 1];
    base = randn(nd, s);
    lt_transpose(&v, base, nd - 2, nd - 1);
  } else if (layout == SLICED) {
    s[nd - 1] += 3;
    base = randn(nd, s);
    lt_narrow(&v, base, nd - 1, 2, shape[nd - 1]);
  } else {
    s[nd] = 2;
    base = randn(nd + 1, s);
    lt_select(&v, base, nd, 1);
  }
  lt_tensor_release(base);
  return v;
}

TEST(every_shape_and_layout_matches_naive) {
  struct { int na, nb; int64_t a[3], b[3]; } c[] = {
    {2, 2, {3, 4}, {4, 5}},       {1, 1, {4}, {4}},           {2, 1, {3, 4}, {4}},
    {1, 2, {4}, {4, 5}},          {3, 3, {2, 3, 4}, {2, 4, 5}}, {3, 2, {2, 3, 4}, {4, 5}},
    {2, 3, {3, 4}, {2, 4, 5}},    {3, 3, {1, 3, 4}, {2, 4, 5}}, {3, 3, {2, 3, 4}, {1, 4, 5}},
    {3, 1, {2, 3, 4}, {4}},       {1, 3, {4}, {2, 4, 5}},     {2, 2, {1, 4}, {4, 1}},
    {2, 2, {5, 1}, {1, 6}},       {2, 2, {1, 4}, {4, 6}},     {2, 2, {6, 4}, {4, 1}},
    {3, 3, {3, 1, 4}, {3, 4, 5}}, {2, 2, {3, 0}, {0, 5}},     {3, 2, {0, 3, 4}, {4, 2}},
    {2, 2, {67, 129}, {129, 33}}, {3, 2, {5, 40, 70}, {70, 30}}, {2, 3, {30, 70}, {5, 70, 40}},
  };
  size_t live = lt_mem_live();
  for (size_t k = 0; k < sizeof c / sizeof c[0]; k++)
    for (int la = 0; la < N_LAYOUTS; la++)
      for (int lb = 0; lb < N_LAYOUTS; lb++) {
        lt_tensor *a = make(c[k].na, c[k].a, la), *b = make(c[k].nb, c[k].b, lb);
        char what[64];
        snprintf(what, sizeof what, "case %zu, layouts %d %d", k, la, lb);
        compare(a, b, what);
        lt_tensor_release(a);
        lt_tensor_release(b);
      }
  CHECK(lt_mem_live() == live);
}

TEST(transposed_operands_are_not_copied) {
  int64_t sa[2] = {200, 300}, sb[2] = {100, 200};
  lt_tensor *a = randn(2, sa), *b = randn(2, sb), *at, *bt, *y;
  lt_transpose(&at, a, 0, 1); /* 300x200, rows contiguous */
  lt_transpose(&bt, b, 0, 1); /* 200x100 */
  size_t before = lt_mem_allocated_total();
  CHECK(lt_matmul(&y, at, bt) == LT_OK);
  size_t used = lt_mem_allocated_total() - before;
  CHECK(used < 300 * 100 * sizeof(float) + 1024); /* the result only */
  compare(at, bt, "transposed");
  lt_tensor_release(y);
  lt_tensor_release(at);
  lt_tensor_release(bt);
  lt_tensor_release(a);
  lt_tensor_release(b);
}

/* dA = G @ B^T and dB = A^T @ G with a batch summed where it was broadcast */
static void check_grads(int na, const int64_t *sa, int nb, const int64_t *sb, bool transpose_a) {
  lt_tensor *a0 = randn(na, sa), *b = randn(nb, sb), *a = a0, *y, *g;
  if (transpose_a) { /* the same values through a non-contiguous leaf */
    int64_t s[3];
    memcpy(s, sa, (size_t)na * sizeof *s);
    s[na - 1] = sa[na - 2], s[na - 2] = sa[na - 1];
    lt_tensor *c = randn(na, s);
    lt_transpose(&a, c, na - 2, na - 1);
    lt_tensor_release(c);
    lt_tensor_release(a0);
  }
  a->requires_grad = b->requires_grad = true;
  CHECK(lt_matmul(&y, a, b) == LT_OK);
  g = randn(y->ndim, y->shape);
  CHECK(lt_backward(y, g, false) == LT_OK);
  int64_t m = sa[na - 2], k = sa[na - 1], n = sb[nb - 1];
  int64_t ba = na == 3 ? sa[0] : 1, bb = nb == 3 ? sb[0] : 1, batch = ba == 1 ? bb : ba;
  double *da = calloc((size_t)(ba * m * k), sizeof *da), *db = calloc((size_t)(bb * k * n), sizeof *db);
  for (int64_t bi = 0; bi < batch; bi++)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double gv = lt_tensor_data(g)[(bi * m + i) * n + j];
        for (int64_t p = 0; p < k; p++) {
          da[((ba == 1 ? 0 : bi) * m + i) * k + p] += gv * elem(b, true, bi, p, j);
          db[((bb == 1 ? 0 : bi) * k + p) * n + j] += gv * elem(a, false, bi, i, p);
        }
      }
  CHECK(a->grad && b->grad && lt_same_shape(a->grad, a) && lt_same_shape(b->grad, b));
  CHECK_ARRAY_CLOSE(lt_tensor_data(a->grad), da, ba * m * k, 1e-4);
  CHECK_ARRAY_CLOSE(lt_tensor_data(b->grad), db, bb * k * n, 1e-4);
  free(da);
  free(db);
  lt_tensor_release(y);
  lt_tensor_release(g);
  lt_tensor_release(a);
  lt_tensor_release(b);
}

TEST(gradients_match_naive) {
  int64_t s234[3] = {2, 3, 4}, s245[3] = {2, 4, 5}, s45[2] = {4, 5}, s34[2] = {3, 4}, s145[3] = {1, 4, 5};
  int64_t s134[3] = {1, 3, 4}, big_a[3] = {6, 20, 30}, big_b[2] = {30, 10};
  size_t live = lt_mem_live();
  for (int t = 0; t < 2; t++) {
    check_grads(3, s234, 3, s245, t);
    check_grads(3, s234, 2, s45, t);  /* b broadcast: dB summed (one GEMM over joined rows) */
    check_grads(2, s34, 3, s245, t);  /* a broadcast: dA summed */
    check_grads(3, s234, 3, s145, t);
    check_grads(3, s134, 3, s245, t);
    check_grads(2, s34, 2, s45, t);
    check_grads(3, big_a, 2, big_b, t);
  }
  CHECK(lt_mem_live() == live);
}

TEST(errors_name_the_shapes) {
  int64_t s34[2] = {3, 4}, s52[2] = {5, 2}, s234[3] = {2, 3, 4}, s345[3] = {3, 4, 5}, s4d[4] = {2, 2, 3, 4};
  lt_tensor *a = randn(2, s34), *b = randn(2, s52), *c = randn(3, s234), *d = randn(3, s345);
  lt_tensor *e = randn(4, s4d), *s = lt_tensor_full(0, NULL, 2), *y = NULL;
  CHECK(lt_matmul(&y, a, b) == LT_ERR_SHAPE);
  CHECK(!strcmp(lt_errmsg(), "matmul: shapes 3x4 and 5x2 do not match"));
  CHECK(lt_matmul(&y, c, d) == LT_ERR_SHAPE);
  CHECK(!strcmp(lt_errmsg(), "matmul: shapes 2x3x4 and 3x4x5 do not match (batch sizes 2 and 3)"));
  CHECK(lt_matmul(&y, e, a) == LT_ERR_SHAPE);
  CHECK(strstr(lt_errmsg(), "matmul: expects tensors of 1 to 3 dimensions, got shapes 2x2x3x4 and 3x4") != NULL);
  CHECK(lt_matmul(&y, s, a) == LT_ERR_SHAPE);
  CHECK(strstr(lt_errmsg(), "got shapes scalar and 3x4") != NULL);
  CHECK(y == NULL);
  lt_tensor_release(a);
  lt_tensor_release(b);
  lt_tensor_release(c);
  lt_tensor_release(d);
  lt_tensor_release(e);
  lt_tensor_release(s);
}

TEST(thread_setting_reaches_both_pools) {
  int was = lt_get_num_threads();
  lt_set_num_threads(1);
  CHECK(lt_get_num_threads() == 1);
  CHECK(openblas_get_num_threads() == 1);
  lt_set_num_threads(2);
  CHECK(lt_get_num_threads() == 2);
  CHECK(openblas_get_num_threads() == 2);
  lt_set_num_threads(was);
}

int main(void) {
  lt_rng_seed(11);
  RUN(every_shape_and_layout_matches_naive);
  RUN(transposed_operands_are_not_copied);
  RUN(gradients_match_naive);
  RUN(errors_name_the_shapes);
  RUN(thread_setting_reaches_both_pools);
  return lt_test_summary();
}
