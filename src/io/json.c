/* A strict recursive-descent JSON reader and a few writing helpers (json.h). */
#include "io/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==================== UTF-8 ==================== */

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (len == 0 || c > 0xf4 || len > n) return 0;
  for (size_t k = 1; k < len; k++)
    if ((s[k] & 0xc0) != 0x80) return 0;
  if (c == 0xe0 && s[1] < 0xa0) return 0; /* overlong */
  if (c == 0xed && s[1] > 0x9f) return 0; /* surrogate */
  if (c == 0xf0 && s[1] < 0x90) return 0; /* overlong */
  if (c == 0xf4 && s[1] > 0x8f) return 0; /* above U+10FFFF */
  return len;
}

bool lt_utf8_valid(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq(u + i, n - i);
    if (!k) return false;
    i += k;
  }
  return true;
}

/* ==================== reading ==================== */

typedef struct {
  const char *p, *end, *start;
  int depth;
  bool failed;
} parser;

static lt_json *fail(parser *ps, const char *what) {
  if (!ps->failed) lt_error(LT_ERR_ARG, "at byte %zu: %s", (size_t)(ps->p - ps->start), what);
  ps->failed = true;
  return NULL;
}

static void skip_ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static bool literal(parser *ps, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return false;
  ps->p += n;
  return true;
}

