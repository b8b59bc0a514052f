/* The connector SDK when allocations fail (ml_failalloc.h): records, the
 * configuration and state, and a whole run (schema, operations, checkpoints,
 * commits, also behind the caller on the loader thread) against an
 * in-memory DuckDB, each allocation failed in turn.  Every such run must
 * fail with an error that says why (the connector sees a MALLARD_ERR_* code,
 * the run an ml_status with a message), leave no thread or allocation
 * behind (ASan, valgrind); the run where none fails commits what a run
 * without the hook commits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mallard.h"
#include "ml_failalloc.h"
#include "sdk/ml_apply.h"
#include "sdk/ml_sdk.h"
#include "warehouse/ml_commit.h"
#include "warehouse/ml_wh.h"

static void quiet_log(void *ud, int level, const char *msg) {
  (void)ud;
  (void)level;
  (void)msg;
}

/* ---- records ------------------------------------------------------------------ */

/* A MALLARD_* code as an ml_status with the record's message. */
static ml_status rec_status(int rc, const mallard_record *r, const char *what, ml_err *err) {
  if (rc == MALLARD_OK) return ML_OK;
  const char *msg = r ? mallard_record_error(r) : NULL;
  return ml_err_set(err, rc == MALLARD_ERR_NOMEM ? ML_ERR_NOMEM : ML_ERR_INPUT, "%s: %d %s", what, rc,
                    msg ? msg : "(no message)");
}

