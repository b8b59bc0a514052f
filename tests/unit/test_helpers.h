/* Shared helpers for the unit tests that need DuckDB: opening a warehouse
 * (in memory or in a temporary directory), reading one cell back as text,
 * holding the background loader, and temporary directories.
 *
 * Everything is static inline so that a test file that does not use a helper
 * gets no unused-function warning.  Helpers that check something take the
 * caller's file and line (through the TH_* macros) so that a failure points
 * at the test, not at this header.
 *
 * Reading values back: queries should CAST the value to VARCHAR in SQL; the
 * helper then uses duckdb_value_varchar on the materialized result, which is
 * safe for VARCHAR columns. */
#ifndef TEST_HELPERS_H
#define TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "warehouse/ml_wh_conn.h"

#include "warehouse/ml_batch.h"
#include "util/ml_buf.h"
#include "util/ml_err.h"
#include "warehouse/ml_loader.h"
#include "warehouse/ml_wh.h"

#define TH_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- warehouse -------------------------------------------------------------- */

/* Opens path with opts (NULL = defaults); the test fails when that does not
 * work.  Sets the session time zone to UTC so that TIMESTAMPTZ and TIMETZ
 * render the same everywhere. */
static inline ml_wh *th_open_(const char *path, const ml_wh_options *opts, const char *file, int line) {
  ml_wh *wh = NULL;
  ml_err err;
  ml_err_clear(&err);
  ml_status st = ml_wh_open(path, opts, &wh, &err);
  if (st != ML_OK || !wh) {
    print_error("ml_wh_open(%s) failed: %d %s\n", path, (int)st, err.msg);
    _fail(file, line);
  }
  if (!(opts && opts->read_only) && ml_wh_exec(wh, "SET TimeZone = 'UTC'", &err) != ML_OK) {
    print_error("SET TimeZone failed: %s\n", err.msg);
    ml_wh_close(wh);
    _fail(file, line);
  }
  return wh;
}
#define th_open(path, opts) th_open_((path), (opts), __FILE__, __LINE__)
#define th_open_mem() th_open_(":memory:", NULL, __FILE__, __LINE__)

/* Runs SQL that must succeed. */
static inline void th_exec_(ml_wh *wh, const char *sql, const char *file, int line) {
  ml_err err;
  ml_err_clear(&err);
  if (ml_wh_exec(wh, sql, &err) != ML_OK) {
    print_error("SQL failed: %s\n  error: %s\n", sql, err.msg);
    _fail(file, line);
  }
}
#define th_exec(wh, sql) th_exec_((wh), (sql), __FILE__, __LINE__)

/* First cell of the first row as malloc'd text (caller frees); NULL when the
 * cell is SQL NULL or there is no row.  The query must succeed. */
static inline char *th_query_(ml_wh *wh, const char *sql, const char *file, int line) {
  duckdb_result res;
  /* direct use of the connection: background appends must be done first */
  ml_wh_sync(wh, NULL);
  if (duckdb_query(ml_wh_conn(wh), sql, &res) != DuckDBSuccess) {
    print_error("query failed: %s\n  error: %s\n", sql, duckdb_result_error(&res));
    duckdb_destroy_result(&res);
    _fail(file, line);
  }
  char *out = NULL;
  if (duckdb_row_count(&res) > 0 && duckdb_column_count(&res) > 0 && !duckdb_value_is_null(&res, 0, 0)) {
    char *s = duckdb_value_varchar(&res, 0, 0);
    if (s) {
      out = strdup(s);
      duckdb_free(s);
    }
    if (!out) {
      duckdb_destroy_result(&res);
      print_error("cannot read the first cell of: %s\n", sql);
      _fail(file, line);
    }
  }
  duckdb_destroy_result(&res);
  return out;
}
#define th_query(wh, sql) th_query_((wh), (sql), __FILE__, __LINE__)

/* Asserts that the first cell of sql is `expected` (NULL: SQL NULL). */
static inline void th_expect_(ml_wh *wh, const char *sql, const char *expected, const char *file, int line) {
  char *got = th_query_(wh, sql, file, line);
  bool same = (got == NULL && expected == NULL) || (got && expected && strcmp(got, expected) == 0);
  if (!same) {
    print_error("query: %s\n  expected: %s%s%s\n  got:      %s%s%s\n", sql, expected ? "'" : "",
                expected ? expected : "NULL", expected ? "'" : "", got ? "'" : "", got ? got : "NULL", got ? "'" : "");
    free(got);
    _fail(file, line);
  }
  free(got);
}
#define th_expect(wh, sql, expected) th_expect_((wh), (sql), (expected), __FILE__, __LINE__)

