/* Optimizer kernels against naive double-precision loops, the threaded path
 * against the serial one, strided parameters, skipping, state loading and
 * gradient clipping, all without Lua. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/lt_error.h"
#include "core/lt_rng.h"
#include "core/lt_tensor.h"
#include "lt_test.h"
#include "optim/optim.h"

/* ==================== helpers ==================== */

static unsigned rng_state = 12345;
static float frand(void) { /* uniform in [-1, 1), deterministic */
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) * (1.0 / 8388608.0) * 2.0 - 1.0);
}

static lt_tensor *random_tensor(int ndim, const int64_t *shape, float scale) {
  lt_tensor *t = lt_tensor_empty(ndim, shape);
  float *d = lt_tensor_data(t);
  for (int64_t k = 0; k < lt_tensor_numel(t); k++) d[k] = scale * frand();
  return t;
}

static lt_tensor *param(int64_t n) {
  int64_t shape[1] = {n};
  lt_tensor *p = random_tensor(1, shape, 1.0f);
  p->requires_grad = true;
  return p;
}

static void set_grad(lt_tensor *p, float scale) {
  lt_tensor_release(p->grad);
  p->grad = random_tensor(p->ndim, p->shape, scale);
}

/* The largest |a - b| relative to the largest |b|: float32 rounding errors
 * scale with the values an update combines, not with a result near zero. */
static double max_rel_diff(const float *a, const double *b, int64_t n) {
  double worst = 0, scale = 0;
  for (int64_t k = 0; k < n; k++) scale = fmax(scale, fabs(b[k]));
  for (int64_t k = 0; k < n; k++) {
    double d = fabs(a[k] - b[k]) / scale;
    if (d > worst || d != d) worst = d;
  }
  return worst;
}

/* The reference: one optimizer of any kind in double precision, per element. */
typedef struct { double p, s[3]; } ref_elem;

static void ref_step(const lt_optim_kind *kind, const lt_optim_config *c, int64_t t, ref_elem *e,
                     double g) {
  if (kind == &lt_optim_sgd) {
    double d = g + c->weight_decay * e->p;
    if (c->momentum != 0) {
      e->s[0] = t == 1 ? d : e->s[0] * c->momentum + (1 - c->dampening) * d;
      d = c->nesterov ? d + c->momentum * e->s[0] : e->s[0];
    }
    e->p -= c->lr * d;
  } else if (kind == &lt_optim_rmsprop) {
    g += c->weight_decay * e->p;
    e->s[0] = c->alpha * e->s[0] + (1 - c->alpha) * g * g;
    double var = e->s[0];
    if (c->centered) {
      e->s[2] = c->alpha * e->s[2] + (1 - c->alpha) * g;
      var -= e->s[2] * e->s[2];
    }
    double avg = sqrt(var) + c->eps;
    if (c->momentum > 0) {
      e->s[1] = c->momentum * e->s[1] + g / avg;
      e->p -= c->lr * e->s[1];
    } else {
      e->p -= c->lr * g / avg;
    }
  } else {
    bool decoupled = kind == &lt_optim_adamw;
    if (decoupled) e->p *= 1 - c->lr * c->weight_decay;
    else g += c->weight_decay * e->p;
    e->s[0] = c->beta1 * e->s[0] + (1 - c->beta1) * g;
    e->s[1] = c->beta2 * e->s[1] + (1 - c->beta2) * g * g;
    double v = e->s[1];
    if (c->amsgrad) v = e->s[2] = fmax(e->s[2], v);
    double den = sqrt(v) / sqrt(1 - pow(c->beta2, (double)t)) + c->eps;
    e->p -= c->lr / (1 - pow(c->beta1, (double)t)) * e->s[0] / den;
  }
}

typedef struct { const lt_optim_kind *kind; lt_optim_config cfg; } config_case;

static config_case make_case(const lt_optim_kind *kind) {
  config_case c = {kind, kind->defaults};
  return c;
}

static config_case *all_cases(int *n) {
  static config_case cs[10];
  int k = 0;
  cs[k] = make_case(&lt_optim_sgd), cs[k++].cfg.lr = 0.1;
  cs[k] = make_case(&lt_optim_sgd), cs[k].cfg.lr = 0.1, cs[k].cfg.momentum = 0.9, cs[k].cfg.dampening = 0.2,
  cs[k++].cfg.weight_decay = 0.01;
  cs[k] = make_case(&lt_optim_sgd), cs[k].cfg.lr = 0.05, cs[k].cfg.momentum = 0.9, cs[k++].cfg.nesterov = true;
  cs[k++] = make_case(&lt_optim_rmsprop);
  cs[k] = make_case(&lt_optim_rmsprop), cs[k].cfg.momentum = 0.5, cs[k].cfg.centered = true,
  cs[k++].cfg.weight_decay = 0.1;
  cs[k] = make_case(&lt_optim_adam), cs[k++].cfg.lr = 0.01;
  cs[k] = make_case(&lt_optim_adam), cs[k].cfg.weight_decay = 0.1, cs[k++].cfg.amsgrad = true;
  cs[k] = make_case(&lt_optim_adamw), cs[k++].cfg.lr = 0.01;
  cs[k] = make_case(&lt_optim_adamw), cs[k].cfg.amsgrad = true, cs[k++].cfg.weight_decay = 0.3;
  *n = k;
  return cs;
}

