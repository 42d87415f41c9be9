/* Bindings: tensor creation, inspection, single values, the generator. */
#include "lua/lt_lua.h"
#include "core/lt_alloc.h"
#include "core/lt_rng.h"
#include "ops/view.h"

#include <math.h>
#include <string.h>
#include <time.h>

/* ==================== creation ==================== */

static int push_new(lua_State *L, int ndim, const int64_t *shape) {
  lt_box *b = lt_newbox(L);
  return lt_push_result(L, b, lt_tensor_empty(ndim, shape));
}

static lt_tensor *new_from_shape_args(lua_State *L, int arg) {
  int64_t shape[LT_MAX_DIMS];
  int nd = lt_checkshape(L, arg, shape);
  push_new(L, nd, shape);
  return lt_totensor(L, -1);
}

static int tensor_empty(lua_State *L) { new_from_shape_args(L, 1); return 1; }
static int tensor_zeros(lua_State *L) { lt_fill(new_from_shape_args(L, 1), 0); return 1; }
static int tensor_ones(lua_State *L) { lt_fill(new_from_shape_args(L, 1), 1); return 1; }
static int tensor_rand(lua_State *L) { lt_rng_fill_uniform(new_from_shape_args(L, 1), 0, 1); return 1; }
static int tensor_randn(lua_State *L) { lt_rng_fill_normal(new_from_shape_args(L, 1), 0, 1); return 1; }

/* full(shape, value): shape as a table */
static int tensor_full(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  float v = lt_checkfloat(L, 2);
  lua_settop(L, 1);
  lt_fill(new_from_shape_args(L, 1), v);
  return 1;
}

/* randint(lo, hi, size...): integers uniform on [lo, hi], both ends included (as math.random) */
static int tensor_randint(lua_State *L) {
  lua_Integer lo = luaL_checkinteger(L, 1), hi = luaL_checkinteger(L, 2);
  luaL_argcheck(L, lo <= hi, 2, "the upper bound must not be below the lower bound");
  luaL_argcheck(L, lo > -(1 << 24) && hi < (1 << 24), 2, "bounds must lie within +-2^24 (exact in float32)");
  lt_rng_fill_int(new_from_shape_args(L, 3), lo, hi);
  return 1;
}

/* arange([start,] stop [, step]): start, start+step, ... below stop (PyTorch's rule) */
static int tensor_arange(lua_State *L) {
  double start = 0, stop, step = 1;
  if (lua_gettop(L) == 1) stop = luaL_checknumber(L, 1);
  else {
    start = luaL_checknumber(L, 1);
    stop = luaL_checknumber(L, 2);
    step = luaL_optnumber(L, 3, 1);
  }
  luaL_argcheck(L, step != 0 && isfinite(step) && isfinite(start) && isfinite(stop), 3,
                "start, stop and step must be finite and step non-zero");
  double count = ceil((stop - start) / step);
  int64_t n = count > 0 ? (int64_t)count : 0;
  lt_tensor *t = (push_new(L, 1, &n), lt_totensor(L, -1));
  for (int64_t i = 0; i < n; i++) lt_tensor_data(t)[i] = (float)(start + (double)i * step);
  return 1;
}

/* linspace(start, stop, n): n evenly spaced values, both ends included */
static int tensor_linspace(lua_State *L) {
  double start = luaL_checknumber(L, 1), stop = luaL_checknumber(L, 2);
  lua_Integer n = luaL_checkinteger(L, 3);
  luaL_argcheck(L, n >= 0, 3, "the number of points must not be negative");
  int64_t size = n;
  lt_tensor *t = (push_new(L, 1, &size), lt_totensor(L, -1));
  for (int64_t i = 0; i < n; i++)
    lt_tensor_data(t)[i] = (float)(n == 1 ? start : start + (stop - start) * (double)i / (double)(n - 1));
  return 1;
}

/* eye(n [, m]) */
static int tensor_eye(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1), m = luaL_optinteger(L, 2, n);
  luaL_argcheck(L, n >= 0, 1, "size must not be negative");
  luaL_argcheck(L, m >= 0, 2, "size must not be negative");
  int64_t shape[2] = {n, m};
  lt_tensor *t = (push_new(L, 2, shape), lt_totensor(L, -1));
  lt_fill(t, 0);
  for (int64_t i = 0; i < n && i < m; i++) lt_tensor_data(t)[i * m + i] = 1;
  return 1;
}

/* ---- *_like ---- */
static lt_tensor *new_like(lua_State *L) {
  lt_tensor *a = lt_checktensor(L, 1);
  push_new(L, a->ndim, a->shape);
  return lt_totensor(L, -1);
}
static int tensor_empty_like(lua_State *L) { new_like(L); return 1; }
static int tensor_zeros_like(lua_State *L) { lt_fill(new_like(L), 0); return 1; }
static int tensor_ones_like(lua_State *L) { lt_fill(new_like(L), 1); return 1; }
static int tensor_rand_like(lua_State *L) { lt_rng_fill_uniform(new_like(L), 0, 1); return 1; }
static int tensor_randn_like(lua_State *L) { lt_rng_fill_normal(new_like(L), 0, 1); return 1; }
static int tensor_full_like(lua_State *L) {
  float v = lt_checkfloat(L, 2);
  lt_fill(new_like(L), v);
  return 1;
}

