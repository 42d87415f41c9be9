/* linear, batch_norm, the activations' and losses' kernels against naive
 * double-precision loops: forward and backward, the threaded paths (and that
 * they give the same bits as one thread), the branch-free math of
 * activation.h, and no leaks. */
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "core/lt_rng.h"
#include "core/lt_tensor.h"
#include "lt_test.h"
#include "ops/activation.h"
#include "ops/fastmath.h"
#include "ops/linear.h"
#include "ops/loss.h"
#include "ops/matmul.h"
#include "ops/norm.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ==================== helpers ==================== */

static lt_tensor *randn(int nd, const int64_t *shape) {
  lt_tensor *t = lt_tensor_empty(nd, shape);
  lt_rng_fill_normal(t, 0, 1);
  return t;
}

static lt_tensor *leaf(lt_tensor *t) {
  t->requires_grad = true;
  return t;
}

/* The largest |got - want| / (1 + |want|) over n values. */
static double rel_err(const float *got, const double *want, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    double e = fabs(got[i] - want[i]) / (1 + fabs(want[i]));
    if (e > worst || e != e) worst = e;
  }
  return worst;
}

static bool same_bits(const lt_tensor *a, const lt_tensor *b) {
  int64_t n = lt_tensor_numel(a);
  return n == lt_tensor_numel(b) && !memcmp(lt_tensor_data(a), lt_tensor_data(b), (size_t)n * sizeof(float));
}

static double *dalloc(int64_t n) { return calloc((size_t)(n ? n : 1), sizeof(double)); }

/* ==================== branch-free math ==================== */

/* Relative error of f against ref over a sweep [lo, hi], in units of float
 * epsilon; values of ref below `tiny` are compared absolutely. */
static double sweep(float (*f)(float), double (*ref)(double), double lo, double hi, double tiny) {
  double worst = 0;
  for (int i = 0; i <= 200000; i++) {
    float x = (float)(lo + (hi - lo) * i / 200000.0);
    double want = ref(x), got = f(x);
    double e = fabs(got - want) / fmax(fabs(want), tiny) / FLT_EPSILON;
    if (e > worst) worst = e;
  }
  return worst;
}

static float f_exp(float x) { return lt_fm_exp(x); }
static float f_expm1(float x) { return lt_fm_expm1(x); }
static float f_log(float x) { return lt_fm_log(x); }
static float f_log1p(float x) { return lt_fm_log1p(x); }
static float f_log1p_unit(float x) { return lt_fm_log1p_unit(x); }
static float f_sigmoid(float x) { return lt_fm_sigmoid(x); }
static float f_softplus(float x) { return lt_fm_softplus(x); }
static double d_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double d_softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

TEST(fast_math_accuracy) {
  CHECK(sweep(f_exp, exp, -87, 88, 1e-300) < 4);
  CHECK(sweep(f_exp, exp, -103, -87, 1e-300) < 4e6); /* subnormal results: absolute below */
  CHECK(sweep(f_expm1, expm1, -20, 20, 1e-300) < 4);
  CHECK(sweep(f_expm1, expm1, -1e-3, 1e-3, 1e-300) < 4);
  CHECK(sweep(f_log, log, 1e-30, 10, 1e-300) < 4);
  CHECK(sweep(f_log, log, 0.5, 2, 1e-300) < 4);
  CHECK(sweep(f_log1p, log1p, -0.999, 10, 1e-300) < 4);
  CHECK(sweep(f_log1p, log1p, -1e-5, 1e-5, 1e-300) < 4);
  CHECK(sweep(f_log1p_unit, log1p, 0, 1, 1e-300) < 4);
  CHECK(sweep(f_log1p_unit, log1p, 0, 1e-6, 1e-300) < 4);
  CHECK(sweep(f_sigmoid, d_sigmoid, -80, 80, 1e-300) < 4);
  CHECK(sweep(f_softplus, d_softplus, -80, 80, 1e-300) < 4);
  CHECK(lt_fm_exp(-INFINITY) == 0 && lt_fm_exp(INFINITY) == INFINITY && isnan(lt_fm_exp(NAN)));
  CHECK(lt_fm_log(0) == -INFINITY && isnan(lt_fm_log(-1)) && lt_fm_log(INFINITY) == INFINITY);
  CHECK(fabs(lt_fm_log(1e-40f) - log(1e-40f)) < 1e-5); /* subnormal input */
  CHECK(lt_fm_log1p(-1) == -INFINITY && lt_fm_expm1(-100) == -1.0f);
  CHECK(lt_fm_softplus(100) == 100 && lt_fm_softplus(-200) == 0);
}

