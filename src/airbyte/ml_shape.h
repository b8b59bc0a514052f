/* ml_shape: what a stream's JSON schema declares below its top-level
 * properties, kept for unnesting (ml_unnest): which values are objects with
 * declared properties, which are arrays and what their items are.  The
 * catalog builds one per declared field (ml_field.shape); with unnesting off
 * nothing reads it.
 *
 * Ownership: a shape owns its props (keys and shapes) and items; free the
 * root with ml_shape_free. */
#ifndef ML_SHAPE_H
#define ML_SHAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "../engine/ml_types.h"
#include "../json/ml_json.h"
#include "../util/ml_err.h"

typedef enum ml_shape_kind {
  ML_SHAPE_LEAF,   /* a scalar, or JSON the schema does not break down (free-form object, union, ...) */
  ML_SHAPE_OBJECT, /* "type": "object" with at least one declared property */
  ML_SHAPE_ARRAY   /* "type": "array" */
} ml_shape_kind;

typedef struct ml_shape_prop ml_shape_prop;

typedef struct ml_shape {
  ml_shape_kind kind;
  ml_type type; /* the column type of the normal mapping: JSON for objects and arrays */
  bool base64;  /* a base64 string decoded into BLOB */
  ml_shape_prop *props; /* OBJECT: declared properties in schema order */
  size_t n_props;
  struct ml_shape *items; /* ARRAY: the items' schema, NULL when not declared (or a tuple) */
} ml_shape;

struct ml_shape_prop {
  char *key; /* the property name as in the schema (no NUL inside, not empty) */
  ml_shape shape;
};

/* Deeper schemas than this are kept whole as JSON: no record is expected to
 * be unnested further, and it bounds the recursion over a hostile catalog. */
#define ML_SHAPE_MAX_DEPTH 16

/* Builds the shape of one property schema.  `type`/`base64` are what the
 * catalog's normal mapping gives the property (the caller computed them).
 * Nested properties whose names are empty or hold a NUL are left out (their
 * values stay in the JSON of the enclosing column); of a key given twice the
 * last definition counts, as for top-level properties.  On failure (only out
 * of memory) *out is empty. */
ml_status ml_shape_build(const ml_json_val *schema, ml_type type, bool base64, ml_shape *out, ml_err *err);
void ml_shape_free(ml_shape *s);

#endif
