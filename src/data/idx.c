/* IDX reader and writer (idx.h). The format: LeCun, Cortes & Burges, "The
 * MNIST database of handwritten digits", the "file formats" section. */
#include "data/idx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/lt_alloc.h"
#include "io/atomic.h"

/* The first read chunk; later ones double the buffer until the promised size. */
#define FIRST_CHUNK ((int64_t)1 << 20)

const char *lt_idx_type_name(int type) {
  switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short (16-bit)";
    case 0x0C: return "int (32-bit)";
    case 0x0D: return "float (32-bit)";
    case 0x0E: return "double (64-bit)";
    default: return "unknown";
  }
}

/* ==================== reading ==================== */

/* Reads up to n bytes; returns how many, or -1 on a zlib error. */
static int64_t read_some(gzFile gz, void *buf, int64_t n) {
  int64_t got = 0;
  while (got < n) {
    int64_t want = n - got > (1 << 30) ? (1 << 30) : n - got;
    int r = gzread(gz, (char *)buf + got, (unsigned)want);
    if (r < 0) return -1;
    if (r == 0) break;
    got += r;
  }
  return got;
}

/* What zlib says went wrong (without the path it puts first), or NULL if
 * nothing did: a read that came up short then just met the end of the file. */
static const char *gz_problem(const lt_idx_file *f) {
  int err;
  const char *msg = gzerror(f->gz, &err);
  if (err == Z_OK) return NULL;
  if (err == Z_BUF_ERROR) return "the compressed stream ends early";
  size_t n = strlen(f->path);
  if (msg && !strncmp(msg, f->path, n) && !strncmp(msg + n, ": ", 2)) msg += n + 2;
  return msg && *msg ? msg : "read error";
}

static bool gz_cut_short(const lt_idx_file *f) {
  int err;
  gzerror(f->gz, &err);
  return err == Z_BUF_ERROR;
}

/* A zlib failure: a stream cut short is a truncated file, anything else corrupt data. */
static lt_status corrupt(const lt_idx_file *f) {
  if (gz_cut_short(f)) return lt_error(LT_ERR_IO, "%s: truncated: the compressed stream ends early", f->path);
  return lt_error(LT_ERR_IO, "%s: corrupt compressed data: %s", f->path, gz_problem(f));
}

static lt_status fail(lt_idx_file *f, lt_status st) {
  lt_idx_close(f);
  return st;
}

static lt_status check_magic(lt_idx_file *f, const unsigned char m[4]) {
  if (m[0] != 0 || m[1] != 0)
    return lt_error(LT_ERR_IO, "%s: bad magic number: starts with bytes 0x%02x 0x%02x, an IDX file starts with "
                    "two zero bytes (is this an IDX file?)", f->path, m[0], m[1]);
  if (m[2] != LT_IDX_UBYTE)
    return lt_error(LT_ERR_IO, "%s: type byte 0x%02x (%s) is not supported; only 0x08 (unsigned byte) is",
                    f->path, m[2], lt_idx_type_name(m[2]));
  if (m[3] < 1 || m[3] > LT_IDX_MAX_DIMS)
    return lt_error(LT_ERR_IO, "%s: %d dimensions in the header; 1 to %d are supported", f->path, m[3],
                    LT_IDX_MAX_DIMS);
  return LT_OK;
}

static lt_status check_sizes(lt_idx_file *f, const unsigned char *b) {
  char shape[LT_IDX_MAX_DIMS * 12] = "";
  int64_t numel = 1;
  int over = 0;
  for (int k = 0; k < f->ndim; k++) {
    const unsigned char *p = b + 4 * k;
    f->dims[k] = (int64_t)p[0] << 24 | (int64_t)p[1] << 16 | (int64_t)p[2] << 8 | (int64_t)p[3];
    snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%" PRId64, k ? "x" : "", f->dims[k]);
    if (f->dims[k] == 0) over = -1;
    else if (over == 0 && numel > LT_IDX_MAX_BYTES / f->dims[k]) over = 1;
    else if (over == 0) numel *= f->dims[k];
  }
  if (over < 0) return lt_error(LT_ERR_IO, "%s: a size of 0 in the header (sizes %s)", f->path, shape);
  if (over > 0)
    return lt_error(LT_ERR_IO, "%s: absurd sizes in the header: %s is more than %" PRId64 " GiB of data",
                    f->path, shape, LT_IDX_MAX_BYTES >> 30);
  f->numel = numel;
  return LT_OK;
}

