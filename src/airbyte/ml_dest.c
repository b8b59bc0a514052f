#include "ml_dest.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/ml_array.h"
#include "../engine/ml_ids.h"
#include "../json/ml_json.h"
#include "../util/ml_hash.h"
#include "../util/ml_near.h"
#include "../warehouse/ml_commit.h"
#include "../warehouse/ml_loader.h"
#include "../warehouse/ml_wh.h"
#include "ml_astream.h"
#include "ml_unnest.h"

#define PROGRESS_EVERY_MS 10000
#define STATE_TABLE "_mallard_airbyte_state"
#define STATE_LOG "_mallard_airbyte_state_log"

typedef enum state_kind { STATE_STREAM, STATE_GLOBAL, STATE_LEGACY } state_kind;
static const char *const state_kind_name[] = {"STREAM", "GLOBAL", "LEGACY"};

/* A STATE received but not yet committed: what to echo, and what to store. */
typedef struct pending_state {
  char *echo;   /* the whole message line to print after COMMIT */
  size_t echo_len;
  char *stored; /* the "state" object as compact JSON */
  state_kind kind;
  char *ns, *name; /* STREAM only */
  int64_t sync_id; /* the stream's (STREAM) or the catalog's first stream's */
  uint64_t hash;   /* identifies (kind, stream, state) in the state log */
} pending_state;

/* The plan of one commit (ml_commit): the states it stores in the state
 * table and, once the COMMIT returned, echoes. */
typedef struct state_plan {
  pending_state *states; /* owned */
  size_t n_states;
  ml_buf sql; /* scratch of the thread that runs the plan */
} state_plan;

typedef struct stream_run {
  ml_astream *s;  /* NULL until the stream's tables are prepared */
  uint64_t since_state;    /* records since this stream's last STATE */
  uint64_t bytes;          /* input bytes of its records */
  uint64_t logged_records; /* at the last progress line */
  bool complete;           /* a STREAM_STATUS COMPLETE arrived */
  bool replaying;          /* may still be receiving records resent after a crash */
} stream_run;

typedef struct ignored_stream {
  char *key;
  uint64_t count;
} ignored_stream;

struct ml_dest {
  const ml_dest_config *cfg;
  const ml_catalog *cat;
  ml_proto *out;
  ml_wh *wh;
  ml_json_doc *doc;
  ml_ids ids;
  stream_run *runs;
  pending_state *pending;
  size_t n_pending, cap_pending;
  ignored_stream *ignored;
  size_t n_ignored;
  uint64_t since_global_state; /* all records since the last GLOBAL/LEGACY state */
  uint64_t since_any_state;    /* records since the last STATE of any kind */
  uint64_t records, bytes, commits, states;
  bool statuses_seen;
  /* Resent-after-crash detection (see on_state): hashes of the states
   * committed earlier in this sync, sorted, and this run's first row id. */
  uint64_t *log, n_log;
  bool replaying_global;
  uint64_t first_lo;
  int64_t first_hi;
  uint64_t resent_dropped;
  long long start_ms, last_commit_ms, last_progress_ms, last_progress_records;
  double input_wait_s; /* ml_dest_input_waited */
  ml_buf scratch;
  /* Every commit goes through it; STATEs are echoed by its drain. */
  ml_commit *commits_made;
  /* unnest_depth > 0: one plan per catalog stream (plan_of[i] NULL when the
   * stream declares nothing nested) */
  ml_unnest_plan *plans;
  ml_unnest_plan **plan_of;
};

static void states_free(pending_state *states, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(states[i].echo);
    free(states[i].stored);
    free(states[i].ns);
    free(states[i].name);
  }
}

static void pending_clear(ml_dest *d) {
  states_free(d->pending, d->n_pending);
  d->n_pending = 0;
}

static void state_plan_free(void *p) {
  state_plan *sp = p;
  states_free(sp->states, sp->n_states);
  free(sp->states);
  ml_buf_free(&sp->sql);
  free(sp);
}

/* ml_commit's acknowledgement: the STATEs of a committed plan are echoed. */
static void echo_plan(void *ud, void *p) {
  ml_dest *d = ud;
  state_plan *sp = p;
  for (size_t i = 0; i < sp->n_states; i++) ml_proto_emit(d->out, sp->states[i].echo, sp->states[i].echo_len);
}

/* Echoes the states of the commits that have committed, oldest first. */
static ml_status echo_committed(ml_dest *d, ml_err *err) {
  if (!d->commits_made || ml_commit_drain(d->commits_made, echo_plan, d) == 0) return ML_OK;
  return ml_proto_flush(d->out, err);
}

