/* Status codes and the error message of the last failure.
 *
 * The engine never exits or aborts on a caller's mistake: a function that can
 * fail returns an lt_status (or NULL) and leaves a message naming the function
 * and the shapes involved, which the Lua bindings raise as a Lua error. */
#ifndef LT_ERROR_H
#define LT_ERROR_H

typedef enum {
  LT_OK = 0,
  LT_ERR_ARG,    /* a bad argument value */
  LT_ERR_SHAPE,  /* shapes that do not fit together */
  LT_ERR_INDEX,  /* an index out of range */
  LT_ERR_MEMORY, /* out of memory */
  LT_ERR_STATE,  /* an operation not allowed now (freed graph, in-place on a graph input) */
  LT_ERR_IO      /* a file that cannot be read or written */
} lt_status;

/* Sets the message (printf-style) and returns `st`, so callers can write
 * `return lt_error(LT_ERR_SHAPE, "matmul: shapes %s and %s do not match", ...)`. */
lt_status lt_error(lt_status st, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* The message of the last error on this thread. */
const char *lt_errmsg(void);

/* For invariants of the engine itself, never for a caller's mistake. */
#define LT_ASSERT(c) do { if (!(c)) lt_panic(__FILE__, __LINE__, #c); } while (0)
void lt_panic(const char *file, int line, const char *what) __attribute__((noreturn));

#endif
