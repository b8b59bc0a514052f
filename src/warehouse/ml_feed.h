/* ml_feed: data chunks streamed into one table by an INSERT statement that
 * runs on the loader thread (ml_loader) and reads them through the table
 * function mallard_feed, instead of through DuckDB's appender.
 *
 * Why: the appender copies every chunk into a collection of its own and,
 * every ~200k rows, inserts that collection with a query during which the
 * calling thread polls; an INSERT ... SELECT from a table function takes the
 * caller's vectors by reference and streams them straight into the table,
 * without the copy and the polling (docs/performance.md has the timings).
 *
 * How: a sink belongs to one table.  ml_feed_push hands it a filled chunk;
 * when no INSERT of this sink is open, it queues one on the loader as a
 * streaming job (see ml_loader_set_stream).  The INSERT ends when the loader
 * is asked to do anything else (another job, a wait, SQL through ml_wh), so
 * rows reach the transaction in the order jobs were queued.  DuckDB threads
 * hand each chunk back (release) once they are done with it.
 *
 * Lifecycle: ml_feed_register once per connection, outside a transaction
 * (ml_wh_open does it when background_append is set) -> ml_feed_sink_init
 * -> ml_feed_push ... -> ml_loader_wait -> ml_feed_sink_free. */
#ifndef ML_FEED_H
#define ML_FEED_H

#include <stddef.h>

#include <duckdb.h>

#include "../util/ml_err.h"
#include "ml_loader.h"

/* Chunks a feed can queue: at least what any owner keeps in flight (a
 * push into a full feed ends its INSERT and starts another). */
#define ML_FEED_SLOTS 128

/* Called with the loader's lock held when DuckDB is done with a chunk: the
 * owner may reuse it (after duckdb_data_chunk_reset). */
typedef void (*ml_feed_release_fn)(void *ud, duckdb_data_chunk chunk);

typedef struct ml_feed ml_feed;

typedef struct ml_feed_sink {
  ml_loader *loader;            /* borrowed */
  struct ml_wh *wh;             /* borrowed: the INSERT runs through it */
  char *target;                 /* owned: quoted, qualified table name */
  char *label;                  /* owned: the table's name in messages */
  const duckdb_logical_type *types; /* borrowed: the table's column types */
  size_t n_types;
  ml_feed_release_fn release;
  void *ud;
  ml_feed *open; /* the feed taking chunks, or NULL; guarded by the loader lock */
  bool discarding; /* ml_feed_discard was called: every INSERT of the sink fails */
} ml_feed_sink;

/* Registers the table function on the connection.  Registration is
 * transactional in DuckDB, so call it outside a transaction. */
ml_status ml_feed_register(duckdb_connection conn, ml_err *err);

/* target (SQL) and label (messages) are copied; types must stay valid until
 * ml_feed_sink_free. */
ml_status ml_feed_sink_init(ml_feed_sink *s, ml_loader *loader, struct ml_wh *wh, const char *target, const char *label,
                            const duckdb_logical_type *types, size_t n, ml_feed_release_fn release, void *ud,
                            ml_err *err);
/* Call after ml_loader_wait (no INSERT of this sink may be running). */
void ml_feed_sink_free(ml_feed_sink *s);

/* Hands a chunk (with its size set) to the sink's INSERT, starting one when
 * none is open.  The chunk comes back through release.  A failed INSERT is
 * reported by the next ml_loader_wait. */
ml_status ml_feed_push(ml_feed_sink *s, duckdb_data_chunk chunk, ml_err *err);
/* Makes the sink's INSERTs fail instead of ending, so that what it read is not
 * kept (for rows that must not be committed on their own: an INSERT outside
 * a transaction commits when it ends).  Then ml_loader_wait. */
void ml_feed_discard(ml_feed_sink *s);

#endif
