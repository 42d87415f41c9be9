/* IDX files (the MNIST format), read and written through zlib.
 *
 * An IDX file is a 4-byte magic -- two zero bytes, a type byte, a dims count --
 * then one big-endian uint32 size per dimension, then the values in row-major
 * order. Only unsigned bytes (type 0x08) are supported: every MNIST-like set
 * uses them. gzopen reads a gzipped file and a plain one alike, so both
 * "train-images-idx3-ubyte.gz" and "train-images-idx3-ubyte" work.
 *
 *   lt_idx_file f;
 *   if (lt_idx_open(&f, path) != LT_OK) return ...;     (header validated)
 *   ... look at f.ndim, f.dims ...
 *   uint8_t *bytes;
 *   st = lt_idx_read_data(&f, &bytes);                  (exactly f.numel bytes, or an error)
 *   lt_idx_close(&f);
 *   ... lt_free(bytes, f.numel) when done ...
 *
 * Every error message starts with the path and says what is wrong: "x.gz:
 * truncated: the header promises 47040000 bytes of data, the file holds 1024".
 * The header is never trusted for an allocation: the data is read in growing
 * chunks, so a header that claims terabytes costs no more memory than the
 * file really holds. */
#ifndef LT_IDX_H
#define LT_IDX_H

#include <stdbool.h>
#include <stdint.h>

#include "core/lt_error.h"

#define LT_IDX_MAX_DIMS 4
#define LT_IDX_UBYTE 0x08
/* More data than this in one file is called absurd (16 GiB). */
#define LT_IDX_MAX_BYTES ((int64_t)1 << 34)

typedef struct lt_idx_file {
  char *path;
  void *gz;                       /* gzFile; opaque so that callers need no zlib.h */
  int type;                       /* the type byte (always LT_IDX_UBYTE once open) */
  int ndim;                       /* 1..LT_IDX_MAX_DIMS */
  int64_t dims[LT_IDX_MAX_DIMS];  /* each > 0 */
  int64_t numel;                  /* product of dims: bytes of data */
} lt_idx_file;

/* Opens path and validates its header; on failure f holds nothing to close. */
lt_status lt_idx_open(lt_idx_file *f, const char *path);
/* Reads the data: exactly f->numel bytes followed by the end of the file.
 * *out is allocated with lt_alloc (size f->numel) and belongs to the caller. */
lt_status lt_idx_read_data(lt_idx_file *f, uint8_t **out);
void lt_idx_close(lt_idx_file *f);

/* Writes an unsigned-byte IDX file atomically (temporary file, fsync,
 * rename), gzip-compressed when `gzip` is set. */
lt_status lt_idx_write(const char *path, int ndim, const int64_t *dims, const uint8_t *data, bool gzip);

/* "unsigned byte", "signed byte", "short (16-bit)", ... or "unknown". */
const char *lt_idx_type_name(int type);

#endif