void ml_dest_free(ml_dest *d) {
  if (!d) return;
  /* the loader may still run a commit of it */
  if (d->wh) ml_wh_sync(d->wh, NULL);
  ml_commit_free(d->commits_made);
  if (d->runs)
    for (size_t i = 0; i < d->cat->n_streams; i++) ml_astream_free(d->runs[i].s);
  free(d->runs);
  for (size_t i = 0; d->plans && i < d->cat->n_streams; i++) ml_unnest_plan_free(&d->plans[i]);
  free(d->plans);
  free(d->plan_of);
  pending_clear(d);
  free(d->pending);
  for (size_t i = 0; i < d->n_ignored; i++) free(d->ignored[i].key);
  free(d->ignored);
  free(d->log);
  ml_json_doc_free(d->doc);
  ml_wh_close(d->wh);
  ml_buf_free(&d->scratch);
  free(d);
}

void ml_dest_abort(ml_dest *d) {
  if (!d || !d->wh) return;
  /* states whose commit went through are acknowledged even now */
  ml_wh_sync(d->wh, NULL);
  echo_committed(d, NULL);
  ml_wh_rollback(d->wh);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The state log remembers every STATE committed during a sync (identified by
 * the platform's sync_id).  When the platform retries a sync after a crash it
 * resends what follows the last STATE it saw echoed; if mallard had committed
 * more than that before dying, the resent records are already in the tables.
 * Only syncs with a sync_id take part: without one, running the same input
 * twice on purpose must load it twice. */
static ml_status load_state_log(ml_dest *d, ml_err *err) {
  int64_t sync_id = d->cat->n_streams ? d->cat->streams[0].sync_id : 0;
  ml_status st = ml_wh_exec(d->wh,
                            "CREATE TABLE IF NOT EXISTS main." STATE_LOG " (sync_id BIGINT NOT NULL, "
                            "state_hash UBIGINT NOT NULL, committed_at TIMESTAMPTZ)",
                            err);
  if (st == ML_OK) st = ml_wh_execf(d->wh, err, "DELETE FROM main." STATE_LOG " WHERE sync_id <> %lld", (long long)sync_id);
  if (st != ML_OK || sync_id == 0) return st;
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT state_hash FROM main." STATE_LOG " WHERE sync_id = %lld", (long long)sync_id);
  size_t rows = 0;
  st = ml_wh_query_u64s(d->wh, sql, &d->log, &rows, err);
  if (st != ML_OK) return st == ML_ERR_NOMEM ? st : ml_err_prefix(err, "reading the state log");
  d->n_log = rows;
  qsort(d->log, rows, sizeof *d->log, cmp_u64);
  d->replaying_global = rows > 0;
  for (size_t i = 0; i < d->cat->n_streams; i++) d->runs[i].replaying = rows > 0;
  if (rows > 0)
    ml_proto_log(d->out, "INFO",
                 "sync %lld was interrupted before: %llu committed states are known; records resent before them "
                 "are not loaded twice",
                 (long long)sync_id, (unsigned long long)rows);
  return ML_OK;
}

static bool in_state_log(const ml_dest *d, uint64_t h) {
  return d->n_log && bsearch(&h, d->log, d->n_log, sizeof h, cmp_u64) != NULL;
}

static uint64_t state_hash(const pending_state *p) {
  uint64_t h = ML_HASH_FNV_OFFSET;
  const char *parts[4] = {state_kind_name[p->kind], p->ns ? p->ns : "", p->name ? p->name : "", p->stored};
  static const unsigned char separator = 0xFF; /* no byte of UTF-8 text is 0xFF */
  for (int k = 0; k < 4; k++) {
    h = ml_hash_fnv1a_more(h, parts[k], strlen(parts[k]));
    h = ml_hash_fnv1a_more(h, &separator, 1);
  }
  return h;
}

/* The unnest plans of the catalog's streams, their child tables named. */
static ml_status plan_unnesting(ml_dest *d, ml_err *err) {
  size_t n = d->cat->n_streams;
  d->plans = calloc(n ? n : 1, sizeof *d->plans);
  d->plan_of = calloc(n ? n : 1, sizeof *d->plan_of);
  if (!d->plans || !d->plan_of) return ml_err_nomem(err);
  for (size_t i = 0; i < n; i++) {
    ml_status st = ml_unnest_plan_build(&d->cat->streams[i], d->cfg->unnest_depth, &d->plans[i], err);
    if (st != ML_OK) return st;
    if (!ml_unnest_plan_empty(&d->plans[i])) d->plan_of[i] = &d->plans[i];
  }
  return ml_unnest_assign_tables(d->wh, d->cat, d->plan_of, d->out, err);
}

ml_status ml_dest_open(const ml_dest_config *config, const ml_catalog *catalog, ml_proto *out, ml_dest **dest,
                       ml_err *err) {
  *dest = NULL;
  ml_dest *d = calloc(1, sizeof *d);
  if (!d) return ml_err_nomem(err);
  d->cfg = config;
  d->cat = catalog;
  d->out = out;
  ml_buf_init(&d->scratch);
  ml_ids_init(&d->ids);
  d->start_ms = d->last_commit_ms = d->last_progress_ms = ml_proto_now_ms();
  d->runs = calloc(catalog->n_streams ? catalog->n_streams : 1, sizeof *d->runs);
  d->doc = ml_json_doc_new();
  if (!d->runs || !d->doc) {
    ml_dest_free(d);
    return ml_err_nomem(err);
  }
  /* Without a memory_limit, DuckDB keeps every block it wrote cached up to
   * 80% of RAM, so peak memory grew with the file (docs/performance.md).
   * Appends need little (DuckDB writes full row groups out as they
   * fill), so they run under ML_DEST_APPEND_MEMORY_LIMIT; the append_dedup
   * merge, which needs memory in proportion to the tables, runs under
   * DuckDB's default.  A configured memory_limit applies to everything.
   * Appends also run on one DuckDB thread (the loader; parsing has the other
   * core): with more, the thread running the INSERT polls while another one
   * works (a core busy doing nothing); merges get DuckDB's default. */
  ml_wh_options opts = {.create_dirs = true,
                        .background_append = true,
                        .vacuum_after_deletes = true,
                        .reclaim_at_end = true,
                        .memory_limit = config->memory_limit ? config->memory_limit : ML_DEST_APPEND_MEMORY_LIMIT,
                        .memory_limit_liftable = !config->memory_limit,
                        .threads = "1",
                        .threads_liftable = true};
  ml_status st = ml_wh_open(config->destination_path, &opts, &d->wh, err);
  /* Fault injection for the crash tests (docs/reliability.md):
   * MALLARD_FAULT=kill_after_commit:N kills the process with SIGKILL right
   * after the N-th commit returned, before its states are echoed. */
  const char *fault = getenv("MALLARD_FAULT");
  uint64_t kill_after = fault && !strncmp(fault, "kill_after_commit:", 18) ? strtoull(fault + 18, NULL, 10) : 0;
  if (st == ML_OK) st = ml_commit_open(d->wh, kill_after, &d->commits_made, err);
  if (st == ML_OK) {
    /* the first word of every write: which file it changes */
    char abs[PATH_MAX];
    const char *shown = realpath(config->destination_path, abs) ? abs : config->destination_path;
    ml_proto_log(out, "INFO", "database file %s opened for writing (%zu stream%s in the catalog)", shown,
                 catalog->n_streams, catalog->n_streams == 1 ? "" : "s");
  }
  if (st == ML_OK) st = ml_wh_begin(d->wh, err);
  if (st == ML_OK)
    st = ml_wh_exec(d->wh,
                    "CREATE TABLE IF NOT EXISTS main." STATE_TABLE " (kind VARCHAR NOT NULL, namespace VARCHAR, "
                    "name VARCHAR, state JSON, sync_id BIGINT, committed_at TIMESTAMPTZ)",
                    err);
  if (st == ML_OK) st = load_state_log(d, err);
  if (st == ML_OK && config->unnest_depth > 0) st = plan_unnesting(d, err);
  for (size_t i = 0; st == ML_OK && i < catalog->n_streams; i++)
    st = ml_astream_open(d->wh, &catalog->streams[i], d->plan_of ? d->plan_of[i] : NULL, config->raw_tables, out,
                         &d->runs[i].s, err);
  ml_ids_next(&d->ids, &d->first_lo, &d->first_hi);
  /* the tables exist (and a leftover staging table is merged) before any record */
  for (size_t i = 0; st == ML_OK && i < catalog->n_streams; i++) st = ml_astream_before_commit(d->runs[i].s, err);
  if (st == ML_OK) st = ml_wh_commit(d->wh, err);
  if (st != ML_OK) {
    ml_dest_free(d);
    return st;
  }
  *dest = d;
  return ML_OK;
}

static ml_status ensure_tx(ml_dest *d, ml_err *err) {
  return ml_wh_in_transaction(d->wh) ? ML_OK : ml_wh_begin(d->wh, err);
}

/* Stores states in the state table and the state log, in the open
 * transaction; q is scratch space. */
static ml_status store_states(ml_wh *wh, const pending_state *states, size_t n, ml_buf *q, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t i = 0; st == ML_OK && i < n; i++) {
    const pending_state *p = &states[i];
    ml_buf_reset(q);
    ml_buf_puts(q, "DELETE FROM main." STATE_TABLE " WHERE kind = ");
    ml_sql_literal(q, state_kind_name[p->kind], strlen(state_kind_name[p->kind]));
    ml_buf_puts(q, " AND namespace IS NOT DISTINCT FROM ");
    ml_sql_literal_or_null(q, p->ns);
    ml_buf_puts(q, " AND name IS NOT DISTINCT FROM ");
    ml_sql_literal_or_null(q, p->name);
    ml_buf_puts(q, "; INSERT INTO main." STATE_TABLE " VALUES (");
    ml_sql_literal(q, state_kind_name[p->kind], strlen(state_kind_name[p->kind]));
    ml_buf_puts(q, ", ");
    ml_sql_literal_or_null(q, p->ns);
    ml_buf_puts(q, ", ");
    ml_sql_literal_or_null(q, p->name);
    ml_buf_puts(q, ", ");
    ml_sql_literal(q, p->stored, strlen(p->stored));
    ml_buf_printf(q, ", %lld, now())", (long long)p->sync_id);
    if (p->sync_id != 0)
      ml_buf_printf(q, "; INSERT INTO main." STATE_LOG " VALUES (%lld, %llu, now())", (long long)p->sync_id,
                    (unsigned long long)p->hash);
    st = ml_wh_exec_buf(wh, q, err);
  }
  return st;
}

/* The plan's statements, run by ml_commit just before the COMMIT. */
static ml_status run_state_plan(void *p, ml_wh *wh, ml_err *err) {
  state_plan *sp = p;
  return store_states(wh, sp->states, sp->n_states, &sp->sql, err);
}

/* Moves the pending states into a new plan (NULL when out of memory). */
static state_plan *take_pending(ml_dest *d) {
  state_plan *sp = calloc(1, sizeof *sp);
  if (!sp) return NULL;
  *sp = (state_plan){.states = d->pending, .n_states = d->n_pending, .sql = ML_BUF_INIT};
  d->pending = NULL;
  d->n_pending = d->cap_pending = 0;
  return sp;
}

/* The common commit, when every stream only needs its rows flushed: queued
 * on the loader behind those rows, so that parsing goes on while DuckDB
 * writes and commits (waiting for it here stopped parsing at every commit).
 * The states are echoed by echo_committed once the COMMIT succeeded; a
 * failure reaches this thread at its next call that waits for the loader. */
static ml_status commit_behind(ml_dest *d, ml_err *err) {
  /* an earlier commit or append failed: say so now, not at the end of input */
  if (ml_commit_failed(d->commits_made)) return ml_commit_wait(d->commits_made, err);
  ml_status st = ML_OK;
  for (size_t i = 0; st == ML_OK && i < d->cat->n_streams; i++) st = ml_astream_flush_async(d->runs[i].s, err);
  state_plan *sp = st == ML_OK ? take_pending(d) : NULL;
  if (st == ML_OK && !sp) st = ml_err_nomem(err);
  uint64_t seq;
  if (st == ML_OK) st = ml_commit_submit(d->commits_made, sp, run_state_plan, state_plan_free, &seq, err);
  if (st != ML_OK) return st;
  d->commits++;
  d->last_commit_ms = ml_proto_now_ms();
  return echo_committed(d, err);
}

static bool can_commit_behind(const ml_dest *d) {
  if (!ml_commit_can_submit(d->commits_made)) return false;
  for (size_t i = 0; i < d->cat->n_streams; i++)
    if (!ml_astream_commit_is_flush_only(d->runs[i].s)) return false;
  return true;
}

/* Flushes every stream, stores and commits the pending states, then echoes
 * them: an echoed STATE always describes committed data. */
/* An overwrite stream that received no record replaces its table with an
 * empty one, as Airbyte defines it (the stream was synced, and it had
 * nothing): said out loud when that drops rows. */
static ml_status warn_emptied(ml_dest *d, const ml_stream_def *def, ml_err *err) {
  bool exists = false;
  ml_status st = ml_wh_table_exists(d->wh, NULL, def->schema, def->table, &exists, err);
  if (st != ML_OK || !exists) return st;
  ml_buf_reset(&d->scratch);
  ml_buf_puts(&d->scratch, "SELECT count(*) FROM ");
  ml_sql_qualified(&d->scratch, def->schema, def->table);
  if (!ml_buf_ok(&d->scratch)) return ml_err_nomem(err);
  int64_t rows = 0;
  bool found = false;
  if ((st = ml_wh_query_i64(d->wh, d->scratch.data, &rows, &found, err)) != ML_OK || rows <= 0) return st;
  ml_proto_log(d->out, "WARN",
               "stream '%s' (overwrite) received no record in this sync%s: as Airbyte defines overwrite, its table "
               "%s.%s is replaced by an empty one (%lld rows replaced)",
               def->name, d->records ? " while other streams did" : "", def->schema, def->table, (long long)rows);
  return ML_OK;
}

static ml_status commit(ml_dest *d, bool finishing, ml_err *err) {
  if (!finishing && can_commit_behind(d)) return commit_behind(d, err);
  /* queued commits first: they hold older states */
  ml_status st = ml_wh_sync(d->wh, err);
  if (st == ML_OK) st = echo_committed(d, err);
  if (st == ML_OK) st = ensure_tx(d, err);
  /* Rows no STATE covers yet: parked until their STATE, or (at the end of
   * input) committed with the rest. */
  for (size_t i = 0; st == ML_OK && i < d->cat->n_streams; i++)
    st = finishing ? ml_astream_end_of_input(d->runs[i].s, err) : ml_astream_park(d->runs[i].s, err);
  for (size_t i = 0; st == ML_OK && i < d->cat->n_streams; i++) st = ml_astream_before_commit(d->runs[i].s, err);
  if (st == ML_OK && finishing) {
    for (size_t i = 0; st == ML_OK && i < d->cat->n_streams; i++) {
      const ml_stream_def *def = &d->cat->streams[i];
      if (!d->statuses_seen || d->runs[i].complete) {
        if (def->mode == ML_MODE_OVERWRITE && ml_astream_records(d->runs[i].s) == 0) st = warn_emptied(d, def, err);
        if (st == ML_OK) st = ml_astream_finish(d->runs[i].s, err);
      } else if (def->mode == ML_MODE_OVERWRITE || def->minimum_generation_id > 0) {
        ml_proto_log(d->out, "WARN",
                     "stream '%s' did not report COMPLETE: its table was not replaced and older generations were "
                     "kept; the rows loaded so far stay for the next attempt",
                     def->name);
      }
    }
  }
  /* space of rows this run deleted is reclaimed once, by the last commit */
  if (st == ML_OK && finishing) st = ml_wh_reclaim_deleted(d->wh, err);
  state_plan *sp = st == ML_OK ? take_pending(d) : NULL;
  if (st == ML_OK && !sp) st = ml_err_nomem(err);
  if (st == ML_OK) st = ml_commit_here(d->commits_made, sp, run_state_plan, state_plan_free, NULL, err);
  if (st != ML_OK) {
    ml_wh_rollback(d->wh);
    return st;
  }
  d->commits++;
  d->last_commit_ms = ml_proto_now_ms();
  ml_commit_drain(d->commits_made, echo_plan, d);
  return ml_proto_flush(d->out, err);
}

static stream_run *find_run(ml_dest *d, const char *ns, const char *name) {
  const ml_stream_def *def = ml_catalog_find(d->cat, ns, name);
  return def ? &d->runs[def - d->cat->streams] : NULL;
}

static void note_ignored(ml_dest *d, const char *ns, const char *name) {
  char key[512];
  snprintf(key, sizeof key, "%s%s%s", ns ? ns : "", ns ? "." : "", name);
  for (size_t i = 0; i < d->n_ignored; i++)
    if (!strcmp(d->ignored[i].key, key)) {
      d->ignored[i].count++;
      return;
    }
  /* the same name under another namespace is the usual slip (a source that
   * sets a namespace the catalog does not, or the other way round); else a
   * name that is nearly one of the catalog's */
  const ml_stream_def *other = NULL;
  const char *names[256];
  size_t n_names = 0;
  for (size_t i = 0; i < d->cat->n_streams; i++) {
    const ml_stream_def *sd = &d->cat->streams[i];
    if (!strcmp(sd->name, name) && !other) other = sd;
    if (n_names < sizeof names / sizeof names[0]) names[n_names++] = sd->name;
  }
  const char *near = other ? NULL : ml_near_match(name, names, n_names);
  if (other)
    ml_proto_log(d->out, "WARN",
                 "ignoring records of stream '%s' (namespace %s%s%s): the configured catalog has stream '%s' under "
                 "namespace %s%s%s only; records must carry the catalog's namespace",
                 key, ns ? "'" : "", ns ? ns : "none", ns ? "'" : "", name, other->ns ? "'" : "",
                 other->ns ? other->ns : "none", other->ns ? "'" : "");
  else if (near)
    ml_proto_log(d->out, "WARN",
                 "ignoring records of stream '%s': it is not in the configured catalog (did you mean '%s'?)", key, near);
  else
    ml_proto_log(d->out, "WARN", "ignoring records of stream '%s': it is not in the configured catalog", key);
  ignored_stream *grown = realloc(d->ignored, (d->n_ignored + 1) * sizeof *grown);
  if (!grown) return;
  d->ignored = grown;
  d->ignored[d->n_ignored].key = strdup(key);
  d->ignored[d->n_ignored].count = 1;
  if (d->ignored[d->n_ignored].key) d->n_ignored++;
}

static const char *opt_str(const ml_json_val *obj, const char *key) {
  const ml_json_val *v = ml_json_get(obj, key);
  return v && v->type == ML_JSON_STRING && v->len > 0 ? v->u.str : NULL;
}

static ml_status on_record(ml_dest *d, const ml_json_val *msg, size_t line_len, ml_err *err) {
  const ml_json_val *rec = ml_json_get(msg, "record");
  if (!rec || rec->type != ML_JSON_OBJECT) return ml_err_set(err, ML_ERR_INPUT, "RECORD message has no \"record\" object");
  const char *name = ml_json_get_str(rec, "stream");
  if (!name) return ml_err_set(err, ML_ERR_INPUT, "RECORD has no \"stream\" name");
  const char *ns = opt_str(rec, "namespace");
  const ml_json_val *data = ml_json_get(rec, "data");
  if (!data || data->type != ML_JSON_OBJECT)
    return ml_err_set(err, ML_ERR_INPUT, "RECORD of stream '%s' has no \"data\" object", name);
  stream_run *run = find_run(d, ns, name);
  if (!run) {
    note_ignored(d, ns, name);
    return ML_OK;
  }
  const ml_json_val *at = ml_json_get(rec, "emitted_at");
  int64_t emitted = at && at->type == ML_JSON_NUMBER ? (at->flags & ML_JSON_NUM_INT ? at->i : (int64_t)at->d)
                                                      : ml_proto_now_ms();
  ml_status st = ensure_tx(d, err);
  if (st == ML_OK) st = ml_astream_record(run->s, data, emitted, ml_json_get(rec, "meta"), &d->ids, err);
  if (st != ML_OK) return st;
  run->since_state++;
  run->bytes += line_len;
  d->since_global_state++;
  d->since_any_state++;
  d->records++;
  d->bytes += line_len;
  return ML_OK;
}

/* The STATE message as received plus destinationStats.recordCount. */
static ml_status build_echo(ml_dest *d, const ml_json_val *msg, const ml_json_val *state, uint64_t count,
                            pending_state *p, ml_err *err) {
  ml_buf echo = ML_BUF_INIT, stored = ML_BUF_INIT;
  ml_jw w;
  ml_jw_init(&w, &echo);
  ml_jw_obj_begin(&w);
  for (size_t i = 0; i < msg->len; i++) {
    const ml_json_val *k = ml_json_key(msg, i);
    ml_jw_keyn(&w, k->u.str, k->len);
    if (strcmp(k->u.str, "state") != 0) {
      ml_jw_val(&w, ml_json_member(msg, i));
      continue;
    }
    ml_jw_obj_begin(&w);
    for (size_t j = 0; j < state->len; j++) {
      const ml_json_val *sk = ml_json_key(state, j);
      if (!strcmp(sk->u.str, "destinationStats")) continue;
      ml_jw_keyn(&w, sk->u.str, sk->len);
      ml_jw_val(&w, ml_json_member(state, j));
    }
    ml_jw_key(&w, "destinationStats");
    ml_jw_obj_begin(&w);
    ml_jw_key(&w, "recordCount");
    ml_jw_double(&w, (double)count);
    ml_jw_obj_end(&w);
    ml_jw_obj_end(&w);
  }
  ml_jw_obj_end(&w);
  ml_jw sw;
  ml_jw_init(&sw, &stored);
  ml_jw_val(&sw, state);
  if (!ml_jw_done(&w) || !ml_jw_done(&sw)) {
    ml_buf_free(&echo);
    ml_buf_free(&stored);
    return ml_err_set(err, ML_ERR_NOMEM, "out of memory echoing a STATE");
  }
  (void)d;
  p->echo_len = echo.len;
  p->echo = ml_buf_steal(&echo);
  p->stored = ml_buf_steal(&stored);
  return ML_OK;
}

/* A STATE that was already committed before a crash: the records of its
 * scope received so far in this run are copies of committed ones. */
static ml_status drop_resent(ml_dest *d, const pending_state *p, ml_err *err) {
  if (p->sync_id == 0 || !d->n_log) return ML_OK;
  stream_run *only = p->kind == STATE_STREAM ? find_run(d, p->ns, p->name) : NULL;
  bool replaying = only ? only->replaying : d->replaying_global;
  if (p->kind == STATE_STREAM && !only) return ML_OK;
  if (!replaying) return ML_OK;
  if (!in_state_log(d, p->hash)) {
    /* the first state not committed before: from here on everything is new */
    if (only) only->replaying = false;
    else {
      d->replaying_global = false;
      for (size_t i = 0; i < d->cat->n_streams; i++) d->runs[i].replaying = false;
    }
    return ML_OK;
  }
  ml_status st = ensure_tx(d, err);
  uint64_t dropped = 0;
  for (size_t i = 0; st == ML_OK && i < d->cat->n_streams; i++)
    if (!only || only == &d->runs[i])
      st = ml_astream_drop_run_rows(d->runs[i].s, d->first_lo, d->first_hi, &dropped, err);
  if (st == ML_OK && dropped) {
    d->resent_dropped += dropped;
    ml_proto_log(d->out, "INFO",
                 "a %s state that was committed before the restart arrived again: %llu resent records were already "
                 "loaded and are not kept twice",
                 state_kind_name[p->kind], (unsigned long long)dropped);
  }
  return st;
}

static ml_status on_state(ml_dest *d, const ml_json_val *msg, ml_err *err) {
  const ml_json_val *state = ml_json_get(msg, "state");
  if (!state || state->type != ML_JSON_OBJECT) return ml_err_set(err, ML_ERR_INPUT, "STATE message has no \"state\" object");
  pending_state p = {0};
  const char *type = ml_json_get_str(state, "type");
  uint64_t count;
  if (type && !strcmp(type, "STREAM")) {
    const ml_json_val *s = ml_json_get(state, "stream");
    const ml_json_val *desc = s ? ml_json_get(s, "stream_descriptor") : NULL;
    const char *name = desc ? ml_json_get_str(desc, "name") : NULL;
    if (!name) return ml_err_set(err, ML_ERR_INPUT, "STREAM state has no stream.stream_descriptor.name");
    const char *ns = opt_str(desc, "namespace");
    stream_run *run = find_run(d, ns, name);
    count = run ? run->since_state : 0;
    if (run) run->since_state = 0;
    if (run) p.sync_id = d->cat->streams[run - d->runs].sync_id;
    p.kind = STATE_STREAM;
    p.name = strdup(name);
    p.ns = ns ? strdup(ns) : NULL;
  } else {
    p.kind = type && !strcmp(type, "GLOBAL") ? STATE_GLOBAL : STATE_LEGACY;
    if (type && p.kind == STATE_LEGACY && strcmp(type, "LEGACY") != 0)
      return ml_err_set(err, ML_ERR_INPUT, "STATE has unknown type '%s' (expected STREAM, GLOBAL or LEGACY)", type);
    count = d->since_global_state;
    d->since_global_state = 0;
    p.sync_id = d->cat->n_streams ? d->cat->streams[0].sync_id : 0;
    for (size_t i = 0; i < d->cat->n_streams; i++) d->runs[i].since_state = 0;
  }
  ml_status st = build_echo(d, msg, state, count, &p, err);
  if (st == ML_OK) {
    p.hash = state_hash(&p);
    st = drop_resent(d, &p, err);
  }
  /* the rows of the state's scope are covered from here on */
  if (st == ML_OK) st = ensure_tx(d, err);
  stream_run *only = p.kind == STATE_STREAM ? find_run(d, p.ns, p.name) : NULL;
  for (size_t i = 0; st == ML_OK && i < d->cat->n_streams; i++)
    if (p.kind != STATE_STREAM || only == &d->runs[i]) st = ml_astream_covered(d->runs[i].s, err);
  if (st == ML_OK && !ml_array_reserve(&d->pending, d->n_pending + 1, &d->cap_pending, sizeof *d->pending, 16))
    st = ml_err_nomem(err);
  if (st != ML_OK) {
    free(p.echo);
    free(p.stored);
    free(p.ns);
    free(p.name);
    return st;
  }
  d->pending[d->n_pending++] = p;
  d->states++;
  d->since_any_state = 0;
  if (ml_proto_now_ms() - d->last_commit_ms >= d->cfg->commit_interval_ms) return commit(d, false, err);
  return ML_OK;
}

static void on_trace(ml_dest *d, const ml_json_val *msg) {
  const ml_json_val *trace = ml_json_get(msg, "trace");
  const char *type = trace ? ml_json_get_str(trace, "type") : NULL;
  if (!type || strcmp(type, "STREAM_STATUS") != 0) return;
  const ml_json_val *ss = ml_json_get(trace, "stream_status");
  const ml_json_val *desc = ss ? ml_json_get(ss, "stream_descriptor") : NULL;
  const char *name = desc ? ml_json_get_str(desc, "name") : NULL;
  const char *status = ss ? ml_json_get_str(ss, "status") : NULL;
  if (!name || !status) return;
  d->statuses_seen = true;
  stream_run *run = find_run(d, opt_str(desc, "namespace"), name);
  if (run && !strcmp(status, "COMPLETE")) run->complete = true;
}

static void log_progress(ml_dest *d, long long now) {
  double secs = (double)(now - d->start_ms) / 1000.0;
  for (size_t i = 0; i < d->cat->n_streams; i++) {
    stream_run *r = &d->runs[i];
    uint64_t n = ml_astream_records(r->s);
    if (n == r->logged_records) continue;
    r->logged_records = n;
    ml_proto_log(d->out, "INFO", "progress: stream '%s': %llu records, %.1f MB, %.0f records/s",
                 d->cat->streams[i].name, (unsigned long long)n, (double)r->bytes / 1e6,
                 secs > 0 ? (double)n / secs : 0.0);
  }
  d->last_progress_ms = now;
}

ml_status ml_dest_line(ml_dest *d, const char *line, size_t len, size_t lineno, ml_err *err) {
  size_t i = 0;
  while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
  if (i == len) return ML_OK;
  const ml_json_val *msg;
  /* a value near the append memory limit could not be appended under it
   * (after the first such line this does nothing) */
  if (len > ML_DEST_BIG_LINE) {
    ml_status lifted = ml_wh_lift_memory_limit(d->wh, err);
    if (lifted != ML_OK) return lifted;
  }
  ml_status st = ml_json_parse(d->doc, line, len, &msg, err);
  if (st != ML_OK) {
    if (!err) return st;
    /* the parser counts lines within this one line; say which input line */
    err->line = lineno;
    return ml_err_prefix(err, "input line %zu, column %zu is not valid JSON", lineno, err->column);
  }
  if (msg->type != ML_JSON_OBJECT) return ml_err_set(err, ML_ERR_INPUT, "input line %zu: a message must be a JSON object", lineno);
  const char *type = ml_json_get_str(msg, "type");
  if (!type) return ml_err_set(err, ML_ERR_INPUT, "input line %zu: message has no \"type\"", lineno);
  if (!strcmp(type, "RECORD")) st = on_record(d, msg, len, err);
  else if (!strcmp(type, "STATE")) st = on_state(d, msg, err);
  else if (!strcmp(type, "TRACE")) on_trace(d, msg);
  /* LOG, CONTROL and any other type are not addressed to the destination */
  if (st != ML_OK) {
    if (err) err->line = lineno;
    ml_err_prefix(err, "input line %zu", lineno);
    return st;
  }
  if ((d->records & 4095) == 0) {
    long long now = ml_proto_now_ms();
    if (now - d->last_progress_ms >= PROGRESS_EVERY_MS) log_progress(d, now);
  }
  return ML_OK;
}

ml_status ml_dest_tick(ml_dest *d, int *wait_ms, ml_err *err) {
  long long now = ml_proto_now_ms();
  *wait_ms = -1;
  ml_status st = echo_committed(d, err);
  if (st != ML_OK) return st;
  /* while input is idle, queued commits are echoed soon after they finish */
  if (ml_commit_waiting(d->commits_made)) *wait_ms = 5;
  if (now - d->last_progress_ms >= PROGRESS_EVERY_MS && d->records) log_progress(d, now);
  /* Records that arrived after the newest pending STATE are in the same
   * transaction, and committing them without their STATE would load them
   * twice when the platform resends them after a crash: then the pending
   * states wait for the next STATE or the end of input. */
  if (d->n_pending && d->since_any_state == 0) {
    long long due = d->last_commit_ms + d->cfg->commit_interval_ms;
    if (now >= due) return commit(d, false, err);
    if (*wait_ms < 0 || due - now < *wait_ms) *wait_ms = (int)(due - now);
  }
  return ML_OK;
}

void ml_dest_input_waited(ml_dest *d, double seconds) { d->input_wait_s += seconds; }

/* Where the sync's time went, from the two threads' side (the parsing
 * thread is this one, which calls ml_dest_*; the storage thread is the
 * warehouse's loader): tells a user whether the source, the parsing or
 * DuckDB's storage work bounded the load.  secs: the sync's wall time. */
static void log_time_split(ml_dest *d, double secs) {
  ml_loader *loader = ml_wh_loader(d->wh);
  if (!loader) return;
  ml_loader_times t;
  ml_loader_times_get(loader, &t);
  /* the side the other one waited for most bounded the load */
  const char *bound = "parsing";
  if (d->input_wait_s > t.owner_wait_s && d->input_wait_s > t.loader_idle_s / 2) bound = "the source";
  else if (t.owner_wait_s > t.loader_idle_s) bound = "storage";
  ml_proto_log(d->out, "INFO",
               "time (%.2f s): parsing thread %.2f s CPU, waited %.2f s for input and %.2f s for storage; storage "
               "thread %.2f s CPU, waited %.2f s for rows; bound by %s",
               secs, t.caller_cpu_s, d->input_wait_s, t.owner_wait_s, t.loader_cpu_s, t.loader_idle_s, bound);
}

ml_status ml_dest_finish(ml_dest *d, ml_err *err) {
  ml_status st = commit(d, true, err);
  if (st != ML_OK) return st;
  long long now = ml_proto_now_ms();
  log_progress(d, now);
  double secs = (double)(now - d->start_ms) / 1000.0;
  for (size_t i = 0; i < d->cat->n_streams; i++) {
    const ml_astream *s = d->runs[i].s;
    char children[64] = "";
    if (d->plan_of && d->plan_of[i])
      snprintf(children, sizeof children, " and %llu unnested rows", (unsigned long long)ml_astream_child_rows(s));
    ml_proto_log(d->out, "INFO", "stream '%s' -> %s.%s (%s): %llu records%s, %llu values NULLed, %u schema changes",
                 d->cat->streams[i].name, d->cat->streams[i].schema, d->cat->streams[i].table,
                 ml_sync_mode_name(d->cat->streams[i].mode), (unsigned long long)ml_astream_records(s), children,
                 (unsigned long long)ml_astream_nulled(s), ml_astream_schema_changes(s));
  }
  for (size_t i = 0; i < d->n_ignored; i++)
    ml_proto_log(d->out, "WARN", "ignored %llu records of stream '%s' (not in the configured catalog)",
                 (unsigned long long)d->ignored[i].count, d->ignored[i].key);
  ml_proto_log(d->out, "INFO",
               "sync complete: %llu records (%.1f MB) in %.2f s, %.0f records/s; %llu states, %llu commits",
               (unsigned long long)d->records, (double)d->bytes / 1e6, secs, secs > 0 ? (double)d->records / secs : 0.0,
               (unsigned long long)d->states, (unsigned long long)d->commits);
  log_time_split(d, secs);
  return ml_proto_flush(d->out, err);
}
