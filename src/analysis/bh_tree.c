/* Barnes-Hut quadtree / octree: build by in-place partition, stackless
 * queries. See bh_tree.h. */
#include "analysis/bh_tree.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/lt_alloc.h"

#ifndef BH_GROUP
#define BH_GROUP 16
#define BH_LEAF 8
#endif
enum {
  LEAF_SIZE = BH_LEAF,  /* points a leaf may hold; visiting them directly beats a deeper tree */
  GROUP_SIZE = BH_GROUP, /* the largest cells whose points share one interaction list */
  MAX_DEPTH = 48  /* duplicated points cannot be split: stop at a cell 2^-48 of the root */
};

typedef struct {
  double com[3];    /* centre of mass of the points below */
  double w2;        /* the cell's width, squared */
  int32_t count;    /* points below; they sit at tree positions [lo, lo + count) */
  int32_t lo;
  int32_t skip;     /* the node after this subtree in preorder */
  int32_t leaf;
} bh_node;

/* An interaction list: positions and weights (1 for a point, the count for
 * a summarised cell), structure of arrays so the kernel loop vectorizes. */
typedef struct {
  double *x[3], *c;
  int64_t len;
} ilist;

struct lt_bh_tree {
  int dims;
  int64_t n, cap;      /* points built, room for */
  double *ys, *tmp_y;  /* coordinates in tree order, and partition scratch */
  int32_t *perm, *tmp_perm; /* perm[s]: original index of tree position s */
  uint8_t *codes;      /* child cell of each position, while partitioning */
  bh_node *nodes;
  int64_t n_nodes, cap_nodes;
  int32_t *leaves;     /* node index of every leaf, in preorder */
  int64_t n_leaves, cap_leaves;
  double *lists;       /* interaction lists, one per thread */
  int64_t list_cap;    /* entries per list */
  int list_threads;
  int in_group;        /* while building: inside a group's cell */
};

/* ==================== lifetime ==================== */

lt_bh_tree *lt_bh_tree_new(int dims) {
  if (dims != 2 && dims != 3) {
    lt_error(LT_ERR_ARG, "bh_tree: dims must be 2 or 3, got %d", dims);
    return NULL;
  }
  lt_bh_tree *t = lt_calloc(sizeof *t);
  if (t) t->dims = dims;
  return t;
}

static void free_points(lt_bh_tree *t) {
  size_t coords = (size_t)(t->cap * t->dims) * sizeof(double), idx = (size_t)t->cap * sizeof(int32_t);
  lt_free(t->ys, coords), lt_free(t->tmp_y, coords);
  lt_free(t->perm, idx), lt_free(t->tmp_perm, idx);
  lt_free(t->codes, (size_t)t->cap);
  t->ys = t->tmp_y = NULL, t->perm = t->tmp_perm = NULL, t->codes = NULL, t->cap = 0;
}

void lt_bh_tree_free(lt_bh_tree *t) {
  if (!t) return;
  free_points(t);
  lt_free(t->nodes, (size_t)t->cap_nodes * sizeof(bh_node));
  lt_free(t->leaves, (size_t)t->cap_leaves * sizeof(int32_t));
  lt_free(t->lists, (size_t)t->list_threads * t->list_cap * 4 * sizeof(double));
  lt_free(t, sizeof *t);
}

static lt_status reserve_points(lt_bh_tree *t, int64_t n) {
  if (n <= t->cap) return LT_OK;
  free_points(t);
  size_t coords = (size_t)(n * t->dims) * sizeof(double), idx = (size_t)n * sizeof(int32_t);
  t->cap = n; /* free_points below frees by this size */
  t->ys = lt_alloc(coords), t->tmp_y = lt_alloc(coords);
  t->perm = lt_alloc(idx), t->tmp_perm = lt_alloc(idx);
  t->codes = lt_alloc((size_t)n);
  if (!t->ys || !t->tmp_y || !t->perm || !t->tmp_perm || !t->codes) {
    free_points(t); /* lt_free ignores the NULL ones */
    return LT_ERR_MEMORY;
  }
  return LT_OK;
}

