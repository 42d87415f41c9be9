/* Barnes-Hut quadtree / octree: build by in-place partition, stackless
 * queries. See bh_tree.h. */
#include "analysis/bh_tree.h"

#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <string.h>

#include "core/lt_alloc.h"

enum {
  LEAF_SIZE = 8,   /* points a leaf may hold; visiting them directly beats a deeper tree */
  GROUP_SIZE = 16, /* the largest cells whose points share one interaction list */
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


struct lt_bh_tree {
  int dims;
  int64_t n, cap;      /* points built, room for */
  double *ys, *tmp_y;  /* coordinates in tree order, and partition scratch */
  int32_t *perm, *tmp_perm; /* perm[s]: original index of tree position s */
  uint8_t *codes;      /* child cell of each position, while partitioning */
  bh_node *nodes;
  int64_t n_nodes, cap_nodes;
  int32_t *groups;     /* node index of every group (see GROUP_SIZE), in preorder */
  int64_t n_groups, cap_groups;
  float *lists;        /* interaction lists, one per thread */
  int64_t list_cap;    /* entries per list */
  int list_threads;
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
  lt_free(t->groups, (size_t)t->cap_groups * sizeof(int32_t));
  lt_free(t->lists, (size_t)t->list_threads * t->list_cap * 4 * sizeof(float));
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

static lt_status build_node(lt_bh_tree *t, int32_t lo, int32_t hi, const double *center, double half, int depth,
                            bool in_group);

static lt_status build_children(lt_bh_tree *t, int64_t id, int32_t lo, int32_t hi, const double *center,
                                double half, int depth, bool in_group) {
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
    lt_status st = build_node(t, at, at + counts[c], cc, 0.5 * half, depth + 1, in_group);
    if (st) return st;
    for (int d = 0; d < D; d++) com[d] += counts[c] * t->nodes[child].com[d];
    at += counts[c];
  }
  for (int d = 0; d < D; d++) t->nodes[id].com[d] = com[d] / (hi - lo);
  return LT_OK;
}

static lt_status push_group(lt_bh_tree *t, int64_t id) {
  if (t->n_groups == t->cap_groups) {
    int64_t cap = t->cap_groups ? 2 * t->cap_groups : 1024;
    int32_t *groups = lt_alloc((size_t)cap * sizeof(int32_t));
    if (!groups) return LT_ERR_MEMORY;
    if (t->n_groups) memcpy(groups, t->groups, (size_t)t->n_groups * sizeof(int32_t));
    lt_free(t->groups, (size_t)t->cap_groups * sizeof(int32_t));
    t->groups = groups, t->cap_groups = cap;
  }
  t->groups[t->n_groups++] = (int32_t)id;
  return LT_OK;
}

/* The cell centred at `center`, of half-width `half`, holding tree positions
 * [lo, hi). The first cell on the way down with at most GROUP_SIZE points
 * (or a leaf that cannot split) is a group. */
static lt_status build_node(lt_bh_tree *t, int32_t lo, int32_t hi, const double *center, double half, int depth,
                            bool in_group) {
  int D = t->dims;
  int64_t id = push_node(t);
  if (id < 0) return LT_ERR_MEMORY;
  bool leaf = hi - lo <= LEAF_SIZE || depth >= MAX_DEPTH;
  lt_status st;
  if (!in_group && (hi - lo <= GROUP_SIZE || leaf)) {
    if ((st = push_group(t, id))) return st;
    in_group = true;
  }
  bh_node *nd = &t->nodes[id];
  memset(nd, 0, sizeof *nd);
  nd->w2 = 4 * half * half, nd->lo = lo, nd->count = hi - lo, nd->leaf = leaf;
  if (leaf) {
    for (int32_t s = lo; s < hi; s++)
      for (int d = 0; d < D; d++) nd->com[d] += t->ys[(int64_t)s * D + d];
    for (int d = 0; d < D; d++) nd->com[d] /= hi - lo;
  } else if ((st = build_children(t, id, lo, hi, center, half, depth, in_group))) {
    return st;
  }
  t->nodes[id].skip = (int32_t)t->n_nodes;
  return LT_OK;
}

lt_status lt_bh_tree_build(lt_bh_tree *t, const double *y, int64_t n) {
  int D = t->dims;
  if (n < 1 || n > INT32_MAX) return lt_error(LT_ERR_ARG, "bh_tree: cannot build over %lld points", (long long)n);
  if (reserve_points(t, n)) return lt_error(LT_ERR_MEMORY, "bh_tree: out of memory for %lld points", (long long)n);
  t->n = n, t->n_nodes = 0, t->n_groups = 0;
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
  if (build_node(t, 0, (int32_t)n, center, half, 0, false))
    return lt_error(LT_ERR_MEMORY, "bh_tree: out of memory for the nodes of %lld points", (long long)n);
  return LT_OK;
}

/* ==================== queries ==================== */

/* The kernel is t-SNE's Student-t with dof = max(dims - 1, 1): in 2-D
 * w = u = 1 / (1 + d^2); in 3-D u = 1 / (1 + d^2 / 2), w = u^(3/2). */

enum { LANES = 8 }; /* independent partial sums: the kernel loop runs as SIMD, in a fixed order */

/* An interaction list: positions relative to the group's centre and weights
 * (1 for a point, the count for a summarised cell), as float arrays so the
 * kernel loop runs 4 or 8 wide. Relative positions are small near the
 * group, where the kernel is steep, so float keeps about 7 digits there. */
typedef struct {
  float *x[3], *c;
  int64_t len;
} ilist;

/* Sums of one query q (relative to the same centre) over a list padded to LANES. */
static inline __attribute__((always_inline)) void sum_list(const ilist *l, const float *q, double *f, double *zout,
                                                          const int D) {
  float z[LANES] = {0}, ax[LANES] = {0}, ay[LANES] = {0}, az[LANES] = {0};
  for (int64_t j = 0; j < l->len; j += LANES)
    for (int a = 0; a < LANES; a++) {
      float dx = q[0] - l->x[0][j + a], dy = q[1] - l->x[1][j + a], dz = D == 3 ? q[2] - l->x[2][j + a] : 0;
      float d2 = dx * dx + dy * dy + dz * dz, u, w;
      if (D == 2) u = w = 1.0f / (1.0f + d2);
      else u = 1.0f / (1.0f + 0.5f * d2), w = u * sqrtf(u);
      float cw = l->c[j + a] * w, cwu = cw * u;
      z[a] += cw, ax[a] += cwu * dx, ay[a] += cwu * dy;
      if (D == 3) az[a] += cwu * dz;
    }
  double s[4] = {0, 0, 0, 0};
  for (int a = 0; a < LANES; a++) s[0] += z[a], s[1] += ax[a], s[2] += ay[a], s[3] += az[a];
  *zout = s[0];
  for (int d = 0; d < D; d++) f[d] = s[d + 1];
}

/* One pair in double: adds c w to *z and c w u (q - p) to f. */
static inline void pair(const double *q, const double *p, double c, int D, double *f, double *z) {
  double dx[3], d2 = 0, u, w;
  for (int d = 0; d < D; d++) dx[d] = q[d] - p[d], d2 += dx[d] * dx[d];
  if (D == 2) u = w = 1 / (1 + d2);
  else u = 1 / (1 + 0.5 * d2), w = u * sqrt(u);
  *z += c * w;
  for (int d = 0; d < D; d++) f[d] += c * w * u * dx[d];
}

static void list_add(ilist *l, const double *p, const double *centre, double c, int D) {
  for (int d = 0; d < D; d++) l->x[d][l->len] = (float)(p[d] - centre[d]);
  l->c[l->len++] = (float)c;
}

/* The interaction list of group g, whose points lie in the box [lo, hi]: a
 * cell is summarised when the test holds at the box's nearest point to its
 * centre of mass, hence for every point of g (at least as strict as testing
 * each point); cells holding g are opened, and g's own points left out. */
static void collect(const lt_bh_tree *t, const bh_node *g, const double *lo, const double *hi, double theta2,
                    ilist *l) {
  int D = t->dims;
  double centre[3];
  for (int d = 0; d < D; d++) centre[d] = 0.5 * (lo[d] + hi[d]);
  int64_t i = 0;
  l->len = 0;
  while (i < t->n_nodes) {
    const bh_node *nd = &t->nodes[i];
    if ((uint32_t)(g->lo - nd->lo) < (uint32_t)nd->count) { /* g is nd or below it */
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
      list_add(l, nd->com, centre, nd->count, D);
    } else if (nd->leaf) {
      for (int64_t s = nd->lo; s < nd->lo + nd->count; s++) list_add(l, t->ys + s * D, centre, 1, D);
    } else {
      i++;
      continue;
    }
    i = nd->skip;
  }
  while (l->len % LANES) list_add(l, centre, centre, 0, D); /* weight 0 adds nothing */
}

/* Every point of group g: its list, then g's other points pair by pair. */
static inline __attribute__((always_inline)) void group_sums(const lt_bh_tree *t, const bh_node *g, ilist *l,
                                                            double theta2, double *f, double *z, const int D) {
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
    float qc[3] = {0, 0, 0};
    for (int d = 0; d < D; d++) qc[d] = (float)(q[d] - 0.5 * (lo[d] + hi[d]));
    double fs[3] = {0, 0, 0}, zs;
    sum_list(l, qc, fs, &zs, D);
    for (int64_t s2 = g->lo; s2 < g->lo + g->count; s2++)
      if (s2 != s) pair(q, t->ys + s2 * D, 1, D, fs, &zs);
    int64_t i = t->perm[s];
    for (int d = 0; d < D; d++) f[i * D + d] = fs[d];
    z[i] = zs;
  }
}