/* ==================== linear ==================== */

/* y = x w^T + b and the three gradients, in double, for an upstream g. */
static void linear_ref(const lt_tensor *x, const lt_tensor *w, const lt_tensor *b, const lt_tensor *g, double *y,
                       double *gx, double *gw, double *gb) {
  int64_t M = x->shape[0], K = x->shape[1], N = w->shape[0];
  const float *X = lt_tensor_data(x), *W = lt_tensor_data(w), *B = lt_tensor_data(b), *G = lt_tensor_data(g);
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = B[j];
      for (int64_t k = 0; k < K; k++) s += (double)X[i * K + k] * W[j * K + k];
      y[i * N + j] = s;
    }
  for (int64_t i = 0; i < M; i++)
    for (int64_t k = 0; k < K; k++) {
      double s = 0;
      for (int64_t j = 0; j < N; j++) s += (double)G[i * N + j] * W[j * K + k];
      gx[i * K + k] = s;
    }
  for (int64_t j = 0; j < N; j++) {
    for (int64_t k = 0; k < K; k++) {
      double s = 0;
      for (int64_t i = 0; i < M; i++) s += (double)G[i * N + j] * X[i * K + k];
      gw[j * K + k] = s;
    }
    double s = 0;
    for (int64_t i = 0; i < M; i++) s += G[i * N + j];
    gb[j] = s;
  }
}

static void check_linear(int64_t M, int64_t K, int64_t N) {
  int64_t xs[2] = {M, K}, ws[2] = {N, K}, ys[2] = {M, N};
  lt_tensor *x = leaf(randn(2, xs)), *w = leaf(randn(2, ws)), *b = leaf(randn(1, &N)), *g = randn(2, ys), *y;
  double *ry = dalloc(M * N), *rgx = dalloc(M * K), *rgw = dalloc(N * K), *rgb = dalloc(N);
  linear_ref(x, w, b, g, ry, rgx, rgw, rgb);
  CHECK(lt_linear(&y, x, w, b) == LT_OK);
  CHECK(rel_err(lt_tensor_data(y), ry, M * N) < 1e-5);
  CHECK(lt_backward(y, g, false) == LT_OK);
  CHECK(rel_err(lt_tensor_data(x->grad), rgx, M * K) < 1e-5);
  CHECK(rel_err(lt_tensor_data(w->grad), rgw, N * K) < 1e-5);
  CHECK(rel_err(lt_tensor_data(b->grad), rgb, N) < 1e-5);
  free(ry), free(rgx), free(rgw), free(rgb);
  lt_tensor_release(y), lt_tensor_release(g);
  lt_tensor_release(x), lt_tensor_release(w), lt_tensor_release(b);
}

TEST(linear_against_double) {
  check_linear(5, 4, 3);
  check_linear(250, 288, 64); /* the reference autoencoder's layers */
  check_linear(250, 64, 288);
  check_linear(250, 64, 8);
  check_linear(1, 7, 1);
}

TEST(linear_errors) {
  int64_t a[2] = {4, 3}, c[2] = {2, 5};
  lt_tensor *x = randn(2, a), *w = randn(2, c), *y = NULL;
  CHECK(lt_linear(&y, x, w, NULL) == LT_ERR_SHAPE && y == NULL);
  CHECK(strstr(lt_errmsg(), "linear: input 4x3 has 3 features, weight 2x5 expects 5") != NULL);
  lt_tensor_release(x), lt_tensor_release(w);
}

