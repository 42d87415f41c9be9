/* Exact nearest neighbours by blocked brute force (see neighbors.h): the
 * shared input checks, distance rows through sgemm, and k-NN selection with a
 * small max-heap per row. */
#include "analysis/neighbors.h"
#include "core/lt_alloc.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* Rows of distances held at once: ~8M floats (32 MB), at least 1 row. */
#define DIST_BUDGET ((int64_t)8 << 20)
#define MAX_BLOCK_ROWS 1024

/* ==================== input checks ==================== */

lt_status lt_analysis_check_matrix(const char *fname, const char *what, const lt_tensor *x) {
  char s[LT_SHAPE_STR];
  if (x->ndim != 2) return lt_error(LT_ERR_SHAPE, "%s: %s must be a matrix N x D, got %s", fname, what, LT_SHAPE(x, s));
  if (x->shape[0] < 1 || x->shape[1] < 1)
    return lt_error(LT_ERR_SHAPE, "%s: %s %s is empty", fname, what, LT_SHAPE(x, s));
  return LT_OK;
}

lt_status lt_analysis_check_finite(const char *fname, const char *what, const float *p, int64_t n, int64_t d) {
  int64_t total = n * d, bad = total;
  /* the first offending value, whatever the thread count */
#pragma omp parallel for reduction(min : bad) if (total > 1 << 16)
  for (int64_t i = 0; i < total; i++)
    if (!isfinite(p[i]) && i < bad) bad = i;
  if (bad == total) return LT_OK;
  return lt_error(LT_ERR_ARG, "%s: %s (%lldx%lld) holds %s at row %lld, column %lld", fname, what, (long long)n,
                  (long long)d, isnan(p[bad]) ? "nan" : p[bad] > 0 ? "inf" : "-inf", (long long)(bad / d + 1),
                  (long long)(bad % d + 1));
}

/* ==================== centred copies ==================== */

/* Columns are split among threads, so the sums do not depend on their number. */
void lt_column_means(const float *x, int64_t n, int64_t d, double *mean) {
#pragma omp parallel if (n * d > 1 << 16)
  {
    int t = omp_get_thread_num(), T = omp_get_num_threads();
    int64_t j0 = d * t / T, j1 = d * (t + 1) / T;
    for (int64_t j = j0; j < j1; j++) mean[j] = 0;
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = j0; j < j1; j++) mean[j] += x[i * d + j];
    for (int64_t j = j0; j < j1; j++) mean[j] /= (double)n;
  }
}

/* out = rows of p minus mean (float), norm2[i] = |out_i|^2 (summed in double). */
static void centre(const float *p, int64_t n, int64_t d, const double *mean, float *out, float *norm2) {
#pragma omp parallel for if (n * d > 1 << 16)
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int64_t j = 0; j < d; j++) {
      float v = (float)(p[i * d + j] - mean[j]);
      out[i * d + j] = v;
      s += (double)v * v;
    }
    norm2[i] = (float)s;
  }
}

/* ==================== distance rows ==================== */

/* A bound on |computed - exact| for the squared distances of a query of
 * centred norm^2 qn to points of centred norm^2 at most xn_max: the sgemm dot
 * product errs by at most ~d u |q||x| <= d u (qn + xn) / 2 (u = 2^-24, any
 * summation order), doubled by the factor -2; the norms, the two additions
 * and the centring add a few u (qn + xn) more. Generous on purpose: it only
 * decides which few distances are recomputed exactly. */
static float error_bound(int64_t d, float qn, float xn_max) {
  return (float)((double)(d + 16) * FLT_EPSILON * ((double)qn + xn_max));
}

typedef struct {
  float *xc, *xn, *qc, *qn, *buf;
  double *mean;
  size_t bytes[6];
} scratch;

static void scratch_free(scratch *s) {
  void *p[6] = {s->xc, s->xn, s->qc, s->qn, s->buf, s->mean};
  for (int i = 0; i < 6; i++) lt_free(p[i], s->bytes[i]);
}

static lt_status scratch_alloc(scratch *s, int64_t n, int64_t m, int64_t d, int64_t rows, bool self) {
  memset(s, 0, sizeof *s);
  size_t b[6] = {(size_t)(n * d) * 4, (size_t)n * 4, self ? 0 : (size_t)(m * d) * 4, self ? 0 : (size_t)m * 4,
                 (size_t)(rows * n) * 4, (size_t)d * 8};
  void **p[6] = {(void **)&s->xc, (void **)&s->xn, (void **)&s->qc, (void **)&s->qn, (void **)&s->buf,
                 (void **)&s->mean};
  for (int i = 0; i < 6; i++) {
    if (b[i] == 0) continue;
    *p[i] = lt_alloc(b[i]);
    s->bytes[i] = b[i];
    if (!*p[i]) {
      scratch_free(s);
      return lt_error(LT_ERR_MEMORY, "nearest neighbours: out of memory (%zu bytes)", b[i]);
    }
  }
  return LT_OK;
}

