/* ml_apply: the connector operations of one sync, applied to the warehouse
 * set-wise.
 *
 * Every upsert / update / delete becomes one row of a per-table staging
 * table (temp.main._mallard_stage_<table>, in the connection's temporary
 * catalog: it never reaches the database file; appended column-wise through
 * ml_batch):
 *   _op (1 upsert, 2 update, 3 delete), _seq (global order), _given (update
 *   only: one '1'/'0' per user column, which columns the update sets), then
 *   the user columns with the destination's types.
 * At each checkpoint (ml_apply_ready), before a truncate, and at the end,
 * each table's staged rows are folded per primary key into one effect and
 * applied with a single MERGE (see apply_table in ml_apply.c for why the
 * result equals applying the operations one by one).  This module never
 * commits what it applied: the caller (ml_sdk) commits through
 * warehouse/ml_commit, which also acknowledges the checkpoint (its state
 * saved) once the COMMIT returned.  Nothing is committed between
 * checkpoints, so a failed sync leaves the warehouse exactly as at the last
 * checkpoint.
 *
 * Destination tables live in one schema (`tester` for mallard debug) and
 * get _fivetran_synced (TIMESTAMPTZ) and _fivetran_deleted (BOOLEAN); a table
 * without a primary key gets _fivetran_id (VARCHAR, hash of the values).
 * Undeclared columns are created from the first non-null value and widened
 * (ml_type_widen) when a later value does not fit.
 *
 * Lifecycle: ml_apply_open -> ml_apply_declare* -> ml_apply_start ->
 * (ml_apply_op | ml_apply_truncate | ml_apply_ready + COMMIT |
 * ml_apply_plan_behind | ml_apply_plan_ahead)* -> ml_apply_ready_finish + COMMIT, or ml_apply_abort
 * on failure -> ml_apply_free. */
#ifndef ML_APPLY_H
#define ML_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/ml_table.h"
#include "../warehouse/ml_wh.h"
#include "ml_rec.h"

typedef enum ml_apply_kind { ML_APPLY_UPSERT = 1, ML_APPLY_UPDATE = 2, ML_APPLY_DELETE = 3 } ml_apply_kind;

typedef struct ml_apply ml_apply;

/* Receives informational messages (schema changes, kept types) for the log.
 * level is a mallard_level. */
typedef void (*ml_apply_log_fn)(void *ud, int level, const char *msg);

typedef struct ml_apply_counts {
  uint64_t upserts, updates, deletes, truncates, checkpoints, schema_changes;
} ml_apply_counts;

/* wh is borrowed and must outlive the ml_apply; schema is copied. */
ml_status ml_apply_open(ml_wh *wh, const char *schema, ml_apply_log_fn log, void *log_ud, ml_apply **out,
                        ml_err *err);
void ml_apply_free(ml_apply *a); /* NULL is fine */
/* The warehouse given to ml_apply_open (borrowed). */
ml_wh *ml_apply_wh(const ml_apply *a);

/* Declares a table (before ml_apply_start): pk names (n_pk may be 0) and
 * columns (copied).  A table declared twice is ML_ERR_CONFIG. */
ml_status ml_apply_declare(ml_apply *a, const char *table, const char *const *pk, size_t n_pk, const ml_col *cols,
                           size_t n_cols, ml_err *err);

/* Begins the first transaction: removes staging tables an earlier version
 * of mallard left in the file, creates or reconciles the declared tables
 * (schema changes counted). */
ml_status ml_apply_start(ml_apply *a, ml_err *err);

/* Stages one operation; r is borrowed for the call.  Errors: a missing
 * primary key value (ML_ERR_INPUT), a value that does not fit a declared
 * column (ML_ERR_INPUT), database errors. */
ml_status ml_apply_op(ml_apply *a, ml_apply_kind kind, const char *table, const mallard_record *r, ml_err *err);

/* Applies what is staged for the table, then soft-deletes every row of it
 * that is not deleted yet. */
ml_status ml_apply_truncate(ml_apply *a, const char *table, ml_err *err);

/* Applies everything staged, in the open transaction, for a checkpoint
 * whose COMMIT the caller makes next (ml_commit_here); after it returned,
 * ml_apply_checkpointed counts the checkpoint. */
