/* The figure rasteriser (canvas.h): coverage masks, antialiased strokes,
 * polygons, rectangles, discs, markers, text and grey images.
 *
 * Strokes use the distance from each pixel centre to the segment: a pixel
 * at distance d from a line of half-width h is covered by about
 * clamp(h + 0.5 - d, 0, 1) (a box filter across the edge), which is exact
 * for axis-aligned edges and close for others. Polygons are scan-converted
 * with a few sub-rows per pixel and exact horizontal coverage within each, in
 * the spirit of the coverage accumulation of libart and Anti-Grain Geometry. */
#include "plot/canvas.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/lt_alloc.h"

#define SUBROWS 4 /* polygon sub-rows per pixel row */

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Pixel index range [*i0, *i1) touched by [a, b], within [0, n). Clamping
 * before converting keeps far-away coordinates (1e30) from overflowing an int. */
static void span(float a, float b, int n, int *i0, int *i1) {
  *i0 = (int)floorf(clampf(a, 0, (float)n));
  *i1 = (int)ceilf(clampf(b, 0, (float)n));
}

/* ==================== canvas ==================== */

lt_canvas *lt_canvas_new(int width, int height, lt_rgb background) {
  if (width < 1 || height < 1 || width > LT_CANVAS_MAX_SIDE || height > LT_CANVAS_MAX_SIDE) {
    lt_error(LT_ERR_ARG, "canvas: size %dx%d out of range [1, %d] per side", width, height, LT_CANVAS_MAX_SIDE);
    return NULL;
  }
  lt_canvas *c = lt_alloc(sizeof *c);
  if (!c) return NULL;
  c->width = width;
  c->height = height;
  c->rgb = lt_alloc((size_t)width * (size_t)height * 3);
  if (!c->rgb) {
    lt_free(c, sizeof *c);
    return NULL;
  }
  lt_canvas_clear(c, background);
  return c;
}

void lt_canvas_free(lt_canvas *c) {
  if (!c) return;
  lt_free(c->rgb, (size_t)c->width * (size_t)c->height * 3);
  lt_free(c, sizeof *c);
}

void lt_canvas_clear(lt_canvas *c, lt_rgb color) {
  size_t n = (size_t)c->width * (size_t)c->height;
  for (size_t k = 0; k < n; k++) {
    c->rgb[3 * k] = color.r;
    c->rgb[3 * k + 1] = color.g;
    c->rgb[3 * k + 2] = color.b;
  }
}

/* Blends colour into pixel (i, j) with opacity a in [0, 1]; (i, j) must be inside. */
static inline void blend(lt_canvas *c, int i, int j, lt_rgb col, float a) {
  uint8_t *p = c->rgb + 3 * ((size_t)j * (size_t)c->width + (size_t)i);
  /* the blend lies between the two colours, so + 0.5 rounds it within 0..255 */
  p[0] = (uint8_t)(p[0] + (col.r - p[0]) * a + 0.5f);
  p[1] = (uint8_t)(p[1] + (col.g - p[1]) * a + 0.5f);
  p[2] = (uint8_t)(p[2] + (col.b - p[2]) * a + 0.5f);
}

/* ==================== coverage masks ==================== */

/* Coverage in [0, 1] over a clipped bounding box of the canvas. */
typedef struct {
  int x0, y0, w, h;
  float *a;
} mask;

static size_t mask_bytes(const mask *m) { return (size_t)m->w * (size_t)m->h * sizeof(float); }

/* A zeroed mask over the pixels touched by the box [bx0, bx1] x [by0, by1]
 * (clipped); an empty one (w == 0) when it misses the canvas. */
static lt_status mask_init(mask *m, const lt_canvas *c, float bx0, float by0, float bx1, float by1) {
  memset(m, 0, sizeof *m);
  if (!(bx0 < c->width && by0 < c->height && bx1 > 0 && by1 > 0)) return LT_OK; /* also catches NaN */
  m->x0 = (int)floorf(fmaxf(bx0, 0));
  m->y0 = (int)floorf(fmaxf(by0, 0));
  int x1 = (int)ceilf(fminf(bx1, (float)c->width)), y1 = (int)ceilf(fminf(by1, (float)c->height));
  if (x1 <= m->x0 || y1 <= m->y0) return LT_OK;
  m->w = x1 - m->x0;
  m->h = y1 - m->y0;
  m->a = lt_calloc(mask_bytes(m));
  if (!m->a) {
    m->w = m->h = 0;
    return LT_ERR_MEMORY;
  }
  return LT_OK;
}

