/* Unit tests for warehouse/ml_wh: opening DuckDB files (directories, read-only,
 * locks held by another process), running SQL, transactions, table
 * introspection and the SQL quoting helpers.
 *
 * Every test that touches the file system works in its own mkdtemp directory,
 * removed at the end.  The lock test starts a second process (this program
 * again), because DuckDB's file lock only excludes other processes. */
#include "test_helpers.h"

#include <sys/stat.h>
#include <sys/wait.h>

/* ---- opening ------------------------------------------------------------------ */

static void test_open_create_dirs(void **state) {
  (void)state;
  char *dir = th_tmpdir();
  char *path = th_join(dir, "a/b/c/wh.duckdb");
  ml_wh_options opts = {.create_dirs = true};
  ml_wh *wh = th_open(path, &opts);
  assert_string_equal(ml_wh_path(wh), path);
  assert_non_null(ml_wh_conn(wh));
  th_exec(wh, "CREATE TABLE t AS SELECT 42 AS x");
  ml_wh_close(wh);
  struct stat st;
  char *sub = th_join(dir, "a/b/c");
  assert_int_equal(stat(sub, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  /* existing directories are fine too, and the data is there */
  wh = th_open(path, &opts);
  th_expect(wh, "SELECT CAST(x AS VARCHAR) FROM t", "42");
  ml_wh_close(wh);
  free(sub);
  free(path);
  th_rmtree(dir);
  free(dir);
}

static void test_open_missing_dir(void **state) {
  (void)state;
  char *dir = th_tmpdir();
  char *path = th_join(dir, "missing/wh.duckdb");
  ml_wh *wh = (ml_wh *)1;
  ml_err err;
  ml_err_clear(&err);
  /* without create_dirs DuckDB cannot create the file */
  ml_status st = ml_wh_open(path, NULL, &wh, &err);
  assert_int_equal(st, ML_ERR_IO);
  assert_int_equal(err.code, ML_ERR_IO);
  assert_null(wh);
  if (!strstr(err.msg, path)) fail_msg("message does not name the file: %s", err.msg);
  /* a parent that is a regular file cannot become a directory */
  char *file = th_join(dir, "plain");
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  char *below = th_join(file, "wh.duckdb");
  ml_wh_options opts = {.create_dirs = true};
  ml_err_clear(&err);
  st = ml_wh_open(below, &opts, &wh, &err);
  assert_int_equal(st, ML_ERR_IO);
  assert_null(wh);
  if (!strstr(err.msg, file)) fail_msg("message does not name the directory: %s", err.msg);
  free(below);
  free(file);
  free(path);
  th_rmtree(dir);
  free(dir);
}

static void test_open_bad_path(void **state) {
  (void)state;
  ml_wh *wh = (ml_wh *)1;
  ml_err err;
  ml_err_clear(&err);
  assert_int_equal(ml_wh_open("", NULL, &wh, &err), ML_ERR_CONFIG);
  assert_null(wh);
  wh = (ml_wh *)1;
  assert_int_equal(ml_wh_open(NULL, NULL, &wh, &err), ML_ERR_CONFIG);
  assert_null(wh);
  /* err may be NULL */
  assert_int_equal(ml_wh_open("", NULL, &wh, NULL), ML_ERR_CONFIG);
  ml_wh_close(NULL);
}

static void test_open_read_only(void **state) {
  (void)state;
  char *dir = th_tmpdir();
  char *path = th_join(dir, "ro.duckdb");
  ml_wh_options ro = {.read_only = true};
  ml_wh *wh = (ml_wh *)1;
  ml_err err;
  ml_err_clear(&err);
  /* missing file: not created */
  assert_int_equal(ml_wh_open(path, &ro, &wh, &err), ML_ERR_IO);
  assert_null(wh);
  if (!strstr(err.msg, "no database file")) fail_msg("unexpected message: %s", err.msg);
  if (!strstr(err.msg, path)) fail_msg("message does not name the file: %s", err.msg);
  struct stat st;
  assert_int_not_equal(stat(path, &st), 0);
  /* create_dirs is ignored for read_only */
  char *deep = th_join(dir, "x/y/ro.duckdb");
  ro.create_dirs = true;
  assert_int_equal(ml_wh_open(deep, &ro, &wh, &err), ML_ERR_IO);
  char *x = th_join(dir, "x");
  assert_int_not_equal(stat(x, &st), 0);
  ro.create_dirs = false;

  wh = th_open(path, NULL);
  th_exec(wh, "CREATE TABLE t AS SELECT 'hello' AS s");
  ml_wh_close(wh);
  wh = th_open(path, &ro);
  th_expect(wh, "SELECT s FROM t", "hello");
  ml_err_clear(&err);
  assert_int_equal(ml_wh_exec(wh, "INSERT INTO t VALUES ('no')", &err), ML_ERR_DB);
  if (!strstr(err.msg, "read-only")) fail_msg("unexpected message: %s", err.msg);
  ml_wh_close(wh);
  free(x);
  free(deep);
  free(path);
  th_rmtree(dir);
  free(dir);
}

static void test_open_options(void **state) {
  (void)state;
  ml_wh_options opts = {.threads = "1", .memory_limit = "256MB"};
  ml_wh *wh = th_open(":memory:", &opts);
  th_expect(wh, "SELECT current_setting('threads')", "1");
  /* DuckDB shows the limit in MiB */
  th_expect(wh, "SELECT current_setting('memory_limit')", "244.1 MiB");
  /* mallard never downloads extensions */
  th_expect(wh, "SELECT CAST(current_setting('autoinstall_known_extensions') AS VARCHAR)", "false");
  th_expect(wh, "SELECT CAST(current_setting('autoload_known_extensions') AS VARCHAR)", "false");
  ml_wh_close(wh);
}

/* The limit as DuckDB shows it; compared by its first digits, since the
 * default re-set from its printed form may print one digit lower. */
static void expect_limit(ml_wh *wh, const char *want) {
  char *got = NULL;
  assert_int_equal(ml_wh_query_text(wh, "SELECT current_setting('memory_limit')", &got, NULL), ML_OK);
  assert_non_null(got);
  if (strncmp(got, want, 2) != 0 || strcmp(strrchr(got, ' '), strrchr(want, ' ')) != 0)
    fail_msg("memory_limit is %s, expected about %s", got, want);
  free(got);
}

/* A liftable limit: bounds appends; ml_wh_exec_unbounded runs under DuckDB's
 * default until the transaction ends (commit or rollback), and
 * ml_wh_lift_memory_limit lifts it for good.  A fixed limit never moves. */
static void test_liftable_memory_limit(void **state) {
  (void)state;
  ml_wh *plain = th_open(":memory:", NULL);
  char *dflt = NULL;
  assert_int_equal(ml_wh_query_text(plain, "SELECT current_setting('memory_limit')", &dflt, NULL), ML_OK);
  ml_wh_close(plain);
  assert_non_null(dflt);
  assert_string_not_equal(dflt, "61.0 MiB");
  assert_non_null(strrchr(dflt, ' '));

  ml_wh *probe = th_open(":memory:", NULL);
  char *dflt_threads = NULL;
  assert_int_equal(ml_wh_query_text(probe, "SELECT CAST(current_setting('threads') AS VARCHAR)", &dflt_threads, NULL),
                   ML_OK);
  ml_wh_close(probe);
  ml_wh_options opts = {.memory_limit = "64MB", .memory_limit_liftable = true, .threads = "1", .threads_liftable = true};
  ml_wh *wh = th_open(":memory:", &opts);
  const char *tq = "SELECT CAST(current_setting('threads') AS VARCHAR)";
  th_expect(wh, tq, "1");
  expect_limit(wh, "61.0 MiB");
  assert_int_equal(ml_wh_begin(wh, NULL), ML_OK);
  assert_int_equal(ml_wh_exec_unbounded(wh, "CREATE TABLE t AS SELECT range AS x FROM range(10)", NULL), ML_OK);
  expect_limit(wh, dflt);
  th_expect(wh, tq, dflt_threads);
  assert_int_equal(ml_wh_commit(wh, NULL), ML_OK);
  expect_limit(wh, "61.0 MiB");
  th_expect(wh, tq, "1");
  /* a failing statement does not leave the limit lifted either */
  assert_int_equal(ml_wh_begin(wh, NULL), ML_OK);
  assert_int_not_equal(ml_wh_exec_unbounded(wh, "SELECT * FROM no_such_table", NULL), ML_OK);
  ml_wh_rollback(wh);
  expect_limit(wh, "61.0 MiB");
  assert_int_equal(ml_wh_lift_memory_limit(wh, NULL), ML_OK);
  expect_limit(wh, dflt);
  assert_int_equal(ml_wh_begin(wh, NULL), ML_OK);
  assert_int_equal(ml_wh_exec_unbounded(wh, "SELECT 1", NULL), ML_OK);
  assert_int_equal(ml_wh_commit(wh, NULL), ML_OK);
  expect_limit(wh, dflt);
  ml_wh_close(wh);

  ml_wh_options fixed = {.memory_limit = "64MB"};
  wh = th_open(":memory:", &fixed);
  assert_int_equal(ml_wh_exec_unbounded(wh, "SELECT 1", NULL), ML_OK);
  expect_limit(wh, "61.0 MiB");
  assert_int_equal(ml_wh_lift_memory_limit(wh, NULL), ML_OK);
  expect_limit(wh, "61.0 MiB");
  ml_wh_close(wh);
  free(dflt);
  free(dflt_threads);
}

/* While the bounds are lifted, statements run through DuckDB's pending
 * results (this thread sleeps instead of polling while other threads hold
 * the tasks): several statements in one string, parallel work, the rows the
 * last statement changed, DuckDB's own error messages, and no statement at
 * all behave as they do through duckdb_query. */
static void test_unbounded_statements(void **state) {
  (void)state;
  ml_wh_options opts = {.threads = "1", .threads_liftable = true};
  ml_wh *wh = th_open(":memory:", &opts);
  ml_err e;
  ml_err_clear(&e);
  ml_status plain_empty = ml_wh_exec(wh, "", &e);
  assert_int_equal(ml_wh_begin(wh, NULL), ML_OK);
  assert_int_equal(ml_wh_exec_unbounded(wh,
                                        "CREATE TABLE big AS SELECT range AS x, range % 7 AS g FROM range(3000000); "
                                        "CREATE TABLE agg AS SELECT g, count(*) AS n, sum(x) AS s FROM big GROUP BY g",
                                        NULL),
                   ML_OK);
  th_expect(wh, "SELECT CAST(sum(n) AS VARCHAR) || ' ' || CAST(sum(s) AS VARCHAR) FROM agg", "3000000 4499998500000");
  assert_int_equal(ml_wh_exec(wh, "", &e), plain_empty);
  ml_err_clear(&e);
  assert_int_equal(ml_wh_exec(wh, "SELEC 1", &e), ML_ERR_DB);
  assert_non_null(strstr(e.msg, "syntax error"));
  assert_true(e.msg[0] != '{'); /* worded as duckdb_query words it, not as the extractor's JSON */
  /* the rows changed are the last statement's: 3 of them, not the 7 before */
  assert_int_equal(ml_wh_delete_unbounded(wh, "DELETE FROM agg WHERE g >= 4; DELETE FROM agg WHERE g = 0", NULL),
                   ML_OK);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM agg", "3");
  ml_err_clear(&e);
  assert_int_equal(ml_wh_exec_unbounded(wh, "SELECT 1; SELECT * FROM no_such_table; SELECT 2", &e), ML_ERR_DB);
  assert_non_null(strstr(e.msg, "no_such_table"));
  ml_wh_rollback(wh);
  /* an error raised while the query runs (not while it is planned) */
  assert_int_equal(ml_wh_begin(wh, NULL), ML_OK);
  assert_int_equal(ml_wh_exec_unbounded(wh, "SELECT 1", NULL), ML_OK);
  ml_err_clear(&e);
  assert_int_equal(ml_wh_exec(wh, "SELECT CAST('x' || range AS INTEGER) FROM range(3)", &e), ML_ERR_DB);
  assert_non_null(strstr(e.msg, "Could not convert string"));
  ml_wh_rollback(wh);
  ml_wh_close(wh);
}

/* Rows stored in tab's row groups, deleted ones included until a checkpoint
 * merges them away. */
static int64_t stored_rows(ml_wh *wh) {
  int64_t n = 0;
  bool found = false;
  assert_int_equal(ml_wh_query_i64(wh,
                                   "SELECT sum(c) FROM (SELECT row_group_id, max(count) AS c FROM "
                                   "pragma_storage_info('tab') GROUP BY ALL)",
                                   &n, &found, NULL),
                   ML_OK);
  return n;
}

/* Loads 500k rows, deletes every other one (through ml_wh_delete_unbounded
 * or, when quiet, behind ml_wh's back), closes (DuckDB checkpoints), and
 * returns how many rows the reopened file still stores. */
static int64_t rows_stored_after_delete(const char *path, const ml_wh_options *opts, bool quiet) {
  unlink(path);
  ml_wh *wh = th_open(path, opts);
  th_exec(wh, "CREATE TABLE tab AS SELECT range AS i, 'row ' || range AS s FROM range(500000)");
  const char *q = "SELECT CAST(current_setting('max_vacuum_tasks') AS VARCHAR)";
  th_expect(wh, q, opts->vacuum_after_deletes ? "0" : "100");
  assert_int_equal(ml_wh_begin(wh, NULL), ML_OK);
  /* deleting nothing changes nothing */
  assert_int_equal(ml_wh_delete_unbounded(wh, "DELETE FROM tab WHERE i < 0", NULL), ML_OK);
  th_expect(wh, q, opts->vacuum_after_deletes ? "0" : "100");
  if (quiet)
    assert_int_equal(ml_wh_exec(wh, "DELETE FROM tab WHERE i % 2 = 0", NULL), ML_OK);
  else
    assert_int_equal(ml_wh_delete_unbounded(wh, "DELETE FROM tab WHERE i % 2 = 0", NULL), ML_OK);
  assert_int_equal(ml_wh_commit(wh, NULL), ML_OK);
  th_expect(wh, q, !opts->vacuum_after_deletes ? "100" : quiet ? "0" : ML_WH_VACUUM_TASKS);
  ml_wh_close(wh);
  wh = th_open(path, NULL);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM tab", "250000");
  int64_t stored = stored_rows(wh);
  ml_wh_close(wh);
  return stored;
}

/* vacuum_after_deletes: checkpoints leave row groups as they are until rows
 * were deleted; after a delete the space is reclaimed as DuckDB always does. */
static void test_vacuum_after_deletes(void **state) {
  (void)state;
  th_db db = th_db_new();
  const char *path = db.path;
  ml_wh_options deferred = {.vacuum_after_deletes = true}, plain = {0};
  /* DuckDB merges up to 3 row groups at a time: not exactly the 250,000 left */
  int64_t reclaimed = rows_stored_after_delete(path, &plain, false);
  assert_true(reclaimed < 300000);
  assert_int_equal(rows_stored_after_delete(path, &deferred, false), reclaimed);
  /* the test can tell: a delete mallard is not told about is not reclaimed */
  assert_int_equal(rows_stored_after_delete(path, &deferred, true), 500000);
  th_db_free(&db);
}

/* reclaim_at_end: deletes are only noted; ml_wh_reclaim_deleted turns merging
 * on, and the next commit reclaims the rows deleted by earlier ones. */
static void test_reclaim_at_end(void **state) {
  (void)state;
  th_db db = th_db_new();
  const char *path = db.path;
  ml_wh_options plain = {0}, at_end = {.vacuum_after_deletes = true, .reclaim_at_end = true};
  int64_t reclaimed = rows_stored_after_delete(path, &plain, false);
  unlink(path);
  ml_wh *wh = th_open(path, &at_end);
  const char *q = "SELECT CAST(current_setting('max_vacuum_tasks') AS VARCHAR)";
  th_exec(wh, "CREATE TABLE tab AS SELECT range AS i, 'row ' || range AS s FROM range(500000)");
  /* nothing deleted: nothing to reclaim */
  assert_int_equal(ml_wh_reclaim_deleted(wh, NULL), ML_OK);
  th_expect(wh, q, "0");
  assert_int_equal(ml_wh_begin(wh, NULL), ML_OK);
  assert_int_equal(ml_wh_delete_unbounded(wh, "DELETE FROM tab WHERE i % 2 = 0", NULL), ML_OK);
  assert_int_equal(ml_wh_commit(wh, NULL), ML_OK);
  th_expect(wh, q, "0");
  assert_int_equal(ml_wh_begin(wh, NULL), ML_OK);
  assert_int_equal(ml_wh_reclaim_deleted(wh, NULL), ML_OK);
  th_expect(wh, q, ML_WH_VACUUM_TASKS);
  th_exec(wh, "INSERT INTO tab VALUES (-1, 'last')");
  assert_int_equal(ml_wh_commit(wh, NULL), ML_OK);
  ml_wh_close(wh);
  wh = th_open(path, NULL);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM tab", "250001");
  assert_int_equal(stored_rows(wh), reclaimed + 1);
  ml_wh_close(wh);
  th_db_free(&db);
}

/* ---- a warehouse in memory, for the tests that need nothing else ---------------- */

static int open_mem(void **state) {
  *state = th_open_mem();
  return 0;
}

/* Also after a failed assertion: the test's warehouse never leaks. */
static int close_mem(void **state) {
  ml_wh_close(*state);
  return 0;
}

/* A test that gets its warehouse as *state. */
#define MEM_TEST(test) cmocka_unit_test_setup_teardown(test, open_mem, close_mem)

/* ---- exec / query ---------------------------------------------------------------- */

static void test_exec_errors(void **state) {
  ml_wh *wh = *state;
  ml_err err;
  ml_err_clear(&err);
  assert_int_equal(ml_wh_exec(wh, "SELEC 1", &err), ML_ERR_DB);
  assert_int_equal(err.code, ML_ERR_DB);
  if (!strstr(err.msg, "syntax error at or near \"SELEC\"")) fail_msg("unexpected message: %s", err.msg);
  ml_err_clear(&err);
  assert_int_equal(ml_wh_exec(wh, "INSERT INTO nope VALUES (1)", &err), ML_ERR_DB);
  if (!strstr(err.msg, "Table with name nope does not exist")) fail_msg("unexpected message: %s", err.msg);
  /* err may be NULL */
  assert_int_equal(ml_wh_exec(wh, "SELEC 1", NULL), ML_ERR_DB);
  /* the connection is still usable */
  assert_int_equal(ml_wh_exec(wh, "CREATE TABLE t (x INTEGER NOT NULL)", &err), ML_OK);
  ml_err_clear(&err);
  assert_int_equal(ml_wh_execf(wh, &err, "INSERT INTO t VALUES (%s)", "NULL"), ML_ERR_DB);
  if (!strstr(err.msg, "NOT NULL constraint failed")) fail_msg("unexpected message: %s", err.msg);
  ml_err_clear(&err);
  assert_int_equal(ml_wh_execf(wh, &err, "INSERT INTO %s VALUES (%d)", "missing_table", 1), ML_ERR_DB);
  if (!strstr(err.msg, "missing_table")) fail_msg("unexpected message: %s", err.msg);
}

static void test_execf(void **state) {
  ml_wh *wh = *state;
  ml_err err;
  ml_err_clear(&err);
  assert_int_equal(ml_wh_execf(wh, &err, "CREATE TABLE %s (n BIGINT, s VARCHAR)", "t"), ML_OK);
  assert_int_equal(ml_wh_execf(wh, &err, "INSERT INTO t VALUES (%lld, '%s')", -9223372036854775807LL - 1, "a"), ML_OK);
  /* longer than any small internal buffer: 5000 characters of SQL */
  char *big = malloc(5001);
  assert_non_null(big);
  for (int i = 0; i < 5000; i++) big[i] = (char)('a' + i % 26);
  big[5000] = '\0';
  assert_int_equal(ml_wh_execf(wh, &err, "INSERT INTO t VALUES (%d, '%s')", 2, big), ML_OK);
  /* exactly at typical buffer edges */
  for (int len = 480; len < 540; len++) {
    big[len] = '\0';
    assert_int_equal(ml_wh_execf(wh, &err, "INSERT INTO t VALUES (%d, '%s')", 1000 + len, big), ML_OK);
    big[len] = (char)('a' + len % 26);
  }
  th_expect(wh, "SELECT CAST(n AS VARCHAR) FROM t WHERE s = 'a'", "-9223372036854775808");
  th_expect(wh, "SELECT CAST(length(s) AS VARCHAR) FROM t WHERE n = 2", "5000");
  th_expect(wh, "SELECT CAST(sum(length(s)) AS VARCHAR) FROM t WHERE n >= 1000", "30570"); /* 480+...+539 */
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t WHERE n >= 1000 AND length(s) = n - 1000", "60");
  char *got = th_query(wh, "SELECT s FROM t WHERE n = 2");
  assert_string_equal(got, big);
  free(got);
  free(big);
}

static void test_query_i64(void **state) {
  ml_wh *wh = *state;
  ml_err err;
  ml_err_clear(&err);
  int64_t v = 7;
  bool found = false;
  assert_int_equal(ml_wh_query_i64(wh, "SELECT 42", &v, &found, &err), ML_OK);
  assert_true(found);
  assert_int_equal(v, 42);
  assert_int_equal(ml_wh_query_i64(wh, "SELECT -9223372036854775808", &v, &found, &err), ML_OK);
  assert_true(found);
  assert_int_equal(v, INT64_MIN);
  /* only the first row's first column counts */
  assert_int_equal(ml_wh_query_i64(wh, "SELECT * FROM (VALUES (5, 6), (7, 8)) ORDER BY 1", &v, &found, &err), ML_OK);
  assert_true(found);
  assert_int_equal(v, 5);
  /* no row: not found, *out untouched */
  v = 7;
  found = true;
  assert_int_equal(ml_wh_query_i64(wh, "SELECT 1 WHERE false", &v, &found, &err), ML_OK);
  assert_false(found);
  assert_int_equal(v, 7);
  /* NULL: not found, *out untouched */
  found = true;
  assert_int_equal(ml_wh_query_i64(wh, "SELECT CAST(NULL AS BIGINT)", &v, &found, &err), ML_OK);
  assert_false(found);
  assert_int_equal(v, 7);
  /* error */
  ml_err_clear(&err);
  assert_int_equal(ml_wh_query_i64(wh, "SELECT * FROM nope", &v, &found, &err), ML_ERR_DB);
  assert_false(found);
  assert_int_equal(v, 7);
  if (!strstr(err.msg, "nope")) fail_msg("unexpected message: %s", err.msg);
}

static void test_query_text(void **state) {
  ml_wh *wh = *state;
  ml_err err;
  static const struct {
    const char *sql, *text; /* text NULL: none */
  } cases[] = {
      {"SELECT 'hello'", "hello"},
      {"SELECT 'żółw ''q'' \"d\" 🦆'", "żółw 'q' \"d\" 🦆"},
      {"SELECT ''", ""},
      {"SELECT 12345678901234", "12345678901234"}, /* non-text first column: its text form */
      {"SELECT 'x' WHERE false", NULL},             /* no row */
      {"SELECT CAST(NULL AS VARCHAR)", NULL},
  };
  for (size_t i = 0; i < TH_LEN(cases); i++) {
    char *s = (char *)1;
    ml_err_clear(&err);
    assert_int_equal(ml_wh_query_text(wh, cases[i].sql, &s, &err), ML_OK);
    if (cases[i].text) {
      assert_non_null(s);
      assert_string_equal(s, cases[i].text);
    } else {
      assert_null(s);
    }
    free(s);
  }
  char *s = (char *)1;
  ml_err_clear(&err);
  assert_int_equal(ml_wh_query_text(wh, "SELECT x FROM nope", &s, &err), ML_ERR_DB);
  assert_null(s);
  assert_int_equal(err.code, ML_ERR_DB);
}

/* ---- transactions ------------------------------------------------------------------ */

static void test_transactions(void **state) {
  (void)state;
  th_db db = th_db_new();
  const char *path = db.path;
  ml_wh *wh = th_open(path, NULL);
  ml_err err;
  ml_err_clear(&err);
  th_exec(wh, "CREATE TABLE t (x INTEGER)");
  assert_false(ml_wh_in_transaction(wh));

  /* commit without begin */
  assert_int_equal(ml_wh_commit(wh, &err), ML_ERR_STATE);
  assert_int_equal(err.code, ML_ERR_STATE);
  /* rollback without begin is harmless */
  ml_wh_rollback(wh);
  assert_false(ml_wh_in_transaction(wh));

  assert_int_equal(ml_wh_begin(wh, &err), ML_OK);
  assert_true(ml_wh_in_transaction(wh));
  /* a second begin is refused and the first transaction stays open */
  ml_err_clear(&err);
  assert_int_not_equal(ml_wh_begin(wh, &err), ML_OK);
  assert_true(ml_wh_in_transaction(wh));
  th_exec(wh, "INSERT INTO t VALUES (1)");
  assert_int_equal(ml_wh_commit(wh, &err), ML_OK);
  assert_false(ml_wh_in_transaction(wh));

  assert_int_equal(ml_wh_begin(wh, &err), ML_OK);
  th_exec(wh, "INSERT INTO t VALUES (2)");
  th_exec(wh, "CREATE TABLE t2 (y INTEGER)");
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "2"); /* visible inside */
  ml_wh_rollback(wh);
  assert_false(ml_wh_in_transaction(wh));
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "1");
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM duckdb_tables() WHERE table_name = 't2'", "0");

  /* a transaction still open at close is rolled back */
  assert_int_equal(ml_wh_begin(wh, &err), ML_OK);
  th_exec(wh, "INSERT INTO t VALUES (3)");
  ml_wh_close(wh);

  wh = th_open(path, NULL);
  th_expect(wh, "SELECT string_agg(CAST(x AS VARCHAR), ',' ORDER BY x) FROM t", "1");
  assert_false(ml_wh_in_transaction(wh));
  /* committed rows after a rollback and another commit */
  assert_int_equal(ml_wh_begin(wh, &err), ML_OK);
  th_exec(wh, "INSERT INTO t VALUES (4)");
  assert_int_equal(ml_wh_commit(wh, &err), ML_OK);
  ml_wh_close(wh);
  wh = th_open(path, NULL);
  th_expect(wh, "SELECT string_agg(CAST(x AS VARCHAR), ',' ORDER BY x) FROM t", "1,4");
  ml_wh_close(wh);
  th_db_free(&db);
}

