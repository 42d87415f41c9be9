/* Bindings: convolutions, pooling, upsampling (functional forms).
 *
 *   lt.conv2d(x, w [, b] [, {stride=, padding=, dilation=}])
 *   lt.conv_transpose2d(x, w [, b] [, {stride=, padding=, output_padding=, dilation=}])
 *   lt.max_pool2d(x, {kernel_size=, stride=, padding=})   or lt.max_pool2d(x, k [, opts])
 *   lt.upsample_nearest2d(x, scale)
 *
 * x is N x C x H x W (or C x H x W); b may be nil or left out. Each size
 * option is an integer (both dims) or a {height, width} pair. Defaults as in
 * PyTorch: stride 1 (max_pool2d: the kernel size), padding 0,
 * output_padding 0, dilation 1. Unknown option names are errors. */
#include "lua/lt_lua.h"
#include "ops/conv.h"
#include "ops/pool.h"

#include <string.h>

/* Raises on a key of the options table at `opts` that is not in `known`. */
static void check_option_names(lua_State *L, int opts, const char *fn, const char *const *known) {
  if (lua_isnoneornil(L, opts)) return;
  luaL_checktype(L, opts, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, opts)) {
    lua_pop(L, 1);
    bool ok = false;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (int k = 0; known[k] && !ok; k++) ok = strcmp(lua_tostring(L, -1), known[k]) == 0;
    if (!ok) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (int k = 0; known[k]; k++) {
        if (k) luaL_addstring(&b, ", ");
        luaL_addstring(&b, known[k]);
      }
      luaL_pushresult(&b);
      const char *expected = lua_tostring(L, -1);
      luaL_error(L, "%s: unknown option '%s' (expected %s)", fn, luaL_tolstring(L, -2, NULL), expected);
    }
  }
}

static int64_t pair_entry(lua_State *L, const char *fn, const char *name, int k) {
  lua_geti(L, -1, k);
  int ok;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  if (!ok)
    luaL_error(L, "%s: option '%s' must hold integers, got %s", fn, name,
               lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
  lua_pop(L, 1);
  return (int64_t)v;
}

/* A size option: an integer for both dims or a {height, width} pair;
 * returns false (out untouched) when the field is absent. */
static bool opt_pair(lua_State *L, int opts, const char *fn, const char *name, int64_t out[2]) {
  if (lua_isnoneornil(L, opts)) return false;
  int t = lua_getfield(L, opts, name);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return false;
  }
  int ok;
  if (t == LUA_TTABLE) {
    if (luaL_len(L, -1) != 2)
      luaL_error(L, "%s: option '%s' must be an integer or a {height, width} pair, got a table of %d values", fn,
                 name, (int)luaL_len(L, -1));
    out[0] = pair_entry(L, fn, name, 1);
    out[1] = pair_entry(L, fn, name, 2);
  } else {
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok)
      luaL_error(L, "%s: option '%s' must be an integer or a {height, width} pair, got %s", fn, name,
                 t == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
    out[0] = out[1] = (int64_t)v;
  }
  lua_pop(L, 1);
  return true;
}

/* x, w [, b] [, opts]: a table in place of b is the options. Returns the
 * options' index (maybe none) and sets *b. */
static int bias_and_opts(lua_State *L, lt_tensor **b) {
  *b = NULL;
  if (lua_istable(L, 3) && lua_isnoneornil(L, 4)) return 3;
  if (!lua_isnoneornil(L, 3)) *b = lt_checktensor(L, 3);
  return 4;
}

static void read_conv_params(lua_State *L, int opts, const char *fn, bool transposed, lt_conv_params *p) {
  static const char *const plain[] = {"stride", "padding", "dilation", NULL};
  static const char *const trans[] = {"stride", "padding", "output_padding", "dilation", NULL};
  check_option_names(L, opts, fn, transposed ? trans : plain);
  *p = lt_conv_params_default();
  opt_pair(L, opts, fn, "stride", p->stride);
  opt_pair(L, opts, fn, "padding", p->padding);
  opt_pair(L, opts, fn, "dilation", p->dilation);
  if (transposed) opt_pair(L, opts, fn, "output_padding", p->output_padding);
}

static int conv_common(lua_State *L, const char *fn, bool transposed) {
  lt_tensor *x = lt_checktensor(L, 1), *w = lt_checktensor(L, 2), *b;
  int opts = bias_and_opts(L, &b);
  lt_conv_params p;
  read_conv_params(L, opts, fn, transposed, &p);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = transposed ? lt_conv_transpose2d(&y, x, w, b, &p) : lt_conv2d(&y, x, w, b, &p);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

static int f_conv2d(lua_State *L) { return conv_common(L, "conv2d", false); }
static int f_conv_transpose2d(lua_State *L) { return conv_common(L, "conv_transpose2d", true); }

static int f_max_pool2d(lua_State *L) {
  static const char *const known[] = {"kernel_size", "stride", "padding", NULL};
  lt_tensor *x = lt_checktensor(L, 1);
  int64_t k[2], s[2], p[2] = {0, 0};
  int opts = 2;
  if (lua_type(L, 2) == LUA_TNUMBER) { /* max_pool2d(x, k [, opts]) */
    k[0] = k[1] = luaL_checkinteger(L, 2);
    opts = 3;
    if (!lua_isnoneornil(L, opts) && opt_pair(L, opts, "max_pool2d", "kernel_size", s))
      return luaL_error(L, "max_pool2d: kernel_size given twice");
  } else {
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!opt_pair(L, opts, "max_pool2d", "kernel_size", k))
      return luaL_error(L, "max_pool2d: option 'kernel_size' is required");
  }
  check_option_names(L, opts, "max_pool2d", known);
  if (!opt_pair(L, opts, "max_pool2d", "stride", s)) s[0] = k[0], s[1] = k[1];
  opt_pair(L, opts, "max_pool2d", "padding", p);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = lt_max_pool2d(&y, x, k, s, p);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

static int f_upsample_nearest2d(lua_State *L) {
  lt_tensor *x = lt_checktensor(L, 1);
  int64_t s[2];
  if (lua_istable(L, 2)) {
    if (luaL_len(L, 2) != 2) return luaL_argerror(L, 2, "scale must be an integer or a {height, width} pair");
    lua_pushvalue(L, 2);
    s[0] = pair_entry(L, "upsample_nearest2d", "scale", 1);
    s[1] = pair_entry(L, "upsample_nearest2d", "scale", 2);
    lua_pop(L, 1);
  } else {
    s[0] = s[1] = luaL_checkinteger(L, 2);
  }
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = lt_upsample_nearest2d(&y, x, s);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

void lt_open_conv(lua_State *L, int module) {
  static const luaL_Reg fns[] = {{"conv2d", f_conv2d},
                                 {"conv_transpose2d", f_conv_transpose2d},
                                 {"max_pool2d", f_max_pool2d},
                                 {"upsample_nearest2d", f_upsample_nearest2d},
                                 {NULL, NULL}};
  lt_register(L, module, fns, NULL);
}
