/* Unit tests of the connector SDK: records, configuration, state, schema
 * validation, and the set-wise application of operations (ml_apply), which
 * is checked against a one-by-one model on random operation sequences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mallard.h"
#include "sdk/ml_apply.h"
#include "sdk/ml_sdk.h"
#include "warehouse/ml_commit.h"
#include "test_helpers.h"
#include "warehouse/ml_wh.h"

typedef struct logbuf {
  char text[8192];
} logbuf;

static void log_cb(void *ud, int level, const char *msg) {
  logbuf *l = ud;
  size_t n = strlen(l->text);
  snprintf(l->text + n, sizeof l->text - n, "%d %s\n", level, msg);
}

/* ---- records ---------------------------------------------------------------- */

static void test_record_setters(void **s) {
  (void)s;
  mallard_record *r = mallard_record_new();
  assert_non_null(r);
  assert_int_equal(mallard_set_long(r, "id", 42), MALLARD_OK);
  assert_int_equal(mallard_set_string(r, "name", "x"), MALLARD_OK);
  assert_int_equal(mallard_set_string(r, "name", "y"), MALLARD_OK); /* replaces */
  assert_int_equal(mallard_set_double(r, "d", 0.1), MALLARD_OK);
  assert_int_equal(mallard_set_bool(r, "b", 7), MALLARD_OK);
  assert_int_equal(mallard_set_date(r, "day", "2024-02-29"), MALLARD_OK);
  assert_int_equal(mallard_set_utc_micros(r, "at", 1000000), MALLARD_OK);
  assert_int_equal(mallard_set_binary(r, "bin", "\x01\x02", 2), MALLARD_OK);
  assert_int_equal(mallard_set_json(r, "j", " { \"a\" : [1, 2] } "), MALLARD_OK);
  assert_string_equal(mallard_get_text(r, "id"), "42");
  assert_string_equal(mallard_get_text(r, "name"), "y");
  assert_string_equal(mallard_get_text(r, "d"), "0.1");
  assert_string_equal(mallard_get_text(r, "b"), "true");
  assert_string_equal(mallard_get_text(r, "day"), "2024-02-29");
  assert_string_equal(mallard_get_text(r, "at"), "1970-01-01T00:00:01Z");
  assert_string_equal(mallard_get_text(r, "bin"), "AQI=");
  assert_string_equal(mallard_get_text(r, "j"), "{\"a\":[1,2]}");
  assert_null(mallard_record_error(r));
  assert_true(mallard_has(r, "id"));
  mallard_unset(r, "id");
  assert_false(mallard_has(r, "id"));
  assert_null(mallard_get_text(r, "id"));
  /* errors are returned and remembered */
  assert_int_equal(mallard_set_date(r, "bad", "2024-02-30"), MALLARD_ERR_ARG);
  assert_int_equal(mallard_set_json(r, "bad2", "{"), MALLARD_ERR_ARG);
  assert_int_equal(mallard_set_long(r, "", 1), MALLARD_ERR_ARG);
  assert_non_null(strstr(mallard_record_error(r), "\"2024-02-30\" is not a valid date"));
  mallard_record_clear(r);
  assert_null(mallard_record_error(r));
  assert_null(mallard_get_text(r, "name"));
  /* from JSON: kinds by JSON type, exact digits kept */
  const char *js = "{\"id\": 7, \"amount\": 12.50, \"ok\": false, \"tags\": [\"a\"], \"none\": null, \"s\": \"t\"}";
  assert_int_equal(mallard_set_from_json(r, js, strlen(js)), MALLARD_OK);
  assert_string_equal(mallard_get_text(r, "amount"), "12.50");
  assert_string_equal(mallard_get_text(r, "ok"), "false");
  assert_string_equal(mallard_get_text(r, "tags"), "[\"a\"]");
  assert_true(mallard_has(r, "none"));
  assert_null(mallard_get_text(r, "none"));
  assert_int_equal(mallard_set_from_json(r, "[1]", 3), MALLARD_ERR_ARG);
  mallard_record_free(r);
  mallard_record_free(NULL);
}

