/* Bindings: optimizers as "latent.Optimizer" userdata, and clip_grad_norm.
 *
 *   local opt = core.optimizers.Adam({w, b}, {lr = 1e-3, betas = {0.9, 0.999}})
 *   opt:zero_grad(); loss:backward(); opt:step()
 *   opt.lr = 1e-4                         -- or opt:set_lr(1e-4)
 *   local tensors, meta = opt:state_dict() -- copies; opt:load_state_dict(tensors, meta)
 *
 * The optimizer references its parameters, so they live as long as it does.
 * lua/latent/optim.lua re-exports the constructors and adds the schedules. */
#include "lua/lt_lua.h"
#include "optim/optim.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define LT_OPTIM_MT "latent.Optimizer"

typedef struct { lt_optim *o; } optim_box;

static lt_optim *check_optim(lua_State *L, int arg) {
  optim_box *b = luaL_checkudata(L, arg, LT_OPTIM_MT);
  if (!b->o) luaL_argerror(L, arg, "optimizer was closed");
  return b->o;
}

/* ==================== options ==================== */

typedef enum { OPT_NUM, OPT_BOOL, OPT_PAIR } opt_type;
typedef struct { const char *name; opt_type type; size_t offset; } opt_spec;

static const opt_spec SPECS[] = {
  {"lr", OPT_NUM, offsetof(lt_optim_config, lr)},
  {"momentum", OPT_NUM, offsetof(lt_optim_config, momentum)},
  {"dampening", OPT_NUM, offsetof(lt_optim_config, dampening)},
  {"weight_decay", OPT_NUM, offsetof(lt_optim_config, weight_decay)},
  {"alpha", OPT_NUM, offsetof(lt_optim_config, alpha)},
  {"eps", OPT_NUM, offsetof(lt_optim_config, eps)},
  {"betas", OPT_PAIR, offsetof(lt_optim_config, beta1)},
  {"nesterov", OPT_BOOL, offsetof(lt_optim_config, nesterov)},
  {"centered", OPT_BOOL, offsetof(lt_optim_config, centered)},
  {"amsgrad", OPT_BOOL, offsetof(lt_optim_config, amsgrad)},
};

static const opt_spec *find_spec(const lt_optim_kind *kind, const char *name) {
  bool accepted = false;
  for (const char *const *o = kind->options; *o && !accepted; o++) accepted = !strcmp(*o, name);
  if (!accepted) return NULL;
  for (size_t k = 0; k < sizeof SPECS / sizeof SPECS[0]; k++)
    if (!strcmp(SPECS[k].name, name)) return &SPECS[k];
  return NULL;
}

static void push_option_list(lua_State *L, const lt_optim_kind *kind) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (const char *const *o = kind->options; *o; o++) {
    if (o != kind->options) luaL_addstring(&b, ", ");
    luaL_addstring(&b, *o);
  }
  luaL_pushresult(&b);
}

/* Reads the value on top of the stack into cfg as option `s`; pops it. */
static void read_option(lua_State *L, const char *who, const opt_spec *s, lt_optim_config *cfg) {
  char *field = (char *)cfg + s->offset;
  if (s->type == OPT_NUM) {
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "%s: option '%s' must be a number, got %s", who, s->name, luaL_typename(L, -1));
    *(double *)field = lua_tonumber(L, -1);
  } else if (s->type == OPT_BOOL) {
    if (!lua_isboolean(L, -1))
      luaL_error(L, "%s: option '%s' must be a boolean, got %s", who, s->name, luaL_typename(L, -1));
    *(bool *)field = lua_toboolean(L, -1);
  } else {
    bool ok = lua_istable(L, -1) && lua_rawlen(L, -1) == 2;
    double v[2];
    for (int k = 0; ok && k < 2; k++) {
      ok = lua_rawgeti(L, -1, k + 1) == LUA_TNUMBER;
      v[k] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    if (!ok) luaL_error(L, "%s: option '%s' must be a table of two numbers", who, s->name);
    ((double *)field)[0] = v[0]; /* beta1, beta2: adjacent in lt_optim_config */
    ((double *)field)[1] = v[1];
  }
  lua_pop(L, 1);
}

