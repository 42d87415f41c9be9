/* Bindings: safetensors files, the generator's state, JSON for metadata.
 *
 *   lt.save_tensors(path, {name = tensor, ...} [, {key = "string", ...}])
 *   local tensors, metadata = lt.load_tensors(path)
 *   local s = lt.rng_state(); ...; lt.set_rng_state(s)
 *   lt.json_encode(value) -> string; lt.json_decode(string) -> value
 *
 * C-side results (a loaded file, a parsed JSON tree, a growing buffer) are
 * held by a userdata with __gc from the moment they exist, so an error raised
 * while building the Lua values leaks nothing. */
#include "lua/lt_lua.h"
#include "core/lt_rng.h"
#include "io/json.h"
#include "io/safetensors.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define FILE_MT "latent.SafetensorsFile"
#define JSON_MT "latent.JsonTree"
#define BUF_MT "latent.JsonBuffer"

static int file_gc(lua_State *L) {
  lt_safetensors **h = luaL_checkudata(L, 1, FILE_MT);
  lt_safetensors_free(*h);
  *h = NULL;
  return 0;
}
static int json_gc(lua_State *L) {
  lt_json **h = luaL_checkudata(L, 1, JSON_MT);
  lt_json_free(*h);
  *h = NULL;
  return 0;
}
static int buf_gc(lua_State *L) {
  lt_strbuf_free(luaL_checkudata(L, 1, BUF_MT));
  return 0;
}

/* ==================== safetensors ==================== */

/* Checks a table of string keys and values of one kind; returns its size. */
static size_t check_table(lua_State *L, int idx, const char *fn, const char *what, int want_tensor) {
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t len;
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "%s: %s names must be strings, got a %s key", fn, what, luaL_typename(L, -2));
    const char *key = lua_tolstring(L, -2, &len);
    if (strlen(key) != len) luaL_error(L, "%s: %s name '%s...' contains a NUL character", fn, what, key);
    if (want_tensor && !lt_totensor(L, -1))
      luaL_error(L, "%s: '%s' is not a tensor (got %s)", fn, key, luaL_typename(L, -1));
    if (!want_tensor && lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "%s: metadata '%s' must be a string (got %s); encode other values, e.g. with lt.json_encode",
                 fn, key, luaL_typename(L, -1));
    if (!want_tensor && strlen(lua_tostring(L, -1)) != lua_rawlen(L, -1))
      luaL_error(L, "%s: metadata '%s' contains a NUL character", fn, key);
    lua_pop(L, 1);
    n++;
  }
  return n;
}

/* Fills keys[] and values[] (tensors or strings) from a checked table; the
 * strings stay alive as the table's keys and values. */
static void collect(lua_State *L, int idx, const char **keys, void **values, int want_tensor) {
  size_t k = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    keys[k] = lua_tostring(L, -2);
    values[k++] = want_tensor ? (void *)lt_totensor(L, -1) : (void *)lua_tostring(L, -1);
    lua_pop(L, 1);
  }
}

/* save_tensors(path, {name = tensor, ...} [, metadata]): written atomically */
static int io_save_tensors(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  size_t n = check_table(L, 2, "save_tensors", "tensor", 1);
  size_t m = lua_istable(L, 3) ? check_table(L, 3, "save_tensors", "metadata", 0) : 0;
  /* the arrays live in a userdata: nothing to free if anything raises */
  void **mem = lua_newuserdatauv(L, (2 * n + 2 * m + 1) * sizeof(void *), 0);
  const char **names = (const char **)mem, **meta_keys = (const char **)mem + 2 * n;
  void **tensors = mem + n, **meta_values = mem + 2 * n + m;
  collect(L, 2, names, tensors, 1);
  if (m) collect(L, 3, meta_keys, meta_values, 0);
  if (lt_safetensors_save(path, n, names, (lt_tensor *const *)tensors, m, meta_keys,
                          (const char *const *)meta_values) != LT_OK)
    return luaL_error(L, "save_tensors: %s", lt_errmsg());
  return 0;
}

/* load_tensors(path) -> {name = tensor}, {key = string} */
static int io_load_tensors(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lt_safetensors **h = lua_newuserdatauv(L, sizeof *h, 0);
  *h = NULL;
  luaL_setmetatable(L, FILE_MT);
  if (lt_safetensors_load(path, h) != LT_OK) return luaL_error(L, "load_tensors: %s", lt_errmsg());
  lt_safetensors *f = *h;
  lua_createtable(L, 0, (int)f->n);
  for (size_t k = 0; k < f->n; k++) {
    lt_box *b = lt_newbox(L);
    b->t = f->tensors[k]; /* the box owns it now */
    f->tensors[k] = NULL;
    lua_setfield(L, -2, f->names[k]);
  }
  lt_account(L);
  lua_createtable(L, 0, (int)f->n_meta);
  for (size_t k = 0; k < f->n_meta; k++) {
    lua_pushstring(L, f->meta_values[k]);
    lua_setfield(L, -2, f->meta_keys[k]);
  }
  return 2;
}

