/* Elementwise kernels against naive double-precision loops: broadcasting,
 * non-contiguous operands, the threaded path, the exp approximation, edge
 * values, gradients, errors, and no leaks. */
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "core/lt_rng.h"
#include "core/lt_tensor.h"
#include "lt_test.h"
#include "ops/elementwise.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ==================== helpers ==================== */

static lt_tensor *randn(int nd, const int64_t *shape) {
  lt_tensor *t = lt_tensor_empty(nd, shape);
  lt_rng_fill_normal(t, 0, 1);
  return t;
}

static lt_tensor *uniform(int nd, const int64_t *shape, double lo, double hi) {
  lt_tensor *t = lt_tensor_empty(nd, shape);
  lt_rng_fill_uniform(t, lo, hi);
  return t;
}

/* A transposed view (last two dims swapped) of a fresh tensor: non-contiguous. */
static lt_tensor *transposed(lt_tensor *t) {
  int nd = t->ndim;
  int64_t shape[LT_MAX_DIMS], stride[LT_MAX_DIMS];
  memcpy(shape, t->shape, sizeof shape);
  memcpy(stride, t->stride, sizeof stride);
  shape[nd - 1] = t->shape[nd - 2], shape[nd - 2] = t->shape[nd - 1];
  stride[nd - 1] = t->stride[nd - 2], stride[nd - 2] = t->stride[nd - 1];
  lt_tensor *v = lt_tensor_alias(t, nd, shape, stride, t->offset);
  lt_tensor_release(t);
  return v;
}

/* t's value at output index idx (of an output with nd dims), broadcasting. */
static double at_b(const lt_tensor *t, int nd, const int64_t *idx) {
  int64_t off = t->offset;
  int lead = nd - t->ndim;
  for (int d = 0; d < t->ndim; d++)
    if (t->shape[d] != 1) off += idx[d + lead] * t->stride[d];
  return t->storage->data[off];
}

static void unravel(int nd, const int64_t *shape, int64_t e, int64_t *idx) {
  for (int d = nd - 1; d >= 0; d--) {
    idx[d] = e % shape[d];
    e /= shape[d];
  }
}

/* |got - want| <= tol * (1 + |want|), NaN matching NaN and inf matching inf. */
static int near(double got, double want, double tol) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  return fabs(got - want) <= tol * (1 + fabs(want));
}

typedef double (*ref3)(double, double, double);

/* Compares y (contiguous) with ref over y's shape; ops broadcast to it. */
static void check_values(const char *what, lt_tensor *y, int n_ops, lt_tensor **ops, ref3 ref, double tol) {
  CHECK(lt_tensor_is_contiguous(y));
  int64_t n = lt_tensor_numel(y), idx[LT_MAX_DIMS];
  const float *yd = lt_tensor_data(y);
  for (int64_t e = 0; e < n; e++) {
    unravel(y->ndim, y->shape, e, idx);
    double v[3] = {0, 0, 0};
    for (int k = 0; k < n_ops; k++) v[k] = at_b(ops[k], y->ndim, idx);
    double want = ref(v[0], v[1], v[2]);
    if (!near(yd[e], want, tol)) {
      fprintf(stderr, "%s: element %lld: got %.9g, want %.9g (inputs %g %g %g)\n", what, (long long)e,
              yd[e], want, v[0], v[1], v[2]);
      lt_test_current_failed = 1;
      return;
    }
  }
}

/* ==================== references ==================== */

static double r_add(double a, double b, double c) { return a + b; }
static double r_sub(double a, double b, double c) { return a - b; }
static double r_mul(double a, double b, double c) { return a * b; }
static double r_div(double a, double b, double c) { return a / b; }
static double r_pow(double a, double b, double c) { return pow(a, b); }
static double r_gt(double a, double b, double c) { return a > b; }
static double r_le(double a, double b, double c) { return a <= b; }
static double r_eq(double a, double b, double c) { return a == b; }
static double r_where(double c, double x, double y) { return c != 0 ? x : y; }

typedef lt_status (*binop)(lt_tensor **, lt_tensor *, lt_tensor *);

static void check_binary(const char *what, binop f, ref3 ref, lt_tensor *a, lt_tensor *b, double tol) {
  lt_tensor *y = NULL, *ops[2] = {a, b};
  CHECK(f(&y, a, b) == LT_OK);
  if (y) check_values(what, y, 2, ops, ref, tol);
  lt_tensor_release(y);
}