/* A new node at the end of the preorder array; -1 when out of memory. */
static int64_t push_node(lt_bh_tree *t) {
  if (t->n_nodes == t->cap_nodes) {
    int64_t cap = t->cap_nodes ? 2 * t->cap_nodes : 1024;
    bh_node *nodes = lt_alloc((size_t)cap * sizeof(bh_node));
    if (!nodes) return -1;
    if (t->n_nodes) memcpy(nodes, t->nodes, (size_t)t->n_nodes * sizeof(bh_node));
    lt_free(t->nodes, (size_t)t->cap_nodes * sizeof(bh_node));
    t->nodes = nodes, t->cap_nodes = cap;
  }
  return t->n_nodes++;
}

/* ==================== build ==================== */

/* Sorts tree positions [lo, hi) by child cell (bit d set: above the centre
 * on axis d), stably, moving coordinates and original indices together;
 * counts[c] receives each child's size. */
static void partition(lt_bh_tree *t, int32_t lo, int32_t hi, const double *center, int32_t *counts) {
  int D = t->dims, nc = 1 << D;
  int32_t start[8];
  memset(counts, 0, (size_t)nc * sizeof(int32_t));
  for (int32_t s = lo; s < hi; s++) {
    int c = 0;
    for (int d = 0; d < D; d++) c |= (t->ys[(int64_t)s * D + d] > center[d]) << d;
    t->codes[s] = (uint8_t)c;
    counts[c]++;
  }
  start[0] = lo;
  for (int c = 1; c < nc; c++) start[c] = start[c - 1] + counts[c - 1];
  for (int32_t s = lo; s < hi; s++) {
    int32_t to = start[t->codes[s]]++;
    memcpy(t->tmp_y + (int64_t)to * D, t->ys + (int64_t)s * D, (size_t)D * sizeof(double));
    t->tmp_perm[to] = t->perm[s];
  }
  memcpy(t->ys + (int64_t)lo * D, t->tmp_y + (int64_t)lo * D, (size_t)(hi - lo) * D * sizeof(double));
  memcpy(t->perm + lo, t->tmp_perm + lo, (size_t)(hi - lo) * sizeof(int32_t));
}

static lt_status build_node(lt_bh_tree *t, int32_t lo, int32_t hi, const double *center, double half, int depth);
static lt_status build_node_body(lt_bh_tree *t, int64_t id, int32_t lo, int32_t hi, const double *center, double half,
                                 int depth);

static lt_status build_children(lt_bh_tree *t, int64_t id, int32_t lo, int32_t hi, const double *center,
                                double half, int depth) {
  int D = t->dims, nc = 1 << D;
  int32_t counts[8];
  partition(t, lo, hi, center, counts);
  double com[3] = {0, 0, 0};
  int32_t at = lo;
  for (int c = 0; c < nc; c++) {
    if (!counts[c]) continue;
    double cc[3];
    for (int d = 0; d < D; d++) cc[d] = center[d] + ((c >> d) & 1 ? 0.5 : -0.5) * half;
    int64_t child = t->n_nodes;
    lt_status st = build_node(t, at, at + counts[c], cc, 0.5 * half, depth + 1);
    if (st) return st;
    for (int d = 0; d < D; d++) com[d] += counts[c] * t->nodes[child].com[d];
    at += counts[c];
  }
  for (int d = 0; d < D; d++) t->nodes[id].com[d] = com[d] / (hi - lo);
  return LT_OK;
}

static lt_status push_leaf(lt_bh_tree *t, int64_t id) {
  if (t->n_leaves == t->cap_leaves) {
    int64_t cap = t->cap_leaves ? 2 * t->cap_leaves : 1024;
    int32_t *leaves = lt_alloc((size_t)cap * sizeof(int32_t));
    if (!leaves) return LT_ERR_MEMORY;
    if (t->n_leaves) memcpy(leaves, t->leaves, (size_t)t->n_leaves * sizeof(int32_t));
    lt_free(t->leaves, (size_t)t->cap_leaves * sizeof(int32_t));
    t->leaves = leaves, t->cap_leaves = cap;
  }
  t->leaves[t->n_leaves++] = (int32_t)id;
  return LT_OK;
}

