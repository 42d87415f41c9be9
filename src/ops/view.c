/* Views, copies, indexing and joining: forward and backward side by side. */
#include "ops/view.h"
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "ops/broadcast.h"

#include <stdlib.h>
#include <string.h>

/* Records `op` for a one-input op; on failure releases y. */
static lt_status finish(lt_tensor **out, lt_tensor *y, const lt_op *op, lt_tensor *a, lt_node **node) {
  if (!y) return LT_ERR_MEMORY;
  lt_status st = lt_record(y, op, 1, &a, 0, NULL, node);
  if (st != LT_OK) {
    lt_tensor_release(y);
    return st;
  }
  *out = y;
  return LT_OK;
}

/* g (any strides) reshaped to the edge's shape, as a new reference. */
static lt_tensor *reshape_to(lt_tensor *g, const lt_edge *e) {
  lt_tensor *c = lt_tensor_contiguous_values(g);
  if (!c) return NULL;
  lt_tensor *r = lt_tensor_alias(c, e->ndim, e->shape, NULL, c->offset);
  lt_tensor_release(c);
  return r;
}

/* ==================== view / reshape ==================== */

/* Fills in a -1 and checks the element count. */
static lt_status infer_shape(const char *fn, const lt_tensor *a, int nd, const int64_t *in, int64_t *shape) {
  int64_t known = 1;
  int infer = -1;
  char sa[LT_SHAPE_STR], sb[LT_SHAPE_STR];
  for (int d = 0; d < nd; d++) {
    shape[d] = in[d];
    if (in[d] == -1 && infer < 0) infer = d;
    else if (in[d] < 0) return lt_error(LT_ERR_ARG, "%s: invalid size %lld", fn, (long long)in[d]);
    else known *= in[d];
  }
  int64_t n = lt_tensor_numel(a);
  if (infer >= 0) {
    if (known == 0 || n % known)
      return lt_error(LT_ERR_SHAPE, "%s: cannot infer -1 when viewing %s (%lld elements) as %s", fn,
                      LT_SHAPE(a, sa), (long long)n, lt_shape_str(nd, in, sb));
    shape[infer] = n / known;
  } else if (known != n) {
    return lt_error(LT_ERR_SHAPE, "%s: cannot view %s (%lld elements) as %s (%lld elements)", fn,
                    LT_SHAPE(a, sa), (long long)n, lt_shape_str(nd, in, sb), (long long)known);
  }
  return LT_OK;
}

/* Strides for viewing a as `shape` without moving data, if there are any:
 * runs of a's dimensions that are laid out back to back can be split and
 * merged freely (the rule PyTorch's view follows). */
static bool view_strides(const lt_tensor *a, int nd, const int64_t *shape, int64_t *stride) {
  if (lt_tensor_numel(a) == 0 || a->ndim == 0) {
    lt_contiguous_strides(nd, shape, stride);
    return true;
  }
  int vd = nd - 1;
  int64_t base = a->stride[a->ndim - 1], chunk = 1, vchunk = 1;
  for (int d = a->ndim - 1; d >= 0; d--) {
    chunk *= a->shape[d];
    bool chunk_ends = d == 0 || (a->shape[d - 1] != 1 && a->stride[d - 1] != chunk * base);
    if (!chunk_ends) continue;
    while (vd >= 0 && (vchunk < chunk || shape[vd] == 1)) {
      stride[vd] = vchunk * base;
      vchunk *= shape[vd];
      vd--;
    }
    if (vchunk != chunk) return false;
    if (d > 0) {
      base = a->stride[d - 1];
      chunk = vchunk = 1;
    }
  }
  return vd == -1;
}

static lt_status view_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return (gi[0] = reshape_to(g, &n->inputs[0])) ? LT_OK : LT_ERR_MEMORY;
}
static const lt_op OP_VIEW = {"view", view_backward};
static const lt_op OP_RESHAPE = {"reshape", view_backward};