/* ==================== tests ==================== */

/* Every binary op over the broadcast cases of the brief, plus views. */
TEST(binary_broadcasting) {
  static const struct { int nda; int64_t sa[3]; int ndb; int64_t sb[3]; } cases[] = {
    {2, {2, 3}, 2, {2, 3}}, {2, {2, 3}, 1, {3}}, {2, {2, 1}, 2, {1, 3}}, {0, {0}, 2, {2, 3}},
    {3, {4, 1, 5}, 2, {3, 1}}, {1, {1}, 0, {0}}, {2, {0, 3}, 1, {3}},
  };
  static const struct { const char *name; binop f; ref3 ref; } ops[] = {
    {"add", lt_add, r_add}, {"sub", lt_sub, r_sub}, {"mul", lt_mul, r_mul}, {"div", lt_div, r_div},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    lt_tensor *a = randn(cases[c].nda, cases[c].sa), *b = randn(cases[c].ndb, cases[c].sb);
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
      check_binary(ops[o].name, ops[o].f, ops[o].ref, a, b, 1e-6);
      check_binary(ops[o].name, ops[o].f, ops[o].ref, b, a, 1e-6);
    }
    lt_tensor_release(a);
    lt_tensor_release(b);
  }
  /* pow on a positive base, and with integer exponents on any base */
  int64_t s23[2] = {2, 3}, s3[1] = {3};
  lt_tensor *a = uniform(2, s23, 0.1, 3), *e = randn(1, s3);
  check_binary("pow", lt_pow, r_pow, a, e, 1e-5);
  lt_tensor_release(a);
  lt_tensor_release(e);
}

/* Transposed and sliced operands, small and large (threaded, many rows). */
TEST(binary_views) {
  for (int big = 0; big < 2; big++) {
    int64_t sh[2] = {big ? 300 : 3, big ? 257 : 4}, sht[2] = {sh[1], sh[0]};
    lt_tensor *at = transposed(randn(2, sht)); /* sh, non-contiguous */
    lt_tensor *b = randn(2, sh), *r = randn(1, &sh[1]);
    check_binary("add T", lt_add, r_add, at, b, 1e-6);
    check_binary("mul T,T", lt_mul, r_mul, at, at, 1e-6);
    check_binary("sub T,row", lt_sub, r_sub, at, r, 1e-6);
    check_binary("div row,T", lt_div, r_div, r, at, 1e-6);
    lt_tensor_release(at);
    lt_tensor_release(b);
    lt_tensor_release(r);
  }
  /* a column sliced from a matrix: stride 5 */
  int64_t m[2] = {6, 5}, col[2] = {6, 1}, cs[2] = {5, 5};
  lt_tensor *full = randn(2, m);
  lt_tensor *c = lt_tensor_alias(full, 2, col, cs, 2);
  lt_tensor *b = randn(2, m);
  check_binary("mul col", lt_mul, r_mul, c, b, 1e-6);
  lt_tensor_release(c);
  lt_tensor_release(full);
  lt_tensor_release(b);
}

/* The threaded path gives the same values as one thread, for long rows and
 * for many short rows, in a contiguous and in a strided layout. */
TEST(threads_agree) {
  int64_t big[1] = {1 << 20}, rows[2] = {50000, 3}, three[1] = {3};
  lt_tensor *a = randn(1, big), *r = randn(2, rows), *v = randn(1, three);
  int was = omp_get_max_threads();
  lt_tensor *y1 = NULL, *y2 = NULL, *z1 = NULL, *z2 = NULL;
  omp_set_num_threads(1);
  CHECK(lt_sigmoid(&y1, a) == LT_OK);
  CHECK(lt_mul(&z1, r, v) == LT_OK);
  omp_set_num_threads(3);
  CHECK(lt_sigmoid(&y2, a) == LT_OK);
  CHECK(lt_mul(&z2, r, v) == LT_OK);
  omp_set_num_threads(was);
  CHECK(!memcmp(lt_tensor_data(y1), lt_tensor_data(y2), sizeof(float) << 20));
  CHECK(!memcmp(lt_tensor_data(z1), lt_tensor_data(z2), sizeof(float) * 150000));
  lt_tensor *ops[2] = {r, v};
  check_values("mul rows", z2, 2, ops, r_mul, 1e-6);
  lt_tensor *rt = transposed(randn(2, (int64_t[]){3, 50000})), *w = NULL;
  omp_set_num_threads(3);
  CHECK(lt_add(&w, rt, r) == LT_OK);
  omp_set_num_threads(was);
  lt_tensor *ops2[2] = {rt, r};
  check_values("add transposed rows", w, 2, ops2, r_add, 1e-6);
  lt_tensor *t[] = {a, r, v, y1, y2, z1, z2, rt, w};
  for (size_t k = 0; k < sizeof t / sizeof *t; k++) lt_tensor_release(t[k]);
}

