/* A small RGB raster canvas for figures: antialiased lines, polygons,
 * rectangles, markers and text, and PNG files (png.c).
 *
 * Geometry is continuous, in pixels: the origin is the top-left corner of
 * the top-left pixel, x grows rightwards and y downwards, and pixel (i, j)
 * (0-based column, row) covers [i, i+1) x [j, j+1), its centre at
 * (i + 0.5, j + 0.5). A 1-pixel line at y = j + 0.5 is crisp; at y = j it
 * is spread over two rows. Everything drawn is clipped to the canvas.
 *
 * Every drawing call first accumulates a coverage mask over the shape's
 * bounding box (the fraction of each pixel covered, up to 1) and then blends
 * the colour once with alpha * coverage. So the joins of a polyline and the
 * overlapping strokes of a glyph are not blended twice, and a translucent
 * shape has one even tone.
 *
 * Calls that allocate return LT_ERR_MEMORY with a message on failure; the
 * rest cannot fail. Nothing here knows of Lua (src/lua/l_plot.c binds it). */
#ifndef LT_CANVAS_H
#define LT_CANVAS_H

#include <stdint.h>

#include "core/lt_error.h"
#include "core/lt_tensor.h"

typedef struct { uint8_t r, g, b; } lt_rgb;

typedef struct {
  int width, height;
  uint8_t *rgb; /* width * height * 3 bytes, rows top to bottom */
} lt_canvas;

#define LT_CANVAS_MAX_SIDE 16384 /* per side; larger figures are a mistake */

/* ---- lifetime ---- */
lt_canvas *lt_canvas_new(int width, int height, lt_rgb background); /* NULL + message on failure */
void lt_canvas_free(lt_canvas *c);
void lt_canvas_clear(lt_canvas *c, lt_rgb color);

/* ---- shapes ---- */
/* A stroke: colour, opacity in [0, 1], width in pixels, and an optional dash
 * pattern (dash_on and dash_off: lengths in pixels along the path, butt
 * ends; either below a quarter pixel draws a solid line). */
typedef struct {
  lt_rgb color;
  float alpha, width, dash_on, dash_off;
} lt_stroke;

/* n points as x0 y0 x1 y1 ...; a point with a NaN or infinite coordinate ends
 * one piece of the line and the next finite point starts another (gaps in a
 * learning curve). Round joins and caps. */
lt_status lt_canvas_polyline(lt_canvas *c, const float *xy, int64_t n, const lt_stroke *s);
/* The rectangle [x0, x1) x [y0, y1), antialiased where its edges fall inside pixels. */
void lt_canvas_fill_rect(lt_canvas *c, float x0, float y0, float x1, float y1, lt_rgb color, float alpha);
/* The outline of that rectangle: a band of the given width centred on each edge. */
lt_status lt_canvas_stroke_rect(lt_canvas *c, float x0, float y0, float x1, float y1, float width, lt_rgb color,
                                float alpha);
/* A closed polygon (n points as x0 y0 ...) filled by the non-zero rule, with
 * 4 sub-rows per pixel and exact horizontal coverage. Non-finite points are skipped. */
lt_status lt_canvas_fill_polygon(lt_canvas *c, const float *xy, int64_t n, lt_rgb color, float alpha);
/* A filled disc of radius r. */
void lt_canvas_circle(lt_canvas *c, float cx, float cy, float r, lt_rgb color, float alpha);

/* Many discs at once (a scatter plot). xy holds n points as x0 y0 ...;
 * points with a non-finite coordinate are skipped. The colour of point k is
 * palette[cls[k]] when cls is given (each in [0, n_palette)), else palette[0].
 * With depth given, points are drawn in increasing depth (larger is nearer
 * the viewer, so it ends on top: painter's order); else in the given order.
 * Each disc is blended on its own, so overlapping points look denser. */
lt_status lt_canvas_markers(lt_canvas *c, const float *xy, int64_t n, const int32_t *cls,
                            const lt_rgb *palette, int n_palette, const float *depth, float r, float alpha);

/* ---- text (stb_easy_font, ASCII; other bytes are drawn as '?') ---- */
/* The font's units are pixels at scale 1: glyphs are about 7 units tall
 * (capitals), with descenders to about 9; lines are 12 apart. An integer
 * scale gives crisp glyphs; others are antialiased. (x, y) is the top-left
 * corner of the text box; with rotate set the text runs upwards (a y-axis
 * label) and (x, y) is the box's bottom-left corner. */
void lt_text_size(const char *s, float scale, float *width, float *height);
lt_status lt_canvas_text(lt_canvas *c, float x, float y, const char *s, float scale, lt_rgb color,
                         int rotate);

/* ---- images ---- */
/* A 2-D tensor (H x W, any strides) of grey levels drawn with its top-left
 * corner at pixel (x, y), each value a zoom x zoom block. Values are mapped
 * by (v - lo) / (hi - lo) and clamped to [0, 1]; NaN is drawn black. */
void lt_canvas_gray(lt_canvas *c, const lt_tensor *img, int x, int y, int zoom, float lo, float hi);

/* ---- PNG files (png.c, through stb_image_write and stb_image) ---- */
/* Writes the canvas as an 8-bit RGB PNG, atomically (io/atomic.h). */
lt_status lt_canvas_save_png(const lt_canvas *c, const char *path);
/* Reads a PNG file into 8-bit samples (channels as stored: 1 grey, 2 grey +
 * alpha, 3 RGB, 4 RGBA), row-major; free with lt_png_free. Errors name the file. */
lt_status lt_png_read(const char *path, uint8_t **pixels, int *width, int *height, int *channels);
void lt_png_free(uint8_t *pixels);

#endif
