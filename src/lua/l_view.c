/* Bindings: views, indexing (t[i], t.grad, ...), joining. */
#include "lua/lt_lua.h"
#include "autograd/graph.h"
#include "ops/view.h"

#include <stdlib.h>
#include <string.h>

/* Calls a one-tensor op and pushes its result (check -> box -> compute). */
#define PUSH_OP(L, call)                                 \
  do {                                                   \
    lt_box *box_ = lt_newbox(L);                         \
    lt_tensor *y_ = NULL;                                \
    lt_status st_ = (call);                              \
    return lt_push_result(L, box_, st_ == LT_OK ? y_ : NULL); \
  } while (0)
#define OUT (&y_)

/* Sizes for view/reshape/expand: integers from arg on, or one table; -1 allowed. */
static int check_sizes(lua_State *L, int arg, int64_t *shape) {
  int table = lua_istable(L, arg), n = table ? (int)luaL_len(L, arg) : lua_gettop(L) - arg + 1;
  if (n > LT_MAX_DIMS) luaL_argerror(L, arg, "too many dimensions");
  for (int k = 0; k < n; k++) {
    if (table) lua_geti(L, arg, k + 1);
    else lua_pushvalue(L, arg + k);
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < -1)
      luaL_argerror(L, table ? arg : arg + k, lua_pushfstring(L, "size %d must be an integer >= -1", k + 1));
    shape[k] = v;
    lua_pop(L, 1);
  }
  return n;
}

static int t_view(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  int64_t shape[LT_MAX_DIMS];
  int nd = check_sizes(L, 2, shape);
  PUSH_OP(L, lt_view(OUT, a, nd, shape));
}

static int t_reshape(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  int64_t shape[LT_MAX_DIMS];
  int nd = check_sizes(L, 2, shape);
  PUSH_OP(L, lt_reshape(OUT, a, nd, shape));
}

static int t_expand(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  int64_t shape[LT_MAX_DIMS];
  int nd = check_sizes(L, 2, shape);
  PUSH_OP(L, lt_expand(OUT, a, nd, shape));
}

static int t_expand_as(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1), *b = lt_checktensor(L, 2);
  PUSH_OP(L, lt_expand(OUT, a, b->ndim, b->shape));
}

static int t_view_as(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1), *b = lt_checktensor(L, 2);
  PUSH_OP(L, lt_view(OUT, a, b->ndim, b->shape));
}

/* t:narrow(dim, start, length), start 1-based */
static int t_narrow(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  int dim = lt_checkdim(L, 2, a, 0);
  lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
  PUSH_OP(L, lt_narrow(OUT, a, dim, start - 1, len));
}

/* t:select(dim, index), index 1-based (negative from the end) */
static int t_select(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  int dim = lt_checkdim(L, 2, a, 0);
  lua_Integer i = luaL_checkinteger(L, 3);
  if (i < 0) i += a->shape[dim] + 1;
  PUSH_OP(L, lt_select(OUT, a, dim, i - 1));
}

static int t_transpose(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  int d0 = lt_checkdim(L, 2, a, 0), d1 = lt_checkdim(L, 3, a, 0);
  PUSH_OP(L, lt_transpose(OUT, a, d0, d1));
}

/* t:t(): the transpose of a matrix */
static int t_t(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  if (a->ndim != 2) {
    char s[LT_SHAPE_STR];
    return luaL_error(L, "t: expects a 2-D tensor, got %s; use transpose(d1, d2)", LT_SHAPE(a, s));
  }
  PUSH_OP(L, lt_transpose(OUT, a, 0, 1));
}