/* ---- ops with a number ---- */

static double g_s;
static double r_add_s(double a, double b, double c) { return a + g_s; }
static double r_sub_s(double a, double b, double c) { return a - g_s; }
static double r_rsub_s(double a, double b, double c) { return g_s - a; }
static double r_mul_s(double a, double b, double c) { return a * g_s; }
static double r_div_s(double a, double b, double c) { return a / g_s; }
static double r_rdiv_s(double a, double b, double c) { return g_s / a; }
static double r_pow_s(double a, double b, double c) { return pow(a, g_s); }
static double r_rpow_s(double a, double b, double c) { return pow(g_s, a); }

TEST(scalar_ops) {
  static const struct { const char *name; lt_status (*f)(lt_tensor **, lt_tensor *, float); ref3 ref; } ops[] = {
    {"add_s", lt_add_scalar, r_add_s}, {"sub_s", lt_sub_scalar, r_sub_s}, {"rsub_s", lt_rsub_scalar, r_rsub_s},
    {"mul_s", lt_mul_scalar, r_mul_s}, {"div_s", lt_div_scalar, r_div_s}, {"rdiv_s", lt_rdiv_scalar, r_rdiv_s},
    {"pow_s", lt_pow_scalar, r_pow_s}, {"rpow_s", lt_rpow_scalar, r_rpow_s},
  };
  static const float svals[] = {2.0f, 0.5f, -1.0f, 1.0f, 3.0f, 0.0f, -0.75f, 1.7f};
  int64_t sh[2] = {7, 9};
  lt_tensor *a = transposed(uniform(2, sh, 0.2, 3));
  for (size_t o = 0; o < sizeof ops / sizeof *ops; o++)
    for (size_t k = 0; k < sizeof svals / sizeof *svals; k++) {
      g_s = svals[k];
      lt_tensor *y = NULL;
      CHECK(ops[o].f(&y, a, svals[k]) == LT_OK);
      if (y) check_values(ops[o].name, y, 1, &a, ops[o].ref, 2e-6);
      lt_tensor_release(y);
    }
  lt_tensor_release(a);
}

/* ---- unary ---- */

static double r_neg(double a, double b, double c) { return -a; }
static double r_exp(double a, double b, double c) { return exp(a); }
static double r_log(double a, double b, double c) { return log(a); }
static double r_sqrt(double a, double b, double c) { return sqrt(a); }
static double r_square(double a, double b, double c) { return a * a; }
static double r_abs(double a, double b, double c) { return fabs(a); }
static double r_sign(double a, double b, double c) { return (a > 0) - (a < 0); }
static double r_tanh(double a, double b, double c) { return tanh(a); }
static double r_sigmoid(double a, double b, double c) { return 1 / (1 + exp(-a)); }
static double r_relu(double a, double b, double c) { return a > 0 ? a : 0; }
static double r_clamp(double a, double b, double c) { return a < -0.5 ? -0.5 : a > 0.7 ? 0.7 : a; }
static lt_status clamp_fixed(lt_tensor **y, lt_tensor *a) { return lt_clamp(y, a, -0.5f, 0.7f); }

