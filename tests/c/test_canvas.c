/* Tests of src/plot: the canvas rasteriser (pixels where they must be,
 * antialiasing that conserves area, gaps and dashes in lines, markers in
 * painter's order, text, grey images) and PNG files (round trips, atomic
 * writes, clear errors for bad files). */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/lt_tensor.h"
#include "lt_test.h"
#include "plot/canvas.h"

static const lt_rgb WHITE = {255, 255, 255}, BLACK = {0, 0, 0}, RED = {255, 0, 0}, BLUE = {0, 0, 255};

static const uint8_t *px(const lt_canvas *c, int i, int j) { return c->rgb + 3 * ((size_t)j * c->width + i); }
static int is(const lt_canvas *c, int i, int j, lt_rgb k) {
  const uint8_t *p = px(c, i, j);
  return p[0] == k.r && p[1] == k.g && p[2] == k.b;
}
/* Darkness of a grey canvas summed over all pixels, in pixels (0..1 each). */
static double ink(const lt_canvas *c) {
  double s = 0;
  for (int j = 0; j < c->height; j++)
    for (int i = 0; i < c->width; i++) s += (255 - px(c, i, j)[0]) / 255.0;
  return s;
}
static lt_stroke stroke(lt_rgb color, float width) { return (lt_stroke){color, 1, width, 0, 0}; }

/* ==================== canvas ==================== */

TEST(test_new_and_errors) {
  lt_canvas *c = lt_canvas_new(7, 5, RED);
  CHECK(c && c->width == 7 && c->height == 5);
  CHECK(is(c, 0, 0, RED) && is(c, 6, 4, RED));
  lt_canvas_clear(c, WHITE);
  CHECK(is(c, 3, 2, WHITE));
  lt_canvas_free(c);
  CHECK(lt_canvas_new(0, 5, WHITE) == NULL);
  CHECK(strstr(lt_errmsg(), "0x5") != NULL);
  CHECK(lt_canvas_new(5, LT_CANVAS_MAX_SIDE + 1, WHITE) == NULL);
}

/* ==================== strokes ==================== */

TEST(test_horizontal_line_rows) {
  lt_canvas *c = lt_canvas_new(100, 40, WHITE);
  lt_stroke s = stroke(BLACK, 1);
  CHECK(lt_canvas_polyline(c, (float[]){10, 10.5f, 90, 10.5f}, 2, &s) == LT_OK);
  for (int i = 12; i < 88; i++) CHECK(is(c, i, 10, BLACK) && is(c, i, 9, WHITE) && is(c, i, 11, WHITE));
  s.width = 3; /* rows 19, 20, 21 */
  CHECK(lt_canvas_polyline(c, (float[]){10, 20.5f, 90, 20.5f}, 2, &s) == LT_OK);
  CHECK(is(c, 50, 19, BLACK) && is(c, 50, 20, BLACK) && is(c, 50, 21, BLACK));
  CHECK(is(c, 50, 18, WHITE) && is(c, 50, 22, WHITE));
  /* on a pixel boundary a 1-pixel line is shared by two rows, half each */
  s.width = 1;
  CHECK(lt_canvas_polyline(c, (float[]){10, 30, 90, 30}, 2, &s) == LT_OK);
  CHECK(abs(px(c, 50, 29)[0] - 128) <= 1 && abs(px(c, 50, 30)[0] - 128) <= 1);
  CHECK(is(c, 50, 28, WHITE) && is(c, 50, 31, WHITE));
  lt_canvas_free(c);
}

TEST(test_diagonal_line_conserves_area) {
  lt_canvas *c = lt_canvas_new(120, 120, WHITE);
  lt_stroke s = stroke(BLACK, 2);
  CHECK(lt_canvas_polyline(c, (float[]){20, 20, 100, 80}, 2, &s) == LT_OK);
  /* a 100-long, 2-wide capsule: 200 + pi area; the box filter keeps it within a few percent */
  CHECK_CLOSE(ink(c), 200 + M_PI, 0.05 * 200);
  lt_canvas_free(c);
}

