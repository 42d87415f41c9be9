/* What every optimizer shares: the parameter list and its references, the
 * step driver (validate, create state, then update), state for checkpoints,
 * the chunked OpenMP loop, and gradient-norm clipping. The update rules
 * themselves are in sgd.c, rmsprop.c and adam.c. */
#include "optim/optim.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/graph.h"
#include "core/lt_profile.h"

/* ==================== the chunked loop ==================== */

void lt_optim_for(int64_t n, lt_optim_chunk_fn fn, const void *ctx) {
  if (n < LT_OPTIM_PAR_MIN || omp_in_parallel() || omp_get_max_threads() == 1) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  int64_t chunks = (n + LT_OPTIM_CHUNK - 1) / LT_OPTIM_CHUNK;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; c++) {
    int64_t lo = c * LT_OPTIM_CHUNK, hi = lo + LT_OPTIM_CHUNK < n ? lo + LT_OPTIM_CHUNK : n;
    fn(ctx, lo, hi);
  }
}

/* ==================== configuration ==================== */

const lt_optim_kind *lt_optim_kind_named(const char *name) {
  static const lt_optim_kind *const all[] = {&lt_optim_sgd, &lt_optim_rmsprop, &lt_optim_adam,
                                             &lt_optim_adamw};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
    if (!strcmp(all[k]->name, name)) return all[k];
  return NULL;
}

static bool accepts(const lt_optim_kind *kind, const char *option) {
  for (const char *const *o = kind->options; *o; o++)
    if (!strcmp(*o, option)) return true;
  return false;
}

/* `v` must be >= 0 (and not NaN) */
static lt_status check_nonneg(const lt_optim_kind *kind, const char *what, double v) {
  if (v >= 0) return LT_OK;
  return lt_error(LT_ERR_ARG, "%s: %s must be positive or zero, got %g", kind->name, what, v);
}

lt_status lt_optim_check_config(const lt_optim_kind *kind, const lt_optim_config *c) {
  lt_status st;
  if (!(c->lr >= 0) || isinf(c->lr))
    return lt_error(LT_ERR_ARG, "%s: lr must be positive or zero, got %g", kind->name, c->lr);
  if (accepts(kind, "momentum") && (st = check_nonneg(kind, "momentum", c->momentum))) return st;
  if (accepts(kind, "dampening") && !isfinite(c->dampening))
    return lt_error(LT_ERR_ARG, "%s: dampening must be a finite number, got %g", kind->name, c->dampening);
  if ((st = check_nonneg(kind, "weight_decay", c->weight_decay))) return st;
  if (accepts(kind, "alpha") && (st = check_nonneg(kind, "alpha", c->alpha))) return st;
  if (accepts(kind, "eps") && (st = check_nonneg(kind, "eps", c->eps))) return st;
  if (accepts(kind, "betas")) {
    if (!(c->beta1 >= 0 && c->beta1 < 1))
      return lt_error(LT_ERR_ARG, "%s: beta1 must be in [0, 1), got %g", kind->name, c->beta1);
    if (!(c->beta2 >= 0 && c->beta2 < 1))
      return lt_error(LT_ERR_ARG, "%s: beta2 must be in [0, 1), got %g", kind->name, c->beta2);
  }
  if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
    return lt_error(LT_ERR_ARG, "%s: nesterov momentum needs momentum > 0 and dampening = 0 "
                    "(got momentum %g, dampening %g)", kind->name, c->momentum, c->dampening);
  return LT_OK;
}

/* ==================== lifetime ==================== */

static lt_status check_params(const lt_optim_kind *kind, int n, lt_tensor *const *params) {
  if (n <= 0) return lt_error(LT_ERR_ARG, "%s: got an empty parameter list", kind->name);
  for (int i = 0; i < n; i++) {
    const lt_tensor *p = params[i];
    if (!p) return lt_error(LT_ERR_ARG, "%s: parameter %d is missing", kind->name, i + 1);
    if (p->grad_fn)
      return lt_error(LT_ERR_ARG,
                      "%s: parameter %d is not a leaf (it is the result of '%s'); optimize the "
                      "tensors you created, not values computed from them",
                      kind->name, i + 1, p->grad_fn->op->name);
    for (int j = 0; j < i; j++)
      if (params[j] == p)
        return lt_error(LT_ERR_ARG, "%s: parameter %d is the same tensor as parameter %d", kind->name,
                        i + 1, j + 1);
  }
  return LT_OK;
}

