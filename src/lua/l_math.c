/* Bindings: elementwise math. Arithmetic works as functions (lt.add(a, b)),
 * methods (a:add(b)) and operators (a + b, 2 * a, a ^ 2, -a), with a tensor
 * or a number on either side; a number never becomes a broadcast tensor.
 * Comparisons give float masks and are methods and functions only: Lua's
 * __lt/__le/__eq must return booleans. */
#include "lua/lt_lua.h"
#include "ops/elementwise.h"

#include <math.h>

/* ==================== arithmetic ==================== */

typedef lt_status (*tensor_tensor_fn)(lt_tensor **, lt_tensor *, lt_tensor *);
typedef lt_status (*tensor_number_fn)(lt_tensor **, lt_tensor *, float);

/* A tensor, or NULL for a number; raises on anything else ("latent.Tensor
 * expected, got string") and when both operands are numbers. */
static lt_tensor *check_operand(lua_State *L, int arg) {
  lt_tensor *t = lt_totensor(L, arg);
  if (!t && lua_type(L, arg) != LUA_TNUMBER) t = lt_checktensor(L, arg);
  return t;
}

/* tt for two tensors, tn for (tensor, number), nt for (number, tensor). */
static int arith(lua_State *L, tensor_tensor_fn tt, tensor_number_fn tn, tensor_number_fn nt) {
  lt_tensor *a = check_operand(L, 1), *b = check_operand(L, 2);
  if (!a && !b) lt_checktensor(L, 1);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st;
  if (a && b) st = tt(&y, a, b);
  else if (a) st = tn(&y, a, (float)lua_tonumber(L, 2));
  else st = nt(&y, b, (float)lua_tonumber(L, 1));
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

static int t_add(lua_State *L) { return arith(L, lt_add, lt_add_scalar, lt_add_scalar); }
static int t_sub(lua_State *L) { return arith(L, lt_sub, lt_sub_scalar, lt_rsub_scalar); }
static int t_mul(lua_State *L) { return arith(L, lt_mul, lt_mul_scalar, lt_mul_scalar); }
static int t_div(lua_State *L) { return arith(L, lt_div, lt_div_scalar, lt_rdiv_scalar); }
static int t_pow(lua_State *L) { return arith(L, lt_pow, lt_pow_scalar, lt_rpow_scalar); }

/* ==================== unary ==================== */

#define UNARY(name, fn)                                    \
  static int name(lua_State *L) {                          \
    lt_tensor *a = lt_checktensor(L, 1);                   \
    lt_box *box = lt_newbox(L);                            \
    lt_tensor *y = NULL;                                   \
    lt_status st = fn(&y, a);                              \
    return lt_push_result(L, box, st == LT_OK ? y : NULL); \
  }

UNARY(t_neg, lt_neg) /* also __unm, which Lua calls as (a, a) */
UNARY(t_exp, lt_exp)
UNARY(t_log, lt_log)
UNARY(t_sqrt, lt_sqrt)
UNARY(t_square, lt_square)
UNARY(t_abs, lt_abs)
UNARY(t_sign, lt_sign)
UNARY(t_tanh, lt_tanh)
UNARY(t_sigmoid, lt_sigmoid)
UNARY(t_relu, lt_relu)

/* A clamp bound at `arg` (a number, or nil for none); counts the given ones. */
static float bound(lua_State *L, int arg, float none, int *given) {
  if (lua_isnoneornil(L, arg)) return none;
  ++*given;
  return lt_checkfloat(L, arg);
}

/* x:clamp(min, max), x:clamp(min), x:clamp(nil, max), x:clamp{min = , max = } */
static int t_clamp(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  float lo, hi;
  int given = 0;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "min");
    lua_getfield(L, 2, "max");
    if (lua_type(L, -2) != LUA_TNIL && lua_type(L, -2) != LUA_TNUMBER)
      return luaL_error(L, "clamp: option 'min' must be a number, got %s", luaL_typename(L, -2));
    if (lua_type(L, -1) != LUA_TNIL && lua_type(L, -1) != LUA_TNUMBER)
      return luaL_error(L, "clamp: option 'max' must be a number, got %s", luaL_typename(L, -1));
    lo = bound(L, -2, -INFINITY, &given);
    hi = bound(L, -1, INFINITY, &given);
    lua_pop(L, 2);
  } else {
    lo = bound(L, 2, -INFINITY, &given);
    hi = bound(L, 3, INFINITY, &given);
  }
  if (!given) return luaL_error(L, "clamp: give min, max or both");
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = lt_clamp(&y, a, lo, hi);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

