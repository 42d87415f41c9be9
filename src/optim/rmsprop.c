/* RMSprop, plain or centered, with momentum and L2 weight decay.
 * PyTorch: torch.optim.RMSprop (1.13, _single_tensor_rmsprop), per element:
 *
 *   g   = g + wd * p                                   (when weight_decay != 0)
 *   sq  = sq * alpha + ((1 - alpha) * g) * g
 *   ga  = ga * alpha + (1 - alpha) * g                 (centered)
 *   avg = sqrt(sq - ga * ga) + eps  (centered)  or  sqrt(sq) + eps
 *   buf = buf * momentum + g / avg;  p = p + (-lr) * buf     (momentum > 0)
 *   p   = p + ((-lr) * g) / avg                               (otherwise)
 *
 * State: square_avg, momentum_buffer (momentum > 0), grad_avg (centered), all
 * zeros before the first step. */
#include "optim/optim.h"

#include <math.h>

typedef struct {
  float *p, *sq, *buf, *ga;
  const float *g;
  float wd, alpha, alpha1, eps, mom, neglr;
  bool has_wd;
} rms_ctx;

/* The parts all variants share: the decayed gradient and the new square average. */
#define RMS_HEAD                                              \
  float gk = has_wd ? g[k] + wd * p[k] : g[k];                \
  float s = sq[k] * alpha + (alpha1 * gk) * gk;               \
  sq[k] = s;

static void rms_plain_chunk(const void *vc, int64_t lo, int64_t hi) {
  const rms_ctx *c = vc;
  float *restrict p = c->p, *restrict sq = c->sq;
  const float *restrict g = c->g;
  const float wd = c->wd, alpha = c->alpha, alpha1 = c->alpha1, eps = c->eps, neglr = c->neglr;
  const bool has_wd = c->has_wd;
  for (int64_t k = lo; k < hi; k++) {
    RMS_HEAD
    p[k] = p[k] + (neglr * gk) / (sqrtf(s) + eps);
  }
}

/* centered and/or momentum: the general loop (NULL ga or buf when unused) */
static void rms_general_chunk(const void *vc, int64_t lo, int64_t hi) {
  const rms_ctx *c = vc;
  float *restrict p = c->p, *restrict sq = c->sq, *restrict buf = c->buf, *restrict ga = c->ga;
  const float *restrict g = c->g;
  const float wd = c->wd, alpha = c->alpha, alpha1 = c->alpha1, eps = c->eps, mom = c->mom,
              neglr = c->neglr;
  const bool has_wd = c->has_wd;
  for (int64_t k = lo; k < hi; k++) {
    RMS_HEAD
    float var = s;
    if (ga) {
      float a = ga[k] * alpha + alpha1 * gk;
      ga[k] = a;
      var = s + (-a) * a; /* addcmul(ga, ga, value=-1) */
    }
    float avg = sqrtf(var) + eps;
    if (buf) {
      float b = buf[k] * mom + gk / avg;
      buf[k] = b;
      p[k] = p[k] + neglr * b;
    } else {
      p[k] = p[k] + (neglr * gk) / avg;
    }
  }
}

static void rms_update(const lt_optim_config *c, int64_t step, int64_t n, float *p, const float *g,
                       float *const *state) {
  rms_ctx k = {
    .p = p, .sq = state[0], .buf = c->momentum > 0 ? state[1] : NULL, .ga = c->centered ? state[2] : NULL,
    .g = g, .wd = (float)c->weight_decay, .alpha = (float)c->alpha, .alpha1 = (float)(1 - c->alpha),
    .eps = (float)c->eps, .mom = (float)c->momentum, .neglr = (float)(-c->lr),
    .has_wd = c->weight_decay != 0,
  };
  lt_optim_for(n, k.buf || k.ga ? rms_general_chunk : rms_plain_chunk, &k);
}

static bool rms_slot_used(const lt_optim_config *c, int slot) {
  return slot == 0 || (slot == 1 && c->momentum > 0) || (slot == 2 && c->centered);
}

static const char *const rms_options[] = {"lr", "alpha", "eps", "weight_decay", "momentum", "centered", NULL};

const lt_optim_kind lt_optim_rmsprop = {
  .name = "RMSprop",
  .step_name = "RMSprop.step",
  .slot_names = {"square_avg", "momentum_buffer", "grad_avg"},
  .options = rms_options,
  .defaults = {.lr = 0.01, .alpha = 0.99, .eps = 1e-8, .momentum = 0, .weight_decay = 0},
  .slot_used = rms_slot_used,
  .update = rms_update,
};