/* Blends the colour through the mask, then frees it. */
static void mask_blend(lt_canvas *c, mask *m, lt_rgb col, float alpha) {
  for (int j = 0; j < m->h; j++)
    for (int i = 0; i < m->w; i++) {
      float a = m->a[(size_t)j * m->w + i];
      if (a > 0) blend(c, m->x0 + i, m->y0 + j, col, alpha * fminf(a, 1));
    }
  if (m->a) lt_free(m->a, mask_bytes(m));
  m->a = NULL;
}

/* Adds weight * (the length of [xa, xb) inside each pixel) along mask row r. */
static void mask_span(mask *m, int r, float xa, float xb, float weight) {
  xa = fmaxf(xa - m->x0, 0);
  xb = fminf(xb - m->x0, (float)m->w);
  if (!(xb > xa)) return;
  float *row = m->a + (size_t)r * m->w;
  int ia = (int)xa, ib = (int)xb;
  if (ia == ib) {
    row[ia] += (xb - xa) * weight;
    return;
  }
  row[ia] += (ia + 1 - xa) * weight;
  for (int i = ia + 1; i < ib; i++) row[i] += weight;
  if (ib < m->w) row[ib] += (xb - ib) * weight;
}

/* Adds the area of the rectangle [x0, x1) x [y0, y1) inside each pixel. */
static void mask_rect(mask *m, float x0, float y0, float x1, float y1) {
  float ry0 = fmaxf(y0 - m->y0, 0), ry1 = fminf(y1 - m->y0, (float)m->h);
  for (int r = (int)ry0; r < m->h && r < ry1; r++) {
    float cover = fminf(ry1, (float)r + 1) - fmaxf(ry0, (float)r);
    if (cover > 0) mask_span(m, r, x0, x1, cover);
  }
}

/* ==================== strokes ==================== */

/* Raises the mask to the coverage of the segment (ax, ay)-(bx, by) of
 * half-width hw: with round caps, or with butt caps (dashes, which would
 * otherwise grow by a cap at each end) antialiased along the segment too. */
static void mask_segment(mask *m, float ax, float ay, float bx, float by, float hw, float fade, int butt) {
  float reach = hw + 1;
  int i0, i1, j0, j1;
  span(fminf(ax, bx) - reach - m->x0, fmaxf(ax, bx) + reach - m->x0, m->w, &i0, &i1);
  span(fminf(ay, by) - reach - m->y0, fmaxf(ay, by) + reach - m->y0, m->h, &j0, &j1);
  float dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
  for (int j = j0; j < j1; j++) {
    float py = m->y0 + j + 0.5f - ay;
    for (int i = i0; i < i1; i++) {
      float px = m->x0 + i + 0.5f - ax;
      float raw = len2 > 0 ? (px * dx + py * dy) / len2 : 0, t = clampf(raw, 0, 1);
      float ex = px - t * dx, ey = py - t * dy;
      float cov = clampf(hw + 0.5f - sqrtf(ex * ex + ey * ey), 0, 1) * fade;
      if (butt) cov *= clampf(fminf(raw, 1 - raw) * sqrtf(len2) + 0.5f, 0, 1);
      float *a = m->a + (size_t)j * m->w + i;
      if (cov > *a) *a = cov;
    }
  }
}

/* Walks the dash pattern along one segment, drawing its "on" parts; phase is
 * the distance already travelled within the current on+off period. */
static void mask_dashed(mask *m, float ax, float ay, float bx, float by, float hw, float fade,
                        const lt_stroke *s, float phase) {
  float len = hypotf(bx - ax, by - ay), period = s->dash_on + s->dash_off, t = 0;
  if (!(len > 0)) return;
  while (t < len) {
    float step;
    if (phase < s->dash_on) {
      step = fminf(s->dash_on - phase, len - t);
      float u0 = t / len, u1 = (t + step) / len;
      mask_segment(m, ax + u0 * (bx - ax), ay + u0 * (by - ay), ax + u1 * (bx - ax), ay + u1 * (by - ay), hw, fade, 1);
    } else {
      step = fminf(period - phase, len - t);
    }
    t += step;
    phase = fmodf(phase + step, period);
  }
}

/* Clips the segment a + t (b - a), t in [0, 1], to the mask's box grown by
 * margin (Liang-Barsky, in double): 0 when nothing is left, else the new
 * ends in out[4] and the skipped length before them in *skip. A clipped end
 * is put on the box's edge exactly, its other coordinate from the slope, so
 * a horizontal line from x = -1e30 stays exactly horizontal. */