static int hex4(const char *p) {
  int v = 0;
  for (int k = 0; k < 4; k++) {
    char c = p[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) { o[0] = (char)cp; return 1; }
  if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* A string at ps->p (just past the opening quote) into a new buffer; the
 * unescaped form is never longer than the escaped one. */
static char *parse_string(parser *ps, size_t *len) {
  const char *q = ps->p;
  while (q < ps->end && *q != '"') q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
  if (q >= ps->end) return (char *)fail(ps, "unterminated string");
  char *out = malloc((size_t)(q - ps->p) + 1), *o = out;
  if (!out) { ps->failed = true; lt_error(LT_ERR_MEMORY, "out of memory reading JSON"); return NULL; }
  while (*ps->p != '"') {
    unsigned char c = (unsigned char)*ps->p;
    if (c < 0x20) { free(out); return (char *)fail(ps, "control character in a string"); }
    if (c != '\\') {
      size_t k = utf8_seq((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
      if (!k) { free(out); return (char *)fail(ps, "invalid UTF-8 in a string"); }
      memcpy(o, ps->p, k); o += k; ps->p += k;
      continue;
    }
    char e = ps->p[1]; /* the prescan made sure it is before the closing quote */
    char r = e == '"' ? '"' : e == '\\' ? '\\' : e == '/' ? '/' : e == 'b' ? '\b' : e == 'f' ? '\f'
           : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : 0;
    if (r) { *o++ = r; ps->p += 2; continue; }
    if (e != 'u' || ps->end - ps->p < 6) { free(out); return (char *)fail(ps, "bad escape in a string"); }
    int cp = hex4(ps->p + 2), lo = -1;
    if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 12 && ps->p[6] == '\\' && ps->p[7] == 'u') lo = hex4(ps->p + 8);
    if (cp < 0 || (cp >= 0xdc00 && cp < 0xe000) || (cp >= 0xd800 && cp < 0xdc00 && !(lo >= 0xdc00 && lo < 0xe000))) {
      free(out);
      return (char *)fail(ps, "bad \\u escape (or unpaired surrogate) in a string");
    }
    if (lo >= 0) { cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); ps->p += 6; }
    o += put_utf8(o, (unsigned)cp);
    ps->p += 6;
  }
  ps->p++;
  *o = '\0';
  *len = (size_t)(o - out);
  return out;
}

static bool parse_number(parser *ps, lt_json *v) {
  const char *s = ps->p, *q = s;
  if (q < ps->end && *q == '-') q++;
  if (q >= ps->end || *q < '0' || *q > '9') return fail(ps, "bad number"), false;
  if (*q == '0') q++;
  else while (q < ps->end && *q >= '0' && *q <= '9') q++;
  bool is_int = true;
  if (q < ps->end && *q == '.') {
    is_int = false;
    if (++q >= ps->end || *q < '0' || *q > '9') return fail(ps, "bad number: digits expected after '.'"), false;
    while (q < ps->end && *q >= '0' && *q <= '9') q++;
  }
  if (q < ps->end && (*q == 'e' || *q == 'E')) {
    is_int = false;
    if (++q < ps->end && (*q == '+' || *q == '-')) q++;
    if (q >= ps->end || *q < '0' || *q > '9') return fail(ps, "bad number: digits expected in the exponent"), false;
    while (q < ps->end && *q >= '0' && *q <= '9') q++;
  }
  char buf[512];
  if ((size_t)(q - s) >= sizeof buf) return fail(ps, "number too long"), false;
  memcpy(buf, s, (size_t)(q - s));
  buf[q - s] = '\0';
  ps->p = q;
  if (is_int) { /* exact when it fits in int64, else a float */
    uint64_t m = 0, limit = (*s == '-') ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    bool fits = true;
    for (const char *d = buf + (*s == '-'); *d && fits; d++) {
      if (m > (limit - (uint64_t)(*d - '0')) / 10) fits = false;
      else m = m * 10 + (uint64_t)(*d - '0');
    }
    if (fits) {
      v->type = LT_JSON_INT;
      v->i = (*s == '-') ? (int64_t)(0 - m) : (int64_t)m;
      return true;
    }
  }
  v->type = LT_JSON_FLOAT;
  v->f = strtod(buf, NULL);
  return true;
}

static bool parse_value(parser *ps, lt_json *v);

/* An array or object after its opening bracket; members get keys. */
static bool parse_list(parser *ps, lt_json *v, bool object) {
  char close = object ? '}' : ']';
  size_t cap = 0;
  if (++ps->depth > LT_JSON_MAX_DEPTH) return fail(ps, "nested too deeply"), false;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == close) { ps->p++; ps->depth--; return true; }
  for (;;) {
    if (v->n == cap) {
      size_t ncap = cap ? cap * 2 : 4;
      lt_json *items = realloc(v->items, ncap * sizeof *items);
      if (!items) { ps->failed = true; lt_error(LT_ERR_MEMORY, "out of memory reading JSON"); return false; }
      v->items = items;
      cap = ncap;
    }
    lt_json *item = &v->items[v->n];
    memset(item, 0, sizeof *item);
    v->n++;
    skip_ws(ps);
    if (object) {
      if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "expected a string key in an object"), false;
      ps->p++;
      if (!(item->key = parse_string(ps, &item->key_len))) return false;
      skip_ws(ps);
      if (ps->p >= ps->end || *ps->p != ':') return fail(ps, "expected ':' after an object key"), false;
      ps->p++;
    }
    if (!parse_value(ps, item)) return false;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
    if (ps->p < ps->end && *ps->p == close) { ps->p++; ps->depth--; return true; }
    return fail(ps, object ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array"), false;
  }
}

static bool parse_value(parser *ps, lt_json *v) {
  skip_ws(ps);
  if (ps->p >= ps->end) return fail(ps, "unexpected end of text"), false;
  char c = *ps->p;
  if (c == '{' || c == '[') {
    v->type = c == '{' ? LT_JSON_OBJECT : LT_JSON_ARRAY;
    ps->p++;
    return parse_list(ps, v, c == '{');
  }
  if (c == '"') {
    ps->p++;
    v->type = LT_JSON_STRING;
    return (v->s = parse_string(ps, &v->len)) != NULL;
  }
  if (literal(ps, "true") || literal(ps, "false")) {
    v->type = LT_JSON_BOOL;
    v->i = c == 't';
    return true;
  }
  if (literal(ps, "null")) { v->type = LT_JSON_NULL; return true; }
  if (literal(ps, "NaN")) { v->type = LT_JSON_FLOAT; v->f = NAN; return true; }
  if (literal(ps, "Infinity")) { v->type = LT_JSON_FLOAT; v->f = INFINITY; return true; }
  if (literal(ps, "-Infinity")) { v->type = LT_JSON_FLOAT; v->f = -INFINITY; return true; }
  if (c == '-' || (c >= '0' && c <= '9')) return parse_number(ps, v);
  return fail(ps, "unexpected character"), false;
}

lt_json *lt_json_parse(const char *text, size_t len) {
  parser ps = {text, text + len, text, 0, false};
  lt_json *v = calloc(1, sizeof *v);
  if (!v) { lt_error(LT_ERR_MEMORY, "out of memory reading JSON"); return NULL; }
  if (parse_value(&ps, v)) {
    skip_ws(&ps);
    if (ps.p == ps.end) return v;
    fail(&ps, "unexpected text after the value");
  }
  lt_json_free(v);
  return NULL;
}

static void free_children(lt_json *v) {
  for (size_t k = 0; k < v->n; k++) {
    free_children(&v->items[k]);
    free(v->items[k].key);
  }
  free(v->items);
  free(v->s);
}

void lt_json_free(lt_json *v) {
  if (!v) return;
  free_children(v);
  free(v);
}

const char *lt_json_type_name(lt_json_type t) {
  static const char *names[] = {"null", "boolean", "integer", "number", "string", "array", "object"};
  return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

/* ==================== writing ==================== */

static bool reserve(lt_strbuf *b, size_t extra) {
  if (b->failed) return false;
  if (b->n + extra + 1 <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + extra + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) { b->failed = true; return false; }
  b->p = p;
  b->cap = cap;
  return true;
}

void lt_strbuf_add(lt_strbuf *b, const char *s, size_t n) {
  if (!reserve(b, n)) return;
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

void lt_strbuf_adds(lt_strbuf *b, const char *s) { lt_strbuf_add(b, s, strlen(s)); }

void lt_strbuf_addf(lt_strbuf *b, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n < sizeof tmp) { lt_strbuf_add(b, tmp, (size_t)n); return; }
  if (n < 0 || !reserve(b, (size_t)n)) { b->failed = true; return; }
  va_start(ap, fmt);
  vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)n;
}

void lt_strbuf_free(lt_strbuf *b) {
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}

void lt_json_add_string(lt_strbuf *b, const char *s, size_t n) {
  lt_strbuf_add(b, "\"", 1);
  size_t run = 0; /* bytes copied as they are, in one go */
  for (size_t k = 0; k < n; k++) {
    unsigned char c = (unsigned char)s[k];
    if (c >= 0x20 && c != '"' && c != '\\') { run++; continue; }
    lt_strbuf_add(b, s + k - run, run);
    run = 0;
    if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; lt_strbuf_add(b, e, 2); }
    else if (c == '\n') lt_strbuf_add(b, "\\n", 2);
    else if (c == '\t') lt_strbuf_add(b, "\\t", 2);
    else if (c == '\r') lt_strbuf_add(b, "\\r", 2);
    else lt_strbuf_addf(b, "\\u%04x", c);
  }
  lt_strbuf_add(b, s + n - run, run);
  lt_strbuf_add(b, "\"", 1);
}

void lt_json_add_double(lt_strbuf *b, double v) {
  if (isnan(v)) { lt_strbuf_adds(b, "NaN"); return; }
  if (isinf(v)) { lt_strbuf_adds(b, v > 0 ? "Infinity" : "-Infinity"); return; }
  char tmp[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v) break;
  }
  lt_strbuf_adds(b, tmp);
  if (!strpbrk(tmp, ".eE")) lt_strbuf_add(b, ".0", 2); /* reads back as a float */
}
