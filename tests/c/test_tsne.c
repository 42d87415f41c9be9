/* t-SNE pieces: the exact gradient against finite differences of the KL,
 * Barnes-Hut and FFT repulsion against exact sums, the perplexity
 * calibration, symmetrised P, exact kNN of the VP tree, the FFT itself,
 * and the argument checks. */
#include <stdlib.h>
#include <string.h>

#include "analysis/bh_tree.h"
#include "analysis/fft_interp.h"
#include "analysis/tsne.h"
#include "analysis/vptree.h"
#include "core/lt_rng.h"
#include "lt_test.h"

static float *random_points(int64_t n, int64_t d, double spread) {
  float *x = malloc((size_t)(n * d) * sizeof(float));
  for (int64_t a = 0; a < n * d; a++) x[a] = (float)(spread * lt_rng_normal());
  return x;
}

/* Three well-separated clusters, as embeddings look once they have formed. */
static double *clustered_embedding(int64_t n, int dims) {
  double *y = malloc((size_t)(n * dims) * sizeof(double));
  for (int64_t i = 0; i < n; i++)
    for (int d = 0; d < dims; d++) y[i * dims + d] = 15.0 * ((i % 3) == d) + 2.0 * lt_rng_normal();
  return y;
}

static double rel_err(const double *a, const double *b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
  return sqrt(num / den);
}

/* ==================== the gradient ==================== */

/* The exact gradient is the derivative of the KL it reports (dof 1 in 2-D,
 * 2 in 3-D, 3 in 4-D): central differences in double. */
static void check_fd(int dims) {
  enum { N = 12 };
  float *x = random_points(N, 4, 1);
  lt_tsne_p p;
  CHECK(lt_tsne_affinities(x, N, 4, 3, true, &p) == LT_OK);
  double y[N * 4], g[N * 4], g2[N * 4], kl, kp, km;
  for (int a = 0; a < N * dims; a++) y[a] = lt_rng_normal();
  lt_tsne_work *w = lt_tsne_work_new(N, dims, LT_TSNE_EXACT, 0);
  CHECK(lt_tsne_gradient(w, &p, y, 1, g, &kl) == LT_OK);
  CHECK(kl > 0);
  double worst = 0, h = 1e-5;
  for (int a = 0; a < N * dims; a++) {
    double keep = y[a];
    y[a] = keep + h, lt_tsne_gradient(w, &p, y, 1, g2, &kp);
    y[a] = keep - h, lt_tsne_gradient(w, &p, y, 1, g2, &km);
    y[a] = keep;
    double fd = (kp - km) / (2 * h), d = fabs(fd - g[a]) / (fabs(g[a]) + 1e-3);
    worst = d > worst ? d : worst;
  }
  if (worst > 1e-5) fprintf(stderr, "dims %d: worst relative gradient error %g\n", dims, worst);
  CHECK(worst < 1e-5);
  lt_tsne_work_free(w);
  lt_tsne_p_free(&p);
  free(x);
}

TEST(exact_gradient_matches_finite_differences) {
  check_fd(2);
  check_fd(3);
  check_fd(4);
}

/* Barnes-Hut's gradient: equal to the exact one at angle 0 (to float
 * rounding of the far field), close at 0.5, on the same sparse P. */
static void check_bh(int dims) {
  enum { N = 400 };
  float *x = random_points(N, 5, 1);
  lt_tsne_p p;
  CHECK(lt_tsne_affinities(x, N, 5, 20, false, &p) == LT_OK);
  double *y = clustered_embedding(N, dims), ge[N * 3], gb[N * 3], kle, klb;
  lt_tsne_work *we = lt_tsne_work_new(N, dims, LT_TSNE_EXACT, 0);
  CHECK(lt_tsne_gradient(we, &p, y, 1, ge, &kle) == LT_OK);
  double angles[] = {0, 0.5}, limits[] = {1e-5, 2e-2};
  for (int k = 0; k < 2; k++) {
    lt_tsne_work *wb = lt_tsne_work_new(N, dims, LT_TSNE_BARNES_HUT, angles[k]);
    CHECK(lt_tsne_gradient(wb, &p, y, 1, gb, &klb) == LT_OK);
    double e = rel_err(gb, ge, N * dims);
    if (!(e < limits[k])) fprintf(stderr, "dims %d angle %g: gradient error %g\n", dims, angles[k], e);
    CHECK(e < limits[k]);
    CHECK_CLOSE(klb, kle, limits[k] * kle);
    lt_tsne_work_free(wb);
  }
  lt_tsne_work_free(we);
  lt_tsne_p_free(&p);
  free(x), free(y);
}

TEST(barnes_hut_gradient_matches_exact) {
  check_bh(2);
  check_bh(3);
}