TEST(unary_ops) {
  static const struct { const char *name; lt_status (*f)(lt_tensor **, lt_tensor *); ref3 ref; int positive; } ops[] = {
    {"neg", lt_neg, r_neg, 0}, {"exp", lt_exp, r_exp, 0}, {"log", lt_log, r_log, 1},
    {"sqrt", lt_sqrt, r_sqrt, 1}, {"square", lt_square, r_square, 0}, {"abs", lt_abs, r_abs, 0},
    {"sign", lt_sign, r_sign, 0}, {"tanh", lt_tanh, r_tanh, 0}, {"sigmoid", lt_sigmoid, r_sigmoid, 0},
    {"relu", lt_relu, r_relu, 0}, {"clamp", clamp_fixed, r_clamp, 0},
  };
  int64_t sh[2] = {40, 33};
  lt_tensor *x = transposed(uniform(2, sh, -4, 4)), *p = uniform(2, sh, 0.01, 10);
  for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
    lt_tensor *in = ops[o].positive ? p : x, *y = NULL;
    CHECK(ops[o].f(&y, in) == LT_OK);
    if (y) check_values(ops[o].name, y, 1, &in, ops[o].ref, 3e-7);
    lt_tensor_release(y);
  }
  lt_tensor_release(x);
  lt_tensor_release(p);
}

/* IEEE edge values: no errors, PyTorch's results. */
TEST(edge_values) {
  const float in[] = {0.0f, -1.0f, INFINITY, -INFINITY, NAN, 1e-30f, -100.0f, 100.0f};
  int64_t n[1] = {8};
  lt_tensor *x = lt_tensor_empty(1, n);
  memcpy(lt_tensor_data(x), in, sizeof in);
  lt_tensor *y = NULL;
  CHECK(lt_log(&y, x) == LT_OK);
  const float *v = lt_tensor_data(y);
  CHECK(v[0] == -INFINITY && isnan(v[1]) && v[2] == INFINITY && isnan(v[3]) && isnan(v[4]));
  lt_tensor_release(y);
  CHECK(lt_sqrt(&y, x) == LT_OK);
  v = lt_tensor_data(y);
  CHECK(v[0] == 0 && isnan(v[1]) && v[2] == INFINITY && isnan(v[4]));
  lt_tensor_release(y);
  CHECK(lt_sigmoid(&y, x) == LT_OK);
  v = lt_tensor_data(y);
  CHECK(v[0] == 0.5f && v[2] == 1.0f && v[3] == 0.0f && isnan(v[4]) && v[7] == 1.0f);
  CHECK(v[6] > 0 && fabs(v[6] - exp(-100.0)) <= 1e-45); /* subnormal, not 0 or NaN */
  lt_tensor_release(y);
  CHECK(lt_relu(&y, x) == LT_OK);
  v = lt_tensor_data(y);
  CHECK(v[1] == 0 && v[2] == INFINITY && v[3] == 0 && isnan(v[4]));
  lt_tensor_release(y);
  CHECK(lt_clamp(&y, x, -2, 2) == LT_OK);
  v = lt_tensor_data(y);
  CHECK(v[2] == 2 && v[3] == -2 && isnan(v[4]) && v[1] == -1);
  lt_tensor_release(y);
  CHECK(lt_sign(&y, x) == LT_OK);
  v = lt_tensor_data(y);
  CHECK(v[0] == 0 && v[1] == -1 && v[2] == 1 && v[3] == -1 && v[4] == 0);
  lt_tensor_release(y);
  CHECK(lt_rdiv_scalar(&y, x, 1) == LT_OK);
  v = lt_tensor_data(y);
  CHECK(v[0] == INFINITY && v[1] == -1);
  lt_tensor_release(y);
  lt_tensor_release(x);
}

/* Error of got against want in units of the float spacing at want. */
static double ulps(float got, double want) {
  float w = (float)want;
  double step = (double)nextafterf(fabsf(w), INFINITY) - fabsf(w);
  return fabs(got - want) / step;
}

typedef double (*ref1)(double);

/* The largest error in ulp of op over n inputs spread over [lo, hi], plus
 * every float between -2^-10 and 2^-10 stepped through bit patterns. */
static double worst_ulps(lt_status (*op)(lt_tensor **, lt_tensor *), ref1 ref, float lo, float hi) {
  enum { N = 400000 };
  int64_t n[1] = {N};
  lt_tensor *x = lt_tensor_empty(1, n), *y = NULL;
  float *xv = lt_tensor_data(x);
  for (int i = 0; i < N / 2; i++) xv[i] = lo + (hi - lo) * (float)i / (N / 2 - 1);
  for (int i = N / 2; i < N; i++) { /* small magnitudes, both signs, down to subnormals */
    uint32_t b = (uint32_t)(i - N / 2) * (0x3a800000u / (N / 2));
    memcpy(&xv[i], &b, sizeof b);
    if (i % 2) xv[i] = -xv[i];
    if (xv[i] < lo || xv[i] > hi) xv[i] = lo;
  }
  CHECK(op(&y, x) == LT_OK);
  double worst = 0;
  const float *yv = lt_tensor_data(y);
  for (int i = 0; i < N; i++) {
    double want = ref(xv[i]);
    if (fabs(want) > 3.4028234e38) { /* beyond FLT_MAX: inf, or FLT_MAX within half a step */
      CHECK(isinf(yv[i]) || fabsf(yv[i]) == 3.40282347e38f);
      continue;
    }
    double u = fabs(want) < 1.17549435e-38 ? fabs(yv[i] - want) / 1.4e-45 : ulps(yv[i], want);
    if (u > worst) worst = u;
  }
  lt_tensor_release(x);
  lt_tensor_release(y);
  return worst;
}

