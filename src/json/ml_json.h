/* ml_json: a strict RFC 8259 JSON reader (DOM) and a writer whose output is
 * always valid JSON.
 *
 * Why our own parser: mallard parses one document per input line, millions of
 * times per second, and needs things general-purpose libraries do not give
 * together: the raw source slice of every value (objects and arrays are copied
 * into JSON columns verbatim, numbers keep every digit), an arena reused from
 * line to line (no malloc per value), and errors with line and column.
 *
 * Reader guarantees:
 *  - Accepts exactly RFC 8259: no comments, no trailing commas, no NaN or
 *    Infinity, no leading zeros or '+', no control characters in strings,
 *    no lone surrogates in \u escapes, no invalid UTF-8 anywhere (overlongs,
 *    surrogates encoded in UTF-8, code points above U+10FFFF included), one
 *    value per document with only whitespace around it.
 *  - No recursion: nesting depth is limited only by memory (and by
 *    ML_JSON_MAX_DEPTH, a sanity bound reported as an error).
 *  - Duplicate object keys are kept in order; ml_json_get returns the last one
 *    (the value a JavaScript reader would see).
 *  - Numbers keep their source text; `i` is set when the text is an integer
 *    that fits int64, `d` always holds the nearest double (±HUGE_VAL on
 *    overflow, with ML_JSON_NUM_OVERFLOW set).
 */
#ifndef ML_JSON_H
#define ML_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/ml_buf.h"
#include "../util/ml_err.h"

#define ML_JSON_MAX_DEPTH 100000

typedef enum ml_json_type {
  ML_JSON_NULL = 0,
  ML_JSON_FALSE,
  ML_JSON_TRUE,
  ML_JSON_NUMBER,
  ML_JSON_STRING,
  ML_JSON_ARRAY,
  ML_JSON_OBJECT
} ml_json_type;

/* number flags */
#define ML_JSON_NUM_INT 1u      /* integer syntax (no '.', no exponent) and fits int64: `i` valid */
#define ML_JSON_NUM_OVERFLOW 2u /* magnitude beyond double range: `d` is ±HUGE_VAL */

typedef struct ml_json_val ml_json_val;
struct ml_json_val {
  ml_json_type type;
  uint32_t flags; /* ML_JSON_NUM_* for numbers */
  /* STRING: byte length of the unescaped text.
   * ARRAY: number of elements.  OBJECT: number of members.
   * NUMBER: length of the number's source text. */
  size_t len;
  union {
    const char *str;   /* STRING: unescaped UTF-8, NUL-terminated (may contain
                          NUL bytes from \u0000: use len).  NUMBER: source text
                          (not NUL-terminated; use len). */
    const ml_json_val *items; /* ARRAY: len elements.  OBJECT: 2*len values:
                                 key (a STRING), value, key, value, ... */
  } u;
  int64_t i; /* NUMBER with ML_JSON_NUM_INT */
  double d;  /* NUMBER */
  /* The value's exact text in the parsed input: src[0..src_len) */
  const char *src;
  size_t src_len;
};

/* A reusable parser and arena.  Everything a parse returns (values, strings)
 * lives in the doc and stays valid until the next ml_json_parse on the same doc
 * or ml_json_doc_free; `src` pointers point into the caller's input text,
 * which the caller keeps alive as long as it uses them. */
typedef struct ml_json_doc ml_json_doc;

/* Returns NULL when out of memory.  Free with ml_json_doc_free. */
ml_json_doc *ml_json_doc_new(void);
void ml_json_doc_free(ml_json_doc *doc);

/* Memory one parse may use (arena and stacks, about 60 bytes per value plus
 * the text of strings); a document that needs more fails with ML_ERR_LIMIT
 * "document needs more than N MB of memory".  Bounds what a hostile input
 * line (say 100 MB of "[0,0,0,...") can make mallard allocate. */
#define ML_JSON_DEFAULT_MAX_BYTES ((size_t)1 << 30)
void ml_json_doc_set_max_bytes(ml_json_doc *doc, size_t max_bytes);

/* Parses text[0..len) (need not be NUL-terminated) as one JSON document.
 * On success sets *root and returns ML_OK.  On failure returns ML_ERR_INPUT
 * (or ML_ERR_NOMEM / ML_ERR_LIMIT) and fills err: line and column (1-based,
 * column in bytes, counted from the start of text) and offset of the first
 * offending byte (for invalid UTF-8: the first byte of the bad sequence),
 * and a message that says what is wrong without where, such as "expected ','
 * or '}' after object member, found 'x'" or "invalid UTF-8 byte 0xC3 in
 * string (truncated multi-byte sequence)": the caller words the position, as
 * its reader counts lines (a whole file, one input line of many).
 * Nesting deeper than ML_JSON_MAX_DEPTH gives ML_ERR_LIMIT. */
