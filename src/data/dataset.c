/* uint8 data sets over shared byte stores (dataset.h). */
#include "data/dataset.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/lt_alloc.h"
#include "data/idx.h"

/* Batches with at least this many values are converted by several threads.
 * One thread converts about 4 GB/s of floats, so a training batch (250 x 784)
 * takes ~0.2 ms: threads gain little there, and on a busy machine waking them
 * cost more than the work (measured: 2.5-5.7 ms instead of 0.2-0.3 ms per
 * batch of 250 with the 2 cores loaded by other jobs). Threads are kept for
 * large gathers (a whole evaluation set at once), long enough to amortize
 * waking them. */
#define PARALLEL_MIN_VALUES (1 << 20)

/* ==================== byte stores ==================== */

lt_bytes *lt_bytes_wrap(uint8_t *data, int64_t size) {
  lt_bytes *b = lt_alloc(sizeof *b);
  if (!b) return NULL;
  b->data = data;
  b->size = size;
  b->refcount = 1;
  return b;
}

lt_bytes *lt_bytes_new(int64_t size) {
  uint8_t *data = lt_alloc((size_t)size);
  if (!data) return NULL;
  lt_bytes *b = lt_bytes_wrap(data, size);
  if (!b) lt_free(data, (size_t)size);
  return b;
}

lt_bytes *lt_bytes_retain(lt_bytes *b) {
  b->refcount++;
  return b;
}

void lt_bytes_release(lt_bytes *b) {
  if (!b || --b->refcount > 0) return;
  lt_free(b->data, (size_t)b->size);
  lt_free(b, sizeof *b);
}

/* ==================== the set itself ==================== */

int64_t lt_data_bytes(int64_t n, int64_t c, int64_t h, int64_t w) {
  int64_t dims[4] = {n, c, h, w}, total = 1;
  for (int k = 0; k < 4; k++) {
    if (dims[k] < 1 || total > LT_IDX_MAX_BYTES / dims[k]) return -1;
    total *= dims[k];
  }
  return total;
}

void lt_dataset_free(lt_dataset *d) {
  if (!d) return;
  for (int k = 0; k < d->n_stores; k++) lt_bytes_release(d->stores[k]);
  lt_free(d->stores, (size_t)d->n_stores * sizeof *d->stores);
  lt_free((void *)d->items, (size_t)d->n * sizeof *d->items);
  lt_free(d->labels, d->labels ? (size_t)d->n : 0);
  lt_free(d, sizeof *d);
}

/* An empty shell for n items of c x h x w, with room for n_stores stores
 * (filled by the caller) and labels when `labelled`. */
static lt_dataset *shell(int64_t n, int64_t c, int64_t h, int64_t w, int n_stores, bool labelled) {
  lt_dataset *d = lt_calloc(sizeof *d);
  if (!d) return NULL;
  d->c = c, d->h = h, d->w = w;
  d->items = lt_alloc((size_t)n * sizeof *d->items);
  d->n = d->items ? n : 0;
  d->stores = lt_calloc((size_t)n_stores * sizeof *d->stores);
  d->n_stores = d->stores ? n_stores : 0;
  d->labels = labelled && d->items ? lt_alloc((size_t)n) : NULL;
  if (!d->items || !d->stores || (labelled && !d->labels)) {
    lt_dataset_free(d);
    return NULL;
  }
  return d;
}

static int max_label(const uint8_t *labels, int64_t n) {
  int m = -1;
  for (int64_t i = 0; i < n; i++)
    if (labels[i] > m) m = labels[i];
  return m;
}

lt_dataset *lt_dataset_from_store(lt_bytes *images, int64_t n, int64_t c, int64_t h, int64_t w,
                                  const uint8_t *labels, int num_classes) {
  LT_ASSERT(n * c * h * w <= images->size);
  lt_dataset *d = shell(n, c, h, w, 1, labels != NULL);
  if (!d) return NULL;
  d->stores[0] = lt_bytes_retain(images);
  for (int64_t i = 0; i < n; i++) d->items[i] = images->data + i * c * h * w;
  if (labels) {
    memcpy(d->labels, labels, (size_t)n);
    int top = max_label(labels, n) + 1;
    d->num_classes = num_classes > top ? num_classes : top;
  }
  return d;
}

/* ==================== reading IDX files ==================== */

static lt_status check_images(const lt_idx_file *f) {
  if (f->ndim == 3 || f->ndim == 4) return LT_OK;
  return lt_error(LT_ERR_IO, "%s: an images file has 3 dimensions (N x H x W) or 4 (N x C x H x W), this one "
                  "has %d", f->path, f->ndim);
}