static double sigmoid_d(double x) { return 1 / (1 + exp(-x)); }

/* The vectorized exp, tanh, log and sigmoid against double precision. */
TEST(transcendental_accuracy) {
  double e = worst_ulps(lt_exp, exp, -104, 89);
  double t = worst_ulps(lt_tanh, tanh, -12, 12);
  double l = worst_ulps(lt_log, log, 0, 3e38f);
  double l2 = worst_ulps(lt_log, log, 0.5f, 2);
  double s = worst_ulps(lt_sigmoid, sigmoid_d, -110, 30);
  printf("worst error in ulp: exp %.2f, tanh %.2f, log %.2f / %.2f, sigmoid %.2f\n", e, t, l, l2, s);
  CHECK(e < 2 && t < 3 && l < 2 && l2 < 2 && s < 3);
  /* special values */
  const float sp[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-45f, 1e-8f, 89.0f, -1000.0f};
  int64_t n[1] = {9};
  lt_tensor *x = lt_tensor_empty(1, n), *y = NULL;
  memcpy(lt_tensor_data(x), sp, sizeof sp);
  CHECK(lt_exp(&y, x) == LT_OK);
  const float *v = lt_tensor_data(y);
  CHECK(v[0] == 1 && v[1] == 1 && v[2] == INFINITY && v[3] == 0 && isnan(v[4]) && v[5] == 1);
  CHECK(v[6] == 1.0f && v[7] == INFINITY && v[8] == 0);
  lt_tensor_release(y);
  CHECK(lt_tanh(&y, x) == LT_OK);
  v = lt_tensor_data(y);
  CHECK(v[0] == 0 && !signbit(v[0]) && v[1] == 0 && signbit(v[1]) && v[2] == 1 && v[3] == -1);
  CHECK(isnan(v[4]) && v[5] == 1e-45f && v[6] == 1e-8f && v[7] == 1 && v[8] == -1);
  lt_tensor_release(y);
  CHECK(lt_log(&y, x) == LT_OK);
  v = lt_tensor_data(y);
  CHECK(v[0] == -INFINITY && v[1] == -INFINITY && v[2] == INFINITY && isnan(v[3]) && isnan(v[4]));
  CHECK_CLOSE(v[5], log(1e-45f), 1e-5);
  CHECK(isnan(v[8]));
  lt_tensor_release(y);
  lt_tensor_release(x);
}

TEST(compare_and_where) {
  int64_t sh[2] = {4, 5}, row[1] = {5};
  lt_tensor *a = randn(2, sh), *b = randn(1, row), *m = NULL;
  lt_tensor_data(b)[2] = lt_tensor_data(a)[7]; /* an equal pair */
  static const struct { lt_cmp c; ref3 ref; } cs[] = {{LT_CMP_GT, r_gt}, {LT_CMP_LE, r_le}, {LT_CMP_EQ, r_eq}};
  for (size_t k = 0; k < 3; k++) {
    lt_tensor *ops[2] = {a, b};
    CHECK(lt_compare(&m, cs[k].c, a, b) == LT_OK);
    check_values("compare", m, 2, ops, cs[k].ref, 0);
    CHECK(!m->requires_grad);
    lt_tensor_release(m);
  }
  g_s = 0.25;
  CHECK(lt_compare_scalar(&m, LT_CMP_GE, a, 0.25f) == LT_OK);
  const float *av = lt_tensor_data(a), *mv = lt_tensor_data(m);
  for (int i = 0; i < 20; i++) CHECK(mv[i] == (av[i] >= 0.25f));
  /* where(mask 4x5, a 4x5, b 5) */
  lt_tensor *w = NULL, *ops[3] = {m, a, b};
  CHECK(lt_where(&w, m, a, b) == LT_OK);
  check_values("where", w, 3, ops, r_where, 0);
  lt_tensor_release(w);
  lt_tensor_release(m);
  lt_tensor_release(a);
  lt_tensor_release(b);
}

