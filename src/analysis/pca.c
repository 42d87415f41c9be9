/* PCA (definitions in pca.h): fit through the eigenvectors of the covariance,
 * transform and inverse_transform through sgemm.
 *
 * Why the covariance and not an SVD of the data: here N is large (60,000
 * images, or codes) and D moderate (<= ~1000). The D x D covariance costs one
 * pass of syrk over the data (N D^2 flops at BLAS speed, blocked so the
 * centred rows are never all held at once) and its eigenproblem D^3, which is
 * small beside it; an SVD of the N x D data (sgesdd, what scikit-learn's
 * "full" solver does through scipy) costs several times N D^2 with far less
 * BLAS-3 work, and holds U (N x D). The known drawback, squaring the condition
 * number, is kept harmless by accumulating the covariance in double: an
 * eigenvalue then carries an absolute error near 1e-16 of the largest, far
 * below float resolution of the data itself. Measured on 60,000 x 784
 * (Fashion-MNIST, k = 50, 2 threads): dsyrk on double blocks 0.67 s, ssyrk on
 * float blocks summed in double 0.46 s; but the float version left null
 * directions of rank-deficient data at 1e-8 of the largest variance instead
 * of 0 and moved whitened scores of small components by 3e-5 relative
 * against scikit-learn, so double it is.
 *
 * The eigensolver is dsyevr (MRRR) asked for the k leading pairs only (range
 * 'I'): the reduction to tridiagonal form is shared by all methods, and
 * computing only k eigenvectors saves most of the rest when k << D. The total
 * variance, needed for the ratios, is the trace. */
#include "analysis/pca.h"
#include "analysis/neighbors.h"
#include "core/lt_alloc.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

/* LAPACK from OpenBLAS, Fortran calling convention (gfortran passes the
 * lengths of character arguments as hidden trailing size_t). */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
                    const int *lda, const double *vl, const double *vu, const int *il, const int *iu,
                    const double *abstol, int *m, double *w, double *z, const int *ldz, int *isuppz,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info, size_t,
                    size_t, size_t);

#define BLOCK_ROWS 2048 /* rows centred at once: 2048 x 784 doubles is 12 MB */

/* ==================== scratch memory ==================== */

/* Every buffer of one call, freed together on any path. */
#define SCRATCH_SLOTS 16

typedef struct {
  void *p[SCRATCH_SLOTS];
  size_t bytes[SCRATCH_SLOTS];
  int count;
} scratch;

static void *take(scratch *s, size_t bytes) {
  if (bytes == 0) bytes = 1;
  LT_ASSERT(s->count < SCRATCH_SLOTS);
  void *p = lt_alloc(bytes);
  if (p) s->p[s->count] = p, s->bytes[s->count++] = bytes;
  return p;
}

static void scratch_free(scratch *s) {
  for (int i = 0; i < s->count; i++) lt_free(s->p[i], s->bytes[i]);
  s->count = 0;
}

/* ==================== covariance ==================== */

/* out = rows [0, b) of x minus mean, in double. */
static void centre_rows(const float *x, int64_t b, int64_t d, const double *mean, double *out) {
#pragma omp parallel for if (b * d > 1 << 16)
  for (int64_t i = 0; i < b; i++)
    for (int64_t j = 0; j < d; j++) out[i * d + j] = (double)x[i * d + j] - mean[j];
}

/* cov (d x d, both triangles) = (x - mean)^T (x - mean), no division. */
static void scatter_matrix(const float *x, int64_t n, int64_t d, const double *mean, double *blk, double *cov) {
  memset(cov, 0, (size_t)(d * d) * sizeof *cov);
  for (int64_t r0 = 0; r0 < n; r0 += BLOCK_ROWS) {
    int64_t b = n - r0 < BLOCK_ROWS ? n - r0 : BLOCK_ROWS;
    centre_rows(x + r0 * d, b, d, mean, blk);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)b, 1.0, blk, (int)d, 1.0, cov, (int)d);
  }
  for (int64_t i = 0; i < d; i++)
    for (int64_t j = 0; j < i; j++) cov[i * d + j] = cov[j * d + i];
}

