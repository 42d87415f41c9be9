/* Tensors: float32, up to LT_MAX_DIMS dimensions, a view (shape, strides,
 * offset) over a reference-counted storage, so views share memory.
 *
 * Indices and dimensions are 0-based here; the Lua bindings convert Lua's
 * 1-based ones. Sizes and strides are int64_t. A tensor of 0 dimensions is a
 * scalar holding one value. */
#ifndef LT_TENSOR_H
#define LT_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#define LT_MAX_DIMS 8
#define LT_SHAPE_STR 128 /* room for "8x8x8..." written by lt_shape_str */

typedef struct lt_storage {
  float *data;
  int64_t numel;
  int refcount;
  uint32_t version; /* bumped by every in-place write; autograd checks it */
} lt_storage;

typedef struct lt_node lt_node; /* autograd/graph.h */

typedef struct lt_tensor {
  lt_storage *storage;
  int64_t offset;
  int ndim;
  int64_t shape[LT_MAX_DIMS];
  int64_t stride[LT_MAX_DIMS];
  int refcount;
  /* autograd: a leaf has requires_grad and no grad_fn; a result of recorded
   * ops has both. `grad` is where backward accumulates a leaf's gradient. */
  bool requires_grad;
  struct lt_tensor *grad;
  lt_node *grad_fn;
} lt_tensor;

/* ---- creation: NULL and an error message when out of memory ---- */
lt_tensor *lt_tensor_empty(int ndim, const int64_t *shape);
lt_tensor *lt_tensor_zeros(int ndim, const int64_t *shape);
lt_tensor *lt_tensor_full(int ndim, const int64_t *shape, float value);
lt_tensor *lt_tensor_empty_like(const lt_tensor *t); /* contiguous, same shape */
lt_tensor *lt_tensor_zeros_like(const lt_tensor *t);
/* A new view of t's storage with the given geometry; no autograd history. */
lt_tensor *lt_tensor_alias(const lt_tensor *t, int ndim, const int64_t *shape,
                           const int64_t *stride, int64_t offset);
/* A contiguous copy of t's values (t itself, retained, when already contiguous). */
lt_tensor *lt_tensor_contiguous_values(lt_tensor *t);
lt_tensor *lt_tensor_copy_values(const lt_tensor *t); /* always a fresh copy */

lt_tensor *lt_tensor_retain(lt_tensor *t);
void lt_tensor_release(lt_tensor *t); /* NULL is allowed */

/* ---- geometry ---- */
int64_t lt_numel(int ndim, const int64_t *shape);
static inline int64_t lt_tensor_numel(const lt_tensor *t) { return lt_numel(t->ndim, t->shape); }
static inline float *lt_tensor_data(const lt_tensor *t) { return t->storage->data + t->offset; }
bool lt_tensor_is_contiguous(const lt_tensor *t);
bool lt_same_shape(const lt_tensor *a, const lt_tensor *b);
void lt_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);
const char *lt_shape_str(int ndim, const int64_t *shape, char buf[LT_SHAPE_STR]);
#define LT_SHAPE(t, buf) lt_shape_str((t)->ndim, (t)->shape, (buf))

/* ---- raw value movement (no autograd) ---- */
/* dst[i] = src[i] over equal shapes, any strides on both sides. */
void lt_copy_strided(lt_tensor *dst, const lt_tensor *src);
/* dst += src over equal shapes; dst contiguous. Used to accumulate gradients. */
void lt_accumulate(lt_tensor *dst, const lt_tensor *src);
void lt_fill(lt_tensor *t, float value);

/* Marks an in-place write, so graphs that saved this storage notice. */
static inline void lt_tensor_bump_version(lt_tensor *t) { t->storage->version++; }

#endif