static void test_record_hash(void **s) {
  (void)s;
  mallard_record *a = mallard_record_new(), *b = mallard_record_new();
  mallard_set_long(a, "x", 1);
  mallard_set_string(a, "y", "z");
  mallard_set_string(b, "y", "z");
  mallard_set_long(b, "x", 1);
  mallard_set_null(b, "n"); /* nulls do not count */
  char ha[33], hb[33];
  ml_rec_hash(a, ha);
  ml_rec_hash(b, hb);
  assert_string_equal(ha, hb);
  mallard_set_long(b, "x", 2);
  ml_rec_hash(b, hb);
  assert_string_not_equal(ha, hb);
  mallard_record_free(a);
  mallard_record_free(b);
}

/* ---- configuration, state, schema -------------------------------------------- */

static int schema_bad_type(mallard_ctx *ctx) {
  return mallard_schema_json(ctx, "[{\"table\":\"t\",\"columns\":{\"a\":\"TEXT\"}}]");
}
static int schema_decimal_c(mallard_ctx *ctx) {
  int rc = mallard_table(ctx, "t", "id");
  if (rc == MALLARD_OK) rc = mallard_column(ctx, "t", "a", MALLARD_DECIMAL);
  return rc;
}
static int schema_twice(mallard_ctx *ctx) {
  mallard_table(ctx, "t", NULL);
  return mallard_table(ctx, "t", NULL);
}
static int schema_ignores_error(mallard_ctx *ctx) {
  mallard_column(ctx, "nope", "a", MALLARD_LONG); /* return value ignored: still fatal */
  return MALLARD_OK;
}

static void expect_schema_error(mallard_schema_fn fn, const char *msg) {
  logbuf l = {{0}};
  ml_sdk_hooks h = {&l, log_cb, NULL, NULL};
  mallard_ctx *ctx = ml_sdk_new(&h, NULL);
  ml_apply *a = NULL;
  ml_err err;
  assert_int_equal(ml_apply_open(NULL, "tester", NULL, NULL, &a, &err), ML_OK);
  assert_int_not_equal(ml_sdk_run_schema(ctx, fn, a, &err), ML_OK);
  if (!strstr(err.msg, msg)) fail_msg("'%s' lacks '%s'", err.msg, msg);
  ml_apply_free(a);
  ml_sdk_free(ctx);
}

static void test_schema_errors(void **s) {
  (void)s;
  expect_schema_error(schema_bad_type, "table 't': column 'a': unknown type 'TEXT'");
  expect_schema_error(schema_decimal_c, "DECIMAL needs precision and scale");
  expect_schema_error(schema_twice, "table 't' is declared twice");
  expect_schema_error(schema_ignores_error, "declare the table with mallard_table first");
}

static int update_config(mallard_ctx *ctx) {
  assert_string_equal(mallard_config(ctx, "k"), "v");
  assert_null(mallard_config(ctx, "missing"));
  assert_string_equal(mallard_state_get(ctx, "cursor"), "c0");
  assert_string_equal(mallard_state_get(ctx, "n"), "5");
  assert_string_equal(mallard_state_get(ctx, "obj"), "{\"a\":1}");
  assert_int_equal(mallard_state_set(ctx, "cursor", "c\"1"), MALLARD_OK);
  assert_int_equal(mallard_state_set_long(ctx, "n", 6), MALLARD_OK);
  assert_int_equal(mallard_state_set_json(ctx, "new", "[1, 2]"), MALLARD_OK);
  assert_int_equal(mallard_state_set_json(ctx, "bad", "[1,"), MALLARD_ERR_ARG);
  assert_string_equal(mallard_state_json(ctx), "{\"cursor\":\"c\\\"1\",\"n\":6,\"obj\":{\"a\":1},\"new\":[1,2]}");
  assert_int_equal(mallard_table(ctx, "late", NULL), MALLARD_ERR_STATE); /* schema calls belong to schema() */
  const char *v = "x";
  return mallard_config_require(ctx, "api_key", &v) == MALLARD_ERR_MISSING && v == NULL ? MALLARD_OK : 99;
}

