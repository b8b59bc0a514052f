/* ml_table: one DuckDB table that mallard loads, with its column list kept in
 * step with the database: created when missing, columns added and widened
 * (schema evolution) while a load is running, and a batch for appending rows.
 *
 * Lifecycle: ml_table_init (no database work) -> ml_table_sync (create or
 * reconcile) -> ml_table_batch / ml_table_add_column / ml_table_widen ... ->
 * ml_table_flush before each commit -> ml_table_free.
 * All DDL runs on the warehouse connection, inside whatever transaction is
 * open, so a schema change commits or rolls back with the rows. */
#ifndef ML_TABLE_H
#define ML_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "../warehouse/ml_wh.h"
#include "../warehouse/ml_batch.h"
#include "ml_types.h"

typedef struct ml_col {
  char *name; /* owned */
  ml_type type; /* ML_TYPE_NULL: an existing column of a type mallard does not write */
} ml_col;

typedef struct ml_table {
  ml_wh *wh;     /* borrowed */
  const char *catalog; /* static string: NULL (the database) or ML_WH_TEMP_CATALOG */
  char *schema;  /* owned */
  char *name;    /* owned */
  ml_col *cols;  /* current columns, table order */
  size_t n_cols;
  size_t cap;
  ml_batch *batch; /* open batch or NULL */
  unsigned schema_changes; /* columns added or widened by this handle */
} ml_table;

ml_status ml_table_init(ml_table *t, ml_wh *wh, const char *schema, const char *name, ml_err *err);
/* A table of the connection's temporary catalog (ML_WH_TEMP_CATALOG, schema
 * "main"): for rows that are only ever read back by the same connection, so
 * that they are neither compressed into nor deleted from the database file. */
ml_status ml_table_init_temp(ml_table *t, ml_wh *wh, const char *name, ml_err *err);
void ml_table_free(ml_table *t);

/* Makes the table exist with at least the wanted columns:
 *  - missing table: CREATE TABLE with `wanted` (in that order);
 *  - existing table: loads its columns; adds wanted columns it lacks (ALTER
 *    TABLE ADD COLUMN, counted in schema_changes); where an existing column's
 *    type differs and ml_type_widen(existing, wanted) == wanted the column is
 *    widened; otherwise the existing type is kept (values are converted to
 *    it), and *kept_type (may be NULL) is set to true.
 * With replace=true an existing table is dropped first. */
ml_status ml_table_sync(ml_table *t, const ml_col *wanted, size_t n, bool replace, bool *kept_type, ml_err *err);

/* Column index by exact name, or -1. */
long ml_table_find(const ml_table *t, const char *name);

/* Adds a column (ALTER TABLE), flushing and closing the open batch first. */
ml_status ml_table_add_column(ml_table *t, const char *name, ml_type type, ml_err *err);
/* Changes a column's type to `type` (ALTER COLUMN ... TYPE), flushing and
 * closing the open batch first. */
ml_status ml_table_widen(ml_table *t, size_t col, ml_type type, ml_err *err);

/* Adds to each table the columns only the other has (ALTER TABLE), so that
 * one column list fits both: before rows move between a staging table and
 * its target. */
ml_status ml_table_align(ml_table *a, ml_table *b, ml_err *err);

/* Moves the rows of `from` matching where_sql (" WHERE ..."; "" for every
 * row) into `to` (INSERT ... BY NAME, then DELETE), in the open transaction.
 * `to` must have every column of `from`; neither may have an open batch. */
ml_status ml_table_move_rows(ml_table *from, ml_table *to, const char *where_sql, ml_err *err);

/* Puts t in the place of the table `name` of its schema (dropped if it
 * exists) by renaming it, in the open transaction: the last step of an
 * overwrite.  Flushes and closes the batch first.  The handle keeps t's old
 * name, which no table has afterwards. */
ml_status ml_table_rename_over(ml_table *t, const char *name, ml_err *err);

/* The open batch, opened on first use.  Borrowed: valid until the next call
 * that changes columns, ml_table_close_batch or ml_table_free. */
ml_status ml_table_batch(ml_table *t, ml_batch **out, ml_err *err);
/* Flushes the batch (if open) into the current transaction. */
ml_status ml_table_flush(ml_table *t, ml_err *err);
/* ml_batch_flush_async for the open batch, if any. */
ml_status ml_table_flush_async(ml_table *t, ml_err *err);
/* Flushes and closes the batch (before DDL on the table by someone else). */
ml_status ml_table_close_batch(ml_table *t, ml_err *err);

/* Appends the quoted, schema-qualified (and for a temporary table
 * catalog-qualified) name. */
void ml_table_sql_name(const ml_table *t, ml_buf *b);

#endif