/* PyTorch: Tensor.view */
lt_status lt_view(lt_tensor **out, lt_tensor *a, int nd, const int64_t *in) {
  int64_t shape[LT_MAX_DIMS], stride[LT_MAX_DIMS];
  lt_status st = infer_shape("view", a, nd, in, shape);
  if (st != LT_OK) return st;
  if (!view_strides(a, nd, shape, stride)) {
    char sa[LT_SHAPE_STR], sb[LT_SHAPE_STR];
    return lt_error(LT_ERR_SHAPE,
                    "view: the strides of %s do not allow a view as %s; use reshape or contiguous() first",
                    LT_SHAPE(a, sa), lt_shape_str(nd, shape, sb));
  }
  return finish(out, lt_tensor_alias(a, nd, shape, stride, a->offset), &OP_VIEW, a, NULL);
}

/* PyTorch: torch.reshape (a view when possible, else a copy) */
lt_status lt_reshape(lt_tensor **out, lt_tensor *a, int nd, const int64_t *in) {
  int64_t shape[LT_MAX_DIMS], stride[LT_MAX_DIMS];
  lt_status st = infer_shape("reshape", a, nd, in, shape);
  if (st != LT_OK) return st;
  if (view_strides(a, nd, shape, stride))
    return finish(out, lt_tensor_alias(a, nd, shape, stride, a->offset), &OP_RESHAPE, a, NULL);
  lt_tensor *c = lt_tensor_copy_values(a);
  if (!c) return LT_ERR_MEMORY;
  lt_tensor *y = lt_tensor_alias(c, nd, shape, NULL, 0);
  lt_tensor_release(c);
  return finish(out, y, &OP_RESHAPE, a, NULL);
}

/* ==================== narrow / select ==================== */

/* A zero tensor shaped like input 0 with g written into the region given by
 * the node's narrow (i[0] = dim, i[1] = start) or select (i[2] = 1) params. */
static lt_tensor *scatter_region(lt_node *n, lt_tensor *g) {
  const lt_edge *e = &n->inputs[0];
  lt_tensor *z = lt_tensor_zeros(e->ndim, e->shape);
  if (!z) return NULL;
  int dim = (int)n->i[0];
  int64_t shape[LT_MAX_DIMS], stride[LT_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < e->ndim; d++) {
    if (d == dim && n->i[2]) continue; /* select drops the dimension */
    shape[nd] = d == dim ? g->shape[nd] : e->shape[d];
    stride[nd++] = z->stride[d];
  }
  lt_tensor *region = lt_tensor_alias(z, nd, shape, stride, n->i[1] * z->stride[dim]);
  if (!region) {
    lt_tensor_release(z);
    return NULL;
  }
  lt_copy_strided(region, g);
  lt_tensor_release(region);
  return z;
}

static lt_status region_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  return (gi[0] = scatter_region(n, g)) ? LT_OK : LT_ERR_MEMORY;
}
static const lt_op OP_NARROW = {"narrow", region_backward};
static const lt_op OP_SELECT = {"select", region_backward};

static lt_status record_region(lt_tensor **out, lt_tensor *y, const lt_op *op, lt_tensor *a,
                               int dim, int64_t start, int is_select) {
  lt_node *n;
  lt_status st = finish(out, y, op, a, &n);
  if (st == LT_OK && n) {
    n->i[0] = dim;
    n->i[1] = start;
    n->i[2] = is_select;
  }
  return st;
}

/* PyTorch: Tensor.narrow(dim, start, length) */
lt_status lt_narrow(lt_tensor **out, lt_tensor *a, int dim, int64_t start, int64_t length) {
  LT_ASSERT(dim >= 0 && dim < a->ndim);
  if (start < 0 || length < 0 || start + length > a->shape[dim]) {
    char sa[LT_SHAPE_STR];
    return lt_error(LT_ERR_INDEX, "narrow: elements %lld to %lld are out of range for dimension %d of %s",
                    (long long)start + 1, (long long)(start + length), dim + 1, LT_SHAPE(a, sa));
  }
  int64_t shape[LT_MAX_DIMS];
  memcpy(shape, a->shape, sizeof shape);
  shape[dim] = length;
  lt_tensor *y = lt_tensor_alias(a, a->ndim, shape, a->stride, a->offset + start * a->stride[dim]);
  return record_region(out, y, &OP_NARROW, a, dim, start, 0);
}

