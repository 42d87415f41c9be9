/* The engine's allocator: 64-byte aligned blocks and a count of bytes.
 *
 * Lua's collector cannot see memory allocated behind a userdata, so the
 * bindings read lt_mem_allocated_total() and report what was allocated since
 * their last report to the collector (see src/lua/lt_lua.c). */
#ifndef LT_ALLOC_H
#define LT_ALLOC_H

#include <stddef.h>

void *lt_alloc(size_t bytes);            /* NULL and an error message on failure */
void *lt_calloc(size_t bytes);           /* zero-filled */
void lt_free(void *p, size_t bytes);     /* `bytes` as passed to lt_alloc */

size_t lt_mem_live(void);                /* bytes held now */
size_t lt_mem_peak(void);                /* most bytes held at once */
size_t lt_mem_allocated_total(void);     /* bytes ever allocated (monotonic) */

#endif
