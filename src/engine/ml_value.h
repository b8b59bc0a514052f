/* ml_value: one parsed JSON value into one typed column of a batch.
 *
 * The conversion rules (documented in docs/types.md) are deliberately
 * forgiving where no information is lost (numeric strings into numbers,
 * integers into VARCHAR as their text) and strict where it would be
 * (fractions into BIGINT, out-of-range numbers): a value that does not fit is
 * not written and the caller records a DESTINATION_TYPECAST_ERROR. */
#ifndef ML_VALUE_H
#define ML_VALUE_H

#include <stdbool.h>

#include "../json/ml_json.h"
#include "../warehouse/ml_batch.h"
#include "ml_types.h"

typedef struct ml_value_opts {
  bool base64;     /* BLOB column fed base64 text */
} ml_value_opts;

/* Writes v into column col of the current row.  JSON null writes NULL and
 * counts as success.  Returns false when v does not fit the column type (the
 * column is left NULL).  scratch is a reusable buffer for decoding; false
 * with its oom flag set (!ml_buf_ok(scratch)) means memory ran out instead,
 * and v may well fit: the caller reports out of memory, not the value. */
bool ml_value_put(ml_batch *b, size_t col, ml_type type, const ml_value_opts *opts, const ml_json_val *v,
                  ml_buf *scratch);

/* ml_value_put for a column whose misfits the caller records in the row's
 * metadata: writes v, or NULL when it does not fit, and says which.
 * ML_VALUE_NULLED with !ml_buf_ok(scratch) is out of memory (see
 * ml_value_put): no misfit to record, the row is incomplete. */
typedef enum ml_value_fit {
  ML_VALUE_FITS,
  ML_VALUE_NULLED,   /* did not fit: the column is NULL */
  ML_VALUE_TRUNCATED /* a number with more digits than a DOUBLE holds: the nearest double */
} ml_value_fit;
ml_value_fit ml_value_put_or_null(ml_batch *b, size_t col, ml_type type, const ml_value_opts *opts,
                                  const ml_json_val *v, ml_buf *scratch);

/* Whether v is a number whose digits a DOUBLE column does not hold exactly
 * (more significant digits than the nearest double carries): the column
 * gets the nearest double and the caller records the change. */
bool ml_value_double_inexact(const ml_json_val *v);

/* The type an undeclared column gets from a value (see ml_type_widen):
 * null NULL, true/false BOOLEAN, integer BIGINT, other numbers DOUBLE,
 * string VARCHAR, object/array JSON. */
ml_type ml_value_infer(const ml_json_val *v);

/* Writes v as compact JSON text (strings quoted) into out (reset first). */
void ml_value_json_text(const ml_json_val *v, ml_buf *out);
/* v as compact JSON text: a container's own source text when that is
 * compact already, else written into scratch.  *text stays valid while both
 * the parsed document and scratch do. */
void ml_value_json_compact(const ml_json_val *v, ml_buf *scratch, const char **text, size_t *len);

#endif
