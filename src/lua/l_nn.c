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

/* ==================== constructors with settings ==================== */

/* An integer n or a pair {h, w} at idx (nil gives def, def); non-negative. */
static void pair_at(lua_State *L, int idx, const char *fn, const char *what, int64_t def, int64_t out[2]) {
  int t = lua_type(L, idx);
  if (t == LUA_TNIL || t == LUA_TNONE) {
    out[0] = out[1] = def;
  } else if (t == LUA_TTABLE && luaL_len(L, idx) == 2) {
    for (int k = 0; k < 2; k++) {
      lua_geti(L, idx, k + 1);
      int ok;
      out[k] = lua_tointegerx(L, -1, &ok);
      lua_pop(L, 1);
      if (!ok) luaL_error(L, "%s: %s must be an integer or a pair of integers", fn, what);
    }
  } else {
    int ok;
    out[0] = out[1] = lua_tointegerx(L, idx, &ok);
    if (!ok) luaL_error(L, "%s: %s must be an integer or a pair of integers", fn, what);
  }
  if (out[0] < 0 || out[1] < 0) luaL_error(L, "%s: %s must not be negative", fn, what);
}

static void pair_field(lua_State *L, int opts, const char *fn, const char *name, int64_t def, int64_t out[2]) {
  if (lua_isnoneornil(L, opts)) {
    out[0] = out[1] = def;
    return;
  }
  luaL_checktype(L, opts, LUA_TTABLE);
  lua_getfield(L, opts, name);
  pair_at(L, lua_gettop(L), fn, name, def, out);
  lua_pop(L, 1);
}

/* Linear(in, out [, {bias = true}]) */
static int nn_linear(lua_State *L) {
  lua_Integer in = luaL_checkinteger(L, 1), out = luaL_checkinteger(L, 2);
  int bias = lt_optbool_field(L, 3, "bias", 1);
  layer_box *b = new_layer_box(L);
  return push_layer(L, b, lt_nn_linear(in, out, bias));
}

static int conv_common(lua_State *L, const char *fn, bool transposed) {
  lua_Integer in = luaL_checkinteger(L, 1), out = luaL_checkinteger(L, 2);
  int64_t kernel[2], s[8];
  pair_at(L, 3, fn, "kernel_size", -1, kernel);
  if (kernel[0] < 1 || kernel[1] < 1) return luaL_error(L, "%s: kernel_size must be positive", fn);
  pair_field(L, 4, fn, "stride", 1, s);
  pair_field(L, 4, fn, "padding", 0, s + 2);
  pair_field(L, 4, fn, "output_padding", 0, s + 4);
  pair_field(L, 4, fn, "dilation", 1, s + 6);
  if (s[0] < 1 || s[1] < 1 || s[6] < 1 || s[7] < 1) return luaL_error(L, "%s: stride and dilation must be positive", fn);
  if (!transposed && (s[4] || s[5])) return luaL_error(L, "%s: output_padding is for ConvTranspose2d", fn);
  int bias = lt_optbool_field(L, 4, "bias", 1);
  layer_box *b = new_layer_box(L);
  return push_layer(L, b, transposed ? lt_nn_conv_transpose2d(in, out, kernel, s, bias)
                                     : lt_nn_conv2d(in, out, kernel, s, bias));
}

/* Conv2d(in, out, kernel [, {stride, padding, dilation, bias}]) */
static int nn_conv2d(lua_State *L) { return conv_common(L, "Conv2d", false); }
/* ConvTranspose2d(in, out, kernel [, {stride, padding, output_padding, dilation, bias}]) */
static int nn_conv_transpose2d(lua_State *L) { return conv_common(L, "ConvTranspose2d", true); }

static int batch_norm_common(lua_State *L, int dims) {
  lua_Integer c = luaL_checkinteger(L, 1);
  double momentum = lt_optnum_field(L, 2, "momentum", 0.1), eps = lt_optnum_field(L, 2, "eps", 1e-5);
  int affine = lt_optbool_field(L, 2, "affine", 1);
  layer_box *b = new_layer_box(L);
  return push_layer(L, b, lt_nn_batch_norm(dims, c, momentum, eps, affine));
}