/* ==================== comparisons ==================== */

/* a <cmp> b with a tensor or a number on either side; a number first flips
 * the comparison (2 < x is x > 2). */
static int compare(lua_State *L, lt_cmp cmp) {
  static const lt_cmp flipped[] = {[LT_CMP_EQ] = LT_CMP_EQ, [LT_CMP_NE] = LT_CMP_NE,
                                   [LT_CMP_LT] = LT_CMP_GT, [LT_CMP_LE] = LT_CMP_GE,
                                   [LT_CMP_GT] = LT_CMP_LT, [LT_CMP_GE] = LT_CMP_LE};
  lt_tensor *a = check_operand(L, 1), *b = check_operand(L, 2);
  if (!a && !b) lt_checktensor(L, 1);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st;
  if (a && b) st = lt_compare(&y, cmp, a, b);
  else if (a) st = lt_compare_scalar(&y, cmp, a, (float)lua_tonumber(L, 2));
  else st = lt_compare_scalar(&y, flipped[cmp], b, (float)lua_tonumber(L, 1));
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

static int t_eq(lua_State *L) { return compare(L, LT_CMP_EQ); }
static int t_ne(lua_State *L) { return compare(L, LT_CMP_NE); }
static int t_lt(lua_State *L) { return compare(L, LT_CMP_LT); }
static int t_le(lua_State *L) { return compare(L, LT_CMP_LE); }
static int t_gt(lua_State *L) { return compare(L, LT_CMP_GT); }
static int t_ge(lua_State *L) { return compare(L, LT_CMP_GE); }

/* ==================== where ==================== */

/* lt.where(cond, x, y): x and y are tensors or numbers */
static int tensor_where(lua_State *L) {
  lt_tensor *c = lt_checktensor(L, 1), *x = check_operand(L, 2), *y = check_operand(L, 3);
  lt_box *box = lt_newbox(L);
  /* numbers become scalar tensors; nothing below raises until push_result */
  lt_tensor *xs = x ? lt_tensor_retain(x) : lt_tensor_full(0, NULL, (float)lua_tonumber(L, 2));
  lt_tensor *ys = y ? lt_tensor_retain(y) : lt_tensor_full(0, NULL, (float)lua_tonumber(L, 3));
  lt_tensor *r = NULL;
  lt_status st = xs && ys ? lt_where(&r, c, xs, ys) : LT_ERR_MEMORY;
  lt_tensor_release(xs);
  lt_tensor_release(ys);
  return lt_push_result(L, box, st == LT_OK ? r : NULL);
}

/* ==================== registration ==================== */

void lt_open_math(lua_State *L, int module) {
  static const luaL_Reg both[] = {
    {"add", t_add}, {"sub", t_sub}, {"mul", t_mul}, {"div", t_div}, {"pow", t_pow},
    {"neg", t_neg}, {"exp", t_exp}, {"log", t_log}, {"sqrt", t_sqrt}, {"square", t_square},
    {"abs", t_abs}, {"sign", t_sign}, {"tanh", t_tanh}, {"sigmoid", t_sigmoid}, {"relu", t_relu},
    {"clamp", t_clamp},
    {"eq", t_eq}, {"ne", t_ne}, {"lt", t_lt}, {"le", t_le}, {"gt", t_gt}, {"ge", t_ge},
    {NULL, NULL}};
  static const luaL_Reg fns[] = {{"where", tensor_where}, {NULL, NULL}};
  static const luaL_Reg meta[] = {
    {"__add", t_add}, {"__sub", t_sub}, {"__mul", t_mul}, {"__div", t_div}, {"__pow", t_pow},
    {"__unm", t_neg}, {NULL, NULL}};
  lt_register(L, module, both, both);
  lt_register(L, module, fns, NULL);
  luaL_getmetatable(L, LT_TENSOR_MT);
  luaL_setfuncs(L, meta, 0);
  lua_pop(L, 1);
}
