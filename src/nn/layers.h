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

/* linear.c, conv.c, norm.c: layers with parameters, initialised as PyTorch does */
lt_layer *lt_nn_linear(int64_t in, int64_t out, bool bias);
/* settings: stride, padding, output_padding (transposed only), dilation; kernel kh x kw */
lt_layer *lt_nn_conv2d(int64_t in, int64_t out, const int64_t kernel[2], const int64_t settings[8], bool bias);
lt_layer *lt_nn_conv_transpose2d(int64_t in, int64_t out, const int64_t kernel[2], const int64_t settings[8],
                                 bool bias);
/* input_dims: 2 for BatchNorm1d (N x C or N x C x L), 4 for BatchNorm2d */
lt_layer *lt_nn_batch_norm(int input_dims, int64_t channels, double momentum, double eps, bool affine);

/* act.c: activations with settings, dropout, pooling, upsampling */
lt_layer *lt_nn_leaky_relu(double slope);
lt_layer *lt_nn_elu(double alpha);
lt_layer *lt_nn_softplus(double beta, double threshold);
lt_layer *lt_nn_dropout(double p);
lt_layer *lt_nn_max_pool2d(const int64_t kernel[2], const int64_t stride[2], const int64_t padding[2]);
lt_layer *lt_nn_upsample(const int64_t scale[2]);

#endif