/* BatchNorm1d(channels [, {momentum = 0.1, eps = 1e-5, affine = true}]) */
static int nn_batch_norm1d(lua_State *L) { return batch_norm_common(L, 2); }
static int nn_batch_norm2d(lua_State *L) { return batch_norm_common(L, 4); }

static int nn_leaky_relu(lua_State *L) {
  double slope = luaL_optnumber(L, 1, 0.01);
  layer_box *b = new_layer_box(L);
  return push_layer(L, b, lt_nn_leaky_relu(slope));
}

static int nn_elu(lua_State *L) {
  double alpha = luaL_optnumber(L, 1, 1.0);
  layer_box *b = new_layer_box(L);
  return push_layer(L, b, lt_nn_elu(alpha));
}

/* Softplus([beta = 1 [, threshold = 20]]) */
static int nn_softplus(lua_State *L) {
  double beta = luaL_optnumber(L, 1, 1.0), threshold = luaL_optnumber(L, 2, 20.0);
  layer_box *b = new_layer_box(L);
  return push_layer(L, b, lt_nn_softplus(beta, threshold));
}

static int nn_dropout(lua_State *L) {
  double p = luaL_optnumber(L, 1, 0.5);
  layer_box *b = new_layer_box(L);
  return push_layer(L, b, lt_nn_dropout(p));
}

/* MaxPool2d(kernel [, {stride = kernel, padding = 0}]) */
static int nn_max_pool2d(lua_State *L) {
  int64_t kernel[2], stride[2], padding[2];
  pair_at(L, 1, "MaxPool2d", "kernel_size", -1, kernel);
  if (kernel[0] < 1 || kernel[1] < 1) return luaL_error(L, "MaxPool2d: kernel_size must be positive");
  pair_field(L, 2, "MaxPool2d", "stride", -1, stride);
  if (stride[0] < 0) stride[0] = kernel[0], stride[1] = kernel[1];
  pair_field(L, 2, "MaxPool2d", "padding", 0, padding);
  layer_box *b = new_layer_box(L);
  return push_layer(L, b, lt_nn_max_pool2d(kernel, stride, padding));
}

/* Upsample(scale) or Upsample{scale_factor = scale}: nearest neighbour */
static int nn_upsample(lua_State *L) {
  int64_t scale[2];
  if (lua_istable(L, 1) && luaL_len(L, 1) != 2) pair_field(L, 1, "Upsample", "scale_factor", -1, scale);
  else pair_at(L, 1, "Upsample", "scale_factor", -1, scale);
  if (scale[0] < 1 || scale[1] < 1) return luaL_error(L, "Upsample: scale_factor must be a positive integer");
  layer_box *b = new_layer_box(L);
  return push_layer(L, b, lt_nn_upsample(scale));
}

void lt_open_nn(lua_State *L, int module) {
  static const luaL_Reg meta[] = {{"__gc", layer_gc}, {"__close", layer_gc}, {"__call", layer_call},
                                  {"__tostring", layer_tostring}, {"__newindex", layer_newindex},
                                  {NULL, NULL}};
  static const luaL_Reg methods[] = {{"train", layer_train}, {"eval", layer_eval},
                                     {"own_tensors", layer_own_tensors}, {NULL, NULL}};
  static const luaL_Reg ctors[] = {{"Identity", nn_identity}, {"ReLU", nn_relu}, {"Sigmoid", nn_sigmoid},
                                   {"Tanh", nn_tanh}, {"Flatten", nn_flatten}, {"Unflatten", nn_unflatten},
                                   {"Linear", nn_linear}, {"Conv2d", nn_conv2d},
                                   {"ConvTranspose2d", nn_conv_transpose2d}, {"BatchNorm1d", nn_batch_norm1d},
                                   {"BatchNorm2d", nn_batch_norm2d}, {"LeakyReLU", nn_leaky_relu},
                                   {"ELU", nn_elu}, {"Softplus", nn_softplus}, {"Dropout", nn_dropout},
                                   {"MaxPool2d", nn_max_pool2d}, {"Upsample", nn_upsample}, {NULL, NULL}};
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