static void test_config_state(void **s) {
  (void)s;
  logbuf l = {{0}};
  ml_sdk_hooks h = {&l, log_cb, NULL, NULL};
  mallard_ctx *ctx = ml_sdk_new(&h, NULL);
  ml_err err;
  const char *cfg = "{\"k\": \"v\"}";
  assert_int_equal(ml_sdk_load_config(ctx, cfg, strlen(cfg), "cfg", &err), ML_OK);
  const char *bad = "{\"k\": 1}";
  assert_int_equal(ml_sdk_load_config(ctx, bad, strlen(bad), "cfg", &err), ML_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "must be a string"));
  assert_int_equal(ml_sdk_load_config(ctx, cfg, strlen(cfg), "cfg", &err), ML_OK);
  const char *st = "{\"cursor\": \"c0\", \"n\": 5, \"obj\": {\"a\": 1}}";
  assert_int_equal(ml_sdk_load_state(ctx, st, strlen(st), "state", &err), ML_OK);
  assert_int_equal(ml_sdk_load_state(ctx, "[]", 2, "state", &err), ML_ERR_CONFIG);
  /* a missing required key fails the run even though update() returns OK */
  assert_int_equal(ml_sdk_run_update(ctx, update_config, &err), ML_ERR_CONNECTOR);
  assert_string_equal(err.msg, "configuration key 'api_key' is missing");
  ml_sdk_free(ctx);
}

/* ---- set-wise application against a one-by-one model -------------------------- */

enum { KEYS = 5 };
typedef struct model_row {
  int exists, deleted;
  int64_t a, b;
  int a_null, b_null;
} model_row;

static uint64_t rng(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void check_model(ml_wh *wh, const model_row *m, unsigned seed) {
  for (int k = 0; k < KEYS; k++) {
    char sql[256];
    int64_t n = -1;
    bool found = false;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM tester.t WHERE id = %d", k);
    assert_int_equal(ml_wh_query_i64(wh, sql, &n, &found, NULL), ML_OK);
    if (n != m[k].exists) fail_msg("seed %u key %d: exists %lld, model %d", seed, k, (long long)n, m[k].exists);
    if (!m[k].exists) continue;
    char *got = NULL;
    snprintf(sql, sizeof sql,
             "SELECT concat_ws(',', coalesce(a::VARCHAR, 'N'), coalesce(b::VARCHAR, 'N'), _fivetran_deleted) "
             "FROM tester.t WHERE id = %d",
             k);
    assert_int_equal(ml_wh_query_text(wh, sql, &got, NULL), ML_OK);
    char want[128], av[32], bv[32];
    snprintf(av, sizeof av, "%lld", (long long)m[k].a);
    snprintf(bv, sizeof bv, "%lld", (long long)m[k].b);
    snprintf(want, sizeof want, "%s,%s,%s", m[k].a_null ? "N" : av, m[k].b_null ? "N" : bv,
             m[k].deleted ? "true" : "false");
    if (strcmp(got, want)) fail_msg("seed %u key %d: table %s, model %s", seed, k, got, want);
    free(got);
  }
}

/* A fresh database at path (any older one removed) with the model's table:
 * tester.t, key id, columns a and b, started. */
static void open_model_table(const char *path, ml_wh **wh, ml_apply **a) {
  unlink(path);
  ml_err err;
  assert_int_equal(ml_wh_open(path, NULL, wh, &err), ML_OK);
  assert_int_equal(ml_apply_open(*wh, "tester", NULL, NULL, a, &err), ML_OK);
  const char *pk[] = {"id"};
  ml_col cols[] = {{"id", ml_type_of(ML_TYPE_BIGINT)}, {"a", ml_type_of(ML_TYPE_BIGINT)},
                   {"b", ml_type_of(ML_TYPE_BIGINT)}};
  assert_int_equal(ml_apply_declare(*a, "t", pk, 1, cols, 3, &err), ML_OK);
  assert_int_equal(ml_apply_start(*a, &err), ML_OK);
}

/* A checkpoint committed on this thread, as ml_sdk makes one: the staged
 * operations applied (all of them, or those before the held checkpoint, or
 * the rest at the end), then COMMIT. */
static ml_status commit_all(ml_apply *a, ml_err *err) {
  ml_status st = ml_apply_ready(a, err);
  return st == ML_OK ? ml_wh_commit(ml_apply_wh(a), err) : st;
}
static ml_status commit_mark(ml_apply *a, ml_err *err) {
  ml_status st = ml_apply_ready_mark(a, err);
  return st == ML_OK ? ml_wh_commit(ml_apply_wh(a), err) : st;
}
static ml_status finish(ml_apply *a, ml_err *err) {
  ml_status st = ml_apply_ready_finish(a, err);
  return st == ML_OK ? ml_wh_commit(ml_apply_wh(a), err) : st;
}

/* The end of a test that used a record, an apply and a database of th_db_new. */
static void close_all(mallard_record *r, ml_apply *a, ml_wh *wh, th_db *db) {
  mallard_record_free(r);
  ml_apply_free(a);
  ml_wh_close(wh);
  th_db_free(db);
}

static void test_apply_matches_one_by_one(void **s) {
  (void)s;
  th_db db = th_db_new();
  const char *path = db.path;
  for (unsigned seed = 1; seed <= 40; seed++) {
    ml_wh *wh = NULL;
    ml_apply *a = NULL;
    ml_err err;
    open_model_table(path, &wh, &a);
    model_row m[KEYS];
    memset(m, 0, sizeof m);
    uint64_t st = seed * 0x9E3779B97F4A7C15ULL;
    mallard_record *r = mallard_record_new();
    for (int i = 0; i < 60; i++) {
      int k = (int)(rng(&st) % KEYS), what = (int)(rng(&st) % 20);
      int64_t va = (int64_t)(rng(&st) % 100), vb = (int64_t)(rng(&st) % 100);
      int give_a = (int)(rng(&st) % 2), give_b = (int)(rng(&st) % 2), null_a = rng(&st) % 4 == 0;
      mallard_record_clear(r);
      mallard_set_long(r, "id", k);
      if (what < 7) { /* upsert: absent columns become NULL */
        if (give_a) null_a ? mallard_set_null(r, "a") : mallard_set_long(r, "a", va);
        if (give_b) mallard_set_long(r, "b", vb);
        assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "t", r, &err), ML_OK);
        m[k] = (model_row){1, 0, va, vb, !give_a || null_a, !give_b};
      } else if (what < 13) { /* update: only given columns; missing row ignored */
        if (give_a) null_a ? mallard_set_null(r, "a") : mallard_set_long(r, "a", va);
        if (give_b) mallard_set_long(r, "b", vb);
        assert_int_equal(ml_apply_op(a, ML_APPLY_UPDATE, "t", r, &err), ML_OK);
        if (m[k].exists && give_a) m[k].a = va, m[k].a_null = null_a;
        if (m[k].exists && give_b) m[k].b = vb, m[k].b_null = 0;
      } else if (what < 17) { /* delete: soft; missing row ignored */
        mallard_set_long(r, "a", 12345); /* non-key values are ignored */
        assert_int_equal(ml_apply_op(a, ML_APPLY_DELETE, "t", r, &err), ML_OK);
        if (m[k].exists) m[k].deleted = 1;
      } else if (what < 18) {
        assert_int_equal(ml_apply_truncate(a, "t", &err), ML_OK);
        for (int j = 0; j < KEYS; j++)
          if (m[j].exists) m[j].deleted = 1;
      } else {
        assert_int_equal(commit_all(a, &err), ML_OK);
        check_model(wh, m, seed);
      }
    }
    assert_int_equal(finish(a, &err), ML_OK);
    check_model(wh, m, seed);
    mallard_record_free(r);
    ml_apply_free(a);
    ml_wh_close(wh);
  }
  th_db_free(&db);
}

