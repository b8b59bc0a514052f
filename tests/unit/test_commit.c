/* ml_commit: plans are acknowledged in the order they were given, only
 * after their COMMIT returned; a plan that failed, and every plan after it,
 * is never acknowledged; plans not acknowledged are freed at teardown. */
#include <signal.h>
#include <sys/wait.h>

#include "test_helpers.h"
#include "warehouse/ml_commit.h"

/* A plan of the tests: its number, the statement it runs before COMMIT
 * (NULL: none), and a counter of frees shared by all plans of a test. */
typedef struct tplan {
  int id;
  const char *sql;
  int *freed;
} tplan;

typedef struct acks {
  int ids[16];
  size_t n;
} acks;

static tplan *new_tplan(int id, const char *sql, int *freed) {
  tplan *t = malloc(sizeof *t);
  assert_non_null(t);
  *t = (tplan){id, sql, freed};
  return t;
}

static ml_status run_tplan(void *p, ml_wh *wh, ml_err *err) {
  const tplan *t = p;
  return t->sql ? ml_wh_exec(wh, t->sql, err) : ML_OK;
}

static void free_tplan(void *p) {
  tplan *t = p;
  (*t->freed)++;
  free(t);
}

static void ack_tplan(void *ud, void *p) {
  acks *a = ud;
  assert_true(a->n < TH_LEN(a->ids));
  a->ids[a->n++] = ((const tplan *)p)->id;
}

static ml_wh *open_loaded(const char *path) {
  ml_wh_options opts = {.background_append = true};
  ml_wh *wh = th_open(path, &opts);
  th_exec(wh, "CREATE TABLE t (id INTEGER)");
  return wh;
}

/* What the tests start from (setup, teardown): main.t (id INTEGER) in
 * memory, written by a background loader, a pipeline on it and a
 * transaction open; the plans' frees and acknowledgements are counted here.
 * The teardown frees what is left, also after a failed assertion. */
typedef struct fixture {
  ml_wh *wh;
  ml_commit *c;
  int freed;
  acks got;
  ml_err err;
} fixture;

static int setup(void **state) {
  fixture *f = th_fixture(state, sizeof *f);
  f->wh = open_loaded(":memory:");
  assert_int_equal(ml_commit_open(f->wh, 0, &f->c, &f->err), ML_OK);
  assert_int_equal(ml_wh_begin(f->wh, &f->err), ML_OK);
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  ml_commit_free(f->c);
  ml_wh_close(f->wh);
  free(f);
  return 0;
}

static tplan *plan(fixture *f, int id, const char *sql) { return new_tplan(id, sql, &f->freed); }

static void submit(fixture *f, int id, const char *sql, uint64_t expect_seq) {
  uint64_t seq = 0;
  ml_status st = ml_commit_submit(f->c, plan(f, id, sql), run_tplan, free_tplan, &seq, &f->err);
  if (st != ML_OK) fail_msg("submit %d: %s", id, f->err.msg);
  assert_int_equal(seq, expect_seq);
}

static ml_status commit_here(fixture *f, int id, const char *sql, uint64_t *seq) {
  return ml_commit_here(f->c, plan(f, id, sql), run_tplan, free_tplan, seq, &f->err);
}

/* Drains the acknowledgements: `fresh` new ones, and every plan
 * acknowledged so far is plan 1, 2, ... in that order. */
static void expect_drained(fixture *f, size_t fresh) {
  size_t before = f->got.n;
  assert_int_equal(ml_commit_drain(f->c, ack_tplan, &f->got), fresh);
  assert_int_equal(f->got.n, before + fresh);
  for (size_t i = 0; i < f->got.n; i++) assert_int_equal(f->got.ids[i], (int)i + 1);
}

/* Every plan is accounted for: `fresh` more acknowledged (drained), `freed`
 * freed in all, and none waiting. */
static void expect_settled(fixture *f, size_t fresh, int freed) {
  expect_drained(f, fresh);
  assert_int_equal(f->freed, freed);
  assert_int_equal(ml_commit_waiting(f->c), 0);
}

/* Rolls back the transaction left open, so that t holds exactly what was
 * committed: the ids `committed` (in order, comma-separated; NULL: none). */
static void expect_committed(fixture *f, const char *committed) {
  ml_wh_rollback(f->wh);
  th_expect(f->wh, "SELECT string_agg(id::VARCHAR, ',' ORDER BY id) FROM t", committed);
}

/* Commits behind and on this thread interleave; nothing is acknowledged
 * while its job waits on the loader, and then everything in the order it
 * was given, each plan freed once. */
static void test_acknowledged_in_order_after_commit(void **state) {
  fixture *f = *state;
  assert_true(ml_commit_can_submit(f->c));
  th_gate g;
  th_gate_close_on_loader(&g, f->wh);
  submit(f, 1, "INSERT INTO t VALUES (1)", 1);
  submit(f, 2, "INSERT INTO t VALUES (2)", 2);
  /* queued behind the gate: not committed, so not acknowledged */
  assert_int_equal(ml_commit_done(f->c), 0);
  expect_drained(f, 0);
  assert_int_equal(ml_commit_waiting(f->c), 2);
  th_gate_open(&g);
  /* on this thread: waits for 1 and 2, then commits 3 */
  assert_int_equal(commit_here(f, 3, "INSERT INTO t VALUES (3)", NULL), ML_OK);
  assert_int_equal(ml_commit_done(f->c), 3);
  assert_int_equal(ml_wh_begin(f->wh, &f->err), ML_OK);
  submit(f, 4, NULL, 4);
  assert_int_equal(ml_commit_wait(f->c, &f->err), ML_OK);
  expect_settled(f, 4, 4);
  /* each commit returned: its rows are there */
  expect_committed(f, "1,2,3");
}

