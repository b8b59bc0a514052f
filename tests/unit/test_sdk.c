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

/* One seed's run of random operations on the model table, applied set-wise
 * and to the model m one by one. */
typedef struct model_run {
  unsigned seed;
  uint64_t rng;
  ml_wh *wh;
  ml_apply *a;
  mallard_record *r;
  model_row m[KEYS];
  ml_err err;
} model_run;

static void model_start(model_run *mr, const char *path, unsigned seed, uint64_t mult) {
  memset(mr, 0, sizeof *mr);
  mr->seed = seed;
  mr->rng = seed * mult;
  open_model_table(path, &mr->wh, &mr->a);
  mr->r = mallard_record_new();
}

/* The end of a run: what is still staged is applied at the end of the sync,
 * and the table equals the model. */
static void model_end(model_run *mr) {
  assert_int_equal(finish(mr->a, &mr->err), ML_OK);
  check_model(mr->wh, mr->m, mr->seed);
  mallard_record_free(mr->r);
  ml_apply_free(mr->a);
  ml_wh_close(mr->wh);
}

/* Stages an upsert or update of key k giving a (NULL when null_a) and b as
 * asked; an upsert's absent columns become NULL. */
static void model_op(model_run *mr, ml_apply_kind kind, int k, bool give_a, int64_t va, bool null_a, bool give_b,
                     int64_t vb) {
  mallard_record_clear(mr->r);
  mallard_set_long(mr->r, "id", k);
  if (give_a) null_a ? mallard_set_null(mr->r, "a") : mallard_set_long(mr->r, "a", va);
  if (give_b) mallard_set_long(mr->r, "b", vb);
  assert_int_equal(ml_apply_op(mr->a, kind, "t", mr->r, &mr->err), ML_OK);
}

/* Runs ops on seeds 1..n, each on a fresh model table, and checks the
 * table against the model at the end. */
static void for_each_seed(unsigned n, uint64_t mult, void (*ops)(model_run *mr)) {
  th_db db = th_db_new();
  for (unsigned seed = 1; seed <= n; seed++) {
    model_run mr;
    model_start(&mr, db.path, seed, mult);
    ops(&mr);
    model_end(&mr);
  }
  th_db_free(&db);
}

/* 60 random operations of every kind, with commits in between. */
static void every_kind_of_op(model_run *mr) {
  model_row *m = mr->m;
  for (int i = 0; i < 60; i++) {
    int k = (int)(rng(&mr->rng) % KEYS), what = (int)(rng(&mr->rng) % 20);
    int64_t va = (int64_t)(rng(&mr->rng) % 100), vb = (int64_t)(rng(&mr->rng) % 100);
    int give_a = (int)(rng(&mr->rng) % 2), give_b = (int)(rng(&mr->rng) % 2), null_a = rng(&mr->rng) % 4 == 0;
    if (what < 7) { /* upsert: absent columns become NULL */
      model_op(mr, ML_APPLY_UPSERT, k, give_a, va, null_a, give_b, vb);
      m[k] = (model_row){1, 0, va, vb, !give_a || null_a, !give_b};
    } else if (what < 13) { /* update: only given columns; missing row ignored */
      model_op(mr, ML_APPLY_UPDATE, k, give_a, va, null_a, give_b, vb);
      if (m[k].exists && give_a) m[k].a = va, m[k].a_null = null_a;
      if (m[k].exists && give_b) m[k].b = vb, m[k].b_null = 0;
    } else if (what < 17) { /* delete: soft; missing row ignored */
      mallard_record_clear(mr->r);
      mallard_set_long(mr->r, "id", k);
      mallard_set_long(mr->r, "a", 12345); /* non-key values are ignored */
      assert_int_equal(ml_apply_op(mr->a, ML_APPLY_DELETE, "t", mr->r, &mr->err), ML_OK);
      if (m[k].exists) m[k].deleted = 1;
    } else if (what < 18) {
      assert_int_equal(ml_apply_truncate(mr->a, "t", &mr->err), ML_OK);
      for (int j = 0; j < KEYS; j++)
        if (m[j].exists) m[j].deleted = 1;
    } else {
      assert_int_equal(commit_all(mr->a, &mr->err), ML_OK);
      check_model(mr->wh, m, mr->seed);
    }
  }
}

