/* Exact nearest neighbours by brute force, in blocks of rows through sgemm.
 *
 * For N up to ~70,000 points in a few hundred dimensions, brute force with
 * the expansion |q - x|^2 = |q|^2 + |x|^2 - 2 q.x beats any tree: one sgemm
 * gives a block of rows of the distance matrix at BLAS speed, and a cheap
 * per-row pass (OpenMP threads, never calling BLAS) selects from it. The
 * points are centred on the mean of x first (distances do not change), which
 * keeps the norms small and the cancellation in the expansion small too.
 *
 * Also here: the input check that every analysis function shares (a 2-D,
 * non-empty, finite matrix), so that they all word it the same way. */
#ifndef LT_NEIGHBORS_H
#define LT_NEIGHBORS_H

#include <stdint.h>

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* ==================== input checks ==================== */

/* x must be 2-D with at least one row and one column: "fname: what must be a
 * matrix N x D, got 3x4x5". */
lt_status lt_analysis_check_matrix(const char *fname, const char *what, const lt_tensor *x);
/* The n x d values at p must be finite: "fname: what (50x6) holds nan at row 3,
 * column 2" (1-based, as Lua shows them). */
lt_status lt_analysis_check_finite(const char *fname, const char *what, const float *p, int64_t n, int64_t d);
/* Both checks on t, then its values as a contiguous tensor (t itself,
 * retained, when it already is); NULL with *st and the message set. */
lt_tensor *lt_analysis_values(const char *fname, const char *what, const lt_tensor *t, lt_status *st);

/* mean[j] = the mean of column j of x (n x d, row-major), summed in double. */
void lt_column_means(const float *x, int64_t n, int64_t d, double *mean);

/* ==================== distance rows ==================== */

/* Called once for each query row r with d2[0..n-1], squared distances from
 * query r to every row of x computed by the expansion above, so each is
 * within +-eps of the exact one (a bound that grows with d and the norms); in
 * self mode d2[r] is +inf. A visitor that must order near-equal distances
 * exactly recomputes the few within a few eps of each other with
 * lt_exact_dist2. The visitor may overwrite d2. Calls run in parallel (OpenMP)
 * for different rows: a visitor writes only to what belongs to r. */
typedef void (*lt_dist_visit)(void *ctx, int64_t r, float *d2, float eps);

/* |a - b|^2 over d floats, in double: "the exact distance" wherever this
 * module compares distances exactly (the differences of floats are exact in
 * double; only the sum rounds, at 1e-16). */
static inline double lt_exact_dist2(const float *a, const float *b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; j++) {
    double t = (double)a[j] - b[j];
    s += t * t;
  }
  return s;
}

/* Squared distances from each row of q (m x d) to each row of x (n x d), both
 * row-major, passed to `visit` row by row; q == NULL means the rows of x
 * themselves (self mode, m = n). Works through blocks of rows so that at most
 * ~32 MB of distances are held at once. Needs memory for centred copies of x
 * and q. */
lt_status lt_dist_rows(const float *x, int64_t n, const float *q, int64_t m, int64_t d,
                       lt_dist_visit visit, void *ctx);

/* ==================== k nearest neighbours ==================== */

/* The k nearest rows of x (n x d) to each row of q (m x d; NULL: the rows of x
 * themselves, each excluding itself): idx[m x k] (0-based) and dist2[m x k]
 * (squared Euclidean distances, lt_exact_dist2 rounded to float), nearest
 * first, ties (in double) broken by the smaller index. Exact: candidates are chosen on the sgemm distances
 * with a margin that covers their error bound, then ordered by exact ones.
 * Needs 1 <= k <= n (k <= n - 1 in self mode). */
lt_status lt_knn(const float *x, int64_t n, const float *q, int64_t m, int64_t d, int64_t k,
                 int64_t *idx, float *dist2);

/* The same from tensors, checked (names `fname` in its messages): x N x D,
 * q M x D or NULL, finite. Gives *idx (M x k, indices counted from `base`
 * (0 in C, 1 for Lua) as floats, exact below 2^24) and *dist (M x k, Euclidean distances, not squared). */
lt_status lt_knn_tensors(const char *fname, const lt_tensor *x, const lt_tensor *q, int64_t k, int base,
                         lt_tensor **idx, lt_tensor **dist);

#endif
