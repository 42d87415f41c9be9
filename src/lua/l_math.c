/* Placeholder until the math bindings land. */
#include "lua/lt_lua.h"

void lt_open_math(lua_State *L, int module) { (void)L; (void)module; }
