/* Catalogs, destination configs, names and the SPEC when allocations fail
 * (ml_failalloc.h): each allocation is failed in turn; every such run must
 * end in an error with a message, leave *out empty and leak nothing (ASan,
 * valgrind); the run where none fails gives what a run without the hook
 * gives (compared as a summary text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "airbyte/ml_catalog.h"
#include "ml_failalloc.h"

#define FIX ML_FIXTURES "/airbyte"

/* Everything parsed, as one text, to compare runs. */
static void summarize(const ml_catalog *c, ml_buf *out) {
  for (size_t i = 0; i < c->n_streams; i++) {
    const ml_stream_def *s = &c->streams[i];
    char t[32];
    ml_buf_printf(out, "%s|%s|%s.%s|%s|pk%zu|cur%zu|gen%lld,%lld,%lld:", s->name, s->ns ? s->ns : "-", s->schema,
                  s->table, ml_sync_mode_name(s->mode), s->n_primary_key, s->cursor.n, (long long)s->generation_id,
                  (long long)s->minimum_generation_id, (long long)s->sync_id);
    for (size_t k = 0; k < s->n_primary_key; k++)
      for (size_t j = 0; j < s->primary_key[k].n; j++) ml_buf_printf(out, "%s%s", j ? "." : " ", s->primary_key[k].parts[j]);
    for (size_t j = 0; j < s->n_fields; j++)
      ml_buf_printf(out, " %s=%s:%s%s", s->fields[j].source, s->fields[j].column, ml_type_sql(s->fields[j].type, t),
                    s->fields[j].base64 ? "/b64" : "");
    ml_buf_putc(out, '\n');
  }
}

typedef struct catalog_case {
  const char *path; /* a file to load, or NULL: parse text */
  const char *text;
  char *want; /* summary from a run without the hook */
} catalog_case;

static ml_status run_catalog(catalog_case *c, ml_buf *summary, ml_err *err) {
  ml_catalog cat;
  ml_status st = c->path ? ml_catalog_load(c->path, "main", &cat, err)
                         : ml_catalog_parse(c->text, strlen(c->text), "main", &cat, err);
  if (st != ML_OK) {
    if (cat.streams || cat.n_streams) return ml_err_set(err, ML_ERR_STATE, "failed (%s) but *out is not empty", err->msg);
    return st;
  }
  summarize(&cat, summary);
  ml_catalog_free(&cat);
  return ml_buf_ok(summary) ? ML_OK : ml_err_set(err, ML_ERR_NOMEM, "out of memory summarizing");
}

static ml_status op_catalog(void *ud, ml_err *err) {
  catalog_case *c = ud;
  ml_buf got = ML_BUF_INIT;
  ml_status st = run_catalog(c, &got, err);
  if (st == ML_OK && strcmp(got.data, c->want) != 0)
    st = ml_err_set(err, ML_ERR_STATE, "parsed\n%s\nexpected\n%s", got.data, c->want);
  ml_buf_free(&got);
  return st;
}

static void check_catalog(const char *what, catalog_case *c) {
  ml_buf want = ML_BUF_INIT;
  ml_err err;
  if (run_catalog(c, &want, &err) != ML_OK) fail_msg("%s: %s", what, err.msg);
  c->want = want.data;
  ml_fa_check(what, op_catalog, c);
  ml_buf_free(&want);
}