/* Begins a transaction on wh (whose table t has the primary key x) and
 * makes a statement of it fail (a second row with x = 1); err holds that
 * statement's error. */
static void fail_statement_in_transaction(ml_wh *wh, ml_err *err) {
  ml_err_clear(err);
  assert_int_equal(ml_wh_begin(wh, err), ML_OK);
  th_exec(wh, "INSERT INTO t VALUES (1)");
  assert_int_equal(ml_wh_exec(wh, "INSERT INTO t VALUES (1)", err), ML_ERR_DB);
}

/* A statement failing inside a transaction aborts it in DuckDB: nothing of
 * the transaction is committed, ml_wh leaves the transaction state, and the
 * connection is usable again afterwards. */
static void test_failed_statement_in_transaction(void **state) {
  ml_wh *wh = *state;
  th_exec(wh, "CREATE TABLE t (x INTEGER PRIMARY KEY)");
  ml_err err;
  fail_statement_in_transaction(wh, &err);
  if (!strstr(err.msg, "duplicate key")) fail_msg("unexpected message: %s", err.msg);
  ml_err_clear(&err);
  (void)ml_wh_commit(wh, &err); /* status: see test_commit_after_failed_statement */
  assert_false(ml_wh_in_transaction(wh));
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "0");
  assert_int_equal(ml_wh_begin(wh, &err), ML_OK);
  th_exec(wh, "INSERT INTO t VALUES (2)");
  assert_int_equal(ml_wh_commit(wh, &err), ML_OK);
  th_expect(wh, "SELECT CAST(sum(x) AS VARCHAR) FROM t", "2");
}

