/* Bindings: uint8 data sets (core.data; lua/latent/data.lua builds lt.data on top).
 *
 *   C.read_idx(images_path [, labels_path])         -> set
 *   C.from_tensor(x [, y])    C.from_bytes(images, n, c, h, w [, labels])
 *   C.random(n, c, h, w, num_classes [, seed])      -> set
 *   C.concat({set, ...})                            -> set
 *   C.permutation(n, seed, stream)                  -> {1-based indices}
 *   C.draw_seed()                                   -> an integer from the global generator
 *   C.write_idx(path, bytes, {dims} [, gzip])
 *   set:size()  set:shape() -> c, h, w  set:num_classes() -> n or nil
 *   set:gather(indices) -> x, y    set:labels() -> tensor   set:label_list() -> {1-based}
 *   set:subset(indices) -> set     set:save(images_path [, labels_path])
 *   C.methods: the methods table of data set userdata
 *
 * Indices are 1-based (a table of integers, or one integer). Index lists are
 * copied into userdata scratch buffers, so an error raised half-way leaks
 * nothing. */
#include "lua/lt_lua.h"
#include "core/lt_rng.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/sampler.h"

#include <string.h>

#define DATASET_MT "latent.Dataset"

typedef struct { lt_dataset *d; } set_box;

static lt_dataset *check_set(lua_State *L, int arg) {
  set_box *b = luaL_checkudata(L, arg, DATASET_MT);
  if (!b->d) luaL_argerror(L, arg, "data set was closed");
  return b->d;
}

/* Pushes a box holding NULL; filled once the set exists (no leak on error). */
static set_box *new_set_box(lua_State *L) {
  set_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->d = NULL;
  luaL_setmetatable(L, DATASET_MT);
  return b;
}

/* Raises the engine's message, prefixed with "fn: " unless it starts so already. */
static int raise_in(lua_State *L, const char *fn) {
  const char *msg = lt_errmsg();
  size_t n = strlen(fn);
  if (!strncmp(msg, fn, n) && msg[n] == ':') return luaL_error(L, "%s", msg);
  return luaL_error(L, "%s: %s", fn, msg);
}

/* Stores d in the box on top of the stack, or raises the error. */
static int push_set(lua_State *L, set_box *b, lt_status st, lt_dataset *d, const char *fn) {
  if (st != LT_OK || !d) return raise_in(L, fn);
  b->d = d;
  lt_account(L);
  return 1;
}

static int set_gc(lua_State *L) {
  set_box *b = luaL_checkudata(L, 1, DATASET_MT);
  lt_dataset_free(b->d);
  b->d = NULL;
  return 0;
}

/* ==================== argument helpers ==================== */

static int64_t check_positive(lua_State *L, int arg, const char *fn, const char *what) {
  lua_Integer v = luaL_checkinteger(L, arg);
  if (v < 1) luaL_error(L, "%s: %s must be at least 1, got %I", fn, what, v);
  return (int64_t)v;
}

/* Indices at `arg` (one integer or a table of them), 1-based in [1, n],
 * converted to 0-based in a scratch userdata pushed on the stack. */
static int64_t *check_indices(lua_State *L, int arg, int64_t n, const char *fn, int64_t *count) {
  if (lua_type(L, arg) == LUA_TNUMBER) {
    int64_t *idx = lua_newuserdatauv(L, sizeof *idx, 0);
    lua_Integer v = luaL_checkinteger(L, arg);
    if (v < 1 || v > n) luaL_error(L, "%s: index %I out of range [1, %I]", fn, v, (lua_Integer)n);
    idx[0] = (int64_t)v - 1;
    *count = 1;
    return idx;
  }
  if (!lua_istable(L, arg))
    luaL_error(L, "%s: indices must be an integer or a table of integers, got %s", fn, luaL_typename(L, arg));
  lua_Integer m = luaL_len(L, arg);
  int64_t *idx = lua_newuserdatauv(L, (size_t)(m > 0 ? m : 1) * sizeof *idx, 0);
  for (lua_Integer i = 1; i <= m; i++) {
    int ok;
    lua_geti(L, arg, i);
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "%s: indices[%I] must be an integer, got %s", fn, i,
                        lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
    if (v < 1 || v > n) luaL_error(L, "%s: indices[%I] = %I is out of range [1, %I]", fn, i, v, (lua_Integer)n);
    idx[i - 1] = (int64_t)v - 1;
    lua_pop(L, 1);
  }
  *count = (int64_t)m;
  return idx;
}

/* ==================== making sets ==================== */

static int data_read_idx(lua_State *L) {
  const char *images = luaL_checkstring(L, 1);
  const char *labels = luaL_optstring(L, 2, NULL);
  set_box *b = new_set_box(L);
  lt_dataset *d;
  lt_status st = lt_dataset_load_idx(&d, images, labels);
  return push_set(L, b, st, d, "idx");
}