/* ==================== from nested tables ==================== */

/* The shape of a nested table of numbers, from its first elements. */
static int table_shape(lua_State *L, int idx, int64_t *shape) {
  int nd = 0;
  lua_pushvalue(L, idx);
  while (lua_istable(L, -1)) {
    if (nd == LT_MAX_DIMS) luaL_error(L, "tensor: a table nested more than %d deep", LT_MAX_DIMS);
    shape[nd++] = (int64_t)luaL_len(L, -1);
    if (shape[nd - 1] == 0) break;
    lua_geti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return nd;
}

/* Copies the table at the top of the stack into data, checking it is not ragged. */
static void fill_from_table(lua_State *L, int d, int nd, const int64_t *shape, float **data, char *path, size_t plen) {
  if ((int64_t)luaL_len(L, -1) != shape[d])
    luaL_error(L, "tensor: table%s has %d elements, expected %d (rows must have equal lengths)",
               path, (int)luaL_len(L, -1), (int)shape[d]);
  for (int64_t i = 1; i <= shape[d]; i++) {
    int t = lua_geti(L, -1, i);
    size_t n = plen + (size_t)snprintf(path + plen, 200 - plen, "[%d]", (int)i);
    if (d + 1 < nd) {
      if (t != LUA_TTABLE) luaL_error(L, "tensor: table%s is a %s, expected a table", path, luaL_typename(L, -1));
      fill_from_table(L, d + 1, nd, shape, data, path, n < 190 ? n : plen);
    } else {
      if (t != LUA_TNUMBER) luaL_error(L, "tensor: table%s is a %s, expected a number", path, luaL_typename(L, -1));
      *(*data)++ = (float)lua_tonumber(L, -1);
    }
    path[plen] = 0;
    lua_pop(L, 1);
  }
}

/* tensor(3.5) or tensor({{1, 2}, {3, 4}}) */
static int tensor_tensor(lua_State *L) {
  if (lua_type(L, 1) == LUA_TNUMBER) {
    float v = (float)lua_tonumber(L, 1);
    lt_fill((push_new(L, 0, NULL), lt_totensor(L, -1)), v);
    return 1;
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  int64_t shape[LT_MAX_DIMS];
  int nd = table_shape(L, 1, shape);
  lt_tensor *t = (push_new(L, nd, shape), lt_totensor(L, -1));
  float *data = lt_tensor_data(t);
  char path[200] = "";
  lua_pushvalue(L, 1);
  if (lt_tensor_numel(t) > 0) fill_from_table(L, 0, nd, shape, &data, path, 0);
  lua_pop(L, 1);
  return 1;
}

/* ==================== inspection ==================== */

static int t_size(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, t->shape[lt_checkdim(L, 2, t, 0)]);
    return 1;
  }
  lua_createtable(L, t->ndim, 0);
  for (int d = 0; d < t->ndim; d++) {
    lua_pushinteger(L, t->shape[d]);
    lua_rawseti(L, -2, d + 1);
  }
  return 1;
}

static int t_stride(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, t->stride[lt_checkdim(L, 2, t, 0)]);
    return 1;
  }
  lua_createtable(L, t->ndim, 0);
  for (int d = 0; d < t->ndim; d++) {
    lua_pushinteger(L, t->stride[d]);
    lua_rawseti(L, -2, d + 1);
  }
  return 1;
}

static int t_dim(lua_State *L) { lua_pushinteger(L, lt_checktensor(L, 1)->ndim); return 1; }
static int t_numel(lua_State *L) { lua_pushinteger(L, lt_tensor_numel(lt_checktensor(L, 1))); return 1; }
static int t_is_contiguous(lua_State *L) {
  lua_pushboolean(L, lt_tensor_is_contiguous(lt_checktensor(L, 1)));
  return 1;
}

static int t_item(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1);
  if (lt_tensor_numel(t) != 1) {
    char s[LT_SHAPE_STR];
    return luaL_error(L, "item: a tensor of size %s has %d elements, expected 1", LT_SHAPE(t, s),
                      (int)lt_tensor_numel(t));
  }
  lua_pushnumber(L, lt_tensor_data(t)[0]);
  return 1;
}