TEST(test_gaps_and_alpha) {
  lt_canvas *c = lt_canvas_new(120, 20, WHITE);
  lt_stroke s = stroke(BLACK, 1);
  s.alpha = 0.5f;
  float xy[] = {10, 10.5f, 50, 10.5f, NAN, NAN, 60, 10.5f, 100, 10.5f, INFINITY, 3};
  CHECK(lt_canvas_polyline(c, xy, 6, &s) == LT_OK);
  CHECK(abs(px(c, 30, 10)[0] - 128) <= 1);   /* one blend, even where segments join */
  CHECK(is(c, 55, 10, WHITE));               /* the gap */
  CHECK(abs(px(c, 80, 10)[0] - 128) <= 1);
  CHECK(lt_canvas_polyline(c, xy, 0, &s) == LT_OK); /* nothing to draw is fine */
  /* coordinates far outside the canvas are clipped, not overflowed */
  s.alpha = 1;
  CHECK(lt_canvas_polyline(c, (float[]){-1e30f, 15.5f, 1e30f, 15.5f}, 2, &s) == LT_OK);
  CHECK(is(c, 60, 15, BLACK));
  lt_canvas_circle(c, 1e30f, -1e30f, 1e20f, BLACK, 1);
  lt_canvas_fill_rect(c, -1e30f, 18, 1e30f, 1e30f, BLACK, 1);
  CHECK(is(c, 60, 19, BLACK));
  lt_canvas_free(c);
}

TEST(test_dashes) {
  lt_canvas *c = lt_canvas_new(200, 10, WHITE);
  lt_stroke s = stroke(BLACK, 1);
  s.dash_on = 10, s.dash_off = 10;
  CHECK(lt_canvas_polyline(c, (float[]){0, 5.5f, 100, 5.5f, 200, 5.5f}, 3, &s) == LT_OK);
  int on = 0;
  for (int i = 0; i < 200; i++) on += px(c, i, 5)[0] < 128;
  CHECK(on >= 98 && on <= 102);                 /* half the length: dashes have butt caps */
  CHECK(is(c, 5, 5, BLACK) && is(c, 15, 5, WHITE) && is(c, 25, 5, BLACK));
  CHECK(is(c, 105, 5, BLACK) && is(c, 115, 5, WHITE)); /* the pattern runs on across the vertex */
  /* a dashed line from far off the canvas: clipped, with its pattern kept (phase 1e6 % 20 = 0) */
  lt_canvas_clear(c, WHITE);
  CHECK(lt_canvas_polyline(c, (float[]){-1e6f, 5.5f, 200, 5.5f, 1e30f, 5.5f}, 3, &s) == LT_OK);
  CHECK(is(c, 5, 5, BLACK) && is(c, 15, 5, WHITE) && is(c, 195, 5, WHITE));
  lt_canvas_free(c);
}

/* ==================== fills ==================== */

TEST(test_rect_coverage) {
  lt_canvas *c = lt_canvas_new(20, 20, WHITE);
  lt_canvas_fill_rect(c, 2.5f, 4, 8, 6, BLACK, 1);
  CHECK(abs(px(c, 2, 4)[0] - 128) <= 1 && is(c, 3, 4, BLACK) && is(c, 7, 5, BLACK));
  CHECK(is(c, 8, 4, WHITE) && is(c, 3, 6, WHITE) && is(c, 3, 3, WHITE));
  CHECK_CLOSE(ink(c), 5.5 * 2, 0.02);
  lt_canvas_fill_rect(c, -100, -100, 1000, NAN, BLACK, 1); /* NaN: nothing, no crash */
  CHECK_CLOSE(ink(c), 5.5 * 2, 0.02);
  CHECK(lt_canvas_stroke_rect(c, 10.5f, 10.5f, 15.5f, 15.5f, 1, BLACK, 1) == LT_OK);
  CHECK(is(c, 10, 10, BLACK) && is(c, 15, 12, BLACK) && is(c, 12, 15, BLACK) && is(c, 12, 12, WHITE));
  lt_canvas_free(c);
}

TEST(test_polygon) {
  lt_canvas *c = lt_canvas_new(100, 100, WHITE);
  /* a triangle of area 0.5 * 60 * 40 = 1200 */
  CHECK(lt_canvas_fill_polygon(c, (float[]){20, 20, 80, 20, 20, 60}, 3, BLACK, 1) == LT_OK);
  CHECK_CLOSE(ink(c), 1200, 1200 * 0.01);
  CHECK(is(c, 25, 25, BLACK) && is(c, 75, 55, WHITE));
  lt_canvas_clear(c, WHITE);
  /* a square with a NaN point in its list: skipped */
  CHECK(lt_canvas_fill_polygon(c, (float[]){10, 10, 30, 10, NAN, 5, 30, 30, 10, 30}, 5, BLACK, 0.5f) == LT_OK);
  CHECK(abs(px(c, 20, 20)[0] - 128) <= 1);
  CHECK_CLOSE(ink(c), 400 * 0.5, 2);
  lt_canvas_free(c);
}

TEST(test_circle_area) {
  lt_canvas *c = lt_canvas_new(60, 60, WHITE);
  lt_canvas_circle(c, 30.3f, 29.8f, 10, BLACK, 1);
  CHECK_CLOSE(ink(c), M_PI * 100, M_PI * 100 * 0.02);
  CHECK(is(c, 30, 30, BLACK) && is(c, 30, 45, WHITE));
  lt_canvas_free(c);
}

