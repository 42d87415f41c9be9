/* Tests of src/io: the JSON reader and writers, safetensors files (round
 * trips, files written outside latent, every malformation the reader checks,
 * fuzzing by truncation and byte flips) and atomic writes (a failed write
 * leaves the old file and no temporary file). */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/lt_tensor.h"
#include "io/atomic.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "lt_test.h"

/* ==================== helpers ==================== */

static char tmpdir[64];

static void make_tmpdir(void) {
  strcpy(tmpdir, "/tmp/lt_safetensors_XXXXXX");
  if (!mkdtemp(tmpdir)) { perror("mkdtemp"); exit(1); }
}

static void remove_tree(const char *dir) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static const char *in_tmp(const char *name) {
  static char buf[4][256];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

/* Entries of dir whose name contains ".tmp-" (left-over temporary files). */
static int count_temp_files(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d));)
    if (strstr(e->d_name, ".tmp-")) n++;
  closedir(d);
  return n;
}

static unsigned char *read_all(const char *path, size_t *len) {
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc((size_t)n + 1);
  *len = fread(p, 1, (size_t)n, f);
  fclose(f);
  return p;
}

static void write_all(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, 1, n, f) != n) { perror(path); exit(1); }
  fclose(f);
}

/* The fixtures folder, found from this file's path. */
static const char *fixture(const char *name) {
  static char buf[1024];
  const char *file = __FILE__, *cut = strstr(file, "tests/c/");
  snprintf(buf, sizeof buf, "%.*stests/fixtures/%s", cut ? (int)(cut - file) : 0, file, name);
  return buf;
}

static lt_tensor *tensor_of(int ndim, const int64_t *shape, float start, float step) {
  lt_tensor *t = lt_tensor_empty(ndim, shape);
  float *p = lt_tensor_data(t);
  for (int64_t i = 0; i < lt_tensor_numel(t); i++) p[i] = start + step * (float)i;
  return t;
}

static const lt_tensor *find(const lt_safetensors *f, const char *name) {
  for (size_t k = 0; k < f->n; k++)
    if (strcmp(f->names[k], name) == 0) return f->tensors[k];
  return NULL;
}

static const char *find_meta(const lt_safetensors *f, const char *key) {
  for (size_t k = 0; k < f->n_meta; k++)
    if (strcmp(f->meta_keys[k], key) == 0) return f->meta_values[k];
  return NULL;
}

static int error_has(const char *want) {
  if (strstr(lt_errmsg(), want)) return 1;
  fprintf(stderr, "  message: %s\n  expected to contain: %s\n", lt_errmsg(), want);
  return 0;
}

/* A file from a header text and data bytes; the header is padded to 8. */
static unsigned char *make_file(const char *header, const void *data, size_t data_len, size_t *len) {
  size_t h = strlen(header), padded = (h + 7) / 8 * 8;
  unsigned char *p = malloc(8 + padded + data_len + 1);
  for (int k = 0; k < 8; k++) p[k] = (unsigned char)((uint64_t)padded >> (8 * k));
  memcpy(p + 8, header, h);
  memset(p + 8 + h, ' ', padded - h);
  if (data_len) memcpy(p + 8 + padded, data, data_len);
  *len = 8 + padded + data_len;
  return p;
}

/* Loading header + data_len bytes of data must fail with a message holding `want`. */
static int bad_file(const char *header, size_t data_len, const char *want) {
  static unsigned char zeros[256];
  size_t len;
  unsigned char *p = make_file(header, zeros, data_len, &len);
  lt_safetensors *f = NULL;
  lt_status st = lt_safetensors_load_memory("bad.safetensors", p, len, &f);
  free(p);
  if (st == LT_OK) {
    fprintf(stderr, "  loaded a bad file: %s\n", header);
    lt_safetensors_free(f);
    return 0;
  }
  return f == NULL && error_has("bad.safetensors: ") && error_has(want);
}

/* ==================== JSON ==================== */

