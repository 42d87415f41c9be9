/* Placeholder until the nnops bindings land. */
#include "lua/lt_lua.h"

void lt_open_nnops(lua_State *L, int module) { (void)L; (void)module; }
