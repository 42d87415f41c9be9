/* Aligned allocation with byte accounting. */
#include "core/lt_alloc.h"
#include "core/lt_error.h"

#include <stdlib.h>
#include <string.h>

enum { ALIGNMENT = 64 }; /* a cache line; also what AVX-512 loads like */

static size_t live_bytes, peak_bytes, total_bytes;

void *lt_alloc(size_t bytes) {
  size_t rounded = (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
  void *p = aligned_alloc(ALIGNMENT, rounded ? rounded : ALIGNMENT);
  if (!p) {
    lt_error(LT_ERR_MEMORY, "out of memory allocating %zu bytes", bytes);
    return NULL;
  }
  live_bytes += bytes;
  total_bytes += bytes;
  if (live_bytes > peak_bytes) peak_bytes = live_bytes;
  return p;
}

void *lt_calloc(size_t bytes) {
  void *p = lt_alloc(bytes);
  if (p) memset(p, 0, bytes);
  return p;
}

void lt_free(void *p, size_t bytes) {
  if (!p) return;
  live_bytes -= bytes;
  free(p);
}

size_t lt_mem_live(void) { return live_bytes; }
size_t lt_mem_peak(void) { return peak_bytes; }
size_t lt_mem_allocated_total(void) { return total_bytes; }