/* Room for one list per thread: at most every node and every point, plus padding. */
static lt_status reserve_lists(lt_bh_tree *t, int threads) {
  int64_t cap = t->n_nodes + t->n + LANES;
  if (cap <= t->list_cap && threads <= t->list_threads) return LT_OK;
  lt_free(t->lists, (size_t)t->list_threads * t->list_cap * 4 * sizeof(float));
  cap += cap / 4; /* headroom: the next build is usually a little larger */
  t->lists = lt_alloc((size_t)threads * cap * 4 * sizeof(float));
  t->list_cap = t->lists ? cap : 0, t->list_threads = t->lists ? threads : 0;
  return t->lists ? LT_OK : lt_error(LT_ERR_MEMORY, "bh_tree: out of memory for interaction lists");
}

lt_status lt_bh_tree_repulsion(lt_bh_tree *t, double angle, double *f, double *z) {
  lt_status st = reserve_lists(t, omp_get_max_threads());
  if (st) return st;
#pragma omp parallel
  {
    float *base = t->lists + (int64_t)omp_get_thread_num() * t->list_cap * 4;
    ilist l = {{base, base + t->list_cap, base + 2 * t->list_cap}, base + 3 * t->list_cap, 0};
    /* groups in preorder are neighbours in space: consecutive lists are alike */
#pragma omp for schedule(dynamic, 8)
    for (int64_t g = 0; g < t->n_groups; g++) {
      if (t->dims == 2) group_sums(t, &t->nodes[t->groups[g]], &l, angle * angle, f, z, 2);
      else group_sums(t, &t->nodes[t->groups[g]], &l, angle * angle, f, z, 3);
    }
  }
  return LT_OK;
}

/* One outside query: scikit-learn's per-point walk (no self to leave out). */
void lt_bh_tree_repulsion_at(const lt_bh_tree *t, const double *q, double angle, double *f, double *z) {
  int D = t->dims;
  double theta2 = angle * angle;
  for (int d = 0; d < D; d++) f[d] = 0;
  *z = 0;
  int64_t i = 0;
  while (i < t->n_nodes) {
    const bh_node *nd = &t->nodes[i];
    double d2 = 0;
    for (int d = 0; d < D; d++) d2 += (q[d] - nd->com[d]) * (q[d] - nd->com[d]);
    if (nd->w2 < theta2 * d2) {
      pair(q, nd->com, nd->count, D, f, z);
    } else if (nd->leaf) {
      for (int64_t s = nd->lo; s < nd->lo + nd->count; s++) pair(q, t->ys + s * D, 1, D, f, z);
    } else {
      i++;
      continue;
    }
    i = nd->skip;
  }
}