/* PyTorch: Tensor.select(dim, index) */
lt_status lt_select(lt_tensor **out, lt_tensor *a, int dim, int64_t index) {
  LT_ASSERT(dim >= 0 && dim < a->ndim);
  if (index < 0 || index >= a->shape[dim]) {
    char sa[LT_SHAPE_STR];
    return lt_error(LT_ERR_INDEX, "select: index %lld is out of range for dimension %d of %s (size %lld)",
                    (long long)index + 1, dim + 1, LT_SHAPE(a, sa), (long long)a->shape[dim]);
  }
  int64_t shape[LT_MAX_DIMS], stride[LT_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < a->ndim; d++) {
    if (d == dim) continue;
    shape[nd] = a->shape[d];
    stride[nd++] = a->stride[d];
  }
  lt_tensor *y = lt_tensor_alias(a, nd, shape, stride, a->offset + index * a->stride[dim]);
  return record_region(out, y, &OP_SELECT, a, dim, index, 1);
}

/* ==================== transpose / permute ==================== */

static lt_tensor *permuted(lt_tensor *a, const int *perm) {
  int64_t shape[LT_MAX_DIMS], stride[LT_MAX_DIMS];
  for (int d = 0; d < a->ndim; d++) {
    shape[d] = a->shape[perm[d]];
    stride[d] = a->stride[perm[d]];
  }
  return lt_tensor_alias(a, a->ndim, shape, stride, a->offset);
}

/* The backward of a permutation is the inverse permutation (stored in i[]). */
static lt_status permute_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  int inv[LT_MAX_DIMS];
  for (int d = 0; d < g->ndim; d++) inv[d] = (int)n->i[d];
  return (gi[0] = permuted(g, inv)) ? LT_OK : LT_ERR_MEMORY;
}
static const lt_op OP_PERMUTE = {"permute", permute_backward};

/* PyTorch: Tensor.permute(dims) */
lt_status lt_permute(lt_tensor **out, lt_tensor *a, const int *perm) {
  bool seen[LT_MAX_DIMS] = {0};
  for (int d = 0; d < a->ndim; d++) {
    if (perm[d] < 0 || perm[d] >= a->ndim || seen[perm[d]])
      return lt_error(LT_ERR_ARG, "permute: the dimensions must be a permutation of 1..%d", a->ndim);
    seen[perm[d]] = true;
  }
  lt_node *n;
  lt_status st = finish(out, permuted(a, perm), &OP_PERMUTE, a, &n);
  if (st == LT_OK && n)
    for (int d = 0; d < a->ndim; d++) n->i[perm[d]] = d;
  return st;
}

/* PyTorch: Tensor.transpose(d0, d1) */
lt_status lt_transpose(lt_tensor **out, lt_tensor *a, int d0, int d1) {
  LT_ASSERT(d0 >= 0 && d0 < a->ndim && d1 >= 0 && d1 < a->ndim);
  int perm[LT_MAX_DIMS];
  for (int d = 0; d < a->ndim; d++) perm[d] = d;
  perm[d0] = d1;
  perm[d1] = d0;
  return lt_permute(out, a, perm);
}

/* ==================== unsqueeze / squeeze ==================== */

static const lt_op OP_UNSQUEEZE = {"unsqueeze", view_backward};
static const lt_op OP_SQUEEZE = {"squeeze", view_backward};

/* PyTorch: Tensor.unsqueeze(dim) */
lt_status lt_unsqueeze(lt_tensor **out, lt_tensor *a, int dim) {
  LT_ASSERT(dim >= 0 && dim <= a->ndim);
  if (a->ndim == LT_MAX_DIMS)
    return lt_error(LT_ERR_SHAPE, "unsqueeze: a tensor has at most %d dimensions", LT_MAX_DIMS);
  int64_t shape[LT_MAX_DIMS], stride[LT_MAX_DIMS];
  for (int d = 0, s = 0; d <= a->ndim; d++) {
    if (d == dim) {
      shape[d] = 1;
      stride[d] = s < a->ndim ? a->stride[s] * a->shape[s] : 1;
    } else {
      shape[d] = a->shape[s];
      stride[d] = a->stride[s++];
    }
  }
  return finish(out, lt_tensor_alias(a, a->ndim + 1, shape, stride, a->offset), &OP_UNSQUEEZE, a, NULL);
}