/* A COMMIT after a statement of the transaction failed is reported as a
 * failure: DuckDB answers it with success although it discards the whole
 * transaction, and a caller told ML_OK would believe its rows committed. */
static void test_commit_after_failed_statement(void **state) {
  ml_wh *wh = *state;
  th_exec(wh, "CREATE TABLE t (x INTEGER PRIMARY KEY)");
  ml_err err;
  fail_statement_in_transaction(wh, &err);
  ml_err_clear(&err);
  ml_status st = ml_wh_commit(wh, &err);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "0"); /* nothing was committed ... */
  assert_int_not_equal(st, ML_OK);                             /* ... so commit must not say ML_OK */
}

/* ml_wh_commit_and_begin whose COMMIT fails (as a commit behind does on a full
 * disk): the caller still sees a transaction, and what it runs before it
 * learns of the failure must not commit on its own; committing it fails. */
static void test_commit_and_begin_failed(void **state) {
  ml_wh *wh = *state;
  th_exec(wh, "CREATE TABLE t (x INTEGER PRIMARY KEY)");
  ml_err err;
  for (int finish_with_commit = 0; finish_with_commit < 2; finish_with_commit++) {
    fail_statement_in_transaction(wh, &err);
    bool committed = true;
    assert_int_not_equal(ml_wh_commit_and_begin(wh, &committed, &err), ML_OK);
    assert_false(committed);
    assert_true(ml_wh_in_transaction(wh));
    assert_int_equal(ml_wh_exec(wh, "INSERT INTO t VALUES (2)", &err), ML_OK);
    if (finish_with_commit) assert_int_not_equal(ml_wh_commit(wh, &err), ML_OK);
    else ml_wh_rollback(wh);
    th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "0");
  }
}

