#include "ml_wh.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/ml_file.h"
#include "ml_feed.h"
#include "ml_wh_conn.h"
#include "ml_loader.h"

/* Settings that can bound appends (ml_wh_options *_liftable, and
 * vacuum_after_deletes for max_vacuum_tasks).  ml_wh_exec_unbounded lifts
 * the first N_LIFTED_PER_TX until the transaction ends; max_vacuum_tasks is
 * lifted for the rest of the session by ml_wh_rows_deleted. */
enum { BOUND_MEMORY, BOUND_THREADS, N_LIFTED_PER_TX, BOUND_VACUUM = N_LIFTED_PER_TX, N_BOUNDS };
static const char *const bound_name[N_BOUNDS] = {"memory_limit", "threads", "max_vacuum_tasks"};

struct ml_wh {
  duckdb_database db;
  duckdb_connection conn;
  bool in_tx;
  bool tx_failed; /* a statement failed in the open transaction */
  char *path;
  ml_loader *loader;
  /* liftable settings (ml_wh_options): the bound and DuckDB's default that lifts
   * it (as DuckDB prints it; RESET memory_limit changes the setting but not
   * the buffer pool's limit in DuckDB 1.4); NULL when not bounded */
  char *bound[N_BOUNDS], *dflt[N_BOUNDS];
  bool lifted_until_commit; /* ml_wh_exec_unbounded ran in this transaction */
  bool reclaim_at_end;      /* ml_wh_options */
  bool deleted_unreclaimed; /* ml_wh_rows_deleted was deferred (reclaim_at_end) */
};

static ml_status set_setting(ml_wh *wh, int which, const char *value, ml_err *err);

ml_loader *ml_wh_loader(ml_wh *wh) { return wh->loader; }

ml_status ml_wh_sync(ml_wh *wh, ml_err *err) {
  /* a job on the loader thread owns the connection already */
  if (!wh->loader || ml_loader_on_thread(wh->loader)) return ML_OK;
  return ml_loader_wait(wh->loader, err);
}

/* DuckDB reports a held file lock as an IO error whose text mentions the
 * lock; we look for those words to tell users "another process" rather than a
 * generic IO failure. */
static bool is_lock_message(const char *msg) {
  return msg && (strstr(msg, "Could not set lock") || strstr(msg, "Conflicting lock"));
}

static bool is_disk_message(const char *msg) {
  return msg && (strstr(msg, "No space left") || strstr(msg, "Disk full") || strstr(msg, "disk is full") ||
                 strstr(msg, "Read-only file system") || strstr(msg, "Permission denied"));
}

ml_status ml_wh_open(const char *path, const ml_wh_options *opts, ml_wh **out, ml_err *err) {
  return ml_wh_open_said(path, opts, out, NULL, err);
}

