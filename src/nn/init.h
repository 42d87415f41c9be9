/* Weight initialisation, drawing from the one generator (core/lt_rng.h).
 * Fan-in and fan-out follow PyTorch's torch.nn.init: for a weight of shape
 * [a, b, k...], fan_in = b * prod(k), fan_out = a * prod(k). */
#ifndef LT_INIT_H
#define LT_INIT_H

#include "core/lt_tensor.h"

void lt_init_fans(const lt_tensor *w, double *fan_in, double *fan_out);
void lt_init_uniform(lt_tensor *t, double lo, double hi);
void lt_init_normal(lt_tensor *t, double mean, double std);
/* PyTorch's default for Linear and Conv layers: kaiming_uniform with
 * a = sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from
 * the same bound. bias may be NULL. */
void lt_init_default(lt_tensor *w, lt_tensor *bias);

#endif