static ml_status op_record(void *ud, ml_err *err) {
  (void)ud;
  mallard_record *r = mallard_record_new();
  if (!r) return ml_err_set(err, ML_ERR_NOMEM, "mallard_record_new: out of memory");
  ml_status st = ML_OK;
#define SET(call) \
  if (st == ML_OK) st = rec_status(call, r, #call, err)
  SET(mallard_set_long(r, "id", 42));
  SET(mallard_set_string(r, "name", "x"));
  SET(mallard_set_string(r, "name", "a longer value that replaces the first"));
  SET(mallard_set_double(r, "d", 0.1));
  SET(mallard_set_bool(r, "b", 1));
  SET(mallard_set_decimal(r, "dec", "12.50"));
  SET(mallard_set_date(r, "day", "2024-02-29"));
  SET(mallard_set_time(r, "t", "12:30:00"));
  SET(mallard_set_naive_datetime(r, "nd", "2024-01-02T03:04:05"));
  SET(mallard_set_utc_datetime(r, "ud", "2024-01-02T03:04:05Z"));
  SET(mallard_set_utc_micros(r, "at", 1000000));
  SET(mallard_set_binary(r, "bin", "\x01\x02\x03", 3));
  SET(mallard_set_json(r, "j", " { \"a\" : [1, 2] } "));
  SET(mallard_set_null(r, "n"));
  for (int i = 0; i < 40 && st == ML_OK; i++) { /* enough columns to grow the record */
    char col[16];
    snprintf(col, sizeof col, "c%d", i);
    SET(mallard_set_long(r, col, i));
  }
  const char *js = "{\"id\": 7, \"amount\": 12.50, \"ok\": false, \"tags\": [\"a\"], \"none\": null, \"s\": \"t\\u00e9\"}";
  SET(mallard_set_from_json(r, js, strlen(js)));
#undef SET
  if (st == ML_OK) {
    const char *amount = mallard_get_text(r, "amount"), *j = mallard_get_text(r, "j"), *bin = mallard_get_text(r, "bin");
    if (!amount || strcmp(amount, "12.50") != 0 || !j || strcmp(j, "{\"a\":[1,2]}") != 0 || !bin ||
        strcmp(bin, "AQID") != 0)
      st = ml_err_set(err, ML_ERR_STATE, "record reads back amount %s, j %s, bin %s", amount ? amount : "NULL",
                      j ? j : "NULL", bin ? bin : "NULL");
  }
  mallard_record_free(r);
  return st;
}

/* ---- configuration and state ------------------------------------------------------ */

static int update_state(mallard_ctx *ctx) {
  int rc = mallard_state_set(ctx, "cursor", "c\"1");
  if (rc == MALLARD_OK) rc = mallard_state_set_long(ctx, "n", 6);
  if (rc == MALLARD_OK) rc = mallard_state_set_json(ctx, "new", "[1, {\"x\": 2}]");
  const char *v = NULL;
  if (rc == MALLARD_OK) rc = mallard_config_require(ctx, "k", &v);
  if (rc == MALLARD_OK && (!v || strcmp(v, "v") != 0)) rc = mallard_fail(ctx, "config k is %s", v ? v : "NULL");
  const char *s = rc == MALLARD_OK ? mallard_state_json(ctx) : NULL;
  if (rc == MALLARD_OK && !s) rc = mallard_fail(ctx, "no state text");
  if (rc == MALLARD_OK && strcmp(s, "{\"cursor\":\"c\\\"1\",\"n\":6,\"obj\":{\"a\":1},\"new\":[1,{\"x\":2}]}") != 0)
    rc = mallard_fail(ctx, "state is %s", s);
  return rc;
}

static ml_status op_config_state(void *ud, ml_err *err) {
  (void)ud;
  ml_sdk_hooks h = {NULL, quiet_log, NULL, NULL};
  mallard_ctx *ctx = ml_sdk_new(&h, NULL);
  if (!ctx) return ml_err_set(err, ML_ERR_NOMEM, "ml_sdk_new: out of memory");
  const char *cfg = "{\"k\": \"v\", \"other\": \"w\"}";
  const char *st0 = "{\"cursor\": \"c0\", \"n\": 5, \"obj\": {\"a\": 1}}";
  ml_status st = ml_sdk_load_config(ctx, cfg, strlen(cfg), "cfg", err);
  if (st == ML_OK) st = ml_sdk_load_state(ctx, st0, strlen(st0), "state", err);
  if (st == ML_OK) st = ml_sdk_run_update(ctx, update_state, err);
  ml_buf out = ML_BUF_INIT;
  if (st == ML_OK) {
    ml_sdk_config_json(ctx, &out);
    if (!ml_buf_ok(&out)) st = ml_err_set(err, ML_ERR_NOMEM, "out of memory writing the configuration");
    else if (strcmp(out.data, "{\"k\":\"v\",\"other\":\"w\"}") != 0)
      st = ml_err_set(err, ML_ERR_STATE, "configuration is %s", out.data);
  }
  ml_buf_free(&out);
  ml_sdk_free(ctx);
  return st;
}

/* ---- a whole run ---------------------------------------------------------------- */

static int schema_fn(mallard_ctx *ctx) {
  int rc = mallard_table(ctx, "t", "id");
  if (rc == MALLARD_OK) rc = mallard_column(ctx, "t", "id", MALLARD_LONG);
  if (rc == MALLARD_OK) rc = mallard_column(ctx, "t", "name", MALLARD_STRING);
  if (rc == MALLARD_OK) rc = mallard_column_decimal(ctx, "t", "amount", 10, 2);
  if (rc == MALLARD_OK)
    rc = mallard_schema_json(ctx, "[{\"table\": \"s\", \"primary_key\": [\"k\"], \"columns\": {\"k\": \"STRING\"}}]");
  return rc;
}

/* Upserts, updates, deletes, a truncate, checkpoints, a table without a
 * primary key and an undeclared column (schema changes mid-run). */
static int update_fn(mallard_ctx *ctx) {
  mallard_record *r = mallard_record_new();
  if (!r) return MALLARD_ERR_NOMEM;
  int rc = MALLARD_OK;
  for (int i = 0; i < 12 && rc == MALLARD_OK; i++) {
    mallard_record_clear(r);
    rc = mallard_set_long(r, "id", i % 5);
    if (rc == MALLARD_OK) rc = mallard_set_string(r, "name", i % 2 ? "odd" : "even");
    if (rc == MALLARD_OK) rc = mallard_set_decimal(r, "amount", "1.25");
    if (rc == MALLARD_OK && i >= 8) rc = mallard_set_long(r, "extra", i); /* a new column */
    if (rc == MALLARD_OK) rc = i % 5 == 3 ? mallard_update(ctx, "t", r) : mallard_upsert(ctx, "t", r);
    if (rc == MALLARD_OK && i == 7) rc = mallard_delete(ctx, "t", r);
    if (rc == MALLARD_OK && i % 6 == 5) rc = mallard_state_set_long(ctx, "i", i);
    if (rc == MALLARD_OK && i % 6 == 5) rc = mallard_checkpoint(ctx);
  }
  for (int i = 0; i < 3 && rc == MALLARD_OK; i++) {
    mallard_record_clear(r);
    rc = mallard_set_string(r, "k", i % 2 ? "x" : "y");
    if (rc == MALLARD_OK) rc = mallard_upsert(ctx, "s", r);
  }
  if (rc == MALLARD_OK) rc = mallard_truncate(ctx, "s");
  for (int i = 0; i < 2 && rc == MALLARD_OK; i++) { /* no primary key: _fivetran_id */
    mallard_record_clear(r);
    rc = mallard_set_long(r, "v", i);
    if (rc == MALLARD_OK) rc = mallard_set_string(r, "w", "text");
    if (rc == MALLARD_OK) rc = mallard_upsert(ctx, "nopk", r);
  }
  if (rc == MALLARD_OK) rc = mallard_state_set(ctx, "done", "yes");
  if (rc == MALLARD_OK) rc = mallard_checkpoint(ctx);
  mallard_record_free(r);
  return rc;
}

typedef struct run_case {
  ml_wh *wh;             /* shared by the runs: opening a DuckDB for each would take minutes */
  long long interval_ms; /* checkpoints held back within this */
  unsigned runs;         /* each run writes into a schema of its own */
  char saved[512];       /* the last state saved */
  char want[1024];       /* what a run without the hook leaves: tables and state */
} run_case;

static ml_status save_state(void *ud, const char *json, size_t len, ml_err *err) {
  run_case *c = ud;
  if (len >= sizeof c->saved) return ml_err_set(err, ML_ERR_LIMIT, "state too long for the test");
  memcpy(c->saved, json, len);
  c->saved[len] = '\0';
  return ML_OK;
}

/* What ml_runner does, into a new schema of c->wh; a failed run is rolled
 * back, and the next run on the same warehouse must work.  The first call
 * (without the hook) records what a run leaves in c->want. */
static ml_status op_run(void *ud, ml_err *err) {
  run_case *c = ud;
  c->saved[0] = '\0';
  char schema[32], sql[512];
  snprintf(schema, sizeof schema, "run%u", ++c->runs);
  ml_sdk_hooks h = {c, quiet_log, save_state, NULL};
  mallard_ctx *ctx = ml_sdk_new(&h, NULL);
  if (!ctx) return ml_err_set(err, ML_ERR_NOMEM, "ml_sdk_new: out of memory");
  ml_sdk_set_commit_interval(ctx, c->interval_ms);
  ml_apply *a = NULL;
  ml_status st = ml_apply_open(c->wh, schema, quiet_log, NULL, &a, err);
  if (st == ML_OK) st = ml_sdk_run_schema(ctx, schema_fn, a, err);
  if (st == ML_OK) st = ml_apply_start(a, err);
  if (st == ML_OK) st = ml_sdk_run_update(ctx, update_fn, err);
  if (st == ML_OK) st = ml_sdk_finish(ctx, err);
  if (st != ML_OK && a) {
    ml_sdk_commit_held(ctx);
    ml_apply_abort(a);
  }
  char *got = NULL;
  if (st == ML_OK) {
    snprintf(sql, sizeof sql,
             "SELECT concat_ws(' ', (SELECT string_agg(concat_ws(',', id, name, amount, extra, _fivetran_deleted), ';' "
             "ORDER BY id) FROM %s.t), (SELECT string_agg(concat_ws(',', k, _fivetran_deleted), ';' ORDER BY k) FROM "
             "%s.s), (SELECT string_agg(concat_ws(',', v, w, _fivetran_id), ';' ORDER BY v) FROM %s.nopk))",
             schema, schema, schema);
    st = ml_wh_query_text(c->wh, sql, &got, err);
  }
  if (st == ML_OK) {
    char summary[sizeof c->want];
    snprintf(summary, sizeof summary, "%s state %s", got ? got : "NULL", c->saved);
    if (strlen(summary) + 1 >= sizeof summary) st = ml_err_set(err, ML_ERR_LIMIT, "summary too long for the test");
    else if (!c->want[0]) memcpy(c->want, summary, sizeof summary); /* the reference run */
    else if (strcmp(summary, c->want) != 0) st = ml_err_set(err, ML_ERR_STATE, "left %s\nwant %s", summary, c->want);
  }
  free(got);
  ml_apply_free(a);
  ml_sdk_free(ctx);
  return st;
}

static ml_wh *open_wh(bool background) {
  ml_wh_options wo = {.background_append = background, .threads = "1"};
  ml_wh *wh = NULL;
  ml_err err;
  if (ml_wh_open(":memory:", &wo, &wh, &err) != ML_OK) fail_msg("cannot open a warehouse: %s", err.msg);
  return wh;
}

/* The run without the hook, which the others must equal. */
static void reference_run(run_case *c) {
  ml_err err;
  if (op_run(c, &err) != ML_OK) fail_msg("the run fails without the hook: %s", err.msg);
  if (!strstr(c->want, "state {\"i\":11,\"done\":\"yes\"}")) fail_msg("the run saved the wrong state: %s", c->want);
}

static void test_run(void **state) {
  (void)state;
  run_case in_line = {.wh = open_wh(false), .interval_ms = 0};
  reference_run(&in_line);
  ml_fa_check("a run committing in line", op_run, &in_line);
  ml_wh_close(in_line.wh);
}

/* One-shot failures only: the persistent mode reaches the error paths that
 * test_run reaches, and each loop takes seconds. */
static void test_run_behind(void **state) {
  (void)state;
  run_case behind = {.wh = open_wh(true), .interval_ms = 0};
  reference_run(&behind);
  ml_fa_each("a run committing behind the connector", op_run, &behind, false);
  ml_wh_close(behind.wh);
  run_case held = {.wh = open_wh(true), .interval_ms = 60000};
  reference_run(&held);
  ml_fa_each("a run holding checkpoints back", op_run, &held, false);
  ml_wh_close(held.wh);
}

/* ---- upserts applied ahead while a checkpoint is held ------------------------------ */

/* Three upserts, a held checkpoint, one more upsert, the operations before
 * the checkpoint applied ahead on the loader thread, then the checkpoint
 * committed as a failed sync commits it (ml_sdk_commit_held): whichever
 * allocation fails, that commit either fails too or holds exactly the three
 * rows before the checkpoint, never the checkpoint without them. */
typedef struct ahead_case {
  ml_wh *wh;
  unsigned runs;   /* each run writes into a schema of its own */
  char bad[512];   /* the first commit that broke the rule */
} ahead_case;

static ml_status run_stmts(void *p, ml_wh *wh, ml_err *err) { return ml_apply_plan_run(p, wh, err); }
static void free_stmts(void *p) { ml_apply_plan_free(p); }

static ml_status op_ahead(void *ud, ml_err *err) {
  ahead_case *c = ud;
  char schema[32], sql[96];
  snprintf(schema, sizeof schema, "ahead%u", ++c->runs);
  const char *pk[] = {"id"};
  ml_col cols[] = {{"id", ml_type_of(ML_TYPE_BIGINT)}, {"v", ml_type_of(ML_TYPE_BIGINT)}};
  ml_apply *a = NULL;
  ml_commit *cm = NULL;
  mallard_record *r = NULL;
  ml_status st = ml_commit_open(c->wh, 0, &cm, err);
  if (st == ML_OK) st = ml_apply_open(c->wh, schema, quiet_log, NULL, &a, err);
  if (st == ML_OK) st = ml_apply_declare(a, "t", pk, 1, cols, 2, err);
  if (st == ML_OK) st = ml_apply_start(a, err);
  if (st == ML_OK && !(r = mallard_record_new())) st = ml_err_set(err, ML_ERR_NOMEM, "mallard_record_new: out of memory");
  for (int i = 0; i < 4 && st == ML_OK; i++) {
    if (i == 3) ml_apply_mark(a);
    mallard_record_clear(r);
    st = rec_status(mallard_set_long(r, "id", i), r, "mallard_set_long", err);
    if (st == ML_OK) st = rec_status(mallard_set_long(r, "v", i), r, "mallard_set_long", err);
    if (st == ML_OK) st = ml_apply_op(a, ML_APPLY_UPSERT, "t", r, err);
  }
  ml_apply_plan *p = NULL;
  if (st == ML_OK) st = ml_apply_plan_ahead(a, 1, &p, err);
  if (st == ML_OK && !p) st = ml_err_set(err, ML_ERR_STATE, "nothing was applied ahead");
  if (st == ML_OK) st = ml_commit_submit_work(cm, p, run_stmts, free_stmts, err);
  if (a && ml_apply_marked(a)) {
    ml_err cerr;
    ml_status committed = ml_apply_ready_mark(a, &cerr);
    if (committed == ML_OK) committed = ml_commit_here(cm, NULL, NULL, NULL, NULL, &cerr);
    if (committed == ML_OK) {
      int64_t n = -1;
      bool found = false;
      snprintf(sql, sizeof sql, "SELECT count(*) * 10 + sum(v) FROM %s.t WHERE id < 3", schema);
      committed = ml_wh_query_i64(c->wh, sql, &n, &found, &cerr);
      if (committed == ML_OK && n != 33 && !c->bad[0])
        snprintf(c->bad, sizeof c->bad, "run %u committed the checkpoint with %lld (want 33)", c->runs, (long long)n);
    }
    if (st == ML_OK && committed != ML_OK) {
      st = committed;
      *err = cerr;
    }
  }
  ml_err ignored;
  if (cm) ml_commit_wait(cm, &ignored);
  ml_commit_free(cm);
  if (a) ml_apply_abort(a);
  ml_apply_free(a);
  mallard_record_free(r);
  return st;
}

static void test_ahead(void **state) {
  (void)state;
  ahead_case c = {.wh = open_wh(true)};
  ml_err err;
  if (op_ahead(&c, &err) != ML_OK) fail_msg("the run fails without the hook: %s", err.msg);
  ml_fa_each("upserts applied ahead of a held checkpoint", op_ahead, &c, false);
  ml_wh_close(c.wh);
  if (c.bad[0]) fail_msg("%s", c.bad);
}

/* ---- a value that needs memory to convert ---------------------------------------- */

/* A connector's number as text too long for the stack into a declared
 * DOUBLE column: when memory runs out converting it, the upsert must fail
 * as out of memory, never as a value that does not fit the column (which
 * would send the connector's author after a value that is fine). */
typedef struct number_case {
  ml_wh *wh;
  unsigned runs;     /* each run declares its table in a schema of its own */
  char blamed[1024]; /* the first error that blamed the value, which fits */
} number_case;

static ml_status op_long_number(void *ud, ml_err *err) {
  number_case *c = ud;
  char schema[32], text[320] = "0.1";
  snprintf(schema, sizeof schema, "num%u", ++c->runs);
  memset(text + 3, '0', 300);
  text[303] = '\0';
  const char *pk[] = {"id"};
  ml_col cols[] = {{"id", ml_type_of(ML_TYPE_BIGINT)}, {"d", ml_type_of(ML_TYPE_DOUBLE)}};
  ml_apply *a = NULL;
  mallard_record *r = NULL;
  ml_status st = ml_apply_open(c->wh, schema, quiet_log, NULL, &a, err);
  if (st == ML_OK) st = ml_apply_declare(a, "n", pk, 1, cols, 2, err);
  if (st == ML_OK) st = ml_apply_start(a, err);
  if (st == ML_OK && !(r = mallard_record_new())) st = ml_err_set(err, ML_ERR_NOMEM, "mallard_record_new: out of memory");
  if (st == ML_OK) st = rec_status(mallard_set_long(r, "id", 1), r, "mallard_set_long", err);
  if (st == ML_OK) st = rec_status(mallard_set_string(r, "d", text), r, "mallard_set_string", err);
  if (st == ML_OK) st = ml_apply_op(a, ML_APPLY_UPSERT, "n", r, err);
  if (st == ML_ERR_INPUT && !c->blamed[0]) snprintf(c->blamed, sizeof c->blamed, "%s", err->msg);
  ml_apply_abort(a);
  ml_apply_free(a);
  mallard_record_free(r);
  return st;
}

static void test_long_number(void **state) {
  (void)state;
  number_case c = {.wh = open_wh(false)};
  /* ml_fa_check_nomem would refuse the run's benign failures (its set of
   * staged keys), so the op notes what it blamed on the value instead */
  ml_fa_check("a long number into a DOUBLE column", op_long_number, &c);
  ml_wh_close(c.wh);
  if (c.blamed[0]) fail_msg("an allocation that failed was reported as the value's fault: %s", c.blamed);
}

/* Opening a warehouse (with and without a loader thread), which the runs
 * above share. */
static ml_status op_open(void *ud, ml_err *err) {
  ml_wh_options wo = {.background_append = *(const bool *)ud, .threads = "1"};
  ml_wh *wh = NULL;
  ml_status st = ml_wh_open(":memory:", &wo, &wh, err);
  if (st == ML_OK) st = ml_wh_exec(wh, "CREATE TABLE t AS SELECT 1 AS x", err);
  ml_wh_close(wh);
  return st;
}

int main(void) {
  bool in_line = false, with_loader = true;
  ml_fa_case record = {"a record of every kind", op_record, NULL};
  ml_fa_case config_state = {"configuration and state", op_config_state, NULL};
  ml_fa_case open = {"opening a warehouse", op_open, &in_line};
  ml_fa_case open_loader = {"opening a warehouse with a loader", op_open, &with_loader};
  const struct CMUnitTest tests[] = {
      ML_FA_TEST(record),      ML_FA_TEST(config_state), ML_FA_TEST(open),
      ML_FA_TEST(open_loader), cmocka_unit_test(test_run), cmocka_unit_test(test_run_behind),
      cmocka_unit_test(test_ahead),
      cmocka_unit_test(test_long_number),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