ml_status ml_wh_open_said(const char *path, const ml_wh_options *opts, ml_wh **out, char **said, ml_err *err) {
  *out = NULL;
  if (said) *said = NULL;
  ml_wh_options none = {0};
  if (!opts) opts = &none;
  if (!path || !*path) return ml_err_set(err, ML_ERR_CONFIG, "no database path given");
  if (opts->read_only && !ml_file_exists(path))
    return ml_err_set(err, ML_ERR_IO, "no database file at %s", path);
  if (opts->create_dirs && !opts->read_only) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
      *slash = '\0';
      ml_status st = ml_file_mkdirs(dir, err);
      if (st != ML_OK) return st;
    }
  }
  ml_wh *wh = calloc(1, sizeof *wh);
  if (!wh || !(wh->path = strdup(path))) {
    free(wh);
    return ml_err_set(err, ML_ERR_NOMEM, "out of memory opening %s", path);
  }
  wh->reclaim_at_end = opts->reclaim_at_end;
  duckdb_config config = NULL;
  if (duckdb_create_config(&config) != DuckDBSuccess) {
    ml_wh_close(wh);
    return ml_err_set(err, ML_ERR_NOMEM, "cannot create DuckDB config");
  }
  if (opts->read_only) duckdb_set_config(config, "access_mode", "READ_ONLY");
  /* liftable bounds are SET after connecting, once DuckDB's defaults are known */
  const char *wanted[N_BOUNDS] = {opts->memory_limit, opts->threads, opts->vacuum_after_deletes ? "0" : NULL};
  const bool liftable[N_BOUNDS] = {opts->memory_limit_liftable, opts->threads_liftable, true};
  for (int i = 0; i < N_BOUNDS; i++)
    if (wanted[i] && !liftable[i]) duckdb_set_config(config, bound_name[i], wanted[i]);
  /* Extensions that are not built in would be downloaded at run time; mallard
   * must never reach the network, so autoloading stays off. */
  duckdb_set_config(config, "autoinstall_known_extensions", "false");
  duckdb_set_config(config, "autoload_known_extensions", "false");
  char *open_err = NULL;
  duckdb_state rc = duckdb_open_ext(path, &wh->db, config, &open_err);
  duckdb_destroy_config(&config);
  if (rc != DuckDBSuccess) {
    ml_status code = is_lock_message(open_err) ? ML_ERR_LOCKED : ML_ERR_IO;
    if (code == ML_ERR_LOCKED)
      ml_err_set(err, code, "database file %s is locked: another process has it open for writing (%s)", path,
                 open_err ? open_err : "");
    else
      ml_err_set(err, code, "cannot open database file %s: %s", path, open_err ? open_err : "unknown error");
    if (said) *said = strdup(open_err ? open_err : "unknown error");
    duckdb_free(open_err);
    wh->db = NULL;
    ml_wh_close(wh);
    return code;
  }
  if (duckdb_connect(wh->db, &wh->conn) != DuckDBSuccess) {
    ml_wh_close(wh);
    return ml_err_set(err, ML_ERR_DB, "cannot connect to database %s", path);
  }
  for (int i = 0; i < N_BOUNDS; i++) {
    if (!wanted[i] || !liftable[i]) continue;
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT CAST(current_setting('%s') AS VARCHAR)", bound_name[i]);
    ml_status st = ml_wh_query_text(wh, sql, &wh->dflt[i], err);
    if (st == ML_OK && !wh->dflt[i]) st = ml_err_set(err, ML_ERR_DB, "DuckDB reports no %s", bound_name[i]);
    if (st == ML_OK && !(wh->bound[i] = strdup(wanted[i]))) st = ml_err_nomem(err);
    if (st == ML_OK) st = set_setting(wh, i, wh->bound[i], err);
    if (st != ML_OK) {
      ml_wh_close(wh);
      return st;
    }
  }
  if (opts->background_append) {
    ml_status st = ml_feed_register(wh->conn, err);
    if (st == ML_OK) st = ml_loader_start(&wh->loader, err);
    if (st != ML_OK) {
      ml_wh_close(wh);
      return st;
    }
  }
  *out = wh;
  return ML_OK;
}

void ml_wh_close(ml_wh *wh) {
  if (!wh) return;
  if (wh->loader) {
    ml_loader_wait(wh->loader, NULL);
    ml_loader_stop(wh->loader);
    wh->loader = NULL;
  }
  if (wh->in_tx) ml_wh_rollback(wh);
  if (wh->conn) duckdb_disconnect(&wh->conn);
  if (wh->db) duckdb_close(&wh->db);
  free(wh->path);
  for (int i = 0; i < N_BOUNDS; i++) {
    free(wh->bound[i]);
    free(wh->dflt[i]);
  }
  free(wh);
}

duckdb_connection ml_wh_conn(ml_wh *wh) { return wh->conn; }
const char *ml_wh_path(const ml_wh *wh) { return wh->path; }

/* DuckDB's message for a failed statement (may be NULL): a full disk is
 * ML_ERR_IO, anything else ML_ERR_DB. */
