/* Tensor storage, views, and raw strided copies. */
#include "core/lt_tensor.h"
#include "core/lt_alloc.h"
#include "core/lt_error.h"
#include "autograd/graph.h" /* lt_node_release: a tensor owns a reference to its grad_fn */

#include <stdio.h>
#include <string.h>

/* ==================== storage ==================== */

static lt_storage *storage_new(int64_t numel) {
  lt_storage *s = lt_alloc(sizeof *s);
  if (!s) return NULL;
  s->data = lt_alloc((size_t)(numel > 0 ? numel : 1) * sizeof(float));
  if (!s->data) {
    lt_free(s, sizeof *s);
    return NULL;
  }
  s->numel = numel;
  s->refcount = 1;
  s->version = 0;
  return s;
}

static void storage_release(lt_storage *s) {
  if (!s || --s->refcount > 0) return;
  lt_free(s->data, (size_t)(s->numel > 0 ? s->numel : 1) * sizeof(float));
  lt_free(s, sizeof *s);
}

/* ==================== geometry ==================== */

int64_t lt_numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  return n;
}

void lt_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride) {
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    stride[d] = s;
    s *= shape[d] > 0 ? shape[d] : 1;
  }
}

bool lt_tensor_is_contiguous(const lt_tensor *t) {
  int64_t s = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] != 1 && t->stride[d] != s) return false;
    s *= t->shape[d];
  }
  return true;
}

bool lt_same_shape(const lt_tensor *a, const lt_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  return true;
}

const char *lt_shape_str(int ndim, const int64_t *shape, char buf[LT_SHAPE_STR]) {
  if (ndim == 0) return strcpy(buf, "scalar");
  size_t n = 0;
  buf[0] = 0;
  for (int d = 0; d < ndim && n < LT_SHAPE_STR - 24; d++)
    n += (size_t)snprintf(buf + n, LT_SHAPE_STR - n, d ? "x%lld" : "%lld", (long long)shape[d]);
  return buf;
}

/* ==================== creation ==================== */

static lt_tensor *tensor_struct(lt_storage *s, int ndim, const int64_t *shape,
                                const int64_t *stride, int64_t offset) {
  lt_tensor *t = lt_calloc(sizeof *t);
  if (!t) return NULL;
  t->storage = s;
  t->offset = offset;
  t->ndim = ndim;
  if (ndim > 0) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
  if (stride && ndim > 0) memcpy(t->stride, stride, (size_t)ndim * sizeof *stride);
  else lt_contiguous_strides(ndim, shape, t->stride);
  t->refcount = 1;
  return t;
}

/* Largest tensor we agree to allocate: 2^40 floats (4 TiB) keeps every byte
 * count far from int64 overflow. */
#define MAX_NUMEL ((int64_t)1 << 40)

lt_tensor *lt_tensor_empty(int ndim, const int64_t *shape) {
  LT_ASSERT(ndim >= 0 && ndim <= LT_MAX_DIMS);
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0 || (shape[d] > 0 && n > MAX_NUMEL / shape[d])) {
      char buf[LT_SHAPE_STR];
      lt_error(LT_ERR_ARG, "a tensor of size %s is too large or has a negative size",
               lt_shape_str(ndim, shape, buf));
      return NULL;
    }
    n *= shape[d];
  }
  lt_storage *s = storage_new(n);
  if (!s) return NULL;
  lt_tensor *t = tensor_struct(s, ndim, shape, NULL, 0);
  if (!t) storage_release(s);
  return t;
}

lt_tensor *lt_tensor_zeros(int ndim, const int64_t *shape) {
  lt_tensor *t = lt_tensor_empty(ndim, shape);
  if (t) memset(t->storage->data, 0, (size_t)lt_tensor_numel(t) * sizeof(float));
  return t;
}

lt_tensor *lt_tensor_full(int ndim, const int64_t *shape, float value) {
  lt_tensor *t = lt_tensor_empty(ndim, shape);
  if (t) lt_fill(t, value);
  return t;
}

lt_tensor *lt_tensor_empty_like(const lt_tensor *t) { return lt_tensor_empty(t->ndim, t->shape); }
lt_tensor *lt_tensor_zeros_like(const lt_tensor *t) { return lt_tensor_zeros(t->ndim, t->shape); }

lt_tensor *lt_tensor_alias(const lt_tensor *t, int ndim, const int64_t *shape,
                           const int64_t *stride, int64_t offset) {
  lt_tensor *v = tensor_struct(t->storage, ndim, shape, stride, offset);
  if (v) t->storage->refcount++;
  return v;
}

