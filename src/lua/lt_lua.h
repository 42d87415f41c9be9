/* Helpers shared by the Lua bindings: the tensor userdata, argument checks
 * that name the function and argument, and memory reporting to Lua's collector.
 *
 * Every binding follows one order (STYLE 2.5): check the arguments, create
 * the result's userdata (holding NULL), then compute and store the result, so
 * that an error raised at any point leaks nothing. */
#ifndef LT_LUA_H
#define LT_LUA_H

#include <lauxlib.h>
#include <lua.h>

#if LUA_VERSION_NUM < 504
#error "latent needs Lua 5.4"
#endif

#include "core/lt_error.h"
#include "core/lt_tensor.h"

#define LT_TENSOR_MT "latent.Tensor"

typedef struct { lt_tensor *t; } lt_box;

/* ---- tensors on the Lua stack ---- */
lt_tensor *lt_checktensor(lua_State *L, int arg);      /* raises on non-tensor or a closed tensor */
lt_tensor *lt_totensor(lua_State *L, int arg);         /* NULL when not a live tensor */
lt_box *lt_newbox(lua_State *L);                       /* pushes a tensor userdata holding NULL */
/* Stores t (a new reference, or NULL after a failed core call) in the box on
 * top of the stack and returns 1; raises lt_errmsg() when t is NULL. */
int lt_push_result(lua_State *L, lt_box *box, lt_tensor *t);
/* Pushes a new userdata owning t (a new reference); raises if t is NULL. */
int lt_push_tensor(lua_State *L, lt_tensor *t);
/* For core calls returning lt_status: raise the message unless LT_OK. */
int lt_raise(lua_State *L);
#define LT_CHECK(L, call) do { if ((call) != LT_OK) lt_raise(L); } while (0)

/* A tensor, or a number turned into a scalar tensor; pushed nothing, but the
 * returned reference must be released (use for operands of mixed arithmetic). */
lt_tensor *lt_checkoperand(lua_State *L, int arg);

/* ---- numbers, dims, shapes ---- */
/* A 1-based dimension of t (negative counts from the end), converted to 0-based.
 * `extra` allows one past the last (for unsqueeze). */
int lt_checkdim(lua_State *L, int arg, const lt_tensor *t, int extra);
/* A size given as integers from `arg` on (2, 3) or as one table {2, 3};
 * returns the number of dims. An empty table or no sizes gives a scalar. */
int lt_checkshape(lua_State *L, int arg, int64_t shape[LT_MAX_DIMS]);
float lt_checkfloat(lua_State *L, int arg);
/* Options table fields, named in errors: "conv2d: option 'stride' must be an integer". */
lua_Integer lt_optint_field(lua_State *L, int opts, const char *name, lua_Integer def);
lua_Number lt_optnum_field(lua_State *L, int opts, const char *name, lua_Number def);
int lt_optbool_field(lua_State *L, int opts, const char *name, int def);

/* ---- memory ---- */
/* Reports bytes the engine allocated since the last report to the collector. */
void lt_account(lua_State *L);

/* ---- registration ---- */
/* Adds `fns` to the module table at `module` and `methods` to the tensor
 * methods table (either may be NULL). */
void lt_register(lua_State *L, int module, const luaL_Reg *fns, const luaL_Reg *methods);
void lt_push_methods(lua_State *L); /* pushes the tensor methods table */

/* Each binding file exposes one of these; l_init.c calls them all. */
void lt_open_tensor(lua_State *L, int module);    /* l_tensor.c: creation, inspection */
void lt_open_view(lua_State *L, int module);      /* l_view.c: views, indexing, joining */
void lt_open_math(lua_State *L, int module);      /* l_math.c: elementwise math */
void lt_open_reduce(lua_State *L, int module);    /* l_reduce.c: reductions, matmul */
void lt_open_autograd(lua_State *L, int module);  /* l_autograd.c: backward, grad mode */
void lt_open_conv(lua_State *L, int module);      /* l_conv.c: conv2d, conv_transpose2d, pooling */
void lt_open_nnops(lua_State *L, int module);     /* l_nnops.c: linear, batch_norm, activations, losses */
void lt_open_optim(lua_State *L, int module);     /* l_optim.c: optimizers */
void lt_open_io(lua_State *L, int module);        /* l_io.c: safetensors files, generator state */
void lt_open_nn(lua_State *L, int module);        /* l_nn.c: layers */
void lt_open_profile(lua_State *L, int module);   /* l_profile.c: the per-op timer (core.profile) */
void lt_open_data(lua_State *L, int module);      /* l_data.c: uint8 data sets (core.data) */
void lt_open_plot(lua_State *L, int module);      /* l_plot.c: figure canvas, PNG files */
void lt_open_sys(lua_State *L, int module);       /* l_sys.c: isatty, terminal width, mkdir, atomic text files */

void lt_open_corrupt(lua_State *L, int module);   /* l_corrupt.c: corruption schemes (core.corrupt) */
void lt_open_tsne(lua_State *L, int module);      /* l_tsne.c: t-SNE embeddings (core.tsne) */
void lt_open_analysis(lua_State *L, int module);  /* l_analysis.c: lt.knn, PCA and metrics (core.analysis) */
#endif