static void test_apply_matches_one_by_one(void **s) {
  (void)s;
  for_each_seed(40, 0x9E3779B97F4A7C15ULL, every_kind_of_op);
}

/* 80 random upserts with checkpoints held back (marks) and committed. */
static void upserts_and_marks(model_run *mr) {
  model_row *m = mr->m, at_mark[KEYS];
  memcpy(at_mark, m, sizeof at_mark);
  for (int i = 0; i < 80; i++) {
    int k = (int)(rng(&mr->rng) % KEYS), what = (int)(rng(&mr->rng) % 20);
    int64_t va = (int64_t)(rng(&mr->rng) % 100), vb = (int64_t)(rng(&mr->rng) % 100);
    int give_a = (int)(rng(&mr->rng) % 2), give_b = (int)(rng(&mr->rng) % 2);
    if (what < 15) {
      model_op(mr, ML_APPLY_UPSERT, k, give_a, va, false, give_b, vb);
      m[k] = (model_row){1, 0, va, vb, !give_a, !give_b};
    } else if (what < 17) {
      ml_apply_mark(mr->a);
      assert_true(ml_apply_marked(mr->a));
      memcpy(at_mark, m, sizeof at_mark);
    } else if (what < 19) {
      if (!ml_apply_marked(mr->a)) continue;
      assert_int_equal(commit_mark(mr->a, &mr->err), ML_OK);
      assert_false(ml_apply_marked(mr->a));
      check_model(mr->wh, at_mark, mr->seed);
    } else {
      assert_int_equal(commit_all(mr->a, &mr->err), ML_OK);
      assert_false(ml_apply_marked(mr->a));
      check_model(mr->wh, m, mr->seed);
    }
  }
}

/* Upserts only (the DELETE + INSERT path of apply_table, keys repeated within
 * a batch) with held-back checkpoints: ml_apply_commit_mark applies exactly
 * the operations before the mark, the later ones stay staged and are applied
 * by the next commit; both checked against the one-by-one model. */
static void test_apply_upserts_and_marks(void **s) {
  (void)s;
  for_each_seed(30, 0x2545F4914F6CDD1DULL, upserts_and_marks);
}

/* What each of the tests below works with (setup, teardown): a database of
 * th_db_new, the warehouse and the apply that open_apply opens on it, a
 * record, and the apply's log.  The teardown frees what is there, also after
 * a failed assertion. */
typedef struct apply_fx {
  th_db db;
  ml_wh *wh;
  ml_apply *a;
  mallard_record *r;
  ml_err err;
  logbuf log;
} apply_fx;

static int setup(void **state) {
  apply_fx *f = th_fixture(state, sizeof *f);
  f->db = th_db_new();
  f->r = mallard_record_new();
  assert_non_null(f->r);
  return 0;
}

static int teardown(void **state) {
  apply_fx *f = *state;
  mallard_record_free(f->r);
  ml_apply_free(f->a);
  ml_wh_close(f->wh);
  th_db_free(&f->db);
  free(f);
  return 0;
}

/* Opens the fixture's database (opts may be NULL), runs setup_sql (may be
 * NULL) and opens an apply on it for schema tester, logging to f->log. */
static void open_apply(apply_fx *f, const ml_wh_options *opts, const char *setup_sql) {
  assert_int_equal(ml_wh_open(f->db.path, opts, &f->wh, &f->err), ML_OK);
  if (setup_sql) th_exec(f->wh, setup_sql);
  assert_int_equal(ml_apply_open(f->wh, "tester", log_cb, &f->log, &f->a, &f->err), ML_OK);
}