/* Upserts only (the DELETE + INSERT path of apply_table, keys repeated within
 * a batch) with held-back checkpoints: ml_apply_commit_mark applies exactly
 * the operations before the mark, the later ones stay staged and are applied
 * by the next commit; both checked against the one-by-one model. */
static void test_apply_upserts_and_marks(void **s) {
  (void)s;
  th_db db = th_db_new();
  const char *path = db.path;
  for (unsigned seed = 1; seed <= 30; seed++) {
    ml_wh *wh = NULL;
    ml_apply *a = NULL;
    ml_err err;
    open_model_table(path, &wh, &a);
    model_row m[KEYS], at_mark[KEYS];
    memset(m, 0, sizeof m);
    memcpy(at_mark, m, sizeof m);
    uint64_t st = seed * 0x2545F4914F6CDD1DULL;
    mallard_record *r = mallard_record_new();
    for (int i = 0; i < 80; i++) {
      int k = (int)(rng(&st) % KEYS), what = (int)(rng(&st) % 20);
      int64_t va = (int64_t)(rng(&st) % 100), vb = (int64_t)(rng(&st) % 100);
      int give_a = (int)(rng(&st) % 2), give_b = (int)(rng(&st) % 2);
      if (what < 15) {
        mallard_record_clear(r);
        mallard_set_long(r, "id", k);
        if (give_a) mallard_set_long(r, "a", va);
        if (give_b) mallard_set_long(r, "b", vb);
        assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "t", r, &err), ML_OK);
        m[k] = (model_row){1, 0, va, vb, !give_a, !give_b};
      } else if (what < 17) {
        ml_apply_mark(a);
        assert_true(ml_apply_marked(a));
        memcpy(at_mark, m, sizeof m);
      } else if (what < 19) {
        if (!ml_apply_marked(a)) continue;
        assert_int_equal(commit_mark(a, &err), ML_OK);
        assert_false(ml_apply_marked(a));
        check_model(wh, at_mark, seed);
      } else {
        assert_int_equal(commit_all(a, &err), ML_OK);
        assert_false(ml_apply_marked(a));
        check_model(wh, m, seed);
      }
    }
    assert_int_equal(finish(a, &err), ML_OK);
    check_model(wh, m, seed);
    mallard_record_free(r);
    ml_apply_free(a);
    ml_wh_close(wh);
  }
  th_db_free(&db);
}