/* Plan 2's statement fails on the loader: plan 1 is acknowledged, plan 2
 * and plan 3 (queued after it, never run) are freed without an
 * acknowledgement, the failure is reported by the next wait, and nothing of
 * plans 2 and 3 is committed. */
static void test_failed_job_stops_acknowledgement(void **state) {
  fixture *f = *state;
  th_gate g;
  th_gate_close_on_loader(&g, f->wh);
  submit(f, 1, "INSERT INTO t VALUES (1)", 1);
  submit(f, 2, "INSERT INTO t VALUES (2); SELECT * FROM no_such_table", 2);
  submit(f, 3, "INSERT INTO t VALUES (3)", 3);
  th_gate_open(&g);
  ml_err_clear(&f->err);
  assert_int_not_equal(ml_commit_wait(f->c, &f->err), ML_OK);
  if (!strstr(f->err.msg, "no_such_table")) fail_msg("unexpected message: %s", f->err.msg);
  assert_int_equal(ml_commit_done(f->c), 1);
  expect_settled(f, 1, 3);
  expect_committed(f, "1");
}

/* On this thread: a plan whose statement fails is freed at once, never
 * acknowledged, and its rows are not committed; a failure of an earlier
 * job behind is what ml_commit_here reports, before running its own plan. */
static void test_failed_here(void **state) {
  fixture *f = *state;
  uint64_t seq = 99;
  assert_int_not_equal(commit_here(f, 1, "INSERT INTO t VALUES (1); SELECT * FROM no_such_table", &seq), ML_OK);
  assert_int_equal(seq, 0);
  assert_int_equal(f->freed, 1);
  assert_int_equal(ml_commit_waiting(f->c), 0);
  ml_wh_rollback(f->wh);
  /* behind: the job fails; the commit on this thread reports it */
  assert_int_equal(ml_wh_begin(f->wh, &f->err), ML_OK);
  submit(f, 2, "SELECT * FROM no_such_table", 1);
  ml_err_clear(&f->err);
  assert_int_not_equal(commit_here(f, 3, "INSERT INTO t VALUES (3)", NULL), ML_OK);
  if (!strstr(f->err.msg, "no_such_table")) fail_msg("unexpected message: %s", f->err.msg);
  expect_drained(f, 0);
  assert_int_equal(f->freed, 3);
  expect_committed(f, NULL); /* no row */
}

/* Plans committed but not drained, and plans still queued when the
 * warehouse closes, are freed by ml_commit_free without an acknowledgement
 * (ASan and valgrind check that nothing leaks). */
static void test_free_unacknowledged(void **state) {
  fixture *f = *state;
  submit(f, 1, "INSERT INTO t VALUES (1)", 1);
  submit(f, 2, "INSERT INTO t VALUES (2)", 2);
  assert_int_equal(commit_here(f, 3, NULL, NULL), ML_OK);
  assert_int_equal(ml_wh_begin(f->wh, &f->err), ML_OK);
  submit(f, 4, "INSERT INTO t VALUES (4)", 4);
  assert_int_equal(f->freed, 0);
  /* closing the warehouse runs the queued job; the pipeline outlives it */
  ml_wh_close(f->wh);
  f->wh = NULL;
  assert_int_equal(ml_commit_waiting(f->c), 4);
  ml_commit_free(f->c);
  f->c = NULL;
  assert_int_equal(f->freed, 4);
  ml_commit_free(NULL);
}

/* kill_after_commit = 2: the process dies right after the second COMMIT
 * returned, before anything acknowledged it; the database holds both. */
static void test_kill_after_commit(void **s) {
  (void)s;
  th_db db = th_db_new();
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    ml_wh *wh = open_loaded(db.path);
    ml_commit *c = NULL;
    int freed = 0;
    acks got = {{0}, 0};
    if (ml_commit_open(wh, 2, &c, NULL) != ML_OK || ml_wh_begin(wh, NULL) != ML_OK) _exit(2);
    for (int i = 1; i <= 3; i++) {
      uint64_t seq;
      tplan *t = new_tplan(i, i == 1 ? "INSERT INTO t VALUES (1)" : i == 2 ? "INSERT INTO t VALUES (2)" : NULL, &freed);
      if (ml_commit_submit(c, t, run_tplan, free_tplan, &seq, NULL) != ML_OK) _exit(3);
    }
    ml_commit_wait(c, NULL);
    ml_commit_drain(c, ack_tplan, &got);
    _exit(got.n == 3 ? 4 : 5); /* not reached: killed at the second commit */
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGKILL);
  ml_wh *wh = th_open(db.path, NULL);
  th_expect(wh, "SELECT string_agg(id::VARCHAR, ',' ORDER BY id) FROM t", "1,2");
  ml_wh_close(wh);
  th_db_free(&db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_acknowledged_in_order_after_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_job_stops_acknowledgement, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_here, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_unacknowledged, setup, teardown),
      cmocka_unit_test(test_kill_after_commit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
