/* Trustworthiness and k-NN accuracy of an embedding (definitions in
 * metrics.h), on the blocked brute-force neighbour search of neighbors.c. */
#include "analysis/metrics.h"
#include "analysis/neighbors.h"
#include "core/lt_alloc.h"

#include <string.h>

/* ==================== trustworthiness ==================== */

/* Why no full sort: the penalty needs only the input rank of each of the k
 * embedded neighbours of i. That rank is one plus the number of points nearer
 * to i, so one vectorisable counting pass over the row of input distances per
 * neighbour (n k compares per row) replaces sorting n distances. */
typedef struct {
  const float *x;     /* n x d input points, for exact distances */
  const int64_t *emb; /* n x k embedded neighbours */
  int64_t n, d, k;
  int64_t *penalty;   /* per row, summed afterwards in row order */
} trust_ctx;

/* The input rank of j among the neighbours of i: 1 + the number of points l
 * with (exact distance, index) before j's. The computed distances (row) are
 * within eps of the exact ones, so only points within 2 eps of j's distance
 * can be ordered wrongly by them; those few are compared exactly. */
static int64_t input_rank(const trust_ctx *c, int64_t i, const float *row, float eps, int64_t j) {
  const float t = row[j], lo = t - 2 * eps, hi = t + 2 * eps;
  int32_t below = 0, upto = 0;
  for (int64_t l = 0; l < c->n; l++) below += row[l] < lo, upto += row[l] <= hi;
  int64_t nearer = below;
  if (upto - below > 1) { /* someone besides j itself is too close to call */
    const float *xi = c->x + i * c->d;
    const double ej = lt_exact_dist2(xi, c->x + j * c->d, c->d);
    for (int64_t l = 0; l < c->n; l++) {
      if (l == j || row[l] < lo || row[l] > hi) continue;
      double el = lt_exact_dist2(xi, c->x + l * c->d, c->d);
      nearer += el < ej || (el == ej && l < j);
    }
  }
  return nearer + 1;
}

static void trust_visit(void *vc, int64_t i, float *row, float eps) {
  trust_ctx *c = vc;
  int64_t sum = 0;
  for (int64_t p = 0; p < c->k; p++) {
    int64_t r = input_rank(c, i, row, eps, c->emb[i * c->k + p]);
    if (r > c->k) sum += r - c->k;
  }
  c->penalty[i] = sum;
}

static lt_status trust_check(const lt_tensor *high, const lt_tensor *low, int64_t k) {
  char sh[LT_SHAPE_STR], sl[LT_SHAPE_STR];
  lt_status st = lt_analysis_check_matrix("trustworthiness", "x", high);
  if (st == LT_OK) st = lt_analysis_check_matrix("trustworthiness", "embedding", low);
  if (st != LT_OK) return st;
  int64_t n = high->shape[0];
  if (low->shape[0] != n)
    return lt_error(LT_ERR_SHAPE, "trustworthiness: x %s and embedding %s have different numbers of rows",
                    LT_SHAPE(high, sh), LT_SHAPE(low, sl));
  if (k < 1 || 2 * k >= n)
    return lt_error(LT_ERR_ARG, "trustworthiness: k = %lld must be at least 1 and less than n / 2 = %g (x %s)",
                    (long long)k, n / 2.0, LT_SHAPE(high, sh));
  return LT_OK;
}

/* The sum of the rank penalties, with the inputs already checked. */
static lt_status trust_penalty(const lt_tensor *hc, const lt_tensor *lc, int64_t k, int64_t *total) {
  int64_t n = hc->shape[0];
  size_t ebytes = (size_t)(n * k) * sizeof(int64_t), pbytes = (size_t)n * sizeof(int64_t),
         dbytes = (size_t)(n * k) * sizeof(float);
  int64_t *emb = lt_alloc(ebytes), *pen = lt_alloc(pbytes);
  float *d2 = lt_alloc(dbytes);
  lt_status st = emb && pen && d2 ? LT_OK : LT_ERR_MEMORY;
  if (st == LT_OK) st = lt_knn(lt_tensor_data(lc), n, NULL, n, lc->shape[1], k, emb, d2);
  trust_ctx c = {lt_tensor_data(hc), emb, n, hc->shape[1], k, pen};
  if (st == LT_OK) st = lt_dist_rows(lt_tensor_data(hc), n, NULL, n, hc->shape[1], trust_visit, &c);
  *total = 0;
  for (int64_t i = 0; st == LT_OK && i < n; i++) *total += pen[i];
  lt_free(emb, emb ? ebytes : 0), lt_free(pen, pen ? pbytes : 0), lt_free(d2, d2 ? dbytes : 0);
  return st;
}

lt_status lt_trustworthiness(const lt_tensor *high, const lt_tensor *low, int64_t k, double *result) {
  lt_status st = trust_check(high, low, k);
  if (st != LT_OK) return st;
  lt_tensor *hc = lt_analysis_values("trustworthiness", "x", high, &st), *lc = NULL;
  if (hc) lc = lt_analysis_values("trustworthiness", "embedding", low, &st);
  int64_t total = 0;
  if (lc) st = trust_penalty(hc, lc, k, &total);
  lt_tensor_release(hc), lt_tensor_release(lc);
  if (st != LT_OK) return st;
  double n = (double)high->shape[0], kk = (double)k;
  *result = 1.0 - (double)total * (2.0 / (n * kk * (2.0 * n - 3.0 * kk - 1.0)));
  return LT_OK;
}

/* ==================== k-NN accuracy ==================== */

/* The label voted by neighbours nb[0..k-1] (nearest first): the most frequent;
 * among equally frequent ones, the first in the list, which is the class whose
 * nearest member is nearest. k is small, so counting is O(k^2). */
