/* Quality of an embedding: trustworthiness and k-NN classification accuracy.
 *
 * trustworthiness (Venna & Kaski 2001; van der Maaten 2009), as
 * scikit-learn's sklearn.manifold.trustworthiness with the Euclidean metric:
 *
 *   T(k) = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in U_k(i)} max(0, r(i, j) - k)
 *
 * U_k(i) are the k nearest neighbours of i in the embedding, r(i, j) the rank
 * of j among i's neighbours in the input space (1 = nearest, i itself
 * excluded). T is 1 when every embedded neighbourhood is also an input one.
 * Distances are compared exactly (lt_exact_dist2 in neighbors.h); equal ones
 * rank the smaller index first, in the input and in the embedding
 * (scikit-learn's argsort and tree search leave their order unspecified).
 * Needs k < n / 2.
 *
 * k-NN accuracy: each point is classified by a majority vote of the labels of
 * its k nearest neighbours (Euclidean); a tie between classes goes to the class
 * whose nearest member is nearer (the first to appear in the neighbour list).
 * Without a test set every point of x is classified by the others
 * (leave-one-out: a point never votes for itself); with one, each test point is
 * classified by the points of x. Labels are any numbers, compared exactly. */
#ifndef LT_METRICS_ANALYSIS_H
#define LT_METRICS_ANALYSIS_H

#include <stdint.h>

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* high: n x D, low: n x d (same n), 1 <= k < n / 2, both finite. */
lt_status lt_trustworthiness(const lt_tensor *high, const lt_tensor *low, int64_t k, double *result);

/* x: n x D, labels: n values (a vector, or n x 1); test_x (m x D) and
 * test_labels (m) both given or both NULL. *correct of *total points are
 * classified right. k in 1..n (1..n-1 for leave-one-out). */
lt_status lt_knn_accuracy(const lt_tensor *x, const lt_tensor *labels, int64_t k, const lt_tensor *test_x,
                          const lt_tensor *test_labels, int64_t *correct, int64_t *total);

#endif