/* ==================== markers ==================== */

TEST(test_markers_classes_and_order) {
  lt_canvas *c = lt_canvas_new(40, 20, WHITE);
  const lt_rgb pal[2] = {RED, BLUE};
  float xy[] = {10, 10, 10, 10, 30, 10, NAN, 4};
  int32_t cls[] = {0, 1, 1, 0};
  /* in the given order the last one drawn (blue) is on top */
  CHECK(lt_canvas_markers(c, xy, 4, cls, pal, 2, NULL, 3, 1) == LT_OK);
  CHECK(is(c, 10, 10, BLUE) && is(c, 30, 10, BLUE));
  /* with depth, the nearer (larger) one wins whatever the order */
  float depth[] = {5, -1, 0, 0};
  CHECK(lt_canvas_markers(c, xy, 4, cls, pal, 2, depth, 3, 1) == LT_OK);
  CHECK(is(c, 10, 10, RED));
  cls[2] = 2;
  CHECK(lt_canvas_markers(c, xy, 4, cls, pal, 2, NULL, 3, 1) == LT_ERR_INDEX);
  CHECK(strstr(lt_errmsg(), "point 3 has class 3") != NULL);
  lt_canvas_free(c);
}

TEST(test_ten_thousand_markers) {
  lt_canvas *c = lt_canvas_new(400, 400, WHITE);
  enum { N = 10000 };
  static float xy[2 * N];
  static int32_t cls[N];
  for (int k = 0; k < N; k++) {
    xy[2 * k] = 20 + (k * 37 % 360), xy[2 * k + 1] = 20 + (k * 91 % 360);
    cls[k] = k % 2;
  }
  const lt_rgb pal[2] = {RED, BLUE};
  CHECK(lt_canvas_markers(c, xy, N, cls, pal, 2, xy + 1, 2.5f, 0.6f) == LT_OK);
  int red = 0, blue = 0;
  for (int j = 0; j < 400; j++)
    for (int i = 0; i < 400; i++) {
      const uint8_t *p = px(c, i, j);
      red += p[0] > 200 && p[2] < 150;
      blue += p[2] > 200 && p[0] < 150;
    }
  CHECK(red > 1000 && blue > 1000);
  lt_canvas_free(c);
}

/* ==================== text ==================== */

TEST(test_text) {
  float w, h;
  lt_text_size("10", 2, &w, &h);
  CHECK(w > 10 && w < 30 && h == 14);
  lt_text_size("a\nb", 1, &w, &h);
  CHECK(h == 19);
  lt_text_size("", 2, &w, &h);
  CHECK(w == 0 && h == 0);
  lt_canvas *c = lt_canvas_new(200, 100, WHITE);
  CHECK(lt_canvas_text(c, 10, 10, "Loss 0.5", 2, BLACK, 0) == LT_OK);
  lt_text_size("Loss 0.5", 2, &w, &h);
  int inside = 0, outside = 0;
  for (int j = 0; j < 100; j++)
    for (int i = 0; i < 200; i++) {
      int dark = px(c, i, j)[0] < 128;
      int in = i >= 10 && i < 10 + w && j >= 10 && j < 10 + h + 4;
      inside += dark && in;
      outside += dark && !in;
    }
  CHECK(inside > 50 && outside == 0);
  /* integer scales keep glyphs on the pixel grid: only black and white */
  int grey = 0;
  for (int k = 0; k < 200 * 100; k++) grey += c->rgb[3 * k] != 0 && c->rgb[3 * k] != 255;
  CHECK(grey == 0);
  /* rotated: runs upwards from (x, y), so the ink is tall and narrow */
  lt_canvas_clear(c, WHITE);
  CHECK(lt_canvas_text(c, 20, 90, "rotated", 2, BLACK, 1) == LT_OK);
  int top = 100, right = 0;
  for (int j = 0; j < 100; j++)
    for (int i = 0; i < 200; i++)
      if (px(c, i, j)[0] < 128) { if (j < top) top = j; if (i > right) right = i; }
  CHECK(top < 90 - 60 && right < 20 + 20);
  /* bytes outside printable ASCII are drawn as '?' and never read out of bounds */
  CHECK(lt_canvas_text(c, 0, 0, "\xc3\xa9\x01\x7f", 2, BLACK, 0) == LT_OK);
  lt_canvas_free(c);
}

/* ==================== images ==================== */