/* ==================== batch_norm ==================== */

/* Training batch norm over N x C x L in double: y, and gx, gw, gb for g. */
static void bn_ref(const lt_tensor *x, const lt_tensor *w, const lt_tensor *b, const lt_tensor *g, double eps,
                   double *y, double *gx, double *gw, double *gb, double *mean, double *var) {
  int64_t N = x->shape[0], C = x->shape[1], L = lt_tensor_numel(x) / (N * C), m = N * L;
  const float *X = lt_tensor_data(x), *G = lt_tensor_data(g), *W = lt_tensor_data(w), *B = lt_tensor_data(b);
  for (int64_t c = 0; c < C; c++) {
    double s = 0, v = 0, sg = 0, sgx = 0;
#define AT(n, l) (((n) * C + c) * L + (l))
    for (int64_t n = 0; n < N; n++)
      for (int64_t l = 0; l < L; l++) s += X[AT(n, l)];
    s /= m;
    for (int64_t n = 0; n < N; n++)
      for (int64_t l = 0; l < L; l++) v += (X[AT(n, l)] - s) * (X[AT(n, l)] - s);
    v /= m;
    double is = 1 / sqrt(v + eps);
    for (int64_t n = 0; n < N; n++)
      for (int64_t l = 0; l < L; l++) {
        double xh = (X[AT(n, l)] - s) * is;
        y[AT(n, l)] = xh * W[c] + B[c];
        sg += G[AT(n, l)], sgx += G[AT(n, l)] * xh;
      }
    gw[c] = sgx, gb[c] = sg, mean[c] = s, var[c] = v;
    for (int64_t n = 0; n < N; n++)
      for (int64_t l = 0; l < L; l++) {
        double xh = (X[AT(n, l)] - s) * is;
        gx[AT(n, l)] = W[c] * is * (G[AT(n, l)] - sg / m - xh * sgx / m);
      }
#undef AT
  }
}

static void check_bn(int nd, const int64_t *shape, int threads) {
  int64_t C = shape[1], n = lt_numel(nd, shape);
  lt_set_num_threads(threads);
  lt_tensor *x = leaf(randn(nd, shape)), *w = leaf(randn(1, &C)), *b = leaf(randn(1, &C)), *g = randn(nd, shape);
  lt_tensor *rm = lt_tensor_zeros(1, &C), *rv = lt_tensor_full(1, &C, 1.0f), *y;
  double *ry = dalloc(n), *rgx = dalloc(n), *rgw = dalloc(C), *rgb = dalloc(C), *mean = dalloc(C), *var = dalloc(C);
  bn_ref(x, w, b, g, 1e-5, ry, rgx, rgw, rgb, mean, var);
  CHECK(lt_batch_norm(&y, x, rm, rv, w, b, true, 0.1, 1e-5) == LT_OK);
  CHECK(rel_err(lt_tensor_data(y), ry, n) < 1e-5);
  double m = (double)n / C;
  for (int64_t c = 0; c < C; c++) {
    CHECK_CLOSE(lt_tensor_data(rm)[c], 0.1 * mean[c], 1e-6);
    CHECK_CLOSE(lt_tensor_data(rv)[c], 0.9 + 0.1 * var[c] * m / (m - 1), 1e-6);
  }
  CHECK(lt_backward(y, g, false) == LT_OK);
  CHECK(rel_err(lt_tensor_data(x->grad), rgx, n) < 1e-4);
  CHECK(rel_err(lt_tensor_data(w->grad), rgw, C) < 1e-4);
  CHECK(rel_err(lt_tensor_data(b->grad), rgb, C) < 1e-4);
  free(ry), free(rgx), free(rgw), free(rgb), free(mean), free(var);
  lt_tensor *all[] = {x, w, b, g, rm, rv, y};
  for (int k = 0; k < 7; k++) lt_tensor_release(all[k]);
}