/* Declares table (key id BIGINT, a BIGINT; key k VARCHAR with key_text). */
static void declare_id_a(apply_fx *f, const char *table, bool key_text) {
  char *key = key_text ? "k" : "id";
  const char *pk[] = {key};
  ml_col cols[] = {{key, ml_type_of(key_text ? ML_TYPE_VARCHAR : ML_TYPE_BIGINT)}, {"a", ml_type_of(ML_TYPE_BIGINT)}};
  assert_int_equal(ml_apply_declare(f->a, table, pk, 1, cols, 2, &f->err), ML_OK);
}

/* Stages an upsert of {id, a} into table t. */
static void upsert_id_a(apply_fx *f, int64_t id, int64_t a) {
  mallard_record_clear(f->r);
  mallard_set_long(f->r, "id", id);
  mallard_set_long(f->r, "a", a);
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPSERT, "t", f->r, &f->err), ML_OK);
}

/* Staged operations live in the connection's temporary catalog: never in the
 * database file, not even those after a held checkpoint, which stay staged
 * across its commit.  Staging tables an earlier version left in the file
 * are dropped at start. */
static void test_apply_stages_in_memory(void **state) {
  apply_fx *f = *state;
  ml_wh *old = th_open(f->db.path, NULL);
  th_exec(old, "CREATE SCHEMA _mallard_staging; CREATE TABLE _mallard_staging.t (x INTEGER)");
  ml_wh_close(old);
  const char *in_file = "SELECT count(*) FROM duckdb_tables() WHERE NOT temporary AND schema_name <> 'tester'";
  const char *in_memory = "SELECT count(*) FROM duckdb_tables() WHERE temporary";
  open_apply(f, NULL, NULL);
  declare_id_a(f, "t", false);
  assert_int_equal(ml_apply_start(f->a, &f->err), ML_OK);
  assert_int_equal(th_query_i64(f->wh, in_file), 0);
  mallard_set_long(f->r, "id", 1);
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPSERT, "t", f->r, &f->err), ML_OK);
  ml_apply_mark(f->a);
  mallard_set_long(f->r, "id", 2);
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPSERT, "t", f->r, &f->err), ML_OK);
  assert_int_equal(commit_mark(f->a, &f->err), ML_OK);
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM tester.t"), 1);
  assert_int_equal(th_query_i64(f->wh, in_file), 0);
  assert_int_equal(th_query_i64(f->wh, in_memory), 1);
  assert_int_equal(finish(f->a, &f->err), ML_OK);
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM tester.t"), 2);
  assert_int_equal(th_query_i64(f->wh, in_memory), 0);
}

/* Upserts of one key in different forms ("1" and 1 into a BIGINT key) are
 * one key, so the last wins even though their record values differ; a batch
 * whose keys are all distinct (applied without picking each key's last row)
 * replaces and adds rows as well. */
static void test_apply_repeated_keys_in_other_forms(void **state) {
  apply_fx *f = *state;
  open_apply(f, NULL, NULL);
  declare_id_a(f, "t", false);
  declare_id_a(f, "s", true);
  assert_int_equal(ml_apply_start(f->a, &f->err), ML_OK);
  upsert_id_a(f, 1, 1);
  mallard_record_clear(f->r);
  mallard_set_string(f->r, "id", "1");
  mallard_set_long(f->r, "a", 2);
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPSERT, "t", f->r, &f->err), ML_OK);
  upsert_id_a(f, 2, 3);
  mallard_record_clear(f->r);
  mallard_set_string(f->r, "k", "x");
  mallard_set_long(f->r, "a", 1);
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPSERT, "s", f->r, &f->err), ML_OK);
  mallard_set_long(f->r, "a", 2);
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPSERT, "s", f->r, &f->err), ML_OK);
  assert_int_equal(commit_all(f->a, &f->err), ML_OK);
  static const struct {
    const char *sql;
    int64_t want;
  } after_first[] = {
      {"SELECT count(*) FROM tester.t WHERE id = 1", 1}, {"SELECT a FROM tester.t WHERE id = 1", 2},
      {"SELECT count(*) FROM tester.t WHERE id = 2", 1}, {"SELECT count(*) FROM tester.s", 1},
      {"SELECT a FROM tester.s", 2},                     {"SELECT a FROM tester.t WHERE id = 2", 3},
  }, after_second[] = {
      {"SELECT count(*) FROM tester.t", 3},              {"SELECT count(DISTINCT id) FROM tester.t", 3},
      {"SELECT a FROM tester.t WHERE id = 2", 5},        {"SELECT a FROM tester.t WHERE id = 3", 4},
  };
  for (size_t i = 0; i < TH_LEN(after_first); i++)
    assert_int_equal(th_query_i64(f->wh, after_first[i].sql), after_first[i].want);
  upsert_id_a(f, 3, 4);
  upsert_id_a(f, 2, 5);
  assert_int_equal(finish(f->a, &f->err), ML_OK);
  for (size_t i = 0; i < TH_LEN(after_second); i++)
    assert_int_equal(th_query_i64(f->wh, after_second[i].sql), after_second[i].want);
}

