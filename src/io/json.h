/* A small, strict JSON reader and the writing helpers latent's files need.
 *
 * It exists for the safetensors header (src/io/safetensors.c) and for the
 * structured metadata of checkpoints (lt.json_encode / lt.json_decode).
 * Debian's lua-cjson 2.1.0 was the alternative; it writes numbers with at most
 * 14 significant digits (0.1 + 0.2 comes back as 0.3) and reads every number
 * as a float (epoch 3 comes back as 3.0), which breaks bit-exact resume.
 *
 * Reading (RFC 8259): the whole text must be one value with only whitespace
 * around it; strings must be valid UTF-8 and are unescaped (\uXXXX with
 * surrogate pairs); nesting is limited to LT_JSON_MAX_DEPTH. Numbers without
 * a fraction or exponent that fit in int64 are LT_JSON_INT, the others
 * LT_JSON_FLOAT. As Python's json module does, NaN, Infinity and -Infinity are
 * accepted (and written) for non-finite floats. Duplicate object keys are kept
 * in order; callers that care check them. */
#ifndef LT_JSON_H
#define LT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lt_error.h"

#define LT_JSON_MAX_DEPTH 100

typedef enum {
  LT_JSON_NULL, LT_JSON_BOOL, LT_JSON_INT, LT_JSON_FLOAT,
  LT_JSON_STRING, LT_JSON_ARRAY, LT_JSON_OBJECT
} lt_json_type;

typedef struct lt_json lt_json;
struct lt_json {
  lt_json_type type;
  char *key;          /* for a member of an object: its name, NUL-terminated */
  size_t key_len;
  int64_t i;          /* LT_JSON_INT, and LT_JSON_BOOL (0 or 1) */
  double f;           /* LT_JSON_FLOAT */
  char *s;            /* LT_JSON_STRING: the unescaped bytes, NUL-terminated */
  size_t len;
  lt_json *items;     /* LT_JSON_ARRAY, LT_JSON_OBJECT: n children in order */
  size_t n;
};

/* Parses text[0, len). NULL on failure, with the message
 * "at byte 17: expected ':' after an object key" (LT_ERR_ARG), or on memory. */
lt_json *lt_json_parse(const char *text, size_t len);
void lt_json_free(lt_json *v); /* NULL is allowed */
const char *lt_json_type_name(lt_json_type t); /* "string", "object", ... */

/* True when s[0, n) is well-formed UTF-8 (no overlongs, no surrogates). */
bool lt_utf8_valid(const char *s, size_t n);

/* ---- writing: a growable byte buffer ---- */
typedef struct {
  char *p;
  size_t n, cap;
  bool failed; /* an allocation failed; later adds do nothing */
} lt_strbuf;

void lt_strbuf_add(lt_strbuf *b, const char *s, size_t n);
void lt_strbuf_adds(lt_strbuf *b, const char *s); /* NUL-terminated */
void lt_strbuf_addf(lt_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lt_strbuf_free(lt_strbuf *b);

/* Appends s[0, n) as a quoted JSON string. */
void lt_json_add_string(lt_strbuf *b, const char *s, size_t n);
/* Appends the shortest decimal that reads back as exactly v; it always reads
 * back as a float ("3.0", "1e+20"); NaN, Infinity, -Infinity when not finite. */
void lt_json_add_double(lt_strbuf *b, double v);

#endif
