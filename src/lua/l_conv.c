/* Placeholder until the conv bindings land. */
#include "lua/lt_lua.h"

void lt_open_conv(lua_State *L, int module) { (void)L; (void)module; }