static lt_status check_labels(const lt_idx_file *labels, const lt_idx_file *images) {
  if (labels->ndim != 1)
    return lt_error(LT_ERR_IO, "%s: a labels file has 1 dimension, this one has %d (is it an images file?)",
                    labels->path, labels->ndim);
  if (labels->dims[0] != images->dims[0])
    return lt_error(LT_ERR_IO, "%s: %" PRId64 " labels, but %s holds %" PRId64 " images", labels->path,
                    labels->dims[0], images->path, images->dims[0]);
  return LT_OK;
}

/* Both headers first, so a mismatched pair fails before any data is read. */
static lt_status open_pair(lt_idx_file *img, lt_idx_file *lab, const char *images_path, const char *labels_path) {
  lt_status st = lt_idx_open(img, images_path);
  if (st == LT_OK) st = check_images(img);
  if (st == LT_OK && labels_path) {
    st = lt_idx_open(lab, labels_path);
    if (st == LT_OK) st = check_labels(lab, img);
  }
  return st;
}

lt_status lt_dataset_load_idx(lt_dataset **out, const char *images_path, const char *labels_path) {
  lt_idx_file img = {0}, lab = {0};
  uint8_t *pixels = NULL, *labels = NULL;
  lt_bytes *store = NULL;
  *out = NULL;
  lt_status st = open_pair(&img, &lab, images_path, labels_path);
  if (st == LT_OK) st = lt_idx_read_data(&img, &pixels);
  if (st == LT_OK && labels_path) st = lt_idx_read_data(&lab, &labels);
  if (st == LT_OK && !(store = lt_bytes_wrap(pixels, img.numel))) st = LT_ERR_MEMORY;
  if (store) pixels = NULL; /* the store owns them now */
  if (st == LT_OK) {
    int64_t n = img.dims[0], c = img.ndim == 4 ? img.dims[1] : 1;
    *out = lt_dataset_from_store(store, n, c, img.dims[img.ndim - 2], img.dims[img.ndim - 1], labels, 0);
    if (!*out) st = LT_ERR_MEMORY;
  }
  lt_bytes_release(store);
  if (pixels) lt_free(pixels, (size_t)img.numel);
  if (labels) lt_free(labels, (size_t)lab.numel);
  lt_idx_close(&img);
  lt_idx_close(&lab);
  return st;
}

/* ==================== other sources ==================== */

static lt_status check_floats(const lt_tensor *x, const lt_tensor *y) {
  char buf[LT_SHAPE_STR], buf2[LT_SHAPE_STR];
  if (x->ndim != 3 && x->ndim != 4)
    return lt_error(LT_ERR_SHAPE, "from_tensor: x must be N x C x H x W (or N x H x W), got %s", LT_SHAPE(x, buf));
  if (lt_tensor_numel(x) == 0) return lt_error(LT_ERR_SHAPE, "from_tensor: x is empty (%s)", LT_SHAPE(x, buf));
  if (y && (y->ndim != 1 || y->shape[0] != x->shape[0]))
    return lt_error(LT_ERR_SHAPE, "from_tensor: y must hold one label per image: x is %s, y is %s",
                    LT_SHAPE(x, buf), LT_SHAPE(y, buf2));
  const float *v = lt_tensor_data(x);
  for (int64_t i = 0, n = lt_tensor_numel(x); i < n; i++)
    if (!(v[i] >= 0.0f && v[i] <= 1.0f))
      return lt_error(LT_ERR_ARG, "from_tensor: x[%" PRId64 "] (flat, 1-based) is %g, outside [0, 1]", i + 1,
                      (double)v[i]);
  const float *l = y ? lt_tensor_data(y) : NULL;
  for (int64_t i = 0; y && i < y->shape[0]; i++)
    if (!(l[i] >= 1.0f && l[i] <= 256.0f && l[i] == floorf(l[i])))
      return lt_error(LT_ERR_ARG, "from_tensor: y[%" PRId64 "] is %g; labels are 1-based classes, integers in "
                      "[1, 256]", i + 1, (double)l[i]);
  return LT_OK;
}

/* x and y must be contiguous (the binding passes contiguous values). */
lt_status lt_dataset_from_floats(lt_dataset **out, const lt_tensor *x, const lt_tensor *y) {
  *out = NULL;
  LT_ASSERT(lt_tensor_is_contiguous(x) && (!y || lt_tensor_is_contiguous(y)));
  lt_status st = check_floats(x, y);
  if (st != LT_OK) return st;
  int64_t n = x->shape[0], c = x->ndim == 4 ? x->shape[1] : 1, numel = lt_tensor_numel(x);
  lt_bytes *store = lt_bytes_new(numel);
  uint8_t *labels = y ? lt_alloc((size_t)n) : NULL;
  if (store && (labels || !y)) {
    const float *v = lt_tensor_data(x);
    for (int64_t i = 0; i < numel; i++) store->data[i] = (uint8_t)floorf(v[i] * 255.0f + 0.5f);
    for (int64_t i = 0; y && i < n; i++) labels[i] = (uint8_t)(lt_tensor_data(y)[i] - 1.0f);
    *out = lt_dataset_from_store(store, n, c, x->shape[x->ndim - 2], x->shape[x->ndim - 1], labels, 0);
  }
  lt_bytes_release(store);
  if (labels) lt_free(labels, (size_t)n);
  return *out ? LT_OK : LT_ERR_MEMORY;
}

