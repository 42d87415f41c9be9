/* Loss functions with autograd: one fused op (one autograd node) each.
 *
 * Gradients flow to the prediction (or logits) only, never to the target.
 * Prediction and target must have the same shape: no broadcasting (PyTorch
 * warns and broadcasts; here it is an error naming both shapes).
 * Reductions: the mean over elements (PyTorch's default), the sum, or none
 * (the elementwise losses, shaped like the input; for cross_entropy and nll,
 * one loss per row). Sums accumulate in double in fixed-size chunks, so the
 * result does not depend on the thread count. */
#ifndef LT_LOSS_H
#define LT_LOSS_H

#include "core/lt_error.h"
#include "core/lt_tensor.h"

typedef enum { LT_REDUCTION_MEAN, LT_REDUCTION_SUM, LT_REDUCTION_NONE } lt_reduction;

/* (pred - target)^2. PyTorch: F.mse_loss */
lt_status lt_mse_loss(lt_tensor **out, lt_tensor *pred, lt_tensor *target, lt_reduction r);
/* |pred - target|; gradient sign(pred - target), 0 at 0. PyTorch: F.l1_loss */
lt_status lt_l1_loss(lt_tensor **out, lt_tensor *pred, lt_tensor *target, lt_reduction r);
/* -(t log p + (1 - t) log(1 - p)) with each log clamped at -100, for
 * probabilities p in [0, 1] (others are an error). Gradient
 * (p - t) / max(p (1 - p), 1e-12). PyTorch: F.binary_cross_entropy */
lt_status lt_bce_loss(lt_tensor **out, lt_tensor *prob, lt_tensor *target, lt_reduction r);
/* bce of sigmoid(x), stable for any x: max(x, 0) - x t + log(1 + exp(-|x|)).
 * Gradient sigmoid(x) - t. PyTorch: F.binary_cross_entropy_with_logits */
lt_status lt_bce_with_logits_loss(lt_tensor **out, lt_tensor *logits, lt_tensor *target, lt_reduction r);

/* logits: N x C (or C: one sample); target: N (or a scalar) class indices
 * counting from index_base (1 from Lua), stored as floats. Per row:
 * logsumexp(logits) - logits[target] (fused log-softmax, stable). A target
 * that is not an integer in range is an error naming its position.
 * PyTorch: F.cross_entropy (without weights, ignore_index, smoothing) */
lt_status lt_cross_entropy_loss(lt_tensor **out, lt_tensor *logits, lt_tensor *target, lt_reduction r,
                                int index_base);
/* logprobs: N x C (or C), target as for cross_entropy: -logprobs[target].
 * PyTorch: F.nll_loss */
lt_status lt_nll_loss(lt_tensor **out, lt_tensor *logprobs, lt_tensor *target, lt_reduction r, int index_base);

#endif