/* Every key of the options table at `opts` must be an option of `kind`. */
static void read_options(lua_State *L, int opts, const lt_optim_kind *kind, lt_optim_config *cfg) {
  if (lua_isnoneornil(L, opts)) return;
  if (!lua_istable(L, opts))
    luaL_error(L, "%s: options must be a table, got %s", kind->name, luaL_typename(L, opts));
  lua_pushnil(L);
  while (lua_next(L, opts)) {
    const opt_spec *s = lua_type(L, -2) == LUA_TSTRING ? find_spec(kind, lua_tostring(L, -2)) : NULL;
    if (!s) {
      const char *key = luaL_tolstring(L, -2, NULL);
      push_option_list(L, kind);
      luaL_error(L, "%s: unknown option '%s' (%s takes %s)", kind->name, key, kind->name,
                 lua_tostring(L, -1));
    }
    read_option(L, kind->name, s, cfg);
  }
}

/* ==================== construction ==================== */

/* The tensors of the list at `arg`, as borrowed pointers in a scratch userdata
 * pushed on the stack (collected with it, so an error leaks nothing). */
static lt_tensor **check_tensor_list(lua_State *L, int arg, const char *who, int *n) {
  if (lt_totensor(L, arg))
    luaL_error(L, "%s: params must be a list of tensors, got one tensor (wrap it: {t})", who);
  if (!lua_istable(L, arg))
    luaL_error(L, "%s: params must be a list of tensors, got %s", who, luaL_typename(L, arg));
  lua_Unsigned len = lua_rawlen(L, arg);
  if (len > 1000000) luaL_error(L, "%s: too many parameters (%d)", who, (int)len);
  lt_tensor **ts = lua_newuserdatauv(L, (len ? len : 1) * sizeof *ts, 0);
  for (lua_Unsigned i = 0; i < len; i++) {
    lua_rawgeti(L, arg, (lua_Integer)i + 1);
    if (!(ts[i] = lt_totensor(L, -1))) {
      if (luaL_testudata(L, -1, LT_TENSOR_MT))
        luaL_error(L, "%s: parameter %d is a closed tensor", who, (int)i + 1);
      luaL_error(L, "%s: parameter %d is a %s, expected a tensor", who, (int)i + 1, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
  }
  *n = (int)len;
  return ts;
}

static int new_optimizer(lua_State *L, const lt_optim_kind *kind) {
  lua_settop(L, 2);
  int n;
  lt_tensor **params = check_tensor_list(L, 1, kind->name, &n);
  lt_optim_config cfg = kind->defaults;
  read_options(L, 2, kind, &cfg);
  if (kind->lr_required && (!lua_istable(L, 2) || lua_getfield(L, 2, "lr") == LUA_TNIL))
    return luaL_error(L, "%s: option 'lr' is required", kind->name);
  optim_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->o = NULL;
  luaL_setmetatable(L, LT_OPTIM_MT);
  LT_CHECK(L, lt_optim_new(&b->o, kind, &cfg, n, params));
  return 1;
}

static int optim_sgd(lua_State *L) { return new_optimizer(L, &lt_optim_sgd); }
static int optim_rmsprop(lua_State *L) { return new_optimizer(L, &lt_optim_rmsprop); }
static int optim_adam(lua_State *L) { return new_optimizer(L, &lt_optim_adam); }
static int optim_adamw(lua_State *L) { return new_optimizer(L, &lt_optim_adamw); }

/* ==================== methods ==================== */

/* opt:step([closure]): calls closure() first when given and returns its result */
static int o_step(lua_State *L) {
  check_optim(L, 1);
  int nres = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    lua_call(L, 0, 1);
    nres = 1;
  }
  LT_CHECK(L, lt_optim_step(check_optim(L, 1))); /* the closure may have closed it */
  lt_account(L);
  return nres;
}

/* opt:zero_grad([set_to_none = true]) */
static int o_zero_grad(lua_State *L) {
  lt_optim *o = check_optim(L, 1);
  bool none = true;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TBOOLEAN);
    none = lua_toboolean(L, 2);
  }
  lt_optim_zero_grad(o, none);
  return 0;
}

