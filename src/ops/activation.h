/* Activations with autograd: leaky_relu, elu, softplus, dropout.
 * (relu, sigmoid and tanh are in elementwise.h.)
 *
 * Each takes any shape and strides and returns a new contiguous tensor, except
 * dropout in eval mode (or with p = 0), which returns its input itself, as
 * PyTorch does. Parameters are PyTorch's. */
#ifndef LT_ACTIVATION_H
#define LT_ACTIVATION_H

#include <stdbool.h>

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* y = x for x > 0, slope * x otherwise. PyTorch: F.leaky_relu(x, negative_slope) */
lt_status lt_leaky_relu(lt_tensor **out, lt_tensor *x, float slope);
/* y = x for x > 0, alpha * (exp(x) - 1) otherwise. PyTorch: F.elu(x, alpha) */
lt_status lt_elu(lt_tensor **out, lt_tensor *x, float alpha);
/* y = log(1 + exp(beta x)) / beta, and y = x where beta x > threshold.
 * beta must not be 0. PyTorch: F.softplus(x, beta, threshold) */
lt_status lt_softplus(lt_tensor **out, lt_tensor *x, float beta, float threshold);
/* In training, zeroes each element with probability p (decisions from the one
 * generator, lt_rng) and scales the others by 1 / (1 - p); p = 1 gives zeros.
 * In eval mode, or with p = 0, y is x itself (a new reference). p outside
 * [0, 1] is an error. PyTorch: F.dropout(x, p, training) */
lt_status lt_dropout(lt_tensor **out, lt_tensor *x, double p, bool training);


#endif