/* ==================== the generator's state ==================== */

/* 81 hex digits: the four state words, the bits of the spare normal, and
 * whether it is pending. */
#define RNG_HEX 81

static int io_rng_state(lua_State *L) {
  lt_rng_state s;
  uint64_t spare;
  char buf[RNG_HEX + 1];
  lt_rng_get_state(&s);
  memcpy(&spare, &s.spare_normal, sizeof spare);
  snprintf(buf, sizeof buf, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%d", s.s[0],
           s.s[1], s.s[2], s.s[3], spare, s.has_spare ? 1 : 0);
  lua_pushstring(L, buf);
  return 1;
}

static int io_set_rng_state(lua_State *L) {
  size_t len;
  const char *hex = luaL_checklstring(L, 1, &len);
  uint64_t w[5] = {0};
  int ok = len == RNG_HEX && (hex[80] == '0' || hex[80] == '1');
  for (size_t k = 0; ok && k < 80; k++) {
    char c = hex[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) ok = 0;
    else w[k / 16] = w[k / 16] << 4 | (uint64_t)d;
  }
  if (!ok) return luaL_argerror(L, 1, "expected a generator state from lt.rng_state() (81 hex digits)");
  if (!(w[0] | w[1] | w[2] | w[3])) return luaL_argerror(L, 1, "an all-zero generator state is invalid");
  lt_rng_state s = {{w[0], w[1], w[2], w[3]}, 0, hex[80] == '1'};
  memcpy(&s.spare_normal, &w[4], sizeof w[4]);
  lt_rng_set_state(&s);
  return 0;
}

/* ==================== JSON ==================== */

typedef struct { const char *s; size_t len; } keyref;

static int keyref_cmp(const void *a, const void *b) {
  const keyref *x = a, *y = b;
  int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Where in the value an error happened: "$.optimizer.betas[2]". */
typedef struct { const char *key[LT_JSON_MAX_DEPTH + 1]; lua_Integer index[LT_JSON_MAX_DEPTH + 1]; } jpath;

static int encode_error(lua_State *L, const jpath *p, int depth, const char *what) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "json_encode: ");
  luaL_addstring(&b, what);
  luaL_addstring(&b, " at $");
  for (int d = 0; d < depth; d++) {
    if (p->key[d]) { luaL_addchar(&b, '.'); luaL_addstring(&b, p->key[d]); }
    else { lua_pushfstring(L, "[%I]", p->index[d]); luaL_addvalue(&b); }
  }
  luaL_pushresult(&b);
  return lua_error(L);
}

static void encode(lua_State *L, lt_strbuf *out, int idx, jpath *p, int depth);

/* A table with keys exactly 1..n (n > 0) is an array; one with only string keys an object. */
static void encode_table(lua_State *L, lt_strbuf *out, int idx, jpath *p, int depth) {
  if (depth >= LT_JSON_MAX_DEPTH) encode_error(L, p, depth, "tables nested too deeply (a cycle?)");
  luaL_checkstack(L, 4, "json_encode");
  size_t count = 0, strings = 0, positive = 0; /* keys: all, strings, integers >= 1 */
  lua_Integer max = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    count++;
    if (lua_type(L, -2) == LUA_TSTRING) strings++;
    else if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
      positive++;
      if (lua_tointeger(L, -2) > max) max = lua_tointeger(L, -2);
    }
    lua_pop(L, 1);
  }
  if (count && positive == count && (size_t)max == count) { /* distinct keys in 1..max: exactly 1..n */
    lt_strbuf_add(out, "[", 1);
    for (lua_Integer k = 1; k <= max; k++) {
      if (k > 1) lt_strbuf_add(out, ",", 1);
      p->key[depth] = NULL;
      p->index[depth] = k;
      lua_rawgeti(L, idx, k);
      encode(L, out, lua_gettop(L), p, depth + 1);
      lua_pop(L, 1);
    }
    lt_strbuf_add(out, "]", 1);
    return;
  }
  if (strings != count) encode_error(L, p, depth, "a table with non-string keys that is not a sequence 1..n");
  keyref *keys = lua_newuserdatauv(L, (count ? count : 1) * sizeof *keys, 0);
  int keys_idx = lua_gettop(L);
  size_t k = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    keys[k].s = lua_tolstring(L, -2, &keys[k].len);
    k++;
    lua_pop(L, 1);
  }
  qsort(keys, count, sizeof *keys, keyref_cmp); /* the same table gives the same text */
  lt_strbuf_add(out, "{", 1);
  for (k = 0; k < count; k++) {
    if (k) lt_strbuf_add(out, ",", 1);
    if (!lt_utf8_valid(keys[k].s, keys[k].len)) encode_error(L, p, depth, "a key that is not valid UTF-8");
    lt_json_add_string(out, keys[k].s, keys[k].len);
    lt_strbuf_add(out, ":", 1);
    p->key[depth] = keys[k].s;
    lua_pushlstring(L, keys[k].s, keys[k].len);
    lua_rawget(L, idx);
    encode(L, out, lua_gettop(L), p, depth + 1);
    lua_pop(L, 1);
  }
  lt_strbuf_add(out, "}", 1);
  lua_remove(L, keys_idx);
}