/* ---- table_columns ------------------------------------------------------------------ */

static void test_table_columns_missing(void **state) {
  ml_wh *wh = *state;
  ml_err err;
  ml_err_clear(&err);
  ml_wh_column *cols = (ml_wh_column *)1;
  size_t n = 99;
  bool exists = true;
  assert_int_equal(ml_wh_table_columns(wh, NULL, "main", "nope", &cols, &n, &exists, &err), ML_OK);
  assert_false(exists);
  assert_null(cols);
  assert_int_equal(n, 0);
  /* missing schema */
  exists = true;
  assert_int_equal(ml_wh_table_columns(wh, NULL, "noschema", "nope", &cols, &n, &exists, &err), ML_OK);
  assert_false(exists);
  /* the table exists in another schema only */
  th_exec(wh, "CREATE SCHEMA other");
  th_exec(wh, "CREATE TABLE other.t (x INTEGER)");
  exists = true;
  assert_int_equal(ml_wh_table_columns(wh, NULL, "main", "t", &cols, &n, &exists, &err), ML_OK);
  assert_false(exists);
  assert_int_equal(ml_wh_table_columns(wh, NULL, "other", "t", &cols, &n, &exists, &err), ML_OK);
  assert_true(exists);
  assert_int_equal(n, 1);
  assert_string_equal(cols[0].name, "x");
  assert_string_equal(cols[0].type, "INTEGER");
  ml_wh_columns_free(cols, n);
  ml_wh_columns_free(NULL, 0);
}

