/* Thread-local error message for lt_status failures. */
#include "core/lt_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static _Thread_local char message[512];

lt_status lt_error(lt_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  return st;
}

const char *lt_errmsg(void) { return message[0] ? message : "unknown error"; }

void lt_panic(const char *file, int line, const char *what) {
  fprintf(stderr, "latent: internal error at %s:%d: %s\n", file, line, what);
  abort();
}