lt_tensor *lt_tensor_copy_values(const lt_tensor *t) {
  lt_tensor *c = lt_tensor_empty_like(t);
  if (c) lt_copy_strided(c, t);
  return c;
}

lt_tensor *lt_tensor_contiguous_values(lt_tensor *t) {
  if (lt_tensor_is_contiguous(t)) return lt_tensor_retain(t);
  return lt_tensor_copy_values(t);
}

lt_tensor *lt_tensor_retain(lt_tensor *t) {
  t->refcount++;
  return t;
}

void lt_tensor_release(lt_tensor *t) {
  if (!t || --t->refcount > 0) return;
  lt_tensor_release(t->grad);
  lt_node_release(t->grad_fn);
  storage_release(t->storage);
  lt_free(t, sizeof *t);
}

/* ==================== raw strided copies ==================== */

/* Walks all indices of a shape in row-major order, calling `row` once per
 * innermost row with the offsets of that row in two tensors. */
typedef void (*row_fn)(int64_t n, float *d, int64_t ds, const float *s, int64_t ss, float v);

static void for_each_row(lt_tensor *dst, const lt_tensor *src, row_fn row, float v) {
  int nd = dst->ndim;
  if (nd == 0) {
    row(1, lt_tensor_data(dst), 1, lt_tensor_data(src), 1, v);
    return;
  }
  int64_t idx[LT_MAX_DIMS] = {0};
  int64_t rows = lt_numel(nd - 1, dst->shape), n = dst->shape[nd - 1];
  float *d = lt_tensor_data(dst);
  const float *s = lt_tensor_data(src);
  for (int64_t r = 0; r < rows; r++) {
    int64_t od = 0, os = 0;
    for (int k = 0; k < nd - 1; k++) {
      od += idx[k] * dst->stride[k];
      os += idx[k] * src->stride[k];
    }
    row(n, d + od, dst->stride[nd - 1], s + os, src->stride[nd - 1], v);
    for (int k = nd - 2; k >= 0 && ++idx[k] == dst->shape[k]; k--) idx[k] = 0;
  }
}

static void copy_row(int64_t n, float *d, int64_t ds, const float *s, int64_t ss, float v) {
  if (ds == 1 && ss == 1) memmove(d, s, (size_t)n * sizeof *d);
  else for (int64_t i = 0; i < n; i++) d[i * ds] = s[i * ss];
}

static void add_row(int64_t n, float *d, int64_t ds, const float *s, int64_t ss, float v) {
  for (int64_t i = 0; i < n; i++) d[i * ds] += s[i * ss];
}

void lt_copy_strided(lt_tensor *dst, const lt_tensor *src) {
  LT_ASSERT(lt_numel(dst->ndim, dst->shape) == lt_numel(src->ndim, src->shape));
  if (lt_tensor_numel(dst) == 0) return;
  if (lt_tensor_is_contiguous(dst) && lt_tensor_is_contiguous(src)) {
    memmove(lt_tensor_data(dst), lt_tensor_data(src), (size_t)lt_tensor_numel(dst) * sizeof(float));
    return;
  }
  LT_ASSERT(lt_same_shape(dst, src));
  for_each_row(dst, src, copy_row, 0);
}

void lt_accumulate(lt_tensor *dst, const lt_tensor *src) {
  LT_ASSERT(lt_same_shape(dst, src));
  if (lt_tensor_numel(dst) == 0) return;
  if (lt_tensor_is_contiguous(dst) && lt_tensor_is_contiguous(src)) {
    float *d = lt_tensor_data(dst);
    const float *s = lt_tensor_data(src);
    int64_t n = lt_tensor_numel(dst);
    for (int64_t i = 0; i < n; i++) d[i] += s[i];
    return;
  }
  for_each_row(dst, src, add_row, 0);
}

static void fill_row(int64_t n, float *d, int64_t ds, const float *s, int64_t ss, float v) {
  for (int64_t i = 0; i < n; i++) d[i * ds] = v;
}

void lt_fill(lt_tensor *t, float value) {
  if (lt_tensor_numel(t) == 0) return;
  if (lt_tensor_is_contiguous(t)) {
    float *d = lt_tensor_data(t);
    int64_t n = lt_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) d[i] = value;
    return;
  }
  for_each_row(t, t, fill_row, value);
}
