/* Placeholder until the optim bindings land. */
#include "lua/lt_lua.h"

void lt_open_optim(lua_State *L, int module) { (void)L; (void)module; }
