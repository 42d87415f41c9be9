/* PNG files for the canvas (canvas.h): written with stb_image_write, read
 * back with stb_image (PNG only), both from Debian's libstb-dev headers.
 *
 * Debian also ships a compiled libstb.so, but its implementation is built
 * with stb's own deflate; compiling the two headers here lets stb_image_write
 * compress through zlib (the engine links it anyway), which makes figures
 * several times smaller, and keeps the host free of a run-time dependency.
 * STB_*_STATIC keeps every stb symbol private to this file, so another part
 * of the engine may compile its own copy without a clash. */
#include "plot/canvas.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/lt_alloc.h"
#include "io/atomic.h"

/* stb_image_write's deflate hook: the result is freed with STBIW_FREE (free). */
static unsigned char *zlib_deflate(unsigned char *data, int len, int *out_len, int quality) {
  uLongf n = compressBound((uLong)len);
  unsigned char *out = malloc(n);
  if (!out) return NULL;
  if (compress2(out, &n, data, (uLong)len, quality > 9 ? 9 : quality) != Z_OK) {
    free(out);
    return NULL;
  }
  *out_len = (int)n;
  return out;
}

/* stb declares static functions it does not define in this configuration;
 * GCC reports those at the end of the file, so this one stays off for it. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#define STBIW_ZLIB_COMPRESS zlib_deflate
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb_image_write.h>
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#include <stb_image.h>
#pragma GCC diagnostic pop

#define PNG_LEVEL 6 /* zlib's default: within a few percent of 9, several times faster */

lt_status lt_canvas_save_png(const lt_canvas *c, const char *path) {
  int len = 0;
  stbi_write_png_compression_level = PNG_LEVEL;
  unsigned char *png = stbi_write_png_to_mem(c->rgb, c->width * 3, c->width, c->height, 3, &len);
  if (!png) return lt_error(LT_ERR_MEMORY, "%s: out of memory encoding a %dx%d PNG", path, c->width, c->height);
  lt_atomic_file af;
  lt_status st = lt_atomic_open(&af, path);
  if (st == LT_OK) {
    lt_atomic_write(&af, png, (size_t)len);
    st = lt_atomic_commit(&af);
  }
  free(png); /* STBIW_FREE */
  return st;
}

/* The whole file in memory (malloc'd), or an error naming it. */
static lt_status read_file(const char *path, unsigned char **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return lt_error(LT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  unsigned char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? 2 * cap : 1 << 16;
      unsigned char *grown = cap <= INT_MAX ? realloc(buf, cap) : NULL;
      if (!grown) {
        free(buf);
        fclose(f);
        return lt_error(LT_ERR_IO, "%s: too large to read as a PNG", path);
      }
      buf = grown;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  int failed = ferror(f);
  fclose(f);
  if (failed) {
    free(buf);
    return lt_error(LT_ERR_IO, "%s: read failed", path);
  }
  *data = buf;
  *size = n;
  return LT_OK;
}

lt_status lt_png_read(const char *path, uint8_t **pixels, int *width, int *height, int *channels) {
  static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  unsigned char *data = NULL;
  size_t size = 0;
  lt_status st = read_file(path, &data, &size);
  if (st != LT_OK) return st;
  if (size < 8 || memcmp(data, signature, 8) != 0) {
    free(data);
    return lt_error(LT_ERR_IO, "%s: not a PNG file (no PNG signature)", path);
  }
  unsigned char *px = stbi_load_from_memory(data, (int)size, width, height, channels, 0);
  free(data);
  if (!px) return lt_error(LT_ERR_IO, "%s: corrupt or unsupported PNG (%s)", path, stbi_failure_reason());
  *pixels = px;
  return LT_OK;
}

void lt_png_free(uint8_t *pixels) { stbi_image_free(pixels); }