/* Staged operations live in the connection's temporary catalog: never in the
 * database file, not even those after a held checkpoint, which stay staged
 * across its commit.  Staging tables an earlier version left in the file
 * are dropped at start. */
static void test_apply_stages_in_memory(void **s) {
  (void)s;
  th_db db = th_db_new();
  const char *path = db.path;
  ml_wh *wh = NULL;
  ml_err err;
  assert_int_equal(ml_wh_open(path, NULL, &wh, &err), ML_OK);
  assert_int_equal(ml_wh_exec(wh, "CREATE SCHEMA _mallard_staging; CREATE TABLE _mallard_staging.t (x INTEGER)", &err),
                   ML_OK);
  ml_wh_close(wh);
  const char *in_file = "SELECT count(*) FROM duckdb_tables() WHERE NOT temporary AND schema_name <> 'tester'";
  const char *in_memory = "SELECT count(*) FROM duckdb_tables() WHERE temporary";
  ml_apply *a = NULL;
  assert_int_equal(ml_wh_open(path, NULL, &wh, &err), ML_OK);
  assert_int_equal(ml_apply_open(wh, "tester", NULL, NULL, &a, &err), ML_OK);
  const char *pk[] = {"id"};
  ml_col cols[] = {{"id", ml_type_of(ML_TYPE_BIGINT)}, {"a", ml_type_of(ML_TYPE_BIGINT)}};
  assert_int_equal(ml_apply_declare(a, "t", pk, 1, cols, 2, &err), ML_OK);
  assert_int_equal(ml_apply_start(a, &err), ML_OK);
  assert_int_equal(th_query_i64(wh, in_file), 0);
  mallard_record *r = mallard_record_new();
  mallard_set_long(r, "id", 1);
  assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "t", r, &err), ML_OK);
  ml_apply_mark(a);
  mallard_set_long(r, "id", 2);
  assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "t", r, &err), ML_OK);
  assert_int_equal(commit_mark(a, &err), ML_OK);
  assert_int_equal(th_query_i64(wh, "SELECT count(*) FROM tester.t"), 1);
  assert_int_equal(th_query_i64(wh, in_file), 0);
  assert_int_equal(th_query_i64(wh, in_memory), 1);
  assert_int_equal(finish(a, &err), ML_OK);
  assert_int_equal(th_query_i64(wh, "SELECT count(*) FROM tester.t"), 2);
  assert_int_equal(th_query_i64(wh, in_memory), 0);
  close_all(r, a, wh, &db);
}

/* Upserts of one key in different forms ("1" and 1 into a BIGINT key) are
 * one key, so the last wins even though their record values differ; a batch
 * whose keys are all distinct (applied without picking each key's last row)
 * replaces and adds rows as well. */
