/* ml_rec: the connector's records (mallard_record, public API in mallard.h)
 * and the conversion of their values into typed warehouse columns.
 *
 * A record is a small array of (column name, value) fields.  Setters parse
 * what is text (dates, times, decimals, JSON) once, at set time, so that a
 * bad value is reported where the connector made it; the runner later puts
 * each value into a column of whatever type the column has (ml_rec_put).
 * Memory is kept across mallard_record_clear so that a connector reusing one
 * record per row allocates nothing in steady state. */
#ifndef ML_REC_H
#define ML_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../warehouse/ml_batch.h"
#include "../engine/ml_types.h"
#include "../util/ml_buf.h"
#include "mallard.h"

typedef enum ml_rec_kind {
  ML_REC_NULL = 0,
  ML_REC_BOOL,     /* i: 0/1 */
  ML_REC_LONG,     /* i */
  ML_REC_DOUBLE,   /* d; text = exact source text when it came from JSON, else empty */
  ML_REC_STRING,   /* text */
  ML_REC_DECIMAL,  /* text (validated decimal syntax) */
  ML_REC_DATE,     /* i: days since 1970-01-01; text: as given */
  ML_REC_TIME,     /* i: micros since midnight; text */
  ML_REC_NAIVE_DT, /* i: micros of the wall clock time; text */
  ML_REC_UTC_DT,   /* i: micros since the epoch (UTC); text (may be empty) */
  ML_REC_BINARY,   /* text holds the bytes */
  ML_REC_JSON      /* text: compact JSON */
} ml_rec_kind;

typedef struct ml_rec_field {
  char *name; /* owned, NUL-terminated; capacity name_cap */
  size_t name_cap;
  uint64_t name_hash; /* of name (name_hash in ml_rec.c): lookups compare it first */
  ml_rec_kind kind;
  int64_t i;
  double d;
  char *text; /* owned; len bytes + NUL; capacity text_cap */
  size_t len;
  size_t text_cap;
} ml_rec_field;

struct mallard_record {
  ml_rec_field *f; /* fields [0, n) are set; [n, cap) keep their buffers for reuse */
  size_t n, cap;
  char *err;       /* first setter error since clear, owned */
  ml_buf get_buf;  /* backing store for mallard_get_text */
  /* JSON setters: parser arena and compact output, created on first use and
   * reused for every value (a doc and a buffer per value cost more than the
   * parse); owned */
  struct ml_json_doc *json;
  ml_buf json_out;
};

/* Field by exact name, or NULL. */
const ml_rec_field *ml_rec_find(const mallard_record *r, const char *name);

/* The column type a value of this kind gets when no schema declared it
 * (ml_type_widen rules apply from there).  NULL for ML_REC_NULL. */
ml_type ml_rec_infer(const ml_rec_field *f);

/* Writes f's value into column col (of type `type`) of the batch's current
 * row.  strict=true (undeclared columns) accepts only values of a compatible
 * kind, so that the caller widens the column instead of parsing text;
 * strict=false (declared columns) also converts text ("42" into a LONG
 * column).  Returns false, writing nothing, when the value does not fit.
 * scratch is a reusable buffer; false with its oom flag set
 * (!ml_buf_ok(scratch)) means memory ran out instead, and the value may well
 * fit: the caller reports out of memory, not the value. */
bool ml_rec_put(ml_batch *b, size_t col, ml_type type, const ml_rec_field *f, bool strict, ml_buf *scratch);

/* Appends f's value as text (as mallard_get_text gives it) to out. */
void ml_rec_text(const ml_rec_field *f, ml_buf *out);

/* 128-bit hash of the record's non-null values (independent of the order in
 * which they were set) as 32 lowercase hex digits plus NUL: _fivetran_id. */
void ml_rec_hash(const mallard_record *r, char out[33]);

#endif