/* ---- gradients ---- */

/* Backward of sum(f(leaves) * 1) through lt_backward; returns leaf k's grad. */
static void run_backward(lt_tensor *y) {
  lt_tensor *g = lt_tensor_full(y->ndim, y->shape, 1.0f);
  CHECK(lt_backward(y, g, false) == LT_OK);
  lt_tensor_release(g);
}

static lt_tensor *leaf(int nd, const int64_t *shape, const float *v) {
  lt_tensor *t = lt_tensor_empty(nd, shape);
  memcpy(lt_tensor_data(t), v, (size_t)lt_tensor_numel(t) * sizeof *v);
  t->requires_grad = true;
  return t;
}

TEST(gradients_broadcast) {
  /* a 2x3 times b 3: da = b broadcast, db = column sums of a */
  int64_t s23[2] = {2, 3}, s3[1] = {3};
  lt_tensor *a = leaf(2, s23, (float[]){1, 2, 3, 4, 5, 6}), *b = leaf(1, s3, (float[]){2, -1, 0.5f});
  lt_tensor *y = NULL;
  CHECK(lt_mul(&y, a, b) == LT_OK);
  run_backward(y);
  const float *ga = lt_tensor_data(a->grad), *gb = lt_tensor_data(b->grad);
  CHECK(b->grad->ndim == 1 && b->grad->shape[0] == 3);
  for (int i = 0; i < 6; i++) CHECK(ga[i] == lt_tensor_data(b)[i % 3]);
  CHECK(gb[0] == 5 && gb[1] == 7 && gb[2] == 9);
  lt_tensor_release(y);
  /* a / b: db = -sum_rows a / b^2 */
  lt_tensor_release(a->grad), a->grad = NULL;
  lt_tensor_release(b->grad), b->grad = NULL;
  CHECK(lt_div(&y, a, b) == LT_OK);
  run_backward(y);
  gb = lt_tensor_data(b->grad);
  CHECK_CLOSE(gb[0], -5.0 / 4, 1e-6);
  CHECK_CLOSE(gb[1], -7.0 / 1, 1e-6);
  CHECK_CLOSE(gb[2], -9.0 / 0.25, 1e-5);
  CHECK_CLOSE(lt_tensor_data(a->grad)[4], 1 / -1.0, 1e-6);
  lt_tensor_release(y);
  lt_tensor_release(a);
  lt_tensor_release(b);
}

/* pow's special cases, as in PyTorch: d/da is 0 where e == 0, d/de is 0
 * where a == 0 and e >= 0. */
TEST(gradients_pow_at_zero) {
  int64_t s[1] = {4};
  lt_tensor *a = leaf(1, s, (float[]){0, 0, 2, 0}), *e = leaf(1, s, (float[]){0, 2, 3, -1});
  lt_tensor *y = NULL;
  CHECK(lt_pow(&y, a, e) == LT_OK);
  run_backward(y);
  const float *ga = lt_tensor_data(a->grad), *ge = lt_tensor_data(e->grad);
  CHECK(ga[0] == 0 && ga[1] == 0 && ga[2] == 12);
  CHECK(ge[0] == 0 && ge[1] == 0);
  CHECK_CLOSE(ge[2], 8 * log(2.0), 1e-5);
  lt_tensor_release(y);
  /* 0 ^ a as a number base: gradient 0 where a >= 0 */
  lt_tensor *x = leaf(1, s, (float[]){0, 1, 2, 0.5f});
  CHECK(lt_rpow_scalar(&y, x, 0) == LT_OK);
  run_backward(y);
  for (int i = 0; i < 4; i++) CHECK(lt_tensor_data(x->grad)[i] == 0);
  lt_tensor_release(y);
  lt_tensor_release(x);
  lt_tensor_release(a);
  lt_tensor_release(e);
}