static void test_apply_repeated_keys_in_other_forms(void **s) {
  (void)s;
  th_db db = th_db_new();
  const char *path = db.path;
  ml_wh *wh = NULL;
  ml_apply *a = NULL;
  ml_err err;
  assert_int_equal(ml_wh_open(path, NULL, &wh, &err), ML_OK);
  assert_int_equal(ml_apply_open(wh, "tester", NULL, NULL, &a, &err), ML_OK);
  const char *pk[] = {"id"};
  ml_col cols[] = {{"id", ml_type_of(ML_TYPE_BIGINT)}, {"a", ml_type_of(ML_TYPE_BIGINT)}};
  assert_int_equal(ml_apply_declare(a, "t", pk, 1, cols, 2, &err), ML_OK);
  const char *spk[] = {"k"};
  ml_col scols[] = {{"k", ml_type_of(ML_TYPE_VARCHAR)}, {"a", ml_type_of(ML_TYPE_BIGINT)}};
  assert_int_equal(ml_apply_declare(a, "s", spk, 1, scols, 2, &err), ML_OK);
  assert_int_equal(ml_apply_start(a, &err), ML_OK);
  mallard_record *r = mallard_record_new();
  struct {
    const char *id; /* as a string, or NULL: the long */
    int64_t lid, a;
  } batch1[] = {{NULL, 1, 1}, {"1", 0, 2}, {NULL, 2, 3}}, batch2[] = {{NULL, 3, 4}, {NULL, 2, 5}};
  for (size_t i = 0; i < 3; i++) {
    mallard_record_clear(r);
    if (batch1[i].id) mallard_set_string(r, "id", batch1[i].id);
    else mallard_set_long(r, "id", batch1[i].lid);
    mallard_set_long(r, "a", batch1[i].a);
    assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "t", r, &err), ML_OK);
  }
  mallard_record_clear(r);
  mallard_set_string(r, "k", "x");
  mallard_set_long(r, "a", 1);
  assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "s", r, &err), ML_OK);
  mallard_set_long(r, "a", 2);
  assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "s", r, &err), ML_OK);
  assert_int_equal(commit_all(a, &err), ML_OK);
  assert_int_equal(th_query_i64(wh, "SELECT count(*) FROM tester.t WHERE id = 1"), 1);
  assert_int_equal(th_query_i64(wh, "SELECT a FROM tester.t WHERE id = 1"), 2);
  assert_int_equal(th_query_i64(wh, "SELECT count(*) FROM tester.t WHERE id = 2"), 1);
  assert_int_equal(th_query_i64(wh, "SELECT count(*) FROM tester.s"), 1);
  assert_int_equal(th_query_i64(wh, "SELECT a FROM tester.s"), 2);
  assert_int_equal(th_query_i64(wh, "SELECT a FROM tester.t WHERE id = 2"), 3);
  for (size_t i = 0; i < 2; i++) {
    mallard_record_clear(r);
    mallard_set_long(r, "id", batch2[i].lid);
    mallard_set_long(r, "a", batch2[i].a);
    assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "t", r, &err), ML_OK);
  }
  assert_int_equal(finish(a, &err), ML_OK);
  assert_int_equal(th_query_i64(wh, "SELECT count(*) FROM tester.t"), 3);
  assert_int_equal(th_query_i64(wh, "SELECT count(DISTINCT id) FROM tester.t"), 3);
  assert_int_equal(th_query_i64(wh, "SELECT a FROM tester.t WHERE id = 2"), 5);
  assert_int_equal(th_query_i64(wh, "SELECT a FROM tester.t WHERE id = 3"), 4);
  close_all(r, a, wh, &db);
}

/* A table without a primary key: a record that gives its _fivetran_id
 * explicitly is the same key as a record whose id mallard computes, even in
 * one batch (the last one wins, one row). */
static void test_apply_own_id_repeats(void **s) {
  (void)s;
  th_db db = th_db_new();
  const char *path = db.path;
  ml_wh *wh = NULL;
  ml_apply *a = NULL;
  ml_err err;
  assert_int_equal(ml_wh_open(path, NULL, &wh, &err), ML_OK);
  assert_int_equal(ml_apply_open(wh, "tester", NULL, NULL, &a, &err), ML_OK);
  assert_int_equal(ml_apply_start(a, &err), ML_OK);
  mallard_record *r = mallard_record_new();
  mallard_set_long(r, "a", 1);
  assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "h", r, &err), ML_OK);
  assert_int_equal(commit_all(a, &err), ML_OK);
  char *id = NULL;
  assert_int_equal(ml_wh_query_text(wh, "SELECT _fivetran_id FROM tester.h", &id, &err), ML_OK);
  assert_non_null(id);
  assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "h", r, &err), ML_OK);
  mallard_record_clear(r);
  mallard_set_string(r, "_fivetran_id", id);
  mallard_set_long(r, "a", 2);
  assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "h", r, &err), ML_OK);
  assert_int_equal(finish(a, &err), ML_OK);
  assert_int_equal(th_query_i64(wh, "SELECT count(*) FROM tester.h"), 1);
  assert_int_equal(th_query_i64(wh, "SELECT a FROM tester.h"), 2);
  free(id);
  close_all(r, a, wh, &db);
}

