#include "ml_feed.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml_wh.h"

#define FEED_FUNCTION "mallard_feed"
/* The SQL carries the feed's address; the magic number makes a stale or
 * foreign value an error instead of a crash. */
#define FEED_MAGIC UINT64_C(0x6d616c6c61726466)
#define FEED_SLOTS ML_FEED_SLOTS
/* DuckDB threads reading one feed.  Each keeps the chunk it returned last
 * until it asks for the next one, so this must stay well below the number
 * of chunks an owner circulates, or the owner and DuckDB would wait for each
 * other. */
#define FEED_MAX_THREADS 4

/* One INSERT statement's worth of chunks. */
struct ml_feed {
  uint64_t magic;
  ml_feed_sink *sink;
  duckdb_data_chunk q[FEED_SLOTS];
  size_t head, n;
  bool closing; /* no more chunks: the INSERT ends once q is empty */
};

/* Per DuckDB thread: the chunk it returned last, released on its next call. */
typedef struct feed_local {
  ml_feed *f;
  duckdb_data_chunk held;
} feed_local;

/* ---- the table function (runs on DuckDB's threads) ---------------------------------- */

static void feed_bind(duckdb_bind_info info) {
  duckdb_value v = duckdb_bind_get_parameter(info, 0);
  uint64_t addr = v ? duckdb_get_uint64(v) : 0;
  if (v) duckdb_destroy_value(&v);
  ml_feed *f = (ml_feed *)(uintptr_t)addr;
  if (!f || f->magic != FEED_MAGIC) {
    duckdb_bind_set_error(info, FEED_FUNCTION "() is internal to mallard");
    return;
  }
  for (size_t c = 0; c < f->sink->n_types; c++) {
    char name[32];
    snprintf(name, sizeof name, "c%zu", c);
    duckdb_bind_add_result_column(info, name, f->sink->types[c]);
  }
  duckdb_bind_set_bind_data(info, f, NULL);
}

static void feed_init(duckdb_init_info info) { duckdb_init_set_max_threads(info, FEED_MAX_THREADS); }

static void local_release(feed_local *l) {
  if (!l->held) return;
  l->f->sink->release(l->f->sink->ud, l->held);
  l->held = NULL;
  ml_loader_broadcast(l->f->sink->loader);
}

static void local_free(void *p) {
  feed_local *l = p;
  ml_loader_lock(l->f->sink->loader);
  local_release(l);
  ml_loader_unlock(l->f->sink->loader);
  free(l);
}

static void feed_local_init(duckdb_init_info info) {
  feed_local *l = calloc(1, sizeof *l);
  if (!l) {
    duckdb_init_set_error(info, "out of memory");
    return;
  }
  l->f = duckdb_init_get_bind_data(info);
  duckdb_init_set_init_data(info, l, local_free);
}

static void feed_function(duckdb_function_info info, duckdb_data_chunk out) {
  feed_local *l = duckdb_function_get_local_init_data(info);
  ml_feed *f = l->f;
  ml_loader *loader = f->sink->loader;
  ml_loader_lock(loader);
  /* DuckDB reset `out` before this call: the chunk it referred to is free */
  local_release(l);
  while (f->n == 0 && !f->closing && !f->sink->discarding) ml_loader_wait_for_input(loader);
  if (f->sink->discarding) {
    ml_loader_unlock(loader);
    duckdb_function_set_error(info, "rows discarded");
    return;
  }
  if (f->n == 0) {
    ml_loader_unlock(loader);
    duckdb_data_chunk_set_size(out, 0);
    return;
  }
  duckdb_data_chunk c = f->q[f->head];
  f->head = (f->head + 1) % FEED_SLOTS;
  f->n--;
  ml_loader_unlock(loader);
  /* by reference: the vectors share their buffers, nothing is copied */
  for (idx_t k = 0; k < f->sink->n_types; k++)
    duckdb_vector_reference_vector(duckdb_data_chunk_get_vector(out, k), duckdb_data_chunk_get_vector(c, k));
  duckdb_data_chunk_set_size(out, duckdb_data_chunk_get_size(c));
  l->held = c;
}

