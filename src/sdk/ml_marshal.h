/* ml_marshal: a reader for the subset of Python's marshal format (version
 * 4) that mallard's fivetran_connector_sdk module sends: None, booleans,
 * integers of any size, floats, str, bytes, tuples, lists and dicts, with
 * marshal's back-references to repeated scalars.
 *
 * Why marshal and why a reader of our own: the Python side must serialize
 * a million rows a second without leaving C (docs/sdk.md, "How operations
 * reach mallard"); marshal.dumps does, and its format is fixed for a given
 * version number, which the sender passes explicitly.  No C library reads
 * it, and the subset is small.  The reader never trusts the input: every
 * length is checked against the end of the buffer, nesting is bounded, and
 * anything outside the subset is an error naming the byte offset.
 *
 * Use: a pull reader.  ml_marshal_next returns the next value's header; a
 * tuple or list is followed by `len` values, a dict by key/value pairs up
 * to a value of kind ML_MARSHAL_END.  Strings point into the buffer (valid
 * as long as it is); the reader owns only its reference table. */
#ifndef ML_MARSHAL_H
#define ML_MARSHAL_H

#include <stddef.h>
#include <stdint.h>

#include "../util/ml_buf.h"
#include "../util/ml_err.h"

typedef enum ml_marshal_kind {
  ML_MARSHAL_END = 0, /* end of a dict */
  ML_MARSHAL_NONE,
  ML_MARSHAL_BOOL,   /* i: 0 or 1 */
  ML_MARSHAL_INT,    /* i: fits 64 bits */
  ML_MARSHAL_BIGINT, /* an int beyond 64 bits: ml_marshal_bigint_text */
  ML_MARSHAL_FLOAT,  /* d */
  ML_MARSHAL_STR,    /* s, len: UTF-8 text, not NUL-terminated */
  ML_MARSHAL_BYTES,  /* s, len */
  ML_MARSHAL_TUPLE,  /* len items follow */
  ML_MARSHAL_LIST,   /* len items follow */
  ML_MARSHAL_DICT    /* pairs follow, then ML_MARSHAL_END */
} ml_marshal_kind;

typedef struct ml_marshal_val {
  ml_marshal_kind kind;
  int64_t i;
  double d;
  const char *s; /* STR, BYTES; BIGINT: its 15-bit digits, little-endian */
  size_t len;    /* STR, BYTES: bytes; TUPLE, LIST: items; BIGINT: digits */
  int sign;      /* BIGINT: 1 or -1 */
} ml_marshal_val;

typedef struct ml_marshal_reader {
  const unsigned char *start, *cur, *end;
  size_t *refs; /* offsets of values marshal may refer back to; owned */
  size_t n_refs, cap_refs;
} ml_marshal_reader;

/* Starts reading buf[0, len) (borrowed; must outlive the reader's use).
 * Keeps the reference table's memory from an earlier use. */
void ml_marshal_reset(ml_marshal_reader *r, const void *buf, size_t len);
void ml_marshal_free(ml_marshal_reader *r); /* the reference table */

/* Reads the next value's header into *v.  ML_ERR_INPUT (with the offset)
 * on malformed or unsupported input, ML_ERR_NOMEM. */
ml_status ml_marshal_next(ml_marshal_reader *r, ml_marshal_val *v, ml_err *err);

/* Skips a value whose header was just read (and, for containers, all it
 * contains). */
ml_status ml_marshal_skip(ml_marshal_reader *r, const ml_marshal_val *v, ml_err *err);

/* Whether the whole buffer has been read. */
static inline int ml_marshal_done(const ml_marshal_reader *r) { return r->cur == r->end; }

/* Appends the decimal digits of a BIGINT (with '-' when negative) to out. */
void ml_marshal_bigint_text(const ml_marshal_val *v, ml_buf *out);

#endif