/* PyTorch: Tensor.squeeze([dim]); squeezing a dim whose size is not 1 is a no-op. */
lt_status lt_squeeze(lt_tensor **out, lt_tensor *a, int dim) {
  int64_t shape[LT_MAX_DIMS], stride[LT_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < a->ndim; d++) {
    if (a->shape[d] == 1 && (dim < 0 || d == dim)) continue;
    shape[nd] = a->shape[d];
    stride[nd++] = a->stride[d];
  }
  return finish(out, lt_tensor_alias(a, nd, shape, stride, a->offset), &OP_SQUEEZE, a, NULL);
}

/* ==================== expand ==================== */

static lt_status expand_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  const lt_edge *e = &n->inputs[0];
  return (gi[0] = lt_sum_to_shape(g, e->ndim, e->shape)) ? LT_OK : LT_ERR_MEMORY;
}
static const lt_op OP_EXPAND = {"expand", expand_backward};

/* PyTorch: Tensor.expand(sizes): stretches size-1 dims without copying. */
lt_status lt_expand(lt_tensor **out, lt_tensor *a, int nd, const int64_t *in) {
  char sa[LT_SHAPE_STR], sb[LT_SHAPE_STR];
  if (nd < a->ndim)
    return lt_error(LT_ERR_SHAPE, "expand: cannot expand %s to fewer dimensions (%s)", LT_SHAPE(a, sa),
                    lt_shape_str(nd, in, sb));
  int64_t shape[LT_MAX_DIMS], stride[LT_MAX_DIMS];
  int lead = nd - a->ndim;
  for (int d = 0; d < nd; d++) {
    int64_t have = d < lead ? 1 : a->shape[d - lead];
    shape[d] = in[d] == -1 && d >= lead ? have : in[d];
    if (shape[d] < 0 || (have != 1 && shape[d] != have))
      return lt_error(LT_ERR_SHAPE, "expand: cannot expand %s to %s (dimension %d has size %lld)",
                      LT_SHAPE(a, sa), lt_shape_str(nd, in, sb), d + 1, (long long)have);
    stride[d] = d < lead || (have == 1 && shape[d] != 1) ? 0 : a->stride[d - lead];
  }
  return finish(out, lt_tensor_alias(a, nd, shape, stride, a->offset), &OP_EXPAND, a, NULL);
}

/* ==================== contiguous / clone / detach ==================== */

static lt_status identity_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  gi[0] = lt_tensor_retain(g);
  return LT_OK;
}
static const lt_op OP_CONTIGUOUS = {"contiguous", identity_backward};
static const lt_op OP_CLONE = {"clone", identity_backward};

/* PyTorch: Tensor.contiguous */
lt_status lt_contiguous(lt_tensor **out, lt_tensor *a) {
  if (lt_tensor_is_contiguous(a)) {
    *out = lt_tensor_retain(a);
    return LT_OK;
  }
  return finish(out, lt_tensor_copy_values(a), &OP_CONTIGUOUS, a, NULL);
}

/* PyTorch: Tensor.clone */
lt_status lt_clone(lt_tensor **out, lt_tensor *a) {
  return finish(out, lt_tensor_copy_values(a), &OP_CLONE, a, NULL);
}

/* PyTorch: Tensor.detach */
lt_status lt_detach(lt_tensor **out, lt_tensor *a) {
  lt_tensor *y = lt_tensor_alias(a, a->ndim, a->shape, a->stride, a->offset);
  if (!y) return LT_ERR_MEMORY;
  *out = y;
  return LT_OK;
}

/* ==================== index_select ==================== */

/* Copies (or with add, accumulates) slice index[k] of src's dim into slice k
 * of dst's dim, or the reverse when scatter. */
static void move_slices(lt_tensor *dst, lt_tensor *src, int dim, const int64_t *index, int64_t n,
                        bool scatter) {
  lt_tensor *big = scatter ? dst : src, *small = scatter ? src : dst;
  for (int64_t k = 0; k < n; k++) {
    lt_tensor sb = *big, ss = *small; /* stack views: only geometry changes */
    sb.shape[dim] = ss.shape[dim] = 1;
    sb.offset += index[k] * big->stride[dim];
    ss.offset += k * small->stride[dim];
    if (scatter) lt_accumulate(&sb, &ss);
    else lt_copy_strided(&ss, &sb);
  }
}

