/* The layer record: creation, tensors by name, freeing. */
#include "nn/layer.h"
#include "core/lt_alloc.h"

#include <string.h>

lt_layer *lt_layer_new(const lt_layer_kind *kind) {
  lt_layer *l = lt_calloc(sizeof *l);
  if (!l) return NULL;
  l->kind = kind;
  l->training = true;
  return l;
}

void lt_layer_free(lt_layer *l) {
  if (!l) return;
  for (int k = 0; k < l->n_params; k++) lt_tensor_release(l->param[k]);
  for (int k = 0; k < l->n_buffers; k++) lt_tensor_release(l->buffer[k]);
  lt_free(l, sizeof *l);
}

lt_tensor *lt_layer_add_param(lt_layer *l, const char *name, int ndim, const int64_t *shape) {
  LT_ASSERT(l->n_params < LT_LAYER_SLOTS);
  lt_tensor *t = lt_tensor_zeros(ndim, shape);
  if (!t) return NULL;
  t->requires_grad = true;
  l->param_name[l->n_params] = name;
  l->param[l->n_params++] = t;
  return t;
}

lt_tensor *lt_layer_add_buffer(lt_layer *l, const char *name, int ndim, const int64_t *shape) {
  LT_ASSERT(l->n_buffers < LT_LAYER_SLOTS);
  lt_tensor *t = lt_tensor_zeros(ndim, shape);
  if (!t) return NULL;
  l->buffer_name[l->n_buffers] = name;
  l->buffer[l->n_buffers++] = t;
  return t;
}

int lt_layer_find(const lt_layer *l, const char *name) {
  for (int k = 0; k < l->n_params; k++)
    if (!strcmp(l->param_name[k], name)) return k;
  for (int k = 0; k < l->n_buffers; k++)
    if (!strcmp(l->buffer_name[k], name)) return LT_LAYER_SLOTS + k;
  return -1;
}

lt_status lt_layer_set(lt_layer *l, int slot, lt_tensor *t) {
  bool is_param = slot < LT_LAYER_SLOTS;
  lt_tensor **where = is_param ? &l->param[slot] : &l->buffer[slot - LT_LAYER_SLOTS];
  const char *name = is_param ? l->param_name[slot] : l->buffer_name[slot - LT_LAYER_SLOTS];
  if (*where && !lt_same_shape(*where, t)) {
    char a[LT_SHAPE_STR], b[LT_SHAPE_STR];
    return lt_error(LT_ERR_SHAPE, "%s: '%s' has size %s, cannot set a tensor of size %s", l->kind->name, name,
                    LT_SHAPE(*where, a), LT_SHAPE(t, b));
  }
  if (!*where)
    return lt_error(LT_ERR_STATE, "%s: the layer was built without '%s'", l->kind->name, name);
  lt_tensor_retain(t);
  lt_tensor_release(*where);
  *where = t;
  return LT_OK;
}