/* t:permute(3, 1, 2) or t:permute{3, 1, 2} */
static int t_permute(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  int table = lua_istable(L, 2), n = table ? (int)luaL_len(L, 2) : lua_gettop(L) - 1;
  if (n != a->ndim) {
    char s[LT_SHAPE_STR];
    return luaL_error(L, "permute: a tensor of size %s needs %d dimensions, got %d", LT_SHAPE(a, s), a->ndim, n);
  }
  int perm[LT_MAX_DIMS];
  for (int k = 0; k < n; k++) {
    if (table) {
      lua_geti(L, 2, k + 1);
      perm[k] = lt_checkdim(L, -1, a, 0);
      lua_pop(L, 1);
    } else {
      perm[k] = lt_checkdim(L, k + 2, a, 0);
    }
  }
  PUSH_OP(L, lt_permute(OUT, a, perm));
}

static int t_unsqueeze(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  int dim = lt_checkdim(L, 2, a, 1);
  PUSH_OP(L, lt_unsqueeze(OUT, a, dim));
}

static int t_squeeze(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  int dim = lua_isnoneornil(L, 2) ? -1 : lt_checkdim(L, 2, a, 0);
  PUSH_OP(L, lt_squeeze(OUT, a, dim));
}

static int t_contiguous(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  PUSH_OP(L, lt_contiguous(OUT, a));
}

static int t_clone(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  PUSH_OP(L, lt_clone(OUT, a));
}

static int t_detach(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  PUSH_OP(L, lt_detach(OUT, a));
}

/* ==================== index_select ==================== */

/* 1-based indices from a table or a tensor at arg, as 0-based int64 in a
 * userdata buffer pushed on the stack (so an error cannot leak it). */