TEST(json_parses_values) {
  const char *text = " {\"a\": [1, -2, 3.5, 1e2, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\"],"
                     " \"b\": {}, \"\\u0041\": 9223372036854775807, \"big\": 9223372036854775808,"
                     " \"min\": -9223372036854775808, \"nan\": NaN, \"inf\": -Infinity} ";
  lt_json *v = lt_json_parse(text, strlen(text));
  CHECK(v && v->type == LT_JSON_OBJECT && v->n == 7);
  if (!v) return;
  const lt_json *a = &v->items[0];
  CHECK(strcmp(a->key, "a") == 0 && a->type == LT_JSON_ARRAY && a->n == 8);
  CHECK(a->items[0].type == LT_JSON_INT && a->items[0].i == 1);
  CHECK(a->items[1].type == LT_JSON_INT && a->items[1].i == -2);
  CHECK(a->items[2].type == LT_JSON_FLOAT && a->items[2].f == 3.5);
  CHECK(a->items[3].type == LT_JSON_FLOAT && a->items[3].f == 100);
  CHECK(a->items[4].type == LT_JSON_BOOL && a->items[4].i == 1);
  CHECK(a->items[5].type == LT_JSON_BOOL && a->items[5].i == 0);
  CHECK(a->items[6].type == LT_JSON_NULL);
  CHECK(a->items[7].type == LT_JSON_STRING && strcmp(a->items[7].s, "x\xc3\xa9\xf0\x9f\x98\x80\n\"\\/") == 0);
  CHECK(v->items[1].type == LT_JSON_OBJECT && v->items[1].n == 0);
  CHECK(strcmp(v->items[2].key, "A") == 0 && v->items[2].type == LT_JSON_INT && v->items[2].i == INT64_MAX);
  CHECK(v->items[3].type == LT_JSON_FLOAT && v->items[3].f == 9223372036854775808.0);
  CHECK(v->items[4].type == LT_JSON_INT && v->items[4].i == INT64_MIN);
  CHECK(v->items[5].type == LT_JSON_FLOAT && isnan(v->items[5].f));
  CHECK(v->items[6].type == LT_JSON_FLOAT && isinf(v->items[6].f) && v->items[6].f < 0);
  lt_json_free(v);
}

TEST(json_rejects_malformed_text) {
  static const char *bad[] = {
    "", "  ", "{", "}", "[1,]", "[,1]", "{\"a\" 1}", "{\"a\":1,}", "{a:1}", "{\"a\":1 \"b\":2}", "01", "1.", ".5",
    "-", "+1", "1e", "1e+", "--1", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\ud800\"", "\"\\ud800\\u0041\"",
    "\"\\udc00\"", "\"a\nb\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"abc",
    "\"abc\\", "[1] x", "tru", "nul", "nan", "infinity", "[1 2]", "{\"a\"}", "{\"a\":}", "[\"a\":1]", "'a'",
    "1 2", "{}{}", "[[[]]", "\"\\", NULL};
  for (int k = 0; bad[k]; k++) {
    lt_json *v = lt_json_parse(bad[k], strlen(bad[k]));
    if (v) fprintf(stderr, "  accepted: %s\n", bad[k]);
    CHECK(v == NULL);
    CHECK(strstr(lt_errmsg(), "at byte") != NULL);
    lt_json_free(v);
  }
}

TEST(json_limits_nesting) {
  char deep[2 * (LT_JSON_MAX_DEPTH + 1) + 1];
  for (int n = LT_JSON_MAX_DEPTH; n <= LT_JSON_MAX_DEPTH + 1; n++) {
    memset(deep, '[', (size_t)n);
    memset(deep + n, ']', (size_t)n);
    lt_json *v = lt_json_parse(deep, 2 * (size_t)n);
    CHECK((v != NULL) == (n <= LT_JSON_MAX_DEPTH));
    lt_json_free(v);
  }
  CHECK(strstr(lt_errmsg(), "nested too deeply") != NULL);
}

static double parse_double(const char *s) {
  lt_json *v = lt_json_parse(s, strlen(s));
  double d = v && v->type == LT_JSON_FLOAT ? v->f : NAN;
  lt_json_free(v);
  return d;
}

TEST(json_doubles_round_trip) {
  static const double fixed[] = {0.1, 0.1 + 0.2, 1e-300, 5e-324, 1.7976931348623157e308, -0.0, 3.0, 1e21,
                                 123456789012345678.0, 0.001, 1.0 / 3.0};
  lt_strbuf b = {0};
  for (size_t k = 0; k < sizeof fixed / sizeof *fixed; k++) {
    b.n = 0;
    lt_json_add_double(&b, fixed[k]);
    double back = parse_double(b.p);
    CHECK(memcmp(&back, &fixed[k], sizeof back) == 0);
  }
  b.n = 0;
  lt_json_add_double(&b, 3.0);
  CHECK(strcmp(b.p, "3.0") == 0);
  b.n = 0;
  lt_json_add_double(&b, 0.1);
  CHECK(strcmp(b.p, "0.1") == 0); /* the shortest form */
  uint64_t x = 88172645463325252ull;
  int mismatches = 0;
  for (int k = 0; k < 20000; k++) { /* random bit patterns */
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double d;
    memcpy(&d, &x, sizeof d);
    if (!isfinite(d)) continue;
    b.n = 0;
    lt_json_add_double(&b, d);
    double back = parse_double(b.p);
    if (memcmp(&back, &d, sizeof d) != 0) mismatches++;
  }
  CHECK(mismatches == 0);
  b.n = 0;
  lt_json_add_double(&b, NAN);
  lt_strbuf_add(&b, " ", 1);
  lt_json_add_double(&b, -INFINITY);
  CHECK(strcmp(b.p, "NaN -Infinity") == 0);
  lt_strbuf_free(&b);
}