/* ==================== eigenvectors ==================== */

/* The k largest eigenvalues of the symmetric cov (d x d, destroyed), largest
 * first, in lambda[k], and their unit eigenvectors as the rows of v (k x d). */
static lt_status top_eigen(scratch *s, double *cov, int64_t d, int64_t k, double *lambda, double *v) {
  int n = (int)d, il = (int)(d - k + 1), iu = (int)d, m = 0, info = 0, lwork = -1, liwork = -1, iq = 0;
  double vl = 0, vu = 0, abstol = 0, wq = 0;
  double *w = take(s, (size_t)d * sizeof *w), *z = take(s, (size_t)(d * k) * sizeof *z);
  int *isuppz = take(s, (size_t)(2 * k) * sizeof *isuppz);
  if (!w || !z || !isuppz) return LT_ERR_MEMORY;
  dsyevr_("V", "I", "U", &n, cov, &n, &vl, &vu, &il, &iu, &abstol, &m, w, z, &n, isuppz, &wq, &lwork, &iq,
          &liwork, &info, 1, 1, 1); /* workspace query */
  lwork = (int)wq, liwork = iq;
  double *work = take(s, (size_t)lwork * sizeof *work);
  int *iwork = take(s, (size_t)liwork * sizeof *iwork);
  if (!work || !iwork) return LT_ERR_MEMORY;
  dsyevr_("V", "I", "U", &n, cov, &n, &vl, &vu, &il, &iu, &abstol, &m, w, z, &n, isuppz, work, &lwork, iwork,
          &liwork, &info, 1, 1, 1);
  if (info != 0 || m != k)
    return lt_error(LT_ERR_STATE, "pca: LAPACK dsyevr failed (info %d, %d of %lld eigenvalues)", info, m,
                    (long long)k);
  for (int64_t r = 0; r < k; r++) { /* ascending, column-major: reverse into rows */
    lambda[r] = w[k - 1 - r];
    memcpy(v + r * d, z + (k - 1 - r) * d, (size_t)d * sizeof *v);
  }
  return LT_OK;
}

/* ==================== signs ==================== */

/* sign[r] = the sign of the first entry largest in magnitude of row r of a
 * (rows x cols); +1 for a row of zeros. */
static void first_max_signs(const double *a, int64_t rows, int64_t cols, double *sign) {
  for (int64_t r = 0; r < rows; r++) {
    double best = 0;
    sign[r] = 1;
    for (int64_t c = 0; c < cols; c++)
      if (fabs(a[r * cols + c]) > best) best = fabs(a[r * cols + c]), sign[r] = a[r * cols + c] > 0 ? 1 : -1;
  }
}

/* As scikit-learn 1.2's svd_flip: the sign of each component's score largest
 * in magnitude, the first such row winning. The scores are computed block by
 * block in double (x - mean) v^T; rows are scanned in order. */
static void score_signs(const float *x, int64_t n, int64_t d, const double *mean, const double *v, int64_t k,
                        double *blk, double *sc, double *best, double *sign) {
  for (int64_t j = 0; j < k; j++) best[j] = 0, sign[j] = 1;
  for (int64_t r0 = 0; r0 < n; r0 += BLOCK_ROWS) {
    int64_t b = n - r0 < BLOCK_ROWS ? n - r0 : BLOCK_ROWS;
    centre_rows(x + r0 * d, b, d, mean, blk);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)k, (int)d, 1.0, blk, (int)d, v, (int)d, 0.0,
                sc, (int)k);
    for (int64_t i = 0; i < b; i++)
      for (int64_t j = 0; j < k; j++)
        if (fabs(sc[i * k + j]) > best[j]) best[j] = fabs(sc[i * k + j]), sign[j] = sc[i * k + j] > 0 ? 1 : -1;
  }
}

/* ==================== fit ==================== */

