/* Reading and writing safetensors files (safetensors.h). */
#include "io/safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/atomic.h"
#include "io/json.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c moves float32 data as it is: it assumes a little-endian host"
#endif

#define CHUNK 65536 /* bytes converted at a time for non-F32 dtypes */

/* ==================== dtypes ==================== */

enum { F32, F64, F16, BF16, BOOL, U8, I8, U16, I16, U32, I32, U64, I64, N_DTYPES };
static const struct { const char *name; int size; } DTYPES[N_DTYPES] = {
  {"F32", 4}, {"F64", 8}, {"F16", 2}, {"BF16", 2}, {"BOOL", 1}, {"U8", 1}, {"I8", 1},
  {"U16", 2}, {"I16", 2}, {"U32", 4}, {"I32", 4}, {"U64", 8}, {"I64", 8}};

static int find_dtype(const char *s) {
  for (int k = 0; k < N_DTYPES; k++)
    if (strcmp(s, DTYPES[k].name) == 0) return k;
  return -1;
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) { /* zero or subnormal: man * 2^-24, exact in float32 */
    float f = ldexpf((float)man, -24);
    return sign ? -f : f;
  }
  bits = exp == 0x1f ? sign | 0x7f800000u | (man << 13) : sign | ((exp + 112) << 23) | (man << 13);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* The magnitude and sign of the integer at p. */
static uint64_t int_at(int dt, const unsigned char *p, int *neg) {
  int64_t v = 0;
  uint64_t u = 0;
  switch (dt) {
  case U8: return p[0];
  case I8: v = (int8_t)p[0]; break;
  case U16: { uint16_t x; memcpy(&x, p, 2); return x; }
  case I16: { int16_t x; memcpy(&x, p, 2); v = x; break; }
  case U32: { uint32_t x; memcpy(&x, p, 4); return x; }
  case I32: { int32_t x; memcpy(&x, p, 4); v = x; break; }
  case U64: memcpy(&u, p, 8); return u;
  default: memcpy(&v, p, 8); break; /* I64 */
  }
  *neg = v < 0;
  return v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
}

/* Converts n values of dtype dt to float32. Returns n, or the index of the
 * first integer float32 cannot hold exactly (more than 24 significant bits). */
static size_t convert(int dt, float *dst, const unsigned char *src, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (dt == F64) { double d; memcpy(&d, src + 8 * i, 8); dst[i] = (float)d; }
    else if (dt == F16) { uint16_t h; memcpy(&h, src + 2 * i, 2); dst[i] = half_to_float(h); }
    else if (dt == BF16) { uint16_t h; memcpy(&h, src + 2 * i, 2); uint32_t b = (uint32_t)h << 16; memcpy(&dst[i], &b, 4); }
    else if (dt == BOOL) dst[i] = src[i] != 0;
    else {
      int neg = 0;
      uint64_t m = int_at(dt, src + (size_t)DTYPES[dt].size * i, &neg), sig = m;
      if (sig) sig >>= __builtin_ctzll(sig);
      if (sig >= (1u << 24)) return i;
      dst[i] = neg ? -(float)m : (float)m;
    }
  }
  return n;
}

/* ==================== reading ==================== */

typedef struct {
  const char *label;
  FILE *f;                  /* a file, or ... */
  const unsigned char *mem; /* ... bytes in memory */
  uint64_t size, pos;
} source;

static lt_status src_read(source *s, void *buf, size_t n) {
  if (n > s->size - s->pos) /* validated before, unless the file changed meanwhile */
    return lt_error(LT_ERR_IO, "%s: truncated while reading (did the file change?)", s->label);
  if (s->f) {
    errno = 0;
    if (fread(buf, 1, n, s->f) != n)
      return ferror(s->f) ? lt_error(LT_ERR_IO, "%s: read error: %s", s->label, strerror(errno ? errno : EIO))
                          : lt_error(LT_ERR_IO, "%s: truncated while reading (did the file change?)", s->label);
  } else {
    memcpy(buf, s->mem + s->pos, n);
  }
  s->pos += n;
  return LT_OK;
}

typedef struct {
  const char *name;
  int dtype, ndim;
  int64_t shape[LT_MAX_DIMS];
  uint64_t begin, end;
  lt_tensor *t;
} entry;