lt_status lt_dist_rows(const float *x, int64_t n, const float *q, int64_t m, int64_t d,
                       lt_dist_visit visit, void *ctx) {
  bool self = q == NULL;
  if (self) m = n;
  int64_t rows = DIST_BUDGET / n;
  rows = rows < 1 ? 1 : rows > MAX_BLOCK_ROWS ? MAX_BLOCK_ROWS : rows;
  if (rows > m) rows = m;
  scratch s;
  lt_status st = scratch_alloc(&s, n, m, d, rows, self);
  if (st != LT_OK) return st;
  lt_column_means(x, n, d, s.mean);
  centre(x, n, d, s.mean, s.xc, s.xn);
  const float *qc = s.xc, *qn = s.xn;
  float xn_max = 0;
  for (int64_t j = 0; j < n; j++) xn_max = s.xn[j] > xn_max ? s.xn[j] : xn_max;
  if (!self) {
    centre(q, m, d, s.mean, s.qc, s.qn);
    qc = s.qc, qn = s.qn;
  }
  for (int64_t r0 = 0; r0 < m; r0 += rows) {
    int64_t b = m - r0 < rows ? m - r0 : rows;
    /* buf = -2 Q_block X^T; BLAS runs its own threads, outside any omp region.
     * A one-row or one-column product may go to gemv, which can keep a NaN of
     * uninitialised memory times beta = 0: start from zeros then. */
    if (b == 1 || n == 1) memset(s.buf, 0, (size_t)(b * n) * sizeof *s.buf);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)n, (int)d, -2.0f, qc + r0 * d, (int)d,
                s.xc, (int)d, 0.0f, s.buf, (int)n);
#pragma omp parallel for schedule(dynamic, 4) if (b * n > 1 << 14)
    for (int64_t i = 0; i < b; i++) {
      float *row = s.buf + i * n, qi = qn[r0 + i];
      for (int64_t j = 0; j < n; j++) {
        float v = row[j] + qi + s.xn[j];
        row[j] = v > 0 ? v : 0; /* rounding can make a tiny distance negative */
      }
      if (self) row[r0 + i] = INFINITY;
      visit(ctx, r0 + i, row, error_bound(d, qi, xn_max));
    }
  }
  scratch_free(&s);
  return LT_OK;
}

/* ==================== k-NN selection ==================== */

/* (d, i) pairs ordered by distance, then index. Distances are doubles: the
 * float sgemm ones in the first pass, exact ones in the second. */
static inline bool before(double da, int64_t ia, double db, int64_t ib) {
  return da < db || (da == db && ia < ib);
}

/* Restores the max-heap (worst pair at the root) below position p. */
static void sift_down(double *hd, int64_t *hi, int64_t k, int64_t p) {
  for (;;) {
    int64_t c = 2 * p + 1, w = p;
    if (c < k && before(hd[w], hi[w], hd[c], hi[c])) w = c;
    if (c + 1 < k && before(hd[w], hi[w], hd[c + 1], hi[c + 1])) w = c + 1;
    if (w == p) return;
    double td = hd[p]; hd[p] = hd[w]; hd[w] = td;
    int64_t ti = hi[p]; hi[p] = hi[w]; hi[w] = ti;
    p = w;
  }
}

/* Offers (v, j) to the heap of the k best holding `filled` pairs. Offers come
 * in increasing j, so an equal distance never beats the root: ties go to the
 * smaller index. */
static void offer(double *hd, int64_t *hi, int64_t k, int64_t *filled, double v, int64_t j) {
  if (*filled < k) {
    hd[*filled] = v, hi[(*filled)++] = j;
    if (*filled == k)
      for (int64_t p = k / 2 - 1; p >= 0; p--) sift_down(hd, hi, k, p);
  } else if (v < hd[0]) {
    hd[0] = v, hi[0] = j;
    sift_down(hd, hi, k, 0);
  }
}

/* Orders (hd, hi) by (distance, index): heap sort in place, the worst pair
 * going to the end each time. */
static void sort_pairs(int64_t k, double *hd, int64_t *hi) {
  for (int64_t end = k - 1; end > 0; end--) {
    double td = hd[0]; hd[0] = hd[end]; hd[end] = td;
    int64_t ti = hi[0]; hi[0] = hi[end]; hi[end] = ti;
    sift_down(hd, hi, end, 0);
  }
}

typedef struct {
  const float *x, *q;
  int64_t n, d, k;
  int64_t *idx;
  float *dist2;
  double *keys; /* k per thread */
} knn_ctx;

/* Two passes over the row: the k smallest computed distances give a
 * threshold; every point within 2 eps of it could belong to the true k
 * nearest, so those candidates are selected again on exact distances. Why
 * 2 eps: the true k-th distance is at most the computed k-th + eps, and a
 * true neighbour's computed distance is at most its exact one + eps. */
