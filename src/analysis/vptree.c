/* Vantage-point tree: build, one query, and the all-points query t-SNE uses.
 * See vptree.h for the structure. */
#include "analysis/vptree.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/lt_alloc.h"

enum { LEAF_SIZE = 24 }; /* below this, a scan beats the bookkeeping of a split */

typedef struct {
  int32_t lo, hi;          /* rows [lo, hi) of the tree order (a leaf: all of them; else lo is the vantage) */
  int32_t inside, outside; /* child nodes; -1 for a leaf */
  float radius;            /* median distance from the vantage point to the rows below it */
} vp_node;

struct lt_vptree {
  int64_t n, d;
  float *xs;      /* the rows in tree order, n x d */
  int32_t *perm;  /* perm[s] = original row of tree position s */
  vp_node *nodes;
  int32_t n_nodes, root;
};

typedef struct { float dist; int32_t pos; } keyed; /* a distance and a tree position, for selection */

/* ==================== distances ==================== */

/* Squared distance with eight partial sums, so the compiler can vectorize it
 * without reordering a single sum (the order is fixed: results are repeatable). */
static inline float sqdist(const float *a, const float *b, int64_t d) {
  float s[8] = {0};
  int64_t k = 0;
  for (; k + 8 <= d; k += 8)
    for (int l = 0; l < 8; l++) {
      float t = a[k + l] - b[k + l];
      s[l] += t * t;
    }
  for (int l = 0; k < d; k++, l++) {
    float t = a[k] - b[k];
    s[l] += t * t;
  }
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

/* ==================== build ==================== */

static uint64_t mix(uint64_t z) { /* splitmix64's finalizer: a fixed, well-spread hash */
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Hoare-style quickselect: afterwards a[m] holds the element that sorted
 * order puts there, smaller ones before it and larger ones after. */
static void select_nth(keyed *a, int64_t n, int64_t m) {
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    float pivot = a[lo + (hi - lo) / 2].dist;
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (a[i].dist < pivot) i++;
      while (a[j].dist > pivot) j--;
      if (i <= j) {
        keyed t = a[i]; a[i] = a[j]; a[j] = t;
        i++, j--;
      }
    }
    if (m <= j) hi = j;
    else if (m >= i) lo = i;
    else return;
  }
}

typedef struct {
  lt_vptree *t;
  const float *x;  /* the original rows */
  int32_t *order;  /* original row at each tree position, permuted as we go */
  keyed *scratch;
} builder;

/* Splits tree positions [lo, hi) and returns the node's index. */
static int32_t build(builder *b, int32_t lo, int32_t hi) {
  lt_vptree *t = b->t;
  int32_t id = t->n_nodes++;
  vp_node *nd = &t->nodes[id];
  nd->lo = lo, nd->hi = hi, nd->inside = nd->outside = -1, nd->radius = 0;
  if (hi - lo <= LEAF_SIZE) return id;
  int32_t v = lo + (int32_t)(mix(((uint64_t)lo << 32) | (uint32_t)hi) % (uint64_t)(hi - lo));
  int32_t tmp = b->order[lo]; b->order[lo] = b->order[v]; b->order[v] = tmp;
  const float *vp = b->x + (int64_t)b->order[lo] * t->d;
  int64_t m = hi - lo - 1;
  keyed *k = b->scratch;
  for (int64_t s = 0; s < m; s++)
    k[s] = (keyed){sqrtf(sqdist(vp, b->x + (int64_t)b->order[lo + 1 + s] * t->d, t->d)), b->order[lo + 1 + s]};
  int64_t mid = m / 2;
  select_nth(k, m, mid);
  for (int64_t s = 0; s < m; s++) b->order[lo + 1 + s] = k[s].pos; /* .pos holds the original row here */
  float radius = k[mid].dist;
  int32_t split = lo + 1 + (int32_t)mid;
  int32_t inside = build(b, lo + 1, split);
  int32_t outside = build(b, split, hi);
  nd = &t->nodes[id]; /* (the array does not move, but keep the pointer honest) */
  nd->inside = inside, nd->outside = outside, nd->radius = radius;
  return id;
}

void lt_vptree_free(lt_vptree *t) {
  if (!t) return;
  lt_free(t->xs, (size_t)(t->n * t->d) * sizeof(float));
  lt_free(t->perm, (size_t)t->n * sizeof(int32_t));
  lt_free(t->nodes, (size_t)(2 * t->n + 1) * sizeof(vp_node));
  lt_free(t, sizeof *t);
}

lt_vptree *lt_vptree_build(const float *x, int64_t n, int64_t d) {
  if (n < 1 || n > INT32_MAX / 2 || d < 1) {
    lt_error(LT_ERR_ARG, "vptree: cannot index %lld points of %lld dimensions", (long long)n, (long long)d);
    return NULL;
  }
  lt_vptree *t = lt_calloc(sizeof *t);
  if (!t) return NULL;
  t->n = n, t->d = d;
  t->xs = lt_alloc((size_t)(n * d) * sizeof(float));
  t->perm = lt_alloc((size_t)n * sizeof(int32_t));
  t->nodes = lt_alloc((size_t)(2 * n + 1) * sizeof(vp_node)); /* each split uses up one vantage row */
  keyed *scratch = lt_alloc((size_t)n * sizeof(keyed));
  if (!t->xs || !t->perm || !t->nodes || !scratch) {
    lt_free(scratch, (size_t)n * sizeof(keyed));
    lt_vptree_free(t);
    return NULL;
  }
  for (int64_t i = 0; i < n; i++) t->perm[i] = (int32_t)i;
  builder b = {t, x, t->perm, scratch};
  t->root = build(&b, 0, (int32_t)n);
  lt_free(scratch, (size_t)n * sizeof(keyed));
  for (int64_t s = 0; s < n; s++) memcpy(t->xs + s * d, x + (int64_t)t->perm[s] * d, (size_t)d * sizeof(float));
  return t;
}

