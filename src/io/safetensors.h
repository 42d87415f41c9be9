/* safetensors files: named tensors plus string metadata, the format PyTorch
 * users load with `safetensors.torch.load_file` (docs/checkpoints.md).
 *
 * Layout: an 8-byte little-endian header length N; N bytes of UTF-8 JSON
 *   {"__metadata__": {"key": "value", ...},
 *    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * padded with spaces; then the data, each tensor little-endian in C order at
 * [begin, end) of the data, tensors packed with no gap or overlap.
 *
 * Writing: float32 tensors of any strides (written in C order), names and
 * metadata sorted so the same content gives the same bytes, header padded to a
 * multiple of 8, atomically (src/io/atomic.h).
 *
 * Reading validates everything before it allocates tensors: the header length
 * against the file size, the JSON, each entry's fields and types, the dtype,
 * the byte count against the shape, and that the tensors tile the data
 * exactly. F32 is read as is; F64, F16 and BF16 are rounded to float32;
 * BOOL, U8, I8, U16, I16, U32, I32, U64 and I64 are converted when every value
 * is exactly representable in float32 (integers up to 2^24, e.g. a BatchNorm's
 * num_batches_tracked), else the load fails naming the tensor. Errors name the
 * file and the problem:
 *   "model.safetensors: truncated: header says 1234 bytes of data, file has 1000". */
#ifndef LT_SAFETENSORS_H
#define LT_SAFETENSORS_H

#include <stddef.h>

#include "core/lt_error.h"
#include "core/lt_tensor.h"

#define LT_SAFETENSORS_MAX_HEADER 100000000 /* bytes; the limit of the reference implementation */

typedef struct {
  size_t n;             /* tensors, sorted by name (bytewise) */
  char **names;
  lt_tensor **tensors;  /* new contiguous tensors; a caller may take one and set its slot to NULL */
  size_t n_meta;        /* __metadata__ entries, sorted by key */
  char **meta_keys;
  char **meta_values;
} lt_safetensors;

lt_status lt_safetensors_load(const char *path, lt_safetensors **out);
/* The same checks on bytes in memory; `label` stands for the path in messages. */
lt_status lt_safetensors_load_memory(const char *label, const void *data, size_t len, lt_safetensors **out);
void lt_safetensors_free(lt_safetensors *f); /* NULL is allowed */

/* Writes n tensors and n_meta metadata entries (n_meta may be 0: no
 * __metadata__). Names and keys must be unique, valid UTF-8, and no tensor may
 * be called "__metadata__". */
lt_status lt_safetensors_save(const char *path, size_t n, const char *const *names,
                              lt_tensor *const *tensors, size_t n_meta,
                              const char *const *meta_keys, const char *const *meta_values);

#endif
