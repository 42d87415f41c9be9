/* SGD with momentum, dampening, Nesterov momentum and L2 weight decay.
 * PyTorch: torch.optim.SGD (1.13, _single_tensor_sgd), per element:
 *
 *   d   = g + wd * p                        (when weight_decay != 0)
 *   buf = d  at the first step, else  buf * momentum + (1 - dampening) * d
 *   d   = d + momentum * buf  (nesterov)  or  buf        (when momentum != 0)
 *   p   = p + (-lr) * d
 *
 * The first step copies d into the buffer without dampening, as PyTorch. State:
 * momentum_buffer (only when momentum != 0). */
#include "optim/optim.h"

typedef struct {
  float *p, *buf;
  const float *g;
  float wd, mom, damp1, neglr; /* as PyTorch rounds its Scalars to float */
  bool has_wd, has_buf, first, nesterov;
} sgd_ctx;

static void sgd_chunk(const void *vc, int64_t lo, int64_t hi) {
  const sgd_ctx *c = vc;
  float *restrict p = c->p;
  const float *restrict g = c->g;
  const float wd = c->wd, mom = c->mom, damp1 = c->damp1, neglr = c->neglr;
  if (!c->has_buf) {
    if (c->has_wd)
      for (int64_t k = lo; k < hi; k++) p[k] = p[k] + neglr * (g[k] + wd * p[k]);
    else
      for (int64_t k = lo; k < hi; k++) p[k] = p[k] + neglr * g[k];
    return;
  }
  float *restrict buf = c->buf;
  const bool has_wd = c->has_wd, first = c->first, nesterov = c->nesterov;
  for (int64_t k = lo; k < hi; k++) {
    float d = has_wd ? g[k] + wd * p[k] : g[k];
    float b = first ? d : buf[k] * mom + damp1 * d;
    buf[k] = b;
    p[k] = p[k] + neglr * (nesterov ? d + mom * b : b);
  }
}

static void sgd_update(const lt_optim_config *c, int64_t step, int64_t n, float *p, const float *g,
                       float *const *state) {
  sgd_ctx k = {
    .p = p, .buf = state[0], .g = g,
    .wd = (float)c->weight_decay, .mom = (float)c->momentum,
    .damp1 = (float)(1 - c->dampening), .neglr = (float)(-c->lr),
    .has_wd = c->weight_decay != 0, .has_buf = c->momentum != 0, .first = step == 1,
    .nesterov = c->nesterov,
  };
  lt_optim_for(n, sgd_chunk, &k);
}

static bool sgd_slot_used(const lt_optim_config *c, int slot) { return slot == 0 && c->momentum != 0; }

static const char *const sgd_options[] = {"lr", "momentum", "dampening", "nesterov", "weight_decay", NULL};

const lt_optim_kind lt_optim_sgd = {
  .name = "SGD",
  .step_name = "SGD.step",
  .slot_names = {"momentum_buffer"},
  .options = sgd_options,
  .defaults = {.lr = 0, .momentum = 0, .dampening = 0, .weight_decay = 0},
  .lr_required = true,
  .slot_used = sgd_slot_used,
  .update = sgd_update,
};
