/* Bindings: backward, gradients, grad mode, and helpers for gradcheck. */
#include "lua/lt_lua.h"
#include "autograd/graph.h"

/* t:backward([grad] [, {retain_graph = false}]) */
static int t_backward(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1);
  int opts = 2;
  lt_tensor *g = NULL;
  if (lt_totensor(L, 2)) {
    g = lt_checktensor(L, 2);
    opts = 3;
  } else if (!lua_isnoneornil(L, 2) && !lua_istable(L, 2)) {
    return luaL_typeerror(L, 2, "gradient tensor or options table");
  }
  int retain = lt_optbool_field(L, opts, "retain_graph", 0);
  LT_CHECK(L, lt_backward(t, g, retain));
  lt_account(L);
  return 0;
}

/* t:zero_grad(): zeroes t.grad in place, if there is one */
static int t_zero_grad(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1);
  if (t->grad) lt_fill(t->grad, 0);
  return 0;
}

static int restore_mode(lua_State *L, int status, lua_KContext was) {
  lt_set_grad_enabled((bool)was);
  if (status != LUA_OK && status != LUA_YIELD) return lua_error(L);
  return lua_gettop(L) - 1;
}

/* no_grad(fn, ...): calls fn with recording off, restoring the mode after,
 * error or not; returns fn's results. */
static int autograd_no_grad(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  bool was = lt_set_grad_enabled(false);
  lua_pushvalue(L, 1);
  lua_insert(L, 2);
  lua_remove(L, 1); /* stack: fn, args... */
  int nargs = lua_gettop(L) - 1;
  lua_pushnil(L); /* a slot, so restore_mode can count results as top - 1 */
  lua_insert(L, 1);
  int status = lua_pcallk(L, nargs, LUA_MULTRET, 0, (lua_KContext)was, restore_mode);
  return restore_mode(L, status, (lua_KContext)was);
}

/* set_grad_enabled(on) -> previous */
static int autograd_set_grad_enabled(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  lua_pushboolean(L, lt_set_grad_enabled(lua_toboolean(L, 1)));
  return 1;
}

static int autograd_is_grad_enabled(lua_State *L) {
  lua_pushboolean(L, lt_grad_enabled());
  return 1;
}

/* fdot(a, b): sum of a*b in double, as a Lua number (gradcheck's projection) */
static int autograd_fdot(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1), *b = lt_checktensor(L, 2);
  if (!lt_same_shape(a, b)) {
    char sa[LT_SHAPE_STR], sb[LT_SHAPE_STR];
    return luaL_error(L, "fdot: shapes %s and %s differ", LT_SHAPE(a, sa), LT_SHAPE(b, sb));
  }
  lt_tensor *ca = lt_tensor_contiguous_values(a), *cb = ca ? lt_tensor_contiguous_values(b) : NULL;
  if (!cb) {
    lt_tensor_release(ca);
    return lt_raise(L);
  }
  double s = 0;
  for (int64_t i = 0, n = lt_tensor_numel(a); i < n; i++)
    s += (double)lt_tensor_data(ca)[i] * (double)lt_tensor_data(cb)[i];
  lt_tensor_release(ca);
  lt_tensor_release(cb);
  lua_pushnumber(L, s);
  return 1;
}

void lt_open_autograd(lua_State *L, int module) {
  static const luaL_Reg fns[] = {
    {"no_grad", autograd_no_grad}, {"set_grad_enabled", autograd_set_grad_enabled},
    {"is_grad_enabled", autograd_is_grad_enabled}, {"fdot", autograd_fdot}, {NULL, NULL}};
  static const luaL_Reg methods[] = {{"backward", t_backward}, {"zero_grad", t_zero_grad}, {NULL, NULL}};
  lt_register(L, module, fns, methods);
}
