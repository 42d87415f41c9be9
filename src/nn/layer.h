/* Layers: parameter holders that call ops (DESIGN: src/nn).
 *
 * A layer is a kind (name, forward, describe) plus named parameter tensors
 * (created with requires_grad), named buffers (running statistics), integer
 * and float settings, and a training flag. Calling a layer records the one
 * autograd node of the fused op it calls. Lua containers (Sequential, user
 * modules) are built on top in lua/latent/nn/. */
#ifndef LT_LAYER_H
#define LT_LAYER_H

#include <stddef.h>

#include "core/lt_error.h"
#include "core/lt_tensor.h"

typedef struct lt_layer lt_layer;

typedef struct lt_layer_kind {
  const char *name; /* "Conv2d" */
  lt_status (*forward)(lt_layer *l, lt_tensor *x, lt_tensor **y);
  /* Writes the arguments for printing: "1, 8, kernel_size=3, stride=2" */
  void (*describe)(const lt_layer *l, char *buf, size_t size);
} lt_layer_kind;

enum { LT_LAYER_SLOTS = 4, LT_LAYER_SETTINGS = 8 };

struct lt_layer {
  const lt_layer_kind *kind;
  int n_params, n_buffers;
  const char *param_name[LT_LAYER_SLOTS];
  lt_tensor *param[LT_LAYER_SLOTS];   /* NULL for an absent bias */
  const char *buffer_name[LT_LAYER_SLOTS];
  lt_tensor *buffer[LT_LAYER_SLOTS];
  int64_t i[LT_LAYER_SETTINGS];       /* sizes, strides, ... as the kind defines */
  double f[LT_LAYER_SETTINGS];        /* slopes, momentum, eps, ... */
  bool training;
};

lt_layer *lt_layer_new(const lt_layer_kind *kind); /* training, no tensors */
void lt_layer_free(lt_layer *l);
/* Adds a parameter (zeros, requires_grad) or buffer of the given shape;
 * returns it, or NULL when out of memory. */
lt_tensor *lt_layer_add_param(lt_layer *l, const char *name, int ndim, const int64_t *shape);
lt_tensor *lt_layer_add_buffer(lt_layer *l, const char *name, int ndim, const int64_t *shape);
/* The slot of a parameter (>= 0) or buffer (LT_LAYER_SLOTS + k) by name, or -1. */
int lt_layer_find(const lt_layer *l, const char *name);
/* Replaces a parameter or buffer with t (same shape); an error names both shapes. */
lt_status lt_layer_set(lt_layer *l, int slot, lt_tensor *t);

#endif