static void encode(lua_State *L, lt_strbuf *out, int idx, jpath *p, int depth) {
  size_t len;
  const char *s;
  switch (lua_type(L, idx)) {
  case LUA_TNIL: lt_strbuf_adds(out, "null"); break;
  case LUA_TBOOLEAN: lt_strbuf_adds(out, lua_toboolean(L, idx) ? "true" : "false"); break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) lt_strbuf_addf(out, "%lld", (long long)lua_tointeger(L, idx));
    else lt_json_add_double(out, lua_tonumber(L, idx));
    break;
  case LUA_TSTRING:
    s = lua_tolstring(L, idx, &len);
    if (!lt_utf8_valid(s, len)) encode_error(L, p, depth, "a string that is not valid UTF-8");
    lt_json_add_string(out, s, len);
    break;
  case LUA_TTABLE: encode_table(L, out, idx, p, depth); break;
  default: { /* name userdata by their __name: "a latent.Tensor" */
    const char *type = luaL_getmetafield(L, idx, "__name") == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, idx);
    encode_error(L, p, depth, lua_pushfstring(L, "cannot encode a %s", type));
  }
  }
}

static int io_json_encode(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  lt_strbuf *out = lua_newuserdatauv(L, sizeof *out, 0);
  memset(out, 0, sizeof *out);
  luaL_setmetatable(L, BUF_MT);
  jpath *p = lua_newuserdatauv(L, sizeof *p, 0);
  encode(L, out, 1, p, 0);
  if (out->failed) return luaL_error(L, "json_encode: out of memory");
  lua_pushlstring(L, out->p ? out->p : "", out->n);
  return 1;
}

/* null becomes nil: an object member that is null is absent. */
static void push_json(lua_State *L, const lt_json *v) {
  luaL_checkstack(L, 3, "json_decode");
  switch (v->type) {
  case LT_JSON_NULL: lua_pushnil(L); break;
  case LT_JSON_BOOL: lua_pushboolean(L, (int)v->i); break;
  case LT_JSON_INT: lua_pushinteger(L, (lua_Integer)v->i); break;
  case LT_JSON_FLOAT: lua_pushnumber(L, v->f); break;
  case LT_JSON_STRING: lua_pushlstring(L, v->s, v->len); break;
  case LT_JSON_ARRAY:
    lua_createtable(L, (int)v->n, 0);
    for (size_t k = 0; k < v->n; k++) {
      push_json(L, &v->items[k]);
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    break;
  case LT_JSON_OBJECT:
    lua_createtable(L, 0, (int)v->n);
    for (size_t k = 0; k < v->n; k++) {
      lua_pushlstring(L, v->items[k].key, v->items[k].key_len);
      push_json(L, &v->items[k]);
      lua_rawset(L, -3);
    }
    break;
  }
}

static int io_json_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  lt_json **h = lua_newuserdatauv(L, sizeof *h, 0);
  *h = NULL;
  luaL_setmetatable(L, JSON_MT);
  if (!(*h = lt_json_parse(s, len))) return luaL_error(L, "json_decode: %s", lt_errmsg());
  push_json(L, *h);
  return 1;
}

/* ==================== registration ==================== */

static void gc_metatable(lua_State *L, const char *name, lua_CFunction gc) {
  luaL_newmetatable(L, name);
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
}

void lt_open_io(lua_State *L, int module) {
  static const luaL_Reg fns[] = {
    {"save_tensors", io_save_tensors}, {"load_tensors", io_load_tensors},
    {"rng_state", io_rng_state},       {"set_rng_state", io_set_rng_state},
    {"json_encode", io_json_encode},   {"json_decode", io_json_decode},
    {NULL, NULL}};
  gc_metatable(L, FILE_MT, file_gc);
  gc_metatable(L, JSON_MT, json_gc);
  gc_metatable(L, BUF_MT, buf_gc);
  lt_register(L, module, fns, NULL);
}
