/* Exact k-nearest-neighbour search in Euclidean space with a vantage-point
 * tree (Yianilos 1993, "Data structures and algorithms for nearest neighbor
 * search in general metric spaces"), as bhtsne and scikit-learn's t-SNE use
 * a tree for the input affinities.
 *
 * Each internal node holds a vantage point and the median distance `radius`
 * of the points below it: the inside child holds the points closer than the
 * radius, the outside child the rest. A query keeps the k best candidates in
 * a max-heap and visits a child only when the triangle inequality says it can
 * hold a point closer than the current k-th. Small subtrees are leaves scanned
 * directly. Vantage points are chosen by a fixed hash of the subtree bounds,
 * so the tree (and every answer) is the same on every run. */
#ifndef LT_VPTREE_H
#define LT_VPTREE_H

#include <stdint.h>

#include "core/lt_error.h"

typedef struct lt_vptree lt_vptree;

/* Builds the tree over the n rows of x (n x d, row-major; the tree keeps its
 * own copy, in tree order). NULL and an error message when out of memory. */
lt_vptree *lt_vptree_build(const float *x, int64_t n, int64_t d);
void lt_vptree_free(lt_vptree *t);

/* The k nearest rows of the tree to the point q (d floats), skipping row
 * `exclude` (-1 to skip none): their indices in idx[k] and squared distances
 * in dist2[k], nearest first (ties broken by the smaller index). k must be at
 * most the number of rows that can be returned. */
void lt_vptree_query(const lt_vptree *t, const float *q, int64_t exclude, int k, int32_t *idx,
                     float *dist2);

/* The k nearest neighbours of every row of the tree's own data, excluding the
 * row itself: idx and dist2 are n x k. OpenMP threads split the rows; the
 * answers do not depend on the thread count. */
lt_status lt_vptree_knn_self(const lt_vptree *t, int k, int32_t *idx, float *dist2);

#endif