static ml_status run_stmts(void *p, ml_wh *wh, ml_err *err) { return ml_apply_plan_run(p, wh, err); }
static void free_stmts(void *p) { ml_apply_plan_free(p); }

/* A checkpoint as ml_sdk commits it: behind the caller when ml_apply can
 * plan it (*behind true), else applied and committed in line. */
static ml_status checkpoint(ml_commit *c, ml_apply *a, uint64_t *seq, bool *behind, ml_err *err) {
  ml_apply_plan *p = NULL;
  ml_status st = ml_apply_plan_behind(a, &p, err);
  if (st != ML_OK) return st;
  *behind = p != NULL;
  if (p) return ml_commit_submit(c, p, run_stmts, free_stmts, seq, err);
  st = ml_apply_ready(a, err);
  return st == ML_OK ? ml_commit_here(c, NULL, NULL, NULL, seq, err) : st;
}

/* Commits behind (a warehouse with a loader thread, only upserts staged):
 * the call returns before the COMMIT, operations staged meanwhile wait for
 * the next commit, ml_commit_done tells which commits are done, and the
 * result is what committing in line gives.  A table with an update staged
 * commits in line.  A job that fails is reported when the caller waits for
 * the loader, with the statement's error, and nothing of it is committed. */
static void test_apply_commit_behind(void **s) {
  (void)s;
  th_db db = th_db_new();
  const char *path = db.path;
  ml_wh_options opts = {.background_append = true};
  ml_wh *wh = NULL;
  ml_apply *a = NULL;
  ml_err err;
  assert_int_equal(ml_wh_open(path, &opts, &wh, &err), ML_OK);
  assert_int_equal(ml_wh_exec(wh, "CREATE SCHEMA tester; CREATE TABLE tester.t (id BIGINT, a BIGINT CHECK (a >= 0))", &err),
                   ML_OK);
  assert_int_equal(ml_apply_open(wh, "tester", NULL, NULL, &a, &err), ML_OK);
  const char *pk[] = {"id"};
  ml_col cols[] = {{"id", ml_type_of(ML_TYPE_BIGINT)}, {"a", ml_type_of(ML_TYPE_BIGINT)}};
  assert_int_equal(ml_apply_declare(a, "t", pk, 1, cols, 2, &err), ML_OK);
  assert_int_equal(ml_apply_start(a, &err), ML_OK);
  ml_commit *c = NULL;
  assert_int_equal(ml_commit_open(wh, 0, &c, &err), ML_OK);
  mallard_record *r = mallard_record_new();
  uint64_t seq = 99;
  bool behind = false;
  int64_t rows[][2] = {{1, 10}, {2, 20}, {3, 30}, {2, 21}, {4, 40}, {1, 11}};
  for (size_t i = 0; i < 6; i++) {
    mallard_record_clear(r);
    mallard_set_long(r, "id", rows[i][0]);
    mallard_set_long(r, "a", rows[i][1]);
    assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "t", r, &err), ML_OK);
    if (i == 2) {
      assert_int_equal(checkpoint(c, a, &seq, &behind, &err), ML_OK);
      assert_true(behind);
      assert_int_equal(seq, 1);
    }
  }
  assert_int_equal(checkpoint(c, a, &seq, &behind, &err), ML_OK);
  assert_true(behind);
  assert_int_equal(seq, 2);
  assert_int_equal(ml_commit_wait(c, &err), ML_OK);
  assert_int_equal(ml_commit_done(c), 2);
  assert_int_equal(th_query_i64(wh, "SELECT count(*) FROM tester.t"), 4);
  assert_int_equal(th_query_i64(wh, "SELECT sum(a) FROM tester.t"), 11 + 21 + 30 + 40);
  /* an update staged: in line */
  mallard_record_clear(r);
  mallard_set_long(r, "id", 3);
  mallard_set_long(r, "a", 31);
  assert_int_equal(ml_apply_op(a, ML_APPLY_UPDATE, "t", r, &err), ML_OK);
  assert_int_equal(checkpoint(c, a, &seq, &behind, &err), ML_OK);
  assert_false(behind);
  assert_int_equal(seq, 3);
  assert_int_equal(ml_commit_done(c), 3);
  assert_int_equal(th_query_i64(wh, "SELECT a FROM tester.t WHERE id = 3"), 31);
  /* a row the table refuses: the job fails, the next commit says so */
  mallard_record_clear(r);
  mallard_set_long(r, "id", 5);
  mallard_set_long(r, "a", -1);
  assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "t", r, &err), ML_OK);
  assert_int_equal(checkpoint(c, a, &seq, &behind, &err), ML_OK);
  assert_true(behind);
  assert_int_equal(seq, 4);
  mallard_record_clear(r);
  mallard_set_long(r, "id", 6);
  mallard_set_long(r, "a", 60);
  assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "t", r, &err), ML_OK);
  ml_err_clear(&err);
  assert_int_not_equal(ml_commit_wait(c, &err), ML_OK);
  if (!strstr(err.msg, "CHECK constraint")) fail_msg("unexpected message: %s", err.msg);
  assert_int_equal(ml_commit_done(c), 3);
  /* the three commits are acknowledged, the failed one is not */
  assert_int_equal(ml_commit_drain(c, NULL, NULL), 3);
  assert_int_equal(ml_commit_waiting(c), 0);
  ml_commit_free(c);
  ml_apply_abort(a);
  assert_int_equal(th_query_i64(wh, "SELECT count(*) FROM tester.t"), 4);
  assert_int_equal(th_query_i64(wh, "SELECT count(*) FROM tester.t WHERE id >= 5"), 0);
  close_all(r, a, wh, &db);
}

