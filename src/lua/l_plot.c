/* Bindings: the figure canvas as "latent.Canvas" userdata, PNG files.
 *
 *   local P = core.plot
 *   local c = P.Canvas(640, 480)                     -- white; or P.Canvas(w, h, "#202020")
 *   c:line(10, 20.5, 300, 20.5, {color = "#1f77b4", width = 2, alpha = 1, dash = {6, 4}})
 *   c:polyline(pts, opts)                            -- N x 2 tensor or {x1, y1, x2, y2, ...}; NaN breaks it
 *   c:polygon(pts, {color = ..., alpha = 0.25})      -- filled, non-zero rule
 *   c:rect(x0, y0, x1, y1, {fill = color, stroke = color, width = 1, alpha = 1})
 *   c:circle(x, y, r, {color = ..., alpha = ...})
 *   c:points(xy, {radius = 3, alpha = 0.6, color = c | palette = {c1, c2, ...}, classes = t, depth = t})
 *   c:text(x, y, "text", {scale = 2, color = ..., rotate = false, align = "left", valign = "top"})
 *   c:image(t, x, y, {zoom = 1, min = 0, max = 1})   -- H x W (or 1 x H x W) grey levels
 *   c:save("fig.png")                                -- atomic
 *   local r, g, b = c:pixel(col, row)                -- 1-based
 *   local w, h = P.text_size("text", scale)
 *   local t = P.read_png("fig.png")                  -- H x W x C tensor of 0..255
 *
 * Coordinates are pixels from the canvas's top-left corner (canvas.h).
 * Colours are "#rrggbb" strings or {r, g, b} tables of 0..255. */
#include "lua/lt_lua.h"
#include "plot/canvas.h"

#include <math.h>
#include <string.h>

#define CANVAS_MT "latent.Canvas"

typedef struct { lt_canvas *c; } canvas_box;

static lt_canvas *check_canvas(lua_State *L, int arg) {
  canvas_box *b = luaL_checkudata(L, arg, CANVAS_MT);
  if (!b->c) luaL_argerror(L, arg, "canvas was closed");
  return b->c;
}

static int c_gc(lua_State *L) {
  canvas_box *b = luaL_checkudata(L, 1, CANVAS_MT);
  lt_canvas_free(b->c);
  b->c = NULL;
  return 0;
}

/* ==================== argument helpers ==================== */

static int hexdigit(char ch) {
  return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* A colour at stack index idx, or raises naming fn and what. */
static lt_rgb check_color(lua_State *L, int idx, const char *fn, const char *what) {
  uint8_t v[3];
  int ok = 0;
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    ok = len == 7 && s[0] == '#';
    for (int k = 0; ok && k < 3; k++) {
      int hi = hexdigit(s[1 + 2 * k]), lo = hexdigit(s[2 + 2 * k]);
      ok = hi >= 0 && lo >= 0;
      v[k] = (uint8_t)(16 * hi + lo);
    }
  } else if (lua_istable(L, idx) && lua_rawlen(L, idx) == 3) {
    ok = 1;
    for (int k = 0; k < 3; k++) {
      lua_rawgeti(L, idx, k + 1);
      lua_Number n = lua_tonumber(L, -1);
      ok = ok && lua_type(L, -1) == LUA_TNUMBER && n >= 0 && n <= 255;
      v[k] = ok ? (uint8_t)(n + 0.5) : 0;
      lua_pop(L, 1);
    }
  }
  if (!ok)
    luaL_error(L, "%s: %s must be a colour like \"#1f77b4\" or {31, 119, 180}, got %s", fn, what,
               lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : luaL_typename(L, idx));
  return (lt_rgb){v[0], v[1], v[2]};
}

/* Option `name` of the table at opts as a colour, or def when absent. */
static lt_rgb opt_color(lua_State *L, int opts, const char *fn, const char *name, lt_rgb def) {
  if (!lua_istable(L, opts)) return def;
  lua_getfield(L, opts, name);
  if (!lua_isnil(L, -1)) {
    char what[64];
    snprintf(what, sizeof what, "option '%s'", name);
    def = check_color(L, -1, fn, what);
  }
  lua_pop(L, 1);
  return def;
}