TEST(json_strings_round_trip) {
  char s[200];
  size_t n = 0;
  for (int c = 1; c < 128; c++) s[n++] = (char)c;
  memcpy(s + n, "\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80", 9);
  n += 9;
  s[n++] = '\0'; /* an embedded NUL survives too */
  lt_strbuf b = {0};
  lt_json_add_string(&b, s, n);
  lt_json *v = lt_json_parse(b.p, b.n);
  CHECK(v && v->type == LT_JSON_STRING && v->len == n && memcmp(v->s, s, n) == 0);
  lt_json_free(v);
  lt_strbuf_free(&b);
  CHECK(lt_utf8_valid("caf\xc3\xa9", 5));
  CHECK(!lt_utf8_valid("caf\xc3", 4));
  CHECK(!lt_utf8_valid("\xed\xa0\x80", 3)); /* a surrogate */
}

/* ==================== round trips ==================== */

TEST(round_trip_with_views_scalars_and_empty) {
  int64_t s23[] = {2, 3}, s03[] = {0, 3}, s8[] = {1, 1, 1, 1, 1, 1, 1, 2};
  lt_tensor *a = tensor_of(2, s23, -1, 0.5f);
  int64_t tshape[] = {3, 2}, tstride[] = {1, 3};
  lt_tensor *at = lt_tensor_alias(a, 2, tshape, tstride, 0); /* non-contiguous */
  lt_tensor *sc = tensor_of(0, NULL, 42.5f, 0), *empty = lt_tensor_empty(2, s03), *deep = tensor_of(8, s8, 7, 1);
  const char *names[] = {"z.last", "a", "a.t", "scalar", "empty", "deep", "caf\xc3\xa9"};
  lt_tensor *ts[] = {a, a, at, sc, empty, deep, sc};
  const char *keys[] = {"note", "epoch"}, *values[] = {"line\n\"quoted\" \xe2\x98\x83", "3"};
  const char *path = in_tmp("round.safetensors");
  CHECK(lt_safetensors_save(path, 7, names, ts, 2, keys, values) == LT_OK);
  lt_safetensors *f = NULL;
  CHECK(lt_safetensors_load(path, &f) == LT_OK);
  if (!f) return;
  CHECK(f->n == 7 && f->n_meta == 2);
  for (size_t k = 1; k < f->n; k++) CHECK(strcmp(f->names[k - 1], f->names[k]) < 0); /* sorted */
  const lt_tensor *t = find(f, "a.t");
  CHECK(t && t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 2 && lt_tensor_is_contiguous(t));
  float want_t[] = {-1, 0.5f, -0.5f, 1, 0, 1.5f};
  if (t) CHECK_ARRAY_CLOSE(lt_tensor_data(t), want_t, 6, 0);
  t = find(f, "z.last");
  float want_a[] = {-1, -0.5f, 0, 0.5f, 1, 1.5f};
  CHECK(t && t->ndim == 2);
  if (t) CHECK_ARRAY_CLOSE(lt_tensor_data(t), want_a, 6, 0);
  t = find(f, "scalar");
  CHECK(t && t->ndim == 0 && lt_tensor_data(t)[0] == 42.5f);
  t = find(f, "empty");
  CHECK(t && t->ndim == 2 && t->shape[0] == 0 && t->shape[1] == 3);
  t = find(f, "deep");
  CHECK(t && t->ndim == 8 && t->shape[7] == 2 && lt_tensor_data(t)[1] == 8);
  CHECK(find(f, "caf\xc3\xa9") != NULL);
  CHECK(find_meta(f, "note") && strcmp(find_meta(f, "note"), values[0]) == 0);
  CHECK(find_meta(f, "epoch") && strcmp(find_meta(f, "epoch"), "3") == 0);
  lt_safetensors_free(f);
  /* the header is padded so the data starts 8-byte aligned */
  size_t len;
  unsigned char *bytes = read_all(path, &len);
  uint64_t h = 0;
  for (int k = 7; k >= 0; k--) h = h << 8 | bytes[k];
  CHECK(h % 8 == 0 && 8 + h + (6 + 6 + 6 + 1 + 0 + 2 + 1) * 4 == len);
  free(bytes);
  lt_tensor *all[] = {a, at, sc, empty, deep};
  for (int k = 0; k < 5; k++) lt_tensor_release(all[k]);
}