static int o_set_lr(lua_State *L) {
  lt_optim *o = check_optim(L, 1);
  LT_CHECK(L, lt_optim_set_lr(o, luaL_checknumber(L, 2)));
  return 0;
}

static int o_get_lr(lua_State *L) {
  lua_pushnumber(L, check_optim(L, 1)->cfg.lr);
  return 1;
}

static int o_param_count(lua_State *L) {
  lua_pushinteger(L, check_optim(L, 1)->n_params);
  return 1;
}

/* opt:params() -> the list of parameter tensors (the same tensors, not copies) */
static int o_params(lua_State *L) {
  lt_optim *o = check_optim(L, 1);
  lua_createtable(L, o->n_params, 0);
  for (int i = 0; i < o->n_params; i++) {
    lt_push_tensor(L, lt_tensor_retain(o->params[i]));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* Pushes the value of option `s` of o's configuration. */
static void push_option(lua_State *L, const lt_optim_config *cfg, const opt_spec *s) {
  const char *field = (const char *)cfg + s->offset;
  if (s->type == OPT_NUM) {
    lua_pushnumber(L, *(const double *)field);
  } else if (s->type == OPT_BOOL) {
    lua_pushboolean(L, *(const bool *)field);
  } else {
    lua_createtable(L, 2, 0);
    lua_pushnumber(L, ((const double *)field)[0]);
    lua_rawseti(L, -2, 1);
    lua_pushnumber(L, ((const double *)field)[1]);
    lua_rawseti(L, -2, 2);
  }
}

/* opt:state_dict() -> tensors, meta
 * tensors: {["1.exp_avg"] = copy, ...}: fresh copies, safe to keep or change;
 * meta: {type = "Adam", step = {counts...}, lr = ..., betas = {...}, ...}. */
static int o_state_dict(lua_State *L) {
  lt_optim *o = check_optim(L, 1);
  lua_newtable(L);
  for (int i = 0; i < o->n_params; i++) {
    for (int s = 0; s < lt_optim_n_slots(o->kind); s++) {
      lt_tensor *t = lt_optim_state(o, i, s);
      if (!t) continue;
      lua_pushfstring(L, "%d.%s", i + 1, o->kind->slot_names[s]);
      lt_box *b = lt_newbox(L);
      lt_push_result(L, b, lt_tensor_copy_values(t));
      lua_rawset(L, -3);
    }
  }
  lua_newtable(L);
  lua_pushstring(L, o->kind->name);
  lua_setfield(L, -2, "type");
  lua_createtable(L, o->n_params, 0);
  for (int i = 0; i < o->n_params; i++) {
    lua_pushinteger(L, o->steps[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "step");
  for (const char *const *name = o->kind->options; *name; name++) {
    push_option(L, &o->cfg, find_spec(o->kind, *name));
    lua_setfield(L, -2, *name);
  }
  return 2;
}

/* Parses the key on top-1 ("2.exp_avg") into a parameter index and a slot. */
static void parse_key(lua_State *L, lt_optim *o, int *i, int *slot) {
  const char *who = o->kind->name;
  const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
  char *dot = NULL;
  long idx = key ? strtol(key, &dot, 10) : 0;
  if (!key || dot == key || *dot != '.') {
    luaL_tolstring(L, -2, NULL);
    luaL_error(L, "%s: load_state_dict: key '%s' is not of the form '<parameter>.<state name>'", who,
               lua_tostring(L, -1));
  }
  if (idx < 1 || idx > o->n_params)
    luaL_error(L, "%s: load_state_dict: key '%s' names parameter %d, the optimizer has %d", who, key,
               (int)idx, o->n_params);
  if ((*slot = lt_optim_slot(o->kind, dot + 1)) < 0) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int s = 0; s < lt_optim_n_slots(o->kind); s++) {
      if (s) luaL_addstring(&b, ", ");
      luaL_addstring(&b, o->kind->slot_names[s]);
    }
    luaL_pushresult(&b);
    luaL_error(L, "%s: load_state_dict: unknown key '%s' (%s keeps %s)", who, key, who, lua_tostring(L, -1));
  }
  if (!lt_totensor(L, -1))
    luaL_error(L, "%s: load_state_dict: '%s' is a %s, expected a tensor", who, key, luaL_typename(L, -1));
  *i = (int)idx - 1;
}

static void read_steps(lua_State *L, lt_optim *o, int meta, int64_t *steps) {
  const char *who = o->kind->name;
  if (lua_getfield(L, meta, "step") != LUA_TTABLE)
    luaL_error(L, "%s: load_state_dict: meta.step must be a list of step counts", who);
  if (lua_rawlen(L, -1) != (lua_Unsigned)o->n_params)
    luaL_error(L, "%s: load_state_dict: the state has %d parameters, the optimizer %d", who,
               (int)lua_rawlen(L, -1), o->n_params);
  for (int i = 0; i < o->n_params; i++) {
    lua_rawgeti(L, -1, i + 1);
    int ok;
    steps[i] = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "%s: load_state_dict: meta.step[%d] must be an integer", who, i + 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* opt:load_state_dict(tensors, meta): restores hyper-parameters, step counts
 * and state (copied), so training continues exactly where it stopped. */
static int o_load_state_dict(lua_State *L) {
  lt_optim *o = check_optim(L, 1);
  const char *who = o->kind->name;
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  if (lua_getfield(L, 3, "type") != LUA_TSTRING || strcmp(lua_tostring(L, -1), who) != 0)
    return luaL_error(L, "%s: load_state_dict: the state is for %s, not %s", who,
                      lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "an unknown type", who);
  lua_pop(L, 1);
  int64_t *steps = lua_newuserdatauv(L, (size_t)o->n_params * sizeof *steps, 0);
  read_steps(L, o, 3, steps);
  lt_optim_config cfg = o->cfg;
  for (const char *const *name = o->kind->options; *name; name++) {
    if (lua_getfield(L, 3, *name) == LUA_TNIL) lua_pop(L, 1);
    else read_option(L, who, find_spec(o->kind, *name), &cfg);
  }
  size_t n = (size_t)o->n_params * LT_OPTIM_SLOTS;
  lt_tensor **state = lua_newuserdatauv(L, n * sizeof *state, 0);
  memset(state, 0, n * sizeof *state);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    int i, slot;
    parse_key(L, o, &i, &slot);
    state[i * LT_OPTIM_SLOTS + slot] = lt_totensor(L, -1); /* kept alive by the table */
    lua_pop(L, 1);
  }
  LT_CHECK(L, lt_optim_load(o, &cfg, steps, state));
  lt_account(L);
  return 0;
}

/* ==================== metamethods ==================== */

static int o_gc(lua_State *L) {
  optim_box *b = luaL_checkudata(L, 1, LT_OPTIM_MT);
  lt_optim_free(b->o);
  b->o = NULL;
  return 0;
}

/* fields: lr, type (= name), and the kind's options (betas as {b1, b2}) */
static int o_index(lua_State *L) {
  lt_optim *o = check_optim(L, 1);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1; /* a method */
  const char *k = lua_tostring(L, 2);
  if (!k) return 1;
  if (!strcmp(k, "type") || !strcmp(k, "name")) {
    lua_pushstring(L, o->kind->name);
    return 1;
  }
  const opt_spec *s = find_spec(o->kind, k);
  if (s) push_option(L, &o->cfg, s);
  else lua_pushnil(L);
  return 1;
}

static int o_newindex(lua_State *L) {
  lt_optim *o = check_optim(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "lr") != 0)
    return luaL_error(L, "%s: cannot set '%s'; only lr can change (opt.lr = x)", o->kind->name, k);
  if (lua_type(L, 3) != LUA_TNUMBER)
    return luaL_error(L, "%s: lr must be a number, got %s", o->kind->name, luaL_typename(L, 3));
  LT_CHECK(L, lt_optim_set_lr(o, lua_tonumber(L, 3)));
  return 0;
}

static int o_tostring(lua_State *L) {
  optim_box *b = luaL_checkudata(L, 1, LT_OPTIM_MT);
  if (!b->o) {
    lua_pushstring(L, "Optimizer(closed)");
    return 1;
  }
  luaL_Buffer buf;
  luaL_buffinit(L, &buf);
  lua_pushfstring(L, "%s(", b->o->kind->name);
  luaL_addvalue(&buf);
  for (const char *const *name = b->o->kind->options; *name; name++) {
    const opt_spec *s = find_spec(b->o->kind, *name);
    const char *field = (const char *)&b->o->cfg + s->offset;
    if (s->type == OPT_NUM) lua_pushfstring(L, "%s=%f, ", *name, *(const double *)field);
    else if (s->type == OPT_BOOL) lua_pushfstring(L, "%s=%s, ", *name, *(const bool *)field ? "true" : "false");
    else lua_pushfstring(L, "%s={%f, %f}, ", *name, ((const double *)field)[0], ((const double *)field)[1]);
    luaL_addvalue(&buf);
  }
  lua_pushfstring(L, "%d parameters)", b->o->n_params);
  luaL_addvalue(&buf);
  luaL_pushresult(&buf);
  return 1;
}

/* ==================== gradient clipping ==================== */

/* clip_grad_norm(params, max_norm) -> total norm before clipping */
static int optim_clip_grad_norm(lua_State *L) {
  lua_settop(L, 2);
  int n = 1;
  lt_tensor *one = lt_totensor(L, 1);
  lt_tensor **params = one ? &one : check_tensor_list(L, 1, "clip_grad_norm", &n);
  if (lua_type(L, 2) != LUA_TNUMBER)
    return luaL_error(L, "clip_grad_norm: max_norm must be a number, got %s", luaL_typename(L, 2));
  double total;
  LT_CHECK(L, lt_clip_grad_norm(n, params, lua_tonumber(L, 2), &total));
  lua_pushnumber(L, total);
  return 1;
}

void lt_open_optim(lua_State *L, int module) {
  static const luaL_Reg meta[] = {{"__gc", o_gc}, {"__close", o_gc}, {"__newindex", o_newindex},
                                  {"__tostring", o_tostring}, {NULL, NULL}};
  static const luaL_Reg methods[] = {
    {"step", o_step}, {"zero_grad", o_zero_grad}, {"set_lr", o_set_lr}, {"get_lr", o_get_lr},
    {"param_count", o_param_count}, {"params", o_params}, {"state_dict", o_state_dict},
    {"load_state_dict", o_load_state_dict}, {NULL, NULL}};
  static const luaL_Reg fns[] = {{"SGD", optim_sgd}, {"RMSprop", optim_rmsprop}, {"Adam", optim_adam},
                                 {"AdamW", optim_adamw}, {"clip_grad_norm", optim_clip_grad_norm},
                                 {NULL, NULL}};
  luaL_newmetatable(L, LT_OPTIM_MT);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_pushcclosure(L, o_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  lua_setfield(L, module, "optimizers");
}