static int clip_segment(const mask *m, const float *a, const float *b, double margin, double out[4], double *skip) {
  double lo[2] = {m->x0 - margin, m->y0 - margin}, hi[2] = {m->x0 + m->w + margin, m->y0 + m->h + margin};
  double d[2] = {(double)b[0] - a[0], (double)b[1] - a[1]}, t[2] = {0, 1};
  int axis[2] = {-1, -1};
  double edge[2] = {0, 0};
  for (int k = 0; k < 2; k++) {
    if (d[k] == 0) {
      if (a[k] < lo[k] || a[k] > hi[k]) return 0;
      continue;
    }
    double ta = (lo[k] - a[k]) / d[k], tb = (hi[k] - a[k]) / d[k], ea = lo[k], eb = hi[k];
    if (ta > tb) { double x = ta; ta = tb; tb = x; x = ea; ea = eb; eb = x; }
    if (ta > t[0]) t[0] = ta, axis[0] = k, edge[0] = ea;
    if (tb < t[1]) t[1] = tb, axis[1] = k, edge[1] = eb;
  }
  if (t[0] > t[1]) return 0;
  for (int e = 0; e < 2; e++) {
    const float *end = e ? b : a;
    double *o = out + 2 * e;
    o[0] = end[0], o[1] = end[1];
    int k = axis[e];
    if (k < 0) continue;
    o[k] = edge[e];
    o[1 - k] = a[1 - k] + (edge[e] - a[k]) * (d[1 - k] / d[k]);
  }
  *skip = t[0] * sqrt(d[0] * d[0] + d[1] * d[1]);
  return 1;
}

/* One segment of a polyline, clipped first so that points far off the canvas
 * cost nothing and lose no precision; *phase carries the dash pattern on. */
static void stroke_segment(mask *m, const float *a, const float *b, float hw, float fade, const lt_stroke *s,
                           int dashed, double *phase) {
  double q[4], skip, period = (double)s->dash_on + s->dash_off;
  if (clip_segment(m, a, b, hw + 2, q, &skip)) {
    float ax = (float)q[0], ay = (float)q[1], bx = (float)q[2], by = (float)q[3];
    if (dashed) mask_dashed(m, ax, ay, bx, by, hw, fade, s, (float)fmod(*phase + skip, period));
    else mask_segment(m, ax, ay, bx, by, hw, fade, 0);
  }
  if (dashed) *phase = fmod(*phase + hypot((double)b[0] - a[0], (double)b[1] - a[1]), period);
}

static int finite2(const float *p) { return isfinite(p[0]) && isfinite(p[1]); }

lt_status lt_canvas_polyline(lt_canvas *c, const float *xy, int64_t n, const lt_stroke *s) {
  float bx0 = INFINITY, by0 = INFINITY, bx1 = -INFINITY, by1 = -INFINITY;
  for (int64_t k = 0; k < n; k++) {
    if (!finite2(xy + 2 * k)) continue;
    bx0 = fminf(bx0, xy[2 * k]), bx1 = fmaxf(bx1, xy[2 * k]);
    by0 = fminf(by0, xy[2 * k + 1]), by1 = fmaxf(by1, xy[2 * k + 1]);
  }
  /* a line thinner than a pixel is drawn one pixel wide and fainter */
  float hw = fmaxf(s->width, 1) / 2, fade = clampf(s->width, 0, 1), reach = hw + 1;
  mask m;
  if (mask_init(&m, c, bx0 - reach, by0 - reach, bx1 + reach, by1 + reach) != LT_OK)
    return lt_error(LT_ERR_MEMORY, "canvas polyline: out of memory for a %.0fx%.0f mask", bx1 - bx0, by1 - by0);
  if (!m.w) return LT_OK;
  int dashed = s->dash_on >= 0.25f && s->dash_off >= 0.25f;
  double phase = 0;
  for (int64_t k = 0; k < n; k++) {
    const float *p = xy + 2 * k;
    if (!finite2(p)) { phase = 0; continue; } /* a gap: the next piece starts its pattern afresh */
    int has_next = k + 1 < n && finite2(p + 2);
    int alone = !has_next && (k == 0 || !finite2(p - 2));
    if (alone) mask_segment(&m, p[0], p[1], p[0], p[1], hw, fade, 0); /* a lone point is a dot */
    if (has_next) stroke_segment(&m, p, p + 2, hw, fade, s, dashed, &phase);
  }
  mask_blend(c, &m, s->color, s->alpha);
  return LT_OK;
}