static float vote(const int64_t *nb, int64_t k, const float *labels) {
  int64_t best = 0, best_count = 0;
  for (int64_t p = 0; p < k; p++) {
    float c = labels[nb[p]];
    bool seen = false;
    for (int64_t s = 0; s < p && !seen; s++) seen = labels[nb[s]] == c;
    if (seen) continue; /* counted when its first member came */
    int64_t count = 1;
    for (int64_t s = p + 1; s < k; s++) count += labels[nb[s]] == c;
    if (count > best_count) best = p, best_count = count;
  }
  return labels[nb[best]];
}

/* labels must hold exactly n finite values laid out as a vector or n x 1. */
static lt_status check_labels(const char *what, const lt_tensor *labels, int64_t n, const char *xwhat,
                              const lt_tensor *x) {
  char sl[LT_SHAPE_STR], sx[LT_SHAPE_STR];
  bool ok = (labels->ndim == 1 && labels->shape[0] == n) ||
            (labels->ndim == 2 && labels->shape[0] == n && labels->shape[1] == 1);
  if (!ok)
    return lt_error(LT_ERR_SHAPE, "knn_accuracy: %s must be a vector of %lld labels (one per row of %s %s), got %s",
                    what, (long long)n, xwhat, LT_SHAPE(x, sx), LT_SHAPE(labels, sl));
  return LT_OK;
}

static lt_status acc_check(const lt_tensor *x, const lt_tensor *labels, int64_t k, const lt_tensor *tx,
                           const lt_tensor *tl) {
  char s[LT_SHAPE_STR], s2[LT_SHAPE_STR];
  lt_status st = lt_analysis_check_matrix("knn_accuracy", "x", x);
  if (st == LT_OK) st = check_labels("labels", labels, x->shape[0], "x", x);
  if (st != LT_OK) return st;
  if ((tx == NULL) != (tl == NULL))
    return lt_error(LT_ERR_ARG, "knn_accuracy: give both test_x and test_labels, or neither");
  if (tx) {
    if ((st = lt_analysis_check_matrix("knn_accuracy", "test_x", tx)) != LT_OK) return st;
    if (tx->shape[1] != x->shape[1])
      return lt_error(LT_ERR_SHAPE, "knn_accuracy: test_x %s and x %s have different numbers of columns",
                      LT_SHAPE(tx, s), LT_SHAPE(x, s2));
    if ((st = check_labels("test_labels", tl, tx->shape[0], "test_x", tx)) != LT_OK) return st;
  }
  int64_t most = tx ? x->shape[0] : x->shape[0] - 1;
  if (k < 1 || k > most)
    return lt_error(LT_ERR_ARG, "knn_accuracy: k = %lld must be in 1..%lld for x %s%s", (long long)k,
                    (long long)most, LT_SHAPE(x, s), tx ? "" : " (leave-one-out: a point does not vote for itself)");
  return LT_OK;
}

/* Contiguous, finite views of the four inputs (vals[2], vals[3] stay NULL
 * without a test set). */
static lt_status acc_values(const lt_tensor *in[4], lt_tensor *vals[4]) {
  static const char *what[4] = {"x", "labels", "test_x", "test_labels"};
  lt_status st = LT_OK;
  for (int i = 0; i < 4 && st == LT_OK; i++) {
    if (!in[i]) continue;
    if (i % 2 == 0) {
      vals[i] = lt_analysis_values("knn_accuracy", what[i], in[i], &st);
      continue;
    }
    vals[i] = lt_tensor_contiguous_values((lt_tensor *)in[i]); /* reads only */
    if (!vals[i]) st = LT_ERR_MEMORY;
    else st = lt_analysis_check_finite("knn_accuracy", what[i], lt_tensor_data(vals[i]), in[i]->shape[0], 1);
  }
  return st;
}

static lt_status acc_count(lt_tensor *v[4], int64_t k, int64_t *correct, int64_t *total) {
  int64_t n = v[0]->shape[0], d = v[0]->shape[1], m = v[2] ? v[2]->shape[0] : n;
  size_t ib = (size_t)(m * k) * sizeof(int64_t), db = (size_t)(m * k) * sizeof(float);
  int64_t *nb = lt_alloc(ib);
  float *d2 = lt_alloc(db);
  lt_status st = nb && d2 ? LT_OK : LT_ERR_MEMORY;
  if (st == LT_OK) st = lt_knn(lt_tensor_data(v[0]), n, v[2] ? lt_tensor_data(v[2]) : NULL, m, d, k, nb, d2);
  if (st == LT_OK) {
    const float *train = lt_tensor_data(v[1]), *truth = lt_tensor_data(v[v[2] ? 3 : 1]);
    int64_t right = 0;
#pragma omp parallel for reduction(+ : right) if (m * k > 1 << 14)
    for (int64_t i = 0; i < m; i++) right += vote(nb + i * k, k, train) == truth[i];
    *correct = right, *total = m;
  }
  lt_free(nb, nb ? ib : 0), lt_free(d2, d2 ? db : 0);
  return st;
}

lt_status lt_knn_accuracy(const lt_tensor *x, const lt_tensor *labels, int64_t k, const lt_tensor *test_x,
                          const lt_tensor *test_labels, int64_t *correct, int64_t *total) {
  lt_status st = acc_check(x, labels, k, test_x, test_labels);
  if (st != LT_OK) return st;
  const lt_tensor *in[4] = {x, labels, test_x, test_labels};
  lt_tensor *vals[4] = {NULL, NULL, NULL, NULL};
  st = acc_values(in, vals);
  if (st == LT_OK) st = acc_count(vals, k, correct, total);
  for (int i = 0; i < 4; i++) lt_tensor_release(vals[i]);
  return st;
}