TEST(same_content_same_bytes) {
  int64_t s[] = {4};
  lt_tensor *x = tensor_of(1, s, 1, 1), *y = tensor_of(1, s, -1, -1);
  const char *n1[] = {"x", "y"}, *n2[] = {"y", "x"}, *k1[] = {"a", "b"}, *v1[] = {"1", "2"}, *k2[] = {"b", "a"},
             *v2[] = {"2", "1"};
  lt_tensor *t1[] = {x, y}, *t2[] = {y, x};
  CHECK(lt_safetensors_save(in_tmp("one"), 2, n1, t1, 2, k1, v1) == LT_OK);
  CHECK(lt_safetensors_save(in_tmp("two"), 2, n2, t2, 2, k2, v2) == LT_OK);
  size_t l1, l2;
  unsigned char *b1 = read_all(in_tmp("one"), &l1), *b2 = read_all(in_tmp("two"), &l2);
  CHECK(b1 && b2 && l1 == l2 && memcmp(b1, b2, l1) == 0);
  free(b1);
  free(b2);
  lt_tensor_release(x);
  lt_tensor_release(y);
}

TEST(save_rejects_bad_names) {
  int64_t s[] = {1};
  lt_tensor *x = tensor_of(1, s, 1, 1);
  lt_tensor *ts[] = {x, x};
  const char *dup[] = {"w", "w"}, *meta[] = {"__metadata__"}, *bad[] = {"\xff"}, *k[] = {"a", "a"}, *v[] = {"1", "2"};
  CHECK(lt_safetensors_save(in_tmp("bad"), 2, dup, ts, 0, NULL, NULL) != LT_OK && error_has("'w' appears twice"));
  CHECK(lt_safetensors_save(in_tmp("bad"), 1, meta, ts, 0, NULL, NULL) != LT_OK && error_has("__metadata__"));
  CHECK(lt_safetensors_save(in_tmp("bad"), 1, bad, ts, 0, NULL, NULL) != LT_OK && error_has("not valid UTF-8"));
  CHECK(lt_safetensors_save(in_tmp("bad"), 1, dup, ts, 2, k, v) != LT_OK && error_has("metadata key 'a' appears twice"));
  CHECK(access(in_tmp("bad"), F_OK) != 0);
  CHECK(count_temp_files(tmpdir) == 0);
  lt_tensor_release(x);
}

/* ==================== files from the outside world ==================== */

static void check_value(const lt_safetensors *f, const char *name, int ndim, const int64_t *shape, const float *want,
                        int64_t n) {
  const lt_tensor *t = find(f, name);
  CHECK(t != NULL);
  if (!t) { fprintf(stderr, "  no tensor '%s'\n", name); return; }
  CHECK(t->ndim == ndim && lt_tensor_numel(t) == n);
  for (int d = 0; d < ndim && d < t->ndim; d++) CHECK(t->shape[d] == shape[d]);
  for (int64_t i = 0; i < n; i++) {
    float got = lt_tensor_data(t)[i];
    if (!(got == want[i] && signbit(got) == signbit(want[i]))) {
      fprintf(stderr, "  %s[%ld] = %.9g, expected %.9g\n", name, (long)i, got, want[i]);
      lt_test_current_failed = 1;
    }
  }
}

