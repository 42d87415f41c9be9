/* Linear and convolution layers: weights, optional bias, one fused op each. */
#include "nn/init.h"
#include "nn/layers.h"
#include "ops/conv.h"
#include "ops/linear.h"

#include <stdio.h>

/* Adds weight and (if wanted) bias, initialised as PyTorch's layers do. */
static lt_layer *with_weights(lt_layer *l, int ndim, const int64_t *wshape, int64_t bias_size, bool bias) {
  if (!l) return NULL;
  lt_tensor *w = lt_layer_add_param(l, "weight", ndim, wshape), *b = NULL;
  if (w && bias) b = lt_layer_add_param(l, "bias", 1, &bias_size);
  else if (w) l->param_name[l->n_params++] = "bias"; /* a named, empty slot */
  if (!w || (bias && !b)) {
    lt_layer_free(l);
    return NULL;
  }
  lt_init_default(w, b);
  return l;
}

static bool positive(const char *fn, int64_t in, int64_t out) {
  if (in > 0 && out > 0) return true;
  lt_error(LT_ERR_ARG, "%s: sizes must be positive, got %lld and %lld", fn, (long long)in, (long long)out);
  return false;
}

/* ==================== Linear ==================== */

static lt_status linear_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) {
  return lt_linear(y, x, l->param[0], l->param[1]);
}

static void linear_describe(const lt_layer *l, char *buf, size_t size) {
  snprintf(buf, size, "%lld, %lld%s", (long long)l->param[0]->shape[1], (long long)l->param[0]->shape[0],
           l->param[1] ? "" : ", bias=false");
}

static const lt_layer_kind LINEAR = {"Linear", linear_forward, linear_describe};

lt_layer *lt_nn_linear(int64_t in, int64_t out, bool bias) {
  if (!positive("Linear", in, out)) return NULL;
  int64_t shape[2] = {out, in};
  return with_weights(lt_layer_new(&LINEAR), 2, shape, out, bias);
}

/* ==================== Conv2d / ConvTranspose2d ==================== */

/* i[0..7]: stride, padding, output_padding, dilation (h, w each) */
static lt_conv_params conv_params(const lt_layer *l) {
  lt_conv_params p;
  for (int k = 0; k < 2; k++) {
    p.stride[k] = l->i[k];
    p.padding[k] = l->i[2 + k];
    p.output_padding[k] = l->i[4 + k];
    p.dilation[k] = l->i[6 + k];
  }
  return p;
}

static lt_status conv_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) {
  lt_conv_params p = conv_params(l);
  return lt_conv2d(y, x, l->param[0], l->param[1], &p);
}

static lt_status conv_transpose_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) {
  lt_conv_params p = conv_params(l);
  return lt_conv_transpose2d(y, x, l->param[0], l->param[1], &p);
}

/* "3" for a square pair, "(3, 5)" otherwise */
static int pair(char *buf, size_t size, const char *name, const int64_t *v) {
  if (v[0] == v[1]) return snprintf(buf, size, ", %s=%lld", name, (long long)v[0]);
  return snprintf(buf, size, ", %s=(%lld, %lld)", name, (long long)v[0], (long long)v[1]);
}

static void conv_describe_as(const lt_layer *l, char *buf, size_t size, bool transposed) {
  const lt_tensor *w = l->param[0];
  int64_t in = transposed ? w->shape[0] : w->shape[1], out = transposed ? w->shape[1] : w->shape[0];
  int64_t defaults[8] = {1, 1, 0, 0, 0, 0, 1, 1};
  const char *names[4] = {"stride", "padding", "output_padding", "dilation"};
  int n = snprintf(buf, size, "%lld, %lld", (long long)in, (long long)out);
  n += pair(buf + n, size - (size_t)n, "kernel_size", w->shape + 2);
  for (int k = 0; k < 4 && n < (int)size; k++)
    if (l->i[2 * k] != defaults[2 * k] || l->i[2 * k + 1] != defaults[2 * k + 1])
      n += pair(buf + n, size - (size_t)n, names[k], l->i + 2 * k);
  if (!l->param[1] && n < (int)size) snprintf(buf + n, size - (size_t)n, ", bias=false");
}

static void conv_describe(const lt_layer *l, char *buf, size_t size) { conv_describe_as(l, buf, size, false); }
static void conv_transpose_describe(const lt_layer *l, char *buf, size_t size) {
  conv_describe_as(l, buf, size, true);
}

static const lt_layer_kind CONV2D = {"Conv2d", conv_forward, conv_describe};
static const lt_layer_kind CONV_TRANSPOSE2D = {"ConvTranspose2d", conv_transpose_forward, conv_transpose_describe};

static lt_layer *conv_layer(const lt_layer_kind *kind, int64_t in, int64_t out, const int64_t kernel[2],
                            const int64_t settings[8], bool bias, bool transposed) {
  if (!positive(kind->name, in, out)) return NULL;
  if (kernel[0] < 1 || kernel[1] < 1) {
    lt_error(LT_ERR_ARG, "%s: kernel_size must be positive", kind->name);
    return NULL;
  }
  lt_layer *l = lt_layer_new(kind);
  if (!l) return NULL;
  for (int k = 0; k < 8; k++) l->i[k] = settings[k];
  int64_t shape[4] = {transposed ? in : out, transposed ? out : in, kernel[0], kernel[1]};
  return with_weights(l, 4, shape, out, bias);
}

lt_layer *lt_nn_conv2d(int64_t in, int64_t out, const int64_t kernel[2], const int64_t settings[8], bool bias) {
  return conv_layer(&CONV2D, in, out, kernel, settings, bias, false);
}

lt_layer *lt_nn_conv_transpose2d(int64_t in, int64_t out, const int64_t kernel[2], const int64_t settings[8],
                                 bool bias) {
  return conv_layer(&CONV_TRANSPOSE2D, in, out, kernel, settings, bias, true);
}