TEST(test_gray_image) {
  lt_tensor *img = lt_tensor_zeros(2, (int64_t[]){2, 3});
  float *d = lt_tensor_data(img);
  d[0] = 1, d[1] = 0.5f, d[2] = NAN, d[3] = 2, d[4] = -1, d[5] = 0.25f;
  lt_canvas *c = lt_canvas_new(10, 10, RED);
  lt_canvas_gray(c, img, 1, 2, 2, 0, 1);
  CHECK(px(c, 1, 2)[0] == 255 && px(c, 2, 3)[1] == 255);  /* value 1, a 2x2 block */
  CHECK(px(c, 3, 2)[0] == 128 && px(c, 3, 2)[2] == 128);  /* 0.5 */
  CHECK(px(c, 5, 2)[0] == 0);                            /* NaN is black */
  CHECK(px(c, 1, 4)[0] == 255 && px(c, 3, 4)[0] == 0);    /* clamped */
  CHECK(px(c, 5, 5)[0] == 64);
  CHECK(is(c, 0, 0, RED) && is(c, 7, 2, RED) && is(c, 1, 6, RED));
  lt_canvas_gray(c, img, -3, 8, 4, 0, 1); /* partly outside: clipped */
  lt_canvas_free(c);
  lt_tensor_release(img);
}

/* ==================== PNG files ==================== */

static char tmpdir[64];

static int temp_files_left(void) {
  DIR *d = opendir(tmpdir);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp-") != NULL;
  closedir(d);
  return n;
}

static void write_bytes(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(p, 1, n, f);
  fclose(f);
}

TEST(test_png_round_trip) {
  char path[128];
  snprintf(path, sizeof path, "%s/fig.png", tmpdir);
  lt_canvas *c = lt_canvas_new(33, 17, WHITE);
  lt_canvas_fill_rect(c, 3, 4, 10, 9, (lt_rgb){12, 200, 77}, 1);
  lt_stroke s = stroke(RED, 2);
  CHECK(lt_canvas_polyline(c, (float[]){0, 0, 33, 17}, 2, &s) == LT_OK);
  CHECK(lt_canvas_save_png(c, path) == LT_OK);
  CHECK(temp_files_left() == 0);
  uint8_t *p;
  int w, h, ch;
  CHECK(lt_png_read(path, &p, &w, &h, &ch) == LT_OK);
  CHECK(w == 33 && h == 17 && ch == 3);
  CHECK(memcmp(p, c->rgb, (size_t)33 * 17 * 3) == 0);
  lt_png_free(p);
  lt_canvas_free(c);
}

TEST(test_png_errors) {
  char path[160], bad[160];
  uint8_t *p;
  int w, h, ch;
  lt_canvas *c = lt_canvas_new(8, 8, WHITE);
  snprintf(path, sizeof path, "%s/no/such/dir/fig.png", tmpdir);
  CHECK(lt_canvas_save_png(c, path) == LT_ERR_IO);
  CHECK(strstr(lt_errmsg(), "fig.png") != NULL);
  CHECK(lt_png_read(path, &p, &w, &h, &ch) == LT_ERR_IO);
  CHECK(strstr(lt_errmsg(), "cannot open") != NULL);
  snprintf(bad, sizeof bad, "%s/text.png", tmpdir);
  write_bytes(bad, "hello, world", 12);
  CHECK(lt_png_read(bad, &p, &w, &h, &ch) == LT_ERR_IO);
  CHECK(strstr(lt_errmsg(), "not a PNG") != NULL && strstr(lt_errmsg(), "text.png") != NULL);
  /* a valid file cut short */
  snprintf(path, sizeof path, "%s/whole.png", tmpdir);
  CHECK(lt_canvas_save_png(c, path) == LT_OK);
  FILE *f = fopen(path, "rb");
  uint8_t buf[4096];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  write_bytes(bad, buf, n - 20);
  CHECK(lt_png_read(bad, &p, &w, &h, &ch) == LT_ERR_IO);
  CHECK(strstr(lt_errmsg(), "corrupt") != NULL);
  CHECK(temp_files_left() == 0);
  lt_canvas_free(c);
}

int main(void) {
  strcpy(tmpdir, "/tmp/lt_canvas_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(test_new_and_errors);
  RUN(test_horizontal_line_rows);
  RUN(test_diagonal_line_conserves_area);
  RUN(test_gaps_and_alpha);
  RUN(test_dashes);
  RUN(test_rect_coverage);
  RUN(test_polygon);
  RUN(test_circle_area);
  RUN(test_markers_classes_and_order);
  RUN(test_ten_thousand_markers);
  RUN(test_text);
  RUN(test_gray_image);
  RUN(test_png_round_trip);
  RUN(test_png_errors);
  char cmd[96];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) return 1;
  return lt_test_summary();
}
