/* BatchNorm1d and BatchNorm2d: affine parameters and running statistics. */
#include "nn/layers.h"
#include "ops/norm.h"

#include <stdio.h>

/* i[0] = expected input dims (2: N x C or N x C x L; 4: N x C x H x W);
 * f[0] = momentum, f[1] = eps */
static lt_status batch_norm_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) {
  bool ok = l->i[0] == 4 ? x->ndim == 4 : (x->ndim == 2 || x->ndim == 3);
  if (!ok) {
    char s[LT_SHAPE_STR];
    return lt_error(LT_ERR_SHAPE, "%s: expects a %s input, got %s", l->kind->name,
                    l->i[0] == 4 ? "4-D (N x C x H x W)" : "2-D or 3-D (N x C [x L])", LT_SHAPE(x, s));
  }
  return lt_batch_norm(y, x, l->buffer[0], l->buffer[1], l->param[0], l->param[1], l->training, l->f[0], l->f[1]);
}

static void batch_norm_describe(const lt_layer *l, char *buf, size_t size) {
  snprintf(buf, size, "%lld, eps=%g, momentum=%g%s", (long long)l->buffer[0]->shape[0], l->f[1], l->f[0],
           l->param[0] ? "" : ", affine=false");
}

static const lt_layer_kind BATCH_NORM1D = {"BatchNorm1d", batch_norm_forward, batch_norm_describe};
static const lt_layer_kind BATCH_NORM2D = {"BatchNorm2d", batch_norm_forward, batch_norm_describe};

lt_layer *lt_nn_batch_norm(int input_dims, int64_t channels, double momentum, double eps, bool affine) {
  const lt_layer_kind *kind = input_dims == 4 ? &BATCH_NORM2D : &BATCH_NORM1D;
  if (channels < 1 || !(eps > 0) || !(momentum >= 0 && momentum <= 1)) {
    lt_error(LT_ERR_ARG, "%s: needs channels >= 1, eps > 0 and momentum in [0, 1]", kind->name);
    return NULL;
  }
  lt_layer *l = lt_layer_new(kind);
  if (!l) return NULL;
  l->i[0] = input_dims;
  l->f[0] = momentum;
  l->f[1] = eps;
  lt_tensor *w = NULL, *b = NULL, *mean, *var;
  if (affine) {
    w = lt_layer_add_param(l, "weight", 1, &channels);
    b = w ? lt_layer_add_param(l, "bias", 1, &channels) : NULL;
  } else {
    l->param_name[l->n_params++] = "weight";
    l->param_name[l->n_params++] = "bias";
  }
  mean = lt_layer_add_buffer(l, "running_mean", 1, &channels);
  var = mean ? lt_layer_add_buffer(l, "running_var", 1, &channels) : NULL;
  if (!var || (affine && !b)) {
    lt_layer_free(l);
    return NULL;
  }
  if (w) lt_fill(w, 1);
  lt_fill(var, 1);
  return l;
}
