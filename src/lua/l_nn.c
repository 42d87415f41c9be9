/* Placeholder until the nn bindings land. */
#include "lua/lt_lua.h"

void lt_open_nn(lua_State *L, int module) { (void)L; (void)module; }