static ml_status db_error(const char *msg, ml_err *err) {
  return ml_err_set(err, is_disk_message(msg) ? ML_ERR_IO : ML_ERR_DB, "%s", msg ? msg : "unknown DuckDB error");
}

static ml_status result_error(duckdb_result *res, ml_err *err) { return db_error(duckdb_result_error(res), err); }

/* One prepared statement run to its result on this thread.  Like
 * duckdb_query, the thread works on the query's tasks itself; unlike it, the
 * thread sleeps while DuckDB's other threads hold every task instead of
 * asking for one in a tight loop.  Why: bounds are lifted (all threads) for
 * the set-wise statements that run while the producer keeps the other core
 * busy (the SDK's apply behind the connector), and DuckDB's loop burned a
 * core there doing nothing: about 1.2 s of CPU in 1M upserts
 * (docs/performance.md, "Polling"). */
static ml_status run_prepared(duckdb_prepared_statement prep, idx_t *changed, ml_err *err) {
  duckdb_pending_result pending = NULL;
  ml_status st = ML_OK;
  if (duckdb_pending_prepared(prep, &pending) != DuckDBSuccess) {
    st = db_error(pending ? duckdb_pending_error(pending) : NULL, err);
    duckdb_destroy_pending(&pending);
    return st;
  }
  long idle_us = 0; /* the current sleep: grows while no task comes, back to 0 after one */
  duckdb_pending_state ps;
  while ((ps = duckdb_pending_execute_task(pending)) != DUCKDB_PENDING_RESULT_READY && ps != DUCKDB_PENDING_ERROR) {
    if (ps != DUCKDB_PENDING_NO_TASKS_AVAILABLE) {
      idle_us = 0;
      continue;
    }
    idle_us = idle_us ? (idle_us * 2 < 200 ? idle_us * 2 : 200) : 10;
    nanosleep(&(struct timespec){0, idle_us * 1000}, NULL);
  }
  if (ps == DUCKDB_PENDING_ERROR) { /* the query's error is the pending result's, not a result's */
    st = db_error(duckdb_pending_error(pending), err);
    duckdb_destroy_pending(&pending);
    return st;
  }
  duckdb_result res;
  if (duckdb_execute_pending(pending, &res) != DuckDBSuccess) {
    st = result_error(&res, err);
  } else if (changed) {
    *changed = duckdb_rows_changed(&res);
  }
  duckdb_destroy_result(&res);
  duckdb_destroy_pending(&pending);
  return st;
}

/* sql (one or more statements) through run_prepared; *changed (may be NULL)
 * gets the rows its last statement changed. */
static ml_status run_statements(ml_wh *wh, const char *sql, idx_t *changed, ml_err *err) {
  duckdb_extracted_statements ext = NULL;
  idx_t n = duckdb_extract_statements(wh->conn, sql, &ext);
  ml_status st = ML_OK;
  if (n == 0 && ext && duckdb_extract_statements_error(ext)) {
    /* a syntax error: the extractor words it as JSON, duckdb_query as
     * "Parser Error: ... LINE 1: ..." (nothing runs: it fails at parsing) */
    duckdb_result res;
    if (duckdb_query(wh->conn, sql, &res) != DuckDBSuccess) st = result_error(&res, err);
    else st = db_error(duckdb_extract_statements_error(ext), err);
    duckdb_destroy_result(&res);
  } /* no statement at all is fine, as for duckdb_query */
  for (idx_t i = 0; st == ML_OK && i < n; i++) {
    duckdb_prepared_statement prep = NULL;
    if (duckdb_prepare_extracted_statement(wh->conn, ext, i, &prep) != DuckDBSuccess) {
      st = db_error(prep ? duckdb_prepare_error(prep) : NULL, err);
    } else {
      st = run_prepared(prep, changed, err);
    }
    duckdb_destroy_prepare(&prep);
  }
  duckdb_destroy_extracted(&ext);
  return st;
}