ml_status ml_feed_register(duckdb_connection conn, ml_err *err) {
  duckdb_table_function tf = duckdb_create_table_function();
  if (!tf) return ml_err_nomem(err);
  duckdb_table_function_set_name(tf, FEED_FUNCTION);
  duckdb_logical_type ubigint = duckdb_create_logical_type(DUCKDB_TYPE_UBIGINT);
  duckdb_table_function_add_parameter(tf, ubigint);
  duckdb_destroy_logical_type(&ubigint);
  duckdb_table_function_set_bind(tf, feed_bind);
  duckdb_table_function_set_init(tf, feed_init);
  duckdb_table_function_set_local_init(tf, feed_local_init);
  duckdb_table_function_set_function(tf, feed_function);
  duckdb_state rc = duckdb_register_table_function(conn, tf);
  duckdb_destroy_table_function(&tf);
  return rc == DuckDBSuccess ? ML_OK : ml_err_set(err, ML_ERR_DB, "cannot register the table function " FEED_FUNCTION);
}

/* ---- the sink (owner's thread) and the INSERT job (loader thread) ------------------ */

ml_status ml_feed_sink_init(ml_feed_sink *s, ml_loader *loader, struct ml_wh *wh, const char *target, const char *label,
                            const duckdb_logical_type *types, size_t n, ml_feed_release_fn release, void *ud,
                            ml_err *err) {
  *s = (ml_feed_sink){loader, wh, strdup(target), strdup(label), types, n, release, ud, NULL, false};
  if (s->target && s->label) return ML_OK;
  ml_feed_sink_free(s);
  return ml_err_nomem(err);
}

void ml_feed_sink_free(ml_feed_sink *s) {
  free(s->target);
  free(s->label);
  s->target = s->label = NULL;
}

void ml_feed_discard(ml_feed_sink *s) {
  ml_loader_lock(s->loader);
  s->discarding = true;
  ml_loader_broadcast(s->loader);
  ml_loader_unlock(s->loader);
}

/* Lock held: the loader moves on to other work, so this feed takes no more. */
static void feed_stop(void *ud) {
  ml_feed *f = ud;
  f->closing = true;
  if (f->sink->open == f) f->sink->open = NULL;
  ml_loader_broadcast(f->sink->loader);
}

/* The INSERT is over (or never ran): chunks it did not read go back, and
 * the feed is forgotten and freed. */
static void feed_end(ml_feed *f) {
  ml_loader *loader = f->sink->loader;
  ml_loader_lock(loader);
  for (; f->n; f->n--, f->head = (f->head + 1) % FEED_SLOTS) f->sink->release(f->sink->ud, f->q[f->head]);
  if (f->sink->open == f) f->sink->open = NULL;
  ml_loader_clear_stream(loader, f);
  ml_loader_broadcast(loader);
  ml_loader_unlock(loader);
  free(f);
}

static ml_status insert_job(void *a, void *unused, ml_err *err) {
  ml_feed *f = a;
  (void)unused;
  ml_feed_sink *s = f->sink;
  char sql[1024 + 64];
  ml_status st;
  if ((size_t)snprintf(sql, sizeof sql, "INSERT INTO %s SELECT * FROM " FEED_FUNCTION "(%" PRIu64 "::UBIGINT)",
                       s->target, (uint64_t)(uintptr_t)f) >= sizeof sql)
    st = ml_err_set(err, ML_ERR_STATE, "table name too long: %.100s", s->target);
  else
    st = ml_wh_exec(s->wh, sql, err);
  if (st != ML_OK) ml_err_prefix(err, "cannot append rows to %s", s->label);
  feed_end(f);
  return st;
}

static ml_status insert_cancel(void *a, void *unused, ml_err *err) {
  (void)unused;
  (void)err;
  feed_end(a);
  return ML_OK;
}

ml_status ml_feed_push(ml_feed_sink *s, duckdb_data_chunk chunk, ml_err *err) {
  ml_loader_lock(s->loader);
  ml_feed *f = s->open;
  if (f && f->n < FEED_SLOTS) {
    f->q[(f->head + f->n) % FEED_SLOTS] = chunk;
    f->n++;
    ml_loader_broadcast(s->loader);
    ml_loader_unlock(s->loader);
    return ML_OK;
  }
  ml_loader_unlock(s->loader);
  f = calloc(1, sizeof *f);
  if (!f) return ml_err_nomem(err);
  f->magic = FEED_MAGIC;
  f->sink = s;
  f->q[0] = chunk;
  f->n = 1;
  ml_loader_lock(s->loader);
  s->open = f;
  ml_loader_unlock(s->loader);
  /* stops whatever stream is open (this sink's full one included), then
   * queues this one and registers it in the same step: from then on the job
   * may run, end and free f at any time */
  ml_loader_submit_stream(s->loader, insert_job, insert_cancel, f, feed_stop);
  return ML_OK;
}
