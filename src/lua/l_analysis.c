/* Bindings: PCA, exact k nearest neighbours and embedding quality metrics
 * (src/analysis/pca.c, neighbors.c, metrics.c).
 *
 *   lt.knn(x, k [, {query = q}])                      -> idx (1-based), dist    (Euclidean)
 *   core.analysis.pca_fit(x, k [, sign])              -> components, mean, explained_variance,
 *                                                        explained_variance_ratio, singular_values,
 *                                                        total_variance
 *   core.analysis.pca_transform(x, mean, components [, whiten_var])          -> y
 *   core.analysis.pca_inverse_transform(y, mean, components [, whiten_var])  -> x
 *   core.analysis.trustworthiness(x, embedding [, k = 5])                    -> number
 *   core.analysis.knn_accuracy(x, labels [, k = 5 [, {test_x, test_labels}]]) -> fraction, correct
 *
 * lua/latent/pca.lua builds lt.PCA / lt.pca on the pca_* functions;
 * lua/latent/metrics.lua installs the two metrics as lt.metrics.*. */
#include "lua/lt_lua.h"
#include "analysis/metrics.h"
#include "analysis/neighbors.h"
#include "analysis/pca.h"

#include <string.h>

/* ==================== options ==================== */

/* Raises on a key of the options table at `opts` that is not in `known`. */
static void check_known(lua_State *L, int opts, const char *fname, const char *const *known) {
  if (lua_isnoneornil(L, opts)) return;
  luaL_checktype(L, opts, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, opts)) {
    lua_pop(L, 1);
    int ok = 0;
    for (const char *const *k = known; *k && !ok; k++)
      ok = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), *k);
    if (!ok) luaL_error(L, "%s: unknown option '%s'", fname, luaL_tolstring(L, -1, NULL));
  }
}

/* Field `name` of the options table: a tensor, or NULL when absent. */
static lt_tensor *opt_tensor(lua_State *L, int opts, const char *fname, const char *name) {
  if (lua_isnoneornil(L, opts)) return NULL;
  lua_getfield(L, opts, name);
  lt_tensor *t = lt_totensor(L, -1);
  if (!t && !lua_isnil(L, -1))
    luaL_error(L, "%s: option '%s' must be a tensor, got %s", fname, name, luaL_typename(L, -1));
  lua_pop(L, 1); /* the table still holds it */
  return t;
}

/* ==================== neighbours ==================== */

static int analysis_knn(lua_State *L) {
  static const char *const known[] = {"query", NULL};
  lt_tensor *x = lt_checktensor(L, 1);
  lua_Integer k = luaL_checkinteger(L, 2);
  check_known(L, 3, "knn", known);
  lt_tensor *q = opt_tensor(L, 3, "knn", "query");
  lt_box *bi = lt_newbox(L), *bd = lt_newbox(L);
  if (lt_knn_tensors("knn", x, q, k, 1, &bi->t, &bd->t) != LT_OK) return lt_raise(L);
  lt_account(L);
  return 2;
}

/* ==================== PCA ==================== */

static int analysis_pca_fit(lua_State *L) {
  static const char *const signs[] = {"scores", "loadings", NULL};
  lt_tensor *x = lt_checktensor(L, 1);
  lua_Integer k = luaL_checkinteger(L, 2);
  int sign = luaL_checkoption(L, 3, "scores", signs);
  lt_box *box[5];
  for (int i = 0; i < 5; i++) box[i] = lt_newbox(L);
  lt_pca_model m;
  if (lt_pca_fit(&m, x, k, sign == 0 ? LT_PCA_SIGN_SCORES : LT_PCA_SIGN_LOADINGS) != LT_OK) return lt_raise(L);
  box[0]->t = m.components, box[1]->t = m.mean, box[2]->t = m.explained_variance;
  box[3]->t = m.explained_variance_ratio, box[4]->t = m.singular_values;
  lua_pushnumber(L, m.total_variance);
  lt_account(L);
  return 6;
}

/* (in, mean, components [, whiten_var]) -> out, through f */
static int pca_apply(lua_State *L, lt_tensor *(*f)(const lt_tensor *, const lt_tensor *, const lt_tensor *,
                                                    const lt_tensor *)) {
  lt_tensor *in = lt_checktensor(L, 1), *mean = lt_checktensor(L, 2), *comp = lt_checktensor(L, 3);
  lt_tensor *var = lua_isnoneornil(L, 4) ? NULL : lt_checktensor(L, 4);
  lt_box *box = lt_newbox(L);
  return lt_push_result(L, box, f(in, mean, comp, var));
}

static int analysis_pca_transform(lua_State *L) { return pca_apply(L, lt_pca_transform); }
static int analysis_pca_inverse_transform(lua_State *L) { return pca_apply(L, lt_pca_inverse_transform); }

/* ==================== metrics ==================== */

static int analysis_trustworthiness(lua_State *L) {
  lt_tensor *x = lt_checktensor(L, 1), *emb = lt_checktensor(L, 2);
  lua_Integer k = luaL_optinteger(L, 3, 5);
  double t;
  if (lt_trustworthiness(x, emb, k, &t) != LT_OK) return lt_raise(L);
  lua_pushnumber(L, t);
  return 1;
}

static int analysis_knn_accuracy(lua_State *L) {
  static const char *const known[] = {"test_x", "test_labels", NULL};
  lt_tensor *x = lt_checktensor(L, 1), *labels = lt_checktensor(L, 2);
  lua_Integer k = luaL_optinteger(L, 3, 5);
  check_known(L, 4, "knn_accuracy", known);
  lt_tensor *tx = opt_tensor(L, 4, "knn_accuracy", "test_x");
  lt_tensor *tl = opt_tensor(L, 4, "knn_accuracy", "test_labels");
  int64_t correct = 0, total = 0;
  if (lt_knn_accuracy(x, labels, k, tx, tl, &correct, &total) != LT_OK) return lt_raise(L);
  lua_pushnumber(L, (double)correct / (double)total);
  lua_pushinteger(L, correct);
  return 2;
}

/* ==================== registration ==================== */

void lt_open_analysis(lua_State *L, int module) {
  static const luaL_Reg top[] = {{"knn", analysis_knn}, {NULL, NULL}};
  static const luaL_Reg fns[] = {
    {"pca_fit", analysis_pca_fit}, {"pca_transform", analysis_pca_transform},
    {"pca_inverse_transform", analysis_pca_inverse_transform}, {"trustworthiness", analysis_trustworthiness},
    {"knn_accuracy", analysis_knn_accuracy}, {NULL, NULL}};
  lt_register(L, module, top, NULL);
  luaL_newlib(L, fns);
  lua_setfield(L, module, "analysis");
}
