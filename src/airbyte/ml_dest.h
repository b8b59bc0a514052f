/* ml_dest: `mallard write`, the Airbyte destination's message loop.
 *
 * Lifecycle: ml_dest_open (opens the database, prepares every configured
 * stream in the first transaction) -> ml_dest_line for each input line ->
 * ml_dest_tick when input is idle -> ml_dest_finish at end of input (or
 * ml_dest_abort on failure) -> ml_dest_free.
 *
 * Guarantees (docs/reliability.md):
 *  - Records are appended inside a transaction that stays open until a STATE
 *    arrives; the STATE (with destinationStats) is echoed only after COMMIT
 *    returned, and the STATE itself is stored in _mallard_airbyte_state in
 *    that same transaction, so the database says what was committed.
 *  - Commits are grouped: a STATE arriving less than commit_interval_ms after
 *    the previous commit waits (echoes keep their order) until the interval
 *    has passed, input goes idle, or input ends.
 *  - On a failure nothing uncommitted is kept: the open transaction is rolled
 *    back and no later STATE is echoed. */
#ifndef ML_DEST_H
#define ML_DEST_H

/* DuckDB's memory limit for appends when the config sets none (see
 * ml_dest_open in ml_dest.c); append_dedup merges run under DuckDB's default. */
#define ML_DEST_APPEND_MEMORY_LIMIT ML_WH_APPEND_MEMORY_LIMIT
/* A message line longer than this lifts that limit for the rest of the run. */
#define ML_DEST_BIG_LINE (4u << 20)

#include <stdbool.h>
#include <stddef.h>

#include "ml_catalog.h"
#include "ml_proto.h"

typedef struct ml_dest ml_dest;

/* config and catalog are borrowed and must outlive the destination. */
ml_status ml_dest_open(const ml_dest_config *config, const ml_catalog *catalog, ml_proto *out, ml_dest **dest,
                       ml_err *err);
/* One input line (without its newline), numbered from 1 for messages. */
ml_status ml_dest_line(ml_dest *d, const char *line, size_t len, size_t lineno, ml_err *err);
/* Called when no input is waiting: commits pending states whose interval
 * has passed, and logs progress now and then. *wait_ms is how long the
 * caller may sleep before calling again (-1: no deadline). */
ml_status ml_dest_tick(ml_dest *d, int *wait_ms, ml_err *err);
/* The caller waited `seconds` for input (for the summary: whether the
 * source bounded the load). */
void ml_dest_input_waited(ml_dest *d, double seconds);
/* The caller waited `seconds` for input (for the summary: whether the
 * source bounded the load). */
void ml_dest_input_waited(ml_dest *d, double seconds);
/* End of input: commits everything, completes overwrite/dedup/generations
 * for streams that finished, echoes the remaining states, logs a summary. */
ml_status ml_dest_finish(ml_dest *d, ml_err *err);
/* Rolls back the open transaction. */
void ml_dest_abort(ml_dest *d);
void ml_dest_free(ml_dest *d);

#endif
