/* ml_types: the column types mallard creates in DuckDB, shared by the Airbyte
 * destination and the connector SDK, and the rules for inferring and widening
 * the type of a column that no schema declared. */
#ifndef ML_TYPES_H
#define ML_TYPES_H

#include <stdbool.h>
#include <stdint.h>

typedef enum ml_type_id {
  ML_TYPE_NULL = 0, /* nothing seen yet (inference only; never a column type) */
  ML_TYPE_BOOLEAN,
  ML_TYPE_SMALLINT,
  ML_TYPE_INTEGER,
  ML_TYPE_BIGINT,
  ML_TYPE_FLOAT,
  ML_TYPE_DOUBLE,
  ML_TYPE_DECIMAL, /* width/scale in ml_type */
  ML_TYPE_VARCHAR,
  ML_TYPE_JSON,    /* DuckDB's JSON type: VARCHAR holding valid JSON text */
  ML_TYPE_BLOB,
  ML_TYPE_DATE,
  ML_TYPE_TIME,
  ML_TYPE_TIMETZ,
  ML_TYPE_TIMESTAMP,   /* wall-clock, no zone */
  ML_TYPE_TIMESTAMPTZ, /* an instant */
  ML_TYPE_UUID,
  ML_TYPE_COUNT_
} ml_type_id;

typedef struct ml_type {
  ml_type_id id;
  uint8_t width; /* DECIMAL only: 1..38 */
  uint8_t scale; /* DECIMAL only: 0..width */
} ml_type;

static inline ml_type ml_type_of(ml_type_id id) {
  ml_type t = {id, 0, 0};
  return t;
}
static inline ml_type ml_type_decimal(uint8_t width, uint8_t scale) {
  ml_type t = {ML_TYPE_DECIMAL, width, scale};
  return t;
}
bool ml_type_equal(ml_type a, ml_type b);

/* SQL spelling as used in CREATE TABLE, e.g. "DECIMAL(18,3)", "TIMESTAMPTZ".
 * Points to static storage for all but DECIMAL, which is written into buf. */
const char *ml_type_sql(ml_type t, char buf[32]);

/* The type that ml_type_sql spells as sql (how the warehouse names the type
 * of an existing column, see ml_wh_column); false for any other text, such
 * as the types mallard never creates ("TINYINT", "INTERVAL", ...); *out is
 * untouched then. */
bool ml_type_parse(const char *sql, ml_type *out);

/* Inference for columns no schema declared: `seen` is the type inferred so far
 * (ML_TYPE_NULL at first), `value` the type of the next non-null value;
 * returns the narrowest type that holds both without loss:
 *   BIGINT+DOUBLE = DOUBLE; booleans, numbers and JSON mixed = JSON (a JSON
 *   column holds them all); anything with VARCHAR = VARCHAR.  Other types
 *   (DATE, ...) with anything different = VARCHAR. */
ml_type ml_type_widen(ml_type seen, ml_type value);

#endif
