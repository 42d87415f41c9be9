/* Bindings: corruption schemes (src/data/corrupt.c), as the table
 * latent.core.corrupt, which lua/latent/corrupt.lua exposes as lt.corrupt.
 *
 *   gaussian(x, std [, {clamp = false}])                       -> y
 *   random_erasing(x [, {p, scale, ratio, value, return_boxes}]) -> y [, boxes]
 *   erasing_boxes(n, h, w [, {p, scale, ratio}])               -> n x 4 boxes
 *
 * Options are checked by name: an unknown one (a typo) is an error. */
#include "lua/lt_lua.h"
#include "data/corrupt.h"

#include <string.h>

/* ==================== options ==================== */

/* Raises on a key of the options table at `opts` that is not in `known`. */
static void check_known(lua_State *L, int opts, const char *fname, const char *const *known) {
  if (lua_isnoneornil(L, opts)) return;
  luaL_checktype(L, opts, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, opts)) {
    lua_pop(L, 1);
    int ok = 0;
    for (const char *const *k = known; *k && !ok; k++)
      ok = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), *k); /* no tostring on numbers: lua_next */
    if (!ok) luaL_error(L, "%s: unknown option '%s'", fname, luaL_tolstring(L, -1, NULL));
  }
}

/* Field `name` as {lo, hi}, two numbers; `pair` keeps its default when absent. */
static void opt_pair(lua_State *L, int opts, const char *fname, const char *name, double pair[2]) {
  if (lua_isnoneornil(L, opts) || lua_getfield(L, opts, name) == LUA_TNIL) {
    if (!lua_isnoneornil(L, opts)) lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1) || luaL_len(L, -1) != 2)
    luaL_error(L, "%s: option '%s' must be a table of two numbers {lo, hi}, got %s", fname, name,
               luaL_typename(L, -1));
  for (int k = 0; k < 2; k++) {
    if (lua_geti(L, -1, k + 1) != LUA_TNUMBER)
      luaL_error(L, "%s: option '%s'[%d] must be a number, got %s", fname, name, k + 1, luaL_typename(L, -1));
    pair[k] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* value: a number, or "random" for standard normal fills. */
static void opt_value(lua_State *L, int opts, const char *fname, lt_erasing_opts *o) {
  if (lua_isnoneornil(L, opts)) return;
  int t = lua_getfield(L, opts, "value");
  if (t == LUA_TNUMBER) o->value = (float)lua_tonumber(L, -1);
  else if (t == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "random")) o->random_fill = true;
  else if (t != LUA_TNIL)
    luaL_error(L, "%s: option 'value' must be a number or \"random\", got %s", fname,
               t == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
  lua_pop(L, 1);
}

/* p, scale and ratio (torchvision's defaults), checked. */
static lt_erasing_opts check_erasing_opts(lua_State *L, int opts, const char *fname) {
  lt_erasing_opts o = lt_erasing_defaults();
  o.p = lt_optnum_field(L, opts, "p", o.p);
  opt_pair(L, opts, fname, "scale", o.scale);
  opt_pair(L, opts, fname, "ratio", o.ratio);
  return o;
}

/* ==================== functions ==================== */

static int corrupt_gaussian(lua_State *L) {
  static const char *const known[] = {"clamp", NULL};
  lt_tensor *x = lt_checktensor(L, 1);
  double std = luaL_checknumber(L, 2);
  check_known(L, 3, "gaussian", known);
  bool clamp = lt_optbool_field(L, 3, "clamp", 0);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = lt_corrupt_gaussian(&y, x, std, clamp);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

static int corrupt_random_erasing(lua_State *L) {
  static const char *const known[] = {"p", "scale", "ratio", "value", "return_boxes", NULL};
  lt_tensor *x = lt_checktensor(L, 1);
  check_known(L, 2, "random_erasing", known);
  lt_erasing_opts o = check_erasing_opts(L, 2, "random_erasing");
  opt_value(L, 2, "random_erasing", &o);
  bool want_boxes = lt_optbool_field(L, 2, "return_boxes", 0);
  lt_box *out = lt_newbox(L), *boxes = want_boxes ? lt_newbox(L) : NULL;
  lt_tensor *y = NULL, *bx = NULL;
  if (lt_corrupt_random_erasing(&y, want_boxes ? &bx : NULL, x, &o) != LT_OK) return lt_raise(L);
  out->t = y;
  if (boxes) boxes->t = bx;
  lt_account(L);
  return want_boxes ? 2 : 1;
}

static int corrupt_erasing_boxes(lua_State *L) {
  static const char *const known[] = {"p", "scale", "ratio", NULL};
  lua_Integer n = luaL_checkinteger(L, 1), h = luaL_checkinteger(L, 2), w = luaL_checkinteger(L, 3);
  check_known(L, 4, "erasing_boxes", known);
  lt_erasing_opts o = check_erasing_opts(L, 4, "erasing_boxes");
  lt_box *box = lt_newbox(L);
  lt_tensor *bx = NULL;
  lt_status st = lt_erasing_boxes(&bx, n, h, w, &o);
  return lt_push_result(L, box, st == LT_OK ? bx : NULL);
}

/* ==================== registration ==================== */

void lt_open_corrupt(lua_State *L, int module) {
  static const luaL_Reg fns[] = {
    {"gaussian", corrupt_gaussian}, {"random_erasing", corrupt_random_erasing},
    {"erasing_boxes", corrupt_erasing_boxes}, {NULL, NULL}};
  luaL_newlib(L, fns);
  lua_setfield(L, module, "corrupt");
}
