/* Bindings: linear, batch_norm, activations (leaky_relu, elu, softplus,
 * dropout) and losses (mse, l1, bce, bce_with_logits, cross_entropy, nll).
 * All are module functions (lt.linear(x, w, b)); the activations are also
 * tensor methods (x:elu()). Class indices of cross_entropy and nll count
 * from 1, as everything in Lua. */
#include "lua/lt_lua.h"
#include "ops/activation.h"
#include "ops/linear.h"
#include "ops/loss.h"
#include "ops/norm.h"

#include <string.h>

/* A tensor at arg, or NULL for nil / none. */
static lt_tensor *opt_tensor(lua_State *L, int arg) {
  return lua_isnoneornil(L, arg) ? NULL : lt_checktensor(L, arg);
}

/* Raises on a key of the options table at arg that is not in `known`, so a
 * typo ({train = true}) is not silently ignored. */
static void check_option_names(lua_State *L, int arg, const char *fn, const char *const *known, const char *list) {
  if (lua_isnoneornil(L, arg)) return;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    lua_pop(L, 1);
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    int ok = 0;
    for (int i = 0; k && known[i]; i++) ok |= !strcmp(k, known[i]);
    if (!ok)
      luaL_error(L, "%s: unknown option '%s' (options are %s)", fn, k ? k : luaL_typename(L, -1), list);
  }
}

/* ==================== linear, batch_norm ==================== */

/* lt.linear(x, w [, b]) */
static int l_linear(lua_State *L) {
  lt_tensor *x = lt_checktensor(L, 1), *w = lt_checktensor(L, 2), *b = opt_tensor(L, 3);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = lt_linear(&y, x, w, b);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

/* lt.batch_norm(x, running_mean, running_var [, weight, bias, {training =
 * false, momentum = 0.1, eps = 1e-5}]); running_* may be nil in training. */
static int l_batch_norm(lua_State *L) {
  static const char *const known[] = {"training", "momentum", "eps", NULL};
  lt_tensor *x = lt_checktensor(L, 1), *rm = opt_tensor(L, 2), *rv = opt_tensor(L, 3);
  lt_tensor *w = opt_tensor(L, 4), *b = opt_tensor(L, 5);
  check_option_names(L, 6, "batch_norm", known, "training, momentum, eps");
  int training = lt_optbool_field(L, 6, "training", 0);
  double momentum = lt_optnum_field(L, 6, "momentum", 0.1), eps = lt_optnum_field(L, 6, "eps", 1e-5);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = lt_batch_norm(&y, x, rm, rv, w, b, training, momentum, eps);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

/* ==================== activations ==================== */

/* x:leaky_relu([slope = 0.01]) */
static int t_leaky_relu(lua_State *L) {
  lt_tensor *x = lt_checktensor(L, 1);
  float slope = (float)luaL_optnumber(L, 2, 0.01);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = lt_leaky_relu(&y, x, slope);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

/* x:elu([alpha = 1]) */
static int t_elu(lua_State *L) {
  lt_tensor *x = lt_checktensor(L, 1);
  float alpha = (float)luaL_optnumber(L, 2, 1.0);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = lt_elu(&y, x, alpha);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

/* x:softplus([beta = 1, threshold = 20]) */
static int t_softplus(lua_State *L) {
  lt_tensor *x = lt_checktensor(L, 1);
  float beta = (float)luaL_optnumber(L, 2, 1.0), threshold = (float)luaL_optnumber(L, 3, 20.0);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = lt_softplus(&y, x, beta, threshold);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

/* x:dropout([p = 0.5, training = true]) */
static int t_dropout(lua_State *L) {
  lt_tensor *x = lt_checktensor(L, 1);
  double p = luaL_optnumber(L, 2, 0.5);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TBOOLEAN);
  bool training = lua_isnoneornil(L, 3) ? true : lua_toboolean(L, 3);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = lt_dropout(&y, x, p, training);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

/* ==================== losses ==================== */

/* The reduction at arg: "mean" (the default), "sum" or "none". */
static lt_reduction check_reduction(lua_State *L, int arg, const char *fn) {
  if (lua_isnoneornil(L, arg)) return LT_REDUCTION_MEAN;
  const char *s = lua_type(L, arg) == LUA_TSTRING ? lua_tostring(L, arg) : NULL;
  if (s && !strcmp(s, "mean")) return LT_REDUCTION_MEAN;
  if (s && !strcmp(s, "sum")) return LT_REDUCTION_SUM;
  if (s && !strcmp(s, "none")) return LT_REDUCTION_NONE;
  luaL_error(L, "%s: reduction must be 'mean', 'sum' or 'none', got %s%s%s", fn, s ? "'" : "",
             s ? s : luaL_typename(L, arg), s ? "'" : "");
  return LT_REDUCTION_MEAN;
}

typedef lt_status (*loss_fn)(lt_tensor **, lt_tensor *, lt_tensor *, lt_reduction);

/* fn(pred, target [, reduction]) */
static int loss(lua_State *L, const char *name, loss_fn f) {
  lt_tensor *p = lt_checktensor(L, 1), *t = lt_checktensor(L, 2);
  lt_reduction r = check_reduction(L, 3, name);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = f(&y, p, t, r);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

static int l_mse(lua_State *L) { return loss(L, "mse", lt_mse_loss); }
static int l_l1(lua_State *L) { return loss(L, "l1", lt_l1_loss); }
static int l_bce(lua_State *L) { return loss(L, "bce", lt_bce_loss); }
static int l_bce_with_logits(lua_State *L) { return loss(L, "bce_with_logits", lt_bce_with_logits_loss); }

typedef lt_status (*class_loss_fn)(lt_tensor **, lt_tensor *, lt_tensor *, lt_reduction, int);

/* fn(scores, classes [, reduction]), classes counting from 1 */
static int class_loss(lua_State *L, const char *name, class_loss_fn f) {
  lt_tensor *x = lt_checktensor(L, 1), *t = lt_checktensor(L, 2);
  lt_reduction r = check_reduction(L, 3, name);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = f(&y, x, t, r, 1);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

static int l_cross_entropy(lua_State *L) { return class_loss(L, "cross_entropy", lt_cross_entropy_loss); }
static int l_nll(lua_State *L) { return class_loss(L, "nll", lt_nll_loss); }

/* ==================== registration ==================== */

void lt_open_nnops(lua_State *L, int module) {
  static const luaL_Reg fns[] = {
      {"linear", l_linear}, {"batch_norm", l_batch_norm},
      {"mse", l_mse}, {"l1", l_l1}, {"bce", l_bce}, {"bce_with_logits", l_bce_with_logits},
      {"cross_entropy", l_cross_entropy}, {"nll", l_nll},
      {"leaky_relu", t_leaky_relu}, {"elu", t_elu}, {"softplus", t_softplus}, {"dropout", t_dropout},
      {NULL, NULL}};
  static const luaL_Reg methods[] = {
      {"leaky_relu", t_leaky_relu}, {"elu", t_elu}, {"softplus", t_softplus}, {"dropout", t_dropout},
      {NULL, NULL}};
  lt_register(L, module, fns, methods);
}