/* The cell centred at `center`, of half-width `half`, holding positions [lo, hi). */
static lt_status build_node(lt_bh_tree *t, int32_t lo, int32_t hi, const double *center, double half, int depth) {
  int64_t id = push_node(t);
  if (id < 0) return LT_ERR_MEMORY;
  lt_status st;
  /* a group: the largest cells of at most GROUP_SIZE points (and the leaves below larger cells) */
  if ((hi - lo <= GROUP_SIZE || depth >= MAX_DEPTH) && !t->in_group) {
    if ((st = push_leaf(t, id))) return st;
    t->in_group = 1;
    st = build_node_body(t, id, lo, hi, center, half, depth);
    t->in_group = 0;
    return st;
  }
  return build_node_body(t, id, lo, hi, center, half, depth);
}

static lt_status build_node_body(lt_bh_tree *t, int64_t id, int32_t lo, int32_t hi, const double *center, double half, int depth) {
  int D = t->dims;
  bh_node *nd = &t->nodes[id];
  memset(nd, 0, sizeof *nd);
  nd->w2 = 4 * half * half, nd->lo = lo, nd->count = hi - lo;
  nd->leaf = hi - lo <= LEAF_SIZE || depth >= MAX_DEPTH;
  lt_status st;
  if (nd->leaf) {
    for (int32_t s = lo; s < hi; s++)
      for (int d = 0; d < D; d++) nd->com[d] += t->ys[(int64_t)s * D + d];
    for (int d = 0; d < D; d++) nd->com[d] /= hi - lo;
  } else if ((st = build_children(t, id, lo, hi, center, half, depth))) {
    return st;
  }
  t->nodes[id].skip = (int32_t)t->n_nodes;
  return LT_OK;
}

lt_status lt_bh_tree_build(lt_bh_tree *t, const double *y, int64_t n) {
  int D = t->dims;
  if (n < 1 || n > INT32_MAX) return lt_error(LT_ERR_ARG, "bh_tree: cannot build over %lld points", (long long)n);
  if (reserve_points(t, n)) return lt_error(LT_ERR_MEMORY, "bh_tree: out of memory for %lld points", (long long)n);
  t->n = n, t->n_nodes = 0, t->n_leaves = 0, t->in_group = 0;
  memcpy(t->ys, y, (size_t)(n * D) * sizeof(double));
  for (int64_t i = 0; i < n; i++) t->perm[i] = (int32_t)i;
  double lo[3], hi[3], center[3], half = 0;
  for (int d = 0; d < D; d++) lo[d] = hi[d] = y[d];
  for (int64_t i = 1; i < n; i++)
    for (int d = 0; d < D; d++) {
      double v = y[i * D + d];
      lo[d] = v < lo[d] ? v : lo[d], hi[d] = v > hi[d] ? v : hi[d];
    }
  for (int d = 0; d < D; d++) {
    center[d] = 0.5 * (lo[d] + hi[d]);
    double h = 0.5 * (hi[d] - lo[d]);
    half = h > half ? h : half;
  }
  half = half * (1 + 1e-9) + 1e-12; /* every point strictly inside, even when all coincide */
  if (build_node(t, 0, (int32_t)n, center, half, 0))
    return lt_error(LT_ERR_MEMORY, "bh_tree: out of memory for the nodes of %lld points", (long long)n);
  return LT_OK;
}

/* ==================== queries ==================== */

enum { LANES = 4 };
#ifdef BH_STATS
long bh_listlen, bh_lists, bh_pts;
#endif /* independent partial sums: the kernel loop runs as SIMD, in a fixed order */

/* The Student-t kernel at squared distance d2 for a weight c: adds c w to *z
 * and c w u to *wu (see bh_tree.h). dof 1 (2-D) and 2 (3-D) need no pow. */
static inline __attribute__((always_inline)) void kernel(double d2, double c, double dof, int mode, double *z,
                                                        double *cwu) {
  double u, w;
  if (mode == 1) {
    u = w = 1.0 / (1.0 + d2);
  } else if (mode == 2) {
    u = 1.0 / (1.0 + 0.5 * d2);
    w = u * sqrt(u);
  } else {
    u = 1.0 / (1.0 + d2 / dof);
    w = pow(u, 0.5 * (dof + 1));
  }
  *z += c * w;
  *cwu = c * w * u;
}