static int has_field(lua_State *L, int opts, const char *name) {
  if (!lua_istable(L, opts)) return 0;
  int present = lua_getfield(L, opts, name) != LUA_TNIL;
  lua_pop(L, 1);
  return present;
}

/* A number option that must be within [lo, hi] (so not NaN). */
static float opt_num(lua_State *L, int opts, const char *fn, const char *name, double def, double lo, double hi) {
  double v = lua_istable(L, opts) ? lt_optnum_field(L, opts, name, def) : def;
  if (!(v >= lo && v <= hi)) {
    char msg[160]; /* lua_pushfstring has no %g */
    snprintf(msg, sizeof msg, "option '%s' must be in [%g, %g], got %g", name, lo, hi, v);
    luaL_error(L, "%s: %s", fn, msg);
  }
  return (float)v;
}

static void check_opts(lua_State *L, int idx) {
  if (!lua_isnoneornil(L, idx)) luaL_checktype(L, idx, LUA_TTABLE);
}

static float check_coord(lua_State *L, int arg) {
  lua_Number v = luaL_checknumber(L, arg);
  return (float)v;
}

/* A stroke from options color, alpha, width and dash = {on, off}. */
static lt_stroke opt_stroke(lua_State *L, int opts, const char *fn) {
  lt_stroke s = {opt_color(L, opts, fn, "color", (lt_rgb){0, 0, 0}), opt_num(L, opts, fn, "alpha", 1, 0, 1),
                 opt_num(L, opts, fn, "width", 1, 0, 1000), 0, 0};
  if (!has_field(L, opts, "dash")) return s;
  lua_getfield(L, opts, "dash");
  int ok = lua_istable(L, -1) && lua_rawlen(L, -1) == 2;
  if (ok) {
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    s.dash_on = (float)lua_tonumber(L, -2), s.dash_off = (float)lua_tonumber(L, -1);
    lua_pop(L, 2);
  }
  if (!ok || !(s.dash_on >= 0.25f && s.dash_off >= 0.25f && s.dash_on <= 1e4f && s.dash_off <= 1e4f))
    luaL_error(L, "%s: option 'dash' must be {on, off}: two lengths in pixels in [0.25, 10000]", fn);
  lua_pop(L, 1);
  return s;
}

/* Points at arg (an N x 2 tensor or a flat table x1, y1, x2, y2, ...) as
 * floats in a new userdata left on the stack; returns them and sets *n. */
static float *check_points(lua_State *L, int arg, const char *fn, int64_t *n) {
  lt_tensor *t = lt_totensor(L, arg);
  if (t) {
    char buf[LT_SHAPE_STR];
    if (t->ndim != 2 || t->shape[1] != 2)
      luaL_error(L, "%s: points must be an N x 2 tensor, got %s", fn, LT_SHAPE(t, buf));
    *n = t->shape[0];
    float *xy = lua_newuserdatauv(L, (size_t)(*n * 2) * sizeof(float) + 1, 0);
    for (int64_t k = 0; k < *n; k++) {
      xy[2 * k] = lt_tensor_data(t)[k * t->stride[0]];
      xy[2 * k + 1] = lt_tensor_data(t)[k * t->stride[0] + t->stride[1]];
    }
    return xy;
  }
  if (!lua_istable(L, arg)) luaL_error(L, "%s: points must be an N x 2 tensor or a table {x1, y1, x2, y2, ...}, got %s",
                                       fn, luaL_typename(L, arg));
  lua_Integer len = (lua_Integer)lua_rawlen(L, arg);
  if (len % 2) luaL_error(L, "%s: points table has %d numbers; it needs x, y pairs", fn, (int)len);
  *n = len / 2;
  float *xy = lua_newuserdatauv(L, (size_t)len * sizeof(float) + 1, 0);
  for (lua_Integer k = 0; k < len; k++) {
    lua_rawgeti(L, arg, k + 1);
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "%s: points[%d] must be a number, got %s", fn, (int)k + 1, luaL_typename(L, -1));
    xy[k] = (float)lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  return xy;
}