/* A DELETE run from a buffer says how many rows it removed; a buffer that
 * ran out of memory is refused, not run cut short. */
static void test_delete_counted(void **state) {
  ml_wh *wh = *state;
  th_exec(wh, "CREATE TABLE t AS SELECT range AS i FROM range(10)");
  ml_err err;
  ml_err_clear(&err);
  ml_buf q = ML_BUF_INIT;
  ml_buf_puts(&q, "DELETE FROM t WHERE i >= 7");
  uint64_t deleted = 99;
  assert_int_equal(ml_wh_delete_counted(wh, &q, &deleted, &err), ML_OK);
  assert_int_equal(deleted, 3);
  assert_int_equal(ml_wh_delete_counted(wh, &q, &deleted, &err), ML_OK);
  assert_int_equal(deleted, 0);
  th_expect(wh, "SELECT count(*) FROM t", "7");
  q.oom = true;
  assert_int_equal(ml_wh_delete_counted(wh, &q, &deleted, &err), ML_ERR_NOMEM);
  assert_int_equal(ml_wh_exec_buf(wh, &q, &err), ML_ERR_NOMEM);
  assert_string_equal(err.msg, "out of memory");
  ml_buf_free(&q);
}

static void test_table_columns_types(void **state) {
  ml_wh *wh = *state;
  th_exec(wh, "CREATE SCHEMA s");
  th_exec(wh,
          "CREATE TABLE s.every (b BOOLEAN, sm SMALLINT, i INTEGER, g BIGINT, f FLOAT, d DOUBLE, "
          "dec DECIMAL(18,3), dec38 DECIMAL(38,10), v VARCHAR, j JSON, bl BLOB, dt DATE, t TIME, ttz TIMETZ, "
          "ts TIMESTAMP, tstz TIMESTAMPTZ, u UUID, iv INTERVAL, h HUGEINT, l INTEGER[], \"Mixed Case\" BIGINT)");
  /* DuckDB's own names, whether or not mallard creates the type */
  static const struct {
    const char *name;
    const char *type;
  } want[] = {
      {"b", "BOOLEAN"},       {"sm", "SMALLINT"},          {"i", "INTEGER"},      {"g", "BIGINT"},
      {"f", "FLOAT"},         {"d", "DOUBLE"},             {"dec", "DECIMAL(18,3)"}, {"dec38", "DECIMAL(38,10)"},
      {"v", "VARCHAR"},       {"j", "JSON"},               {"bl", "BLOB"},        {"dt", "DATE"},
      {"t", "TIME"},          {"ttz", "TIMETZ"},           {"ts", "TIMESTAMP"},   {"tstz", "TIMESTAMPTZ"},
      {"u", "UUID"},          {"iv", "INTERVAL"},          {"h", "HUGEINT"},      {"l", NULL},
      {"Mixed Case", "BIGINT"},
  };
  ml_err err;
  ml_err_clear(&err);
  ml_wh_column *cols = NULL;
  size_t n = 0;
  bool exists = false;
  assert_int_equal(ml_wh_table_columns(wh, NULL, "s", "every", &cols, &n, &exists, &err), ML_OK);
  assert_true(exists);
  assert_int_equal(n, TH_LEN(want));
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(cols[i].name, want[i].name);
    if (!want[i].type ? cols[i].type != NULL : !cols[i].type || strcmp(cols[i].type, want[i].type))
      fail_msg("column %s: type %s, expected %s", cols[i].name, cols[i].type ? cols[i].type : "NULL",
               want[i].type ? want[i].type : "NULL");
  }
  ml_wh_columns_free(cols, n);
  /* table names are matched exactly as stored */
  exists = true;
  assert_int_equal(ml_wh_table_columns(wh, NULL, "s", "EVERY_x", &cols, &n, &exists, &err), ML_OK);
  assert_false(exists);
}