/* A table without a primary key: a record that gives its _fivetran_id
 * explicitly is the same key as a record whose id mallard computes, even in
 * one batch (the last one wins, one row). */
static void test_apply_own_id_repeats(void **state) {
  apply_fx *f = *state;
  open_apply(f, NULL, NULL);
  assert_int_equal(ml_apply_start(f->a, &f->err), ML_OK);
  mallard_set_long(f->r, "a", 1);
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPSERT, "h", f->r, &f->err), ML_OK);
  assert_int_equal(commit_all(f->a, &f->err), ML_OK);
  char *id = th_query(f->wh, "SELECT _fivetran_id FROM tester.h");
  assert_non_null(id);
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPSERT, "h", f->r, &f->err), ML_OK);
  mallard_record_clear(f->r);
  mallard_set_string(f->r, "_fivetran_id", id);
  mallard_set_long(f->r, "a", 2);
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPSERT, "h", f->r, &f->err), ML_OK);
  assert_int_equal(finish(f->a, &f->err), ML_OK);
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM tester.h"), 1);
  assert_int_equal(th_query_i64(f->wh, "SELECT a FROM tester.h"), 2);
  free(id);
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

/* checkpoint, which must commit behind or in line as `behind` says, as
 * commit number seq. */
static void expect_checkpoint(apply_fx *f, ml_commit *c, bool behind, uint64_t seq) {
  uint64_t got_seq = 99;
  bool got_behind = !behind;
  assert_int_equal(checkpoint(c, f->a, &got_seq, &got_behind, &f->err), ML_OK);
  assert_int_equal(got_behind, behind);
  assert_int_equal(got_seq, seq);
}

/* An apply of table t (id, a >= 0) on a warehouse with a loader thread,
 * started, and its commit pipeline (the caller frees it). */
static ml_commit *open_with_loader(apply_fx *f) {
  ml_wh_options opts = {.background_append = true};
  open_apply(f, &opts, "CREATE SCHEMA tester; CREATE TABLE tester.t (id BIGINT, a BIGINT CHECK (a >= 0))");
  declare_id_a(f, "t", false);
  assert_int_equal(ml_apply_start(f->a, &f->err), ML_OK);
  ml_commit *c = NULL;
  assert_int_equal(ml_commit_open(f->wh, 0, &c, &f->err), ML_OK);
  return c;
}

/* Commits behind (a warehouse with a loader thread, only upserts staged):
 * the call returns before the COMMIT, operations staged meanwhile wait for
 * the next commit, ml_commit_done tells which commits are done, and the
 * result is what committing in line gives.  A table with an update staged
 * commits in line.  A job that fails is reported when the caller waits for
 * the loader, with the statement's error, and nothing of it is committed. */