lt_status lt_optim_new(lt_optim **out, const lt_optim_kind *kind, const lt_optim_config *cfg,
                       int n_params, lt_tensor *const *params) {
  lt_status st = lt_optim_check_config(kind, cfg);
  if (st == LT_OK) st = check_params(kind, n_params, params);
  if (st != LT_OK) return st;
  lt_optim *o = calloc(1, sizeof *o);
  if (o) {
    o->params = calloc((size_t)n_params, sizeof *o->params);
    o->steps = calloc((size_t)n_params, sizeof *o->steps);
    o->state = calloc((size_t)n_params * LT_OPTIM_SLOTS, sizeof *o->state);
  }
  if (!o || !o->params || !o->steps || !o->state) {
    lt_optim_free(o);
    return lt_error(LT_ERR_MEMORY, "%s: out of memory", kind->name);
  }
  o->kind = kind;
  o->cfg = *cfg;
  o->n_params = n_params;
  for (int i = 0; i < n_params; i++) o->params[i] = lt_tensor_retain(params[i]);
  *out = o;
  return LT_OK;
}

void lt_optim_free(lt_optim *o) {
  if (!o) return;
  if (o->params)
    for (int i = 0; i < o->n_params; i++) lt_tensor_release(o->params[i]);
  if (o->state)
    for (int k = 0; k < o->n_params * LT_OPTIM_SLOTS; k++) lt_tensor_release(o->state[k]);
  free(o->params);
  free(o->steps);
  free(o->state);
  free(o);
}

lt_status lt_optim_set_lr(lt_optim *o, double lr) {
  if (!(lr >= 0) || isinf(lr))
    return lt_error(LT_ERR_ARG, "%s: lr must be positive or zero, got %g", o->kind->name, lr);
  o->cfg.lr = lr;
  return LT_OK;
}

/* ==================== step ==================== */

static bool takes_step(const lt_tensor *p) { return p->requires_grad && p->grad; }

/* Pass 1: gradients fit, and state exists (zeros) for the slots in use. */
static lt_status prepare(lt_optim *o) {
  for (int i = 0; i < o->n_params; i++) {
    lt_tensor *p = o->params[i];
    if (!takes_step(p)) continue;
    if (!lt_same_shape(p->grad, p)) {
      char a[LT_SHAPE_STR], b[LT_SHAPE_STR];
      return lt_error(LT_ERR_SHAPE, "%s: parameter %d has a gradient of size %s, itself %s",
                      o->kind->name, i + 1, LT_SHAPE(p->grad, a), LT_SHAPE(p, b));
    }
    for (int s = 0; s < LT_OPTIM_SLOTS && o->kind->slot_names[s]; s++) {
      lt_tensor **slot = &o->state[i * LT_OPTIM_SLOTS + s];
      if (*slot || !o->kind->slot_used(&o->cfg, s)) continue;
      if (!(*slot = lt_tensor_zeros(p->ndim, p->shape))) return LT_ERR_MEMORY;
    }
  }
  return LT_OK;
}

/* Pass 2 for one parameter. A strided parameter is updated through a
 * contiguous copy; the state is always contiguous. */
static lt_status update_one(lt_optim *o, int i) {
  lt_tensor *p = o->params[i];
  lt_tensor *g = lt_tensor_contiguous_values(p->grad);
  lt_tensor *pc = g ? lt_tensor_contiguous_values(p) : NULL;
  if (!pc) {
    lt_tensor_release(g);
    return LT_ERR_MEMORY;
  }
  float *state[LT_OPTIM_SLOTS] = {0};
  for (int s = 0; s < LT_OPTIM_SLOTS; s++) {
    lt_tensor *t = o->state[i * LT_OPTIM_SLOTS + s];
    state[s] = t ? lt_tensor_data(t) : NULL;
  }
  o->steps[i]++;
  o->kind->update(&o->cfg, o->steps[i], lt_tensor_numel(p), lt_tensor_data(pc), lt_tensor_data(g), state);
  if (pc != p) lt_copy_strided(p, pc);
  lt_tensor_bump_version(p); /* graphs that saved p see the change */
  lt_tensor_release(pc);
  lt_tensor_release(g);
  return LT_OK;
}