static lt_status fit_check(const lt_tensor *x, int64_t k) {
  char s[LT_SHAPE_STR];
  lt_status st = lt_analysis_check_matrix("pca", "x", x);
  if (st != LT_OK) return st;
  int64_t n = x->shape[0], d = x->shape[1], most = n < d ? n : d;
  if (n < 2) return lt_error(LT_ERR_SHAPE, "pca: x %s needs at least 2 rows (variance with ddof 1)", LT_SHAPE(x, s));
  if (k < 1 || k > most)
    return lt_error(LT_ERR_ARG, "pca: k = %lld must be in 1..min(N, D) = %lld for x %s", (long long)k,
                    (long long)most, LT_SHAPE(x, s));
  if (d > 46340) /* d * d must fit LAPACK's int */
    return lt_error(LT_ERR_SHAPE, "pca: x %s has too many columns for a D x D covariance", LT_SHAPE(x, s));
  return LT_OK;
}

static lt_status alloc_model(lt_pca_model *m, int64_t k, int64_t d) {
  int64_t kd[2] = {k, d}, dd[1] = {d}, kk[1] = {k};
  m->components = lt_tensor_empty(2, kd);
  m->mean = lt_tensor_empty(1, dd);
  m->explained_variance = lt_tensor_empty(1, kk);
  m->explained_variance_ratio = lt_tensor_empty(1, kk);
  m->singular_values = lt_tensor_empty(1, kk);
  bool ok = m->components && m->mean && m->explained_variance && m->explained_variance_ratio && m->singular_values;
  return ok ? LT_OK : LT_ERR_MEMORY;
}

/* Writes the model's tensors from the double results. */
static void store_model(lt_pca_model *m, int64_t n, int64_t d, int64_t k, const double *mean, const double *lambda,
                        const double *v, const double *sign, double trace) {
  float *comp = lt_tensor_data(m->components), *mu = lt_tensor_data(m->mean);
  float *ev = lt_tensor_data(m->explained_variance), *ratio = lt_tensor_data(m->explained_variance_ratio);
  float *sv = lt_tensor_data(m->singular_values);
  for (int64_t j = 0; j < d; j++) mu[j] = (float)mean[j];
  /* Rounding leaves null directions (rank-deficient data) with eigenvalues
   * near +-d eps of the largest rather than 0; below that they are noise, and
   * whitening by them would blow the noise up, so they become exact zeros. */
  double noise = (lambda[0] > 0 ? lambda[0] : 0) * (double)d * DBL_EPSILON;
  for (int64_t r = 0; r < k; r++) {
    double l = lambda[r] > noise ? lambda[r] : 0;
    ev[r] = (float)(l / (double)(n - 1));
    ratio[r] = trace > 0 ? (float)(l / trace) : 0.0f;
    sv[r] = (float)sqrt(l);
    for (int64_t j = 0; j < d; j++) comp[r * d + j] = (float)(sign[r] * v[r * d + j]);
  }
  m->total_variance = trace / (double)(n - 1);
}

/* The numerical part, on checked contiguous values. */
static lt_status fit_values(lt_pca_model *m, const float *x, int64_t n, int64_t d, int64_t k, lt_pca_sign sign) {
  scratch s = {0};
  double *mean = take(&s, (size_t)d * 8), *cov = take(&s, (size_t)(d * d) * 8);
  double *blk = take(&s, (size_t)((n < BLOCK_ROWS ? n : BLOCK_ROWS) * d) * 8);
  double *lambda = take(&s, (size_t)k * 8), *v = take(&s, (size_t)(k * d) * 8), *sg = take(&s, (size_t)k * 8);
  lt_status st = mean && cov && blk && lambda && v && sg ? LT_OK : LT_ERR_MEMORY;
  double trace = 0;
  if (st == LT_OK) {
    lt_column_means(x, n, d, mean);
    scatter_matrix(x, n, d, mean, blk, cov);
    for (int64_t j = 0; j < d; j++) trace += cov[j * d + j];
    st = top_eigen(&s, cov, d, k, lambda, v);
  }
  if (st == LT_OK && sign == LT_PCA_SIGN_SCORES) {
    double *sc = take(&s, (size_t)((n < BLOCK_ROWS ? n : BLOCK_ROWS) * k) * 8), *best = take(&s, (size_t)k * 8);
    if (!sc || !best) st = LT_ERR_MEMORY;
    else score_signs(x, n, d, mean, v, k, blk, sc, best, sg);
  } else if (st == LT_OK) {
    first_max_signs(v, k, d, sg);
  }
  if (st == LT_OK) st = alloc_model(m, k, d);
  if (st == LT_OK) store_model(m, n, d, k, mean, lambda, v, sg, trace);
  scratch_free(&s);
  return st;
}