static void push_nested(lua_State *L, const lt_tensor *t, int d, int64_t offset) {
  if (d == t->ndim) {
    lua_pushnumber(L, t->storage->data[offset]);
    return;
  }
  lua_createtable(L, (int)t->shape[d], 0);
  for (int64_t i = 0; i < t->shape[d]; i++) {
    push_nested(L, t, d + 1, offset + i * t->stride[d]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int t_totable(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1);
  luaL_checkstack(L, t->ndim + 4, "totable: too deep");
  push_nested(L, t, 0, t->offset);
  return 1;
}

/* ==================== single values ==================== */

/* The storage index of t[i1, ..., in] from 1-based Lua indices at arg.. */
static int64_t element_offset(lua_State *L, lt_tensor *t, int arg, const char *fn) {
  int given = lua_gettop(L) - arg + 1;
  if (given != t->ndim) {
    char s[LT_SHAPE_STR];
    luaL_error(L, "%s: a tensor of size %s needs %d indices, got %d", fn, LT_SHAPE(t, s), t->ndim, given);
  }
  int64_t off = t->offset;
  for (int d = 0; d < t->ndim; d++) {
    lua_Integer i = luaL_checkinteger(L, arg + d);
    if (i < 0) i += t->shape[d] + 1;
    if (i < 1 || i > t->shape[d]) {
      char s[LT_SHAPE_STR];
      luaL_error(L, "%s: index %d is out of range for dimension %d of %s", fn, (int)luaL_checkinteger(L, arg + d),
                 d + 1, LT_SHAPE(t, s));
    }
    off += (i - 1) * t->stride[d];
  }
  return off;
}

/* t:get(i, j, ...) */
static int t_get(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1);
  lua_pushnumber(L, t->storage->data[element_offset(L, t, 2, "get")]);
  return 1;
}

/* t:set(i, j, ..., value) */
static int t_set(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1);
  float v = lt_checkfloat(L, lua_gettop(L));
  LT_CHECK(L, lt_check_inplace("set", t));
  lua_pop(L, 1);
  t->storage->data[element_offset(L, t, 2, "set")] = v;
  lt_tensor_bump_version(t);
  lua_settop(L, 1);
  return 1;
}

/* t:fill(value) */
static int t_fill(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1);
  float v = lt_checkfloat(L, 2);
  LT_CHECK(L, lt_check_inplace("fill", t));
  lt_fill(t, v);
  lt_tensor_bump_version(t);
  lua_settop(L, 1);
  return 1;
}

static int t_zero(lua_State *L) {
  lua_settop(L, 1);
  lua_pushinteger(L, 0);
  return t_fill(L);
}

/* t:copy(src): src broadcast into t, in place */
static int t_copy(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1), *s = lt_checktensor(L, 2);
  LT_CHECK(L, lt_copy_(t, s));
  lua_settop(L, 1);
  return 1;
}

/* ==================== generator, memory, identity ==================== */

static int tensor_manual_seed(lua_State *L) {
  lt_rng_seed((uint64_t)luaL_checkinteger(L, 1));
  return 0;
}

static int tensor_is_tensor(lua_State *L) {
  lua_pushboolean(L, lt_totensor(L, 1) != NULL);
  return 1;
}

/* memory() -> {live = bytes, peak = bytes, total = bytes ever allocated} */
static int tensor_memory(lua_State *L) {
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)lt_mem_live());
  lua_setfield(L, -2, "live");
  lua_pushinteger(L, (lua_Integer)lt_mem_peak());
  lua_setfield(L, -2, "peak");
  lua_pushinteger(L, (lua_Integer)lt_mem_allocated_total());
  lua_setfield(L, -2, "total");
  return 1;
}

/* clock() -> seconds from a monotonic clock, for timing (os.clock is CPU time). */
static int tensor_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

/* The raw storage pointer and offset, for tests that views share memory. */
static int t_storage_id(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1);
  lua_pushfstring(L, "%p", (void *)t->storage);
  lua_pushinteger(L, t->offset);
  return 2;
}

void lt_open_tensor(lua_State *L, int module) {
  static const luaL_Reg fns[] = {
    {"empty", tensor_empty}, {"zeros", tensor_zeros}, {"ones", tensor_ones}, {"full", tensor_full},
    {"rand", tensor_rand}, {"randn", tensor_randn}, {"randint", tensor_randint},
    {"arange", tensor_arange}, {"linspace", tensor_linspace}, {"eye", tensor_eye},
    {"tensor", tensor_tensor},
    {"empty_like", tensor_empty_like}, {"zeros_like", tensor_zeros_like}, {"ones_like", tensor_ones_like},
    {"full_like", tensor_full_like}, {"rand_like", tensor_rand_like}, {"randn_like", tensor_randn_like},
    {"manual_seed", tensor_manual_seed}, {"is_tensor", tensor_is_tensor}, {"memory", tensor_memory},
    {"clock", tensor_clock},
    {NULL, NULL}};
  static const luaL_Reg methods[] = {
    {"size", t_size}, {"stride", t_stride}, {"dim", t_dim}, {"numel", t_numel},
    {"is_contiguous", t_is_contiguous}, {"item", t_item}, {"totable", t_totable},
    {"get", t_get}, {"set", t_set}, {"fill", t_fill}, {"zero", t_zero}, {"copy", t_copy},
    {"storage_id", t_storage_id},
    {NULL, NULL}};
  lt_register(L, module, fns, methods);
}
