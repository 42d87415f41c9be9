/* Adam (L2 weight decay added to the gradient) and AdamW (decoupled decay),
 * optionally AMSGrad. PyTorch: torch.optim.Adam / AdamW (1.13,
 * _single_tensor_adam(w), the non-capturable branch), per element, at step t:
 *
 *   p   = p * (1 - lr * wd)                  (AdamW)
 *   g   = g + wd * p                         (Adam, when weight_decay != 0)
 *   m   = m * beta1 + (1 - beta1) * g
 *   v   = v * beta2 + ((1 - beta2) * g) * g
 *   vm  = max(vm, v)                         (amsgrad; the denominator uses vm)
 *   den = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   p   = p + (-(lr / (1 - beta1^t)) * m) / den
 *
 * The step scalars (1 - beta^t, their square root, lr over it) are doubles, as
 * Python computes them, and rounded to float once. State: exp_avg, exp_avg_sq,
 * max_exp_avg_sq (amsgrad), zeros before the first step. */
#include "optim/optim.h"

#include <math.h>

typedef struct {
  float *p, *m, *v, *vmax;
  const float *g;
  float decay;         /* AdamW: 1 - lr * wd; 1 for Adam */
  float wd;            /* Adam: L2 coefficient; 0 for AdamW */
  float beta1, beta1c, beta2, beta2c, bc2_sqrt, eps, neg_step;
  bool has_decay, has_wd;
} adam_ctx;

static void adam_chunk(const void *vc, int64_t lo, int64_t hi) {
  const adam_ctx *c = vc;
  float *restrict p = c->p, *restrict m = c->m, *restrict v = c->v;
  const float *restrict g = c->g;
  const float decay = c->decay, wd = c->wd, beta1 = c->beta1, beta1c = c->beta1c, beta2 = c->beta2,
              beta2c = c->beta2c, bc2_sqrt = c->bc2_sqrt, eps = c->eps, neg_step = c->neg_step;
  const bool has_decay = c->has_decay, has_wd = c->has_wd;
  for (int64_t k = lo; k < hi; k++) {
    float pk = has_decay ? p[k] * decay : p[k];
    float gk = has_wd ? g[k] + wd * pk : g[k];
    float mk = m[k] * beta1 + beta1c * gk;
    float vk = v[k] * beta2 + (beta2c * gk) * gk;
    m[k] = mk;
    v[k] = vk;
    p[k] = pk + (neg_step * mk) / (sqrtf(vk) / bc2_sqrt + eps);
  }
}

static void amsgrad_chunk(const void *vc, int64_t lo, int64_t hi) {
  const adam_ctx *c = vc;
  float *restrict p = c->p, *restrict m = c->m, *restrict v = c->v, *restrict vmax = c->vmax;
  const float *restrict g = c->g;
  const float decay = c->decay, wd = c->wd, beta1 = c->beta1, beta1c = c->beta1c, beta2 = c->beta2,
              beta2c = c->beta2c, bc2_sqrt = c->bc2_sqrt, eps = c->eps, neg_step = c->neg_step;
  const bool has_decay = c->has_decay, has_wd = c->has_wd;
  for (int64_t k = lo; k < hi; k++) {
    float pk = has_decay ? p[k] * decay : p[k];
    float gk = has_wd ? g[k] + wd * pk : g[k];
    float mk = m[k] * beta1 + beta1c * gk;
    float vk = v[k] * beta2 + (beta2c * gk) * gk;
    float mx = vmax[k] < vk ? vk : vmax[k]; /* torch.maximum */
    m[k] = mk;
    v[k] = vk;
    vmax[k] = mx;
    p[k] = pk + (neg_step * mk) / (sqrtf(mx) / bc2_sqrt + eps);
  }
}

static void run(const lt_optim_config *c, int64_t step, int64_t n, float *p, const float *g,
                float *const *state, bool decoupled) {
  double bc1 = 1 - pow(c->beta1, (double)step), bc2 = 1 - pow(c->beta2, (double)step);
  adam_ctx k = {
    .p = p, .m = state[0], .v = state[1], .vmax = c->amsgrad ? state[2] : NULL, .g = g,
    .decay = decoupled ? (float)(1 - c->lr * c->weight_decay) : 1.0f,
    .wd = decoupled ? 0.0f : (float)c->weight_decay,
    .beta1 = (float)c->beta1, .beta1c = (float)(1 - c->beta1),
    .beta2 = (float)c->beta2, .beta2c = (float)(1 - c->beta2),
    .bc2_sqrt = (float)sqrt(bc2), .eps = (float)c->eps, .neg_step = (float)(-(c->lr / bc1)),
    .has_decay = decoupled, .has_wd = !decoupled && c->weight_decay != 0,
  };
  lt_optim_for(n, c->amsgrad ? amsgrad_chunk : adam_chunk, &k);
}

static void adam_update(const lt_optim_config *c, int64_t step, int64_t n, float *p, const float *g,
                        float *const *state) {
  run(c, step, n, p, g, state, false);
}

static void adamw_update(const lt_optim_config *c, int64_t step, int64_t n, float *p, const float *g,
                         float *const *state) {
  run(c, step, n, p, g, state, true);
}

static bool adam_slot_used(const lt_optim_config *c, int slot) { return slot < 2 || c->amsgrad; }

static const char *const adam_options[] = {"lr", "betas", "eps", "weight_decay", "amsgrad", NULL};

const lt_optim_kind lt_optim_adam = {
  .name = "Adam",
  .step_name = "Adam.step",
  .slot_names = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
  .options = adam_options,
  .defaults = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0},
  .slot_used = adam_slot_used,
  .update = adam_update,
};

const lt_optim_kind lt_optim_adamw = {
  .name = "AdamW",
  .step_name = "AdamW.step",
  .slot_names = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
  .options = adam_options,
  .defaults = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-2},
  .slot_used = adam_slot_used,
  .update = adamw_update,
};