/* ==================== the canvas ==================== */

/* Canvas(width, height [, background]) */
static int plot_canvas(lua_State *L) {
  lua_Integer w = luaL_checkinteger(L, 1), h = luaL_checkinteger(L, 2);
  lt_rgb bg = lua_isnoneornil(L, 3) ? (lt_rgb){255, 255, 255} : check_color(L, 3, "Canvas", "background");
  if (w < 1 || h < 1 || w > LT_CANVAS_MAX_SIDE || h > LT_CANVAS_MAX_SIDE)
    return luaL_error(L, "Canvas: size %dx%d out of range [1, %d] per side", (int)w, (int)h, LT_CANVAS_MAX_SIDE);
  canvas_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->c = NULL;
  luaL_setmetatable(L, CANVAS_MT);
  b->c = lt_canvas_new((int)w, (int)h, bg);
  if (!b->c) return lt_raise(L);
  lt_account(L);
  return 1;
}

static int c_size(lua_State *L) {
  lt_canvas *c = check_canvas(L, 1);
  lua_pushinteger(L, c->width);
  lua_pushinteger(L, c->height);
  return 2;
}

static int c_clear(lua_State *L) {
  lt_canvas *c = check_canvas(L, 1);
  lt_canvas_clear(c, lua_isnoneornil(L, 2) ? (lt_rgb){255, 255, 255} : check_color(L, 2, "clear", "colour"));
  lua_settop(L, 1);
  return 1;
}

/* c:pixel(col, row) -> r, g, b (1-based) */
static int c_pixel(lua_State *L) {
  lt_canvas *c = check_canvas(L, 1);
  lua_Integer i = luaL_checkinteger(L, 2), j = luaL_checkinteger(L, 3);
  if (i < 1 || i > c->width || j < 1 || j > c->height)
    return luaL_error(L, "pixel: (%d, %d) outside the %dx%d canvas", (int)i, (int)j, c->width, c->height);
  const uint8_t *p = c->rgb + 3 * ((size_t)(j - 1) * c->width + (size_t)(i - 1));
  for (int k = 0; k < 3; k++) lua_pushinteger(L, p[k]);
  return 3;
}

static int c_line(lua_State *L) {
  lt_canvas *c = check_canvas(L, 1);
  float xy[4] = {check_coord(L, 2), check_coord(L, 3), check_coord(L, 4), check_coord(L, 5)};
  check_opts(L, 6);
  lt_stroke s = opt_stroke(L, 6, "line");
  LT_CHECK(L, lt_canvas_polyline(c, xy, 2, &s));
  lua_settop(L, 1);
  return 1;
}

static int c_polyline(lua_State *L) {
  lt_canvas *c = check_canvas(L, 1);
  check_opts(L, 3);
  lt_stroke s = opt_stroke(L, 3, "polyline");
  int64_t n;
  float *xy = check_points(L, 2, "polyline", &n);
  LT_CHECK(L, lt_canvas_polyline(c, xy, n, &s));
  lua_settop(L, 1);
  return 1;
}

static int c_polygon(lua_State *L) {
  lt_canvas *c = check_canvas(L, 1);
  check_opts(L, 3);
  lt_rgb col = opt_color(L, 3, "polygon", "color", (lt_rgb){0, 0, 0});
  float alpha = opt_num(L, 3, "polygon", "alpha", 1, 0, 1);
  int64_t n;
  float *xy = check_points(L, 2, "polygon", &n);
  LT_CHECK(L, lt_canvas_fill_polygon(c, xy, n, col, alpha));
  lua_settop(L, 1);
  return 1;
}

