/* ml_children: the child tables of one stream while `mallard write` runs
 * with unnesting (ml_unnest.h): their rows, written with each record, and
 * what every sync mode does to them, always in the same transaction as the
 * stream's own table (ml_astream, which drives this module).
 *
 * A child table has the same lifecycle as its stream's table: rows go to
 * "<prefix><child>" (the stream's load prefix: the table itself for append,
 * _mallard_tmp_ for overwrite, _mallard_stage_ for append_dedup), parked
 * rows to "_mallard_pending_<child>".  Every child row carries its record's
 * _airbyte_raw_id and _airbyte_generation_id, so whatever removes or moves
 * a record's row (by id or generation) does the same to its child rows.
 * Tables are created when their first row arrives. */
#ifndef ML_CHILDREN_H
#define ML_CHILDREN_H

#include <stdbool.h>
#include <stdint.h>

#include "../json/ml_json.h"
#include "../warehouse/ml_wh.h"
#include "ml_catalog.h"
#include "ml_proto.h"
#include "ml_unnest.h"

typedef struct ml_children ml_children;

/* How the stream's overwrite temporary table was found at open (the
 * children follow the same decision). */
typedef enum ml_children_start {
  ML_CHILDREN_KEEP,      /* keep the load tables as they are */
  ML_CHILDREN_FRESH,     /* start the load tables empty */
  ML_CHILDREN_FROM_FINAL /* start them as copies of the final tables */
} ml_children_start;

/* Opens the runtime for plan's children (tables named, see
 * ml_unnest_assign_tables) in the open transaction: existing load tables
 * are brought to the plan's columns, and parked rows of a run that died
 * are dropped (not for append_dedup).  def, plan and the warehouse are
 * borrowed and outlive the handle.  *out is NULL when the plan has no
 * children. */
ml_status ml_children_open(ml_wh *wh, const ml_stream_def *def, const ml_unnest_plan *plan, ml_children_start start,
                           ml_proto *log, ml_children **out, ml_err *err);
void ml_children_free(ml_children *c);

/* Writes the child rows of one record (data, whose row has raw id lo/hi).
 * A value that does not fit its column is NULL and its path
 * ("cards[3].exp_year") is appended to `changes` (ml_proto_meta_change);
 * *nulled counts them. */
ml_status ml_children_write(ml_children *c, const ml_json_val *data, uint64_t lo, int64_t hi, int64_t extracted_us,
                            int64_t generation, ml_buf *changes, uint64_t *nulled, ml_err *err);

ml_status ml_children_flush(ml_children *c, ml_err *err);
ml_status ml_children_flush_async(ml_children *c, ml_err *err);

/* append_dedup merge, around the stream's own (see ml_astream.c):
 * delete_replaced removes the final child rows of the records whose raw ids
 * the query `ids_sql` returns; insert_winners moves the staged child rows of
 * the records `ids_sql` returns into the final tables (creating them when
 * rows arrive); clear_staged empties the staging tables. */
ml_status ml_children_delete_replaced(ml_children *c, const char *ids_sql, ml_err *err);
ml_status ml_children_insert_winners(ml_children *c, const char *ids_sql, ml_err *err);
ml_status ml_children_clear_staged(ml_children *c, ml_err *err);

/* End of a sync in which the stream completed: overwrite puts the load
 * tables in place of the final ones (a child without rows this sync is
 * emptied); otherwise rows of generations below minimum_generation_id go. */
ml_status ml_children_finish(ml_children *c, ml_err *err);

/* The rows of records with raw ids from lo/hi on, from the load and pending
 * tables (records resent after a crash). */
ml_status ml_children_drop_from(ml_children *c, uint64_t lo, int64_t hi, ml_err *err);
/* Parking (see ml_astream_park): rows of records from lo/hi on move to the
 * pending tables; covered moves them back; end_of_input drops the pending
 * tables. */
ml_status ml_children_park(ml_children *c, uint64_t lo, int64_t hi, ml_err *err);
ml_status ml_children_covered(ml_children *c, ml_err *err);
ml_status ml_children_end_of_input(ml_children *c, ml_err *err);

uint64_t ml_children_rows(const ml_children *c);
unsigned ml_children_schema_changes(const ml_children *c);

#endif
