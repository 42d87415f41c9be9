/* Placeholder until the reduce bindings land. */
#include "lua/lt_lua.h"

void lt_open_reduce(lua_State *L, int module) { (void)L; (void)module; }