static uint64_t draw(lt_rng_state *g) { return g ? lt_rng_local_u64(g) : lt_rng_u64(); }

lt_status lt_dataset_random(lt_dataset **out, int64_t n, int64_t c, int64_t h, int64_t w, int num_classes,
                            lt_rng_state *g) {
  *out = NULL;
  if (lt_data_bytes(n, c, h, w) < 0)
    return lt_error(LT_ERR_ARG, "random: %" PRId64 " images of %" PRId64 "x%" PRId64 "x%" PRId64
                    ": sizes must be positive and the total at most 16 GiB", n, c, h, w);
  if (num_classes < 0 || num_classes > 256)
    return lt_error(LT_ERR_ARG, "random: num_classes must be in [0, 256], got %d", num_classes);
  int64_t numel = n * c * h * w;
  lt_bytes *store = lt_bytes_new(numel);
  uint8_t *labels = num_classes ? lt_alloc((size_t)n) : NULL;
  if (store && (labels || !num_classes)) {
    for (int64_t i = 0; i < numel; i += 8) { /* eight bytes from each draw */
      uint64_t r = draw(g);
      for (int64_t k = i; k < i + 8 && k < numel; k++, r >>= 8) store->data[k] = (uint8_t)r;
    }
    for (int64_t i = 0; labels && i < n; i++)
      labels[i] = (uint8_t)(g ? lt_rng_local_int(g, 0, num_classes - 1) : lt_rng_int(0, num_classes - 1));
    *out = lt_dataset_from_store(store, n, c, h, w, labels, num_classes);
  }
  lt_bytes_release(store);
  if (labels) lt_free(labels, (size_t)n);
  return *out ? LT_OK : LT_ERR_MEMORY;
}

/* ==================== views: subsets and concatenation ==================== */

lt_status lt_dataset_subset(lt_dataset **out, const lt_dataset *d, const int64_t *idx, int64_t m) {
  *out = NULL;
  for (int64_t i = 0; i < m; i++)
    if (idx[i] < 0 || idx[i] >= d->n)
      return lt_error(LT_ERR_INDEX, "subset: index %" PRId64 " (1-based) out of range [1, %" PRId64 "]",
                      idx[i] + 1, d->n);
  lt_dataset *s = shell(m, d->c, d->h, d->w, d->n_stores, d->labels != NULL);
  if (!s) return LT_ERR_MEMORY;
  for (int k = 0; k < d->n_stores; k++) s->stores[k] = lt_bytes_retain(d->stores[k]);
  for (int64_t i = 0; i < m; i++) s->items[i] = d->items[idx[i]];
  for (int64_t i = 0; s->labels && i < m; i++) s->labels[i] = d->labels[idx[i]];
  s->num_classes = d->num_classes; /* a subset may miss a class; the set still has them all */
  *out = s;
  return LT_OK;
}

static lt_status check_parts(const lt_dataset *const *parts, int k) {
  for (int j = 1; j < k; j++) {
    const lt_dataset *a = parts[0], *b = parts[j];
    if (a->c != b->c || a->h != b->h || a->w != b->w)
      return lt_error(LT_ERR_SHAPE, "concat: images of set 1 are %" PRId64 "x%" PRId64 "x%" PRId64 ", of set %d %"
                      PRId64 "x%" PRId64 "x%" PRId64, a->c, a->h, a->w, j + 1, b->c, b->h, b->w);
    if ((a->labels == NULL) != (b->labels == NULL))
      return lt_error(LT_ERR_ARG, "concat: set %d has labels and set %d has none", a->labels ? 1 : j + 1,
                      a->labels ? j + 1 : 1);
  }
  return LT_OK;
}

/* Distinct stores of all parts, written to `into` when not NULL; returns the count. */
static int collect_stores(const lt_dataset *const *parts, int k, lt_bytes **into) {
  int count = 0;
  for (int j = 0; j < k; j++)
    for (int s = 0; s < parts[j]->n_stores; s++) {
      lt_bytes *b = parts[j]->stores[s];
      int seen = 0;
      for (int t = 0; t < j && !seen; t++)
        for (int u = 0; u < parts[t]->n_stores && !seen; u++) seen = parts[t]->stores[u] == b;
      for (int u = 0; u < s && !seen; u++) seen = parts[j]->stores[u] == b;
      if (!seen && into) into[count] = lt_bytes_retain(b);
      if (!seen) count++;
    }
  return count;
}