TEST(batch_norm_against_double) {
  int64_t s2[2] = {16, 5}, s3[3] = {4, 3, 7}, s4[4] = {5, 3, 4, 4}, big[4] = {250, 16, 14, 14}, rows[2] = {600, 130};
  check_bn(2, s2, 1);
  check_bn(3, s3, 1);
  check_bn(4, s4, 1);
  check_bn(4, big, 2);  /* threaded over channels */
  check_bn(2, rows, 2); /* threaded over channel blocks */
  lt_set_num_threads(1);
}

/* Output and input gradient of batch norm (training) at a thread count. */
static void bn_run(lt_tensor *x, lt_tensor *g, int threads, lt_tensor **y, lt_tensor **gx) {
  lt_set_num_threads(threads);
  x->requires_grad = true;
  lt_tensor_release(x->grad);
  x->grad = NULL;
  CHECK(lt_batch_norm(y, x, NULL, NULL, NULL, NULL, true, 0.1, 1e-5) == LT_OK);
  CHECK(lt_backward(*y, g, false) == LT_OK);
  *gx = lt_tensor_retain(x->grad);
}

TEST(batch_norm_same_bits_on_any_thread_count) {
  int64_t shapes[2][4] = {{250, 16, 14, 14}, {2000, 40, 1, 1}};
  for (int s = 0; s < 2; s++) {
    lt_tensor *x = randn(s ? 2 : 4, shapes[s]), *g = randn(s ? 2 : 4, shapes[s]), *y1, *y2, *g1, *g2;
    bn_run(x, g, 1, &y1, &g1);
    bn_run(x, g, 2, &y2, &g2);
    CHECK(same_bits(y1, y2) && same_bits(g1, g2));
    lt_tensor *all[] = {x, g, y1, y2, g1, g2};
    for (int k = 0; k < 6; k++) lt_tensor_release(all[k]);
  }
  lt_set_num_threads(1);
}

/* ==================== losses ==================== */

static double bce_ref(double p, double t) {
  return -(t * fmax(log(p), -100) + (1 - t) * fmax(log1p(-p), -100));
}

TEST(losses_against_double_and_thread_counts) {
  int64_t n = 300001;
  lt_tensor *a = randn(1, &n), *t = lt_tensor_empty(1, &n), *p = lt_tensor_empty(1, &n);
  lt_rng_fill_uniform(t, 0, 1);
  lt_rng_fill_uniform(p, 0, 1);
  const float *A = lt_tensor_data(a), *T = lt_tensor_data(t), *P = lt_tensor_data(p);
  double smse = 0, sl1 = 0, sbce = 0, sbcel = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)A[i] - T[i];
    smse += d * d, sl1 += fabs(d), sbce += bce_ref(P[i], T[i]);
    sbcel += fmax(A[i], 0) - (double)A[i] * T[i] + log1p(exp(-fabs(A[i])));
  }
  lt_tensor *y[2][4];
  for (int th = 0; th < 2; th++) {
    lt_set_num_threads(th + 1);
    CHECK(lt_mse_loss(&y[th][0], a, t, LT_REDUCTION_SUM) == LT_OK);
    CHECK(lt_l1_loss(&y[th][1], a, t, LT_REDUCTION_MEAN) == LT_OK);
    CHECK(lt_bce_loss(&y[th][2], p, t, LT_REDUCTION_SUM) == LT_OK);
    CHECK(lt_bce_with_logits_loss(&y[th][3], a, t, LT_REDUCTION_MEAN) == LT_OK);
  }
  CHECK_CLOSE(lt_tensor_data(y[0][0])[0], smse, 1e-6 * smse);
  CHECK_CLOSE(lt_tensor_data(y[0][1])[0], sl1 / n, 1e-6);
  CHECK_CLOSE(lt_tensor_data(y[0][2])[0], sbce, 1e-6 * sbce);
  CHECK_CLOSE(lt_tensor_data(y[0][3])[0], sbcel / n, 1e-6);
  for (int k = 0; k < 4; k++) {
    CHECK(same_bits(y[0][k], y[1][k]));
    lt_tensor_release(y[0][k]), lt_tensor_release(y[1][k]);
  }
  lt_set_num_threads(1);
  lt_tensor_release(a), lt_tensor_release(t), lt_tensor_release(p);
}