static void knn_visit(void *vctx, int64_t r, float *row, float eps) {
  knn_ctx *c = vctx;
  int64_t k = c->k, filled = 0, *hi = c->idx + r * k;
  double *hd = c->keys + (int64_t)omp_get_thread_num() * k;
  for (int64_t j = 0; j < c->n; j++)
    if (filled < k || row[j] < hd[0]) offer(hd, hi, k, &filled, row[j], j);
  const double band = hd[0] + 2.0 * eps;
  const float *qr = c->q + r * c->d;
  filled = 0;
  for (int64_t j = 0; j < c->n; j++)
    if (row[j] <= band) offer(hd, hi, k, &filled, lt_exact_dist2(qr, c->x + j * c->d, c->d), j); /* not +inf: self */
  sort_pairs(k, hd, hi);
  for (int64_t p = 0; p < k; p++) c->dist2[r * k + p] = (float)hd[p];
}

lt_status lt_knn(const float *x, int64_t n, const float *q, int64_t m, int64_t d, int64_t k,
                 int64_t *idx, float *dist2) {
  int64_t most = q ? n : n - 1;
  if (k < 1 || k > most)
    return lt_error(LT_ERR_ARG, "knn: k = %lld must be in 1..%lld for %lld points%s", (long long)k, (long long)most,
                    (long long)n, q ? "" : " (a point is not its own neighbour)");
  size_t bytes = (size_t)(omp_get_max_threads() * k) * sizeof(double);
  double *keys = lt_alloc(bytes);
  if (!keys) return LT_ERR_MEMORY;
  knn_ctx c = {x, q ? q : x, n, d, k, idx, dist2, keys};
  lt_status st = lt_dist_rows(x, n, q, q ? m : n, d, knn_visit, &c);
  lt_free(keys, bytes);
  return st;
}

/* ==================== from tensors ==================== */

lt_tensor *lt_analysis_values(const char *fname, const char *what, const lt_tensor *t, lt_status *st) {
  if ((*st = lt_analysis_check_matrix(fname, what, t)) != LT_OK) return NULL;
  lt_tensor *c = lt_tensor_contiguous_values((lt_tensor *)t); /* reads only */
  if (!c) {
    *st = LT_ERR_MEMORY;
    return NULL;
  }
  *st = lt_analysis_check_finite(fname, what, lt_tensor_data(c), c->shape[0], c->shape[1]);
  if (*st != LT_OK) lt_tensor_release(c), c = NULL;
  return c;
}

/* The k-NN of xc's or qc's rows as tensors; k already checked. */
static lt_status knn_outputs(lt_tensor *xc, lt_tensor *qc, int64_t k, int base, lt_tensor **idx, lt_tensor **dist) {
  int64_t n = xc->shape[0], d = xc->shape[1], m = qc ? qc->shape[0] : n;
  int64_t shape[2] = {m, k};
  int64_t *ii = lt_alloc((size_t)(m * k) * sizeof *ii);
  *idx = lt_tensor_empty(2, shape);
  *dist = lt_tensor_empty(2, shape);
  lt_status st = !ii || !*idx || !*dist ? LT_ERR_MEMORY : LT_OK;
  if (st == LT_OK) st = lt_knn(lt_tensor_data(xc), n, qc ? lt_tensor_data(qc) : NULL, m, d, k, ii,
                               lt_tensor_data(*dist));
  if (st == LT_OK) {
    float *pi = lt_tensor_data(*idx), *pd = lt_tensor_data(*dist);
    for (int64_t e = 0; e < m * k; e++) pi[e] = (float)(ii[e] + base), pd[e] = sqrtf(pd[e]);
  }
  lt_free(ii, ii ? (size_t)(m * k) * sizeof *ii : 0);
  if (st != LT_OK) {
    lt_tensor_release(*idx), lt_tensor_release(*dist);
    *idx = *dist = NULL;
  }
  return st;
}

lt_status lt_knn_tensors(const char *fname, const lt_tensor *x, const lt_tensor *q, int64_t k, int base,
                         lt_tensor **idx, lt_tensor **dist) {
  char sx[LT_SHAPE_STR], sq[LT_SHAPE_STR];
  *idx = *dist = NULL;
  lt_status st;
  lt_tensor *xc = lt_analysis_values(fname, "x", x, &st), *qc = NULL;
  if (!xc) return st;
  if (q) {
    qc = lt_analysis_values(fname, "query", q, &st);
    if (qc && qc->shape[1] != xc->shape[1]) {
      st = lt_error(LT_ERR_SHAPE, "%s: query %s and x %s have different numbers of columns", fname,
                    LT_SHAPE(q, sq), LT_SHAPE(x, sx));
      lt_tensor_release(qc), qc = NULL;
    }
    if (!qc) {
      lt_tensor_release(xc);
      return st;
    }
  }
  int64_t n = xc->shape[0], most = qc ? n : n - 1;
  if (n > (int64_t)1 << 24) /* indices are given back as floats */
    st = lt_error(LT_ERR_SHAPE, "%s: x %s has more rows than float indices can number (2^24)", fname,
                  LT_SHAPE(x, sx));
  else if (k < 1 || k > most)
    st = lt_error(LT_ERR_ARG, "%s: k = %lld must be in 1..%lld for x %s%s", fname, (long long)k, (long long)most,
                  LT_SHAPE(x, sx), qc ? "" : " (a point is not its own neighbour)");
  else
    st = knn_outputs(xc, qc, k, base, idx, dist);
  lt_tensor_release(xc);
  lt_tensor_release(qc);
  return st;
}