lt_status lt_dataset_concat(lt_dataset **out, const lt_dataset *const *parts, int k) {
  *out = NULL;
  LT_ASSERT(k >= 1);
  lt_status st = check_parts(parts, k);
  if (st != LT_OK) return st;
  int64_t n = 0;
  for (int j = 0; j < k; j++) n += parts[j]->n;
  lt_dataset *d = shell(n, parts[0]->c, parts[0]->h, parts[0]->w, collect_stores(parts, k, NULL),
                        parts[0]->labels != NULL);
  if (!d) return LT_ERR_MEMORY;
  collect_stores(parts, k, d->stores);
  int64_t at = 0;
  for (int j = 0; j < k; j++) {
    memcpy((void *)(d->items + at), parts[j]->items, (size_t)parts[j]->n * sizeof *d->items);
    if (d->labels) memcpy(d->labels + at, parts[j]->labels, (size_t)parts[j]->n);
    if (parts[j]->num_classes > d->num_classes) d->num_classes = parts[j]->num_classes;
    at += parts[j]->n;
  }
  *out = d;
  return LT_OK;
}

/* ==================== batches ==================== */

lt_status lt_dataset_gather(const lt_dataset *d, const int64_t *idx, int64_t m, lt_tensor **x, lt_tensor **y) {
  *x = NULL;
  if (y) *y = NULL;
  for (int64_t i = 0; i < m; i++)
    if (idx[i] < 0 || idx[i] >= d->n)
      return lt_error(LT_ERR_INDEX, "get: index %" PRId64 " (1-based) out of range [1, %" PRId64 "]", idx[i] + 1,
                      d->n);
  int64_t per = d->c * d->h * d->w, shape[4] = {m, d->c, d->h, d->w};
  *x = lt_tensor_empty(4, shape);
  if (y && d->labels) *y = lt_tensor_empty(1, shape);
  if (!*x || (y && d->labels && !*y)) {
    lt_tensor_release(*x);
    *x = NULL;
    return LT_ERR_MEMORY;
  }
  float table[256]; /* byte / 255 in float, as PyTorch's x.float().div(255) */
  for (int b = 0; b < 256; b++) table[b] = (float)b / 255.0f;
  float *out = lt_tensor_data(*x);
  const uint8_t *const *items = d->items;
#pragma omp parallel for schedule(static) if (m * per >= PARALLEL_MIN_VALUES)
  for (int64_t i = 0; i < m; i++) {
    const uint8_t *src = items[idx[i]];
    float *dst = out + i * per;
    for (int64_t k = 0; k < per; k++) dst[k] = table[src[k]];
  }
  for (int64_t i = 0; y && d->labels && i < m; i++) lt_tensor_data(*y)[i] = (float)d->labels[idx[i]] + 1.0f;
  return LT_OK;
}

lt_status lt_dataset_labels(const lt_dataset *d, lt_tensor **y) {
  *y = NULL;
  if (!d->labels) return lt_error(LT_ERR_STATE, "labels: the data set has no labels");
  int64_t shape[1] = {d->n};
  if (!(*y = lt_tensor_empty(1, shape))) return LT_ERR_MEMORY;
  for (int64_t i = 0; i < d->n; i++) lt_tensor_data(*y)[i] = (float)d->labels[i] + 1.0f;
  return LT_OK;
}

static bool ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), k = strlen(tail);
  return n >= k && strcmp(s + n - k, tail) == 0;
}

lt_status lt_dataset_save_idx(const lt_dataset *d, const char *images_path, const char *labels_path) {
  if (d->n == 0) return lt_error(LT_ERR_ARG, "save: an IDX file cannot hold an empty data set");
  if (labels_path && !d->labels) return lt_error(LT_ERR_STATE, "save: the data set has no labels to write");
  int64_t per = d->c * d->h * d->w;
  uint8_t *all = lt_alloc((size_t)(d->n * per));
  if (!all) return LT_ERR_MEMORY;
  for (int64_t i = 0; i < d->n; i++) memcpy(all + i * per, d->items[i], (size_t)per);
  int64_t dims[4] = {d->n, d->c, d->h, d->w}, dims3[3] = {d->n, d->h, d->w};
  lt_status st = d->c == 1 ? lt_idx_write(images_path, 3, dims3, all, ends_with(images_path, ".gz"))
                           : lt_idx_write(images_path, 4, dims, all, ends_with(images_path, ".gz"));
  lt_free(all, (size_t)(d->n * per));
  if (st == LT_OK && labels_path) st = lt_idx_write(labels_path, 1, dims, d->labels, ends_with(labels_path, ".gz"));
  return st;
}
