/* ml_wh: the warehouse, i.e. one DuckDB database file and one connection to
 * it, with errors turned into ml_err messages a user can act on.
 *
 * Lifecycle: ml_wh_open -> (exec / begin / commit / rollback / ...) ->
 * ml_wh_close.  One ml_wh is used by one thread at a time.  DuckDB allows one
 * read-write process per file: opening a file another process holds fails
 * with ML_ERR_LOCKED and a message naming the file and, when DuckDB says it,
 * the other process. */
#ifndef ML_WH_H
#define ML_WH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/ml_buf.h"
#include "../util/ml_err.h"

typedef struct ml_wh ml_wh;

typedef struct ml_wh_options {
  bool read_only;
  bool create_dirs;      /* create the file's parent directories if missing */
  const char *threads;   /* DuckDB "threads" setting, NULL = DuckDB's default */
  const char *memory_limit; /* DuckDB "memory_limit", NULL = default */
  /* threads / memory_limit bound appends only: ml_wh_exec_unbounded lifts
   * them for a statement that needs more (a MERGE) */
  bool threads_liftable, memory_limit_liftable;
  /* Checkpoints do not merge row groups (DuckDB's max_vacuum_tasks = 0)
   * until ml_wh_rows_deleted: merging is how DuckDB reclaims deleted rows,
   * but after appends it only rewrites (recompresses) the partly filled row
   * group every commit leaves, which cost loads 10-25% of their time.  Row
   * groups whose rows are all deleted are dropped either way. */
  bool vacuum_after_deletes;
  /* With vacuum_after_deletes: ml_wh_rows_deleted only takes note, and
   * merging turns on at ml_wh_reclaim_deleted, which the owner calls before
   * its last commit: one checkpoint of the run merges, not every commit
   * after the first delete (append_dedup deletes at every commit). */
  bool reclaim_at_end;
  bool background_append; /* append data chunks on a second thread (ml_loader) */
} ml_wh_options;

/* Opens (creating if needed, unless read_only) the database at path.
 * On success *out is a handle the caller closes with ml_wh_close. */
ml_status ml_wh_open(const char *path, const ml_wh_options *opts, ml_wh **out, ml_err *err);
/* ml_wh_open that, when DuckDB refuses to open the file, also hands back
 * DuckDB's own words in *said (malloc'd, caller frees; NULL otherwise): for
 * a front end that words that error its own way (mallard query). */
ml_status ml_wh_open_said(const char *path, const ml_wh_options *opts, ml_wh **out, char **said, ml_err *err);
/* Closes the connection and the database; NULL is fine.  Rolls back an open
 * transaction. */
void ml_wh_close(ml_wh *wh);

/* The background appender thread, or NULL without background_append. */
struct ml_loader *ml_wh_loader(ml_wh *wh);
/* Waits until background appends are done; reports the first that failed.
 * Every ml_wh function that reaches DuckDB does this first. */
ml_status ml_wh_sync(ml_wh *wh, ml_err *err);
const char *ml_wh_path(const ml_wh *wh);

/* Runs SQL that returns nothing of interest.  On failure ML_ERR_DB with
 * DuckDB's message (and ML_ERR_IO when DuckDB reports a disk/IO problem such
 * as a full disk). */
ml_status ml_wh_exec(ml_wh *wh, const char *sql, ml_err *err);
/* ml_wh_exec under DuckDB's default memory limit (80% of RAM) and threads
 * where the warehouse was opened with them liftable, until the transaction
 * ends; the bounds are set again then (best effort: DuckDB keeps the higher
 * memory limit if it cannot shrink yet). */
ml_status ml_wh_exec_unbounded(ml_wh *wh, const char *sql, ml_err *err);
/* Lifts a liftable memory_limit for the rest of the session (values larger
 * than the limit cannot be appended under it); otherwise does nothing. */
ml_status ml_wh_lift_memory_limit(ml_wh *wh, ml_err *err);
/* Tells the warehouse that rows of a table in the file were deleted in the
 * open transaction: with vacuum_after_deletes, checkpoints merge row groups
 * again from now on (including one at this transaction's commit, and the
 * one DuckDB makes at close), so that the space is reclaimed.  Otherwise
 * does nothing. */
ml_status ml_wh_rows_deleted(ml_wh *wh, ml_err *err);
/* With reclaim_at_end: turns merging on when rows were deleted since the
 * warehouse was opened, so that the next commit's checkpoint (and DuckDB's
 * at close) reclaim space.  Otherwise does nothing. */
ml_status ml_wh_reclaim_deleted(ml_wh *wh, ml_err *err);
/* What "merging on" means: DuckDB's max_vacuum_tasks, the number of groups
 * of adjacent row groups one checkpoint may rewrite.  DuckDB's default, 100,
 * rewrote every partly filled row group earlier loads had left (one per
 * commit) at the first checkpoint after a delete, a cost that grows with the
 * table rather than with what was deleted (docs/performance.md).  Row groups
 * whose rows are all deleted are dropped either way; the rest is reclaimed a
 * few groups per run. */
#define ML_WH_VACUUM_TASKS "4"
/* The memory_limit both front ends append under (liftable for the
 * statements that need more): appends need little, since DuckDB writes full
 * row groups out as they fill, and without a bound DuckDB keeps every block
 * it wrote cached (up to 80% of RAM). */
#define ML_WH_APPEND_MEMORY_LIMIT "64MB"
/* ml_wh_exec_unbounded for a DELETE statement (or SQL whose last statement
 * is one) that calls ml_wh_rows_deleted when it deleted any row. */