static void test_apply_commit_behind(void **state) {
  apply_fx *f = *state;
  ml_commit *c = open_with_loader(f);
  int64_t rows[][2] = {{1, 10}, {2, 20}, {3, 30}, {2, 21}, {4, 40}, {1, 11}};
  for (size_t i = 0; i < 6; i++) {
    upsert_id_a(f, rows[i][0], rows[i][1]);
    if (i == 2) expect_checkpoint(f, c, true, 1);
  }
  expect_checkpoint(f, c, true, 2);
  assert_int_equal(ml_commit_wait(c, &f->err), ML_OK);
  assert_int_equal(ml_commit_done(c), 2);
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM tester.t"), 4);
  assert_int_equal(th_query_i64(f->wh, "SELECT sum(a) FROM tester.t"), 11 + 21 + 30 + 40);
  /* an update staged: in line */
  mallard_record_clear(f->r);
  mallard_set_long(f->r, "id", 3);
  mallard_set_long(f->r, "a", 31);
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPDATE, "t", f->r, &f->err), ML_OK);
  expect_checkpoint(f, c, false, 3);
  assert_int_equal(ml_commit_done(c), 3);
  assert_int_equal(th_query_i64(f->wh, "SELECT a FROM tester.t WHERE id = 3"), 31);
  /* a row the table refuses: the job fails, the next commit says so */
  upsert_id_a(f, 5, -1);
  expect_checkpoint(f, c, true, 4);
  upsert_id_a(f, 6, 60);
  ml_err_clear(&f->err);
  assert_int_not_equal(ml_commit_wait(c, &f->err), ML_OK);
  if (!strstr(f->err.msg, "CHECK constraint")) fail_msg("unexpected message: %s", f->err.msg);
  assert_int_equal(ml_commit_done(c), 3);
  /* the three commits are acknowledged, the failed one is not */
  assert_int_equal(ml_commit_drain(c, NULL, NULL), 3);
  assert_int_equal(ml_commit_waiting(c), 0);
  ml_commit_free(c);
  ml_apply_abort(f->a);
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM tester.t"), 4);
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM tester.t WHERE id >= 5"), 0);
}

/* ml_apply_plan_ahead with min_rows, which must give statements (want) or
 * none; given ones run as work for the next commit (as ml_sdk does). */
static void expect_ahead(apply_fx *f, ml_commit *c, uint64_t min_rows, bool want) {
  ml_apply_plan *p = NULL;
  assert_int_equal(ml_apply_plan_ahead(f->a, min_rows, &p, &f->err), ML_OK);
  assert_int_equal(p != NULL, want);
  if (p) assert_int_equal(ml_commit_submit_work(c, p, run_stmts, free_stmts, &f->err), ML_OK);
}

/* Upserts applied ahead of their commit, in pieces: none before min_rows
 * operations; the pieces run in the open transaction and the result is that
 * of applying everything at once (a key upserted in two pieces keeps its
 * last row); while a checkpoint is held only the operations before it are
 * taken, so its commit holds none after it; updates staged are never taken;
 * work that fails makes the next commit fail, and nothing of the
 * transaction is committed. */
