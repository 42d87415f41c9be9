/* Layers with settings but no parameters: activations, dropout, pooling,
 * upsampling. Each calls one op. */
#include "nn/layers.h"
#include "ops/activation.h"
#include "ops/pool.h"

#include <stdio.h>

static lt_layer *with_f(const lt_layer_kind *kind, double a, double b) {
  lt_layer *l = lt_layer_new(kind);
  if (l) {
    l->f[0] = a;
    l->f[1] = b;
  }
  return l;
}

/* ==================== LeakyReLU, ELU, Softplus, Dropout ==================== */

static lt_status leaky_relu_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) {
  return lt_leaky_relu(y, x, (float)l->f[0]);
}
static void leaky_relu_describe(const lt_layer *l, char *buf, size_t n) { snprintf(buf, n, "%g", l->f[0]); }
static const lt_layer_kind LEAKY_RELU = {"LeakyReLU", leaky_relu_forward, leaky_relu_describe};
lt_layer *lt_nn_leaky_relu(double slope) { return with_f(&LEAKY_RELU, slope, 0); }

static lt_status elu_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) { return lt_elu(y, x, (float)l->f[0]); }
static void elu_describe(const lt_layer *l, char *buf, size_t n) { snprintf(buf, n, "alpha=%g", l->f[0]); }
static const lt_layer_kind ELU = {"ELU", elu_forward, elu_describe};
lt_layer *lt_nn_elu(double alpha) { return with_f(&ELU, alpha, 0); }

static lt_status softplus_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) {
  return lt_softplus(y, x, (float)l->f[0], (float)l->f[1]);
}
static void softplus_describe(const lt_layer *l, char *buf, size_t n) {
  snprintf(buf, n, "beta=%g, threshold=%g", l->f[0], l->f[1]);
}
static const lt_layer_kind SOFTPLUS = {"Softplus", softplus_forward, softplus_describe};
lt_layer *lt_nn_softplus(double beta, double threshold) {
  if (beta == 0) {
    lt_error(LT_ERR_ARG, "Softplus: beta must not be 0");
    return NULL;
  }
  return with_f(&SOFTPLUS, beta, threshold);
}

/* Dropout is active in training mode only. */
static lt_status dropout_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) {
  return lt_dropout(y, x, l->f[0], l->training);
}
static void dropout_describe(const lt_layer *l, char *buf, size_t n) { snprintf(buf, n, "p=%g", l->f[0]); }
static const lt_layer_kind DROPOUT = {"Dropout", dropout_forward, dropout_describe};
lt_layer *lt_nn_dropout(double p) {
  if (!(p >= 0 && p <= 1)) {
    lt_error(LT_ERR_ARG, "Dropout: p must lie in [0, 1], got %g", p);
    return NULL;
  }
  return with_f(&DROPOUT, p, 0);
}

/* ==================== MaxPool2d, Upsample ==================== */

/* i[0..1] kernel, i[2..3] stride, i[4..5] padding */
static lt_status max_pool_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) {
  return lt_max_pool2d(y, x, l->i, l->i + 2, l->i + 4);
}
static void max_pool_describe(const lt_layer *l, char *buf, size_t n) {
  snprintf(buf, n, "kernel_size=(%lld, %lld), stride=(%lld, %lld), padding=(%lld, %lld)", (long long)l->i[0],
           (long long)l->i[1], (long long)l->i[2], (long long)l->i[3], (long long)l->i[4], (long long)l->i[5]);
}
static const lt_layer_kind MAX_POOL2D = {"MaxPool2d", max_pool_forward, max_pool_describe};

lt_layer *lt_nn_max_pool2d(const int64_t kernel[2], const int64_t stride[2], const int64_t padding[2]) {
  lt_layer *l = lt_layer_new(&MAX_POOL2D);
  if (!l) return NULL;
  for (int k = 0; k < 2; k++) {
    l->i[k] = kernel[k];
    l->i[2 + k] = stride[k];
    l->i[4 + k] = padding[k];
  }
  return l;
}

static lt_status upsample_forward(lt_layer *l, lt_tensor *x, lt_tensor **y) {
  return lt_upsample_nearest2d(y, x, l->i);
}
static void upsample_describe(const lt_layer *l, char *buf, size_t n) {
  snprintf(buf, n, "scale_factor=(%lld, %lld), mode='nearest'", (long long)l->i[0], (long long)l->i[1]);
}
static const lt_layer_kind UPSAMPLE = {"Upsample", upsample_forward, upsample_describe};

lt_layer *lt_nn_upsample(const int64_t scale[2]) {
  lt_layer *l = lt_layer_new(&UPSAMPLE);
  if (l) {
    l->i[0] = scale[0];
    l->i[1] = scale[1];
  }
  return l;
}
