/* The per-op timer from Lua (core.profile; lua/latent/profile.lua adds the
 * sorted results and the printed report):
 *
 *   core.profile.start()  core.profile.stop()  core.profile.reset()
 *   core.profile.enabled() -> boolean
 *   core.profile.rows() -> { {name, calls, forward_ms, untimed, backward_calls, backward_ms}, ... }, wall_ms */
#include "core/lt_profile.h"
#include "lua/lt_lua.h"

static int profile_start(lua_State *L) {
  lt_profile_start();
  return 0;
}

static int profile_stop(lua_State *L) {
  lt_profile_stop();
  return 0;
}

static int profile_reset(lua_State *L) {
  lt_profile_reset();
  return 0;
}

static int profile_enabled(lua_State *L) {
  lua_pushboolean(L, lt_profile_active);
  return 1;
}

static void set_int(lua_State *L, const char *k, int64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

static void set_ms(lua_State *L, const char *k, int64_t ns) {
  lua_pushnumber(L, (lua_Number)ns / 1e6);
  lua_setfield(L, -2, k);
}

static int profile_rows(lua_State *L) {
  int n = lt_profile_rows();
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    const lt_profile_entry *e = lt_profile_entry_at(i);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, e->name);
    lua_setfield(L, -2, "name");
    set_int(L, "calls", e->calls[LT_PROF_FORWARD]);
    set_ms(L, "forward_ms", e->ns[LT_PROF_FORWARD]);
    set_int(L, "untimed", e->untimed);
    set_int(L, "backward_calls", e->calls[LT_PROF_BACKWARD]);
    set_ms(L, "backward_ms", e->ns[LT_PROF_BACKWARD]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushnumber(L, (lua_Number)lt_profile_wall_ns() / 1e6);
  return 2;
}

void lt_open_profile(lua_State *L, int module) {
  static const luaL_Reg fns[] = {{"start", profile_start}, {"stop", profile_stop}, {"reset", profile_reset},
                                 {"enabled", profile_enabled}, {"rows", profile_rows}, {NULL, NULL}};
  luaL_newlib(L, fns);
  lua_setfield(L, module, "profile");
}
