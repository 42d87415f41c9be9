/* Bindings: reductions, matmul, and the thread count.
 *
 *   x:sum([dim [, keepdim]])        x:mean(...)       (also lt.sum(x, ...), ...)
 *   x:var([dim [, keepdim [, unbiased]]])  x:std(...)  unbiased defaults to true
 *   x:max()  -> scalar tensor       x:max(dim [, keepdim]) -> values, indices
 *   x:argmax() -> integer           x:argmax(dim [, keepdim]) -> indices tensor
 *   lt.matmul(a, b), a:matmul(b)    lt.set_num_threads(n), lt.get_num_threads()
 *
 * dim is 1-based (negative counts from the end); nil means all elements.
 * Indices are 1-based, stored as float32 values (exact up to 2^24). */
#include "lua/lt_lua.h"
#include "ops/matmul.h"
#include "ops/reduce.h"

/* Reads [dim [, keepdim]] from arg on: LT_DIM_ALL when dim is absent or nil. */
static int check_dim(lua_State *L, int arg, lt_tensor *a, bool *keepdim) {
  int dim = lua_isnoneornil(L, arg) ? LT_DIM_ALL : lt_checkdim(L, arg, a, 0);
  *keepdim = false;
  if (!lua_isnoneornil(L, arg + 1)) {
    luaL_checktype(L, arg + 1, LUA_TBOOLEAN);
    *keepdim = lua_toboolean(L, arg + 1);
  }
  return dim;
}

typedef lt_status (*sum_fn)(lt_tensor **, lt_tensor *, int, bool);

static int push_sum_like(lua_State *L, sum_fn f) {
  lt_tensor *a = lt_checktensor(L, 1);
  bool keep;
  int dim = check_dim(L, 2, a, &keep);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = f(&y, a, dim, keep);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

static int t_sum(lua_State *L) { return push_sum_like(L, lt_sum); }
static int t_mean(lua_State *L) { return push_sum_like(L, lt_mean); }

typedef lt_status (*var_fn)(lt_tensor **, lt_tensor *, int, bool, int);

static int push_var_like(lua_State *L, var_fn f) {
  lt_tensor *a = lt_checktensor(L, 1);
  bool keep;
  int dim = check_dim(L, 2, a, &keep), unbiased = 1;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TBOOLEAN);
    unbiased = lua_toboolean(L, 4);
  }
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = f(&y, a, dim, keep, unbiased ? 1 : 0);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

static int t_var(lua_State *L) { return push_var_like(L, lt_var); }
static int t_std(lua_State *L) { return push_var_like(L, lt_std); }

typedef lt_status (*extreme_fn)(lt_tensor **, lt_tensor **, lt_tensor *, int, bool, int);

/* values only over all elements; values and indices over a dim */
static int push_extreme(lua_State *L, extreme_fn f) {
  lt_tensor *a = lt_checktensor(L, 1);
  bool keep;
  int dim = check_dim(L, 2, a, &keep);
  lt_box *vbox = lt_newbox(L);
  if (dim == LT_DIM_ALL) {
    lt_tensor *v = NULL;
    lt_status st = f(&v, NULL, a, dim, keep, 1);
    return lt_push_result(L, vbox, st == LT_OK ? v : NULL);
  }
  lt_box *ibox = lt_newbox(L);
  lt_tensor *v = NULL, *ix = NULL;
  if (f(&v, &ix, a, dim, keep, 1) != LT_OK) return lt_raise(L);
  vbox->t = v; /* both boxes are on the stack: nothing leaks */
  ibox->t = ix;
  lt_account(L);
  return 2;
}

static int t_max(lua_State *L) { return push_extreme(L, lt_max); }
static int t_min(lua_State *L) { return push_extreme(L, lt_min); }

typedef lt_status (*arg_fn)(lt_tensor **, lt_tensor *, int, bool, int);
typedef lt_status (*arg_all_fn)(int64_t *, lt_tensor *);

/* an integer over all elements; an index tensor over a dim */
static int push_arg(lua_State *L, arg_fn f, arg_all_fn all) {
  lt_tensor *a = lt_checktensor(L, 1);
  bool keep;
  int dim = check_dim(L, 2, a, &keep);
  if (dim == LT_DIM_ALL && !keep) {
    int64_t i;
    LT_CHECK(L, all(&i, a));
    lua_pushinteger(L, (lua_Integer)i + 1);
    return 1;
  }
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = f(&y, a, dim, keep, 1);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

static int t_argmax(lua_State *L) { return push_arg(L, lt_argmax, lt_argmax_all); }
static int t_argmin(lua_State *L) { return push_arg(L, lt_argmin, lt_argmin_all); }

/* lt.matmul(a, b), a:matmul(b) */
static int t_matmul(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1), *b = lt_checktensor(L, 2);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = lt_matmul(&y, a, b);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

/* lt.set_num_threads(n): OpenMP loops and OpenBLAS together */
static int l_set_num_threads(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 1 && n <= 4096, 1, "the number of threads must be between 1 and 4096");
  lt_set_num_threads((int)n);
  return 0;
}

static int l_get_num_threads(lua_State *L) {
  lua_pushinteger(L, lt_get_num_threads());
  return 1;
}

void lt_open_reduce(lua_State *L, int module) {
  static const luaL_Reg both[] = {
    {"sum", t_sum}, {"mean", t_mean}, {"var", t_var}, {"std", t_std}, {"max", t_max}, {"min", t_min},
    {"argmax", t_argmax}, {"argmin", t_argmin}, {"matmul", t_matmul}, {NULL, NULL}};
  static const luaL_Reg fns[] = {
    {"set_num_threads", l_set_num_threads}, {"get_num_threads", l_get_num_threads}, {NULL, NULL}};
  lt_register(L, module, both, both);
  lt_register(L, module, fns, NULL);
}