/* c:rect(x0, y0, x1, y1, {fill, stroke, width, alpha}); the stroke is centred on the edges */
static int c_rect(lua_State *L) {
  lt_canvas *c = check_canvas(L, 1);
  float x0 = check_coord(L, 2), y0 = check_coord(L, 3), x1 = check_coord(L, 4), y1 = check_coord(L, 5);
  check_opts(L, 6);
  float alpha = opt_num(L, 6, "rect", "alpha", 1, 0, 1), lw = opt_num(L, 6, "rect", "width", 1, 0, 1000);
  int fill = has_field(L, 6, "fill"), stroke = has_field(L, 6, "stroke");
  lt_rgb fc = opt_color(L, 6, "rect", "fill", (lt_rgb){0, 0, 0}), sc = opt_color(L, 6, "rect", "stroke", fc);
  if (!fill && !stroke) fill = 1;
  if (fill) lt_canvas_fill_rect(c, x0, y0, x1, y1, fc, alpha);
  if (stroke) LT_CHECK(L, lt_canvas_stroke_rect(c, x0, y0, x1, y1, lw, sc, alpha));
  lua_settop(L, 1);
  return 1;
}

static int c_circle(lua_State *L) {
  lt_canvas *c = check_canvas(L, 1);
  float x = check_coord(L, 2), y = check_coord(L, 3), r = check_coord(L, 4);
  check_opts(L, 5);
  lt_canvas_circle(c, x, y, r, opt_color(L, 5, "circle", "color", (lt_rgb){0, 0, 0}),
                   opt_num(L, 5, "circle", "alpha", 1, 0, 1));
  lua_settop(L, 1);
  return 1;
}

/* ==================== markers ==================== */

/* opts.palette (a list of colours) or opts.color, as a userdata array on the stack. */
static lt_rgb *opt_palette(lua_State *L, int opts, const char *fn, int *n) {
  *n = 1;
  if (!has_field(L, opts, "palette")) {
    lt_rgb *p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = opt_color(L, opts, fn, "color", (lt_rgb){31, 119, 180});
    return p;
  }
  lua_getfield(L, opts, "palette");
  int idx = lua_gettop(L);
  if (!lua_istable(L, idx) || lua_rawlen(L, idx) < 1)
    luaL_error(L, "%s: option 'palette' must be a non-empty list of colours", fn);
  *n = (int)lua_rawlen(L, idx);
  lt_rgb *p = lua_newuserdatauv(L, (size_t)*n * sizeof *p, 0);
  for (int k = 0; k < *n; k++) {
    char what[48];
    snprintf(what, sizeof what, "palette[%d]", k + 1);
    lua_rawgeti(L, idx, k + 1);
    p[k] = check_color(L, -1, fn, what);
    lua_pop(L, 1);
  }
  lua_remove(L, idx);
  return p;
}

/* A list of n numbers at the top of the stack, replaced there by a userdata of floats. */
static float *table_values(lua_State *L, const char *fn, const char *name, int64_t n) {
  if ((int64_t)lua_rawlen(L, -1) != n)
    luaL_error(L, "%s: option '%s' has %d values; it needs one per point (%d)", fn, name, (int)lua_rawlen(L, -1), (int)n);
  float *v = lua_newuserdatauv(L, (size_t)n * sizeof(float) + 1, 0);
  for (int64_t k = 0; k < n; k++) {
    lua_rawgeti(L, -2, k + 1);
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "%s: %s[%d] must be a number, got %s", fn, name, (int)k + 1, luaL_typename(L, -1));
    v[k] = (float)lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  lua_remove(L, -2);
  return v;
}

/* An option with n values (a tensor of any shape of that size, or a list),
 * as contiguous floats in a userdata on the stack; NULL (and nothing pushed)
 * when absent. */
static float *opt_values(lua_State *L, int opts, const char *fn, const char *name, int64_t n) {
  if (!has_field(L, opts, name)) return NULL;
  lua_getfield(L, opts, name);
  if (lua_istable(L, -1)) return table_values(L, fn, name, n);
  lt_tensor *t = lt_totensor(L, -1);
  char buf[LT_SHAPE_STR];
  if (!t) luaL_error(L, "%s: option '%s' must be a tensor or list of %d values, got %s", fn, name, (int)n, luaL_typename(L, -1));
  if (lt_tensor_numel(t) != n)
    luaL_error(L, "%s: option '%s' has shape %s; it needs one value per point (%d)", fn, name, LT_SHAPE(t, buf), (int)n);
  float *v = lua_newuserdatauv(L, (size_t)n * sizeof(float) + 1, 0);
  lt_tensor *flat = lt_tensor_contiguous_values(t);
  if (!flat) lt_raise(L);
  memcpy(v, lt_tensor_data(flat), (size_t)n * sizeof(float));
  lt_tensor_release(flat);
  lua_remove(L, -2);
  return v;
}