/* Runs sql; *changed (may be NULL) gets the rows its last statement changed. */
static ml_status exec_changed(ml_wh *wh, const char *sql, idx_t *changed, ml_err *err) {
  ml_status synced = ml_wh_sync(wh, err);
  if (synced != ML_OK) return synced;
  if (wh->lifted_until_commit && wh->bound[BOUND_THREADS]) {
    ml_status st = run_statements(wh, sql, changed, err);
    if (st != ML_OK && wh->in_tx) wh->tx_failed = true;
    return st;
  }
  duckdb_result res;
  if (duckdb_query(wh->conn, sql, &res) != DuckDBSuccess) {
    ml_status st = result_error(&res, err);
    duckdb_destroy_result(&res);
    if (wh->in_tx) wh->tx_failed = true;
    return st;
  }
  if (changed) *changed = duckdb_rows_changed(&res);
  duckdb_destroy_result(&res);
  return ML_OK;
}

ml_status ml_wh_exec(ml_wh *wh, const char *sql, ml_err *err) { return exec_changed(wh, sql, NULL, err); }

/* SET is not transactional and does not mark the open transaction failed.
 * Callers wait for the loader first (ml_wh_sync), as every function here
 * that reads or writes the handle's transaction state does: the loader's
 * jobs (commits behind) change that state too. */
static ml_status set_setting(ml_wh *wh, int which, const char *value, ml_err *err) {
  ml_buf q = ML_BUF_INIT;
  ml_buf_printf(&q, "SET %s = ", bound_name[which]);
  ml_sql_literal(&q, value, strlen(value));
  bool failed = wh->tx_failed;
  ml_status st = ml_wh_exec_buf(wh, &q, err);
  wh->tx_failed = failed;
  ml_buf_free(&q);
  return st;
}

static ml_status lift_until_commit(ml_wh *wh, ml_err *err) {
  ml_status st = ml_wh_sync(wh, err);
  for (int i = 0; st == ML_OK && i < N_LIFTED_PER_TX && !wh->lifted_until_commit; i++)
    if (wh->bound[i]) st = set_setting(wh, i, wh->dflt[i], err);
  if (st == ML_OK) wh->lifted_until_commit = true;
  return st;
}

ml_status ml_wh_exec_unbounded(ml_wh *wh, const char *sql, ml_err *err) {
  ml_status st = lift_until_commit(wh, err);
  return st == ML_OK ? ml_wh_exec(wh, sql, err) : st;
}

/* After the transaction that lifted the bounds ended: the bounds again.  Not
 * inside that transaction, because lowering the memory limit fails while
 * DuckDB still holds more, and a failed statement would abort it. */
static void restore_bounds(ml_wh *wh) {
  if (!wh->lifted_until_commit) return;
  wh->lifted_until_commit = false;
  for (int i = 0; i < N_LIFTED_PER_TX; i++)
    if (wh->bound[i]) set_setting(wh, i, wh->bound[i], NULL);
}

static ml_status lift_for_session(ml_wh *wh, int which, ml_err *err) {
  ml_status synced = ml_wh_sync(wh, err);
  if (synced != ML_OK || !wh->bound[which]) return synced;
  const char *value = which == BOUND_VACUUM ? ML_WH_VACUUM_TASKS : wh->dflt[which];
  ml_status st = set_setting(wh, which, value, err);
  free(wh->bound[which]);
  wh->bound[which] = NULL;
  return st;
}

ml_status ml_wh_lift_memory_limit(ml_wh *wh, ml_err *err) { return lift_for_session(wh, BOUND_MEMORY, err); }

ml_status ml_wh_rows_deleted(ml_wh *wh, ml_err *err) {
  if (!wh->reclaim_at_end) return lift_for_session(wh, BOUND_VACUUM, err);
  ml_status st = ml_wh_sync(wh, err);
  if (st == ML_OK) wh->deleted_unreclaimed = true;
  return st;
}

