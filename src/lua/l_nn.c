/* Bindings: layers as userdata. A layer is called like a function,
 * `layer(x)`, and shows its parameters as fields, `layer.weight`. The Lua side
 * (lua/latent/nn/) adds parameters(), state_dict() and friends to the methods
 * table (core.layer_methods), shared with Lua containers. */
#include "lua/lt_lua.h"
#include "nn/layers.h"

#include <string.h>

#define LT_LAYER_MT "latent.Layer"

typedef struct { lt_layer *l; } layer_box;

static lt_layer *check_layer(lua_State *L, int arg) {
  layer_box *b = luaL_checkudata(L, arg, LT_LAYER_MT);
  if (!b->l) luaL_argerror(L, arg, "layer was freed");
  return b->l;
}

/* Pushes a box holding NULL; the constructor fills it (no leak on error). */
static layer_box *new_layer_box(lua_State *L) {
  layer_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->l = NULL;
  luaL_setmetatable(L, LT_LAYER_MT);
  return b;
}

static int push_layer(lua_State *L, layer_box *b, lt_layer *l) {
  if (!l) return lt_raise(L);
  b->l = l;
  lt_account(L);
  return 1;
}

/* ==================== metamethods ==================== */

static int layer_gc(lua_State *L) {
  layer_box *b = luaL_checkudata(L, 1, LT_LAYER_MT);
  lt_layer_free(b->l);
  b->l = NULL;
  return 0;
}

static int layer_call(lua_State *L) {
  lt_layer *l = check_layer(L, 1);
  lt_tensor *x = lt_checktensor(L, 2);
  lt_box *box = lt_newbox(L);
  lt_tensor *y = NULL;
  lt_status st = l->kind->forward(l, x, &y);
  return lt_push_result(L, box, st == LT_OK ? y : NULL);
}

static int layer_tostring(lua_State *L) {
  lt_layer *l = check_layer(L, 1);
  char args[256];
  l->kind->describe(l, args, sizeof args);
  lua_pushfstring(L, "%s(%s)", l->kind->name, args);
  return 1;
}

static int layer_index(lua_State *L) {
  lt_layer *l = check_layer(L, 1);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1; /* a method */
  const char *k = lua_tostring(L, 2);
  if (!k) return 1;
  if (!strcmp(k, "training")) {
    lua_pushboolean(L, l->training);
    return 1;
  }
  if (!strcmp(k, "type")) {
    lua_pushstring(L, l->kind->name);
    return 1;
  }
  int slot = lt_layer_find(l, k);
  if (slot < 0) return 1; /* nil */
  lt_tensor *t = slot < LT_LAYER_SLOTS ? l->param[slot] : l->buffer[slot - LT_LAYER_SLOTS];
  if (!t) return 1;
  return lt_push_tensor(L, lt_tensor_retain(t));
}

static int layer_newindex(lua_State *L) {
  lt_layer *l = check_layer(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (!strcmp(k, "training")) {
    l->training = lua_toboolean(L, 3);
    return 0;
  }
  int slot = lt_layer_find(l, k);
  if (slot < 0) return luaL_error(L, "%s: no parameter or buffer named '%s'", l->kind->name, k);
  LT_CHECK(L, lt_layer_set(l, slot, lt_checktensor(L, 3)));
  return 0;
}

/* ==================== methods ==================== */

/* layer:train([on]) and layer:eval() return the layer */
static int layer_train(lua_State *L) {
  check_layer(L, 1)->training = lua_isnone(L, 2) ? true : lua_toboolean(L, 2);
  lua_settop(L, 1);
  return 1;
}

static int layer_eval(lua_State *L) {
  check_layer(L, 1)->training = false;
  lua_settop(L, 1);
  return 1;
}

static void push_named(lua_State *L, int n, const char *const *names, lt_tensor *const *ts) {
  lua_createtable(L, n, 0);
  int k = 0;
  for (int s = 0; s < n; s++) {
    if (!ts[s]) continue; /* an absent bias */
    lua_createtable(L, 2, 0);
    lua_pushstring(L, names[s]);
    lua_rawseti(L, -2, 1);
    lt_push_tensor(L, lt_tensor_retain(ts[s]));
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, ++k);
  }
}

/* layer:own_tensors() -> {{name, param}...}, {{name, buffer}...} in order */
static int layer_own_tensors(lua_State *L) {
  lt_layer *l = check_layer(L, 1);
  push_named(L, l->n_params, l->param_name, l->param);
  push_named(L, l->n_buffers, l->buffer_name, l->buffer);
  return 2;
}

/* ==================== constructors ==================== */

#define SIMPLE_LAYER(fname, ctor)                      \
  static int fname(lua_State *L) {                     \
    layer_box *b = new_layer_box(L);                   \
    return push_layer(L, b, ctor());                   \
  }
SIMPLE_LAYER(nn_identity, lt_nn_identity)
SIMPLE_LAYER(nn_relu, lt_nn_relu)
SIMPLE_LAYER(nn_sigmoid, lt_nn_sigmoid)
SIMPLE_LAYER(nn_tanh, lt_nn_tanh)

/* A 1-based dim (negative from the end) as 0-based, or negative kept for
 * "from the end" when the tensor's rank is not known yet. */
static int dim_arg(lua_State *L, int arg, lua_Integer def) {
  lua_Integer d = luaL_optinteger(L, arg, def);
  if (d == 0) luaL_argerror(L, arg, "dims are 1-based (or negative from the end)");
  return (int)(d > 0 ? d - 1 : d);
}

/* Flatten([start_dim = 2 [, end_dim = -1]]) */
static int nn_flatten(lua_State *L) {
  int start = dim_arg(L, 1, 2), end = dim_arg(L, 2, -1);
  luaL_argcheck(L, start >= 0, 1, "start_dim must be positive");
  layer_box *b = new_layer_box(L);
  return push_layer(L, b, lt_nn_flatten(start, end));
}

/* Unflatten(dim, {sizes...}) */
static int nn_unflatten(lua_State *L) {
  lua_Integer dim = luaL_checkinteger(L, 1);
  luaL_argcheck(L, dim >= 1, 1, "dim must be positive (1-based)");
  int64_t sizes[LT_MAX_DIMS];
  int n = lt_checkshape(L, 2, sizes);
  layer_box *b = new_layer_box(L);
  return push_layer(L, b, lt_nn_unflatten((int)dim - 1, n, sizes));
}

void lt_open_nn(lua_State *L, int module) {
  static const luaL_Reg meta[] = {{"__gc", layer_gc}, {"__close", layer_gc}, {"__call", layer_call},
                                  {"__tostring", layer_tostring}, {"__newindex", layer_newindex},
                                  {NULL, NULL}};
  static const luaL_Reg methods[] = {{"train", layer_train}, {"eval", layer_eval},
                                     {"own_tensors", layer_own_tensors}, {NULL, NULL}};
  static const luaL_Reg ctors[] = {{"Identity", nn_identity}, {"ReLU", nn_relu}, {"Sigmoid", nn_sigmoid},
                                   {"Tanh", nn_tanh}, {"Flatten", nn_flatten}, {"Unflatten", nn_unflatten},
                                   {NULL, NULL}};
  luaL_newmetatable(L, LT_LAYER_MT);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_pushvalue(L, -1);
  lua_setfield(L, module, "layer_methods");
  lua_pushcclosure(L, layer_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, ctors);
  lua_setfield(L, module, "layers");
}