lt_status lt_pca_fit(lt_pca_model *m, const lt_tensor *x, int64_t k, lt_pca_sign sign) {
  memset(m, 0, sizeof *m);
  lt_status st = fit_check(x, k);
  if (st != LT_OK) return st;
  lt_tensor *xc = lt_analysis_values("pca", "x", x, &st);
  if (!xc) return st;
  st = fit_values(m, lt_tensor_data(xc), xc->shape[0], xc->shape[1], k, sign);
  lt_tensor_release(xc);
  if (st != LT_OK) lt_pca_model_release(m);
  return st;
}

void lt_pca_model_release(lt_pca_model *m) {
  lt_tensor *t[5] = {m->components, m->mean, m->explained_variance, m->explained_variance_ratio, m->singular_values};
  for (int i = 0; i < 5; i++) lt_tensor_release(t[i]);
  memset(m, 0, sizeof *m);
}

/* ==================== transform and inverse ==================== */

/* components k x D, mean D, whiten_var k (positive) or NULL: the model's
 * parts agree. `in` must be M x `cols`. */
static lt_status model_check(const char *fname, const char *what, const lt_tensor *in, int64_t cols,
                             const lt_tensor *mean, const lt_tensor *comp, const lt_tensor *var) {
  char s1[LT_SHAPE_STR], s2[LT_SHAPE_STR];
  if (comp->ndim != 2 || mean->ndim != 1 || mean->shape[0] != comp->shape[1] ||
      (var && (var->ndim != 1 || var->shape[0] != comp->shape[0])))
    return lt_error(LT_ERR_SHAPE, "%s: the model's components %s, mean %s%s do not fit together", fname,
                    LT_SHAPE(comp, s1), LT_SHAPE(mean, s2), var ? " and explained variance" : "");
  lt_status st = lt_analysis_check_matrix(fname, what, in);
  if (st != LT_OK) return st;
  if (in->shape[1] != cols)
    return lt_error(LT_ERR_SHAPE, "%s: %s %s must have %lld columns (the model has components %s)", fname, what,
                    LT_SHAPE(in, s1), (long long)cols, LT_SHAPE(comp, s2));
  return LT_OK;
}

/* sqrt of the whitening variances, checked positive; NULL var gives ones. */
static lt_status whiten_scale(const char *fname, const lt_tensor *var, int64_t k, float *scale) {
  for (int64_t j = 0; j < k; j++) scale[j] = 1;
  if (!var) return LT_OK;
  lt_tensor *vc = lt_tensor_contiguous_values((lt_tensor *)var); /* reads only */
  if (!vc) return LT_ERR_MEMORY;
  const float *p = lt_tensor_data(vc);
  lt_status st = LT_OK;
  for (int64_t j = 0; j < k && st == LT_OK; j++) {
    if (!(p[j] > 0) || !isfinite(p[j]))
      st = lt_error(LT_ERR_ARG, "%s: component %lld has explained variance %g, cannot whiten with it", fname,
                    (long long)(j + 1), (double)p[j]);
    scale[j] = sqrtf(p[j]);
  }
  lt_tensor_release(vc);
  return st;
}

/* Contiguous values of mean and components (retained or copied). */
static lt_status model_values(const lt_tensor *mean, const lt_tensor *comp, lt_tensor **mc, lt_tensor **cc) {
  *mc = lt_tensor_contiguous_values((lt_tensor *)mean);
  *cc = lt_tensor_contiguous_values((lt_tensor *)comp);
  return *mc && *cc ? LT_OK : LT_ERR_MEMORY;
}