TEST(reads_reference_file) {
  lt_safetensors *f = NULL;
  CHECK(lt_safetensors_load(fixture("reference.safetensors"), &f) == LT_OK);
  if (!f) { fprintf(stderr, "  %s\n", lt_errmsg()); return; }
  CHECK(f->n == 11);
  int64_t s23[] = {2, 3}, s2[] = {2}, s22[] = {2, 2}, s6[] = {6}, s3[] = {3}, s4[] = {4}, s03[] = {0, 3};
  check_value(f, "enc.0.weight", 2, s23, (float[]){-1, -0.5f, 0, 0.5f, 1, 1.5f}, 6);
  check_value(f, "enc.0.bias", 1, s2, (float[]){0.25f, -0.125f}, 2);
  check_value(f, "double", 2, s22, (float[]){(float)(1.0 / 3), -2.5f, (float)1e-3, (float)12345.678}, 4);
  check_value(f, "half", 1, s6, (float[]){1, -2.5f, 65504, 5.9604644775390625e-08f, -0.0f, 0.333251953125f}, 6);
  check_value(f, "bf", 1, s3, (float[]){1.5f, -2.25f, 3.00405527e+38f}, 3);
  check_value(f, "steps", 0, NULL, (float[]){1234}, 1);
  check_value(f, "ints", 1, s3, (float[]){-7, 0, 16777216}, 3);
  check_value(f, "bytes", 1, s3, (float[]){0, 128, 255}, 3);
  check_value(f, "mask", 1, s4, (float[]){1, 0, 0, 1}, 4);
  check_value(f, "scalar", 0, NULL, (float[]){42.5f}, 1);
  check_value(f, "empty", 2, s03, NULL, 0);
  CHECK(find_meta(f, "format") && strcmp(find_meta(f, "format"), "pt") == 0);
  CHECK(find_meta(f, "note") && strcmp(find_meta(f, "note"), "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80") == 0);
  lt_safetensors_free(f);

  CHECK(lt_safetensors_load(fixture("spaced.safetensors"), &f) == LT_OK);
  if (!f) return;
  CHECK(f->n == 4);
  check_value(f, "enc.0.weight", 2, s23, (float[]){-1, -0.5f, 0, 0.5f, 1, 1.5f}, 6);
  check_value(f, "scalar", 0, NULL, (float[]){42.5f}, 1);
  CHECK(find_meta(f, "note") && strcmp(find_meta(f, "note"), "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80") == 0);
  lt_safetensors_free(f);
}

TEST(writes_the_reference_layout) {
  /* loading the file and saving its content again gives the same bytes */
  lt_safetensors *f = NULL;
  CHECK(lt_safetensors_load(fixture("f32_layout.safetensors"), &f) == LT_OK);
  if (!f) return;
  CHECK(lt_safetensors_save(in_tmp("layout"), f->n, (const char *const *)f->names, f->tensors, f->n_meta,
                            (const char *const *)f->meta_keys, (const char *const *)f->meta_values) == LT_OK);
  lt_safetensors_free(f);
  size_t l1, l2;
  unsigned char *want = read_all(fixture("f32_layout.safetensors"), &l1), *got = read_all(in_tmp("layout"), &l2);
  CHECK(want && got && l1 == l2 && memcmp(want, got, l1) == 0);
  free(want);
  free(got);
}

/* ==================== malformed files ==================== */

#define ENTRY(name, rest) "\"" name "\":{" rest "}"

