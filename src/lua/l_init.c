/* luaopen_latent_core: the tensor type's metatable and every binding file's
 * functions in one module table. The Lua side (lua/latent/init.lua) builds the
 * user-facing `latent` module on top of it. */
#include "lua/lt_lua.h"

/* ==================== the tensor userdata ==================== */

static int t_gc(lua_State *L) {
  lt_box *b = luaL_checkudata(L, 1, LT_TENSOR_MT);
  lt_tensor_release(b->t);
  b->t = NULL;
  return 0;
}

static int t_len(lua_State *L) {
  lt_tensor *t = lt_checktensor(L, 1);
  if (t->ndim == 0) return luaL_error(L, "#: a scalar tensor has no length");
  lua_pushinteger(L, t->shape[0]);
  return 1;
}

static void create_metatable(lua_State *L) {
  static const luaL_Reg meta[] = {{"__gc", t_gc}, {"__close", t_gc}, {"__len", t_len}, {NULL, NULL}};
  luaL_newmetatable(L, LT_TENSOR_MT); /* also sets __name, so errors say "latent.Tensor expected" */
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  lua_setfield(L, -2, "__methods"); /* l_view.c installs __index/__newindex over it */
  lua_pop(L, 1);
}

int luaopen_latent_core(lua_State *L) {
  luaL_checkversion(L);
  lua_newtable(L);
  int module = lua_gettop(L);
  create_metatable(L);
  lt_open_tensor(L, module);
  lt_open_view(L, module);
  lt_open_math(L, module);
  lt_open_reduce(L, module);
  lt_open_autograd(L, module);
  lt_open_conv(L, module);
  lt_open_nnops(L, module);
  lt_open_optim(L, module);
  lt_open_io(L, module);
  lt_open_nn(L, module);
  lt_open_profile(L, module);
  lt_open_data(L, module);
  lt_open_plot(L, module);
  lt_open_sys(L, module);
  lt_open_corrupt(L, module);
  lt_open_tsne(L, module);
  lt_open_analysis(L, module);
  luaL_getmetatable(L, LT_TENSOR_MT);
  lua_setfield(L, module, "Tensor"); /* the metatable, for the Lua side to extend */
  lt_push_methods(L);
  lua_setfield(L, module, "methods");
  return 1;
}