static int by_offset(const void *a, const void *b) {
  const entry *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}
static int by_name(const void *a, const void *b) {
  return strcmp((*(const entry *const *)a)->name, (*(const entry *const *)b)->name);
}
static int by_key(const void *a, const void *b) {
  return strcmp((*(const lt_json *const *)a)->key, (*(const lt_json *const *)b)->key);
}

static const lt_json *field(const lt_json *obj, const char *key) {
  for (size_t k = 0; k < obj->n; k++)
    if (strcmp(obj->items[k].key, key) == 0) return &obj->items[k];
  return NULL;
}

/* A non-negative integer that fits in int64. */
static bool is_count(const lt_json *v) { return v->type == LT_JSON_INT && v->i >= 0; }

/* Checks one tensor entry of the header and fills e. */
static lt_status check_entry(const char *label, const lt_json *m, entry *e) {
  const char *name = m->key;
  e->name = name;
  if (strlen(name) != m->key_len) return lt_error(LT_ERR_IO, "%s: a tensor name contains a NUL character", label);
  if (m->type != LT_JSON_OBJECT)
    return lt_error(LT_ERR_IO, "%s: tensor '%s' is described by a JSON %s, expected an object with dtype, shape and data_offsets",
                    label, name, lt_json_type_name(m->type));
  static const char *const fields[] = {"dtype", "shape", "data_offsets"};
  int seen[3] = {0};
  for (size_t k = 0; k < m->n; k++) {
    const char *f = m->items[k].key;
    int j = 0;
    while (j < 3 && strcmp(f, fields[j]) != 0) j++;
    if (j == 3) return lt_error(LT_ERR_IO, "%s: tensor '%s' has an unknown field '%s'", label, name, f);
    if (seen[j]++) return lt_error(LT_ERR_IO, "%s: tensor '%s' has '%s' twice", label, name, f);
  }
  const lt_json *dt = field(m, "dtype"), *sh = field(m, "shape"), *off = field(m, "data_offsets");
  if (!dt || !sh || !off)
    return lt_error(LT_ERR_IO, "%s: tensor '%s' has no '%s'", label, name, !dt ? "dtype" : !sh ? "shape" : "data_offsets");
  if (dt->type != LT_JSON_STRING) return lt_error(LT_ERR_IO, "%s: tensor '%s': dtype must be a string", label, name);
  if ((e->dtype = find_dtype(dt->s)) < 0)
    return lt_error(LT_ERR_IO, "%s: tensor '%s' has dtype %.20s, which latent cannot read "
                    "(it reads F32, F64, F16, BF16, BOOL and 8- to 64-bit integers)", label, name, dt->s);
  if (sh->type != LT_JSON_ARRAY) return lt_error(LT_ERR_IO, "%s: tensor '%s': shape must be an array", label, name);
  if (sh->n > LT_MAX_DIMS)
    return lt_error(LT_ERR_IO, "%s: tensor '%s' has %zu dimensions; latent supports at most %d", label, name, sh->n, LT_MAX_DIMS);
  e->ndim = (int)sh->n;
  uint64_t numel = 1;
  for (int d = 0; d < e->ndim; d++) {
    if (!is_count(&sh->items[d]))
      return lt_error(LT_ERR_IO, "%s: tensor '%s': shape must hold non-negative integers", label, name);
    e->shape[d] = sh->items[d].i;
    if (numel && (uint64_t)e->shape[d] > (UINT64_MAX / 8) / numel)
      return lt_error(LT_ERR_IO, "%s: tensor '%s': shape is too large", label, name);
    numel *= (uint64_t)e->shape[d];
  }
  if (off->type != LT_JSON_ARRAY || off->n != 2 || !is_count(&off->items[0]) || !is_count(&off->items[1]) ||
      off->items[0].i > off->items[1].i)
    return lt_error(LT_ERR_IO, "%s: tensor '%s': data_offsets must be [begin, end] with 0 <= begin <= end", label, name);
  e->begin = (uint64_t)off->items[0].i;
  e->end = (uint64_t)off->items[1].i;
  uint64_t bytes = numel * (uint64_t)DTYPES[e->dtype].size;
  if (e->end - e->begin != bytes) {
    char buf[LT_SHAPE_STR];
    return lt_error(LT_ERR_IO, "%s: tensor '%s' of shape %s and dtype %s needs %" PRIu64 " bytes, but data_offsets "
                    "[%" PRIu64 ", %" PRIu64 "] span %" PRIu64, label, name, lt_shape_str(e->ndim, e->shape, buf),
                    DTYPES[e->dtype].name, bytes, e->begin, e->end, e->end - e->begin);
  }
  return LT_OK;
}