TEST(cross_entropy_against_double) {
  int64_t N = 3000, C = 11, xs[2] = {N, C};
  lt_tensor *x = leaf(randn(2, xs)), *t = lt_tensor_empty(1, &N), *y;
  lt_rng_fill_int(t, 0, C - 1);
  const float *X = lt_tensor_data(x), *T = lt_tensor_data(t);
  double *gx = dalloc(N * C), loss = 0;
  for (int64_t i = 0; i < N; i++) {
    double m = -INFINITY, s = 0;
    for (int64_t c = 0; c < C; c++) m = fmax(m, X[i * C + c]);
    for (int64_t c = 0; c < C; c++) s += exp(X[i * C + c] - m);
    double lse = m + log(s);
    loss += lse - X[i * C + (int64_t)T[i]];
    for (int64_t c = 0; c < C; c++) gx[i * C + c] = (exp(X[i * C + c] - lse) - (c == (int64_t)T[i])) / N;
  }
  lt_set_num_threads(2);
  CHECK(lt_cross_entropy_loss(&y, x, t, LT_REDUCTION_MEAN, 0) == LT_OK);
  CHECK_CLOSE(lt_tensor_data(y)[0], loss / N, 1e-5);
  CHECK(lt_backward(y, NULL, false) == LT_OK);
  CHECK(rel_err(lt_tensor_data(x->grad), gx, N * C) < 1e-6);
  lt_set_num_threads(1);
  free(gx);
  lt_tensor_release(y), lt_tensor_release(x), lt_tensor_release(t);
}

/* ==================== activations ==================== */

TEST(activations_against_double) {
  int64_t n = 100000;
  lt_tensor *x = randn(1, &n), *y[3];
  float *X = lt_tensor_data(x);
  for (int64_t i = 0; i < n; i++) X[i] *= 8;
  lt_set_num_threads(2);
  CHECK(lt_leaky_relu(&y[0], x, 0.1f) == LT_OK);
  CHECK(lt_elu(&y[1], x, 0.7f) == LT_OK);
  CHECK(lt_softplus(&y[2], x, 1.5f, 20) == LT_OK);
  double *r[3] = {dalloc(n), dalloc(n), dalloc(n)};
  for (int64_t i = 0; i < n; i++) {
    double v = X[i];
    r[0][i] = v > 0 ? v : 0.1 * v;
    r[1][i] = v > 0 ? v : 0.7 * expm1(v);
    r[2][i] = 1.5 * v > 20 ? v : d_softplus(1.5 * v) / 1.5;
  }
  for (int k = 0; k < 3; k++) {
    CHECK(rel_err(lt_tensor_data(y[k]), r[k], n) < 1e-6);
    free(r[k]);
    lt_tensor_release(y[k]);
  }
  lt_set_num_threads(1);
  lt_tensor_release(x);
}

TEST(no_leaks) {
  size_t live = lt_mem_live();
  check_linear(9, 4, 6);
  int64_t s[3] = {4, 3, 5};
  check_bn(3, s, 1);
  int64_t n = 10;
  lt_tensor *x = leaf(randn(1, &n)), *y;
  CHECK(lt_dropout(&y, x, 0.5, true) == LT_OK);
  CHECK(lt_backward(y, x, false) == LT_OK);
  lt_tensor_release(y), lt_tensor_release(x);
  CHECK(lt_mem_live() == live);
}

int main(void) {
  lt_rng_seed(1);
  lt_set_num_threads(1);
  RUN(fast_math_accuracy);
  RUN(linear_against_double);
  RUN(linear_errors);
  RUN(batch_norm_against_double);
  RUN(batch_norm_same_bits_on_any_thread_count);
  RUN(losses_against_double_and_thread_counts);
  RUN(cross_entropy_against_double);
  RUN(activations_against_double);
  RUN(no_leaks);
  return lt_test_summary();
}