/* The classes option (1-based) as 0-based int32 in a userdata on the stack. */
static int32_t *opt_classes(lua_State *L, int opts, const char *fn, int64_t n, int n_palette) {
  float *v = opt_values(L, opts, fn, "classes", n);
  if (!v) return NULL;
  int32_t *cls = lua_newuserdatauv(L, (size_t)n * sizeof(int32_t) + 1, 0);
  for (int64_t k = 0; k < n; k++) {
    if (!(v[k] >= 1 && v[k] <= n_palette && v[k] == floorf(v[k]))) {
      char msg[64];
      snprintf(msg, sizeof msg, "%g", (double)v[k]);
      luaL_error(L, "%s: classes[%d] is %s; classes must be integers in [1, %d] (the palette's size)", fn,
                 (int)k + 1, msg, n_palette);
    }
    cls[k] = (int32_t)v[k] - 1;
  }
  return cls;
}

/* c:points(xy, {radius, alpha, color | palette, classes, depth}) */
static int c_points(lua_State *L) {
  lt_canvas *c = check_canvas(L, 1);
  check_opts(L, 3);
  lua_settop(L, 3);
  float r = opt_num(L, 3, "points", "radius", 3, 0, 1000), alpha = opt_num(L, 3, "points", "alpha", 1, 0, 1);
  int64_t n;
  float *xy = check_points(L, 2, "points", &n);
  int n_palette;
  lt_rgb *palette = opt_palette(L, 3, "points", &n_palette);
  int32_t *cls = opt_classes(L, 3, "points", n, n_palette);
  float *depth = opt_values(L, 3, "points", "depth", n);
  LT_CHECK(L, lt_canvas_markers(c, xy, n, cls, palette, n_palette, depth, r, alpha));
  lua_settop(L, 1);
  return 1;
}

/* ==================== text ==================== */

/* Which of three options a field names: 0, 1 or 2 (def when absent). */
static int opt_choice(lua_State *L, int opts, const char *fn, const char *name, const char *const names[3], int def) {
  if (!has_field(L, opts, name)) return def;
  lua_getfield(L, opts, name);
  const char *s = lua_tostring(L, -1);
  for (int k = 0; s && k < 3; k++)
    if (!strcmp(s, names[k])) { lua_pop(L, 1); return k; }
  return luaL_error(L, "%s: option '%s' must be \"%s\", \"%s\" or \"%s\"", fn, name, names[0], names[1], names[2]);
}

/* c:text(x, y, s, {scale, color, rotate, align, valign}); (x, y) is the
 * anchor, placed by align and valign in the text's own frame */
static int c_text(lua_State *L) {
  static const char *const aligns[3] = {"left", "center", "right"}, *const valigns[3] = {"top", "middle", "bottom"};
  lt_canvas *c = check_canvas(L, 1);
  float x = check_coord(L, 2), y = check_coord(L, 3);
  const char *s = luaL_checkstring(L, 4);
  check_opts(L, 5);
  float scale = opt_num(L, 5, "text", "scale", 2, 0.25, 64);
  lt_rgb col = opt_color(L, 5, "text", "color", (lt_rgb){0, 0, 0});
  int rotate = lua_istable(L, 5) ? lt_optbool_field(L, 5, "rotate", 0) : 0;
  int ha = opt_choice(L, 5, "text", "align", aligns, 0), va = opt_choice(L, 5, "text", "valign", valigns, 0);
  float w, h;
  lt_text_size(s, scale, &w, &h);
  float along = -w * ha / 2, across = -h * va / 2; /* offsets in the text's frame */
  if (rotate) x += across, y -= along;
  else x += along, y += across;
  LT_CHECK(L, lt_canvas_text(c, x, y, s, scale, col, rotate));
  lua_settop(L, 1);
  return 1;
}

