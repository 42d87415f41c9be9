/* Atomic file writes through a temporary file, fsync and rename (atomic.h). */
#define _XOPEN_SOURCE 700 /* fsync, O_CLOEXEC, O_DIRECTORY */
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* The directory part of path ("." when it has none). */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return dup_str(".");
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  char *d = malloc(n + 1);
  if (d) { memcpy(d, path, n); d[n] = '\0'; }
  return d;
}

static void release(lt_atomic_file *af) {
  if (af->f) fclose(af->f);
  if (af->tmp) unlink(af->tmp);
  free(af->tmp);
  free(af->path);
  memset(af, 0, sizeof *af);
}

lt_status lt_atomic_open(lt_atomic_file *af, const char *path) {
  static atomic_uint counter;
  memset(af, 0, sizeof *af);
  if (!path || !*path) return lt_error(LT_ERR_ARG, "empty file name");
  size_t n = strlen(path);
  if (path[n - 1] == '/') return lt_error(LT_ERR_IO, "%s: is a directory name, not a file name", path);
  const char *slash = strrchr(path, '/');
  size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
  af->path = dup_str(path);
  af->tmp = malloc(n + 64);
  if (!af->path || !af->tmp) {
    free(af->tmp);
    af->tmp = NULL; /* nothing was created: nothing to remove */
    release(af);
    return lt_error(LT_ERR_MEMORY, "%s: out of memory", path);
  }
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
    snprintf(af->tmp, n + 64, "%.*s.%s.tmp-%ld-%u", (int)dir_len, path, path + dir_len, (long)getpid(),
             atomic_fetch_add(&counter, 1));
    fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    int e = errno;
    free(af->tmp);
    af->tmp = NULL; /* nothing was created: nothing to remove */
    release(af);
    char *dir = dir_of(path);
    lt_status st = lt_error(LT_ERR_IO, "%s: cannot create a file in '%s': %s", path, dir ? dir : "?", strerror(e));
    free(dir);
    return st;
  }
  af->f = fdopen(fd, "wb");
  if (!af->f) {
    int e = errno;
    close(fd);
    release(af);
    return lt_error(LT_ERR_IO, "%s: cannot open for writing: %s", path, strerror(e));
  }
  return LT_OK;
}

lt_status lt_atomic_write(lt_atomic_file *af, const void *p, size_t n) {
  if (!af->err && n) {
    errno = 0;
    if (fwrite(p, 1, n, af->f) != n) af->err = errno ? errno : EIO;
  }
  if (af->err) return lt_error(LT_ERR_IO, "%s: write failed: %s", af->path, strerror(af->err));
  return LT_OK;
}

/* fsync of the directory, so the new directory entry is durable. Some file
 * systems cannot fsync a directory (EINVAL); the rename is done by then. */
static int sync_dir(const char *path) {
  char *dir = dir_of(path);
  if (!dir) return ENOMEM;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e = 0;
  free(dir);
  if (fd < 0) return errno;
  if (fsync(fd) != 0 && errno != EINVAL) e = errno;
  close(fd);
  return e;
}

lt_status lt_atomic_commit(lt_atomic_file *af) {
  const char *step = "write failed";
  int e = af->err;
  if (!e && fflush(af->f) != 0) e = errno;
  if (!e && fsync(fileno(af->f)) != 0) { e = errno; step = "fsync failed"; }
  int closed = fclose(af->f);
  af->f = NULL;
  if (!e && closed != 0) { e = errno; step = "close failed"; }
  if (!e && rename(af->tmp, af->path) != 0) { e = errno; step = "cannot rename the temporary file to it"; }
  if (e) {
    lt_status st = lt_error(LT_ERR_IO, "%s: %s: %s", af->path, step, strerror(e));
    release(af); /* removes the temporary file */
    return st;
  }
  free(af->tmp);
  af->tmp = NULL; /* it is the final file now */
  e = sync_dir(af->path);
  lt_status st = e ? lt_error(LT_ERR_IO, "%s: written, but the directory could not be synced: %s", af->path,
                              strerror(e))
                   : LT_OK;
  release(af);
  return st;
}

void lt_atomic_abort(lt_atomic_file *af) { release(af); }