ml_status ml_wh_delete_unbounded(ml_wh *wh, const char *sql, ml_err *err);
/* ml_wh_exec, ml_wh_exec_unbounded and ml_wh_delete_unbounded of SQL built
 * in an ml_buf: ML_ERR_NOMEM, and nothing run, when building it ran out of
 * memory (the text would be cut short). */
ml_status ml_wh_exec_buf(ml_wh *wh, const ml_buf *sql, ml_err *err);
ml_status ml_wh_exec_unbounded_buf(ml_wh *wh, const ml_buf *sql, ml_err *err);
ml_status ml_wh_delete_unbounded_buf(ml_wh *wh, const ml_buf *sql, ml_err *err);
/* Runs a DELETE statement built in sql (within the bounds, unlike
 * ml_wh_delete_unbounded) and sets *deleted to the rows it removed (0 on
 * failure); calls ml_wh_rows_deleted when that is more than 0.  deleted may
 * be NULL. */
ml_status ml_wh_delete_counted(ml_wh *wh, const ml_buf *sql, uint64_t *deleted, ml_err *err);
ml_status ml_wh_execf(ml_wh *wh, ml_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Runs a query whose first row's first column is an integer; *found=false
 * (and *out untouched) when there is no row or the value is NULL. */
ml_status ml_wh_query_i64(ml_wh *wh, const char *sql, int64_t *out, bool *found, ml_err *err);
/* Same for text: *out is malloc'd (caller frees) or NULL when no row / NULL. */
ml_status ml_wh_query_text(ml_wh *wh, const char *sql, char **out, ml_err *err);
/* Runs a query and hands back the first column of every row as unsigned
 * integers (NULL as 0): *out is malloc'd (caller frees; not NULL on
 * success, even for no rows), *n the number of rows. */
ml_status ml_wh_query_u64s(ml_wh *wh, const char *sql, uint64_t **out, size_t *n, ml_err *err);

/* The version of the DuckDB library mallard runs on (static storage). */
const char *ml_wh_duckdb_version(void);

ml_status ml_wh_begin(ml_wh *wh, ml_err *err);
ml_status ml_wh_commit(ml_wh *wh, ml_err *err);
/* Commits the open transaction and opens the next one in the same step, so
 * that ml_wh_in_transaction stays true throughout: the form a background job
 * uses, since the caller goes on (and keeps seeing an open transaction) while
 * the job runs on the loader thread.  When the COMMIT fails, the transaction
 * is rolled back and a new one begun marked failed, so that nothing runs
 * outside a transaction until the caller, who learns of the failure from
 * its next call that waits for the loader, rolls back (ml_wh_rollback);
 * *committed tells whether the COMMIT went through (when only the BEGIN
 * failed). */
ml_status ml_wh_commit_and_begin(ml_wh *wh, bool *committed, ml_err *err);
/* Marks the open transaction failed, so that its COMMIT fails and reports
 * it: for a job that gave up part-way through statements that belong
 * together (a commit behind).  Call it on the thread that owns the
 * connection at that moment. */
void ml_wh_fail_tx(ml_wh *wh);
/* Never fails from the caller's point of view (a failed rollback leaves the
 * transaction aborted, which DuckDB discards). */
void ml_wh_rollback(ml_wh *wh);
bool ml_wh_in_transaction(const ml_wh *wh);

/* Tables are named by catalog, schema and table.  catalog NULL means the
 * open database itself; ML_WH_TEMP_CATALOG is the connection's temporary
 * catalog (its one schema is "main"), whose tables live in memory (spilling
 * to DuckDB's temp directory), are never written to the database file, and
 * vanish when the connection closes. */
#define ML_WH_TEMP_CATALOG "temp"

/* *exists tells whether catalog.schema.table is a table. */
ml_status ml_wh_table_exists(ml_wh *wh, const char *catalog, const char *schema, const char *table, bool *exists,
                             ml_err *err);

/* A column of an existing table.  type is DuckDB's name of its type as SQL
 * spells it ("BIGINT", "DECIMAL(18,3)", "TIMESTAMPTZ", "JSON"), or NULL for
 * a type without a plain name (LIST, STRUCT, ENUM, ...): the warehouse says
 * what DuckDB has, the engine decides what it can write (ml_type_parse).
 * name and type are malloc'd and owned by the array. */
typedef struct ml_wh_column {
  char *name;
  char *type;
} ml_wh_column;

/* Lists the columns of catalog.schema.table in table order.  *exists=false
 * (and *cols=NULL, *n=0) when there is no such table.  Free with
 * ml_wh_columns_free. */
ml_status ml_wh_table_columns(ml_wh *wh, const char *catalog, const char *schema, const char *table,
                              ml_wh_column **cols, size_t *n, bool *exists, ml_err *err);
void ml_wh_columns_free(ml_wh_column *cols, size_t n);

/* SQL text helpers: append a double-quoted identifier ("" inside doubled),
 * schema-qualified name (catalog-qualified too unless catalog is NULL), or a
 * single-quoted string literal. */
void ml_sql_ident(ml_buf *b, const char *name);
void ml_sql_qualified(ml_buf *b, const char *schema, const char *table);
void ml_sql_qualified_in(ml_buf *b, const char *catalog, const char *schema, const char *table);
void ml_sql_literal(ml_buf *b, const char *s, size_t n);
/* A literal for a NUL-terminated string, or NULL when s is NULL. */
void ml_sql_literal_or_null(ml_buf *b, const char *s);

#endif
