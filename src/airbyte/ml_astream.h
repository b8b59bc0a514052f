/* ml_astream: one configured stream while `mallard write` runs: its tables
 * (typed, and the legacy raw table when enabled), the map from record field
 * names to columns, and what each sync mode does at commit and at the end.
 *
 * Where rows go, per destination_sync_mode:
 *   append        the final table directly;
 *   overwrite     a temporary table "_mallard_tmp_<table>" that replaces the
 *                 final table in the last transaction (readers see the old
 *                 table until then);
 *   append_dedup  the final table itself, merged at every commit by
 *                 deleting what loses (one row per primary key: the greatest
 *                 cursor, ties to the later record); with child tables, or
 *                 rows an earlier run staged, a staging table
 *                 "_mallard_stage_<table>" merged and emptied at every commit.
 * All of it runs inside the destination's open transaction. */
#ifndef ML_ASTREAM_H
#define ML_ASTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "../engine/ml_ids.h"
#include "../engine/ml_table.h"
#include "../json/ml_json.h"
#include "ml_catalog.h"
#include "ml_proto.h"
#include "ml_unnest.h"

typedef struct ml_astream ml_astream;

/* Creates the stream's runtime and its tables (CREATE/ALTER as needed) in
 * the current transaction.  plan (NULL: no unnesting) has its child tables
 * named (ml_unnest_assign_tables); their rows follow the stream's rows
 * through every step below (ml_children.h).  def, plan and the warehouse are
 * borrowed and must outlive the stream. */
ml_status ml_astream_open(ml_wh *wh, const ml_stream_def *def, const ml_unnest_plan *plan, bool raw_tables,
                          ml_proto *log, ml_astream **out, ml_err *err);
void ml_astream_free(ml_astream *s);

/* Loads one RECORD's data object.  emitted_at is the record's emitted_at
 * (ms; seconds are detected and scaled); source_meta is record.meta or NULL. */
ml_status ml_astream_record(ml_astream *s, const ml_json_val *data, int64_t emitted_at, const ml_json_val *source_meta,
                            ml_ids *ids, ml_err *err);

/* Before COMMIT: flush batches and, for append_dedup, merge the staging rows. */
ml_status ml_astream_before_commit(ml_astream *s, ml_err *err);
/* True when a commit needs nothing from this stream but its rows flushed:
 * no staged rows to merge and no uncovered rows to park (see below).  Then
 * the commit can run behind the rows on the loader thread
 * (ml_astream_flush_async) while the next records are parsed. */
bool ml_astream_commit_is_flush_only(const ml_astream *s);
/* Queues the flush of the stream's batches on the loader without waiting. */
ml_status ml_astream_flush_async(ml_astream *s, ml_err *err);
/* In the last transaction of a sync in which the stream completed: replace
 * the final table (overwrite) and drop older generations. */
ml_status ml_astream_finish(ml_astream *s, ml_err *err);

/* Removes the rows this run loaded into the stream's tables so far (ids at
 * or after first_lo/first_hi, the run's first _airbyte_raw_id), because the
 * platform sent them again after a crash and they are already committed.
 * append_dedup streams keep them: merging a record twice changes nothing,
 * and a merged row may have replaced an older one that must stay replaced. */
ml_status ml_astream_drop_run_rows(ml_astream *s, uint64_t first_lo, int64_t first_hi, uint64_t *dropped, ml_err *err);

/* Uncovered rows.  A commit holds every stream, but a STREAM state covers
 * only its own stream: rows of another stream loaded since that stream's
 * last STATE would be committed without a STATE, and loaded again when the
 * platform resends them after a crash.  So before such a commit they are
 * parked in "_mallard_pending_<table>" (ml_astream_park) and moved back when
 * the stream's STATE arrives (ml_astream_covered) or at the end of input.
 * Rows parked by a run that died are discarded when the stream opens: the
 * platform sends them again.  (append_dedup streams need none of this:
 * merging a record twice changes nothing.) */
ml_status ml_astream_park(ml_astream *s, ml_err *err);
ml_status ml_astream_covered(ml_astream *s, ml_err *err);
/* End of input: every row is committed with the rest, the pending table goes. */
ml_status ml_astream_end_of_input(ml_astream *s, ml_err *err);

const ml_stream_def *ml_astream_def(const ml_astream *s);
uint64_t ml_astream_records(const ml_astream *s);
uint64_t ml_astream_nulled(const ml_astream *s);
/* Rows written to the stream's child tables (unnesting). */
uint64_t ml_astream_child_rows(const ml_astream *s);
unsigned ml_astream_schema_changes(const ml_astream *s);

#endif