/* ==================== rectangles, polygons, discs ==================== */

void lt_canvas_fill_rect(lt_canvas *c, float x0, float y0, float x1, float y1, lt_rgb color, float alpha) {
  if (!(x1 > x0 && y1 > y0)) return; /* empty or NaN */
  int i0, i1, j0, j1;
  span(x0, x1, c->width, &i0, &i1);
  span(y0, y1, c->height, &j0, &j1);
  for (int j = j0; j < j1; j++) {
    float cy = fminf(y1, (float)j + 1) - fmaxf(y0, (float)j);
    for (int i = i0; i < i1; i++) {
      float cx = fminf(x1, (float)i + 1) - fmaxf(x0, (float)i);
      if (cx > 0 && cy > 0) blend(c, i, j, color, alpha * cx * cy);
    }
  }
}

lt_status lt_canvas_stroke_rect(lt_canvas *c, float x0, float y0, float x1, float y1, float width, lt_rgb color,
                                float alpha) {
  float h = width / 2;
  mask m;
  if (mask_init(&m, c, x0 - h, y0 - h, x1 + h, y1 + h) != LT_OK)
    return lt_error(LT_ERR_MEMORY, "canvas rect: out of memory for its mask");
  if (!m.w || !(width > 0)) {
    mask_blend(c, &m, color, 0);
    return LT_OK;
  }
  mask_rect(&m, x0 - h, y0 - h, x1 + h, y0 + h); /* top */
  mask_rect(&m, x0 - h, y1 - h, x1 + h, y1 + h); /* bottom */
  mask_rect(&m, x0 - h, y0 + h, x0 + h, y1 - h); /* left, between them */
  mask_rect(&m, x1 - h, y0 + h, x1 + h, y1 - h); /* right */
  mask_blend(c, &m, color, alpha);
  return LT_OK;
}

/* A crossing of a polygon edge with a sub-row: x and the edge's direction. */
typedef struct { float x; int dir; } crossing;

static int cmp_crossing(const void *a, const void *b) {
  float xa = ((const crossing *)a)->x, xb = ((const crossing *)b)->x;
  return (xa > xb) - (xa < xb);
}

/* Fills one sub-row at height y of pixel row r with the polygon's inside. */
static void polygon_subrow(mask *m, int r, float y, const float *p, int64_t n, crossing *cr) {
  int64_t nc = 0;
  for (int64_t k = 0; k < n; k++) {
    const float *a = p + 2 * k, *b = p + 2 * ((k + 1) % n);
    if ((a[1] <= y) == (b[1] <= y)) continue; /* half-open rule: each vertex counted once */
    cr[nc].x = a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
    cr[nc++].dir = b[1] > a[1] ? 1 : -1;
  }
  qsort(cr, (size_t)nc, sizeof *cr, cmp_crossing);
  int winding = 0;
  for (int64_t k = 0; k + 1 < nc; k++) {
    winding += cr[k].dir;
    if (winding != 0) mask_span(m, r, cr[k].x, cr[k + 1].x, 1.0f / SUBROWS);
  }
}

lt_status lt_canvas_fill_polygon(lt_canvas *c, const float *xy, int64_t n, lt_rgb color, float alpha) {
  if (n < 3) return LT_OK;
  size_t bytes = (size_t)n * (2 * sizeof(float) + sizeof(crossing));
  float *p = lt_alloc(bytes);
  if (!p) return lt_error(LT_ERR_MEMORY, "canvas polygon: out of memory for %lld points", (long long)n);
  crossing *cr = (crossing *)(p + 2 * n);
  int64_t m_pts = 0;
  float bx0 = INFINITY, by0 = INFINITY, bx1 = -INFINITY, by1 = -INFINITY;
  for (int64_t k = 0; k < n; k++) {
    if (!finite2(xy + 2 * k)) continue;
    p[2 * m_pts] = xy[2 * k], p[2 * m_pts + 1] = xy[2 * k + 1];
    bx0 = fminf(bx0, xy[2 * k]), bx1 = fmaxf(bx1, xy[2 * k]);
    by0 = fminf(by0, xy[2 * k + 1]), by1 = fmaxf(by1, xy[2 * k + 1]);
    m_pts++;
  }
  mask m;
  lt_status st = m_pts >= 3 ? mask_init(&m, c, bx0, by0, bx1, by1) : (m.w = 0, LT_OK);
  if (st == LT_OK && m.w) {
    for (int r = 0; r < m.h; r++)
      for (int s = 0; s < SUBROWS; s++)
        polygon_subrow(&m, r, m.y0 + r + (s + 0.5f) / SUBROWS, p, m_pts, cr);
    mask_blend(c, &m, color, alpha);
  }
  lt_free(p, bytes);
  if (st != LT_OK) return lt_error(LT_ERR_MEMORY, "canvas polygon: out of memory for its mask");
  return LT_OK;
}