/* ==================== tests ==================== */

/* Each kind over 12 steps against the double-precision reference. */
TEST(kinds_match_double_reference) {
  int n_cases;
  config_case *cs = all_cases(&n_cases);
  for (int c = 0; c < n_cases; c++) {
    enum { N = 257 };
    lt_tensor *p = param(N);
    ref_elem ref[N];
    memset(ref, 0, sizeof ref);
    for (int k = 0; k < N; k++) ref[k].p = lt_tensor_data(p)[k];
    lt_optim *o = NULL;
    CHECK(lt_optim_new(&o, cs[c].kind, &cs[c].cfg, 1, &p) == LT_OK);
    if (!o) continue;
    for (int t = 1; t <= 12; t++) {
      set_grad(p, t % 3 == 0 ? 0.01f : 1.0f);
      for (int k = 0; k < N; k++) ref_step(cs[c].kind, &cs[c].cfg, t, &ref[k], lt_tensor_data(p->grad)[k]);
      CHECK(lt_optim_step(o) == LT_OK);
    }
    double want[N];
    for (int k = 0; k < N; k++) want[k] = ref[k].p;
    double d = max_rel_diff(lt_tensor_data(p), want, N);
    if (!(d < 1e-5)) {
      fprintf(stderr, "  %s case %d: max rel diff %g\n", cs[c].kind->name, c, d);
      lt_test_current_failed = 1;
    }
    CHECK(o->steps[0] == 12);
    lt_optim_free(o);
    lt_tensor_release(p);
  }
}

/* A parameter big enough for the OpenMP path gives the same bits on 1 thread and on 2. */
TEST(threads_do_not_change_results) {
  int n_cases;
  config_case *cs = all_cases(&n_cases);
  int64_t n = 3 * LT_OPTIM_PAR_MIN + 123;
  int saved_threads = omp_get_max_threads();
  for (int c = 0; c < n_cases; c++) {
    lt_tensor *a = param(n);
    lt_tensor *b = lt_tensor_copy_values(a);
    b->requires_grad = true;
    lt_optim *oa = NULL, *ob = NULL;
    lt_optim_new(&oa, cs[c].kind, &cs[c].cfg, 1, &a);
    lt_optim_new(&ob, cs[c].kind, &cs[c].cfg, 1, &b);
    for (int t = 0; t < 3; t++) {
      set_grad(a, 1.0f);
      lt_tensor_release(b->grad);
      b->grad = lt_tensor_copy_values(a->grad);
      omp_set_num_threads(1);
      lt_optim_step(oa);
      omp_set_num_threads(2);
      lt_optim_step(ob);
    }
    CHECK(memcmp(lt_tensor_data(a), lt_tensor_data(b), (size_t)n * sizeof(float)) == 0);
    lt_optim_free(oa);
    lt_optim_free(ob);
    lt_tensor_release(a);
    lt_tensor_release(b);
  }
  omp_set_num_threads(saved_threads);
}

/* A transposed (strided) parameter moves exactly like a contiguous one. */
TEST(strided_parameter) {
  int64_t shape[2] = {6, 5}, tshape[2] = {5, 6}, tstride[2] = {1, 5};
  lt_tensor *base = random_tensor(2, shape, 1.0f);
  lt_tensor *strided = lt_tensor_alias(base, 2, tshape, tstride, 0); /* base^T */
  lt_tensor *contig = lt_tensor_copy_values(strided);
  strided->requires_grad = contig->requires_grad = true;
  config_case c = make_case(&lt_optim_adam);
  lt_optim *os = NULL, *oc = NULL;
  lt_optim_new(&os, c.kind, &c.cfg, 1, &strided);
  lt_optim_new(&oc, c.kind, &c.cfg, 1, &contig);
  for (int t = 0; t < 4; t++) {
    set_grad(contig, 1.0f);
    lt_tensor_release(strided->grad);
    strided->grad = lt_tensor_copy_values(contig->grad);
    CHECK(lt_optim_step(os) == LT_OK);
    CHECK(lt_optim_step(oc) == LT_OK);
  }
  lt_tensor *back = lt_tensor_copy_values(strided);
  CHECK(memcmp(lt_tensor_data(back), lt_tensor_data(contig), 30 * sizeof(float)) == 0);
  lt_tensor_release(back);
  lt_optim_free(os);
  lt_optim_free(oc);
  lt_tensor_release(strided);
  lt_tensor_release(contig);
  lt_tensor_release(base);
}