/* ---- SQL quoting -------------------------------------------------------------------- */

static void test_sql_quoting_text(void **state) {
  (void)state;
  ml_buf b = ML_BUF_INIT;
  ml_sql_ident(&b, "plain");
  assert_string_equal(b.data, "\"plain\"");
  ml_buf_reset(&b);
  ml_sql_ident(&b, "we\"ird 'name");
  assert_string_equal(b.data, "\"we\"\"ird 'name\"");
  ml_buf_reset(&b);
  ml_sql_ident(&b, "\"\"");
  assert_string_equal(b.data, "\"\"\"\"\"\"");
  ml_buf_reset(&b);
  ml_sql_qualified(&b, "s\"1", "t.2");
  assert_string_equal(b.data, "\"s\"\"1\".\"t.2\"");
  ml_buf_reset(&b);
  ml_sql_literal(&b, "it's", 4);
  assert_string_equal(b.data, "'it''s'");
  ml_buf_reset(&b);
  ml_sql_literal(&b, "''", 2);
  assert_string_equal(b.data, "''''''");
  ml_buf_reset(&b);
  ml_sql_literal(&b, "abc'def", 3); /* only n bytes */
  assert_string_equal(b.data, "'abc'");
  ml_buf_reset(&b);
  ml_sql_literal(&b, "", 0);
  assert_string_equal(b.data, "''");
  ml_buf_free(&b);
}