static int64_t *check_indices(lua_State *L, int arg, int64_t *n) {
  lt_tensor *t = lt_totensor(L, arg);
  if (!t && !lua_istable(L, arg)) luaL_typeerror(L, arg, "table or tensor of indices");
  if (t && t->ndim > 1) luaL_argerror(L, arg, "indices must be a 1-D tensor");
  *n = t ? lt_tensor_numel(t) : (int64_t)luaL_len(L, arg);
  int64_t *idx = lua_newuserdatauv(L, (size_t)(*n ? *n : 1) * sizeof *idx, 0);
  for (int64_t k = 0; k < *n; k++) {
    double v;
    if (t) v = t->storage->data[t->offset + (t->ndim ? k * t->stride[0] : 0)];
    else {
      lua_geti(L, arg, k + 1);
      v = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    if (v != (double)(int64_t)v)
      luaL_argerror(L, arg, lua_pushfstring(L, "index %d is not an integer (%f)", (int)k + 1, v));
    idx[k] = (int64_t)v - 1;
  }
  return idx;
}

/* t:index_select(dim, indices) */
static int t_index_select(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  int dim = lt_checkdim(L, 2, a, 0);
  int64_t n, *idx = check_indices(L, 3, &n);
  PUSH_OP(L, lt_index_select(OUT, a, dim, idx, n));
}

/* ==================== cat / stack ==================== */

/* The tensors of the table at arg, in a userdata array pushed on the stack. */
static lt_tensor **check_tensor_list(lua_State *L, int arg, int *n, const char *fn) {
  luaL_checktype(L, arg, LUA_TTABLE);
  *n = (int)luaL_len(L, arg);
  if (*n < 1) luaL_argerror(L, arg, "needs at least one tensor");
  lt_tensor **ts = lua_newuserdatauv(L, (size_t)*n * sizeof *ts, 0);
  for (int k = 0; k < *n; k++) {
    lua_geti(L, arg, k + 1);
    ts[k] = lt_totensor(L, -1);
    if (!ts[k]) luaL_error(L, "%s: element %d of the list is a %s, expected a tensor", fn, k + 1, luaL_typename(L, -1));
    lua_pop(L, 1); /* still referenced by the table */
  }
  return ts;
}

static int tensor_cat(lua_State *L) {
  int n;
  lua_settop(L, 2); /* the list goes to index 3 */
  lt_tensor **ts = check_tensor_list(L, 1, &n, "cat");
  int dim = lua_isnoneornil(L, 2) ? 0 : lt_checkdim(L, 2, ts[0], 0);
  PUSH_OP(L, lt_cat(OUT, n, ts, dim));
}

static int tensor_stack(lua_State *L) {
  int n;
  lua_settop(L, 2);
  lt_tensor **ts = check_tensor_list(L, 1, &n, "stack");
  int dim = lua_isnoneornil(L, 2) ? 0 : lt_checkdim(L, 2, ts[0], 1);
  PUSH_OP(L, lt_stack(OUT, n, ts, dim));
}

/* ==================== t[i], t.field ==================== */

static int index_integer(lua_State *L, lt_tensor *t) {
  if (t->ndim == 0) return luaL_error(L, "index: a scalar tensor cannot be indexed; use item()");
  lua_Integer i = lua_tointeger(L, 2);
  if (i < 0) i += t->shape[0] + 1;
  if (i < 1 || i > t->shape[0]) {
    char s[LT_SHAPE_STR];
    return luaL_error(L, "index: index %d is out of range for dimension 1 of %s", (int)lua_tointeger(L, 2),
                      LT_SHAPE(t, s));
  }
  if (t->ndim == 1) {
    lua_pushnumber(L, t->storage->data[t->offset + (i - 1) * t->stride[0]]);
    return 1;
  }
  PUSH_OP(L, lt_select(OUT, t, 0, i - 1));
}

static int index_property(lua_State *L, lt_tensor *t, const char *k) {
  if (!strcmp(k, "shape")) {
    lua_createtable(L, t->ndim, 0);
    for (int d = 0; d < t->ndim; d++) {
      lua_pushinteger(L, t->shape[d]);
      lua_rawseti(L, -2, d + 1);
    }
  } else if (!strcmp(k, "grad")) {
    if (t->grad) lt_push_tensor(L, lt_tensor_retain(t->grad));
    else lua_pushnil(L);
  } else if (!strcmp(k, "requires_grad")) {
    lua_pushboolean(L, t->requires_grad);
  } else if (!strcmp(k, "is_leaf")) {
    lua_pushboolean(L, t->grad_fn == NULL);
  } else if (!strcmp(k, "grad_fn")) {
    if (t->grad_fn) lua_pushstring(L, t->grad_fn->op->name);
    else lua_pushnil(L);
  } else if (!strcmp(k, "ndim")) {
    lua_pushinteger(L, t->ndim);
  } else {
    lua_pushnil(L);
  }
  return 1;
}

/* __index: integers select, names look up methods then properties. */
static int t_index(lua_State *L) {
  lt_box *box = luaL_checkudata(L, 1, LT_TENSOR_MT);
  lt_tensor *t = box->t;
  if (!t) return luaL_error(L, "tensor was closed: cannot use its '%s'", luaL_tolstring(L, 2, NULL));
  if (lua_isinteger(L, 2)) return index_integer(L, t);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1; /* a method */
  lua_pop(L, 1);
  if (lua_type(L, 2) == LUA_TNUMBER)
    return luaL_error(L, "index: index %s is not an integer", lua_tostring(L, 2));
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  return index_property(L, t, lua_tostring(L, 2));
}

static int assign_integer(lua_State *L, lt_tensor *t) {
  lua_Integer i = luaL_checkinteger(L, 2);
  if (t->ndim == 0) return luaL_error(L, "index: a scalar tensor cannot be indexed; use fill()");
  if (i < 0) i += t->shape[0] + 1;
  if (i < 1 || i > t->shape[0]) {
    char s[LT_SHAPE_STR];
    return luaL_error(L, "index: index %d is out of range for dimension 1 of %s", (int)luaL_checkinteger(L, 2),
                      LT_SHAPE(t, s));
  }
  LT_CHECK(L, lt_check_inplace("index assignment", t));
  lt_tensor row = *t; /* a stack view of row i: geometry only */
  row.ndim = t->ndim - 1;
  memmove(row.shape, t->shape + 1, (size_t)row.ndim * sizeof row.shape[0]);
  memmove(row.stride, t->stride + 1, (size_t)row.ndim * sizeof row.stride[0]);
  row.offset += (i - 1) * t->stride[0];
  row.requires_grad = false;
  if (lua_type(L, 3) == LUA_TNUMBER) lt_fill(&row, (float)lua_tonumber(L, 3));
  else LT_CHECK(L, lt_copy_(&row, lt_checktensor(L, 3)));
  lt_tensor_bump_version(t);
  return 0;
}

static int assign_grad(lua_State *L, lt_tensor *t) {
  lt_tensor *g = lua_isnil(L, 3) ? NULL : lt_checktensor(L, 3);
  if (g && !lt_same_shape(g, t)) {
    char a[LT_SHAPE_STR], b[LT_SHAPE_STR];
    return luaL_error(L, "grad: a gradient of size %s for a tensor of size %s", LT_SHAPE(g, a), LT_SHAPE(t, b));
  }
  lt_tensor *copy = NULL;
  if (g && !(copy = lt_tensor_copy_values(g))) return lt_raise(L);
  lt_tensor_release(t->grad);
  t->grad = copy;
  return 0;
}

static int assign_requires_grad(lua_State *L, lt_tensor *t) {
  if (!lua_isboolean(L, 3)) return luaL_error(L, "requires_grad: expects a boolean, got %s", luaL_typename(L, 3));
  int on = lua_toboolean(L, 3);
  if (t->grad_fn && !on)
    return luaL_error(L, "requires_grad: only leaf tensors can be changed; use detach() for a tensor without history");
  t->requires_grad = on || t->grad_fn;
  return 0;
}

/* __newindex: t[i] = v, t.grad = g, t.requires_grad = b */
static int t_newindex(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1);
  if (lua_type(L, 2) == LUA_TNUMBER) return assign_integer(L, t);
  const char *k = luaL_checkstring(L, 2);
  if (!strcmp(k, "grad")) return assign_grad(L, t);
  if (!strcmp(k, "requires_grad")) return assign_requires_grad(L, t);
  return luaL_error(L, "a tensor has no field '%s' to set", k);
}

