/* Barnes-Hut space-partitioning tree in 2-D (quadtree) and 3-D (octree) for
 * the repulsive forces of t-SNE (van der Maaten 2014, "Accelerating t-SNE
 * using tree-based algorithms").
 *
 * Cells are squares (cubes) split at their centre; a cell with few points is
 * a leaf. Nodes are stored in preorder with the index just past each subtree,
 * so a query walks the array without a stack: summarising a cell jumps past
 * its subtree, opening it steps to its first child. A cell is summarised by
 * its centre of mass when its width is small against the distance to the
 * query (width^2 < angle^2 * distance^2, scikit-learn's test); a leaf that is
 * not summarised is visited point by point. With angle 0 every pair is
 * computed exactly.
 *
 * The kernel is the Student-t of t-SNE with dof = dims - 1 degrees of
 * freedom (scikit-learn's choice: 1 in 2-D, 2 in 3-D): w = (1 + d^2/dof)^
 * (-(dof+1)/2) and u = 1 / (1 + d^2/dof); a query at y_i sums z_i = sum_j
 * w_ij and f_i = sum_j w_ij u_ij (y_i - y_j), which are Z's share and the
 * unnormalised repulsive force of the exact gradient. The far field is
 * summed in float (relative to each group's centre), the rest in double. */
#ifndef LT_BH_TREE_H
#define LT_BH_TREE_H

#include <stdint.h>

#include "core/lt_error.h"

typedef struct lt_bh_tree lt_bh_tree;

/* An empty tree for points of `dims` (2 or 3) coordinates; buffers grow as
 * builds need them. NULL and an error message when out of memory. */
lt_bh_tree *lt_bh_tree_new(int dims);
void lt_bh_tree_free(lt_bh_tree *t);

/* (Re)builds the tree over n points y (n x dims doubles, row-major). */
lt_status lt_bh_tree_build(lt_bh_tree *t, const double *y, int64_t n);

/* For every point i of the last build: z[i] and f[i*dims ..] as above, the
 * point itself left out. The points of a leaf share one interaction list:
 * a cell is summarised only when the test holds for all of them (nearest
 * point of their bounding box), which is at least as accurate as testing
 * each point alone and walks the tree once per leaf instead of per point.
 * OpenMP threads split the leaves; each result is computed by one thread in
 * a fixed order, so the thread count does not change it. */
lt_status lt_bh_tree_repulsion(lt_bh_tree *t, double angle, double *f, double *z);

/* The same sums for one query point q (dims doubles) against every point of
 * the tree (none left out), testing each cell against q alone (scikit-learn's
 * walk): for placing new points into a fixed embedding. */
void lt_bh_tree_repulsion_at(const lt_bh_tree *t, const double *q, double angle, double *f, double *z);

#endif