ml_status ml_wh_reclaim_deleted(ml_wh *wh, ml_err *err) {
  ml_status st = ml_wh_sync(wh, err);
  return st == ML_OK && wh->deleted_unreclaimed ? lift_for_session(wh, BOUND_VACUUM, err) : st;
}

ml_status ml_wh_delete_unbounded(ml_wh *wh, const char *sql, ml_err *err) {
  idx_t deleted = 0;
  ml_status st = lift_until_commit(wh, err);
  if (st == ML_OK) st = exec_changed(wh, sql, &deleted, err);
  return st == ML_OK && deleted > 0 ? ml_wh_rows_deleted(wh, err) : st;
}

/* The text of a buffer that did not run out of memory ("" when empty). */
static const char *buf_sql(const ml_buf *sql) { return sql->data ? sql->data : ""; }

ml_status ml_wh_exec_buf(ml_wh *wh, const ml_buf *sql, ml_err *err) {
  return ml_buf_ok(sql) ? ml_wh_exec(wh, buf_sql(sql), err) : ml_err_nomem(err);
}

ml_status ml_wh_exec_unbounded_buf(ml_wh *wh, const ml_buf *sql, ml_err *err) {
  return ml_buf_ok(sql) ? ml_wh_exec_unbounded(wh, buf_sql(sql), err) : ml_err_nomem(err);
}

ml_status ml_wh_delete_unbounded_buf(ml_wh *wh, const ml_buf *sql, ml_err *err) {
  return ml_buf_ok(sql) ? ml_wh_delete_unbounded(wh, buf_sql(sql), err) : ml_err_nomem(err);
}

ml_status ml_wh_delete_counted(ml_wh *wh, const ml_buf *sql, uint64_t *deleted, ml_err *err) {
  idx_t n = 0;
  ml_status st = ml_buf_ok(sql) ? exec_changed(wh, buf_sql(sql), &n, err) : ml_err_nomem(err);
  if (deleted) *deleted = st == ML_OK ? (uint64_t)n : 0;
  return st == ML_OK && n > 0 ? ml_wh_rows_deleted(wh, err) : st;
}

ml_status ml_wh_execf(ml_wh *wh, ml_err *err, const char *fmt, ...) {
  ml_buf sql = ML_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  char small[512];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  ml_status st;
  if (n >= 0 && (size_t)n < sizeof small) {
    st = ml_wh_exec(wh, small, err);
  } else if (n >= 0 && ml_buf_reserve(&sql, (size_t)n)) {
    vsnprintf(sql.data, (size_t)n + 1, fmt, ap2);
    sql.len = (size_t)n;
    st = ml_wh_exec(wh, sql.data, err);
  } else {
    st = ml_err_set(err, ML_ERR_NOMEM, "out of memory building SQL");
  }
  va_end(ap2);
  ml_buf_free(&sql);
  return st;
}

/* Runs sql and, when it returns a non-NULL first cell, hands the cell to
 * take(); results here are tiny (one row), so the row-wise accessors are fine. */
static ml_status query_first(ml_wh *wh, const char *sql, duckdb_result *res, bool *has_value, ml_err *err) {
  *has_value = false;
  ml_status synced = ml_wh_sync(wh, err);
  if (synced != ML_OK) return synced;
  if (duckdb_query(wh->conn, sql, res) != DuckDBSuccess) {
    ml_status st = result_error(res, err);
    duckdb_destroy_result(res);
    return st;
  }
  *has_value = duckdb_row_count(res) > 0 && duckdb_column_count(res) > 0 && !duckdb_value_is_null(res, 0, 0);
  return ML_OK;
}

ml_status ml_wh_query_i64(ml_wh *wh, const char *sql, int64_t *out, bool *found, ml_err *err) {
  duckdb_result res;
  ml_status st = query_first(wh, sql, &res, found, err);
  if (st != ML_OK) return st;
  if (*found) *out = duckdb_value_int64(&res, 0, 0);
  duckdb_destroy_result(&res);
  return ML_OK;
}