void lt_canvas_circle(lt_canvas *c, float cx, float cy, float r, lt_rgb color, float alpha) {
  if (!(r > 0) || !isfinite(cx) || !isfinite(cy)) return;
  /* a disc smaller than a pixel keeps its area as faintness */
  float rr = fmaxf(r, 0.5f), fade = r < 0.5f ? (r * r) / (rr * rr) : 1;
  int i0, i1, j0, j1;
  span(cx - rr - 1, cx + rr + 1, c->width, &i0, &i1);
  span(cy - rr - 1, cy + rr + 1, c->height, &j0, &j1);
  for (int j = j0; j < j1; j++)
    for (int i = i0; i < i1; i++) {
      float dx = i + 0.5f - cx, dy = j + 0.5f - cy;
      float cov = clampf(rr + 0.5f - sqrtf(dx * dx + dy * dy), 0, 1);
      if (cov > 0) blend(c, i, j, color, alpha * cov * fade);
    }
}

/* ==================== markers ==================== */

typedef struct { float depth; int64_t index; } depth_key;

static int cmp_depth(const void *a, const void *b) {
  const depth_key *x = a, *y = b;
  if (x->depth != y->depth) return x->depth < y->depth ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index); /* ties keep the given order */
}

static void draw_marker(lt_canvas *c, const float *xy, int64_t k, const int32_t *cls, const lt_rgb *palette,
                        float r, float alpha) {
  const float *p = xy + 2 * k;
  if (!finite2(p)) return;
  lt_canvas_circle(c, p[0], p[1], r, palette[cls ? cls[k] : 0], alpha);
}

lt_status lt_canvas_markers(lt_canvas *c, const float *xy, int64_t n, const int32_t *cls,
                            const lt_rgb *palette, int n_palette, const float *depth, float r, float alpha) {
  for (int64_t k = 0; cls && k < n; k++)
    if (cls[k] < 0 || cls[k] >= n_palette)
      return lt_error(LT_ERR_INDEX, "canvas markers: point %lld has class %d, outside [1, %d]", (long long)k + 1,
                      cls[k] + 1, n_palette);
  if (!depth) {
    for (int64_t k = 0; k < n; k++) draw_marker(c, xy, k, cls, palette, r, alpha);
    return LT_OK;
  }
  depth_key *order = lt_alloc((size_t)n * sizeof *order + 1);
  if (!order) return lt_error(LT_ERR_MEMORY, "canvas markers: out of memory sorting %lld points", (long long)n);
  for (int64_t k = 0; k < n; k++) order[k].depth = isnan(depth[k]) ? -INFINITY : depth[k], order[k].index = k;
  qsort(order, (size_t)n, sizeof *order, cmp_depth);
  for (int64_t k = 0; k < n; k++) draw_marker(c, xy, order[k].index, cls, palette, r, alpha);
  lt_free(order, (size_t)n * sizeof *order + 1);
  return LT_OK;
}

/* ==================== text ==================== */

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-braces"
#pragma GCC diagnostic ignored "-Wunused-function" /* its width/height/spacing: we measure the quads */
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

/* The glyph quads of s (non-printable bytes as '?') as x0 y0 x1 y1 in font
 * units, in a buffer from lt_alloc of *bytes bytes; NULL when out of memory.
 * The font leaves 1-2 units between glyphs, which looks loose once scaled
 * up; each gap loses floor(scale / 2) pixels, a whole number, so glyphs stay
 * on the pixel grid at integer scales. */
