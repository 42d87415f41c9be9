/* Layers without parameters: activations that map to one op, and reshaping. */
#include "nn/layers.h"
#include "ops/elementwise.h"
#include "ops/view.h"

#include <stdio.h>
#include <string.h>

static void no_args(const lt_layer *l, char *buf, size_t size) { buf[0] = 0; }

/* ==================== one-op activations ==================== */

static lt_status identity_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) {
  *y = lt_tensor_retain(x);
  return LT_OK;
}
static lt_status relu_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) { return lt_relu(y, x); }
static lt_status sigmoid_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) { return lt_sigmoid(y, x); }
static lt_status tanh_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) { return lt_tanh(y, x); }

static const lt_layer_kind IDENTITY = {"Identity", identity_forward, no_args};
static const lt_layer_kind RELU = {"ReLU", relu_forward, no_args};
static const lt_layer_kind SIGMOID = {"Sigmoid", sigmoid_forward, no_args};
static const lt_layer_kind TANH = {"Tanh", tanh_forward, no_args};

lt_layer *lt_nn_identity(void) { return lt_layer_new(&IDENTITY); }
lt_layer *lt_nn_relu(void) { return lt_layer_new(&RELU); }
lt_layer *lt_nn_sigmoid(void) { return lt_layer_new(&SIGMOID); }
lt_layer *lt_nn_tanh(void) { return lt_layer_new(&TANH); }

/* ==================== Flatten ==================== */

/* i[0] = start dim, i[1] = end dim (negative from the last) */
static lt_status flatten_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) {
  int start = (int)l->i[0], end = (int)(l->i[1] < 0 ? x->ndim + l->i[1] : l->i[1]);
  if (start < 0 || start >= x->ndim || end < start || end >= x->ndim) {
    char s[LT_SHAPE_STR];
    return lt_error(LT_ERR_SHAPE, "Flatten: cannot flatten dims %d to %d of a tensor of size %s", start + 1,
                    end + 1, LT_SHAPE(x, s));
  }
  int64_t shape[LT_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (d <= start || d > end) shape[nd++] = x->shape[d];
    else shape[nd - 1] *= x->shape[d];
  }
  return lt_reshape(y, x, nd, shape);
}

static void flatten_describe(const lt_layer *l, char *buf, size_t size) {
  snprintf(buf, size, "start_dim=%d, end_dim=%d", (int)l->i[0] + 1, (int)(l->i[1] < 0 ? l->i[1] : l->i[1] + 1));
}

static const lt_layer_kind FLATTEN = {"Flatten", flatten_forward, flatten_describe};

lt_layer *lt_nn_flatten(int start_dim, int end_dim) {
  lt_layer *l = lt_layer_new(&FLATTEN);
  if (l) {
    l->i[0] = start_dim;
    l->i[1] = end_dim;
  }
  return l;
}

/* ==================== Unflatten ==================== */

/* i[0] = dim, i[1] = number of sizes, i[2..] = the sizes */
static lt_status unflatten_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) {
  int dim = (int)l->i[0], n = (int)l->i[1];
  char s[LT_SHAPE_STR];
  if (dim >= x->ndim || x->ndim - 1 + n > LT_MAX_DIMS)
    return lt_error(LT_ERR_SHAPE, "Unflatten: cannot unflatten dim %d of a tensor of size %s", dim + 1,
                    LT_SHAPE(x, s));
  int64_t shape[LT_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (d != dim) shape[nd++] = x->shape[d];
    else for (int k = 0; k < n; k++) shape[nd++] = l->i[2 + k];
  }
  return lt_reshape(y, x, nd, shape);
}

static void unflatten_describe(const lt_layer *l, char *buf, size_t size) {
  int n = snprintf(buf, size, "%d, {", (int)l->i[0] + 1);
  for (int k = 0; k < l->i[1] && n < (int)size; k++)
    n += snprintf(buf + n, size - (size_t)n, k ? ", %lld" : "%lld", (long long)l->i[2 + k]);
  if (n < (int)size) snprintf(buf + n, size - (size_t)n, "}");
}

static const lt_layer_kind UNFLATTEN = {"Unflatten", unflatten_forward, unflatten_describe};

lt_layer *lt_nn_unflatten(int dim, int n, const int64_t *sizes) {
  if (n < 1 || n > LT_LAYER_SETTINGS - 2) {
    lt_error(LT_ERR_ARG, "Unflatten: between 1 and %d sizes, got %d", LT_LAYER_SETTINGS - 2, n);
    return NULL;
  }
  lt_layer *l = lt_layer_new(&UNFLATTEN);
  if (!l) return NULL;
  l->i[0] = dim;
  l->i[1] = n;
  memcpy(l->i + 2, sizes, (size_t)n * sizeof *sizes);
  return l;
}