static void test_apply_ahead(void **state) {
  apply_fx *f = *state;
  ml_commit *c = open_with_loader(f);
  upsert_id_a(f, 1, 10);
  upsert_id_a(f, 2, 20);
  expect_ahead(f, c, 3, false);
  upsert_id_a(f, 1, 11);
  expect_ahead(f, c, 3, true);
  expect_ahead(f, c, 1, false); /* nothing left staged */
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM tester.t"), 2);
  assert_int_equal(th_query_i64(f->wh, "SELECT a FROM tester.t WHERE id = 1"), 11);
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM temp.main._mallard_stage_t"), 0);
  /* a held checkpoint: only the operation before it is applied ahead */
  upsert_id_a(f, 3, 30);
  ml_apply_mark(f->a);
  upsert_id_a(f, 1, 12);
  expect_ahead(f, c, 1, true);
  expect_ahead(f, c, 1, false);
  assert_int_equal(th_query_i64(f->wh, "SELECT a FROM tester.t WHERE id = 3"), 30);
  assert_int_equal(th_query_i64(f->wh, "SELECT a FROM tester.t WHERE id = 1"), 11);
  assert_int_equal(commit_mark(f->a, &f->err), ML_OK);
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM tester.t"), 3);
  assert_int_equal(th_query_i64(f->wh, "SELECT a FROM tester.t WHERE id = 1"), 11);
  /* the operation after the checkpoint is taken once none is held */
  upsert_id_a(f, 2, 21);
  expect_ahead(f, c, 2, true);
  assert_int_equal(finish(f->a, &f->err), ML_OK);
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM tester.t"), 3);
  assert_int_equal(th_query_i64(f->wh, "SELECT sum(a) FROM tester.t"), 12 + 21 + 30);
  /* an update staged: not ahead */
  mallard_record_clear(f->r);
  mallard_set_long(f->r, "id", 3);
  mallard_set_long(f->r, "a", 31);
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPDATE, "t", f->r, &f->err), ML_OK);
  upsert_id_a(f, 4, 40);
  expect_ahead(f, c, 1, false);
  assert_int_equal(commit_all(f->a, &f->err), ML_OK);
  assert_int_equal(th_query_i64(f->wh, "SELECT sum(a) FROM tester.t"), 12 + 21 + 31 + 40);
  /* a row the table refuses: the work fails, the commit says so */
  upsert_id_a(f, 5, 50);
  expect_ahead(f, c, 1, true);
  upsert_id_a(f, 6, -1);
  expect_ahead(f, c, 1, true);
  ml_err_clear(&f->err);
  assert_int_not_equal(ml_commit_here(c, NULL, NULL, NULL, NULL, &f->err), ML_OK);
  if (!strstr(f->err.msg, "CHECK constraint")) fail_msg("unexpected message: %s", f->err.msg);
  assert_int_equal(ml_commit_drain(c, NULL, NULL), 0);
  ml_commit_free(c);
  ml_apply_abort(f->a);
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM tester.t WHERE id >= 5"), 0);
  assert_int_equal(th_query_i64(f->wh, "SELECT sum(a) FROM tester.t"), 12 + 21 + 31 + 40);
}

/* A failure rolls back to the last commit. */
static void test_apply_abort(void **state) {
  apply_fx *f = *state;
  open_apply(f, NULL, NULL);
  assert_int_equal(ml_apply_start(f->a, &f->err), ML_OK);
  mallard_set_string(f->r, "k", "one");
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPSERT, "nopk", f->r, &f->err), ML_OK);
  assert_int_equal(commit_all(f->a, &f->err), ML_OK);
  mallard_set_string(f->r, "k", "two");
  mallard_set_long(f->r, "extra", 5);
  assert_int_equal(ml_apply_op(f->a, ML_APPLY_UPSERT, "nopk", f->r, &f->err), ML_OK);
  ml_apply_abort(f->a);
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM tester.nopk"), 1);
  assert_int_equal(th_query_i64(f->wh, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'nopk' "
                                       "AND column_name = 'extra'"),
                   0);
  /* the staging table (committed with the first checkpoint) is gone */
  assert_int_equal(
      th_query_i64(f->wh, "SELECT count(*) FROM duckdb_tables() WHERE temporary OR schema_name <> 'tester'"), 0);
  assert_non_null(strstr(f->log.text, "created table tester.nopk"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_setters),
      cmocka_unit_test(test_record_hash),
      cmocka_unit_test(test_schema_errors),
      cmocka_unit_test(test_config_state),
      cmocka_unit_test(test_apply_matches_one_by_one),
      cmocka_unit_test(test_apply_upserts_and_marks),
      cmocka_unit_test_setup_teardown(test_apply_abort, setup, teardown),
      cmocka_unit_test_setup_teardown(test_apply_stages_in_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_apply_repeated_keys_in_other_forms, setup, teardown),
      cmocka_unit_test_setup_teardown(test_apply_commit_behind, setup, teardown),
      cmocka_unit_test_setup_teardown(test_apply_ahead, setup, teardown),
      cmocka_unit_test_setup_teardown(test_apply_own_id_repeats, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