static lt_status index_select_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  const lt_edge *e = &n->inputs[0];
  lt_tensor *z = lt_tensor_zeros(e->ndim, e->shape);
  if (!z) return LT_ERR_MEMORY;
  const lt_tensor *idx = n->saved[0];
  int64_t count = lt_tensor_numel(idx), *index = malloc((size_t)(count ? count : 1) * sizeof *index);
  if (!index) {
    lt_tensor_release(z);
    return lt_error(LT_ERR_MEMORY, "index_select: out of memory");
  }
  for (int64_t k = 0; k < count; k++) index[k] = (int64_t)lt_tensor_data(idx)[k];
  move_slices(z, g, (int)n->i[0], index, count, true);
  free(index);
  gi[0] = z;
  return LT_OK;
}
static const lt_op OP_INDEX_SELECT = {"index_select", index_select_backward};

/* PyTorch: torch.index_select(a, dim, index) (index 0-based here) */
lt_status lt_index_select(lt_tensor **out, lt_tensor *a, int dim, const int64_t *index, int64_t n) {
  LT_ASSERT(dim >= 0 && dim < a->ndim);
  for (int64_t k = 0; k < n; k++)
    if (index[k] < 0 || index[k] >= a->shape[dim]) {
      char sa[LT_SHAPE_STR];
      return lt_error(LT_ERR_INDEX, "index_select: index %lld is out of range for dimension %d of %s",
                      (long long)index[k] + 1, dim + 1, LT_SHAPE(a, sa));
    }
  int64_t shape[LT_MAX_DIMS];
  memcpy(shape, a->shape, sizeof shape);
  shape[dim] = n;
  lt_tensor *y = lt_tensor_empty(a->ndim, shape), *idx = y ? lt_tensor_empty(1, &n) : NULL;
  if (!idx) {
    lt_tensor_release(y);
    return LT_ERR_MEMORY;
  }
  move_slices(y, a, dim, index, n, false);
  for (int64_t k = 0; k < n; k++) lt_tensor_data(idx)[k] = (float)index[k];
  lt_node *node;
  lt_status st = lt_record(y, &OP_INDEX_SELECT, 1, &a, 1, &idx, &node);
  lt_tensor_release(idx);
  if (st != LT_OK) {
    lt_tensor_release(y);
    return st;
  }
  if (node) node->i[0] = dim;
  *out = y;
  return LT_OK;
}

/* ==================== cat / stack ==================== */

static lt_status cat_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  int dim = (int)n->i[0];
  int64_t start = 0;
  for (int k = 0; k < n->n_inputs; k++) {
    const lt_edge *e = &n->inputs[k];
    if (lt_edge_needs_grad(e)) {
      lt_tensor part = *g;
      part.shape[dim] = e->shape[dim];
      part.offset += start * g->stride[dim];
      if (!(gi[k] = lt_tensor_copy_values(&part))) return LT_ERR_MEMORY;
    }
    start += e->shape[dim];
  }
  return LT_OK;
}
static const lt_op OP_CAT = {"cat", cat_backward};

static lt_status check_cat(int n, lt_tensor *const *ts, int dim) {
  if (n < 1) return lt_error(LT_ERR_ARG, "cat: needs at least one tensor");
  const lt_tensor *a = ts[0];
  for (int k = 1; k < n; k++) {
    bool ok = ts[k]->ndim == a->ndim;
    for (int d = 0; ok && d < a->ndim; d++) ok = d == dim || ts[k]->shape[d] == a->shape[d];
    if (!ok) {
      char sa[LT_SHAPE_STR], sb[LT_SHAPE_STR];
      return lt_error(LT_ERR_SHAPE, "cat: tensor %d has size %s, tensor 1 has %s; they must match except in dimension %d",
                      k + 1, LT_SHAPE(ts[k], sb), LT_SHAPE(a, sa), dim + 1);
    }
  }
  return LT_OK;
}

