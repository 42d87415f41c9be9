/* Constructors of the built-in layer kinds. Each returns NULL with an error
 * message when out of memory or given a bad setting; dims are 0-based. */
#ifndef LT_LAYERS_H
#define LT_LAYERS_H

#include "nn/layer.h"

/* shape.c: layers without parameters that change shape or apply a function */
lt_layer *lt_nn_identity(void);
lt_layer *lt_nn_relu(void);
lt_layer *lt_nn_sigmoid(void);
lt_layer *lt_nn_tanh(void);
/* Flattens dims start..end (end < 0 counts from the last: -1 is the last). */
lt_layer *lt_nn_flatten(int start_dim, int end_dim);
/* Splits dim into the n sizes (one may be -1). */
lt_layer *lt_nn_unflatten(int dim, int n, const int64_t *sizes);

#endif