ml_status ml_json_parse(ml_json_doc *doc, const char *text, size_t len, const ml_json_val **root,
                        ml_err *err);
/* Puts "line N, column M: " (err's position) in front of the message of a
 * failed ml_json_parse, for a reader for whom the parsed text is the whole
 * document.  err may be NULL. */
void ml_json_err_locate(ml_err *err);

/* True when text[0..len), valid JSON (a parsed value's src), has no
 * whitespace outside its strings and no escapes inside them: then it is
 * exactly the text ml_jw writes for the value, and a caller may copy it
 * instead of writing the value again.  Spaces inside strings are content. */
bool ml_json_text_compact(const char *text, size_t len);

/* Object member lookup by exact key (bytes, case-sensitive); the last of
 * duplicates wins.  NULL when obj is not an object or has no such key. */
const ml_json_val *ml_json_getn(const ml_json_val *obj, const char *key, size_t key_len);
/* Inline so that the length of a literal key is known when compiling: the
 * per-record lookups of the message envelope run this for every line. */
static inline const ml_json_val *ml_json_get(const ml_json_val *obj, const char *key) {
  return key ? ml_json_getn(obj, key, __builtin_strlen(key)) : NULL;
}

/* String value of a member, or NULL when missing or not a string. */
const char *ml_json_get_str(const ml_json_val *obj, const char *key);

/* For OBJECT values: member i's key and value (i < len). */
static inline const ml_json_val *ml_json_key(const ml_json_val *obj, size_t i) { return &obj->u.items[2 * i]; }
static inline const ml_json_val *ml_json_member(const ml_json_val *obj, size_t i) { return &obj->u.items[2 * i + 1]; }

/* Structural equality: same type, same strings, numbers equal by value (1.0 == 1),
 * objects equal as maps (member order ignored), arrays element-wise.  No recursion.
 * Numbers compare as exact decimals, not doubles (0 == -0 == 0e5, but
 * 9007199254740993 != 9007199254740992); with duplicate keys the last wins. */
bool ml_json_equal(const ml_json_val *a, const ml_json_val *b);

/* ---- writer ----
 * A streaming writer into an ml_buf that inserts commas and colons itself.
 * Output is always valid JSON: strings are escaped (control characters as
 * \u00XX, '"' and '\\'), invalid UTF-8 in input strings is replaced by U+FFFD,
 * non-finite doubles are written as null.  Misuse (a value where a key is
 * needed, unbalanced end, a second top-level value, begin nested more than 255
 * levels deep) sets `bad` and the writer stops writing.  ml_jw_val's inner
 * structure does not count toward the 255 levels. */
typedef struct ml_jw {
  ml_buf *out;     /* not owned */
  uint32_t depth;  /* current nesting */
  bool bad;        /* misuse detected */
  /* per depth: 1 if a value was already written at that level (comma needed);
     2 if inside an object and a key was just written */
  uint8_t state[256];
  uint8_t is_obj[256];
} ml_jw;

void ml_jw_init(ml_jw *w, ml_buf *out);
void ml_jw_obj_begin(ml_jw *w);
void ml_jw_obj_end(ml_jw *w);
void ml_jw_arr_begin(ml_jw *w);
void ml_jw_arr_end(ml_jw *w);
void ml_jw_key(ml_jw *w, const char *key);          /* NUL-terminated */
void ml_jw_keyn(ml_jw *w, const char *key, size_t n);
void ml_jw_str(ml_jw *w, const char *s);            /* NULL writes null */
void ml_jw_strn(ml_jw *w, const char *s, size_t n);
void ml_jw_int(ml_jw *w, int64_t v);
void ml_jw_uint(ml_jw *w, uint64_t v);
void ml_jw_double(ml_jw *w, double v);  /* shortest text that reads back the same double */
void ml_jw_bool(ml_jw *w, bool v);
void ml_jw_null(ml_jw *w);
/* Inserts text that the caller guarantees is one valid JSON value. */
void ml_jw_raw(ml_jw *w, const char *json, size_t n);
/* Writes a parsed value compactly (numbers as their source text); no recursion. */
void ml_jw_val(ml_jw *w, const ml_json_val *v);
/* True when nothing went wrong (no misuse, no out-of-memory, all closed) and
 * one complete value was written. */
bool ml_jw_done(const ml_jw *w);

/* Appends s[0..n) to out as a quoted JSON string (the escaping rules above;
 * \b \f \n \r \t for those controls; each maximal ill-formed UTF-8
 * subpart becomes one U+FFFD, as Unicode recommends). */
void ml_json_quote(ml_buf *out, const char *s, size_t n);

/* Checks that s[0..n) is valid UTF-8 (RFC 3629). Returns true when valid;
 * otherwise false with *bad_offset (may be NULL) set to the first byte of the
 * first invalid sequence. */
bool ml_utf8_valid(const char *s, size_t n, size_t *bad_offset);

#endif