static float *text_quads(const char *s, float scale, int *n_quads, size_t *bytes) {
  size_t len = strlen(s);
  char *t = lt_alloc(len + 1);
  if (!t) return NULL;
  /* stb_easy_font writes 64 bytes per quad, at most one per segment of each glyph */
  size_t vbytes = 64;
  for (size_t k = 0; k <= len; k++) {
    t[k] = (s[k] == '\n' || s[k] == 0 || (s[k] >= 32 && s[k] < 127)) ? s[k] : '?';
    if (t[k] >= 32) {
      const int g = t[k] - 32;
      vbytes += 64 * (size_t)(stb_easy_font_charinfo[g + 1].h_seg - stb_easy_font_charinfo[g].h_seg +
                              stb_easy_font_charinfo[g + 1].v_seg - stb_easy_font_charinfo[g].v_seg);
    }
  }
  char *vbuf = vbytes <= INT_MAX ? lt_alloc(vbytes) : NULL;
  if (!vbuf) {
    lt_free(t, len + 1);
    return NULL;
  }
  stb_easy_font_spacing(-floorf(scale / 2) / scale);
  int nq = stb_easy_font_print(0, 0, t, NULL, vbuf, (int)vbytes);
  /* compact each quad's four vertices (x y z rgba) to its two corners */
  float *q = (float *)vbuf;
  for (int k = 0; k < nq; k++) {
    const float *v0 = (const float *)(vbuf + 64 * k), *v2 = (const float *)(vbuf + 64 * k + 32);
    float x0 = v0[0], y0 = v0[1], x1 = v2[0], y1 = v2[1];
    q[4 * k] = x0, q[4 * k + 1] = y0, q[4 * k + 2] = x1, q[4 * k + 3] = y1;
  }
  lt_free(t, len + 1);
  *n_quads = nq;
  *bytes = vbytes;
  return q;
}

/* Width: the ink's extent; height: capitals of each line, 12 units apart. */
static void quads_size(const char *s, const float *q, int nq, float scale, float *width, float *height) {
  float w = 0;
  for (int k = 0; k < nq; k++) w = fmaxf(w, q[4 * k + 2]);
  int lines = 1;
  for (const char *p = s; *p; p++) lines += *p == '\n';
  *width = w * scale;
  *height = *s ? (12.0f * (lines - 1) + 7) * scale : 0;
}

void lt_text_size(const char *s, float scale, float *width, float *height) {
  int nq;
  size_t bytes;
  float *q = text_quads(s, scale, &nq, &bytes);
  *width = *height = 0;
  if (!q) return;
  quads_size(s, q, nq, scale, width, height);
  lt_free(q, bytes);
}

lt_status lt_canvas_text(lt_canvas *c, float x, float y, const char *s, float scale, lt_rgb color, int rotate) {
  int nq;
  size_t bytes;
  float *q = text_quads(s, scale, &nq, &bytes);
  if (!q) return lt_error(LT_ERR_MEMORY, "canvas text: out of memory for %zu characters", strlen(s));
  float w, h;
  quads_size(s, q, nq, scale, &w, &h);
  float full_h = h + 2 * scale; /* descenders */
  mask m;
  lt_status st = rotate ? mask_init(&m, c, x, y - w, x + full_h, y) : mask_init(&m, c, x, y, x + w, y + full_h);
  if (st == LT_OK && m.w) {
    for (int k = 0; k < nq; k++) {
      const float *r = q + 4 * k;
      if (rotate) mask_rect(&m, x + r[1] * scale, y - r[2] * scale, x + r[3] * scale, y - r[0] * scale);
      else mask_rect(&m, x + r[0] * scale, y + r[1] * scale, x + r[2] * scale, y + r[3] * scale);
    }
    mask_blend(c, &m, color, 1);
  }
  lt_free(q, bytes);
  if (st != LT_OK) return lt_error(LT_ERR_MEMORY, "canvas text: out of memory for its mask");
  return LT_OK;
}

/* ==================== grey images ==================== */

void lt_canvas_gray(lt_canvas *c, const lt_tensor *img, int x, int y, int zoom, float lo, float hi) {
  const float *d = lt_tensor_data(img);
  int64_t h = img->shape[0], w = img->shape[1], sh = img->stride[0], sw = img->stride[1];
  float span = hi > lo ? hi - lo : 1;
  for (int64_t r = 0; r < h; r++)
    for (int64_t q = 0; q < w; q++) {
      float v = (d[r * sh + q * sw] - lo) / span;
      v = v != v ? 0 : clampf(v, 0, 1);
      uint8_t g = (uint8_t)(v * 255 + 0.5f);
      for (int dj = 0; dj < zoom; dj++) {
        int64_t j = y + r * zoom + dj;
        if (j < 0 || j >= c->height) continue;
        for (int di = 0; di < zoom; di++) {
          int64_t i = x + q * zoom + di;
          if (i < 0 || i >= c->width) continue;
          uint8_t *p = c->rgb + 3 * ((size_t)j * (size_t)c->width + (size_t)i);
          p[0] = p[1] = p[2] = g;
        }
      }
    }
}