static int data_from_tensor(lua_State *L) {
  lt_tensor *x = lt_checktensor(L, 1);
  lt_tensor *y = lua_isnoneornil(L, 2) ? NULL : lt_checktensor(L, 2);
  set_box *b = new_set_box(L);
  lt_box *xs = lt_newbox(L), *ys = lt_newbox(L); /* contiguous values, freed by __gc */
  if (!(xs->t = lt_tensor_contiguous_values(x))) return lt_raise(L);
  if (y && !(ys->t = lt_tensor_contiguous_values(y))) return lt_raise(L);
  lt_dataset *d;
  lt_status st = lt_dataset_from_floats(&d, xs->t, ys->t);
  lua_pop(L, 2);
  return push_set(L, b, st, d, "from_tensor");
}

static int data_from_bytes(lua_State *L) {
  size_t len, nlab = 0;
  const char *images = luaL_checklstring(L, 1, &len);
  int64_t n = check_positive(L, 2, "from_bytes", "n"), c = check_positive(L, 3, "from_bytes", "c");
  int64_t h = check_positive(L, 4, "from_bytes", "h"), w = check_positive(L, 5, "from_bytes", "w");
  const char *labels = luaL_optlstring(L, 6, NULL, &nlab);
  lua_Integer classes = luaL_optinteger(L, 7, 0);
  if (lt_data_bytes(n, c, h, w) < 0)
    return luaL_error(L, "from_bytes: %I images of %Ix%Ix%I are more than 16 GiB", (lua_Integer)n, (lua_Integer)c,
                      (lua_Integer)h, (lua_Integer)w);
  if (lt_data_bytes(n, c, h, w) != (int64_t)len)
    return luaL_error(L, "from_bytes: the images string holds %I bytes, not the %I of %I images of %Ix%Ix%I",
                      (lua_Integer)len, (lua_Integer)lt_data_bytes(n, c, h, w), (lua_Integer)n, (lua_Integer)c,
                      (lua_Integer)h, (lua_Integer)w);
  if (labels && nlab != (size_t)n)
    return luaL_error(L, "from_bytes: the labels string holds %I bytes, one per image needs %I", (lua_Integer)nlab,
                      (lua_Integer)n);
  if (classes < 0 || classes > 256) return luaL_error(L, "from_bytes: num_classes %I is outside [0, 256]", classes);
  set_box *b = new_set_box(L);
  lt_bytes *store = lt_bytes_new((int64_t)len);
  if (!store) return raise_in(L, "from_bytes");
  memcpy(store->data, images, len);
  lt_dataset *d = lt_dataset_from_store(store, n, c, h, w, (const uint8_t *)labels, (int)classes);
  lt_bytes_release(store);
  return push_set(L, b, d ? LT_OK : LT_ERR_MEMORY, d, "from_bytes");
}

static int data_random(lua_State *L) {
  int64_t n = check_positive(L, 1, "random", "n"), c = check_positive(L, 2, "random", "c");
  int64_t h = check_positive(L, 3, "random", "h"), w = check_positive(L, 4, "random", "w");
  lua_Integer classes = luaL_checkinteger(L, 5);
  if (classes < 0 || classes > 256) return luaL_error(L, "random: num_classes %I is outside [0, 256]", classes);
  int seeded = !lua_isnoneornil(L, 6);
  lt_rng_state g;
  if (seeded) lt_rng_local_seed(&g, (uint64_t)luaL_checkinteger(L, 6), 0);
  set_box *b = new_set_box(L);
  lt_dataset *d;
  lt_status st = lt_dataset_random(&d, n, c, h, w, (int)classes, seeded ? &g : NULL);
  return push_set(L, b, st, d, "random");
}

static int data_concat(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer k = luaL_len(L, 1);
  if (k < 1 || k > 1 << 20) return luaL_error(L, "concat: needs 1 to 2^20 data sets, got %I", k);
  const lt_dataset **parts = lua_newuserdatauv(L, (size_t)k * sizeof *parts, 0);
  for (lua_Integer j = 1; j <= k; j++) {
    lua_geti(L, 1, j);
    set_box *p = luaL_testudata(L, -1, DATASET_MT);
    if (!p || !p->d) return luaL_error(L, "concat: item %I is not a data set (got %s)", j, luaL_typename(L, -1));
    parts[j - 1] = p->d;
    lua_pop(L, 1);
  }
  set_box *b = new_set_box(L);
  lt_dataset *d;
  lt_status st = lt_dataset_concat(&d, parts, (int)k);
  return push_set(L, b, st, d, "concat");
}

/* ==================== orders and files ==================== */

static int data_permutation(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  uint64_t seed = (uint64_t)luaL_checkinteger(L, 2), stream = (uint64_t)luaL_optinteger(L, 3, 0);
  if (n < 0 || n > ((lua_Integer)1 << 40)) return luaL_error(L, "permutation: n = %I is out of range", n);
  int64_t *perm = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *perm, 0);
  lt_data_permutation(perm, (int64_t)n, seed, stream);
  lua_createtable(L, (int)n, 0);
  for (lua_Integer i = 0; i < n; i++) {
    lua_pushinteger(L, perm[i] + 1);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* A non-negative integer from the global generator: the default seed. */
static int data_draw_seed(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)(lt_rng_u64() >> 11));
  return 1;
}