/* clamp passes the gradient on [min, max] inclusive, relu only above 0 */
TEST(gradients_kinks) {
  int64_t s[1] = {5};
  lt_tensor *x = leaf(1, s, (float[]){-1, 0, 0.5f, 1, 2}), *y = NULL;
  CHECK(lt_clamp(&y, x, 0, 1) == LT_OK);
  run_backward(y);
  const float want_c[5] = {0, 1, 1, 1, 0};
  CHECK_ARRAY_CLOSE(lt_tensor_data(x->grad), want_c, 5, 0);
  lt_tensor_release(y);
  lt_tensor_release(x->grad), x->grad = NULL;
  CHECK(lt_relu(&y, x) == LT_OK);
  run_backward(y);
  const float want_r[5] = {0, 0, 1, 1, 1};
  CHECK_ARRAY_CLOSE(lt_tensor_data(x->grad), want_r, 5, 0);
  lt_tensor_release(y);
  lt_tensor_release(x->grad), x->grad = NULL;
  CHECK(lt_abs(&y, x) == LT_OK);
  run_backward(y);
  const float want_a[5] = {-1, 0, 1, 1, 1};
  CHECK_ARRAY_CLOSE(lt_tensor_data(x->grad), want_a, 5, 0);
  lt_tensor_release(y);
  lt_tensor_release(x->grad), x->grad = NULL;
  CHECK(lt_sign(&y, x) == LT_OK);
  run_backward(y);
  CHECK(!x->grad); /* a zero gradient: nothing accumulated */
  lt_tensor_release(y);
  lt_tensor_release(x);
}

TEST(where_gradient) {
  int64_t s23[2] = {2, 3}, s3[1] = {3};
  lt_tensor *c = lt_tensor_empty(2, s23);
  memcpy(lt_tensor_data(c), (float[]){1, 0, 1, 0, 0, 1}, 6 * sizeof(float));
  lt_tensor *x = leaf(2, s23, (float[]){1, 2, 3, 4, 5, 6}), *y = leaf(1, s3, (float[]){7, 8, 9}), *r = NULL;
  CHECK(lt_where(&r, c, x, y) == LT_OK);
  run_backward(r);
  const float want_x[6] = {1, 0, 1, 0, 0, 1}, want_y[3] = {1, 2, 0};
  CHECK_ARRAY_CLOSE(lt_tensor_data(x->grad), want_x, 6, 0);
  CHECK_ARRAY_CLOSE(lt_tensor_data(y->grad), want_y, 3, 0);
  lt_tensor_release(r);
  lt_tensor_release(c);
  lt_tensor_release(x);
  lt_tensor_release(y);
}

TEST(errors) {
  int64_t s34[2] = {3, 4}, s52[2] = {5, 2}, s2[1] = {2};
  lt_tensor *a = lt_tensor_zeros(2, s34), *b = lt_tensor_zeros(2, s52), *c = lt_tensor_zeros(1, s2);
  lt_tensor *y = NULL;
  CHECK(lt_add(&y, a, b) == LT_ERR_SHAPE);
  CHECK(!strcmp(lt_errmsg(), "add: shapes 3x4 and 5x2 cannot be broadcast together"));
  CHECK(lt_pow(&y, b, a) == LT_ERR_SHAPE);
  CHECK(!strcmp(lt_errmsg(), "pow: shapes 5x2 and 3x4 cannot be broadcast together"));
  CHECK(lt_compare(&y, LT_CMP_GT, a, c) == LT_ERR_SHAPE);
  CHECK(!strcmp(lt_errmsg(), "gt: shapes 3x4 and 2 cannot be broadcast together"));
  CHECK(lt_where(&y, c, a, a) == LT_ERR_SHAPE);
  CHECK(!strcmp(lt_errmsg(), "where: shapes 2, 3x4 and 3x4 cannot be broadcast together"));
  CHECK(y == NULL);
  lt_tensor_release(a);
  lt_tensor_release(b);
  lt_tensor_release(c);
}

int main(void) {
  lt_rng_seed(7);
  size_t live = lt_mem_live();
  RUN(binary_broadcasting);
  RUN(binary_views);
  RUN(threads_agree);
  RUN(scalar_ops);
  RUN(unary_ops);
  RUN(edge_values);
  RUN(transcendental_accuracy);
  RUN(compare_and_where);
  RUN(gradients_broadcast);
  RUN(gradients_pow_at_zero);
  RUN(gradients_kinks);
  RUN(where_gradient);
  RUN(errors);
  CHECK(lt_mem_live() == live); /* everything released */
  return lt_test_summary();
}