ml_status ml_wh_query_text(ml_wh *wh, const char *sql, char **out, ml_err *err) {
  *out = NULL;
  duckdb_result res;
  bool found;
  ml_status st = query_first(wh, sql, &res, &found, err);
  if (st != ML_OK) return st;
  if (found) {
    char *s = duckdb_value_varchar(&res, 0, 0);
    if (s) {
      *out = strdup(s);
      duckdb_free(s);
    }
    if (!*out) st = ml_err_nomem(err);
  }
  duckdb_destroy_result(&res);
  return st;
}

ml_status ml_wh_query_u64s(ml_wh *wh, const char *sql, uint64_t **out, size_t *n, ml_err *err) {
  *out = NULL;
  *n = 0;
  duckdb_result res;
  bool found;
  ml_status st = query_first(wh, sql, &res, &found, err);
  if (st != ML_OK) return st;
  idx_t rows = duckdb_row_count(&res);
  uint64_t *vals = malloc((rows ? rows : 1) * sizeof *vals);
  if (vals) {
    for (idx_t r = 0; r < rows; r++) vals[r] = duckdb_value_uint64(&res, 0, r);
    *out = vals;
    *n = (size_t)rows;
  } else {
    st = ml_err_nomem(err);
  }
  duckdb_destroy_result(&res);
  return st;
}

const char *ml_wh_duckdb_version(void) { return duckdb_library_version(); }

ml_status ml_wh_begin(ml_wh *wh, ml_err *err) {
  if (wh->in_tx) return ml_err_set(err, ML_ERR_STATE, "a transaction is already open");
  ml_status st = ml_wh_exec(wh, "BEGIN TRANSACTION", err);
  if (st == ML_OK) {
    wh->in_tx = true;
    wh->tx_failed = false;
  }
  return st;
}

/* COMMIT, or ROLLBACK when it fails; either way DuckDB has no transaction
 * open afterwards (wh->in_tx is the caller's to change). */
static ml_status end_tx(ml_wh *wh, ml_err *err) {
  if (!wh->in_tx) return ml_err_set(err, ML_ERR_STATE, "no transaction to commit");
  /* A job of the loader that failed (an append, a commit behind) says why
   * better than anything below: report it as it is. */
  ml_status st = ml_wh_sync(wh, err);
  if (st != ML_OK) {
    ml_wh_exec(wh, "ROLLBACK", NULL);
    restore_bounds(wh);
    return st;
  }
  /* DuckDB discards a transaction in which a statement failed, yet answers
   * its COMMIT with success: say what really happened */
  st = wh->tx_failed ? ml_err_set(err, ML_ERR_STATE, "a statement in this transaction failed")
                     : ml_wh_exec(wh, "COMMIT", err);
  /* A failed COMMIT leaves DuckDB's transaction aborted: roll it back so the
   * connection is usable and the caller knows nothing was committed. */
  if (st != ML_OK) {
    ml_err_prefix(err, "commit failed, nothing since the last commit was saved");
    ml_wh_exec(wh, "ROLLBACK", NULL);
  }
  restore_bounds(wh);
  return st;
}

ml_status ml_wh_commit(ml_wh *wh, ml_err *err) {
  ml_status st = end_tx(wh, err);
  wh->in_tx = false;
  return st;
}

ml_status ml_wh_commit_and_begin(ml_wh *wh, bool *committed, ml_err *err) {
  ml_status st = end_tx(wh, err);
  *committed = st == ML_OK;
  if (st == ML_OK) {
    st = ml_wh_exec(wh, "BEGIN TRANSACTION", err);
    if (st == ML_OK) wh->tx_failed = false;
    return st;
  }
  /* The caller still believes a transaction is open (in_tx stays true): give
   * DuckDB one, marked failed, so that nothing run before the caller rolls
   * back can commit on its own (each statement would, outside a
   * transaction, and a later COMMIT then reports the failure). */
  ml_wh_exec(wh, "BEGIN TRANSACTION", NULL);
  wh->tx_failed = true;
  return st;
}