lt_status lt_idx_open(lt_idx_file *f, const char *path) {
  memset(f, 0, sizeof *f);
  size_t n = strlen(path) + 1;
  f->path = malloc(n);
  if (!f->path) return lt_error(LT_ERR_MEMORY, "%s: out of memory", path);
  memcpy(f->path, path, n);
  struct stat info;
  if (stat(path, &info) == 0 && S_ISDIR(info.st_mode))
    return fail(f, lt_error(LT_ERR_IO, "%s: is a directory, not an IDX file", path));
  errno = 0;
  f->gz = gzopen(path, "rb");
  if (!f->gz)
    return fail(f, lt_error(LT_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory"));
  gzbuffer(f->gz, 1 << 18); /* fewer, larger reads of the compressed file */
  unsigned char head[4 + 4 * LT_IDX_MAX_DIMS];
  int64_t got = read_some(f->gz, head, 4);
  if (got < 4 && gz_problem(f) && !gz_cut_short(f)) return fail(f, corrupt(f));
  if (got == 0) return fail(f, lt_error(LT_ERR_IO, "%s: the file is empty", path));
  if (got < 4) return fail(f, lt_error(LT_ERR_IO, "%s: truncated header: %" PRId64 " bytes", path, got));
  lt_status st = check_magic(f, head);
  if (st != LT_OK) return fail(f, st);
  f->type = head[2];
  f->ndim = head[3];
  got = read_some(f->gz, head + 4, 4 * f->ndim);
  if (got < 4 * f->ndim) {
    if (gz_problem(f) && !gz_cut_short(f)) return fail(f, corrupt(f));
    return fail(f, lt_error(LT_ERR_IO, "%s: truncated header: %d dimensions need %d bytes of sizes, the file "
                            "ends first", path, f->ndim, 4 * f->ndim));
  }
  st = check_sizes(f, head + 4);
  return st == LT_OK ? LT_OK : fail(f, st);
}

/* Grows *buf (capacity *cap, `used` bytes in use) towards `want` bytes. */
static lt_status grow(const lt_idx_file *f, uint8_t **buf, int64_t *cap, int64_t used, int64_t want) {
  int64_t next = *cap ? 2 * *cap : FIRST_CHUNK;
  if (next > want) next = want;
  uint8_t *p = lt_alloc((size_t)next);
  if (!p) return lt_error(LT_ERR_MEMORY, "%s: out of memory reading %" PRId64 " bytes", f->path, next);
  if (used) memcpy(p, *buf, (size_t)used);
  if (*buf) lt_free(*buf, (size_t)*cap);
  *buf = p;
  *cap = next;
  return LT_OK;
}

/* After all the promised bytes: the file must end here. */
static lt_status check_end(lt_idx_file *f) {
  unsigned char extra[4096];
  int64_t more = 0, r;
  while ((r = read_some(f->gz, extra, sizeof extra)) > 0) more += r;
  if (r < 0 || gz_problem(f)) return corrupt(f);
  if (more)
    return lt_error(LT_ERR_IO, "%s: %" PRId64 " bytes of trailing data after the %" PRId64
                    " bytes the header promises", f->path, more, f->numel);
  return LT_OK;
}

lt_status lt_idx_read_data(lt_idx_file *f, uint8_t **out) {
  uint8_t *buf = NULL;
  int64_t cap = 0, used = 0;
  *out = NULL;
  lt_status st = LT_OK;
  while (st == LT_OK && used < f->numel) {
    if (used == cap && (st = grow(f, &buf, &cap, used, f->numel)) != LT_OK) break;
    int64_t r = read_some(f->gz, buf + used, cap - used);
    if (r < 0) st = corrupt(f);
    else if (r < cap - used) {
      const char *problem = gz_problem(f);
      used += r;
      st = lt_error(LT_ERR_IO, "%s: truncated: the header promises %" PRId64 " bytes of data, %s after %" PRId64,
                    f->path, f->numel, problem ? problem : "the file ends", used);
    } else used += r;
  }
  if (st == LT_OK) st = check_end(f);
  if (st != LT_OK) {
    if (buf) lt_free(buf, (size_t)cap);
    return st;
  }
  *out = buf;
  return LT_OK;
}

void lt_idx_close(lt_idx_file *f) {
  if (f->gz) gzclose(f->gz);
  free(f->path);
  memset(f, 0, sizeof *f);
}

/* ==================== writing ==================== */

/* Writes n bytes through deflate (flushing at the end when `finish`). */
static lt_status deflate_write(lt_atomic_file *af, z_stream *z, const uint8_t *p, int64_t n, int finish) {
  unsigned char out[1 << 16];
  lt_status st = LT_OK;
  do {
    unsigned chunk = n > (1 << 30) ? (1u << 30) : (unsigned)n;
    z->next_in = (unsigned char *)p;
    z->avail_in = chunk;
    p += chunk;
    n -= chunk;
    int flush = finish && n == 0 ? Z_FINISH : Z_NO_FLUSH, r;
    do {
      z->next_out = out;
      z->avail_out = sizeof out;
      r = deflate(z, flush);
      if (r == Z_STREAM_ERROR) return lt_error(LT_ERR_IO, "%s: compression failed", af->path);
      st = lt_atomic_write(af, out, sizeof out - z->avail_out);
    } while (st == LT_OK && z->avail_out == 0);
  } while (st == LT_OK && n > 0);
  return st;
}

static lt_status write_body(lt_atomic_file *af, const uint8_t *head, int hn, const uint8_t *data, int64_t n,
                            bool gzip) {
  if (!gzip) {
    lt_status st = lt_atomic_write(af, head, (size_t)hn);
    return st == LT_OK ? lt_atomic_write(af, data, (size_t)n) : st;
  }
  z_stream z;
  memset(&z, 0, sizeof z);
  /* windowBits 15 + 16: a gzip wrapper, so gzopen and gunzip read it */
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return lt_error(LT_ERR_MEMORY, "%s: cannot start compression", af->path);
  lt_status st = deflate_write(af, &z, head, hn, 0);
  if (st == LT_OK) st = deflate_write(af, &z, data, n, 1);
  deflateEnd(&z);
  return st;
}

lt_status lt_idx_write(const char *path, int ndim, const int64_t *dims, const uint8_t *data, bool gzip) {
  if (ndim < 1 || ndim > LT_IDX_MAX_DIMS)
    return lt_error(LT_ERR_ARG, "%s: an IDX file has 1 to %d dimensions, got %d", path, LT_IDX_MAX_DIMS, ndim);
  uint8_t head[4 + 4 * LT_IDX_MAX_DIMS] = {0, 0, LT_IDX_UBYTE, (uint8_t)ndim};
  int64_t n = 1;
  for (int k = 0; k < ndim; k++) {
    if (dims[k] < 1 || dims[k] > UINT32_MAX)
      return lt_error(LT_ERR_ARG, "%s: size %d is %" PRId64 ", outside [1, 2^32 - 1]", path, k + 1, dims[k]);
    for (int b = 0; b < 4; b++) head[4 + 4 * k + b] = (uint8_t)(dims[k] >> (24 - 8 * b));
    if (n > LT_IDX_MAX_BYTES / dims[k])
      return lt_error(LT_ERR_ARG, "%s: more than %" PRId64 " GiB of data", path, LT_IDX_MAX_BYTES >> 30);
    n *= dims[k];
  }
  lt_atomic_file af;
  lt_status st = lt_atomic_open(&af, path);
  if (st != LT_OK) return st;
  st = write_body(&af, head, 4 + 4 * ndim, data, n, gzip);
  if (st != LT_OK) {
    lt_atomic_abort(&af);
    return st;
  }
  return lt_atomic_commit(&af);
}
