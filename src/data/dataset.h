/* Data sets of uint8 images with optional uint8 labels.
 *
 * The images live in reference-counted byte stores (lt_bytes); a data set is
 * a list of pointers to its images inside one or more stores plus its own
 * copy of the labels (one byte each). Subsets, splits and concatenations are
 * new lists over the same stores: no image is copied. Each batch is gathered
 * and converted to float32 in [0, 1] on the fly (a quarter of the memory of a
 * float copy of the set; DESIGN.md, "Core choices").
 *
 * Indices are 0-based here; labels are the files' 0-based classes (the Lua
 * side shows them 1-based). */
#ifndef LT_DATASET_H
#define LT_DATASET_H

#include <stdint.h>

#include "core/lt_error.h"
#include "core/lt_rng.h"
#include "core/lt_tensor.h"

/* A reference-counted block of bytes allocated with lt_alloc. */
typedef struct lt_bytes {
  uint8_t *data;
  int64_t size;
  int refcount;
} lt_bytes;

lt_bytes *lt_bytes_new(int64_t size);             /* NULL and a message when out of memory */
lt_bytes *lt_bytes_wrap(uint8_t *data, int64_t size); /* takes over data (from lt_alloc) */
lt_bytes *lt_bytes_retain(lt_bytes *b);
void lt_bytes_release(lt_bytes *b);                /* NULL is allowed */

typedef struct lt_dataset {
  int64_t n;              /* images */
  int64_t c, h, w;        /* the shape of one image */
  const uint8_t **items;  /* n pointers to c*h*w bytes each, inside the stores */
  uint8_t *labels;        /* n 0-based labels, or NULL: an unlabelled set */
  int num_classes;        /* 0 when unlabelled */
  int n_stores;
  lt_bytes **stores;      /* one reference to each store the items point into */
} lt_dataset;

/* n * c * h * w, or -1 when a size is below 1 or the total above 16 GiB. */
int64_t lt_data_bytes(int64_t n, int64_t c, int64_t h, int64_t w);

/* n images of c x h x w bytes, consecutive in `images` (a new reference is
 * taken), and n labels (copied; NULL for none). num_classes 0 means one more
 * than the largest label. */
lt_dataset *lt_dataset_from_store(lt_bytes *images, int64_t n, int64_t c, int64_t h, int64_t w,
                                  const uint8_t *labels, int num_classes);
/* An images file (N x H x W, or N x C x H x W) and a labels file (N) in IDX
 * format; labels_path may be NULL for an unlabelled set. */
lt_status lt_dataset_load_idx(lt_dataset **out, const char *images_path, const char *labels_path);
/* Images from floats in [0, 1] (N x C x H x W, or N x H x W), each rounded to
 * the nearest of 0..255 / 255; y (may be NULL) holds N 1-based classes 1..256. */
lt_status lt_dataset_from_floats(lt_dataset **out, const lt_tensor *x, const lt_tensor *y);
/* n images of uniformly random bytes from g (the global generator when NULL),
 * and, when num_classes > 0, uniformly random labels. */
lt_status lt_dataset_random(lt_dataset **out, int64_t n, int64_t c, int64_t h, int64_t w, int num_classes,
                            lt_rng_state *g);
void lt_dataset_free(lt_dataset *d);                /* NULL is allowed */

/* The images at idx[0..m) (0-based, repeats allowed) as a new set. */
lt_status lt_dataset_subset(lt_dataset **out, const lt_dataset *d, const int64_t *idx, int64_t m);
/* The sets one after another; all of one image shape, all labelled or none. */
lt_status lt_dataset_concat(lt_dataset **out, const lt_dataset *const *parts, int k);

/* x: m x c x h x w floats, byte / 255 (float division, as torchvision's
 * ToTensor); y: m floats, label + 1 (NULL when unlabelled or not wanted).
 * Parallel over images with OpenMP when the batch is large. */
lt_status lt_dataset_gather(const lt_dataset *d, const int64_t *idx, int64_t m, lt_tensor **x, lt_tensor **y);
/* All labels as n floats, label + 1. */
lt_status lt_dataset_labels(const lt_dataset *d, lt_tensor **y);
/* Writes the images (N x H x W when c is 1, else N x C x H x W) and the
 * labels (when labels_path is not NULL) as IDX files, atomically, gzipped
 * when the name ends in ".gz". */
lt_status lt_dataset_save_idx(const lt_dataset *d, const char *images_path, const char *labels_path);

#endif