/* Names and values with quotes, backslashes and non-ASCII text survive a
 * real round trip through DuckDB. */
static void test_sql_quoting_roundtrip(void **state) {
  ml_wh *wh = *state;
  const char *schema = "sch \"ö\"";
  const char *table = "we\"ird 'name";
  const char *col = "ö \"x\"";
  const char *value = "l'été \"q\" \\n 🦆 ''";
  ml_buf sql = ML_BUF_INIT;
  ml_buf_puts(&sql, "CREATE SCHEMA ");
  ml_sql_ident(&sql, schema);
  th_exec(wh, sql.data);
  ml_buf_reset(&sql);
  ml_buf_puts(&sql, "CREATE TABLE ");
  ml_sql_qualified(&sql, schema, table);
  ml_buf_puts(&sql, " (");
  ml_sql_ident(&sql, col);
  ml_buf_puts(&sql, " VARCHAR)");
  th_exec(wh, sql.data);
  ml_buf_reset(&sql);
  ml_buf_puts(&sql, "INSERT INTO ");
  ml_sql_qualified(&sql, schema, table);
  ml_buf_puts(&sql, " VALUES (");
  ml_sql_literal(&sql, value, strlen(value));
  ml_buf_puts(&sql, ")");
  th_exec(wh, sql.data);
  ml_buf_reset(&sql);
  ml_buf_puts(&sql, "SELECT ");
  ml_sql_ident(&sql, col);
  ml_buf_puts(&sql, " FROM ");
  ml_sql_qualified(&sql, schema, table);
  ml_buf_puts(&sql, " WHERE ");
  ml_sql_ident(&sql, col);
  ml_buf_puts(&sql, " = ");
  ml_sql_literal(&sql, value, strlen(value));
  th_expect(wh, sql.data, value);
  ml_buf_free(&sql);

  /* the catalog has the names exactly, and table_columns finds them */
  ml_wh_column *cols = NULL;
  size_t n = 0;
  bool exists = false;
  ml_err err;
  ml_err_clear(&err);
  assert_int_equal(ml_wh_table_columns(wh, NULL, schema, table, &cols, &n, &exists, &err), ML_OK);
  assert_true(exists);
  assert_int_equal(n, 1);
  assert_string_equal(cols[0].name, col);
  assert_string_equal(cols[0].type, "VARCHAR");
  ml_wh_columns_free(cols, n);
}