/* out (m x k) = (x - mean) comp^T / scale, through blocks of centred rows. */
static void project(const float *x, int64_t m, int64_t d, const float *mu, const float *comp, int64_t k,
                    const float *scale, float *blk, float *out) {
  for (int64_t r0 = 0; r0 < m; r0 += BLOCK_ROWS) {
    int64_t b = m - r0 < BLOCK_ROWS ? m - r0 : BLOCK_ROWS;
#pragma omp parallel for if (b * d > 1 << 16)
    for (int64_t i = 0; i < b; i++)
      for (int64_t j = 0; j < d; j++) blk[i * d + j] = x[(r0 + i) * d + j] - mu[j];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)k, (int)d, 1.0f, blk, (int)d, comp, (int)d,
                0.0f, out + r0 * k, (int)k);
  }
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < k; j++) out[i * k + j] /= scale[j];
}

lt_tensor *lt_pca_transform(const lt_tensor *x, const lt_tensor *mean, const lt_tensor *components,
                            const lt_tensor *whiten_var) {
  const char *fname = "pca:transform";
  if (model_check(fname, "x", x, components->ndim == 2 ? components->shape[1] : -1, mean, components, whiten_var))
    return NULL;
  int64_t m = x->shape[0], d = x->shape[1], k = components->shape[0], shape[2] = {m, k};
  scratch s = {0};
  float *scale = take(&s, (size_t)k * 4), *blk = take(&s, (size_t)((m < BLOCK_ROWS ? m : BLOCK_ROWS) * d) * 4);
  lt_tensor *mc = NULL, *cc = NULL, *out = NULL, *xc = NULL;
  lt_status st = scale && blk ? whiten_scale(fname, whiten_var, k, scale) : LT_ERR_MEMORY;
  if (st == LT_OK) st = model_values(mean, components, &mc, &cc);
  if (st == LT_OK) xc = lt_analysis_values(fname, "x", x, &st);
  if (st == LT_OK) out = lt_tensor_zeros(2, shape); /* zeros: BLAS may treat a 1-column product as gemv */
  if (out)
    project(lt_tensor_data(xc), m, d, lt_tensor_data(mc), lt_tensor_data(cc), k, scale, blk, lt_tensor_data(out));
  lt_tensor_release(mc), lt_tensor_release(cc), lt_tensor_release(xc);
  scratch_free(&s);
  return out;
}

lt_tensor *lt_pca_inverse_transform(const lt_tensor *y, const lt_tensor *mean, const lt_tensor *components,
                                    const lt_tensor *whiten_var) {
  const char *fname = "pca:inverse_transform";
  if (model_check(fname, "y", y, components->ndim == 2 ? components->shape[0] : -1, mean, components, whiten_var))
    return NULL;
  int64_t m = y->shape[0], k = y->shape[1], d = components->shape[1], shape[2] = {m, d};
  scratch s = {0};
  float *scale = take(&s, (size_t)k * 4), *w = take(&s, (size_t)(k * d) * 4);
  lt_tensor *mc = NULL, *cc = NULL, *out = NULL, *yc = NULL;
  lt_status st = scale && w ? whiten_scale(fname, whiten_var, k, scale) : LT_ERR_MEMORY;
  if (st == LT_OK) st = model_values(mean, components, &mc, &cc);
  if (st == LT_OK) yc = lt_analysis_values(fname, "y", y, &st);
  if (st == LT_OK) out = lt_tensor_zeros(2, shape);
  if (out) {
    const float *comp = lt_tensor_data(cc), *mu = lt_tensor_data(mc);
    float *o = lt_tensor_data(out);
    for (int64_t r = 0; r < k; r++) /* w = diag(scale) components */
      for (int64_t j = 0; j < d; j++) w[r * d + j] = comp[r * d + j] * scale[r];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)d, (int)k, 1.0f, lt_tensor_data(yc), (int)k,
                w, (int)d, 0.0f, o, (int)d);
#pragma omp parallel for if (m * d > 1 << 16)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < d; j++) o[i * d + j] += mu[j];
  }
  lt_tensor_release(mc), lt_tensor_release(cc), lt_tensor_release(yc);
  scratch_free(&s);
  return out;
}