static int data_write_idx(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *bytes = luaL_checklstring(L, 2, &len);
  luaL_checktype(L, 3, LUA_TTABLE);
  int gzip = lua_toboolean(L, 4);
  int64_t dims[LT_IDX_MAX_DIMS], n = 1;
  lua_Integer nd = luaL_len(L, 3);
  if (nd < 1 || nd > LT_IDX_MAX_DIMS) return luaL_error(L, "write_idx: 1 to 4 dims, got %I", nd);
  for (int k = 0; k < nd; k++) {
    lua_geti(L, 3, k + 1);
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < 1 || v > 0xffffffffll)
      return luaL_error(L, "write_idx: dims[%d] must be an integer in [1, 2^32 - 1]", k + 1);
    dims[k] = (int64_t)v;
    n = n > LT_IDX_MAX_BYTES / dims[k] ? LT_IDX_MAX_BYTES + 1 : n * dims[k];
    lua_pop(L, 1);
  }
  if ((size_t)n != len)
    return luaL_error(L, "write_idx: %s: the dims need %I bytes, the string holds %I", path, (lua_Integer)n,
                      (lua_Integer)len);
  if (lt_idx_write(path, (int)nd, dims, (const uint8_t *)bytes, gzip) != LT_OK)
    return raise_in(L, "write_idx");
  return 0;
}

/* ==================== methods ==================== */

static int set_size(lua_State *L) {
  lua_pushinteger(L, check_set(L, 1)->n);
  return 1;
}

static int set_shape(lua_State *L) {
  lt_dataset *d = check_set(L, 1);
  lua_pushinteger(L, d->c);
  lua_pushinteger(L, d->h);
  lua_pushinteger(L, d->w);
  return 3;
}

static int set_num_classes(lua_State *L) {
  lt_dataset *d = check_set(L, 1);
  if (d->labels) lua_pushinteger(L, d->num_classes);
  else lua_pushnil(L);
  return 1;
}

/* set:gather(indices) -> x [, y]: a batch, y only for a labelled set */
static int set_gather(lua_State *L) {
  lt_dataset *d = check_set(L, 1);
  int64_t m;
  const int64_t *idx = check_indices(L, 2, d->n, "get", &m);
  lt_box *bx = lt_newbox(L), *by = lt_newbox(L);
  if (lt_dataset_gather(d, idx, m, &bx->t, &by->t) != LT_OK) return raise_in(L, "get");
  lt_account(L);
  if (!by->t) lua_pop(L, 1);
  return by->t ? 2 : 1;
}

static int set_labels(lua_State *L) {
  lt_dataset *d = check_set(L, 1);
  lt_box *b = lt_newbox(L);
  if (lt_dataset_labels(d, &b->t) != LT_OK) return raise_in(L, "labels");
  lt_account(L);
  return 1;
}

/* The labels, 1-based, as a Lua table (for grouping by class in Lua). */
static int set_label_list(lua_State *L) {
  lt_dataset *d = check_set(L, 1);
  if (!d->labels) return luaL_error(L, "labels: the data set has no labels");
  lua_createtable(L, (int)d->n, 0);
  for (int64_t i = 0; i < d->n; i++) {
    lua_pushinteger(L, d->labels[i] + 1);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int set_subset(lua_State *L) {
  lt_dataset *d = check_set(L, 1);
  int64_t m;
  const int64_t *idx = check_indices(L, 2, d->n, "subset", &m);
  set_box *b = new_set_box(L);
  lt_dataset *s;
  lt_status st = lt_dataset_subset(&s, d, idx, m);
  return push_set(L, b, st, s, "subset");
}

static int set_save(lua_State *L) {
  lt_dataset *d = check_set(L, 1);
  const char *images = luaL_checkstring(L, 2);
  const char *labels = luaL_optstring(L, 3, NULL);
  if (lt_dataset_save_idx(d, images, labels) != LT_OK) return raise_in(L, "save");
  return 0;
}

/* ==================== registration ==================== */

void lt_open_data(lua_State *L, int module) {
  static const luaL_Reg meta[] = {{"__gc", set_gc}, {"__close", set_gc}, {NULL, NULL}};
  static const luaL_Reg methods[] = {
    {"size", set_size}, {"shape", set_shape}, {"num_classes", set_num_classes}, {"gather", set_gather},
    {"labels", set_labels}, {"label_list", set_label_list}, {"subset", set_subset}, {"save", set_save},
    {NULL, NULL}};
  static const luaL_Reg fns[] = {
    {"read_idx", data_read_idx}, {"from_tensor", data_from_tensor}, {"from_bytes", data_from_bytes},
    {"random", data_random}, {"concat", data_concat}, {"permutation", data_permutation},
    {"draw_seed", data_draw_seed}, {"write_idx", data_write_idx}, {NULL, NULL}};
  luaL_newlib(L, fns);                  /* core.data; lt.data is the Lua module over it */
  luaL_newmetatable(L, DATASET_MT);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__index");
  lua_setfield(L, -3, "methods");      /* core.data.methods, for the Lua side */
  lua_pop(L, 1);
  lua_setfield(L, module, "data");
}