ml_status ml_apply_ready(ml_apply *a, ml_err *err);
void ml_apply_checkpointed(ml_apply *a);

/* The statements of a checkpoint, collected to run later, behind the staged
 * rows, on the warehouse's loader thread (as the run of an ml_commit_submit
 * plan), while the caller stages the next operations: applying and
 * committing on the caller's thread stopped the connector at every
 * checkpoint.  Possible when every table has only upserts staged and the
 * warehouse has a loader thread; otherwise *out is NULL and the caller uses
 * ml_apply_ready.  Counts the checkpoint.  *out is the caller's, freed with
 * ml_apply_plan_free; ml_apply_plan_run runs it in the open transaction
 * (without COMMIT), queued on the loader behind the staged rows it applies. */
typedef struct ml_apply_plan ml_apply_plan;
ml_status ml_apply_plan_behind(ml_apply *a, ml_apply_plan **out, ml_err *err);
ml_status ml_apply_plan_run(ml_apply_plan *plan, ml_wh *wh, ml_err *err);
/* The statements applying the staged upserts ahead of the next commit, to
 * run on the loader thread in the open transaction (ml_apply_plan_run, with
 * no COMMIT of their own) while the caller stages the next operations: a
 * commit then has little left to apply, above all the last one, which the
 * connector waits for.  Applying upserts in pieces, in order, ends as
 * applying them at once: each key keeps its last upsert.  While a checkpoint
 * is held back only the operations before it are taken, since the commit
 * that saves its state (ml_apply_ready_mark) must not hold later ones.
 * *out is NULL (nothing to do) when fewer than min_rows operations would be
 * taken, when updates or deletes are staged (their MERGE runs on the
 * caller's thread) or without a loader thread.  Counts no checkpoint.  *out
 * is the caller's, freed with ml_apply_plan_free; the staged rows it covers
 * count as applied from now on, so a caller that cannot queue it must fail
 * the transaction (ml_commit_submit_work does).  On failure the open
 * transaction is marked failed already (some tables may count as applied). */
ml_status ml_apply_plan_ahead(ml_apply *a, uint64_t min_rows, ml_apply_plan **out, ml_err *err);
void ml_apply_plan_free(ml_apply_plan *plan); /* NULL is fine */

/* A checkpoint held back (see mallard_checkpoint in ml_sdk.c): remembers
 * which staged operations came before it, without committing (they may be
 * applied ahead, ml_apply_plan_ahead).
 * Counts as a checkpoint.  A later ml_apply_ready or ml_apply_ready_finish
 * covers it; ml_apply_ready_mark applies only the operations before it (the
 * later ones stay staged, in memory, until ml_apply_ready_finish or
 * ml_apply_abort drops the staging tables), for a COMMIT the caller makes
 * next, so that a sync that fails afterwards still leaves the warehouse
 * exactly as at that checkpoint.
 * Truncates and schema changes apply at once: a caller commits the mark
 * before a truncate, and ml_apply_on_schema_change before DDL. */
void ml_apply_mark(ml_apply *a);
/* Called before a table is created or a column added or widened while a
 * checkpoint is held back; it commits that checkpoint (ml_apply_ready_mark,
 * COMMIT, saving its state), and the DDL then runs in the next transaction. */
typedef ml_status (*ml_apply_settle_fn)(void *ud, ml_err *err);
void ml_apply_on_schema_change(ml_apply *a, ml_apply_settle_fn fn, void *ud);
bool ml_apply_marked(const ml_apply *a);
ml_status ml_apply_ready_mark(ml_apply *a, ml_err *err);

/* Reports a commit behind that failed, applies the rest and drops the
 * staging tables, for the last COMMIT, which the caller makes next. */
ml_status ml_apply_ready_finish(ml_apply *a, ml_err *err);

/* Rolls back what is not committed, then (best effort, in a transaction of
 * its own) drops the staging tables. */
void ml_apply_abort(ml_apply *a);

/* Totals so far (operations staged, schema changes made). */
ml_apply_counts ml_apply_totals(const ml_apply *a);

/* Per-table operation counts for progress display: table i < ml_apply_tables. */
size_t ml_apply_tables(const ml_apply *a);
const char *ml_apply_table_name(const ml_apply *a, size_t i);
uint64_t ml_apply_table_ops(const ml_apply *a, size_t i);

#endif
