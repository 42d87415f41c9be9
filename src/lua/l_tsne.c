/* Bindings: t-SNE embeddings (src/analysis/tsne.h).
 *
 *   local y, kl = core.tsne(x, {dims = 2, perplexity = 30, iterations = 1000,
 *                               early_exaggeration = 12, exaggeration_iterations = 250,
 *                               learning_rate = "auto", method = "barnes_hut" | "exact" | "fft",
 *                               angle = 0.5, init = "pca" | "random" | tensor, seed = n,
 *                               n_iter_without_progress = 300, min_grad_norm = 1e-7,
 *                               verbose = nil | true | false})
 *   local y_new, kl = core.tsne_transform(x_new, x, y, {perplexity = 5, iterations = 250,
 *                                         learning_rate = "auto", angle = 0.5, verbose = ...})
 *   local P = core.tsne_affinities(x, {perplexity = 30, method = ...})   -- dense n x n
 *
 * lua/latent/tsne.lua makes them lt.tsne, lt.tsne.transform and
 * lt.tsne.affinities. Progress (iteration, KL, seconds) goes to stdout every
 * 50 iterations when verbose is true, or when it is nil and stdout is a
 * terminal. Unknown option names are errors. */
#include "lua/lt_lua.h"
#include "analysis/tsne.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const FIT_OPTIONS[] = {"dims", "perplexity", "iterations", "early_exaggeration",
                                          "exaggeration_iterations", "learning_rate", "method", "angle", "init",
                                          "seed", "n_iter_without_progress", "min_grad_norm", "verbose", NULL};
static const char *const TRANSFORM_OPTIONS[] = {"perplexity", "iterations", "learning_rate", "angle", "verbose", NULL};
static const char *const AFFINITY_OPTIONS[] = {"perplexity", "method", NULL};

/* The options table being read, and the function to name in errors. */
typedef struct {
  lua_State *L;
  int opts;
  const char *fn;
} reader;

/* ==================== reading options ==================== */

static int has(const char *const *list, const char *name) {
  for (int k = 0; name && list[k]; k++)
    if (!strcmp(name, list[k])) return 1;
  return 0;
}