lt_status lt_optim_step(lt_optim *o) {
  LT_PROFILE_OP(o->kind->step_name);
  lt_status st = prepare(o);
  for (int i = 0; i < o->n_params && st == LT_OK; i++)
    if (takes_step(o->params[i])) st = update_one(o, i);
  return st;
}

void lt_optim_zero_grad(lt_optim *o, bool set_to_none) {
  for (int i = 0; i < o->n_params; i++) {
    lt_tensor *p = o->params[i];
    if (!p->grad) continue;
    if (set_to_none) {
      lt_tensor_release(p->grad);
      p->grad = NULL;
    } else {
      lt_fill(p->grad, 0);
    }
  }
}

/* ==================== state ==================== */

int lt_optim_n_slots(const lt_optim_kind *kind) {
  int n = 0;
  while (n < LT_OPTIM_SLOTS && kind->slot_names[n]) n++;
  return n;
}

int lt_optim_slot(const lt_optim_kind *kind, const char *name) {
  for (int s = 0; s < lt_optim_n_slots(kind); s++)
    if (!strcmp(kind->slot_names[s], name)) return s;
  return -1;
}

lt_tensor *lt_optim_state(const lt_optim *o, int i, int slot) {
  if (i < 0 || i >= o->n_params || slot < 0 || slot >= LT_OPTIM_SLOTS) return NULL;
  if (o->steps[i] == 0 || !o->kind->slot_used(&o->cfg, slot)) return NULL;
  return o->state[i * LT_OPTIM_SLOTS + slot];
}

static lt_status check_loaded(const lt_optim *o, const lt_optim_config *cfg, const int64_t *steps,
                              lt_tensor *const *state) {
  const char *name = o->kind->name;
  for (int i = 0; i < o->n_params; i++) {
    if (steps[i] < 0)
      return lt_error(LT_ERR_ARG, "%s: load_state_dict: step %d is negative (%lld)", name, i + 1,
                      (long long)steps[i]);
    for (int s = 0; s < LT_OPTIM_SLOTS; s++) {
      const lt_tensor *t = state[i * LT_OPTIM_SLOTS + s];
      const char *slot = o->kind->slot_names[s];
      bool want = slot && steps[i] > 0 && o->kind->slot_used(cfg, s);
      if (want && !t)
        return lt_error(LT_ERR_ARG, "%s: load_state_dict: '%d.%s' is missing", name, i + 1, slot);
      if (!want && t)
        return lt_error(LT_ERR_ARG, "%s: load_state_dict: '%d.%s' is not expected (%s)", name, i + 1,
                        slot ? slot : "?",
                        steps[i] == 0 ? "the parameter has taken no step" : "not used by these options");
      if (t && !lt_same_shape(t, o->params[i])) {
        char a[LT_SHAPE_STR], b[LT_SHAPE_STR];
        return lt_error(LT_ERR_SHAPE, "%s: load_state_dict: '%d.%s' has size %s, parameter %d has size %s",
                        name, i + 1, slot, LT_SHAPE(t, a), i + 1, LT_SHAPE(o->params[i], b));
      }
    }
  }
  return LT_OK;
}