void ml_wh_fail_tx(ml_wh *wh) {
  if (wh->in_tx) wh->tx_failed = true;
}

void ml_wh_rollback(ml_wh *wh) {
  if (!wh->in_tx) return;
  ml_wh_sync(wh, NULL);
  ml_wh_exec(wh, "ROLLBACK", NULL);
  wh->in_tx = false;
  restore_bounds(wh);
}

bool ml_wh_in_transaction(const ml_wh *wh) { return wh->in_tx; }

void ml_sql_ident(ml_buf *b, const char *name) {
  ml_buf_putc(b, '"');
  for (const char *p = name; *p; p++) {
    if (*p == '"') ml_buf_putc(b, '"');
    ml_buf_putc(b, *p);
  }
  ml_buf_putc(b, '"');
}

void ml_sql_qualified_in(ml_buf *b, const char *catalog, const char *schema, const char *table) {
  if (catalog) {
    ml_sql_ident(b, catalog);
    ml_buf_putc(b, '.');
  }
  ml_sql_ident(b, schema);
  ml_buf_putc(b, '.');
  ml_sql_ident(b, table);
}

void ml_sql_qualified(ml_buf *b, const char *schema, const char *table) { ml_sql_qualified_in(b, NULL, schema, table); }

void ml_sql_literal(ml_buf *b, const char *s, size_t n) {
  ml_buf_putc(b, '\'');
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\'') ml_buf_putc(b, '\'');
    ml_buf_putc(b, s[i]);
  }
  ml_buf_putc(b, '\'');
}

ml_status ml_wh_table_exists(ml_wh *wh, const char *catalog, const char *schema, const char *table, bool *exists,
                             ml_err *err) {
  *exists = false;
  ml_buf q = ML_BUF_INIT;
  ml_buf_puts(&q, "SELECT count(*) FROM duckdb_tables() WHERE database_name = ");
  if (catalog) ml_sql_literal(&q, catalog, strlen(catalog));
  else ml_buf_puts(&q, "current_database()");
  ml_buf_puts(&q, " AND schema_name = ");
  ml_sql_literal(&q, schema, strlen(schema));
  ml_buf_puts(&q, " AND table_name = ");
  ml_sql_literal(&q, table, strlen(table));
  int64_t n = 0;
  bool found = false;
  ml_status st = ml_buf_ok(&q) ? ml_wh_query_i64(wh, q.data, &n, &found, err)
                               : ml_err_nomem(err);
  ml_buf_free(&q);
  *exists = st == ML_OK && n > 0;
  return st;
}

void ml_sql_literal_or_null(ml_buf *b, const char *s) {
  if (s) ml_sql_literal(b, s, strlen(s));
  else ml_buf_puts(b, "NULL");
}

void ml_wh_columns_free(ml_wh_column *cols, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(cols[i].name);
    free(cols[i].type);
  }
  free(cols);
}

/* DuckDB's name of a column type, written into buf (at least 32 bytes); NULL
 * for types without a plain name.  JSON is VARCHAR with the alias JSON. */
