/* Placeholder until the io bindings land. */
#include "lua/lt_lua.h"

void lt_open_io(lua_State *L, int module) { (void)L; (void)module; }
