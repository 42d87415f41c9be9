/* Atomic file writes: a file appears under its final name complete or not at all.
 *
 *   lt_atomic_file af;
 *   if (lt_atomic_open(&af, path) != LT_OK) return ...;
 *   lt_atomic_write(&af, buf, n); ...            (errors are remembered)
 *   return lt_atomic_commit(&af);                (or lt_atomic_abort(&af))
 *
 * The data goes to a new temporary file in the same directory (same file
 * system, so rename is atomic), named ".<name>.tmp-<pid>-<n>". Commit flushes
 * it, fsyncs it, closes it, renames it over the final name and fsyncs the
 * directory so the rename itself survives a power cut. On any failure the
 * temporary file is removed and the message names the path, the step and
 * strerror: "model.safetensors: write failed: No space left on device". A file
 * already under the final name is untouched unless commit succeeds. */
#ifndef LT_ATOMIC_H
#define LT_ATOMIC_H

#include <stddef.h>
#include <stdio.h>

#include "core/lt_error.h"

typedef struct {
  FILE *f;
  char *path;   /* the final name */
  char *tmp;    /* the temporary name; NULL once renamed or removed */
  int err;      /* errno of the first failed write, 0 if none */
} lt_atomic_file;

lt_status lt_atomic_open(lt_atomic_file *af, const char *path);
/* Appends n bytes; after a failure it does nothing and returns the same error. */
lt_status lt_atomic_write(lt_atomic_file *af, const void *p, size_t n);
/* Publishes the file under its final name, or removes the temporary one. */
lt_status lt_atomic_commit(lt_atomic_file *af);
/* Removes the temporary file and frees af; harmless after commit. */
void lt_atomic_abort(lt_atomic_file *af);

#endif