/* Sums of one query q over an interaction list (padded to LANES). */
static inline __attribute__((always_inline)) void sum_list(const ilist *l, const double *q, double dof, double *f,
                                                          double *zout, const int D, const int mode) {
  double z[LANES] = {0}, acc[3][LANES] = {{0}};
  for (int64_t j = 0; j < l->len; j += LANES)
    for (int a = 0; a < LANES; a++) {
      double dx[3], d2 = 0, cwu;
      for (int d = 0; d < D; d++) dx[d] = q[d] - l->x[d][j + a], d2 += dx[d] * dx[d];
      kernel(d2, l->c[j + a], dof, mode, &z[a], &cwu);
      for (int d = 0; d < D; d++) acc[d][a] += cwu * dx[d];
    }
  *zout = (z[0] + z[1]) + (z[2] + z[3]);
  for (int d = 0; d < D; d++) f[d] = (acc[d][0] + acc[d][1]) + (acc[d][2] + acc[d][3]);
}

static void list_add(ilist *l, const double *p, double c, int D) {
  for (int d = 0; d < D; d++) l->x[d][l->len] = p[d];
  l->c[l->len++] = c;
}

/* The interaction list of leaf g, whose points lie in the box [lo, hi]: a
 * cell is summarised when the test holds at the box's nearest point to its
 * centre of mass, so for every point of g (a stricter test than one point's);
 * the cells holding g are opened, and g's own points are left out. */
static void collect(const lt_bh_tree *t, const bh_node *g, const double *lo, const double *hi, double theta2,
                    ilist *l) {
  int D = t->dims;
  int64_t i = 0;
  l->len = 0;
  while (i < t->n_nodes) {
    const bh_node *nd = &t->nodes[i];
    if ((uint32_t)(g->lo - nd->lo) < (uint32_t)nd->count) { /* g is below nd (or is nd) */
      i = nd == g ? nd->skip : i + 1;
      continue;
    }
    double d2 = 0;
    for (int d = 0; d < D; d++) {
      double below = lo[d] - nd->com[d], above = nd->com[d] - hi[d];
      double e = below > 0 ? below : above > 0 ? above : 0;
      d2 += e * e;
    }
    if (nd->w2 < theta2 * d2) {
      list_add(l, nd->com, nd->count, D);
    } else if (nd->leaf) {
      for (int64_t s = nd->lo; s < nd->lo + nd->count; s++) list_add(l, t->ys + s * D, 1, D);
    } else {
      i++;
      continue;
    }
    i = nd->skip;
  }
  double far[3] = {0, 0, 0};
  while (l->len % LANES) list_add(l, far, 0, D); /* weight 0: adds nothing */
#ifdef BH_STATS
  __atomic_fetch_add(&bh_listlen, l->len, __ATOMIC_RELAXED);
  __atomic_fetch_add(&bh_lists, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&bh_pts, g->count, __ATOMIC_RELAXED);
#endif
}

/* Every point of leaf g: the list, then g's other points one by one. */
static inline __attribute__((always_inline)) void leaf_sums(const lt_bh_tree *t, const bh_node *g, ilist *l,
                                                           double dof, double theta2, double *f, double *z,
                                                           const int D, const int mode) {
  double lo[3], hi[3];
  for (int d = 0; d < D; d++) lo[d] = INFINITY, hi[d] = -INFINITY;
  for (int64_t s = g->lo; s < g->lo + g->count; s++)
    for (int d = 0; d < D; d++) {
      double v = t->ys[s * D + d];
      lo[d] = v < lo[d] ? v : lo[d], hi[d] = v > hi[d] ? v : hi[d];
    }
  collect(t, g, lo, hi, theta2, l);
  for (int64_t s = g->lo; s < g->lo + g->count; s++) {
    const double *q = t->ys + s * D;
    double fs[3], zs, cwu;
    sum_list(l, q, dof, fs, &zs, D, mode);
    for (int64_t s2 = g->lo; s2 < g->lo + g->count; s2++) {
      if (s2 == s) continue;
      double dx[3], d2 = 0;
      for (int d = 0; d < D; d++) dx[d] = q[d] - t->ys[s2 * D + d], d2 += dx[d] * dx[d];
      kernel(d2, 1, dof, mode, &zs, &cwu);
      for (int d = 0; d < D; d++) fs[d] += cwu * dx[d];
    }
    int64_t i = t->perm[s];
    for (int d = 0; d < D; d++) f[i * D + d] = fs[d];
    z[i] = zs;
  }
}