static const char *type_name(duckdb_logical_type lt, char *buf, size_t size) {
  char *alias = duckdb_logical_type_get_alias(lt);
  bool is_json = alias && !strcmp(alias, "JSON");
  duckdb_free(alias);
  if (is_json) return "JSON";
  switch (duckdb_get_type_id(lt)) {
  case DUCKDB_TYPE_BOOLEAN: return "BOOLEAN";
  case DUCKDB_TYPE_TINYINT: return "TINYINT";
  case DUCKDB_TYPE_SMALLINT: return "SMALLINT";
  case DUCKDB_TYPE_INTEGER: return "INTEGER";
  case DUCKDB_TYPE_BIGINT: return "BIGINT";
  case DUCKDB_TYPE_HUGEINT: return "HUGEINT";
  case DUCKDB_TYPE_UTINYINT: return "UTINYINT";
  case DUCKDB_TYPE_USMALLINT: return "USMALLINT";
  case DUCKDB_TYPE_UINTEGER: return "UINTEGER";
  case DUCKDB_TYPE_UBIGINT: return "UBIGINT";
  case DUCKDB_TYPE_UHUGEINT: return "UHUGEINT";
  case DUCKDB_TYPE_FLOAT: return "FLOAT";
  case DUCKDB_TYPE_DOUBLE: return "DOUBLE";
  case DUCKDB_TYPE_DECIMAL:
    snprintf(buf, size, "DECIMAL(%u,%u)", (unsigned)duckdb_decimal_width(lt), (unsigned)duckdb_decimal_scale(lt));
    return buf;
  case DUCKDB_TYPE_VARCHAR: return "VARCHAR";
  case DUCKDB_TYPE_BLOB: return "BLOB";
  case DUCKDB_TYPE_DATE: return "DATE";
  case DUCKDB_TYPE_TIME: return "TIME";
  case DUCKDB_TYPE_TIME_TZ: return "TIMETZ";
  case DUCKDB_TYPE_TIMESTAMP: return "TIMESTAMP";
  case DUCKDB_TYPE_TIMESTAMP_TZ: return "TIMESTAMPTZ";
  case DUCKDB_TYPE_TIMESTAMP_S: return "TIMESTAMP_S";
  case DUCKDB_TYPE_TIMESTAMP_MS: return "TIMESTAMP_MS";
  case DUCKDB_TYPE_TIMESTAMP_NS: return "TIMESTAMP_NS";
  case DUCKDB_TYPE_INTERVAL: return "INTERVAL";
  case DUCKDB_TYPE_UUID: return "UUID";
  case DUCKDB_TYPE_BIT: return "BIT";
  default: return NULL;
  }
}

ml_status ml_wh_table_columns(ml_wh *wh, const char *catalog, const char *schema, const char *table,
                              ml_wh_column **cols, size_t *n, bool *exists, ml_err *err) {
  *cols = NULL;
  *n = 0;
  *exists = false;
  bool present = false;
  ml_status st = ml_wh_table_exists(wh, catalog, schema, table, &present, err);
  if (st != ML_OK || !present) return st;
  ml_buf q = ML_BUF_INIT;

  if ((st = ml_wh_sync(wh, err)) != ML_OK) return st;
  /* A zero-row query carries exact names and logical types (including the
   * JSON alias, which information_schema renders only as text). */
  ml_buf_puts(&q, "SELECT * FROM ");
  ml_sql_qualified_in(&q, catalog, schema, table);
  ml_buf_puts(&q, " LIMIT 0");
  duckdb_result res;
  if (!ml_buf_ok(&q)) {
    ml_buf_free(&q);
    return ml_err_nomem(err);
  }
  if (duckdb_query(wh->conn, q.data, &res) != DuckDBSuccess) {
    st = result_error(&res, err);
    ml_err_prefix(err, "cannot inspect table %s.%s", schema, table);
    duckdb_destroy_result(&res);
    ml_buf_free(&q);
    return st;
  }
  ml_buf_free(&q);
  idx_t count = duckdb_column_count(&res);
  ml_wh_column *out = calloc(count ? count : 1, sizeof *out);
  if (!out) st = ml_err_nomem(err);
  for (idx_t c = 0; st == ML_OK && c < count; c++) {
    out[c].name = strdup(duckdb_column_name(&res, c));
    if (!out[c].name) st = ml_err_nomem(err);
    duckdb_logical_type lt = duckdb_column_logical_type(&res, c);
    char buf[32];
    const char *type = type_name(lt, buf, sizeof buf);
    if (type && !(out[c].type = strdup(type))) st = ml_err_nomem(err);
    duckdb_destroy_logical_type(&lt);
  }
  duckdb_destroy_result(&res);
  if (st != ML_OK) {
    if (out) ml_wh_columns_free(out, count);
    return st;
  }
  *cols = out;
  *n = count;
  *exists = true;
  return ML_OK;
}
