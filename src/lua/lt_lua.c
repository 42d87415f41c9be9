/* Shared binding helpers. */
#include "lua/lt_lua.h"
#include "core/lt_alloc.h"

#include <math.h>

/* ==================== tensors ==================== */

lt_tensor *lt_totensor(lua_State *L, int arg) {
  lt_box *b = luaL_testudata(L, arg, LT_TENSOR_MT);
  return b ? b->t : NULL;
}

lt_tensor *lt_checktensor(lua_State *L, int arg) {
  lt_box *b = luaL_checkudata(L, arg, LT_TENSOR_MT);
  if (!b->t) luaL_argerror(L, arg, "tensor was closed");
  return b->t;
}

lt_box *lt_newbox(lua_State *L) {
  lt_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->t = NULL;
  luaL_setmetatable(L, LT_TENSOR_MT);
  return b;
}

int lt_raise(lua_State *L) { return luaL_error(L, "%s", lt_errmsg()); }

int lt_push_result(lua_State *L, lt_box *box, lt_tensor *t) {
  if (!t) return lt_raise(L);
  box->t = t;
  lt_account(L);
  return 1;
}

int lt_push_tensor(lua_State *L, lt_tensor *t) {
  if (!t) return lt_raise(L);
  lt_box *b = lua_newuserdatauv(L, sizeof *b, 0); /* may raise: t would leak, so... */
  b->t = t;                                       /* ...set it at once; __gc frees it */
  luaL_setmetatable(L, LT_TENSOR_MT);
  lt_account(L);
  return 1;
}

lt_tensor *lt_checkoperand(lua_State *L, int arg) {
  lt_tensor *t = lt_totensor(L, arg);
  if (t) return lt_tensor_retain(t);
  if (lua_type(L, arg) != LUA_TNUMBER) {
    lt_checktensor(L, arg); /* raises "tensor expected, got X" */
    return NULL;
  }
  float v = (float)lua_tonumber(L, arg);
  lt_tensor *s = lt_tensor_full(0, NULL, v);
  if (!s) lt_raise(L);
  return s;
}

/* ==================== numbers, dims, shapes ==================== */

int lt_checkdim(lua_State *L, int arg, const lt_tensor *t, int extra) {
  lua_Integer d = luaL_checkinteger(L, arg);
  lua_Integer n = t->ndim + extra;
  if (d < 0) d += n + 1;
  if (d < 1 || d > n) {
    if (n == 0) return luaL_argerror(L, arg, "a scalar tensor has no dimensions");
    return luaL_argerror(L, arg, lua_pushfstring(L, "dimension %d out of range [1, %d] (or [-%d, -1])",
                                                 (int)luaL_checkinteger(L, arg), (int)n, (int)n));
  }
  return (int)d - 1;
}

static int64_t checksize(lua_State *L, int arg, int idx) {
  if (!lua_isinteger(L, -1)) {
    if (lua_type(L, -1) == LUA_TNUMBER) {
      lua_Number v = lua_tonumber(L, -1);
      if (v == floor(v) && fabs(v) < 9e15) return (int64_t)v;
    }
    luaL_argerror(L, arg, lua_pushfstring(L, "size %d must be an integer, got %s", idx,
                                          lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1)
                                                                         : luaL_typename(L, -1)));
  }
  lua_Integer v = lua_tointeger(L, -1);
  if (v < 0) luaL_argerror(L, arg, lua_pushfstring(L, "size %d must not be negative, got %d", idx, (int)v));
  return (int64_t)v;
}

int lt_checkshape(lua_State *L, int arg, int64_t shape[LT_MAX_DIMS]) {
  int n;
  if (lua_istable(L, arg)) {
    n = (int)luaL_len(L, arg);
    if (n > LT_MAX_DIMS) luaL_argerror(L, arg, lua_pushfstring(L, "at most %d dimensions, got %d", LT_MAX_DIMS, n));
    for (int k = 0; k < n; k++) {
      lua_geti(L, arg, k + 1);
      shape[k] = checksize(L, arg, k + 1);
      lua_pop(L, 1);
    }
    return n;
  }
  int top = lua_gettop(L);
  n = top >= arg ? top - arg + 1 : 0;
  while (n > 0 && lua_isnil(L, arg + n - 1)) n--;
  if (n > LT_MAX_DIMS) luaL_argerror(L, arg, lua_pushfstring(L, "at most %d dimensions, got %d", LT_MAX_DIMS, n));
  for (int k = 0; k < n; k++) {
    lua_pushvalue(L, arg + k);
    shape[k] = checksize(L, arg + k, k + 1);
    lua_pop(L, 1);
  }
  return n;
}

float lt_checkfloat(lua_State *L, int arg) { return (float)luaL_checknumber(L, arg); }

/* The name of the running C function, for messages about its options. */
static const char *function_name(lua_State *L) {
  lua_Debug ar;
  if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name) return ar.name;
  return "?";
}

static int getfield(lua_State *L, int opts, const char *name) {
  if (lua_isnoneornil(L, opts)) return LUA_TNIL;
  luaL_checktype(L, opts, LUA_TTABLE);
  return lua_getfield(L, opts, name);
}

lua_Integer lt_optint_field(lua_State *L, int opts, const char *name, lua_Integer def) {
  int t = getfield(L, opts, name);
  if (t == LUA_TNIL) {
    if (!lua_isnoneornil(L, opts)) lua_pop(L, 1);
    return def;
  }
  int ok;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  if (!ok) luaL_error(L, "%s: option '%s' must be an integer, got %s", function_name(L), name,
                      t == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

lua_Number lt_optnum_field(lua_State *L, int opts, const char *name, lua_Number def) {
  int t = getfield(L, opts, name);
  if (t == LUA_TNIL) {
    if (!lua_isnoneornil(L, opts)) lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TNUMBER) luaL_error(L, "%s: option '%s' must be a number, got %s", function_name(L), name,
                                  luaL_typename(L, -1));
  lua_Number v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

int lt_optbool_field(lua_State *L, int opts, const char *name, int def) {
  int t = getfield(L, opts, name);
  if (t == LUA_TNIL) {
    if (!lua_isnoneornil(L, opts)) lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TBOOLEAN) luaL_error(L, "%s: option '%s' must be a boolean, got %s", function_name(L), name,
                                   luaL_typename(L, -1));
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* ==================== memory ==================== */

/* Lua's collector paces itself by the memory it allocates; tensor data is
 * allocated by the engine, so we add it to the collector's debt (LUA_GCSTEP
 * with a size in KB), which makes it collect as if Lua had allocated it. */
void lt_account(lua_State *L) {
  static size_t reported;
  size_t total = lt_mem_allocated_total();
  size_t kb = (total - reported) / 1024;
  if (kb == 0) return;
  reported += kb * 1024;
  while (kb > 0) { /* the argument is an int */
    int step = kb > (1 << 20) ? 1 << 20 : (int)kb;
    lua_gc(L, LUA_GCSTEP, step);
    kb -= (size_t)step;
  }
}

/* ==================== registration ==================== */

void lt_push_methods(lua_State *L) {
  luaL_getmetatable(L, LT_TENSOR_MT);
  lua_getfield(L, -1, "__methods");
  lua_remove(L, -2);
}

void lt_register(lua_State *L, int module, const luaL_Reg *fns, const luaL_Reg *methods) {
  if (fns) {
    lua_pushvalue(L, module);
    luaL_setfuncs(L, fns, 0);
    lua_pop(L, 1);
  }
  if (methods) {
    lt_push_methods(L);
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 1);
  }
}
