/* IDX files and uint8 data sets: good files round-trip (gzipped and raw);
 * every kind of broken file gives an error naming the file and the problem;
 * gathers convert bytes exactly; subsets and concatenations share the bytes;
 * seeded permutations are reproducible and leave the global generator alone. */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/lt_alloc.h"
#include "core/lt_rng.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/sampler.h"
#include "lt_test.h"

static char dir[64];

static const char *path_of(const char *name) {
  static char buf[4][256];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

/* Writes bytes to dir/name, gzipped when the name ends in ".gz" (with zlib
 * directly, so that broken files can be made). */
static const char *put(const char *name, const void *bytes, size_t n) {
  const char *path = path_of(name);
  size_t len = strlen(name);
  if (len > 3 && !strcmp(name + len - 3, ".gz")) {
    gzFile gz = gzopen(path, "wb");
    if (n) gzwrite(gz, bytes, (unsigned)n);
    gzclose(gz);
  } else {
    FILE *f = fopen(path, "wb");
    if (n) fwrite(bytes, 1, n, f);
    fclose(f);
  }
  return path;
}

/* A header for `ndim` sizes, then `extra` data bytes counting up from 0. */
static size_t make_idx(uint8_t *buf, int type, int ndim, const uint32_t *sizes, size_t extra) {
  buf[0] = 0, buf[1] = 0, buf[2] = (uint8_t)type, buf[3] = (uint8_t)ndim;
  for (int k = 0; k < ndim; k++)
    for (int b = 0; b < 4; b++) buf[4 + 4 * k + b] = (uint8_t)(sizes[k] >> (24 - 8 * b));
  size_t head = 4 + 4 * (size_t)ndim;
  for (size_t i = 0; i < extra; i++) buf[head + i] = (uint8_t)(i * 7 + 3);
  return head + extra;
}

static int contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

/* Opens and reads path; expects failure with a message holding the path and `what`. */
static void expect_error(const char *path, const char *what) {
  lt_idx_file f;
  lt_status st = lt_idx_open(&f, path);
  if (st == LT_OK) {
    uint8_t *data = NULL;
    st = lt_idx_read_data(&f, &data);
    if (data) lt_free(data, (size_t)f.numel);
    lt_idx_close(&f);
  }
  CHECK(st != LT_OK);
  if (st == LT_OK) return;
  if (!contains(lt_errmsg(), path) || !contains(lt_errmsg(), what))
    fprintf(stderr, "  message '%s' should name '%s' and say '%s'\n", lt_errmsg(), path, what);
  CHECK(contains(lt_errmsg(), path));
  CHECK(contains(lt_errmsg(), what));
}

/* ==================== reading good files ==================== */

TEST(reads_raw_and_gz) {
  uint8_t buf[64 + 2 * 3 * 4];
  uint32_t sizes[3] = {2, 3, 4};
  size_t n = make_idx(buf, 0x08, 3, sizes, 24);
  const char *names[2] = {"good-raw", "good.gz"};
  for (int k = 0; k < 2; k++) {
    lt_idx_file f;
    CHECK(lt_idx_open(&f, put(names[k], buf, n)) == LT_OK);
    CHECK(f.ndim == 3 && f.dims[0] == 2 && f.dims[1] == 3 && f.dims[2] == 4 && f.numel == 24);
    uint8_t *data = NULL;
    CHECK(lt_idx_read_data(&f, &data) == LT_OK);
    CHECK(data && memcmp(data, buf + 16, 24) == 0);
    lt_free(data, 24);
    lt_idx_close(&f);
  }
}

TEST(writer_round_trips) {
  uint8_t data[5 * 6];
  for (int i = 0; i < 30; i++) data[i] = (uint8_t)(255 - 8 * i);
  int64_t dims[2] = {5, 6};
  for (int gz = 0; gz < 2; gz++) {
    const char *path = path_of(gz ? "written.gz" : "written");
    CHECK(lt_idx_write(path, 2, dims, data, gz) == LT_OK);
    FILE *raw = fopen(path, "rb");
    unsigned char magic[2] = {0};
    CHECK(fread(magic, 1, 2, raw) == 2);
    fclose(raw);
    CHECK(gz ? (magic[0] == 0x1f && magic[1] == 0x8b) : (magic[0] == 0 && magic[1] == 0));
    lt_idx_file f;
    uint8_t *back = NULL;
    CHECK(lt_idx_open(&f, path) == LT_OK && f.ndim == 2 && f.dims[0] == 5 && f.dims[1] == 6);
    CHECK(lt_idx_read_data(&f, &back) == LT_OK && memcmp(back, data, 30) == 0);
    lt_free(back, 30);
    lt_idx_close(&f);
  }
  int64_t bad[1] = {0};
  CHECK(lt_idx_write(path_of("never"), 1, bad, data, 1) != LT_OK);
  CHECK(access(path_of("never"), F_OK) != 0);
}

/* ==================== broken files ==================== */

TEST(header_errors) {
  uint8_t buf[64];
  uint32_t sizes[4] = {2, 3, 4, 5};
  expect_error(path_of("missing.gz"), "cannot open");
  expect_error(dir, "is a directory");
  expect_error(put("empty", buf, 0), "empty");
  expect_error(put("short-head.gz", "\0\0", 2), "truncated header");
  size_t n = make_idx(buf, 0x08, 3, sizes, 0);
  buf[1] = 0x7f;
  expect_error(put("magic.gz", buf, n), "bad magic");
  expect_error(put("text", "hello, world", 12), "bad magic");
  n = make_idx(buf, 0x0D, 3, sizes, 0);
  expect_error(put("float.gz", buf, n), "0x0d (float (32-bit)) is not supported");
  n = make_idx(buf, 0x42, 3, sizes, 0);
  expect_error(put("type", buf, n), "0x42 (unknown)");
  n = make_idx(buf, 0x08, 0, sizes, 0);
  expect_error(put("dims0.gz", buf, n), "0 dimensions");
  buf[3] = 5;
  expect_error(put("dims5.gz", buf, 20), "5 dimensions");
  n = make_idx(buf, 0x08, 3, sizes, 0);
  expect_error(put("sizes-cut.gz", buf, n - 2), "truncated header");
  uint32_t zero[3] = {2, 0, 4};
  n = make_idx(buf, 0x08, 3, zero, 0);
  expect_error(put("zero.gz", buf, n), "a size of 0");
  uint32_t huge[4] = {0xffffffffu, 0xffffffffu, 28, 28};
  n = make_idx(buf, 0x08, 4, huge, 16);
  expect_error(put("absurd.gz", buf, n), "absurd sizes");
  uint32_t big[3] = {60000000, 28, 28}; /* 47 GB promised, 16 bytes held: refused before any allocation */
  n = make_idx(buf, 0x08, 3, big, 16);
  expect_error(put("big.gz", buf, n), "absurd sizes");
}

TEST(data_errors) {
  static uint8_t buf[16 + 3 * 1000];
  uint32_t sizes[3] = {3, 10, 100};
  size_t n = make_idx(buf, 0x08, 3, sizes, 3000);
  expect_error(put("cut.gz", buf, n - 1), "truncated");
  expect_error(put("cut-raw", buf, n - 1000), "truncated: the header promises 3000 bytes of data");
  static uint8_t longer[16 + 3000 + 5];
  memcpy(longer, buf, n);
  memcpy(longer + n, "extra", 5);
  expect_error(put("trailing.gz", longer, n + 5), "5 bytes of trailing data");
  expect_error(put("trailing-raw", longer, n + 5), "trailing data");
  /* a gzip stream cut short, and one with a damaged checksum */
  const char *good = put("whole.gz", buf, n);
  FILE *f = fopen(good, "rb");
  static unsigned char z[8192];
  size_t zn = fread(z, 1, sizeof z, f);
  fclose(f);
  expect_error(put("zcut", z, zn - 12), "truncated");
  z[zn - 6] ^= 0xff; /* inside the CRC-32 of the trailer */
  expect_error(put("zcrc", z, zn), "corrupt compressed data");
}

static lt_status load(lt_dataset **d, const char *images, const char *labels) {
  return lt_dataset_load_idx(d, images, labels);
}

TEST(pair_errors) {
  uint8_t img[16 + 4 * 6], lab[16 + 4], lab3[32];
  uint32_t isz[3] = {4, 2, 3}, lsz[1] = {4}, lsz5[1] = {5}, l3[3] = {4, 1, 1};
  const char *images = put("pair-images.gz", img, make_idx(img, 0x08, 3, isz, 24));
  const char *labels = put("pair-labels.gz", lab, make_idx(lab, 0x08, 1, lsz, 4));
  lt_dataset *d = NULL;
  CHECK(load(&d, images, labels) == LT_OK && d && d->n == 4 && d->c == 1 && d->h == 2 && d->w == 3);
  CHECK(d && d->num_classes == 25); /* labels 3, 10, 17, 24: one more than the largest */
  lt_dataset_free(d);
  uint8_t lab5[16 + 5];
  const char *five = put("five-labels", lab5, make_idx(lab5, 0x08, 1, lsz5, 5));
  CHECK(load(&d, images, five) != LT_OK && d == NULL);
  CHECK(contains(lt_errmsg(), five) && contains(lt_errmsg(), "5 labels, but") && contains(lt_errmsg(), images));
  const char *three = put("labels3d.gz", lab3, make_idx(lab3, 0x08, 3, l3, 4));
  CHECK(load(&d, images, three) != LT_OK);
  CHECK(contains(lt_errmsg(), three) && contains(lt_errmsg(), "has 3"));
  CHECK(load(&d, labels, labels) != LT_OK);
  CHECK(contains(lt_errmsg(), labels) && contains(lt_errmsg(), "an images file has 3 dimensions"));
  uint32_t four[4] = {4, 3, 2, 2};
  uint8_t img4[16 + 4 * 12 + 4];
  CHECK(load(&d, put("rgb.gz", img4, make_idx(img4, 0x08, 4, four, 48)), NULL) == LT_OK);
  CHECK(d && d->c == 3 && d->h == 2 && d->w == 2 && d->labels == NULL && d->num_classes == 0);
  lt_dataset_free(d);
}

/* ==================== data sets ==================== */

static lt_dataset *small_set(int64_t n) {
  lt_bytes *store = lt_bytes_new(n * 6);
  uint8_t labels[64];
  for (int64_t i = 0; i < n * 6; i++) store->data[i] = (uint8_t)(i * 37 % 256);
  for (int64_t i = 0; i < n; i++) labels[i] = (uint8_t)(i % 3);
  lt_dataset *d = lt_dataset_from_store(store, n, 1, 2, 3, labels, 0);
  lt_bytes_release(store); /* the set holds its own reference */
  return d;
}

TEST(gather_converts_exactly) {
  lt_dataset *d = small_set(10);
  int64_t idx[3] = {9, 0, 9};
  lt_tensor *x, *y;
  CHECK(lt_dataset_gather(d, idx, 3, &x, &y) == LT_OK);
  CHECK(x->ndim == 4 && x->shape[0] == 3 && x->shape[1] == 1 && x->shape[2] == 2 && x->shape[3] == 3);
  for (int b = 0; b < 3; b++)
    for (int k = 0; k < 6; k++) CHECK(lt_tensor_data(x)[b * 6 + k] == (float)d->items[idx[b]][k] / 255.0f);
  CHECK(lt_tensor_data(y)[0] == 1.0f && lt_tensor_data(y)[1] == 1.0f); /* labels 9 % 3 = 0, 0 -> class 1 */
  lt_tensor_release(x);
  lt_tensor_release(y);
  int64_t bad[1] = {10};
  CHECK(lt_dataset_gather(d, bad, 1, &x, &y) == LT_ERR_INDEX && x == NULL);
  CHECK(contains(lt_errmsg(), "index 11 (1-based) out of range [1, 10]"));
  lt_dataset_free(d);
}

TEST(views_share_bytes) {
  lt_dataset *d = small_set(10), *s = NULL, *t = NULL, *both = NULL;
  int64_t pick[3] = {4, 4, 7}, pick2[2] = {1, 2};
  CHECK(lt_dataset_subset(&s, d, pick, 3) == LT_OK && s->n == 3 && s->items[0] == d->items[4]);
  CHECK(s->stores[0] == d->stores[0] && d->stores[0]->refcount == 2);
  CHECK(s->labels[2] == d->labels[7] && s->num_classes == 3);
  CHECK(lt_dataset_subset(&t, d, pick2, 2) == LT_OK);
  const lt_dataset *parts[2] = {s, t};
  CHECK(lt_dataset_concat(&both, parts, 2) == LT_OK && both->n == 5);
  CHECK(both->n_stores == 1 && both->items[3] == d->items[1] && both->labels[4] == d->labels[2]);
  lt_dataset_free(d); /* the views keep the bytes alive */
  CHECK(both->items[0][0] == (uint8_t)(4 * 6 * 37 % 256));
  lt_dataset *other = small_set(2), *mixed = NULL;
  const lt_dataset *two[2] = {both, other};
  CHECK(lt_dataset_concat(&mixed, two, 2) == LT_OK && mixed->n_stores == 2 && mixed->n == 7);
  lt_dataset_free(mixed);
  lt_dataset *unlabelled = NULL;
  CHECK(lt_dataset_random(&unlabelled, 2, 1, 2, 3, 0, NULL) == LT_OK);
  const lt_dataset *bad[2] = {both, unlabelled};
  CHECK(lt_dataset_concat(&mixed, bad, 2) != LT_OK && contains(lt_errmsg(), "has labels and set 2 has none"));
  lt_dataset_free(unlabelled);
  lt_dataset_free(other);
  lt_dataset_free(s);
  lt_dataset_free(t);
  lt_dataset_free(both);
}

TEST(save_round_trips) {
  lt_dataset *d = small_set(7), *back = NULL;
  const char *images = path_of("saved-images.gz"), *labels = path_of("saved-labels");
  CHECK(lt_dataset_save_idx(d, images, labels) == LT_OK);
  CHECK(lt_dataset_load_idx(&back, images, labels) == LT_OK);
  CHECK(back && back->n == 7 && back->h == 2 && back->w == 3 && back->num_classes == 3);
  for (int i = 0; back && i < 7; i++) {
    CHECK(memcmp(back->items[i], d->items[i], 6) == 0);
    CHECK(back->labels[i] == d->labels[i]);
  }
  lt_dataset_free(back);
  lt_dataset_free(d);
}

/* ==================== orders ==================== */

TEST(permutations_are_seeded) {
  int64_t a[100], b[100], c[100], seen[100] = {0};
  lt_rng_seed(5);
  uint64_t before = lt_rng_u64();
  lt_rng_seed(5);
  lt_data_permutation(a, 100, 42, 1);
  CHECK(lt_rng_u64() == before); /* the global generator was not touched */
  lt_data_permutation(b, 100, 42, 1);
  lt_data_permutation(c, 100, 42, 2);
  int same = 1, moved = 0;
  for (int i = 0; i < 100; i++) {
    same &= a[i] == b[i];
    moved += a[i] != c[i];
    if (a[i] >= 0 && a[i] < 100) seen[a[i]]++;
  }
  CHECK(same);
  CHECK(moved > 50);
  for (int i = 0; i < 100; i++) CHECK(seen[i] == 1);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/latent-test-idx-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  RUN(reads_raw_and_gz);
  RUN(writer_round_trips);
  RUN(header_errors);
  RUN(data_errors);
  RUN(pair_errors);
  RUN(gather_converts_exactly);
  RUN(views_share_bytes);
  RUN(save_round_trips);
  RUN(permutations_are_seeded);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return lt_test_summary();
}