/* t:requires_grad_([on]) sets the flag and returns t */
static int t_requires_grad_(lua_State *L) {
  lt_checktensor(L, 1);
  lua_settop(L, 2);
  if (lua_isnil(L, 2)) lua_pushboolean(L, 1), lua_replace(L, 2);
  lua_pushstring(L, "requires_grad");
  lua_insert(L, 2);
  assign_requires_grad(L, lt_checktensor(L, 1));
  lua_settop(L, 1);
  return 1;
}

void lt_open_view(lua_State *L, int module) {
  static const luaL_Reg fns[] = {{"cat", tensor_cat}, {"stack", tensor_stack}, {NULL, NULL}};
  static const luaL_Reg methods[] = {
    {"view", t_view}, {"reshape", t_reshape}, {"view_as", t_view_as}, {"expand", t_expand},
    {"expand_as", t_expand_as}, {"narrow", t_narrow}, {"select", t_select}, {"transpose", t_transpose},
    {"t", t_t}, {"permute", t_permute}, {"unsqueeze", t_unsqueeze}, {"squeeze", t_squeeze},
    {"contiguous", t_contiguous}, {"clone", t_clone}, {"detach", t_detach},
    {"index_select", t_index_select}, {"requires_grad_", t_requires_grad_}, {NULL, NULL}};
  lt_register(L, module, fns, methods);
  /* __index/__newindex on the metatable, the methods table as upvalue */
  luaL_getmetatable(L, LT_TENSOR_MT);
  lt_push_methods(L);
  lua_pushcclosure(L, t_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, t_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pop(L, 1);
}
