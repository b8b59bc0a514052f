/* ml_commit: plans are acknowledged in the order they were given, only
 * after their COMMIT returned; a plan that failed, and every plan after it,
 * is never acknowledged; plans not acknowledged are freed at teardown. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "test_helpers.h"
#include "warehouse/ml_commit.h"
#include "warehouse/ml_loader.h"

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

/* A loader job that holds the loader until the test opens it: plans queued
 * behind it cannot have committed. */
typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool open;
} gate;

static ml_status wait_gate(void *a, void *unused, ml_err *err) {
  (void)unused;
  (void)err;
  gate *g = a;
  pthread_mutex_lock(&g->mu);
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
  return ML_OK;
}

static void open_gate(gate *g) {
  pthread_mutex_lock(&g->mu);
  g->open = true;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static ml_wh *open_loaded(const char *path) {
  ml_wh_options opts = {.background_append = true};
  ml_wh *wh = th_open(path, &opts);
  th_exec(wh, "CREATE TABLE t (id INTEGER)");
  return wh;
}

static void submit(ml_commit *c, int id, const char *sql, int *freed, uint64_t expect_seq) {
  ml_err err;
  uint64_t seq = 0;
  ml_status st = ml_commit_submit(c, new_tplan(id, sql, freed), run_tplan, free_tplan, &seq, &err);
  if (st != ML_OK) fail_msg("submit %d: %s", id, err.msg);
  assert_int_equal(seq, expect_seq);
}

/* Commits behind and on this thread interleave; nothing is acknowledged
 * while its job waits on the loader, and then everything in the order it
 * was given, each plan freed once. */
static void test_acknowledged_in_order_after_commit(void **s) {
  (void)s;
  ml_wh *wh = open_loaded(":memory:");
  ml_commit *c = NULL;
  ml_err err;
  assert_int_equal(ml_commit_open(wh, 0, &c, &err), ML_OK);
  assert_true(ml_commit_can_submit(c));
  int freed = 0;
  acks got = {{0}, 0};
  assert_int_equal(ml_wh_begin(wh, &err), ML_OK);
  gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
  ml_loader_submit(ml_wh_loader(wh), wait_gate, NULL, &g, NULL);
  submit(c, 1, "INSERT INTO t VALUES (1)", &freed, 1);
  submit(c, 2, "INSERT INTO t VALUES (2)", &freed, 2);
  /* queued behind the gate: not committed, so not acknowledged */
  assert_int_equal(ml_commit_done(c), 0);
  assert_int_equal(ml_commit_drain(c, ack_tplan, &got), 0);
  assert_int_equal(ml_commit_waiting(c), 2);
  open_gate(&g);
  /* on this thread: waits for 1 and 2, then commits 3 */
  assert_int_equal(ml_commit_here(c, new_tplan(3, "INSERT INTO t VALUES (3)", &freed), run_tplan, free_tplan, NULL, &err),
                   ML_OK);
  assert_int_equal(ml_commit_done(c), 3);
  assert_int_equal(ml_wh_begin(wh, &err), ML_OK);
  submit(c, 4, NULL, &freed, 4);
  assert_int_equal(ml_commit_wait(c, &err), ML_OK);
  assert_int_equal(ml_commit_drain(c, ack_tplan, &got), 4);
  assert_int_equal(got.n, 4);
  for (int i = 0; i < 4; i++) assert_int_equal(got.ids[i], i + 1);
  assert_int_equal(freed, 4);
  assert_int_equal(ml_commit_waiting(c), 0);
  /* each commit returned: its rows are there */
  ml_wh_rollback(wh);
  th_expect(wh, "SELECT string_agg(id::VARCHAR, ',' ORDER BY id) FROM t", "1,2,3");
  ml_commit_free(c);
  ml_wh_close(wh);
}

/* Plan 2's statement fails on the loader: plan 1 is acknowledged, plan 2
 * and plan 3 (queued after it, never run) are freed without an
 * acknowledgement, the failure is reported by the next wait, and nothing of
 * plans 2 and 3 is committed. */
static void test_failed_job_stops_acknowledgement(void **s) {
  (void)s;
  ml_wh *wh = open_loaded(":memory:");
  ml_commit *c = NULL;
  ml_err err;
  assert_int_equal(ml_commit_open(wh, 0, &c, &err), ML_OK);
  int freed = 0;
  acks got = {{0}, 0};
  assert_int_equal(ml_wh_begin(wh, &err), ML_OK);
  gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
  ml_loader_submit(ml_wh_loader(wh), wait_gate, NULL, &g, NULL);
  submit(c, 1, "INSERT INTO t VALUES (1)", &freed, 1);
  submit(c, 2, "INSERT INTO t VALUES (2); SELECT * FROM no_such_table", &freed, 2);
  submit(c, 3, "INSERT INTO t VALUES (3)", &freed, 3);
  open_gate(&g);
  ml_err_clear(&err);
  assert_int_not_equal(ml_commit_wait(c, &err), ML_OK);
  if (!strstr(err.msg, "no_such_table")) fail_msg("unexpected message: %s", err.msg);
  assert_int_equal(ml_commit_done(c), 1);
  assert_int_equal(ml_commit_drain(c, ack_tplan, &got), 1);
  assert_int_equal(got.n, 1);
  assert_int_equal(got.ids[0], 1);
  assert_int_equal(freed, 3);
  assert_int_equal(ml_commit_waiting(c), 0);
  ml_wh_rollback(wh);
  th_expect(wh, "SELECT string_agg(id::VARCHAR, ',' ORDER BY id) FROM t", "1");
  ml_commit_free(c);
  ml_wh_close(wh);
}

/* On this thread: a plan whose statement fails is freed at once, never
 * acknowledged, and its rows are not committed; a failure of an earlier
 * job behind is what ml_commit_here reports, before running its own plan. */
static void test_failed_here(void **s) {
  (void)s;
  ml_wh *wh = open_loaded(":memory:");
  ml_commit *c = NULL;
  ml_err err;
  assert_int_equal(ml_commit_open(wh, 0, &c, &err), ML_OK);
  int freed = 0;
  acks got = {{0}, 0};
  assert_int_equal(ml_wh_begin(wh, &err), ML_OK);
  uint64_t seq = 99;
  assert_int_not_equal(ml_commit_here(c, new_tplan(1, "INSERT INTO t VALUES (1); SELECT * FROM no_such_table", &freed),
                                      run_tplan, free_tplan, &seq, &err),
                       ML_OK);
  assert_int_equal(seq, 0);
  assert_int_equal(freed, 1);
  assert_int_equal(ml_commit_waiting(c), 0);
  ml_wh_rollback(wh);
  /* behind: the job fails; the commit on this thread reports it */
  assert_int_equal(ml_wh_begin(wh, &err), ML_OK);
  submit(c, 2, "SELECT * FROM no_such_table", &freed, 1);
  ml_err_clear(&err);
  assert_int_not_equal(ml_commit_here(c, new_tplan(3, "INSERT INTO t VALUES (3)", &freed), run_tplan, free_tplan, NULL, &err),
                       ML_OK);
  if (!strstr(err.msg, "no_such_table")) fail_msg("unexpected message: %s", err.msg);
  assert_int_equal(ml_commit_drain(c, ack_tplan, &got), 0);
  assert_int_equal(freed, 3);
  ml_wh_rollback(wh);
  th_expect(wh, "SELECT count(*)::VARCHAR FROM t", "0");
  ml_commit_free(c);
  ml_wh_close(wh);
}

/* Plans committed but not drained, and plans still queued when the
 * warehouse closes, are freed by ml_commit_free without an acknowledgement
 * (ASan and valgrind check that nothing leaks). */
static void test_free_unacknowledged(void **s) {
  (void)s;
  ml_wh *wh = open_loaded(":memory:");
  ml_commit *c = NULL;
  ml_err err;
  assert_int_equal(ml_commit_open(wh, 0, &c, &err), ML_OK);
  int freed = 0;
  assert_int_equal(ml_wh_begin(wh, &err), ML_OK);
  submit(c, 1, "INSERT INTO t VALUES (1)", &freed, 1);
  submit(c, 2, "INSERT INTO t VALUES (2)", &freed, 2);
  assert_int_equal(ml_commit_here(c, new_tplan(3, NULL, &freed), run_tplan, free_tplan, NULL, &err), ML_OK);
  assert_int_equal(ml_wh_begin(wh, &err), ML_OK);
  submit(c, 4, "INSERT INTO t VALUES (4)", &freed, 4);
  assert_int_equal(freed, 0);
  /* closing the warehouse runs the queued job; the pipeline outlives it */
  ml_wh_close(wh);
  assert_int_equal(ml_commit_waiting(c), 4);
  ml_commit_free(c);
  assert_int_equal(freed, 4);
  ml_commit_free(NULL);
}

/* kill_after_commit = 2: the process dies right after the second COMMIT
 * returned, before anything acknowledged it; the database holds both. */
static void test_kill_after_commit(void **s) {
  (void)s;
  char *dir = th_tmpdir();
  char *path = th_join(dir, "k.db");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    ml_wh *wh = open_loaded(path);
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
  ml_wh *wh = th_open(path, NULL);
  th_expect(wh, "SELECT string_agg(id::VARCHAR, ',' ORDER BY id) FROM t", "1,2");
  ml_wh_close(wh);
  th_rmtree(dir);
  free(path);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_acknowledged_in_order_after_commit),
      cmocka_unit_test(test_failed_job_stops_acknowledgement),
      cmocka_unit_test(test_failed_here),
      cmocka_unit_test(test_free_unacknowledged),
      cmocka_unit_test(test_kill_after_commit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