/* ==================== queries ==================== */

/* The k best candidates so far, as a max-heap on (distance, row): the root is
 * the worst kept, and `tau` its distance once the heap is full. */
typedef struct {
  int32_t *idx;
  float *d2;
  int k, size;
  float tau; /* Euclidean, not squared: it is compared with radii */
} heap;

static inline int worse(float da, int32_t ia, float db, int32_t ib) { return da > db || (da == db && ia > ib); }

static void heap_push(heap *h, float d2, int32_t row) {
  if (h->size == h->k) {
    if (!worse(h->d2[0], h->idx[0], d2, row)) return;
    int s = 0; /* replace the root and sift down */
    for (;;) {
      int c = 2 * s + 1;
      if (c >= h->k) break;
      if (c + 1 < h->k && worse(h->d2[c + 1], h->idx[c + 1], h->d2[c], h->idx[c])) c++;
      if (!worse(h->d2[c], h->idx[c], d2, row)) break;
      h->d2[s] = h->d2[c], h->idx[s] = h->idx[c];
      s = c;
    }
    h->d2[s] = d2, h->idx[s] = row;
  } else {
    int s = h->size++;
    while (s > 0) {
      int p = (s - 1) / 2;
      if (!worse(d2, row, h->d2[p], h->idx[p])) break;
      h->d2[s] = h->d2[p], h->idx[s] = h->idx[p];
      s = p;
    }
    h->d2[s] = d2, h->idx[s] = row;
  }
  if (h->size == h->k) h->tau = sqrtf(h->d2[0]);
}

/* Heap sort in place: nearest first. */
static void heap_finish(heap *h) {
  for (int end = h->size - 1; end > 0; end--) {
    float d = h->d2[end]; int32_t r = h->idx[end];
    h->d2[end] = h->d2[0], h->idx[end] = h->idx[0];
    int s = 0;
    for (;;) {
      int c = 2 * s + 1;
      if (c >= end) break;
      if (c + 1 < end && worse(h->d2[c + 1], h->idx[c + 1], h->d2[c], h->idx[c])) c++;
      if (!worse(h->d2[c], h->idx[c], d, r)) break;
      h->d2[s] = h->d2[c], h->idx[s] = h->idx[c];
      s = c;
    }
    h->d2[s] = d, h->idx[s] = r;
  }
}

static void offer(const lt_vptree *t, heap *h, const float *q, int64_t exclude, int32_t pos) {
  int32_t row = t->perm[pos];
  if (row == exclude) return;
  heap_push(h, sqdist(q, t->xs + (int64_t)pos * t->d, t->d), row);
}

static void search(const lt_vptree *t, int32_t id, const float *q, int64_t exclude, heap *h) {
  const vp_node *nd = &t->nodes[id];
  if (nd->inside < 0) {
    for (int32_t s = nd->lo; s < nd->hi; s++) offer(t, h, q, exclude, s);
    return;
  }
  float d2 = sqdist(q, t->xs + (int64_t)nd->lo * t->d, t->d);
  if (t->perm[nd->lo] != exclude) heap_push(h, d2, t->perm[nd->lo]);
  float dist = sqrtf(d2);
  if (dist < nd->radius) { /* inside first: the nearest points are likely there */
    search(t, nd->inside, q, exclude, h);
    if (h->size < h->k || dist + h->tau >= nd->radius) search(t, nd->outside, q, exclude, h);
  } else {
    search(t, nd->outside, q, exclude, h);
    if (h->size < h->k || dist - h->tau <= nd->radius) search(t, nd->inside, q, exclude, h);
  }
}

void lt_vptree_query(const lt_vptree *t, const float *q, int64_t exclude, int k, int32_t *idx,
                     float *dist2) {
  heap h = {idx, dist2, k, 0, INFINITY};
  if (k > 0) search(t, t->root, q, exclude, &h);
  heap_finish(&h);
}

lt_status lt_vptree_knn_self(const lt_vptree *t, int k, int32_t *idx, float *dist2) {
  if (k < 1 || k > t->n - 1)
    return lt_error(LT_ERR_ARG, "vptree: %d neighbours asked of %lld points", k, (long long)t->n);
  /* Tree order keeps nearby queries together (they visit the same nodes).
   * Each row's answer is its own, so any schedule gives the same result. */
#pragma omp parallel for schedule(dynamic, 32)
  for (int64_t s = 0; s < t->n; s++) {
    int64_t row = t->perm[s];
    lt_vptree_query(t, t->xs + s * t->d, row, k, idx + row * k, dist2 + row * k);
  }
  return LT_OK;
}
