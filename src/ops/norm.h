/* Batch normalization with autograd. */
#ifndef LT_NORM_H
#define LT_NORM_H

#include <stdbool.h>

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (dim 1).
 *   x: N x C (BatchNorm1d), N x C x L (BatchNorm1d), N x C x H x W
 *      (BatchNorm2d), or N x C x ... in general;
 *   running_mean, running_var, weight, bias: C values each; weight and bias
 *      may be NULL (scale 1, shift 0).
 * Training: mean and var are the batch's (var biased, as in normalisation);
 * running_mean and running_var, when given, are updated in place:
 *   running = (1 - momentum) running + momentum batch_stat
 * with the unbiased batch variance for running_var; more than one value per
 * channel is required. They may be NULL (both) only in training.
 * Eval: mean and var are running_mean and running_var.
 * Gradients flow to x, weight and bias (through the batch statistics in
 * training); the running buffers get none.
 * Statistics are computed in double. PyTorch: F.batch_norm */
lt_status lt_batch_norm(lt_tensor **out, lt_tensor *x, lt_tensor *running_mean, lt_tensor *running_var,
                        lt_tensor *weight, lt_tensor *bias, bool training, double momentum, double eps);

#endif