/* The same with a printf-formatted query. */
static inline void th_expectf_(ml_wh *wh, const char *expected, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static inline void th_expectf_(ml_wh *wh, const char *expected, const char *file, int line, const char *fmt, ...) {
  char sql[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof sql) {
    print_error("query too long for th_expectf\n");
    _fail(file, line);
  }
  th_expect_(wh, sql, expected, file, line);
}
#define th_expectf(wh, expected, ...) th_expectf_((wh), (expected), __FILE__, __LINE__, __VA_ARGS__)

/* An integer result (the query must return a non-NULL integer). */
static inline int64_t th_query_i64_(ml_wh *wh, const char *sql, const char *file, int line) {
  int64_t v = 0;
  bool found = false;
  ml_err err;
  ml_err_clear(&err);
  if (ml_wh_query_i64(wh, sql, &v, &found, &err) != ML_OK || !found) {
    print_error("integer query failed or returned nothing: %s\n  error: %s\n", sql, err.msg);
    _fail(file, line);
  }
  return v;
}
#define th_query_i64(wh, sql) th_query_i64_((wh), (sql), __FILE__, __LINE__)

/* ---- batches ------------------------------------------------------------------ */

/* A batch into main.<table> (which the caller creates) with n columns; the
 * test fails when it cannot be opened. */
static inline ml_batch *th_batch_(ml_wh *wh, const char *table, size_t n, const char *file, int line) {
  ml_batch *b = NULL;
  ml_err err;
  ml_err_clear(&err);
  if (ml_batch_open(wh, NULL, "main", table, n, &b, &err) != ML_OK) {
    print_error("ml_batch_open(main.%s) failed: %s\n", table, err.msg);
    _fail(file, line);
  }
  return b;
}

/* A batch into main.t, whose one column x is a BIGINT. */
static inline ml_batch *th_batch_x_(ml_wh *wh, const char *file, int line) { return th_batch_(wh, "t", 1, file, line); }
#define th_batch_x(wh) th_batch_x_((wh), __FILE__, __LINE__)

/* Appends the rows 0 .. n-1 to a batch of th_batch_x. */
static inline void th_fill_x_(ml_batch *b, int n, const char *file, int line) {
  ml_err err;
  ml_err_clear(&err);
  for (int r = 0; r < n; r++) {
    ml_batch_put_i64(b, 0, r);
    if (ml_batch_end_row(b, &err) != ML_OK) {
      print_error("ml_batch_end_row failed at row %d: %s\n", r, err.msg);
      _fail(file, line);
    }
  }
}
#define th_fill_x(b, n) th_fill_x_((b), (n), __FILE__, __LINE__)

/* ---- fixtures ------------------------------------------------------------------- */

/* For a cmocka setup function: a zeroed fixture of size bytes, stored in
 * *state for the test and its teardown (which frees it). */
static inline void *th_fixture_(void **state, size_t size, const char *file, int line) {
  void *f = calloc(1, size);
  if (!f) {
    print_error("out of memory for a fixture\n");
    _fail(file, line);
  }
  *state = f;
  return f;
}
#define th_fixture(state, size) th_fixture_((state), (size), __FILE__, __LINE__)

/* ---- holding the loader ------------------------------------------------------- */

/* A loader job that holds a warehouse's loader until th_gate_open: whatever
 * is queued behind it waits meanwhile (rows pile up in flight, as they do
 * while DuckDB compresses a row group; plans submitted cannot commit).  The
 * gate must stay alive until it is opened. */
typedef struct th_gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool open;
} th_gate;

static inline ml_status th_gate_job_(void *a, void *unused, ml_err *err) {
  (void)unused;
  (void)err;
  th_gate *g = a;
  pthread_mutex_lock(&g->mu);
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
  return ML_OK;
}

/* Queues a closed gate on wh's loader (wh opened with background_append). */
static inline void th_gate_close_on_loader(th_gate *g, ml_wh *wh) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->open = false;
  ml_loader_submit(ml_wh_loader(wh), th_gate_job_, NULL, g, NULL);
}

/* Lets the loader go on (from any thread). */
static inline void th_gate_open(th_gate *g) {
  pthread_mutex_lock(&g->mu);
  g->open = true;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

/* ---- known bugs --------------------------------------------------------------- */

/* Tests of known bugs (marked "BUG:") call this first: they are skipped, so
 * that the suite stays green, unless ML_TEST_BUGS=1 is set in the
 * environment, which runs them (and shows them failing until fixed). */
#define th_skip_bug()                                      \
  do {                                                     \
    const char *th_bugs_ = getenv("ML_TEST_BUGS");         \
    if (!th_bugs_ || !*th_bugs_ || *th_bugs_ == '0') skip(); \
  } while (0)

/* ---- temporary directories ------------------------------------------------- */

/* A new empty directory (malloc'd path, caller frees after th_rmtree). */
static inline char *th_tmpdir_(const char *file, int line) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  size_t n = strlen(base) + 32;
  char *path = malloc(n);
  if (!path) {
    _fail(file, line);
    return NULL; /* not reached: _fail does not return */
  }
  snprintf(path, n, "%s/mallard-test-XXXXXX", base);
  if (!mkdtemp(path)) {
    print_error("mkdtemp(%s) failed\n", path);
    free(path);
    _fail(file, line);
  }
  return path;
}
#define th_tmpdir() th_tmpdir_(__FILE__, __LINE__)

static inline int th_rm_entry_(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Removes path and everything under it (depth first, no symlinks followed). */
static inline void th_rmtree(const char *path) {
  if (path) nftw(path, th_rm_entry_, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir + "/" + name, malloc'd. */
static inline char *th_join(const char *dir, const char *name);

/* A database file in a new temporary directory: path is dir + "/w.db".
 * th_db_free removes the directory with everything in it (the WAL too). */
typedef struct th_db {
  char *dir, *path;
} th_db;
static inline th_db th_db_new_(const char *file, int line) {
  th_db db;
  db.dir = th_tmpdir_(file, line);
  db.path = th_join(db.dir, "w.db");
  return db;
}
#define th_db_new() th_db_new_(__FILE__, __LINE__)
static inline void th_db_free(th_db *db) {
  th_rmtree(db->dir);
  free(db->dir);
  free(db->path);
  db->dir = db->path = NULL;
}

/* dir + "/" + name, malloc'd. */
static inline char *th_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (!p) {
    fail_msg("out of memory");
    return NULL; /* not reached */
  }
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

#endif