/* ---- locks held by another process ---------------------------------------------- */

/* The other process is this test program again, started with
 * "--open-child <path> rw|ro": fork() then exec, so that the child starts
 * clean (no DuckDB state or memory inherited from the parent, and nothing
 * for valgrind to report in it).  It waits for a byte on stdin, tries
 * ml_wh_open, writes the error message to stdout and exits with -status. */
static char self_exe[4096];

static int open_child_main(const char *path, const char *mode) {
  char c;
  if (read(0, &c, 1) != 1) return 100;
  ml_wh_options opts = {.read_only = strcmp(mode, "ro") == 0};
  ml_wh *wh = NULL;
  ml_err err;
  ml_err_clear(&err);
  ml_status st = ml_wh_open(path, &opts, &wh, &err);
  fputs(err.msg, stdout);
  fflush(stdout);
  ml_wh_close(wh);
  return -(int)st;
}

typedef struct child_report {
  int status;
  char msg[1024];
} child_report;

/* Starts the child; *go is the write end of its stdin, *report the read end
 * of its stdout. */
static pid_t spawn_opener(const char *path, bool read_only, int *go, int *report) {
  int go_pipe[2], rep_pipe[2];
  assert_int_equal(pipe(go_pipe), 0);
  assert_int_equal(pipe(rep_pipe), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(go_pipe[0], 0);
    dup2(rep_pipe[1], 1);
    close(go_pipe[0]);
    close(go_pipe[1]);
    close(rep_pipe[0]);
    close(rep_pipe[1]);
    execl(self_exe, self_exe, "--open-child", path, read_only ? "ro" : "rw", (char *)NULL);
    _exit(127);
  }
  close(go_pipe[0]);
  close(rep_pipe[1]);
  *go = go_pipe[1];
  *report = rep_pipe[0];
  return pid;
}

/* Releases the child and collects its report. */
static child_report finish_opener(pid_t pid, int go, int report) {
  child_report r;
  memset(&r, 0, sizeof r);
  assert_int_equal(write(go, "g", 1), 1);
  close(go);
  size_t got = 0;
  while (got < sizeof r.msg - 1) {
    ssize_t k = read(report, r.msg + got, sizeof r.msg - 1 - got);
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(report);
  int ws = 0;
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) >= 100)
    fail_msg("child did not finish cleanly (wait status 0x%x): %s", (unsigned)ws, r.msg);
  r.status = -WEXITSTATUS(ws);
  return r;
}

static void test_locked_by_other_process(void **state) {
  (void)state;
  th_db db = th_db_new();
  const char *path = db.path;
  /* the file exists before the children start */
  ml_wh *wh = th_open(path, NULL);
  th_exec(wh, "CREATE TABLE t AS SELECT 1 AS x");
  ml_wh_close(wh);

  int go, rep;
  pid_t pid = spawn_opener(path, false, &go, &rep);
  wh = th_open(path, NULL);
  child_report r = finish_opener(pid, go, rep);
  if (r.status != ML_ERR_LOCKED) fail_msg("child got %d: %s", r.status, r.msg);
  if (!strstr(r.msg, "locked")) fail_msg("message does not say locked: %s", r.msg);
  if (!strstr(r.msg, path)) fail_msg("message does not name the file: %s", r.msg);
  /* DuckDB names the holder's PID: it is passed on */
  char pidtext[32];
  snprintf(pidtext, sizeof pidtext, "%ld", (long)getpid());
  if (strstr(r.msg, "PID") && !strstr(r.msg, pidtext)) fail_msg("PID of the holder missing: %s", r.msg);

  /* read-only access is refused too while a writer holds the file */
  pid = spawn_opener(path, true, &go, &rep);
  r = finish_opener(pid, go, rep);
  if (r.status != ML_ERR_LOCKED) fail_msg("read-only child got %d: %s", r.status, r.msg);

  /* the parent's connection is unaffected */
  th_expect(wh, "SELECT CAST(x AS VARCHAR) FROM t", "1");
  ml_wh_close(wh);

  /* once closed, another process can open it */
  pid = spawn_opener(path, false, &go, &rep);
  r = finish_opener(pid, go, rep);
  if (r.status != ML_OK) fail_msg("child could not open the released file: %d %s", r.status, r.msg);
  th_db_free(&db);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--open-child") == 0) return open_child_main(argv[2], argv[3]);
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  if (n > 0) self_exe[n] = '\0';
  else snprintf(self_exe, sizeof self_exe, "%s", argv[0]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_locked_by_other_process),
      cmocka_unit_test(test_open_create_dirs),
      cmocka_unit_test(test_open_missing_dir),
      cmocka_unit_test(test_open_bad_path),
      cmocka_unit_test(test_open_read_only),
      cmocka_unit_test(test_open_options),
      cmocka_unit_test(test_liftable_memory_limit),
      cmocka_unit_test(test_unbounded_statements),
      cmocka_unit_test(test_vacuum_after_deletes),
      cmocka_unit_test(test_reclaim_at_end),
      MEM_TEST(test_exec_errors),
      MEM_TEST(test_execf),
      MEM_TEST(test_query_i64),
      MEM_TEST(test_query_text),
      cmocka_unit_test(test_transactions),
      MEM_TEST(test_failed_statement_in_transaction),
      MEM_TEST(test_commit_after_failed_statement),
      MEM_TEST(test_commit_and_begin_failed),
      MEM_TEST(test_table_columns_missing),
      MEM_TEST(test_table_columns_types),
      MEM_TEST(test_delete_counted),
      cmocka_unit_test(test_sql_quoting_text),
      MEM_TEST(test_sql_quoting_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
