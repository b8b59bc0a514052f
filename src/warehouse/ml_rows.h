/* ml_rows: the statements of one SQL text run one after the other on a
 * warehouse, and the rows they return read as plain C values: what `mallard
 * query` prints (docs/query.md).
 *
 * How values become cells.  Results are read chunk by chunk.  The types
 * that have a plain C representation (BOOLEAN, the signed and unsigned
 * integers up to 64 bits, FLOAT, DOUBLE, VARCHAR) are read from the vectors
 * directly.  Every other type (DATE, TIMESTAMP[TZ], TIME, INTERVAL, DECIMAL,
 * HUGEINT, UUID, BLOB, ENUM, LIST, STRUCT, MAP, ARRAY, UNION, BIT, BIGNUM,
 * ...) is turned into text by DuckDB itself, exactly as `CAST(x AS VARCHAR)`
 * gives it: the materialized result of the user's statement is exposed to
 * SQL through a table function (_mallard_query_result, registered by
 * ml_rows_open and reading whatever result is being converted), and a second
 * query
 *     SELECT c0, CAST(c1 AS VARCHAR), ... FROM _mallard_query_result()
 * hands back a result whose columns all have directly readable types.  This
 * works for every statement that returns rows (SELECT, PRAGMA, CALL, SHOW,
 * EXPLAIN, ... RETURNING) because it never rewrites the user's SQL.
 *
 * Lifecycle: ml_rows_open -> (ml_rows_run -> while ml_rows_next says more:
 * (ml_rows_fetch until it gives 0 rows, reading ml_rows_cell)) ... ->
 * ml_rows_close, before the warehouse closes.  Statements run as they are:
 * outside the warehouse's transaction bookkeeping, which a front end that
 * only runs the user's SQL does not use. */
#ifndef ML_ROWS_H
#define ML_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_wh.h"

/* How a column is shown. */
typedef enum ml_rows_kind {
  ML_ROWS_TEXT,    /* VARCHAR or text made by DuckDB's cast */
  ML_ROWS_JSONTXT, /* DuckDB type JSON: text that is a JSON document */
  ML_ROWS_BOOL,    /* BOOLEAN */
  ML_ROWS_INT,     /* TINYINT..BIGINT */
  ML_ROWS_UINT,    /* UTINYINT..UBIGINT */
  ML_ROWS_FLOAT,   /* FLOAT read natively (floats_as_text false) */
  ML_ROWS_DOUBLE,  /* DOUBLE read natively (floats_as_text false) */
  ML_ROWS_NUMTEXT  /* a number DuckDB turned into text (DECIMAL, HUGEINT,
                      floats with floats_as_text, ...) */
} ml_rows_kind;

typedef struct ml_rows_col {
  const char *name; /* borrowed: valid until the next ml_rows_next */
  ml_rows_kind kind;
  bool cast; /* converted to VARCHAR by the conversion query */
} ml_rows_col;

/* One value: which member holds it follows from `type`. */
typedef enum ml_cell_type { ML_CELL_NULL, ML_CELL_BOOL, ML_CELL_INT, ML_CELL_UINT, ML_CELL_FLOAT, ML_CELL_DOUBLE, ML_CELL_TEXT } ml_cell_type;
typedef struct ml_cell {
  ml_cell_type type;
  bool b;
  int64_t i;
  uint64_t u;
  float f;
  double d;
  const char *s; /* ML_CELL_TEXT: s[0..n), not NUL-terminated; borrowed
                    until the next ml_rows_fetch */
  size_t n;
} ml_cell;

typedef struct ml_rows ml_rows;

/* Registers the result reader on wh's connection (once per connection);
 * floats_as_text asks for FLOAT and DOUBLE as DuckDB's text (1.0, 1e+20)
 * rather than as numbers.  *out is the caller's, freed with ml_rows_close. */
ml_status ml_rows_open(ml_wh *wh, bool floats_as_text, ml_rows **out, ml_err *err);
void ml_rows_close(ml_rows *r);

/* Splits sql into its statements, to be run by ml_rows_next.  On failure
 * ML_ERR_DB with DuckDB's own message.  SQL without a statement is fine. */
ml_status ml_rows_run(ml_rows *r, const char *sql, ml_err *err);
/* Runs the next statement: *more=false when there is none left.  On failure
 * ML_ERR_DB with DuckDB's own message (or "cannot convert the result to
 * text: ..."), or ML_ERR_NOMEM. */
ml_status ml_rows_next(ml_rows *r, bool *more, ml_err *err);
/* The current statement's columns: 0 when it returns no rows to show. */
size_t ml_rows_ncols(const ml_rows *r);
const ml_rows_col *ml_rows_cols(const ml_rows *r);
/* Whether the current statement is an EXPLAIN (its last column is a plan). */
bool ml_rows_explain(const ml_rows *r);
/* Reads the current statement's next chunk of rows: *n of them, 0 at the
 * end. */
ml_status ml_rows_fetch(ml_rows *r, size_t *n, ml_err *err);
/* The value at row (< *n of the last fetch) and col (< ml_rows_ncols). */
ml_cell ml_rows_cell(const ml_rows *r, size_t row, size_t col);

#endif