/* The tensors must tile [0, data_size) exactly; es is sorted by offset. */
static lt_status check_tiling(const char *label, const entry *es, size_t n, uint64_t data_size) {
  uint64_t pos = 0, max_end = 0;
  for (size_t k = 0; k < n; k++) max_end = es[k].end > max_end ? es[k].end : max_end;
  if (max_end > data_size)
    return lt_error(LT_ERR_IO, "%s: truncated: header says %" PRIu64 " bytes of data, file has %" PRIu64, label,
                    max_end, data_size);
  for (size_t k = 0; k < n; k++) {
    if (es[k].begin > pos)
      return lt_error(LT_ERR_IO, "%s: bytes %" PRIu64 " to %" PRIu64 " of the data belong to no tensor", label,
                      pos, es[k].begin);
    if (es[k].begin < pos)
      return lt_error(LT_ERR_IO, "%s: tensors '%s' and '%s' overlap in the data", label, es[k - 1].name, es[k].name);
    pos = es[k].end;
  }
  if (pos < data_size)
    return lt_error(LT_ERR_IO, "%s: %" PRIu64 " bytes of data after the last tensor (header accounts for %" PRIu64
                    " of %" PRIu64 ")", label, data_size - pos, pos, data_size);
  return LT_OK;
}

static lt_status read_tensor(source *s, entry *e, unsigned char *chunk) {
  if (!(e->t = lt_tensor_empty(e->ndim, e->shape)))
    return lt_error(LT_ERR_MEMORY, "%s: out of memory for tensor '%s'", s->label, e->name);
  float *dst = lt_tensor_data(e->t);
  if (e->dtype == F32) return src_read(s, dst, (size_t)(e->end - e->begin));
  size_t size = (size_t)DTYPES[e->dtype].size, n = (size_t)((e->end - e->begin) / size), per = CHUNK / size;
  for (size_t done = 0; done < n;) {
    size_t k = n - done < per ? n - done : per;
    lt_status st = src_read(s, chunk, k * size);
    if (st != LT_OK) return st;
    size_t ok = convert(e->dtype, dst + done, chunk, k);
    if (ok < k)
      return lt_error(LT_ERR_IO, "%s: tensor '%s' (%s) holds an integer at element %zu that float32 cannot "
                      "represent exactly", s->label, e->name, DTYPES[e->dtype].name, done + ok + 1);
    done += k;
  }
  return LT_OK;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* Builds the result from the checked header; es sorted by offset, read in that order. */
static lt_status build(source *s, entry *es, size_t n, lt_json **meta, size_t n_meta, lt_safetensors **out) {
  lt_safetensors *r = calloc(1, sizeof *r);
  entry **byname = malloc((n ? n : 1) * sizeof *byname);
  unsigned char *chunk = malloc(CHUNK);
  lt_status st = LT_OK;
  if (r) {
    r->names = calloc(n ? n : 1, sizeof *r->names);
    r->tensors = calloc(n ? n : 1, sizeof *r->tensors);
    r->meta_keys = calloc(n_meta ? n_meta : 1, sizeof *r->meta_keys);
    r->meta_values = calloc(n_meta ? n_meta : 1, sizeof *r->meta_values);
  }
  if (!r || !byname || !chunk || !r->names || !r->tensors || !r->meta_keys || !r->meta_values) {
    st = lt_error(LT_ERR_MEMORY, "%s: out of memory", s->label);
    goto done;
  }
  for (size_t k = 0; k < n && st == LT_OK; k++) st = read_tensor(s, &es[k], chunk);
  if (st != LT_OK) goto done;
  for (size_t k = 0; k < n; k++) byname[k] = &es[k];
  qsort(byname, n, sizeof *byname, by_name);
  for (size_t k = 0; k < n; k++) {
    r->n = k + 1;
    r->tensors[k] = byname[k]->t;
    byname[k]->t = NULL;
    if (!(r->names[k] = dup_str(byname[k]->name))) { st = lt_error(LT_ERR_MEMORY, "%s: out of memory", s->label); goto done; }
  }
  for (size_t k = 0; k < n_meta; k++) {
    r->n_meta = k + 1;
    r->meta_keys[k] = dup_str(meta[k]->key);
    r->meta_values[k] = dup_str(meta[k]->s);
    if (!r->meta_keys[k] || !r->meta_values[k]) { st = lt_error(LT_ERR_MEMORY, "%s: out of memory", s->label); goto done; }
  }
done:
  for (size_t k = 0; k < n; k++) lt_tensor_release(es[k].t);
  free(byname);
  free(chunk);
  if (st != LT_OK) lt_safetensors_free(r);
  else *out = r;
  return st;
}

/* Checks the header's metadata object; fills meta (sorted by key). */
static lt_status check_metadata(const char *label, const lt_json *md, lt_json **meta) {
  if (md->type != LT_JSON_OBJECT)
    return lt_error(LT_ERR_IO, "%s: __metadata__ is a JSON %s, expected an object of strings", label, lt_json_type_name(md->type));
  for (size_t k = 0; k < md->n; k++) {
    const lt_json *v = &md->items[k];
    if (v->type != LT_JSON_STRING)
      return lt_error(LT_ERR_IO, "%s: metadata '%s' is a JSON %s; metadata values must be strings", label, v->key,
                      lt_json_type_name(v->type));
    if (strlen(v->key) != v->key_len || strlen(v->s) != v->len)
      return lt_error(LT_ERR_IO, "%s: metadata '%s' contains a NUL character", label, v->key);
    meta[k] = (lt_json *)v;
  }
  qsort(meta, md->n, sizeof *meta, by_key);
  for (size_t k = 1; k < md->n; k++)
    if (strcmp(meta[k - 1]->key, meta[k]->key) == 0)
      return lt_error(LT_ERR_IO, "%s: metadata '%s' appears twice", label, meta[k]->key);
  return LT_OK;
}

/* Checks the parsed header and reads the tensors. */
static lt_status load_header(source *s, const lt_json *root, uint64_t data_size, lt_safetensors **out) {
  const lt_json *md = NULL;
  for (size_t k = 0; k < root->n; k++) {
    if (strcmp(root->items[k].key, "__metadata__") != 0) continue;
    if (md) return lt_error(LT_ERR_IO, "%s: __metadata__ appears twice", s->label);
    md = &root->items[k];
  }
  size_t n = root->n - (md != NULL), n_meta = md && md->type == LT_JSON_OBJECT ? md->n : 0, i = 0;
  entry *es = calloc(n ? n : 1, sizeof *es);
  entry **byname = malloc((n ? n : 1) * sizeof *byname);
  lt_json **meta = malloc((n_meta ? n_meta : 1) * sizeof *meta);
  lt_status st = (es && byname && meta) ? LT_OK : lt_error(LT_ERR_MEMORY, "%s: out of memory", s->label);
  if (st == LT_OK && md) st = check_metadata(s->label, md, meta);
  for (size_t k = 0; k < root->n && st == LT_OK; k++)
    if (&root->items[k] != md) st = check_entry(s->label, &root->items[k], &es[i++]);
  if (st == LT_OK) {
    for (size_t k = 0; k < n; k++) byname[k] = &es[k];
    qsort(byname, n, sizeof *byname, by_name);
    for (size_t k = 1; k < n && st == LT_OK; k++)
      if (strcmp(byname[k - 1]->name, byname[k]->name) == 0)
        st = lt_error(LT_ERR_IO, "%s: tensor '%s' appears twice", s->label, byname[k]->name);
  }
  if (st == LT_OK) {
    qsort(es, n, sizeof *es, by_offset);
    st = check_tiling(s->label, es, n, data_size);
  }
  if (st == LT_OK) st = build(s, es, n, meta, n_meta, out);
  free(es);
  free(byname);
  free(meta);
  return st;
}

static lt_status load_source(source *s, lt_safetensors **out) {
  unsigned char len8[8];
  *out = NULL;
  if (s->size < 8)
    return lt_error(LT_ERR_IO, "%s: not a safetensors file (%" PRIu64 " bytes, too short for the header length)",
                    s->label, s->size);
  lt_status st = src_read(s, len8, 8);
  if (st != LT_OK) return st;
  uint64_t n = 0;
  for (int k = 7; k >= 0; k--) n = n << 8 | len8[k];
  if (n > s->size - 8)
    return lt_error(LT_ERR_IO, "%s: %s (header length %" PRIu64 " exceeds file size %" PRIu64 ")", s->label,
                    n <= LT_SAFETENSORS_MAX_HEADER ? "truncated, or not a safetensors file" : "not a safetensors file",
                    n, s->size);
  if (n > LT_SAFETENSORS_MAX_HEADER)
    return lt_error(LT_ERR_IO, "%s: header length %" PRIu64 " is over the limit of %d bytes", s->label, n,
                    LT_SAFETENSORS_MAX_HEADER);
  if (n < 2) return lt_error(LT_ERR_IO, "%s: not a safetensors file (header length %" PRIu64 ")", s->label, n);
  char *header = malloc((size_t)n + 1);
  if (!header) return lt_error(LT_ERR_MEMORY, "%s: out of memory for a header of %" PRIu64 " bytes", s->label, n);
  lt_json *root = NULL;
  if ((st = src_read(s, header, (size_t)n)) != LT_OK) goto done;
  if (header[0] != '{') {
    st = lt_error(LT_ERR_IO, "%s: not a safetensors file (the header does not start with '{')", s->label);
    goto done;
  }
  if (!(root = lt_json_parse(header, (size_t)n))) {
    char why[256];
    snprintf(why, sizeof why, "%s", lt_errmsg());
    st = lt_error(LT_ERR_IO, "%s: invalid header JSON %s", s->label, why);
    goto done;
  }
  st = load_header(s, root, s->size - 8 - n, out);
done:
  lt_json_free(root);
  free(header);
  return st;
}

lt_status lt_safetensors_load(const char *path, lt_safetensors **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return lt_error(LT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  lt_status st;
  if (fstat(fileno(f), &sb) != 0) st = lt_error(LT_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
  else if (!S_ISREG(sb.st_mode)) st = lt_error(LT_ERR_IO, "%s: not a regular file", path);
  else {
    source s = {path, f, NULL, (uint64_t)sb.st_size, 0};
    st = load_source(&s, out);
  }
  fclose(f);
  return st;
}

lt_status lt_safetensors_load_memory(const char *label, const void *data, size_t len, lt_safetensors **out) {
  source s = {label, NULL, data, len, 0};
  return load_source(&s, out);
}

void lt_safetensors_free(lt_safetensors *r) {
  if (!r) return;
  for (size_t k = 0; k < r->n; k++) {
    free(r->names[k]);
    lt_tensor_release(r->tensors[k]);
  }
  for (size_t k = 0; k < r->n_meta; k++) {
    free(r->meta_keys[k]);
    free(r->meta_values[k]);
  }
  free(r->names);
  free(r->tensors);
  free(r->meta_keys);
  free(r->meta_values);
  free(r);
}

/* ==================== writing ==================== */

typedef struct { const char *key; size_t index; } named;

static int named_cmp(const void *a, const void *b) { return strcmp(((const named *)a)->key, ((const named *)b)->key); }

/* Sorts keys (with their indices) and checks them: UTF-8, unique. */
static lt_status sort_names(const char *path, const char *what, size_t n, const char *const *keys, named *out) {
  for (size_t k = 0; k < n; k++) {
    if (!keys[k]) return lt_error(LT_ERR_ARG, "%s: %s %zu is NULL", path, what, k + 1);
    if (!lt_utf8_valid(keys[k], strlen(keys[k]))) return lt_error(LT_ERR_ARG, "%s: %s '%s' is not valid UTF-8", path, what, keys[k]);
    out[k] = (named){keys[k], k};
  }
  qsort(out, n, sizeof *out, named_cmp);
  for (size_t k = 1; k < n; k++)
    if (strcmp(out[k - 1].key, out[k].key) == 0) return lt_error(LT_ERR_ARG, "%s: %s '%s' appears twice", path, what, out[k].key);
  return LT_OK;
}

static void build_header(lt_strbuf *b, size_t n, const named *order, lt_tensor *const *tensors, size_t n_meta,
                         const named *meta_order, const char *const *values) {
  lt_strbuf_add(b, "{", 1);
  if (n_meta) {
    lt_strbuf_adds(b, "\"__metadata__\":{");
    for (size_t k = 0; k < n_meta; k++) {
      const char *v = values[meta_order[k].index];
      if (k) lt_strbuf_add(b, ",", 1);
      lt_json_add_string(b, meta_order[k].key, strlen(meta_order[k].key));
      lt_strbuf_add(b, ":", 1);
      lt_json_add_string(b, v, strlen(v));
    }
    lt_strbuf_adds(b, n ? "}," : "}");
  }
  uint64_t pos = 0;
  for (size_t k = 0; k < n; k++) {
    const lt_tensor *t = tensors[order[k].index];
    uint64_t bytes = (uint64_t)lt_tensor_numel(t) * sizeof(float);
    if (k) lt_strbuf_add(b, ",", 1);
    lt_json_add_string(b, order[k].key, strlen(order[k].key));
    lt_strbuf_adds(b, ":{\"dtype\":\"F32\",\"shape\":[");
    for (int d = 0; d < t->ndim; d++) lt_strbuf_addf(b, d ? ",%" PRId64 : "%" PRId64, t->shape[d]);
    lt_strbuf_addf(b, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", pos, pos + bytes);
    pos += bytes;
  }
  lt_strbuf_add(b, "}", 1);
  while (b->n % 8) lt_strbuf_add(b, " ", 1); /* the data starts 8-byte aligned */
}

static lt_status write_file(const char *path, const lt_strbuf *header, size_t n, const named *order,
                            lt_tensor *const *tensors) {
  lt_atomic_file af;
  lt_status st = lt_atomic_open(&af, path);
  if (st != LT_OK) return st;
  unsigned char len8[8];
  for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)header->n >> (8 * k));
  st = lt_atomic_write(&af, len8, 8);
  if (st == LT_OK) st = lt_atomic_write(&af, header->p, header->n);
  for (size_t k = 0; k < n && st == LT_OK; k++) {
    lt_tensor *c = lt_tensor_contiguous_values(tensors[order[k].index]); /* values in C order */
    if (!c) { st = LT_ERR_MEMORY; break; }
    st = lt_atomic_write(&af, lt_tensor_data(c), (size_t)lt_tensor_numel(c) * sizeof(float));
    lt_tensor_release(c);
  }
  if (st != LT_OK) {
    lt_atomic_abort(&af);
    return st;
  }
  return lt_atomic_commit(&af);
}

lt_status lt_safetensors_save(const char *path, size_t n, const char *const *names, lt_tensor *const *tensors,
                              size_t n_meta, const char *const *meta_keys, const char *const *meta_values) {
  if (!path || !*path) return lt_error(LT_ERR_ARG, "save: empty file name");
  named *order = malloc((n ? n : 1) * sizeof *order), *meta_order = malloc((n_meta ? n_meta : 1) * sizeof *meta_order);
  lt_strbuf header = {0};
  lt_status st = (order && meta_order) ? LT_OK : lt_error(LT_ERR_MEMORY, "%s: out of memory", path);
  if (st == LT_OK) st = sort_names(path, "tensor name", n, names, order);
  if (st == LT_OK) st = sort_names(path, "metadata key", n_meta, meta_keys, meta_order);
  for (size_t k = 0; k < n && st == LT_OK; k++) {
    if (!tensors[k]) st = lt_error(LT_ERR_ARG, "%s: tensor '%s' is NULL", path, names[k]);
    else if (strcmp(names[k], "__metadata__") == 0) st = lt_error(LT_ERR_ARG, "%s: a tensor cannot be named '__metadata__'", path);
  }
  for (size_t k = 0; k < n_meta && st == LT_OK; k++)
    if (!meta_values[k] || !lt_utf8_valid(meta_values[k], strlen(meta_values[k])))
      st = lt_error(LT_ERR_ARG, "%s: metadata '%s' is not a valid UTF-8 string", path, meta_keys[k]);
  if (st == LT_OK) {
    build_header(&header, n, order, tensors, n_meta, meta_order, meta_values);
    st = header.failed ? lt_error(LT_ERR_MEMORY, "%s: out of memory", path) : write_file(path, &header, n, order, tensors);
  }
  lt_strbuf_free(&header);
  free(order);
  free(meta_order);
  return st;
}