/* The FFT interpolation against exact sums of K^2 (y_i - y_j) and K. */
TEST(fft_repulsion_matches_exact_sums) {
  enum { N = 500 };
  double *y = clustered_embedding(N, 2), f[N * 2], fe[N * 2] = {0}, z, ze = 0;
  for (int64_t i = 0; i < N; i++)
    for (int64_t j = 0; j < N; j++) {
      if (i == j) continue;
      double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1], k = 1 / (1 + dx * dx + dy * dy);
      ze += k, fe[2 * i] += k * k * dx, fe[2 * i + 1] += k * k * dy;
    }
  lt_fft_repulsion *r = lt_fft_repulsion_new();
  CHECK(lt_fft_repulsion_2d(r, y, N, f, &z) == LT_OK);
  double e = rel_err(f, fe, 2 * N);
  if (!(e < 2e-2)) fprintf(stderr, "fft force error %g, Z %g vs %g\n", e, z, ze);
  CHECK(e < 2e-2);
  CHECK_CLOSE(z, ze, 1e-2 * ze);
  for (int64_t a = 0; a < 2 * N; a++) y[a] *= 0.05; /* a small embedding: a small grid */
  CHECK(lt_fft_repulsion_2d(r, y, N, f, &z) == LT_OK);
  CHECK(z > 0 && z < (double)N * (N - 1));
  lt_fft_repulsion_free(r);
  free(y);
}

TEST(fft_matches_a_direct_dft) {
  for (int n = 2; n <= 256; n *= 4) {
    lt_fft_plan *p = lt_fft_plan_new(n);
    double *a = malloc((size_t)n * 2 * sizeof(double)), *b = malloc((size_t)n * 2 * sizeof(double));
    for (int k = 0; k < 2 * n; k++) a[k] = b[k] = lt_rng_normal();
    lt_fft(p, a, 0);
    double worst = 0;
    for (int k = 0; k < n; k++) {
      double re = 0, im = 0;
      for (int j = 0; j < n; j++) {
        double t = -2 * M_PI * (double)j * k / n;
        re += b[2 * j] * cos(t) - b[2 * j + 1] * sin(t), im += b[2 * j] * sin(t) + b[2 * j + 1] * cos(t);
      }
      worst = fmax(worst, fmax(fabs(re - a[2 * k]), fabs(im - a[2 * k + 1])));
    }
    CHECK(worst < 1e-10 * n);
    lt_fft(p, a, 1); /* the inverse, undivided, brings back n times the input */
    for (int k = 0; k < 2 * n; k++) CHECK_CLOSE(a[k] / n, b[k], 1e-12);
    lt_fft_plan_free(p);
    free(a), free(b);
  }
  CHECK(lt_fft_plan_new(12) == NULL);
}

/* ==================== affinities ==================== */

TEST(conditional_rows_reach_the_perplexity) {
  enum { N = 50, K = 40 };
  float d2[N * K];
  double p[N * K];
  for (int a = 0; a < N * K; a++) d2[a] = (float)(fabs(lt_rng_normal()) * (1 + a % 7));
  for (double perp = 2; perp <= 30; perp *= 3) {
    lt_tsne_conditional(d2, N, K, perp, p);
    for (int i = 0; i < N; i++) {
      double sum = 0, h = 0;
      for (int j = 0; j < K; j++) sum += p[i * K + j], h -= p[i * K + j] > 0 ? p[i * K + j] * log(p[i * K + j]) : 0;
      CHECK_CLOSE(sum, 1, 1e-9);
      CHECK_CLOSE(h, log(perp), 1e-4);
    }
  }
}

TEST(joint_p_is_symmetric_and_sums_to_one) {
  enum { N = 300 };
  float *x = random_points(N, 6, 2);
  for (int exact = 0; exact <= 1; exact++) {
    lt_tsne_p p;
    CHECK(lt_tsne_affinities(x, N, 6, 25, exact, &p) == LT_OK);
    double sum = 0, asym = 0;
    for (int64_t i = 0; i < N; i++)
      for (int64_t a = p.row[i]; a < p.row[i + 1]; a++) {
        sum += p.val[a];
        CHECK(p.col[a] != i);
        if (a > p.row[i]) CHECK(p.col[a] > p.col[a - 1]);
        int64_t j = p.col[a], b = p.row[j]; /* find (j, i) */
        while (b < p.row[j + 1] && p.col[b] != i) b++;
        asym = fmax(asym, b < p.row[j + 1] ? fabs(p.val[b] - p.val[a]) : p.val[a]);
      }
    CHECK_CLOSE(sum, 1, 1e-9 + exact * N * N * 2.3e-16);
    CHECK(asym == 0);
    CHECK(exact ? p.nnz == N * (N - 1) : p.nnz >= N * 76 && p.nnz <= N * 152);
    lt_tsne_p_free(&p);
  }
  free(x);
}

/* ==================== vantage-point tree ==================== */

