/* Optimizers: SGD, RMSprop, Adam and AdamW over a list of parameter tensors,
 * and gradient-norm clipping.
 *
 * An optimizer holds references to its parameters and, per parameter, a step
 * count and up to LT_OPTIM_SLOTS state tensors (float32, contiguous, shaped
 * like the parameter), created at the parameter's first step. The state has
 * PyTorch's names (exp_avg, momentum_buffer, ...), so a checkpoint can hold it.
 *
 * Each update is one fused loop per parameter that matches torch.optim 1.13's
 * single-tensor (non-foreach) path element by element: the same float32
 * operations in the same order, with the hyper-parameters rounded to float
 * where PyTorch rounds them (a Python float passed as a Scalar), and the
 * per-step scalars (bias corrections, step sizes) computed in double as
 * Python does. Without fused multiply-adds the results are bit-identical to
 * PyTorch's scalar kernels; its AVX2 kernels fuse some multiply-adds, which
 * moves a result by about one ulp.
 *
 * A parameter whose grad is NULL, or that does not require grad (frozen), is
 * skipped: no update and no change to its state or step count, as PyTorch
 * skips a parameter whose .grad is None. Gradients are never modified. */
#ifndef LT_OPTIM_H
#define LT_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lt_error.h"
#include "core/lt_tensor.h"

enum { LT_OPTIM_SLOTS = 3 };

/* Hyper-parameters of every kind; each kind reads the fields it uses. They
 * are doubles, like PyTorch's param_group values. */
typedef struct lt_optim_config {
  double lr;
  double momentum, dampening;   /* SGD; momentum also RMSprop */
  double weight_decay;          /* L2 added to the gradient (AdamW: decoupled) */
  double alpha, eps;            /* RMSprop; eps also Adam */
  double beta1, beta2;          /* Adam, AdamW */
  bool nesterov, centered, amsgrad;
} lt_optim_config;

typedef struct lt_optim lt_optim;

/* One update of n elements: p and the state slots in place, from g. `step`
 * counts this one (1 at the first update of the parameter). */
typedef void (*lt_optim_update_fn)(const lt_optim_config *c, int64_t step, int64_t n, float *p,
                                   const float *g, float *const *state);

typedef struct lt_optim_kind {
  const char *name;                              /* "Adam": names errors and checkpoints */
  const char *step_name;                         /* "Adam.step": its row in the profiler */
  const char *slot_names[LT_OPTIM_SLOTS];        /* PyTorch's state names; NULL past the last */
  const char *const *options;                    /* option names it accepts, NULL-terminated */
  lt_optim_config defaults;
  bool lr_required;                              /* SGD: no default lr, as in PyTorch */
  bool (*slot_used)(const lt_optim_config *c, int slot);
  lt_optim_update_fn update;
} lt_optim_kind;

extern const lt_optim_kind lt_optim_sgd, lt_optim_rmsprop, lt_optim_adam, lt_optim_adamw;

struct lt_optim {
  const lt_optim_kind *kind;
  lt_optim_config cfg;
  int n_params;
  lt_tensor **params;   /* referenced */
  int64_t *steps;       /* per parameter: updates taken */
  lt_tensor **state;    /* [n_params * LT_OPTIM_SLOTS], NULL until used */
};

/* ---- lifetime ---- */
/* Checks cfg (lt_optim_check_config) and the parameters (leaves, no repeats,
 * at least one), then references them. */
lt_status lt_optim_new(lt_optim **out, const lt_optim_kind *kind, const lt_optim_config *cfg,
                       int n_params, lt_tensor *const *params);
void lt_optim_free(lt_optim *o); /* NULL is allowed */

/* Hyper-parameter ranges as PyTorch checks them, e.g. "Adam: beta2 must be in
 * [0, 1), got 1". */
lt_status lt_optim_check_config(const lt_optim_kind *kind, const lt_optim_config *cfg);
const lt_optim_kind *lt_optim_kind_named(const char *name); /* NULL if unknown */

/* ---- training ---- */
/* Updates every parameter that has a gradient and requires grad. Gradients are
 * validated and state is created before any parameter changes, so a failure
 * leaves everything as it was. */
lt_status lt_optim_step(lt_optim *o);
/* Drops every gradient (set_to_none, PyTorch 2's default) or zeroes it. */
void lt_optim_zero_grad(lt_optim *o, bool set_to_none);
lt_status lt_optim_set_lr(lt_optim *o, double lr); /* lr >= 0 */

/* ---- state, for checkpoints ---- */
int lt_optim_slot(const lt_optim_kind *kind, const char *name);           /* -1 if unknown */
int lt_optim_n_slots(const lt_optim_kind *kind);
/* The live state tensor (borrowed) of parameter i, or NULL when it has none:
 * before its first step, or a slot its configuration does not use. */
lt_tensor *lt_optim_state(const lt_optim *o, int i, int slot);
/* Replaces configuration, step counts and state (state[i * LT_OPTIM_SLOTS +
 * slot], NULL where absent) with copies of the given values. Every parameter
 * with steps > 0 must come with exactly the slots cfg uses, shaped like the
 * parameter; errors name the key ("2.exp_avg"). All or nothing. */
lt_status lt_optim_load(lt_optim *o, const lt_optim_config *cfg, const int64_t *steps,
                        lt_tensor *const *state);

/* ---- gradient clipping (torch.nn.utils.clip_grad_norm_, norm_type 2) ---- */
/* *total = the 2-norm of all gradients together (parameters without a grad
 * are skipped); when max_norm / (total + 1e-6) < 1 every gradient is scaled
 * by it, in place. The scale is computed in float32 as PyTorch does. */
lt_status lt_clip_grad_norm(int n, lt_tensor *const *params, double max_norm, double *total);

/* ---- for the kernels ---- */
enum { LT_OPTIM_PAR_MIN = 32768, LT_OPTIM_CHUNK = 16384 };
/* Runs fn(ctx, lo, hi) over [0, n) in chunks, on OpenMP threads when n is
 * large. Chunks are disjoint, so results do not depend on the thread count. */
typedef void (*lt_optim_chunk_fn)(const void *ctx, int64_t lo, int64_t hi);
void lt_optim_for(int64_t n, lt_optim_chunk_fn fn, const void *ctx);

#endif