/* text_size(s [, scale]) -> width, height in pixels (capital height per line) */
static int plot_text_size(lua_State *L) {
  const char *s = luaL_checkstring(L, 1);
  lua_Number scale = luaL_optnumber(L, 2, 2);
  if (!(scale >= 0.25 && scale <= 64)) return luaL_argerror(L, 2, "scale must be in [0.25, 64]");
  float w, h;
  lt_text_size(s, (float)scale, &w, &h);
  lua_pushnumber(L, w);
  lua_pushnumber(L, h);
  return 2;
}

/* ==================== images and files ==================== */

/* c:image(t, x, y, {zoom, min, max}): t is H x W or 1 x H x W */
static int c_image(lua_State *L) {
  lt_canvas *c = check_canvas(L, 1);
  lt_tensor *t = lt_checktensor(L, 2);
  lua_Integer x = luaL_checkinteger(L, 3), y = luaL_checkinteger(L, 4);
  check_opts(L, 5);
  lua_Integer zoom = lua_istable(L, 5) ? lt_optint_field(L, 5, "zoom", 1) : 1;
  float lo = opt_num(L, 5, "image", "min", 0, -HUGE_VAL, HUGE_VAL), hi = opt_num(L, 5, "image", "max", 1, -HUGE_VAL, HUGE_VAL);
  char buf[LT_SHAPE_STR];
  int squeeze = t->ndim == 3 && t->shape[0] == 1;
  if (t->ndim != 2 && !squeeze)
    return luaL_error(L, "image: the image must be H x W or 1 x H x W, got %s", LT_SHAPE(t, buf));
  if (zoom < 1 || zoom > 256) return luaL_error(L, "image: option 'zoom' must be in [1, 256], got %d", (int)zoom);
  if (!(hi > lo)) return luaL_error(L, "image: option 'max' must exceed 'min'");
  if (x < -1000000 || x > 1000000 || y < -1000000 || y > 1000000) return luaL_error(L, "image: position out of range");
  lt_tensor *img = squeeze ? lt_tensor_alias(t, 2, t->shape + 1, t->stride + 1, t->offset) : lt_tensor_retain(t);
  if (!img) return lt_raise(L);
  lt_canvas_gray(c, img, (int)x, (int)y, (int)zoom, lo, hi);
  lt_tensor_release(img);
  lua_settop(L, 1);
  return 1;
}

static int c_save(lua_State *L) {
  lt_canvas *c = check_canvas(L, 1);
  const char *path = luaL_checkstring(L, 2);
  if (lt_canvas_save_png(c, path) != LT_OK) return luaL_error(L, "save: %s", lt_errmsg());
  lua_settop(L, 1);
  return 1;
}

/* read_png(path) -> H x W x C tensor of sample values 0..255 */
static int plot_read_png(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lt_box *box = lt_newbox(L);
  uint8_t *px;
  int w, h, ch;
  if (lt_png_read(path, &px, &w, &h, &ch) != LT_OK) return luaL_error(L, "read_png: %s", lt_errmsg());
  lt_tensor *t = lt_tensor_empty(3, (int64_t[]){h, w, ch});
  if (t) {
    float *d = lt_tensor_data(t);
    for (size_t k = 0; k < (size_t)w * h * ch; k++) d[k] = px[k];
  }
  lt_png_free(px);
  return lt_push_result(L, box, t);
}

void lt_open_plot(lua_State *L, int module) {
  static const luaL_Reg meta[] = {{"__gc", c_gc}, {"__close", c_gc}, {NULL, NULL}};
  static const luaL_Reg methods[] = {
    {"size", c_size}, {"clear", c_clear}, {"pixel", c_pixel}, {"line", c_line}, {"polyline", c_polyline},
    {"polygon", c_polygon}, {"rect", c_rect}, {"circle", c_circle}, {"points", c_points}, {"text", c_text},
    {"image", c_image}, {"save", c_save}, {NULL, NULL}};
  static const luaL_Reg fns[] = {{"Canvas", plot_canvas}, {"text_size", plot_text_size},
                                 {"read_png", plot_read_png}, {NULL, NULL}};
  luaL_newmetatable(L, CANVAS_MT);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  lua_setfield(L, module, "plot");
}
