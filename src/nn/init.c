/* Weight initialisation (the schemes of torch.nn.init). */
#include "nn/init.h"
#include "core/lt_rng.h"

#include <math.h>

void lt_init_fans(const lt_tensor *w, double *fan_in, double *fan_out) {
  double receptive = 1;
  for (int d = 2; d < w->ndim; d++) receptive *= (double)w->shape[d];
  *fan_in = (w->ndim > 1 ? (double)w->shape[1] : 1) * receptive;
  *fan_out = (w->ndim > 0 ? (double)w->shape[0] : 1) * receptive;
}

void lt_init_uniform(lt_tensor *t, double lo, double hi) { lt_rng_fill_uniform(t, lo, hi); }
void lt_init_normal(lt_tensor *t, double mean, double std) { lt_rng_fill_normal(t, mean, std); }

void lt_init_default(lt_tensor *w, lt_tensor *bias) {
  double fan_in, fan_out;
  lt_init_fans(w, &fan_in, &fan_out);
  double bound = fan_in > 0 ? 1 / sqrt(fan_in) : 0;
  lt_init_uniform(w, -bound, bound);
  if (bias) lt_init_uniform(bias, -bound, bound);
}
