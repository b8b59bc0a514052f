/* ml_unnest: the layout that unnesting (config unnest_depth N >= 1) gives a
 * stream: typed columns for the declared properties of nested objects, and
 * child tables for arrays, down to N levels (docs/types.md, "Unnesting").
 *
 *  - Flattening: a property whose schema is an object with declared
 *    properties adds a column "<column>__<sub>" per declared sub-property
 *    (recursively through declared sub-objects) to the table that holds it;
 *    the property keeps its own JSON column.
 *  - Child tables: an array property (of the record, or of a flattened
 *    object) is the child table "<table>__<column>"; its rows carry
 *    ML_UNNEST_META_COLUMNS, then the item's columns: an object item its
 *    properties (flattened the same way), a scalar item one column "value"
 *    of its type, anything else (arrays, undeclared items) "value" JSON.
 *    An array property of an item is the next level, while the level is
 *    below N.
 *
 * Plans borrow the property names from the catalog's shapes (ml_field.shape):
 * the catalog must outlive them.  Everything else a plan holds it owns;
 * ml_unnest_plan_free releases it. */
#ifndef ML_UNNEST_H
#define ML_UNNEST_H

#include <stdbool.h>
#include <stddef.h>

#include "../warehouse/ml_wh.h"
#include "ml_catalog.h"
#include "ml_proto.h"

/* The columns every child row starts with, in this order. */
enum {
  ML_UNNEST_RAW_ID,      /* _airbyte_raw_id: the record's, at every level */
  ML_UNNEST_PARENT_ID,   /* _mallard_parent_id: the parent row's _mallard_id, or the record's raw id */
  ML_UNNEST_ID,          /* _mallard_id: from the parent id, the array's path and the index */
  ML_UNNEST_LIST_IDX,    /* _mallard_list_idx: 0-based position in the array */
  ML_UNNEST_EXTRACTED_AT,
  ML_UNNEST_GENERATION,
  ML_UNNEST_META_COLUMNS
};
extern const char *const ml_unnest_meta_names[ML_UNNEST_META_COLUMNS];
extern const ml_type_id ml_unnest_meta_types[ML_UNNEST_META_COLUMNS];

/* One column filled from inside a row object (the record or an array item). */
typedef struct ml_unnest_col {
  const char **path; /* keys from the row object to the value (borrowed strings); n_path 0: the item itself */
  size_t n_path;
  char *label;  /* the path as _airbyte_meta changes name it: "billing.zip"; "" for the item itself */
  char *column; /* distinct normalised column name */
  ml_type type;
  bool base64;
} ml_unnest_col;

typedef struct ml_unnest_child ml_unnest_child;
struct ml_unnest_child {
  const char **path; /* keys from the parent row object to the array (borrowed strings) */
  size_t n_path;
  char *label;        /* "billing.cards" */
  char *key;          /* the path as a JSON array: what names the child in the registry */
  char *array_column; /* the array's (JSON) column in the parent table */
  unsigned level;     /* 1: an array of the record */
  ml_unnest_col *cols; /* the item's columns, after the meta columns */
  size_t n_cols;
  ml_unnest_child *children;
  size_t n_children;
  char *table; /* the child table's name, set by ml_unnest_assign_tables */
};

typedef struct ml_unnest_plan {
  ml_unnest_col *flat; /* flattened columns of the stream's own table */
  size_t n_flat;
  ml_unnest_child *children; /* level 1 */
  size_t n_children;
} ml_unnest_plan;

/* The plan for def at depth (>= 1).  Column names avoid the stream's field
 * columns and metadata columns; child column names avoid the meta columns.
 * Fails only on out of memory (*out is then empty). */
ml_status ml_unnest_plan_build(const ml_stream_def *def, unsigned depth, ml_unnest_plan *out, ml_err *err);
void ml_unnest_plan_free(ml_unnest_plan *p);
/* Whether the plan changes anything (no nested declarations: nothing to do). */
bool ml_unnest_plan_empty(const ml_unnest_plan *p);

/* The value at path inside v (objects all the way), or NULL where a key is
 * missing or a step is not an object.  n 0: v itself. */
const ml_json_val *ml_unnest_walk(const ml_json_val *v, const char *const *path, size_t n);

/* The table that records child table names: one row per child ever
 * assigned, so a name never changes once given. */
#define ML_UNNEST_REGISTRY "_mallard_unnest_tables"

/* Gives every child of the plans (plans[i] belongs to cat->streams[i]; NULL
 * for a stream without unnesting) its table name, in the open transaction:
 * the registered name when (schema, parent table, path) has one; otherwise
 * "<parent table>__<array column>", or that with "_" and hex digits of a
 * hash of parent table and path when the name is taken (by a table in the
 * schema, a stream's table in the catalog, or another child), registered at
 * once.  New names are handed out in name order, so the result does not
 * depend on the catalog's order.  A stream whose own table is a registered
 * child table of another parent is refused (ML_ERR_CONFIG naming both). */
ml_status ml_unnest_assign_tables(ml_wh *wh, const ml_catalog *cat, ml_unnest_plan *const *plans, ml_proto *log,
                                  ml_err *err);

#endif
