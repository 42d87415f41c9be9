/* Bindings: t-SNE embeddings (src/analysis/tsne.h).
 *
 *   local y, kl = core.tsne(x, {dims = 2, perplexity = 30, iterations = 1000,
 *                               early_exaggeration = 12, exaggeration_iterations = 250,
 *                               learning_rate = "auto", method = "barnes_hut" | "exact" | "fft",
 *                               angle = 0.5, init = "pca" | "random" | tensor, seed = n,
 *                               n_iter_without_progress = 300, min_grad_norm = 1e-7,
 *                               verbose = nil | true | false})
 *
 *   local P = core.tsne_affinities(x, {perplexity = 30, method = ...})   -- dense n x n
 *
 * lua/latent/tsne.lua makes them lt.tsne and lt.tsne.affinities. Progress (iteration, KL, seconds)
 * goes to stdout every 50 iterations when verbose is true, or when it is nil
 * and stdout is a terminal. */
#include "lua/lt_lua.h"
#include "analysis/tsne.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const OPTIONS[] = {"dims", "perplexity", "iterations", "early_exaggeration",
                                      "exaggeration_iterations", "learning_rate", "method", "angle", "init",
                                      "seed", "n_iter_without_progress", "min_grad_norm", "verbose", NULL};

/* Every key of the options table must be a known option. */
static void check_names(lua_State *L, int opts) {
  lua_pushnil(L);
  while (lua_next(L, opts)) {
    const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int known = 0;
    for (int k = 0; name && OPTIONS[k]; k++) known |= !strcmp(name, OPTIONS[k]);
    if (!known) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (int k = 0; OPTIONS[k]; k++) luaL_addstring(&b, k ? ", " : ""), luaL_addstring(&b, OPTIONS[k]);
      luaL_pushresult(&b);
      luaL_error(L, "tsne: unknown option '%s' (options: %s)", name ? name : luaL_typename(L, -3),
                 lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
}

/* A string option among `names`; its index, or `def` when absent. */
static int opt_choice(lua_State *L, int opts, const char *field, const char *const *names, int def) {
  if (lua_getfield(L, opts, field) == LUA_TNIL) return lua_pop(L, 1), def;
  const char *s = lua_tostring(L, -1);
  for (int k = 0; s && lua_type(L, -1) == LUA_TSTRING && names[k]; k++)
    if (!strcmp(s, names[k])) return lua_pop(L, 1), k;
  return luaL_error(L, "tsne: option '%s' must be one of '%s', '%s'%s%s%s, got %s%s%s", field, names[0], names[1],
                    names[2] ? ", '" : "", names[2] ? names[2] : "", names[2] ? "'" : "",
                    s ? "'" : "a ", s ? s : luaL_typename(L, -1), s ? "'" : "");
}

/* Numeric options, named in errors as "tsne: option 'iterations' must be an integer, got 64.5". */
static double opt_num(lua_State *L, int opts, const char *field, double def, int integer) {
  int t = lua_getfield(L, opts, field);
  if (t == LUA_TNIL) return lua_pop(L, 1), def;
  int ok = 0;
  double v = integer ? (double)lua_tointegerx(L, -1, &ok) : lua_tonumberx(L, -1, &ok);
  if (!ok || t != LUA_TNUMBER)
    luaL_error(L, "tsne: option '%s' must be %s, got %s", field, integer ? "an integer" : "a number",
               t == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

static double opt_int(lua_State *L, int opts, const char *field, int def) {
  double v = opt_num(L, opts, field, def, 1);
  if (v < -1e9 || v > 1e9) luaL_error(L, "tsne: option '%s' is out of range (%f)", field, v);
  return v;
}

static void read_learning_rate(lua_State *L, int opts, lt_tsne_options *o) {
  int t = lua_getfield(L, opts, "learning_rate");
  if (t == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "auto")) o->learning_rate = 0;
  else if (t == LUA_TNUMBER && lua_tonumber(L, -1) > 0) o->learning_rate = lua_tonumber(L, -1);
  else if (t != LUA_TNIL)
    luaL_error(L, "tsne: option 'learning_rate' must be 'auto' or a positive number, got %s",
               t == LUA_TNUMBER || t == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
  lua_pop(L, 1);
}

static void read_init(lua_State *L, int opts, lt_tsne_options *o) {
  static const char *const inits[] = {"pca", "random", NULL};
  lua_getfield(L, opts, "init");
  lt_tensor *t = lt_totensor(L, -1);
  lua_pop(L, 1); /* the options table keeps the tensor alive */
  if (t) o->init = t;
  else o->init_random = opt_choice(L, opts, "init", inits, 0) == 1;
  if (lua_getfield(L, opts, "seed") != LUA_TNIL) {
    int ok;
    lua_Integer seed = lua_tointegerx(L, -1, &ok);
    if (!ok || lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "tsne: option 'seed' must be an integer, got %s",
                 lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
    o->has_seed = true, o->seed = (uint64_t)seed;
  }
  lua_pop(L, 1);
}

static void print_progress(void *ud, int iteration, double kl, double secs) {
  (void)ud;
  printf("[t-SNE] iteration %d: KL divergence %.4f (%.1f s)\n", iteration, kl, secs);
  fflush(stdout);
}

static void read_options(lua_State *L, int opts, lt_tsne_options *o) {
  static const char *const methods[] = {"exact", "barnes_hut", "fft", NULL};
  lt_tsne_options_default(o);
  if (lua_isnoneornil(L, opts)) return;
  luaL_checktype(L, opts, LUA_TTABLE);
  check_names(L, opts);
  o->dims = (int)opt_int(L, opts, "dims", o->dims);
  o->perplexity = opt_num(L, opts, "perplexity", o->perplexity, 0);
  o->iterations = (int)opt_int(L, opts, "iterations", o->iterations);
  o->early_exaggeration = opt_num(L, opts, "early_exaggeration", o->early_exaggeration, 0);
  o->exaggeration_iterations = (int)opt_int(L, opts, "exaggeration_iterations", o->exaggeration_iterations);
  o->method = (lt_tsne_method)opt_choice(L, opts, "method", methods, LT_TSNE_BARNES_HUT);
  o->angle = opt_num(L, opts, "angle", o->angle, 0);
  o->n_iter_without_progress = (int)opt_int(L, opts, "n_iter_without_progress", o->n_iter_without_progress);
  o->min_grad_norm = opt_num(L, opts, "min_grad_norm", o->min_grad_norm, 0);
  read_learning_rate(L, opts, o);
  read_init(L, opts, o);
  int t = lua_getfield(L, opts, "verbose");
  if (t != LUA_TNIL && t != LUA_TBOOLEAN)
    luaL_error(L, "tsne: option 'verbose' must be a boolean, got %s", luaL_typename(L, -1));
  if (t == LUA_TNIL ? isatty(STDOUT_FILENO) : lua_toboolean(L, -1)) o->progress = print_progress;
  lua_pop(L, 1);
}

/* lt.tsne is a callable table whose __call is this function: drop the table,
 * so that errors carry the caller's line and x is argument 1. */
static void drop_self(lua_State *L) {
  if (lua_istable(L, 1)) lua_remove(L, 1);
}

/* core.tsne(x [, opts]) -> y (n x dims), kl */
static int l_tsne(lua_State *L) {
  drop_self(L);
  lt_tensor *x = lt_checktensor(L, 1);
  lt_tsne_options o;
  read_options(L, 2, &o);
  if (lua_isnoneornil(L, 2)) o.progress = isatty(STDOUT_FILENO) ? print_progress : NULL;
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

/* core.tsne_affinities(x [, opts]) -> P, the joint affinities as a dense
 * n x n tensor (perplexity and method from opts), for small sets. */
static int l_tsne_affinities(lua_State *L) {
  drop_self(L);
  lt_tensor *x = lt_checktensor(L, 1);
  lt_tsne_options o;
  read_options(L, 2, &o);
  o.progress = NULL;
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
  static const luaL_Reg fns[] = {{"tsne", l_tsne}, {"tsne_affinities", l_tsne_affinities}, {NULL, NULL}};
  lt_register(L, module, fns, NULL);
}