/* Every key of the options table must be one of `known`. */
static void check_names(reader *r, const char *const *known) {
  lua_State *L = r->L;
  lua_pushnil(L);
  while (lua_next(L, r->opts)) {
    const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (!has(known, name)) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (int k = 0; known[k]; k++) luaL_addstring(&b, k ? ", " : ""), luaL_addstring(&b, known[k]);
      luaL_pushresult(&b);
      luaL_error(L, "%s: unknown option '%s' (options: %s)", r->fn, name ? name : luaL_typename(L, -3),
                 lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
}

/* A string option among `names`; its index, or `def` when absent. */
static int opt_choice(reader *r, const char *field, const char *const *names, int def) {
  lua_State *L = r->L;
  if (lua_getfield(L, r->opts, field) == LUA_TNIL) return lua_pop(L, 1), def;
  const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  for (int k = 0; s && names[k]; k++)
    if (!strcmp(s, names[k])) return lua_pop(L, 1), k;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int k = 0; names[k]; k++) lua_pushfstring(L, "%s'%s'", k ? ", " : "", names[k]), luaL_addvalue(&b);
  luaL_pushresult(&b);
  return luaL_error(L, "%s: option '%s' must be one of %s, got %s%s%s", r->fn, field, lua_tostring(L, -1),
                    s ? "'" : "a ", s ? s : luaL_typename(L, -2), s ? "'" : "");
}

/* A number (an integer when asked), or `def` when absent:
 * "tsne: option 'iterations' must be an integer, got 64.5". */
static double opt_num(reader *r, const char *field, double def, int integer) {
  lua_State *L = r->L;
  int t = lua_getfield(L, r->opts, field), ok = 0;
  if (t == LUA_TNIL) return lua_pop(L, 1), def;
  double v = integer ? (double)lua_tointegerx(L, -1, &ok) : lua_tonumberx(L, -1, &ok);
  if (!ok || t != LUA_TNUMBER)
    luaL_error(L, "%s: option '%s' must be %s, got %s", r->fn, field, integer ? "an integer" : "a number",
               t == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
  if (integer && (v < -1e9 || v > 1e9)) luaL_error(L, "%s: option '%s' is out of range (%f)", r->fn, field, v);
  lua_pop(L, 1);
  return v;
}

static void read_learning_rate(reader *r, lt_tsne_options *o) {
  lua_State *L = r->L;
  int t = lua_getfield(L, r->opts, "learning_rate");
  if (t == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "auto")) o->learning_rate = 0;
  else if (t == LUA_TNUMBER && lua_tonumber(L, -1) > 0) o->learning_rate = lua_tonumber(L, -1);
  else if (t != LUA_TNIL)
    luaL_error(L, "%s: option 'learning_rate' must be 'auto' or a positive number, got %s", r->fn,
               t == LUA_TNUMBER || t == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
  lua_pop(L, 1);
}

static void read_init(reader *r, lt_tsne_options *o) {
  static const char *const inits[] = {"pca", "random", NULL};
  lua_State *L = r->L;
  lua_getfield(L, r->opts, "init");
  lt_tensor *t = lt_totensor(L, -1);
  lua_pop(L, 1); /* the options table keeps the tensor alive */
  if (t) o->init = t;
  else o->init_random = opt_choice(r, "init", inits, 0) == 1;
  if (lua_getfield(L, r->opts, "seed") != LUA_TNIL) {
    lua_pop(L, 1);
    o->has_seed = true, o->seed = (uint64_t)(int64_t)opt_num(r, "seed", 0, 1);
  } else {
    lua_pop(L, 1);
  }
}

static void print_progress(void *ud, int iteration, double kl, double secs) {
  printf("[%s] iteration %d: KL divergence %.4f (%.1f s)\n", (const char *)ud, iteration, kl, secs);
  fflush(stdout);
}

/* verbose: true prints, false does not, nil prints on a terminal only. */
static void read_verbose(reader *r, lt_tsne_options *o, const char *label) {
  lua_State *L = r->L;
  int t = lua_isnoneornil(L, r->opts) ? LUA_TNIL : lua_getfield(L, r->opts, "verbose");
  if (t != LUA_TNIL && t != LUA_TBOOLEAN)
    luaL_error(L, "%s: option 'verbose' must be a boolean, got %s", r->fn, luaL_typename(L, -1));
  if (t == LUA_TNIL ? isatty(STDOUT_FILENO) : lua_toboolean(L, -1)) o->progress = print_progress;
  o->progress_ud = (void *)label;
  if (!lua_isnoneornil(L, r->opts)) lua_pop(L, 1);
}

/* The options in the table at `opts` (absent: all defaults) over `o`. */
static void read_options(reader *r, const char *const *known, lt_tsne_options *o) {
  static const char *const methods[] = {"exact", "barnes_hut", "fft", NULL};
  if (lua_isnoneornil(r->L, r->opts)) return;
  luaL_checktype(r->L, r->opts, LUA_TTABLE);
  check_names(r, known);
  o->dims = (int)opt_num(r, "dims", o->dims, 1);
  o->perplexity = opt_num(r, "perplexity", o->perplexity, 0);
  o->iterations = (int)opt_num(r, "iterations", o->iterations, 1);
  o->early_exaggeration = opt_num(r, "early_exaggeration", o->early_exaggeration, 0);
  o->exaggeration_iterations = (int)opt_num(r, "exaggeration_iterations", o->exaggeration_iterations, 1);
  o->method = (lt_tsne_method)opt_choice(r, "method", methods, LT_TSNE_BARNES_HUT);
  o->angle = opt_num(r, "angle", o->angle, 0);
  o->n_iter_without_progress = (int)opt_num(r, "n_iter_without_progress", o->n_iter_without_progress, 1);
  o->min_grad_norm = opt_num(r, "min_grad_norm", o->min_grad_norm, 0);
  read_learning_rate(r, o);
  read_init(r, o);
}

/* lt.tsne is a callable table whose __call is l_tsne: drop the table, so
 * that x is argument 1 (and errors carry the caller's line, as the C
 * functions are called with no Lua wrapper between). */
static void drop_self(lua_State *L) {
  if (lua_istable(L, 1)) lua_remove(L, 1);
}

/* ==================== functions ==================== */

/* core.tsne(x [, opts]) -> y (n x dims), kl */
static int l_tsne(lua_State *L) {
  drop_self(L);
  lt_tensor *x = lt_checktensor(L, 1);
  lt_tsne_options o;
  lt_tsne_options_default(&o);
  reader r = {L, 2, "tsne"};
  read_options(&r, FIT_OPTIONS, &o);
  read_verbose(&r, &o, "t-SNE");
  LT_CHECK(L, lt_tsne_check(x, &o));
  lt_box *box = lt_newbox(L);
  int64_t shape[2] = {x->shape[0], o.dims};
  if (!(box->t = lt_tensor_empty(2, shape))) return lt_raise(L);
  double kl = 0;
  LT_CHECK(L, lt_tsne_fit(x, &o, box->t, &kl));
  lt_account(L);
  lua_pushnumber(L, kl);
  return 2;
}

/* core.tsne_transform(x_new, x, y [, opts]) -> y_new (m x dims), mean kl */
static int l_tsne_transform(lua_State *L) {
  lt_tensor *xn = lt_checktensor(L, 1), *x = lt_checktensor(L, 2), *y = lt_checktensor(L, 3);
  lt_tsne_options o;
  lt_tsne_transform_options_default(&o);
  reader r = {L, 4, "tsne.transform"};
  read_options(&r, TRANSFORM_OPTIONS, &o);
  read_verbose(&r, &o, "t-SNE transform");
  lt_box *box = lt_newbox(L);
  int64_t shape[2] = {xn->ndim == 2 ? xn->shape[0] : 0, y->ndim == 2 ? y->shape[1] : 0};
  if (!(box->t = lt_tensor_empty(2, shape))) return lt_raise(L);
  double kl = 0;
  LT_CHECK(L, lt_tsne_transform(xn, x, y, &o, box->t, &kl));
  lt_account(L);
  lua_pushnumber(L, kl);
  return 2;
}

/* core.tsne_affinities(x [, opts]) -> P, the joint affinities as a dense
 * n x n tensor, for small sets. */
static int l_tsne_affinities(lua_State *L) {
  drop_self(L);
  lt_tensor *x = lt_checktensor(L, 1);
  lt_tsne_options o;
  lt_tsne_options_default(&o);
  reader r = {L, 2, "tsne.affinities"};
  read_options(&r, AFFINITY_OPTIONS, &o);
  LT_CHECK(L, lt_tsne_check(x, &o));
  int64_t n = x->shape[0], shape[2] = {n, n};
  if (n > 16384) luaL_error(L, "tsne.affinities: %d points would make a dense P of %d x %d; use at most 16384",
                            (int)n, (int)n, (int)n);
  lt_box *box = lt_newbox(L);
  if (!(box->t = lt_tensor_empty(2, shape))) return lt_raise(L);
  LT_CHECK(L, lt_tsne_joint_p(x, o.perplexity, o.method == LT_TSNE_EXACT, box->t));
  lt_account(L);
  return 1;
}

void lt_open_tsne(lua_State *L, int module) {
  static const luaL_Reg fns[] = {{"tsne", l_tsne}, {"tsne_transform", l_tsne_transform},
                                 {"tsne_affinities", l_tsne_affinities}, {NULL, NULL}};
  lt_register(L, module, fns, NULL);
}