static void brute_knn(const float *x, int64_t n, int64_t d, int64_t i, int k, int32_t *idx, float *d2) {
  for (int a = 0; a < k; a++) d2[a] = INFINITY, idx[a] = -1;
  for (int64_t j = 0; j < n; j++) {
    if (j == i) continue;
    float s = 0;
    for (int64_t c = 0; c < d; c++) s += (x[i * d + c] - x[j * d + c]) * (x[i * d + c] - x[j * d + c]);
    int a = k;
    while (a > 0 && (s < d2[a - 1] || (s == d2[a - 1] && j < idx[a - 1]))) a--;
    if (a == k) continue;
    memmove(d2 + a + 1, d2 + a, (size_t)(k - a - 1) * sizeof(float));
    memmove(idx + a + 1, idx + a, (size_t)(k - a - 1) * sizeof(int32_t));
    d2[a] = s, idx[a] = (int32_t)j;
  }
}

static void check_vptree(int64_t n, int64_t d, int k, int duplicates) {
  float *x = random_points(n, d, 1);
  if (duplicates)
    for (int64_t i = n / 2; i < n; i++) memcpy(x + i * d, x + (i % 7) * d, (size_t)d * sizeof(float));
  lt_vptree *t = lt_vptree_build(x, n, d);
  int32_t *idx = malloc((size_t)(n * k) * sizeof(int32_t)), want_i[64];
  float *d2 = malloc((size_t)(n * k) * sizeof(float)), want_d[64];
  CHECK(lt_vptree_knn_self(t, k, idx, d2) == LT_OK);
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; i++) {
    brute_knn(x, n, d, i, k, want_i, want_d);
    for (int a = 0; a < k; a++) wrong += fabsf(d2[i * k + a] - want_d[a]) > 1e-5f * (1 + want_d[a]);
  }
  if (wrong) fprintf(stderr, "vptree n %lld d %lld: %lld distances differ\n", (long long)n, (long long)d, (long long)wrong);
  CHECK(wrong == 0);
  CHECK(lt_vptree_knn_self(t, (int)n, idx, d2) != LT_OK); /* more neighbours than other points */
  lt_vptree_free(t);
  free(x), free(idx), free(d2);
}

TEST(vptree_finds_the_exact_neighbours) {
  check_vptree(600, 5, 31, 0);
  check_vptree(300, 1, 10, 0);
  check_vptree(400, 32, 64, 0);
  check_vptree(300, 3, 20, 1);
}

/* ==================== checks and a small run ==================== */

TEST(checks_name_the_problem) {
  int64_t shape[2] = {20, 3};
  lt_tensor *x = lt_tensor_zeros(2, shape);
  lt_tsne_options o;
  lt_tsne_options_default(&o);
  CHECK(lt_tsne_check(x, &o) == LT_ERR_ARG);
  CHECK(strstr(lt_errmsg(), "perplexity (30) must be less than the number of points (20)") != NULL);
  o.perplexity = 5, o.dims = 4;
  CHECK(lt_tsne_check(x, &o) == LT_ERR_ARG && strstr(lt_errmsg(), "dims = 4"));
  o.dims = 2;
  lt_tensor_data(x)[3 * 11 + 1] = NAN;
  CHECK(lt_tsne_check(x, &o) == LT_ERR_ARG && strstr(lt_errmsg(), "x row 12 holds a NaN"));
  lt_tensor_release(x);
}

TEST(a_run_is_repeatable_and_reports_its_kl) {
  enum { N = 90 };
  int64_t shape[2] = {N, 4}, yshape[2] = {N, 2};
  lt_tensor *x = lt_tensor_empty(2, shape), *y1 = lt_tensor_empty(2, yshape), *y2 = lt_tensor_empty(2, yshape);
  for (int64_t a = 0; a < N * 4; a++) lt_tensor_data(x)[a] = (float)(lt_rng_normal() + 8.0 * ((a / 4) % 3 == a % 4));
  lt_tsne_options o;
  lt_tsne_options_default(&o);
  o.perplexity = 10, o.iterations = 600;
  double kl1, kl2;
  CHECK(lt_tsne_fit(x, &o, y1, &kl1) == LT_OK);
  CHECK(lt_tsne_fit(x, &o, y2, &kl2) == LT_OK);
  if (!(kl1 == kl2 && kl1 > 0 && kl1 < 1.5)) fprintf(stderr, "kl %g %g\n", kl1, kl2);
  CHECK(kl1 == kl2 && kl1 > 0 && kl1 < 1.5);
  CHECK(memcmp(lt_tensor_data(y1), lt_tensor_data(y2), sizeof(float) * N * 2) == 0);
  lt_tensor_release(x), lt_tensor_release(y1), lt_tensor_release(y2);
}

int main(void) {
  lt_rng_seed(7);
  RUN(exact_gradient_matches_finite_differences);
  RUN(barnes_hut_gradient_matches_exact);
  RUN(fft_repulsion_matches_exact_sums);
  RUN(fft_matches_a_direct_dft);
  RUN(conditional_rows_reach_the_perplexity);
  RUN(joint_p_is_symmetric_and_sums_to_one);
  RUN(vptree_finds_the_exact_neighbours);
  RUN(checks_name_the_problem);
  RUN(a_run_is_repeatable_and_reports_its_kl);
  return lt_test_summary();
}