/* PyTorch: torch.cat(tensors, dim) */
lt_status lt_cat(lt_tensor **out, int n, lt_tensor *const *ts, int dim) {
  lt_status st = check_cat(n, ts, dim);
  if (st != LT_OK) return st;
  LT_ASSERT(dim >= 0 && dim < ts[0]->ndim);
  int64_t shape[LT_MAX_DIMS];
  memcpy(shape, ts[0]->shape, sizeof shape);
  shape[dim] = 0;
  for (int k = 0; k < n; k++) shape[dim] += ts[k]->shape[dim];
  lt_tensor *y = lt_tensor_empty(ts[0]->ndim, shape);
  if (!y) return LT_ERR_MEMORY;
  int64_t start = 0;
  for (int k = 0; k < n; k++) {
    lt_tensor part = *y;
    part.shape[dim] = ts[k]->shape[dim];
    part.offset += start * y->stride[dim];
    lt_copy_strided(&part, ts[k]);
    start += ts[k]->shape[dim];
  }
  lt_node *node;
  if ((st = lt_record(y, &OP_CAT, n, ts, 0, NULL, &node)) != LT_OK) {
    lt_tensor_release(y);
    return st;
  }
  if (node) node->i[0] = dim;
  *out = y;
  return LT_OK;
}

/* PyTorch: torch.stack(tensors, dim): cat of the tensors unsqueezed at dim. */
lt_status lt_stack(lt_tensor **out, int n, lt_tensor *const *ts, int dim) {
  if (n < 1) return lt_error(LT_ERR_ARG, "stack: needs at least one tensor");
  for (int k = 1; k < n; k++)
    if (!lt_same_shape(ts[k], ts[0])) {
      char sa[LT_SHAPE_STR], sb[LT_SHAPE_STR];
      return lt_error(LT_ERR_SHAPE, "stack: tensor %d has size %s, tensor 1 has %s; they must be equal", k + 1,
                      LT_SHAPE(ts[k], sb), LT_SHAPE(ts[0], sa));
    }
  lt_tensor **parts = calloc((size_t)n, sizeof *parts);
  if (!parts) return lt_error(LT_ERR_MEMORY, "stack: out of memory");
  lt_status st = LT_OK;
  for (int k = 0; k < n && st == LT_OK; k++) st = lt_unsqueeze(&parts[k], ts[k], dim);
  if (st == LT_OK) st = lt_cat(out, n, parts, dim);
  for (int k = 0; k < n; k++) lt_tensor_release(parts[k]);
  free(parts);
  return st;
}

/* ==================== in-place copy ==================== */

lt_status lt_check_inplace(const char *fn, const lt_tensor *t) {
  if (lt_grad_enabled() && t->requires_grad)
    return lt_error(LT_ERR_STATE,
                    "%s: in-place change of a tensor that requires grad; do it inside lt.no_grad, "
                    "or on a clone()",
                    fn);
  return LT_OK;
}

/* PyTorch: Tensor.copy_(src), src broadcast to dst's shape. */
lt_status lt_copy_(lt_tensor *dst, lt_tensor *src) {
  lt_status st = lt_check_inplace("copy", dst);
  if (st != LT_OK) return st;
  int nd;
  int64_t shape[LT_MAX_DIMS], stride[LT_MAX_DIMS];
  if (lt_broadcast_shape("copy", dst, src, &nd, shape) != LT_OK || nd != dst->ndim ||
      memcmp(shape, dst->shape, (size_t)nd * sizeof *shape)) {
    char sa[LT_SHAPE_STR], sb[LT_SHAPE_STR];
    return lt_error(LT_ERR_SHAPE, "copy: source of size %s does not fit a tensor of size %s", LT_SHAPE(src, sb),
                    LT_SHAPE(dst, sa));
  }
  lt_broadcast_strides(src, nd, shape, stride);
  lt_tensor s = *src;
  s.ndim = nd;
  memcpy(s.shape, shape, sizeof shape);
  memcpy(s.stride, stride, sizeof stride);
  if (src->storage == dst->storage) { /* overlapping memory: go through a copy */
    lt_tensor *c = lt_tensor_copy_values(&s);
    if (!c) return LT_ERR_MEMORY;
    lt_copy_strided(dst, c);
    lt_tensor_release(c);
  } else {
    lt_copy_strided(dst, &s);
  }
  lt_tensor_bump_version(dst);
  return LT_OK;
}