TEST(skips_and_errors_leave_everything_unchanged) {
  lt_tensor *ps[3] = {param(4), param(5), param(6)};
  config_case c = make_case(&lt_optim_rmsprop);
  c.cfg.momentum = 0.9;
  lt_optim *o = NULL;
  CHECK(lt_optim_new(&o, c.kind, &c.cfg, 3, ps) == LT_OK);
  set_grad(ps[0], 1.0f);
  set_grad(ps[2], 1.0f);
  ps[2]->requires_grad = false; /* frozen */
  float before[6];
  memcpy(before, lt_tensor_data(ps[2]), sizeof before);
  CHECK(lt_optim_step(o) == LT_OK);
  CHECK(o->steps[0] == 1 && o->steps[1] == 0 && o->steps[2] == 0);
  CHECK(lt_optim_state(o, 1, 0) == NULL && lt_optim_state(o, 2, 0) == NULL);
  CHECK(lt_optim_state(o, 0, 0) != NULL && lt_optim_state(o, 0, 1) != NULL);
  CHECK(lt_optim_state(o, 0, 2) == NULL); /* grad_avg: not centered */
  CHECK(memcmp(before, lt_tensor_data(ps[2]), sizeof before) == 0);

  /* a gradient of the wrong size: an error before anything moves */
  ps[2]->requires_grad = true;
  int64_t wrong[1] = {7};
  lt_tensor_release(ps[2]->grad);
  ps[2]->grad = lt_tensor_zeros(1, wrong);
  float p0[4];
  memcpy(p0, lt_tensor_data(ps[0]), sizeof p0);
  CHECK(lt_optim_step(o) == LT_ERR_SHAPE);
  CHECK(strstr(lt_errmsg(), "RMSprop: parameter 3 has a gradient of size 7, itself 6") != NULL);
  CHECK(memcmp(p0, lt_tensor_data(ps[0]), sizeof p0) == 0);
  CHECK(o->steps[0] == 1);

  lt_optim_zero_grad(o, true);
  CHECK(!ps[0]->grad && !ps[2]->grad);
  lt_optim_free(o);
  for (int i = 0; i < 3; i++) lt_tensor_release(ps[i]);
}

TEST(construction_errors) {
  lt_tensor *p = param(3);
  lt_optim *o = NULL;
  lt_optim_config cfg = lt_optim_sgd.defaults;
  cfg.lr = -1;
  CHECK(lt_optim_new(&o, &lt_optim_sgd, &cfg, 1, &p) == LT_ERR_ARG);
  CHECK(strstr(lt_errmsg(), "SGD: lr must be positive") != NULL);
  cfg.lr = 0.1;
  CHECK(lt_optim_new(&o, &lt_optim_sgd, &cfg, 0, &p) == LT_ERR_ARG);
  CHECK(strstr(lt_errmsg(), "empty parameter list") != NULL);
  lt_tensor *twice[2] = {p, p};
  CHECK(lt_optim_new(&o, &lt_optim_sgd, &cfg, 2, twice) == LT_ERR_ARG);
  CHECK(strstr(lt_errmsg(), "parameter 2 is the same tensor as parameter 1") != NULL);
  cfg.nesterov = true;
  CHECK(lt_optim_new(&o, &lt_optim_sgd, &cfg, 1, &p) == LT_ERR_ARG);
  CHECK(strstr(lt_errmsg(), "nesterov") != NULL);
  lt_optim_config a = lt_optim_adam.defaults;
  a.beta2 = 1.0;
  CHECK(lt_optim_new(&o, &lt_optim_adam, &a, 1, &p) == LT_ERR_ARG);
  CHECK(strstr(lt_errmsg(), "Adam: beta2 must be in [0, 1), got 1") != NULL);
  CHECK(o == NULL);
  CHECK(lt_optim_kind_named("AdamW") == &lt_optim_adamw && lt_optim_kind_named("adam") == NULL);
  CHECK(lt_optim_slot(&lt_optim_adam, "exp_avg_sq") == 1 && lt_optim_slot(&lt_optim_sgd, "exp_avg") == -1);
  lt_tensor_release(p);
}

/* Save after 3 steps, load into a fresh optimizer over copies, continue: the
 * same bits as 6 uninterrupted steps. */