TEST(rejects_malformed_files) {
  lt_safetensors *f = NULL;
  CHECK(lt_safetensors_load_memory("bad.safetensors", "abc", 3, &f) != LT_OK && error_has("not a safetensors file"));
  unsigned char huge[16] = {0, 0, 0, 0, 2, 0, 0, 0, '{', '}'};
  CHECK(lt_safetensors_load_memory("bad.safetensors", huge, 16, &f) != LT_OK &&
        error_has("not a safetensors file (header length 8589934592 exceeds file size 16)"));
  unsigned char shortish[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
  CHECK(lt_safetensors_load_memory("bad.safetensors", shortish, 16, &f) != LT_OK &&
        error_has("truncated, or not a safetensors file (header length 100 exceeds file size 16)"));
  unsigned char one[9] = {1, 0, 0, 0, 0, 0, 0, 0, '{'};
  CHECK(lt_safetensors_load_memory("bad.safetensors", one, 9, &f) != LT_OK && error_has("header length 1"));
  CHECK(f == NULL);

  CHECK(bad_file("[1, 2]", 0, "does not start with '{'"));
  CHECK(bad_file("{\"a\": 1,}", 0, "invalid header JSON at byte"));
  CHECK(bad_file("{\"a\": 1}", 0, "tensor 'a' is described by a JSON integer"));
  CHECK(bad_file("{" ENTRY("w", "\"shape\":[2],\"data_offsets\":[0,8]") "}", 8, "tensor 'w' has no 'dtype'"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"data_offsets\":[0,8]") "}", 8, "tensor 'w' has no 'shape'"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"shape\":[2]") "}", 8, "tensor 'w' has no 'data_offsets'"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1") "}", 8,
                 "unknown field 'x'"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]") "}", 8,
                 "tensor 'w' has 'dtype' twice"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]") "}", 8, "dtype must be a string"));
  CHECK(bad_file("{" ENTRY("enc.1.weight", "\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]") "}", 2,
                 "tensor 'enc.1.weight' has dtype F8_E4M3, which latent cannot read"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]") "}", 8, "shape must be an array"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]") "}", 8, "non-negative integers"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]") "}", 8, "non-negative integers"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]") "}", 4,
                 "has 9 dimensions; latent supports at most 8"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]") "}", 8, "data_offsets must be"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]") "}", 8, "data_offsets must be"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-1,7]") "}", 8, "data_offsets must be"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]") "}", 20,
                 "tensor 'w' of shape 2x3 and dtype F32 needs 24 bytes, but data_offsets [0, 20] span 20"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]") "}", 8,
                 "shape is too large"));
  CHECK(bad_file("{" ENTRY("w", "\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]") "}", 20,
                 "truncated: header says 24 bytes of data, file has 20"));
  CHECK(bad_file("{" ENTRY("a", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") ","
                 ENTRY("b", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]") "}", 12,
                 "bytes 4 to 8 of the data belong to no tensor"));
  CHECK(bad_file("{" ENTRY("a", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]") ","
                 ENTRY("b", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]") "}", 8,
                 "tensors 'a' and 'b' overlap"));
  CHECK(bad_file("{" ENTRY("a", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]") ","
                 ENTRY("z", "\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]") "}", 8, "overlap"));
  CHECK(bad_file("{" ENTRY("a", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") "}", 12,
                 "8 bytes of data after the last tensor"));
  CHECK(bad_file("{" ENTRY("a", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") ","
                 ENTRY("a", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]") "}", 8, "tensor 'a' appears twice"));
  CHECK(bad_file("{\"__metadata__\":{\"k\":1}}", 0, "metadata 'k' is a JSON integer; metadata values must be strings"));
  CHECK(bad_file("{\"__metadata__\":[]}", 0, "__metadata__ is a JSON array"));
  CHECK(bad_file("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice"));
  CHECK(bad_file("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "metadata 'k' appears twice"));
  CHECK(bad_file("{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, "NUL character"));
  CHECK(bad_file("{" ENTRY("a\\u0000b", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") "}", 4, "NUL character"));
  CHECK(bad_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}\x01", 4, "invalid header JSON"));

  /* an integer float32 cannot hold exactly: 2^24 + 1 */
  int64_t v[2] = {1ll << 40, (1ll << 24) + 1};
  size_t len;
  unsigned char *p = make_file("{" ENTRY("n", "\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]") "}", v, 16, &len);
  CHECK(lt_safetensors_load_memory("bad.safetensors", p, len, &f) != LT_OK &&
        error_has("tensor 'n' (I64) holds an integer at element 2 that float32 cannot represent exactly"));
  free(p);
  v[1] = -(1ll << 62); /* exact: a power of two */
  p = make_file("{" ENTRY("n", "\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]") "}", v, 16, &len);
  CHECK(lt_safetensors_load_memory("ok.safetensors", p, len, &f) == LT_OK);
  if (f) CHECK(lt_tensor_data(f->tensors[0])[0] == 1099511627776.0f && lt_tensor_data(f->tensors[0])[1] == -0x1p62f);
  lt_safetensors_free(f);
  free(p);
  /* an empty file with only metadata, and one with nothing at all */
  p = make_file("{}", NULL, 0, &len);
  CHECK(lt_safetensors_load_memory("ok.safetensors", p, len, &f) == LT_OK && f->n == 0 && f->n_meta == 0);
  lt_safetensors_free(f);
  free(p);
}

TEST(load_errors_name_the_path) {
  lt_safetensors *f = NULL;
  CHECK(lt_safetensors_load(in_tmp("missing.safetensors"), &f) != LT_OK && error_has("missing.safetensors: cannot open: No such file"));
  CHECK(lt_safetensors_load(tmpdir, &f) != LT_OK && error_has("not a regular file"));
  write_all(in_tmp("text.safetensors"), "hello, this is text", 19);
  CHECK(lt_safetensors_load(in_tmp("text.safetensors"), &f) != LT_OK && error_has("text.safetensors: ") &&
        error_has("not a safetensors file"));
}

/* ==================== fuzzing ==================== */

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t next_random(void) {
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return rng_state;
}

/* Loads bytes; returns 1 when they load, 0 when they fail cleanly. */
static int try_load(const unsigned char *p, size_t len) {
  lt_safetensors *f = NULL;
  lt_status st = lt_safetensors_load_memory("fuzz", p, len, &f);
  if (st != LT_OK) {
    CHECK(f == NULL && strncmp(lt_errmsg(), "fuzz: ", 6) == 0);
    return 0;
  }
  for (size_t k = 0; k < f->n; k++) { /* touch every value: ASan checks the sizes */
    volatile float sum = 0;
    for (int64_t i = 0; i < lt_tensor_numel(f->tensors[k]); i++) sum += lt_tensor_data(f->tensors[k])[i];
    (void)sum;
  }
  lt_safetensors_free(f);
  return 1;
}

TEST(fuzz_truncation_at_every_byte) {
  size_t len;
  unsigned char *p = read_all(fixture("reference.safetensors"), &len);
  CHECK(p != NULL);
  if (!p) return;
  int loaded = 0;
  for (size_t n = 0; n < len; n++) loaded += try_load(p, n);
  CHECK(loaded == 0);
  CHECK(try_load(p, len) == 1);
  /* the same through real files, for a few cuts */
  for (size_t n = 0; n < len; n += 37) {
    write_all(in_tmp("cut.safetensors"), p, n);
    lt_safetensors *f = NULL;
    CHECK(lt_safetensors_load(in_tmp("cut.safetensors"), &f) != LT_OK && f == NULL);
  }
  write_all(in_tmp("cut.safetensors"), p, len - 1);
  lt_safetensors *f = NULL;
  CHECK(lt_safetensors_load(in_tmp("cut.safetensors"), &f) != LT_OK && error_has("truncated"));
  free(p);
}

TEST(fuzz_random_corruption) {
  const char *files[] = {"reference.safetensors", "spaced.safetensors"};
  const char *env = getenv("LATENT_FUZZ_ITERATIONS"); /* for long runs by hand */
  int loaded = 0, failed = 0, iterations = env ? atoi(env) : 30000;
  for (int fi = 0; fi < 2; fi++) {
    size_t len;
    unsigned char *orig = read_all(fixture(files[fi]), &len), *p;
    if (!orig) { CHECK(orig != NULL); continue; }
    p = malloc(len);
    uint64_t h = 0;
    for (int k = 7; k >= 0; k--) h = h << 8 | orig[k];
    for (int it = 0; it < iterations; it++) {
      memcpy(p, orig, len);
      int flips = 1 + (int)(next_random() % 3);
      for (int k = 0; k < flips; k++) {
        uint64_t r = next_random();
        size_t at = (r & 3) ? 8 + (size_t)((r >> 8) % h) : (size_t)((r >> 8) % len); /* mostly the header */
        switch ((r >> 2) % 4) {
        case 0: p[at] ^= (unsigned char)(1u << ((r >> 40) % 8)); break;
        case 1: p[at] = (unsigned char)(r >> 48); break;
        case 2: if (p[at] >= '0' && p[at] <= '9') p[at] = (unsigned char)('0' + (r >> 44) % 10); break;
        default: p[at] = "{}[]\",:0123456789 -eE.\\u"[(r >> 40) % 25]; break;
        }
      }
      if (try_load(p, len)) loaded++;
      else failed++;
    }
    free(orig);
    free(p);
  }
  printf("fuzz: %d corrupted files loaded, %d failed cleanly\n", loaded, failed);
  CHECK(failed > 0);
}

/* ==================== atomic writes ==================== */

static lt_status save_one(const char *path, int64_t n, float value) {
  int64_t shape[] = {n};
  lt_tensor *t = tensor_of(1, shape, value, 0);
  const char *names[] = {"w"};
  lt_status st = lt_safetensors_save(path, 1, names, &t, 0, NULL, NULL);
  lt_tensor_release(t);
  return st;
}

TEST(atomic_write_failures_leave_no_trace) {
  /* a directory that does not exist */
  CHECK(save_one(in_tmp("nope/model.safetensors"), 4, 1) != LT_OK && error_has("nope/model.safetensors") &&
        error_has("No such file or directory"));
  /* the final name is a directory: rename fails after the data is written */
  mkdir(in_tmp("isdir"), 0777);
  CHECK(save_one(in_tmp("isdir"), 4, 1) != LT_OK && error_has("isdir: cannot rename"));
  CHECK(count_temp_files(tmpdir) == 0);
  CHECK(save_one(in_tmp("dir/"), 4, 1) != LT_OK && error_has("directory name"));

  /* the disk fills up mid-write (a file size limit makes write fail with EFBIG) */
  const char *path = in_tmp("model.safetensors");
  CHECK(save_one(path, 4, 7) == LT_OK);
  size_t old_len, new_len;
  unsigned char *old = read_all(path, &old_len);
  struct rlimit saved, small;
  getrlimit(RLIMIT_FSIZE, &saved);
  small = saved;
  small.rlim_cur = 4096;
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
  lt_status st = save_one(path, 100000, 9);
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, prev);
  CHECK(st != LT_OK && error_has("model.safetensors: write failed: File too large"));
  unsigned char *now = read_all(path, &new_len);
  CHECK(old && now && old_len == new_len && memcmp(old, now, old_len) == 0); /* untouched */
  CHECK(count_temp_files(tmpdir) == 0);
  free(now);

  /* a successful write replaces the file */
  CHECK(save_one(path, 100000, 9) == LT_OK);
  lt_safetensors *f = NULL;
  CHECK(lt_safetensors_load(path, &f) == LT_OK && f->n == 1 && lt_tensor_numel(f->tensors[0]) == 100000 &&
        lt_tensor_data(f->tensors[0])[99999] == 9);
  lt_safetensors_free(f);
  CHECK(count_temp_files(tmpdir) == 0);
  struct stat sb;
  mode_t mask = umask(0);
  umask(mask);
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == (0666 & ~mask));
  free(old);

  /* a read-only directory (root may write anyway: then skip) */
  mkdir(in_tmp("ro"), 0555);
  if (geteuid() != 0) {
    CHECK(save_one(in_tmp("ro/x.safetensors"), 4, 1) != LT_OK && error_has("Permission denied"));
  }
}

TEST(atomic_abort_removes_the_temporary_file) {
  lt_atomic_file af;
  CHECK(lt_atomic_open(&af, in_tmp("aborted")) == LT_OK);
  CHECK(lt_atomic_write(&af, "data", 4) == LT_OK);
  CHECK(count_temp_files(tmpdir) == 1);
  lt_atomic_abort(&af);
  CHECK(count_temp_files(tmpdir) == 0);
  CHECK(access(in_tmp("aborted"), F_OK) != 0);
  /* a relative path: the temporary file goes beside it, in the working directory */
  char cwd[512];
  CHECK(getcwd(cwd, sizeof cwd) != NULL);
  CHECK(chdir(tmpdir) == 0);
  CHECK(lt_atomic_open(&af, "relative.bin") == LT_OK && lt_atomic_write(&af, "xy", 2) == LT_OK);
  CHECK(lt_atomic_commit(&af) == LT_OK);
  CHECK(access("relative.bin", F_OK) == 0 && count_temp_files(".") == 0);
  CHECK(chdir(cwd) == 0);
}

TEST(fuzz_json_parser) {
  static const char alphabet[] = "{}[]\",:0123456789 -+eE.\\utrfalsnNIy\x01\xc3\xa9\xed\xff";
  char text[96];
  int parsed = 0;
  for (int it = 0; it < 200000; it++) {
    size_t n = 1 + next_random() % sizeof text;
    for (size_t k = 0; k < n; k++) text[k] = alphabet[next_random() % (sizeof alphabet - 1)];
    if (it % 3 == 0) text[0] = '{';
    lt_json *v = lt_json_parse(text, n);
    parsed += v != NULL;
    lt_json_free(v);
  }
  printf("json fuzz: %d of 200000 random texts parsed\n", parsed);
  CHECK(parsed < 200000);
}

int main(void) {
  make_tmpdir();
  RUN(json_parses_values);
  RUN(json_rejects_malformed_text);
  RUN(json_limits_nesting);
  RUN(json_doubles_round_trip);
  RUN(json_strings_round_trip);
  RUN(round_trip_with_views_scalars_and_empty);
  RUN(same_content_same_bytes);
  RUN(save_rejects_bad_names);
  RUN(reads_reference_file);
  RUN(writes_the_reference_layout);
  RUN(rejects_malformed_files);
  RUN(load_errors_name_the_path);
  RUN(fuzz_truncation_at_every_byte);
  RUN(fuzz_random_corruption);
  RUN(fuzz_json_parser);
  RUN(atomic_write_failures_leave_no_trace);
  RUN(atomic_abort_removes_the_temporary_file);
  remove_tree(tmpdir);
  return lt_test_summary();
}