/* A failure rolls back to the last commit. */
static void test_apply_abort(void **s) {
  (void)s;
  th_db db = th_db_new();
  const char *path = db.path;
  ml_wh *wh = NULL;
  ml_err err;
  assert_int_equal(ml_wh_open(path, NULL, &wh, &err), ML_OK);
  ml_apply *a = NULL;
  logbuf l = {{0}};
  assert_int_equal(ml_apply_open(wh, "tester", log_cb, &l, &a, &err), ML_OK);
  assert_int_equal(ml_apply_start(a, &err), ML_OK);
  mallard_record *r = mallard_record_new();
  mallard_set_string(r, "k", "one");
  assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "nopk", r, &err), ML_OK);
  assert_int_equal(commit_all(a, &err), ML_OK);
  mallard_set_string(r, "k", "two");
  mallard_set_long(r, "extra", 5);
  assert_int_equal(ml_apply_op(a, ML_APPLY_UPSERT, "nopk", r, &err), ML_OK);
  ml_apply_abort(a);
  int64_t n = 0;
  bool found;
  assert_int_equal(ml_wh_query_i64(wh, "SELECT count(*) FROM tester.nopk", &n, &found, &err), ML_OK);
  assert_int_equal(n, 1);
  assert_int_equal(ml_wh_query_i64(wh,
                                   "SELECT count(*) FROM information_schema.columns WHERE table_name = 'nopk' AND "
                                   "column_name = 'extra'",
                                   &n, &found, &err),
                   ML_OK);
  assert_int_equal(n, 0);
  /* the staging table (committed with the first checkpoint) is gone */
  assert_int_equal(ml_wh_query_i64(wh, "SELECT count(*) FROM duckdb_tables() WHERE temporary OR schema_name <> 'tester'",
                                   &n, &found, &err),
                   ML_OK);
  assert_int_equal(n, 0);
  assert_non_null(strstr(l.text, "created table tester.nopk"));
  mallard_record_free(r);
  ml_apply_free(a);
  ml_wh_close(wh);
  th_db_free(&db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_setters),  cmocka_unit_test(test_record_hash),
      cmocka_unit_test(test_schema_errors),   cmocka_unit_test(test_config_state),
      cmocka_unit_test(test_apply_matches_one_by_one), cmocka_unit_test(test_apply_upserts_and_marks),
      cmocka_unit_test(test_apply_abort),     cmocka_unit_test(test_apply_stages_in_memory),
      cmocka_unit_test(test_apply_repeated_keys_in_other_forms),
      cmocka_unit_test(test_apply_commit_behind),
      cmocka_unit_test(test_apply_own_id_repeats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