static void leaf_sums_any(const lt_bh_tree *t, const bh_node *g, ilist *l, double dof, double theta2, double *f,
                          double *z) {
  if (t->dims == 2 && dof == 1) leaf_sums(t, g, l, dof, theta2, f, z, 2, 1);
  else if (t->dims == 3 && dof == 2) leaf_sums(t, g, l, dof, theta2, f, z, 3, 2);
  else if (t->dims == 2) leaf_sums(t, g, l, dof, theta2, f, z, 2, 0);
  else leaf_sums(t, g, l, dof, theta2, f, z, 3, 0);
}

/* Room for one list per thread: at most every node and every point, plus padding. */
static lt_status reserve_lists(lt_bh_tree *t, int threads) {
  int64_t cap = t->n_nodes + t->n + LANES;
  if (cap <= t->list_cap && threads <= t->list_threads) return LT_OK;
  lt_free(t->lists, (size_t)t->list_threads * t->list_cap * 4 * sizeof(double));
  cap += cap / 4; /* headroom: the next build is usually a little larger */
  t->lists = lt_alloc((size_t)threads * cap * 4 * sizeof(double));
  t->list_cap = t->lists ? cap : 0, t->list_threads = t->lists ? threads : 0;
  return t->lists ? LT_OK : lt_error(LT_ERR_MEMORY, "bh_tree: out of memory for interaction lists");
}

lt_status lt_bh_tree_repulsion(lt_bh_tree *t, double dof, double angle, double *f, double *z) {
  int threads = omp_get_max_threads();
  lt_status st = reserve_lists(t, threads);
  if (st) return st;
#pragma omp parallel
  {
    double *base = t->lists + (int64_t)omp_get_thread_num() * t->list_cap * 4;
    ilist l = {{base, base + t->list_cap, base + 2 * t->list_cap}, base + 3 * t->list_cap, 0};
    /* Leaves in preorder are neighbours in space: consecutive lists overlap. */
#pragma omp for schedule(dynamic, 16)
    for (int64_t g = 0; g < t->n_leaves; g++)
      leaf_sums_any(t, &t->nodes[t->leaves[g]], &l, dof, angle * angle, f, z);
  }
  return LT_OK;
}

/* One outside query: scikit-learn's per-point walk (no self to leave out). */
void lt_bh_tree_repulsion_at(const lt_bh_tree *t, const double *q, double dof, double angle, double *f,
                             double *zout) {
  int D = t->dims, mode = dof == 1 ? 1 : dof == 2 ? 2 : 0;
  double acc[3] = {0, 0, 0}, z = 0, cwu, theta2 = angle * angle;
  int64_t i = 0;
  while (i < t->n_nodes) {
    const bh_node *nd = &t->nodes[i];
    double dx[3], d2 = 0;
    for (int d = 0; d < D; d++) dx[d] = q[d] - nd->com[d], d2 += dx[d] * dx[d];
    if (nd->w2 < theta2 * d2) {
      kernel(d2, nd->count, dof, mode, &z, &cwu);
      for (int d = 0; d < D; d++) acc[d] += cwu * dx[d];
    } else if (nd->leaf) {
      for (int64_t s = nd->lo; s < nd->lo + nd->count; s++) {
        d2 = 0;
        for (int d = 0; d < D; d++) dx[d] = q[d] - t->ys[s * D + d], d2 += dx[d] * dx[d];
        kernel(d2, 1, dof, mode, &z, &cwu);
        for (int d = 0; d < D; d++) acc[d] += cwu * dx[d];
      }
    } else {
      i++;
      continue;
    }
    i = nd->skip;
  }
  for (int d = 0; d < D; d++) f[d] = acc[d];
  *zout = z;
}