static void test_catalog_fixtures(void **state) {
  (void)state;
  catalog_case cases[] = {{FIX "/edge_case/configured_catalog.json", NULL, NULL},
                          {FIX "/seed_example/configured_catalog.json", NULL, NULL},
                          {FIX "/exchange_rate/configured_catalog.json", NULL, NULL}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_catalog(cases[i].path, &cases[i]);
}

/* Names that collide (suffixes), namespaces, v1 $refs, every sync mode. */
static void test_catalog_collisions(void **state) {
  (void)state;
  catalog_case c = {
      NULL,
      "{\"streams\":["
      "{\"stream\":{\"name\":\"a-b\",\"namespace\":\"public\",\"json_schema\":{\"properties\":{"
      "\"Data\":{\"type\":\"string\"},\"data\":{\"type\":\"integer\"},\"DATA\":{\"type\":[\"null\",\"number\"]},"
      "\"_airbyte_raw_id\":{\"type\":\"string\",\"format\":\"date-time\"},"
      "\"blob\":{\"type\":\"string\",\"contentEncoding\":\"base64\"},"
      "\"r\":{\"$ref\":\"WellKnownTypes.json#/definitions/TimestampWithoutTimezone\"}}}},"
      "\"destination_sync_mode\":\"append_dedup\",\"primary_key\":[[\"data\"],[\"Data\"]],\"cursor_field\":[\"r\"],"
      "\"generation_id\":3,\"minimum_generation_id\":1,\"sync_id\":9},"
      "{\"stream\":{\"name\":\"a_b\",\"namespace\":\"public\",\"json_schema\":{}},\"destination_sync_mode\":\"overwrite\"},"
      "{\"stream\":{\"name\":\"a-b\",\"namespace\":\"other\",\"json_schema\":{\"properties\":{\"x\":{}}}}},"
      "{\"stream\":{\"name\":\"users\",\"namespace\":\"Public\",\"json_schema\":{}}},"
      "{\"stream\":{\"name\":\"users\",\"namespace\":\"public\",\"json_schema\":{}}},"
      "{\"stream\":{\"name\":\"users\",\"json_schema\":{}}}]}",
      NULL};
  check_catalog("colliding names", &c);
}

/* An invalid catalog is ML_ERR_CONFIG naming the stream, allocation failures
 * or not on the way. */
static ml_status op_catalog_error(void *ud, ml_err *err) {
  (void)ud;
  const char *text = "{\"streams\":[{\"stream\":{\"name\":\"ok\",\"json_schema\":{}}},"
                     "{\"stream\":{\"name\":\"d\",\"json_schema\":{}},\"destination_sync_mode\":\"append_dedup\"}]}";
  ml_catalog cat;
  ml_status st = ml_catalog_parse(text, strlen(text), NULL, &cat, err);
  if (st == ML_OK) {
    ml_catalog_free(&cat);
    return ml_err_set(err, ML_ERR_STATE, "an append_dedup stream without primary key parsed");
  }
  if (cat.streams || cat.n_streams) return ml_err_set(err, ML_ERR_STATE, "failed (%s) but *out is not empty", err->msg);
  if (st == ML_ERR_CONFIG && strstr(err->msg, "stream \"d\"") && strstr(err->msg, "needs a primary_key")) {
    ml_err_clear(err);
    return ML_OK; /* the expected outcome */
  }
  return st;
}

static ml_status op_names(void *ud, ml_err *err) {
  (void)ud;
  const char *names[] = {"Id", "id", "ID", "Full Name", "full-name", "_airbyte_meta"};
  const char *want[] = {"id_09242e07", "id", "id_09240e07", "full_name", "full_name_fa475ecf", "_airbyte_meta_a058353f"};
  const char *reserved[] = {"_airbyte_meta", "_airbyte_raw_id"};
  char *out[6];
  ml_status st = ml_names_assign(names, 6, reserved, 2, out, err);
  for (size_t i = 0; i < 6 && st != ML_OK; i++)
    if (out[i]) return ml_err_set(err, ML_ERR_STATE, "failed (%s) but out[%zu] is set", err->msg, i);
  if (st != ML_OK) return st;
  for (size_t i = 0; i < 6; i++) {
    if (st == ML_OK && strcmp(out[i], want[i]) != 0)
      st = ml_err_set(err, ML_ERR_STATE, "name %zu: %s, want %s", i, out[i], want[i]);
    free(out[i]);
  }
  return st;
}

typedef struct config_case {
  const char *text;
  const char *env_root;
  const char *want; /* "path|schema|root|raw|interval|memory_limit" */
} config_case;

static ml_status op_config(void *ud, ml_err *err) {
  const config_case *c = ud;
  ml_dest_config cfg;
  ml_status st = ml_dest_config_parse(c->text, strlen(c->text), c->env_root, &cfg, err);
  if (st != ML_OK) return st;
  char got[1024];
  snprintf(got, sizeof got, "%s|%s|%s|%d|%lld|%s", cfg.destination_path, cfg.schema, cfg.local_root, (int)cfg.raw_tables,
           (long long)cfg.commit_interval_ms, cfg.memory_limit ? cfg.memory_limit : "-");
  if (strcmp(got, c->want) != 0) st = ml_err_set(err, ML_ERR_STATE, "config %s, want %s", got, c->want);
  ml_dest_config_free(&cfg);
  return st;
}

static ml_status op_spec(void *ud, ml_err *err) {
  (void)ud;
  ml_buf out = ML_BUF_INIT;
  ml_dest_spec_json(&out);
  ml_status st = ml_buf_ok(&out) ? ML_OK : ml_err_set(err, ML_ERR_NOMEM, "out of memory writing the SPEC");
  if (st == ML_OK && !strstr(out.data, "\"supported_destination_sync_modes\""))
    st = ml_err_set(err, ML_ERR_STATE, "SPEC without sync modes: %s", out.data);
  ml_buf_free(&out);
  return st;
}

int main(void) {
  config_case every_key = {"{\"destination_path\":\"/local/a/../d.duckdb\",\"schema\":\"Analytics_2\",\"raw_tables\":true,"
                           "\"commit_interval_ms\":0,\"local_root\":\"/srv\",\"memory_limit\":\"1.5 GiB\"}",
                           NULL, "/srv/d.duckdb|analytics_2|/srv|1|0|1.5 GiB"};
  config_case env_root = {"{\"destination_path\":\"x.duckdb\",\"schema\":\"\"}", "/env", "/env/x.duckdb|main|/env|0|1000|-"};
  ml_fa_case error = {"an invalid catalog", op_catalog_error, NULL};
  ml_fa_case names = {"ml_names_assign", op_names, NULL};
  ml_fa_case config = {"a config with every key", op_config, &every_key};
  ml_fa_case config_env = {"a config with the root from the environment", op_config, &env_root};
  ml_fa_case spec = {"the SPEC", op_spec, NULL};
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_catalog_fixtures), cmocka_unit_test(test_catalog_collisions),
      ML_FA_TEST(error), ML_FA_TEST(names), ML_FA_TEST(config), ML_FA_TEST(config_env), ML_FA_TEST(spec),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