TEST(load_resumes_exactly) {
  int n_cases;
  config_case *cs = all_cases(&n_cases);
  for (int c = 0; c < n_cases; c++) {
    lt_tensor *a = param(50), *b = lt_tensor_copy_values(a);
    b->requires_grad = true;
    lt_optim *oa = NULL, *ob = NULL;
    lt_optim_new(&oa, cs[c].kind, &cs[c].cfg, 1, &a);
    lt_optim_new(&ob, cs[c].kind, &cs[c].cfg, 1, &b);
    lt_tensor *grads[6];
    for (int t = 0; t < 6; t++) {
      int64_t shape[1] = {50};
      grads[t] = random_tensor(1, shape, 1.0f);
    }
    for (int t = 0; t < 6; t++) {
      lt_tensor_release(a->grad);
      a->grad = lt_tensor_copy_values(grads[t]);
      lt_optim_step(oa);
    }
    for (int t = 0; t < 3; t++) {
      lt_tensor_release(b->grad);
      b->grad = lt_tensor_copy_values(grads[t]);
      lt_optim_step(ob);
    }
    lt_tensor *b2 = lt_tensor_copy_values(b);
    b2->requires_grad = true;
    lt_optim *o2 = NULL;
    lt_optim_config other = cs[c].kind->defaults;
    other.lr = 5;
    lt_optim_new(&o2, cs[c].kind, &other, 1, &b2);
    lt_tensor *state[LT_OPTIM_SLOTS];
    for (int s = 0; s < LT_OPTIM_SLOTS; s++) state[s] = lt_optim_state(ob, 0, s);
    CHECK(lt_optim_load(o2, &ob->cfg, ob->steps, state) == LT_OK);
    for (int t = 3; t < 6; t++) {
      lt_tensor_release(b2->grad);
      b2->grad = lt_tensor_copy_values(grads[t]);
      lt_optim_step(o2);
    }
    CHECK(memcmp(lt_tensor_data(a), lt_tensor_data(b2), 50 * sizeof(float)) == 0);
    /* a missing slot is refused, naming the key */
    lt_tensor *none[LT_OPTIM_SLOTS] = {0};
    if (cs[c].kind->slot_used(&ob->cfg, 0)) {
      CHECK(lt_optim_load(o2, &ob->cfg, ob->steps, none) == LT_ERR_ARG);
      char key[64];
      snprintf(key, sizeof key, "'1.%s' is missing", cs[c].kind->slot_names[0]);
      CHECK(strstr(lt_errmsg(), key) != NULL);
    }
    for (int t = 0; t < 6; t++) lt_tensor_release(grads[t]);
    lt_optim_free(oa);
    lt_optim_free(ob);
    lt_optim_free(o2);
    lt_tensor_release(a);
    lt_tensor_release(b);
    lt_tensor_release(b2);
  }
}

TEST(clip_grad_norm_matches_double) {
  lt_tensor *ps[3] = {param(100), param(LT_OPTIM_PAR_MIN + 77), param(3)};
  set_grad(ps[0], 2.0f);
  set_grad(ps[1], 0.5f);
  /* ps[2] has no gradient: skipped */
  double sum = 0;
  for (int i = 0; i < 2; i++)
    for (int64_t k = 0; k < lt_tensor_numel(ps[i]); k++)
      sum += (double)lt_tensor_data(ps[i]->grad)[k] * lt_tensor_data(ps[i]->grad)[k];
  double want = sqrt(sum), total = 0;
  float g0 = lt_tensor_data(ps[0]->grad)[5];
  CHECK(lt_clip_grad_norm(3, ps, 1e9, &total) == LT_OK);
  CHECK_CLOSE(total, want, 1e-6 * want);
  CHECK(lt_tensor_data(ps[0]->grad)[5] == g0); /* not clipped */
  CHECK(lt_clip_grad_norm(3, ps, 1.0, &total) == LT_OK);
  double s2 = 0;
  for (int i = 0; i < 2; i++)
    for (int64_t k = 0; k < lt_tensor_numel(ps[i]); k++)
      s2 += (double)lt_tensor_data(ps[i]->grad)[k] * lt_tensor_data(ps[i]->grad)[k];
  CHECK_CLOSE(sqrt(s2), 1.0, 1e-5);
  CHECK_CLOSE(lt_tensor_data(ps[0]->grad)[5], g0 / want, 1e-6);
  for (int i = 0; i < 3; i++) lt_tensor_release(ps[i]);
}

int main(void) {
  RUN(kinds_match_double_reference);
  RUN(threads_do_not_change_results);
  RUN(strided_parameter);
  RUN(skips_and_errors_leave_everything_unchanged);
  RUN(construction_errors);
  RUN(load_resumes_exactly);
  RUN(clip_grad_norm_matches_double);
  return lt_test_summary();
}