lt_status lt_optim_load(lt_optim *o, const lt_optim_config *cfg, const int64_t *steps,
                        lt_tensor *const *state) {
  lt_status st = lt_optim_check_config(o->kind, cfg);
  if (st == LT_OK) st = check_loaded(o, cfg, steps, state);
  if (st != LT_OK) return st;
  int n = o->n_params * LT_OPTIM_SLOTS;
  lt_tensor **fresh = calloc((size_t)n, sizeof *fresh);
  if (!fresh) return lt_error(LT_ERR_MEMORY, "%s: load_state_dict: out of memory", o->kind->name);
  for (int k = 0; k < n; k++) {
    if (!state[k]) continue;
    if (!(fresh[k] = lt_tensor_copy_values(state[k]))) {
      for (int j = 0; j < k; j++) lt_tensor_release(fresh[j]);
      free(fresh);
      return LT_ERR_MEMORY;
    }
  }
  for (int k = 0; k < n; k++) lt_tensor_release(o->state[k]);
  free(o->state);
  o->state = fresh;
  memcpy(o->steps, steps, (size_t)o->n_params * sizeof *steps);
  o->cfg = *cfg;
  return LT_OK;
}

/* ==================== gradient clipping ==================== */

typedef struct {
  const float *g;
  double *partial; /* one sum per chunk: a fixed order whatever the thread count */
} sumsq_ctx;

static void sumsq_chunk(const void *vc, int64_t lo, int64_t hi) {
  const sumsq_ctx *c = vc;
  const float *restrict g = c->g;
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = lo; k < hi; k++) s += (double)g[k] * g[k];
  c->partial[lo / LT_OPTIM_CHUNK] = s;
}

static lt_status sum_squares(const lt_tensor *grad, double *out) {
  lt_tensor *g = lt_tensor_contiguous_values((lt_tensor *)grad);
  if (!g) return LT_ERR_MEMORY;
  int64_t n = lt_tensor_numel(g), chunks = (n + LT_OPTIM_CHUNK - 1) / LT_OPTIM_CHUNK;
  double one, *partial = chunks <= 1 ? &one : malloc((size_t)chunks * sizeof *partial);
  if (!partial) {
    lt_tensor_release(g);
    return lt_error(LT_ERR_MEMORY, "clip_grad_norm: out of memory");
  }
  one = 0;
  sumsq_ctx c = {lt_tensor_data(g), partial};
  lt_optim_for(n, sumsq_chunk, &c);
  double s = 0;
  for (int64_t k = 0; k < chunks; k++) s += partial[k];
  if (partial != &one) free(partial);
  lt_tensor_release(g);
  *out = s;
  return LT_OK;
}

typedef struct { float *g; float scale; } scale_ctx;

static void scale_chunk(const void *vc, int64_t lo, int64_t hi) {
  const scale_ctx *c = vc;
  float *restrict g = c->g;
  for (int64_t k = lo; k < hi; k++) g[k] *= c->scale;
}

lt_status lt_clip_grad_norm(int n, lt_tensor *const *params, double max_norm, double *total) {
  double sum = 0;
  for (int i = 0; i < n; i++) {
    if (!params[i]->grad) continue;
    double s = 0;
    lt_status st = sum_squares(params[i]->grad, &s);
    if (st != LT_OK) return st;
    sum += s;
  }
  float norm = (float)sqrt(sum);
  *total = norm;
  /* PyTorch: clip_coef = max_norm / (total_norm + 1e-6), a float32 tensor
   * divided as reciprocal() * max_norm, then clamped to at most 1. */
  float coef = (1.0f / (norm + 1e-6f)) * (float)max_norm;
  if (coef >= 1.0f) return LT_OK; /* scaling by 1 changes nothing */
  for (int i = 0; i < n; i++) {
    lt_tensor *g = params[i]->grad;
    if (!g) continue;
    if (lt_tensor_is_contiguous(g)) {
      scale_ctx c = {lt_tensor_data(g), coef};
      lt_optim_for(lt_tensor_numel(g), scale_chunk, &c);
    } else {
      lt_tensor *tmp = lt_tensor_copy_values(g);
      if (!tmp) return LT_ERR_MEMORY;
      scale_ctx c = {lt_tensor_data(tmp), coef};
      lt_optim_for(lt_tensor_numel(tmp), scale_chunk, &c);
      lt_copy_strided(g, tmp);
      lt_tensor_release(tmp);
    }
    lt_tensor_bump_version(g);
  }
  return LT_OK;
}
