/* Tests for src/airbyte/ml_catalog.h: names, collisions, catalog, config, SPEC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "airbyte/ml_catalog.h"
#include "json/ml_json.h"

#define FIX ML_FIXTURES "/airbyte"

/* ---- helpers ---- */

static char *norm(const char *s, size_t n) {
  ml_buf b = ML_BUF_INIT;
  if (!ml_name_normalize(s, n, &b)) {
    ml_buf_free(&b);
    return NULL;
  }
  return ml_buf_steal(&b);
}

static void assert_norm(const char *in, const char *want) {
  char *got = norm(in, strlen(in));
  assert_non_null(got);
  assert_string_equal(got, want);
  free(got);
}

/* An independent FNV-1a, to check suffixes without trusting the code under test. */
static void fnv_hex(const char *s, char out[17]) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ull;
  }
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* "<norm>_<first nd hex digits of fnv(src)>" */
static void suffixed(char *out, size_t cap, const char *normed, const char *src, int nd) {
  char hex[17];
  fnv_hex(src, hex);
  snprintf(out, cap, "%s_%.*s", normed, nd, hex);
}

static void free_names(char **out, size_t n) {
  for (size_t i = 0; i < n; i++) free(out[i]);
}

static ml_catalog parse_ok(const char *json, const char *schema) {
  ml_catalog c;
  ml_err err;
  ml_err_clear(&err);
  ml_status st = ml_catalog_parse(json, strlen(json), schema, &c, &err);
  if (st != ML_OK) fail_msg("catalog parse failed: %s", err.msg);
  return c;
}

/* Parses and expects failure; the message must contain `needle`. */
static void parse_fails(const char *json, const char *needle) {
  ml_catalog c;
  ml_err err;
  ml_err_clear(&err);
  ml_status st = ml_catalog_parse(json, strlen(json), NULL, &c, &err);
  if (st == ML_OK) {
    ml_catalog_free(&c);
    fail_msg("catalog parsed but should fail with \"%s\": %s", needle, json);
  }
  assert_int_equal(st, ML_ERR_CONFIG);
  assert_int_equal(err.code, ML_ERR_CONFIG);
  if (!strstr(err.msg, needle)) fail_msg("error \"%s\" does not contain \"%s\"", err.msg, needle);
  assert_null(c.streams);
  assert_int_equal(c.n_streams, 0);
}

static const ml_field *field(const ml_stream_def *s, const char *source) {
  for (size_t i = 0; i < s->n_fields; i++)
    if (strcmp(s->fields[i].source, source) == 0) return &s->fields[i];
  fail_msg("stream %s has no field %s", s->name, source);
  return NULL;
}

static void assert_field(const ml_stream_def *s, const char *source, const char *column, ml_type_id type) {
  const ml_field *f = field(s, source);
  assert_string_equal(f->column, column);
  if (f->type.id != type) {
    char a[32], b[32];
    fail_msg("%s.%s: type %s, want %s", s->name, source, ml_type_sql(f->type, a), ml_type_sql(ml_type_of(type), b));
  }
}

static const ml_stream_def *find(const ml_catalog *c, const char *ns, const char *name) {
  const ml_stream_def *s = ml_catalog_find(c, ns, name);
  if (!s) fail_msg("stream %s.%s not found", ns ? ns : "", name);
  return s;
}

/* A one-stream catalog whose json_schema.properties is `props`. */
static char *one_stream(const char *props) {
  static const char fmt[] =
      "{\"streams\":[{\"stream\":{\"name\":\"s\",\"json_schema\":{\"type\":\"object\",\"properties\":%s}},"
      "\"destination_sync_mode\":\"append\"}]}";
  size_t n = strlen(fmt) + strlen(props) + 1;
  char *p = malloc(n);
  snprintf(p, n, fmt, props);
  return p;
}

/* ---- names ---- */

static void test_normalize_rules(void **state) {
  (void)state;
  assert_norm("streamWithCamelCase", "streamwithcamelcase");
  assert_norm("STREAM_WITH_ALL_CAPS", "stream_with_all_caps");
  assert_norm("stream-with:sp\xc3\xa9" "cial:character_names", "stream_with_sp_cial_character_names");
  assert_norm("1abc", "_1abc");
  assert_norm("123", "_123");
  assert_norm("order", "order");
  assert_norm("a b.c$d", "a_b_c_d");
  assert_norm("_x9", "_x9");
  /* one '_' per character: 2-, 3- and 4-byte UTF-8 */
  assert_norm("\xc3\xa9t\xc3\xa9", "_t_");
  assert_norm("a\xe2\x82\xac" "b", "a_b");
  assert_norm("a\xf0\x9f\x98\x80" "b", "a_b");
  /* invalid UTF-8: one '_' per byte */
  assert_norm("a\xff\xfe" "b", "a__b");
  assert_norm("\xc0\x80", "__");           /* overlong NUL */
  assert_norm("\xed\xa0\x80", "___");      /* UTF-16 surrogate */
  assert_norm("x\xe2\x82", "x__");         /* truncated at the end */
  assert_norm("\xf4\x90\x80\x80", "____"); /* above U+10FFFF */
  assert_norm("\x80" "a", "_a");           /* lone continuation byte */
  /* only invalid characters: still a usable name */
  assert_norm("-", "_");
  /* a leading digit after a non-ASCII character gets no prefix */
  assert_norm("\xc3\xa9" "1", "_1");
  /* embedded NUL (from \u0000) counts as one invalid character */
  char *got = norm("a\0b", 3);
  assert_string_equal(got, "a_b");
  free(got);
  assert_null(norm("", 0));
}

static void test_assign_collisions(void **state) {
  (void)state;
  const char *names[] = {"Data", "data", "DATA"};
  char *out[3];
  ml_err err;
  assert_int_equal(ml_names_assign(names, 3, NULL, 0, out, &err), ML_OK);
  char want[64];
  assert_string_equal(out[1], "data"); /* already in normal form: keeps it */
  suffixed(want, sizeof want, "data", "Data", 8);
  assert_string_equal(out[0], want);
  suffixed(want, sizeof want, "data", "DATA", 8);
  assert_string_equal(out[2], want);
  assert_string_not_equal(out[0], out[2]);
  free_names(out, 3);

  /* without a name in normal form, the byte-wise smallest keeps it ("DATA" < "Data") */
  const char *names2[] = {"Data", "DATA"};
  assert_int_equal(ml_names_assign(names2, 2, NULL, 0, out, &err), ML_OK);
  assert_string_equal(out[1], "data");
  suffixed(want, sizeof want, "data", "Data", 8);
  assert_string_equal(out[0], want);
  free_names(out, 2);

  /* names nobody collides with stay plain */
  const char *names3[] = {"a", "B", "c-d"};
  assert_int_equal(ml_names_assign(names3, 3, NULL, 0, out, &err), ML_OK);
  assert_string_equal(out[0], "a");
  assert_string_equal(out[1], "b");
  assert_string_equal(out[2], "c_d");
  free_names(out, 3);

  assert_int_equal(ml_names_assign(NULL, 0, NULL, 0, NULL, &err), ML_OK);
}

static void test_assign_reserved(void **state) {
  (void)state;
  const char *reserved[] = {"_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta", "_airbyte_generation_id"};
  const char *names[] = {"_airbyte_raw_id", "_AIRBYTE_META", "id"};
  char *out[3];
  ml_err err;
  assert_int_equal(ml_names_assign(names, 3, reserved, 4, out, &err), ML_OK);
  char want[64];
  suffixed(want, sizeof want, "_airbyte_raw_id", "_airbyte_raw_id", 8);
  assert_string_equal(out[0], want);
  suffixed(want, sizeof want, "_airbyte_meta", "_AIRBYTE_META", 8);
  assert_string_equal(out[1], want);
  assert_string_equal(out[2], "id");
  free_names(out, 3);
}

/* Every permutation of the input gives each source name the same result. */
static void test_assign_order_independent(void **state) {
  (void)state;
  const char *base[] = {"Data", "data", "DATA", "a-b", "a_b", "A B", "x"};
  enum { N = 7 };
  const char *reserved[] = {"x"};
  char *ref[N];
  ml_err err;
  assert_int_equal(ml_names_assign(base, N, reserved, 1, ref, &err), ML_OK);
  /* all distinct */
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++) assert_string_not_equal(ref[i], ref[j]);
  assert_string_not_equal(ref[6], "x");
  /* 50 pseudo-random permutations (fixed seed: reproducible) */
  unsigned seed = 12345;
  for (int round = 0; round < 50; round++) {
    int perm[N];
    for (int i = 0; i < N; i++) perm[i] = i;
    for (int i = N - 1; i > 0; i--) {
      seed = seed * 1103515245u + 12345u;
      int j = (int)((seed >> 16) % (unsigned)(i + 1));
      int t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    const char *names[N];
    char *out[N];
    for (int i = 0; i < N; i++) names[i] = base[perm[i]];
    assert_int_equal(ml_names_assign(names, N, reserved, 1, out, &err), ML_OK);
    for (int i = 0; i < N; i++) assert_string_equal(out[i], ref[perm[i]]);
    free_names(out, N);
  }
  free_names(ref, N);
}

/* A source name crafted to equal another's suffixed name pushes it to 9 digits. */
static void test_assign_second_order(void **state) {
  (void)state;
  char crafted[64], want[64];
  suffixed(crafted, sizeof crafted, "a_b", "a-b", 8);
  const char *names[] = {"a-b", "a_b", crafted};
  char *out[3];
  ml_err err;
  assert_int_equal(ml_names_assign(names, 3, NULL, 0, out, &err), ML_OK);
  assert_string_equal(out[1], "a_b");
  assert_string_equal(out[2], crafted);
  suffixed(want, sizeof want, "a_b", "a-b", 9);
  assert_string_equal(out[0], want);
  free_names(out, 3);

  /* the same through a reserved name */
  const char *reserved[] = {crafted};
  const char *names2[] = {"a-b", "a_b"};
  assert_int_equal(ml_names_assign(names2, 2, reserved, 1, out, &err), ML_OK);
  assert_string_equal(out[0], want);
  free_names(out, 2);
}

static void test_assign_errors(void **state) {
  (void)state;
  char *out[2] = {(char *)1, (char *)1};
  ml_err err;
  const char *empty[] = {"ok", ""};
  assert_int_equal(ml_names_assign(empty, 2, NULL, 0, out, &err), ML_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "empty"));
  assert_null(out[0]);
  assert_null(out[1]);
  const char *twice[] = {"a", "a"};
  assert_int_equal(ml_names_assign(twice, 2, NULL, 0, out, &err), ML_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "given twice"));
  assert_null(out[0]);
  assert_null(out[1]);
  /* NULL err is allowed */
  assert_int_equal(ml_names_assign(twice, 2, NULL, 0, out, NULL), ML_ERR_CONFIG);
}

/* ---- fixture catalogs ---- */

static void test_fixture_edge_case(void **state) {
  (void)state;
  ml_catalog c;
  ml_err err;
  assert_int_equal(ml_catalog_load(FIX "/edge_case/configured_catalog.json", NULL, &c, &err), ML_OK);
  assert_int_equal(c.n_streams, 16);
  static const struct {
    const char *name, *table;
  } tables[] = {
      {"stream_with_nested_objects", "stream_with_nested_objects"},
      {"streamWithCamelCase", "streamwithcamelcase"},
      {"stream_with_underscores", "stream_with_underscores"},
      {"STREAM_WITH_ALL_CAPS", "stream_with_all_caps"},
      {"stream_with_edge_case_field_names", "stream_with_edge_case_field_names"},
      {"stream-with:sp\xc3\xa9" "cial:character_names", "stream_with_sp_cial_character_names"},
      {"CapitalCase", "capitalcase"},
      {"reserved_keywords", "reserved_keywords"},
      {"groups", "groups"},
      {"ProperCase", "propercase"},
      {"stream_name", "stream_name"},
      {"stream_name_next", "stream_name_next"},
      {"stream_with_binary_data", "stream_with_binary_data"},
      {"stream_with_dates", "stream_with_dates"},
      {"stream_with_nested_dates", "stream_with_nested_dates"},
      {"stream_with_same_names_different_datatype", "stream_with_same_names_different_datatype"},
  };
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    const ml_stream_def *s = &c.streams[i]; /* catalog order is kept */
    assert_string_equal(s->name, tables[i].name);
    assert_string_equal(s->table, tables[i].table);
    assert_string_equal(s->schema, "main");
    assert_null(s->ns);
    assert_int_equal(s->mode, ML_MODE_APPEND);
    assert_int_equal(s->n_primary_key, 0);
    assert_int_equal(s->cursor.n, 0);
    assert_true(find(&c, NULL, tables[i].name) == s);
  }
  const ml_stream_def *s;
  s = find(&c, NULL, "stream_with_nested_objects");
  assert_int_equal(s->n_fields, 1);
  assert_field(s, "nested_object", "nested_object", ML_TYPE_JSON);
  assert_field(find(&c, NULL, "streamWithCamelCase"), "data", "data", ML_TYPE_VARCHAR);
  assert_field(find(&c, NULL, "stream_with_underscores"), "data", "data", ML_TYPE_VARCHAR);
  assert_field(find(&c, NULL, "STREAM_WITH_ALL_CAPS"), "data", "data", ML_TYPE_VARCHAR);
  s = find(&c, NULL, "stream_with_edge_case_field_names");
  assert_int_equal(s->n_fields, 3);
  assert_string_equal(s->fields[0].source, "fieldWithCamelCase");
  assert_string_equal(s->fields[1].source, "field_with_underscore");
  assert_string_equal(s->fields[2].source, "FIELD_WITH_ALL_CAPS");
  assert_field(s, "fieldWithCamelCase", "fieldwithcamelcase", ML_TYPE_VARCHAR);
  assert_field(s, "field_with_underscore", "field_with_underscore", ML_TYPE_VARCHAR);
  assert_field(s, "FIELD_WITH_ALL_CAPS", "field_with_all_caps", ML_TYPE_VARCHAR);
  s = find(&c, NULL, "stream-with:sp\xc3\xa9" "cial:character_names");
  assert_field(s, "field_with_sp\xc3\xa9" "cial_character", "field_with_sp_cial_character", ML_TYPE_VARCHAR);
  assert_field(find(&c, NULL, "CapitalCase"), "deleted", "deleted", ML_TYPE_BOOLEAN);
  assert_field(find(&c, NULL, "reserved_keywords"), "order", "order", ML_TYPE_VARCHAR);
  assert_field(find(&c, NULL, "groups"), "authorization", "authorization", ML_TYPE_VARCHAR);
  assert_field(find(&c, NULL, "ProperCase"), "ProperCase", "propercase", ML_TYPE_BOOLEAN);
  s = find(&c, NULL, "stream_name");
  assert_int_equal(s->n_fields, 3);
  assert_field(s, "some_id", "some_id", ML_TYPE_BIGINT);
  assert_field(s, "some_field", "some_field", ML_TYPE_VARCHAR);
  assert_field(s, "some_next_field", "some_next_field", ML_TYPE_VARCHAR);
  s = find(&c, NULL, "stream_name_next");
  assert_field(s, "some_id", "some_id", ML_TYPE_BIGINT);
  assert_field(s, "next_field_name", "next_field_name", ML_TYPE_VARCHAR);
  s = find(&c, NULL, "stream_with_binary_data");
  assert_field(s, "some_id", "some_id", ML_TYPE_BIGINT);
  assert_field(s, "binary_field_name", "binary_field_name", ML_TYPE_BLOB);
  assert_true(field(s, "binary_field_name")->base64);
  assert_false(field(s, "some_id")->base64);
  s = find(&c, NULL, "stream_with_dates");
  assert_field(s, "date", "date", ML_TYPE_DATE);
  assert_field(s, "datetime", "datetime", ML_TYPE_TIMESTAMPTZ);
  s = find(&c, NULL, "stream_with_nested_dates");
  assert_field(s, "nested_object", "nested_object", ML_TYPE_JSON);
  assert_field(s, "datetime_nested", "datetime_nested", ML_TYPE_TIMESTAMPTZ);
  s = find(&c, NULL, "stream_with_same_names_different_datatype");
  assert_field(s, "object", "object", ML_TYPE_JSON);
  assert_field(s, "created_at", "created_at", ML_TYPE_DATE);
  ml_catalog_free(&c);
}

static void test_fixture_seed_example(void **state) {
  (void)state;
  ml_catalog c;
  ml_err err;
  assert_int_equal(ml_catalog_load(FIX "/seed_example/configured_catalog.json", "main", &c, &err), ML_OK);
  assert_int_equal(c.n_streams, 1);
  const ml_stream_def *s = find(&c, NULL, "airbyte_acceptance_table");
  assert_string_equal(s->table, "airbyte_acceptance_table");
  assert_int_equal(s->mode, ML_MODE_OVERWRITE);
  assert_int_equal(s->n_fields, 5);
  static const char *order[] = {"column1", "column2", "column3", "column4", "column5"};
  for (int i = 0; i < 5; i++) assert_string_equal(s->fields[i].source, order[i]);
  assert_field(s, "column1", "column1", ML_TYPE_VARCHAR);
  assert_field(s, "column2", "column2", ML_TYPE_DOUBLE);
  assert_field(s, "column3", "column3", ML_TYPE_TIMESTAMP);
  assert_field(s, "column4", "column4", ML_TYPE_DOUBLE);
  assert_field(s, "column5", "column5", ML_TYPE_JSON);
  assert_int_equal(s->generation_id, 0);
  assert_int_equal(s->minimum_generation_id, 0);
  assert_int_equal(s->sync_id, 0);
  ml_catalog_free(&c);
}

static void test_fixture_exchange_rate(void **state) {
  (void)state;
  ml_catalog c;
  ml_err err;
  assert_int_equal(ml_catalog_load(FIX "/exchange_rate/configured_catalog.json", "Analytics", &c, &err), ML_OK);
  const ml_stream_def *s = find(&c, NULL, "exchange_rate");
  assert_string_equal(s->schema, "analytics"); /* the default schema is normalised too */
  assert_string_equal(s->table, "exchange_rate");
  assert_int_equal(s->n_fields, 5);
  assert_field(s, "currency", "currency", ML_TYPE_VARCHAR);
  assert_field(s, "date", "date", ML_TYPE_VARCHAR);
  assert_field(s, "HKD", "hkd", ML_TYPE_DOUBLE);
  assert_field(s, "NZD", "nzd", ML_TYPE_DOUBLE);
  assert_field(s, "USD", "usd", ML_TYPE_DOUBLE);
  ml_catalog_free(&c);
}

/* ---- type mapping ---- */

static void test_type_mapping(void **state) {
  (void)state;
  char *json = one_stream("{"
                          "\"s\":{\"type\":\"string\"},"
                          "\"s_null\":{\"type\":[\"null\",\"string\"]},"
                          "\"d\":{\"type\":\"string\",\"format\":\"date\"},"
                          "\"d_null\":{\"type\":[\"null\",\"string\"],\"format\":\"date\"},"
                          "\"ts\":{\"type\":\"string\",\"format\":\"date-time\"},"
                          "\"ts_datetime\":{\"type\":\"string\",\"format\":\"datetime\"},"
                          "\"ts_timestamp\":{\"type\":\"string\",\"format\":\"timestamp\"},"
                          "\"ts_tz\":{\"type\":\"string\",\"format\":\"date-time\","
                          "\"airbyte_type\":\"timestamp_with_timezone\"},"
                          "\"ts_ntz\":{\"type\":\"string\",\"format\":\"date-time\","
                          "\"airbyte_type\":\"timestamp_without_timezone\"},"
                          "\"at_tz\":{\"type\":\"string\",\"airbyte_type\":\"timestamp_with_timezone\"},"
                          "\"at_ntz\":{\"type\":\"string\",\"airbyte_type\":\"timestamp_without_timezone\"},"
                          "\"at_only\":{\"airbyte_type\":\"timestamp_with_timezone\"},"
                          "\"t\":{\"type\":\"string\",\"format\":\"time\"},"
                          "\"t_ntz\":{\"type\":\"string\",\"format\":\"time\","
                          "\"airbyte_type\":\"time_without_timezone\"},"
                          "\"t_tz\":{\"type\":\"string\",\"format\":\"time\",\"airbyte_type\":\"time_with_timezone\"},"
                          "\"i\":{\"type\":\"integer\"},"
                          "\"i_null\":{\"type\":[\"integer\",\"null\"]},"
                          "\"i_at\":{\"type\":\"number\",\"airbyte_type\":\"integer\"},"
                          "\"i_big\":{\"type\":\"string\",\"airbyte_type\":\"big_integer\"},"
                          "\"n\":{\"type\":\"number\"},"
                          "\"b\":{\"type\":\"boolean\"},"
                          "\"o\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"integer\"}}},"
                          "\"a\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},"
                          "\"one_of\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]},"
                          "\"any_of\":{\"anyOf\":[{\"type\":\"string\"}]},"
                          "\"all_of\":{\"allOf\":[{\"type\":\"string\"}]},"
                          "\"multi\":{\"type\":[\"string\",\"integer\"]},"
                          "\"multi_null\":{\"type\":[\"null\",\"string\",\"integer\"]},"
                          "\"only_null\":{\"type\":\"null\"},"
                          "\"no_type\":{\"description\":\"anything\"},"
                          "\"empty\":{},"
                          "\"true_schema\":true,"
                          "\"unknown_type\":{\"type\":\"decimal\"},"
                          "\"bad_type\":{\"type\":7},"
                          "\"blob\":{\"type\":\"string\",\"contentEncoding\":\"base64\"},"
                          "\"blob_null\":{\"type\":[\"null\",\"string\"],\"contentEncoding\":\"base64\"},"
                          "\"other_enc\":{\"type\":\"string\",\"contentEncoding\":\"7bit\"},"
                          "\"other_fmt\":{\"type\":\"string\",\"format\":\"email\"}"
                          "}");
  ml_catalog c = parse_ok(json, NULL);
  const ml_stream_def *s = find(&c, NULL, "s");
  static const struct {
    const char *f;
    ml_type_id t;
  } want[] = {
      {"s", ML_TYPE_VARCHAR},          {"s_null", ML_TYPE_VARCHAR},      {"d", ML_TYPE_DATE},
      {"d_null", ML_TYPE_DATE},        {"ts", ML_TYPE_TIMESTAMPTZ},      {"ts_datetime", ML_TYPE_TIMESTAMPTZ},
      {"ts_timestamp", ML_TYPE_TIMESTAMPTZ}, {"ts_tz", ML_TYPE_TIMESTAMPTZ}, {"ts_ntz", ML_TYPE_TIMESTAMP},
      {"at_tz", ML_TYPE_TIMESTAMPTZ},  {"at_ntz", ML_TYPE_TIMESTAMP},    {"at_only", ML_TYPE_TIMESTAMPTZ},
      {"t", ML_TYPE_TIMETZ},           {"t_ntz", ML_TYPE_TIME},          {"t_tz", ML_TYPE_TIMETZ},
      {"i", ML_TYPE_BIGINT},           {"i_null", ML_TYPE_BIGINT},       {"i_at", ML_TYPE_BIGINT},
      {"i_big", ML_TYPE_DECIMAL},      {"n", ML_TYPE_DOUBLE},            {"b", ML_TYPE_BOOLEAN},
      {"o", ML_TYPE_JSON},             {"a", ML_TYPE_JSON},              {"one_of", ML_TYPE_JSON},
      {"any_of", ML_TYPE_JSON},        {"all_of", ML_TYPE_JSON},         {"multi", ML_TYPE_JSON},
      {"multi_null", ML_TYPE_JSON},    {"only_null", ML_TYPE_JSON},      {"no_type", ML_TYPE_JSON},
      {"empty", ML_TYPE_JSON},         {"true_schema", ML_TYPE_JSON},    {"unknown_type", ML_TYPE_JSON},
      {"bad_type", ML_TYPE_JSON},      {"blob", ML_TYPE_BLOB},           {"blob_null", ML_TYPE_BLOB},
      {"other_enc", ML_TYPE_VARCHAR},  {"other_fmt", ML_TYPE_VARCHAR},
  };
  assert_int_equal(s->n_fields, sizeof want / sizeof want[0]);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    assert_string_equal(s->fields[i].source, want[i].f); /* catalog order */
    assert_field(s, want[i].f, want[i].f, want[i].t);
    bool b64 = !strcmp(want[i].f, "blob") || !strcmp(want[i].f, "blob_null");
    assert_int_equal(s->fields[i].base64, b64);
  }
  /* big_integer holds 38 digits (BIGINT would NULL anything past 19) */
  assert_int_equal(field(s, "i_big")->type.width, 38);
  assert_int_equal(field(s, "i_big")->type.scale, 0);
  ml_catalog_free(&c);
  free(json);
}

static void test_type_mapping_v1_refs(void **state) {
  (void)state;
  char *json = one_stream("{"
                          "\"str\":{\"$ref\":\"WellKnownTypes.json#/definitions/String\"},"
                          "\"bin\":{\"$ref\":\"WellKnownTypes.json#/definitions/BinaryData\"},"
                          "\"bool\":{\"$ref\":\"WellKnownTypes.json#/definitions/Boolean\"},"
                          "\"date\":{\"$ref\":\"WellKnownTypes.json#/definitions/Date\"},"
                          "\"tstz\":{\"$ref\":\"WellKnownTypes.json#/definitions/TimestampWithTimezone\"},"
                          "\"ts\":{\"$ref\":\"WellKnownTypes.json#/definitions/TimestampWithoutTimezone\"},"
                          "\"ttz\":{\"$ref\":\"WellKnownTypes.json#/definitions/TimeWithTimezone\"},"
                          "\"t\":{\"$ref\":\"WellKnownTypes.json#/definitions/TimeWithoutTimezone\"},"
                          "\"num\":{\"$ref\":\"WellKnownTypes.json#/definitions/Number\"},"
                          "\"int\":{\"$ref\":\"WellKnownTypes.json#/definitions/Integer\"},"
                          "\"noslash\":{\"$ref\":\"WellKnownTypes.json#definitions/Integer\"},"
                          "\"dir\":{\"$ref\":\"schemas/WellKnownTypes.json#/definitions/Date\"},"
                          "\"unknown\":{\"$ref\":\"WellKnownTypes.json#/definitions/Uuid\"},"
                          "\"other_file\":{\"$ref\":\"Other.json#/definitions/Integer\"},"
                          "\"not_a_file\":{\"$ref\":\"MyWellKnownTypes.json#/definitions/Integer\"},"
                          "\"ref_wins\":{\"$ref\":\"WellKnownTypes.json#/definitions/Integer\",\"type\":\"string\"}"
                          "}");
  ml_catalog c = parse_ok(json, NULL);
  const ml_stream_def *s = find(&c, NULL, "s");
  assert_field(s, "str", "str", ML_TYPE_VARCHAR);
  assert_field(s, "bin", "bin", ML_TYPE_BLOB);
  assert_true(field(s, "bin")->base64);
  assert_field(s, "bool", "bool", ML_TYPE_BOOLEAN);
  assert_field(s, "date", "date", ML_TYPE_DATE);
  assert_field(s, "tstz", "tstz", ML_TYPE_TIMESTAMPTZ);
  assert_field(s, "ts", "ts", ML_TYPE_TIMESTAMP);
  assert_field(s, "ttz", "ttz", ML_TYPE_TIMETZ);
  assert_field(s, "t", "t", ML_TYPE_TIME);
  assert_field(s, "num", "num", ML_TYPE_DOUBLE);
  assert_field(s, "int", "int", ML_TYPE_BIGINT);
  assert_field(s, "noslash", "noslash", ML_TYPE_BIGINT);
  assert_field(s, "dir", "dir", ML_TYPE_DATE);
  assert_field(s, "unknown", "unknown", ML_TYPE_JSON);
  assert_field(s, "other_file", "other_file", ML_TYPE_JSON);
  assert_field(s, "not_a_file", "not_a_file", ML_TYPE_JSON);
  assert_field(s, "ref_wins", "ref_wins", ML_TYPE_BIGINT);
  assert_false(field(s, "int")->base64);
  ml_catalog_free(&c);
  free(json);
}

/* ---- column and table collisions ---- */

static void test_column_collisions(void **state) {
  (void)state;
  char *json = one_stream("{\"Data\":{\"type\":\"string\"},\"data\":{\"type\":\"integer\"},"
                          "\"DATA\":{\"type\":\"boolean\"},\"_airbyte_raw_id\":{\"type\":\"string\"},"
                          "\"_airbyte_extracted_at\":{},\"_Airbyte_Meta\":{},\"_airbyte_generation_id\":{},"
                          "\"_airbyte_ab_id\":{}}");
  ml_catalog c = parse_ok(json, NULL);
  const ml_stream_def *s = find(&c, NULL, "s");
  char want[64];
  assert_int_equal(s->n_fields, 8);
  suffixed(want, sizeof want, "data", "Data", 8);
  assert_field(s, "Data", want, ML_TYPE_VARCHAR);
  assert_field(s, "data", "data", ML_TYPE_BIGINT);
  suffixed(want, sizeof want, "data", "DATA", 8);
  assert_field(s, "DATA", want, ML_TYPE_BOOLEAN);
  suffixed(want, sizeof want, "_airbyte_raw_id", "_airbyte_raw_id", 8);
  assert_field(s, "_airbyte_raw_id", want, ML_TYPE_VARCHAR);
  suffixed(want, sizeof want, "_airbyte_extracted_at", "_airbyte_extracted_at", 8);
  assert_field(s, "_airbyte_extracted_at", want, ML_TYPE_JSON);
  suffixed(want, sizeof want, "_airbyte_meta", "_Airbyte_Meta", 8);
  assert_field(s, "_Airbyte_Meta", want, ML_TYPE_JSON);
  suffixed(want, sizeof want, "_airbyte_generation_id", "_airbyte_generation_id", 8);
  assert_field(s, "_airbyte_generation_id", want, ML_TYPE_JSON);
  /* only the typed table's metadata columns are reserved */
  assert_field(s, "_airbyte_ab_id", "_airbyte_ab_id", ML_TYPE_JSON);
  ml_catalog_free(&c);
  free(json);

  /* the same properties in another order give the same columns */
  json = one_stream("{\"DATA\":{\"type\":\"boolean\"},\"data\":{\"type\":\"integer\"},\"Data\":{}}");
  c = parse_ok(json, NULL);
  s = find(&c, NULL, "s");
  assert_string_equal(s->fields[0].source, "DATA");
  suffixed(want, sizeof want, "data", "DATA", 8);
  assert_field(s, "DATA", want, ML_TYPE_BOOLEAN);
  assert_field(s, "data", "data", ML_TYPE_BIGINT);
  suffixed(want, sizeof want, "data", "Data", 8);
  assert_field(s, "Data", want, ML_TYPE_JSON);
  ml_catalog_free(&c);
  free(json);

  /* a property given twice: one field, the last definition */
  json = one_stream("{\"x\":{\"type\":\"string\"},\"y\":{\"type\":\"boolean\"},\"x\":{\"type\":\"integer\"}}");
  c = parse_ok(json, NULL);
  s = find(&c, NULL, "s");
  assert_int_equal(s->n_fields, 2);
  assert_string_equal(s->fields[0].source, "y");
  assert_field(s, "x", "x", ML_TYPE_BIGINT);
  ml_catalog_free(&c);
  free(json);
}

static const char *table_of(const ml_catalog *c, const char *ns, const char *name) {
  return find(c, ns, name)->table;
}

static void test_table_collisions(void **state) {
  (void)state;
  static const char *cat_ab =
      "{\"streams\":["
      "{\"stream\":{\"name\":\"a-b\",\"namespace\":\"public\",\"json_schema\":{}}},"
      "{\"stream\":{\"name\":\"a_b\",\"namespace\":\"public\",\"json_schema\":{}}},"
      "{\"stream\":{\"name\":\"a-b\",\"namespace\":\"other\",\"json_schema\":{}}},"
      "{\"stream\":{\"name\":\"A-B\",\"json_schema\":{}}}"
      "]}";
  static const char *cat_ba = /* the same streams, reversed */
      "{\"streams\":["
      "{\"stream\":{\"name\":\"A-B\",\"json_schema\":{}}},"
      "{\"stream\":{\"name\":\"a-b\",\"namespace\":\"other\",\"json_schema\":{}}},"
      "{\"stream\":{\"name\":\"a_b\",\"namespace\":\"public\",\"json_schema\":{}}},"
      "{\"stream\":{\"name\":\"a-b\",\"namespace\":\"public\",\"json_schema\":{}}}"
      "]}";
  char want[64];
  suffixed(want, sizeof want, "a_b", "a-b", 8);
  for (int k = 0; k < 2; k++) {
    ml_catalog c = parse_ok(k ? cat_ba : cat_ab, NULL);
    assert_string_equal(table_of(&c, "public", "a_b"), "a_b");
    assert_string_equal(table_of(&c, "public", "a-b"), want);
    assert_string_equal(find(&c, "public", "a-b")->schema, "public");
    /* other schemas: no collision, plain names */
    assert_string_equal(table_of(&c, "other", "a-b"), "a_b");
    assert_string_equal(find(&c, "other", "a-b")->schema, "other");
    assert_string_equal(table_of(&c, NULL, "A-B"), "a_b");
    assert_string_equal(find(&c, NULL, "A-B")->schema, "main");
    ml_catalog_free(&c);
  }

  /* namespaces that normalise alike share a schema; equal stream names in it
   * are told apart by a hash that covers the namespace */
  static const char *cat_ns =
      "{\"streams\":["
      "{\"stream\":{\"name\":\"users\",\"namespace\":\"Public\",\"json_schema\":{}}},"
      "{\"stream\":{\"name\":\"users\",\"namespace\":\"public\",\"json_schema\":{}}},"
      "{\"stream\":{\"name\":\"users\",\"json_schema\":{}}}"
      "]}";
  ml_catalog c = parse_ok(cat_ns, "public");
  assert_string_equal(find(&c, "Public", "users")->schema, "public");
  assert_string_equal(find(&c, "public", "users")->schema, "public");
  assert_string_equal(find(&c, NULL, "users")->schema, "public");
  /* keeper: the smallest (name, namespace) with no namespace smallest */
  assert_string_equal(table_of(&c, NULL, "users"), "users");
  char hk[64];
  suffixed(hk, sizeof hk, "users", "Public.users", 8);
  assert_string_equal(table_of(&c, "Public", "users"), hk);
  suffixed(hk, sizeof hk, "users", "public.users", 8);
  assert_string_equal(table_of(&c, "public", "users"), hk);
  ml_catalog_free(&c);

  /* a namespace is normalised into the schema name */
  c = parse_ok("{\"streams\":[{\"stream\":{\"name\":\"x\",\"namespace\":\"My-Schema\",\"json_schema\":{}}},"
               "{\"stream\":{\"name\":\"y\",\"namespace\":\"\",\"json_schema\":{}}}]}",
               "");
  assert_string_equal(find(&c, "My-Schema", "x")->schema, "my_schema");
  assert_string_equal(find(&c, "My-Schema", "x")->ns, "My-Schema");
  assert_null(find(&c, NULL, "y")->ns); /* "" is no namespace */
  assert_string_equal(find(&c, NULL, "y")->schema, "main");
  ml_catalog_free(&c);
}

/* ---- stream settings ---- */

static void test_stream_settings(void **state) {
  (void)state;
  static const char *json =
      "{\"unknown_top\":1,\"streams\":["
      "{\"stream\":{\"name\":\"a\",\"namespace\":\"ns\",\"json_schema\":{\"properties\":{\"id\":{},\"user\":{},\"updated_at\":{}}},\"x\":[]},"
      " \"destination_sync_mode\":\"append_dedup\",\"sync_mode\":\"incremental\",\"primary_key\":[[\"id\"],"
      "[\"user\",\"id\"]],\"cursor_field\":[\"updated_at\"],\"generation_id\":7,\"minimum_generation_id\":7,"
      "\"sync_id\":42,\"unknown\":{\"deep\":[1,2]}},"
      "{\"stream\":{\"name\":\"b\",\"json_schema\":{}},\"destination_sync_mode\":\"update\",\"primary_key\":[[\"k\"]]},"
      "{\"stream\":{\"name\":\"d\",\"json_schema\":{}},\"destination_sync_mode\":\"overwrite\","
      " \"generation_id\":null,\"primary_key\":null,\"cursor_field\":null},"
      "{\"stream\":{\"name\":\"e\",\"json_schema\":{}}},"
      "{\"stream\":{\"name\":\"f\",\"json_schema\":{},\"source_defined_primary_key\":[[\"sid\"]],"
      "\"default_cursor_field\":[\"ts\"]},\"destination_sync_mode\":\"append_dedup\",\"primary_key\":[]},"
      "{\"stream\":{\"name\":\"g\",\"json_schema\":{},\"source_defined_primary_key\":[[\"sid\"]]},"
      " \"primary_key\":[[\"mine\"]],\"cursor_field\":\"flat\"},"
      "{\"stream\":{\"name\":\"h\",\"json_schema\":{\"properties\":null}},\"primary_key\":[\"bare\"]}"
      "]}";
  ml_catalog c = parse_ok(json, NULL);
  assert_int_equal(c.n_streams, 7);
  const ml_stream_def *a = find(&c, "ns", "a");
  assert_string_equal(a->ns, "ns");
  assert_int_equal(a->mode, ML_MODE_APPEND_DEDUP);
  assert_int_equal(a->n_primary_key, 2);
  assert_int_equal(a->primary_key[0].n, 1);
  assert_string_equal(a->primary_key[0].parts[0], "id");
  assert_int_equal(a->primary_key[1].n, 2);
  assert_string_equal(a->primary_key[1].parts[0], "user");
  assert_string_equal(a->primary_key[1].parts[1], "id");
  assert_int_equal(a->cursor.n, 1);
  assert_string_equal(a->cursor.parts[0], "updated_at");
  assert_int_equal(a->generation_id, 7);
  assert_int_equal(a->minimum_generation_id, 7);
  assert_int_equal(a->sync_id, 42);
  assert_int_equal(find(&c, NULL, "b")->mode, ML_MODE_APPEND_DEDUP);
  const ml_stream_def *d = find(&c, NULL, "d");
  assert_int_equal(d->mode, ML_MODE_OVERWRITE);
  assert_int_equal(d->generation_id, 0);
  assert_int_equal(d->n_primary_key, 0);
  assert_int_equal(d->n_fields, 0);
  const ml_stream_def *e = find(&c, NULL, "e");
  assert_int_equal(e->mode, ML_MODE_APPEND);
  assert_null(e->primary_key);
  /* source defaults fill an empty configured key/cursor */
  const ml_stream_def *f = find(&c, NULL, "f");
  assert_int_equal(f->n_primary_key, 1);
  assert_string_equal(f->primary_key[0].parts[0], "sid");
  assert_string_equal(f->cursor.parts[0], "ts");
  const ml_stream_def *g = find(&c, NULL, "g");
  assert_string_equal(g->primary_key[0].parts[0], "mine");
  assert_int_equal(g->cursor.n, 1);
  assert_string_equal(g->cursor.parts[0], "flat");
  const ml_stream_def *h = find(&c, NULL, "h");
  assert_int_equal(h->n_primary_key, 1);
  assert_string_equal(h->primary_key[0].parts[0], "bare");

  assert_string_equal(ml_sync_mode_name(ML_MODE_APPEND), "append");
  assert_string_equal(ml_sync_mode_name(ML_MODE_OVERWRITE), "overwrite");
  assert_string_equal(ml_sync_mode_name(ML_MODE_APPEND_DEDUP), "append_dedup");
  ml_catalog_free(&c);
}

static void test_find(void **state) {
  (void)state;
  ml_catalog c = parse_ok("{\"streams\":[{\"stream\":{\"name\":\"u\",\"json_schema\":{}}},"
                          "{\"stream\":{\"name\":\"u\",\"namespace\":\"n\",\"json_schema\":{}}}]}",
                          NULL);
  assert_true(ml_catalog_find(&c, NULL, "u") == &c.streams[0]);
  assert_true(ml_catalog_find(&c, "", "u") == &c.streams[0]);
  assert_true(ml_catalog_find(&c, "n", "u") == &c.streams[1]);
  assert_null(ml_catalog_find(&c, "N", "u"));
  assert_null(ml_catalog_find(&c, "other", "u"));
  assert_null(ml_catalog_find(&c, NULL, "U"));
  assert_null(ml_catalog_find(&c, NULL, "v"));
  assert_null(ml_catalog_find(&c, NULL, NULL));
  ml_catalog_free(&c);
  ml_catalog_free(&c); /* freeing twice is harmless */

  c = parse_ok("{\"streams\":[]}", NULL);
  assert_int_equal(c.n_streams, 0);
  assert_null(ml_catalog_find(&c, NULL, "u"));
  ml_catalog_free(&c);
}

static void test_catalog_errors(void **state) {
  (void)state;
  parse_fails("{\"streams\":[", "configured catalog is not valid JSON (line 1, column");
  parse_fails("", "configured catalog is not valid JSON");
  parse_fails("[]", "configured catalog must be a JSON object");
  parse_fails("{}", "configured catalog has no \"streams\" list");
  parse_fails("{\"streams\":{}}", "configured catalog has no \"streams\" list");
  parse_fails("{\"streams\":[1]}", "streams[0] is not an object");
  parse_fails("{\"streams\":[{}]}", "streams[0] has no \"stream\" object");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"a\",\"json_schema\":{}}},{\"stream\":{\"json_schema\":{}}}]}",
              "streams[1]: stream has no \"name\"");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":3,\"json_schema\":{}}}]}",
              "streams[0]: stream \"name\" must be a string");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"\",\"json_schema\":{}}}]}", "streams[0]: stream name is empty");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"a\\u0000b\",\"json_schema\":{}}}]}", "NUL");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"a\",\"namespace\":1,\"json_schema\":{}}}]}",
              "stream \"a\": namespace must be a string");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\"}}]}", "stream \"users\" has no json_schema");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"namespace\":\"p\"}}]}",
              "stream \"users\" (namespace \"p\") has no json_schema");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":true}}]}",
              "stream \"users\": json_schema must be an object");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{\"properties\":[]}}}]}",
              "stream \"users\": json_schema \"properties\" must be an object");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{\"properties\":{\"\":{}}}}}]}",
              "stream \"users\": a property in json_schema has an empty name");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{\"properties\":{\"a\\u0000\":{}}}}}]}",
              "stream \"users\": property \"a\" has a NUL character in its name");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"destination_sync_mode\":\"upsert\"}]}",
              "stream \"users\": unknown destination_sync_mode \"upsert\" (expected append, overwrite, "
              "append_dedup or update)");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"destination_sync_mode\":\"soft_delete\"}]}",
              "stream \"users\": destination_sync_mode \"soft_delete\" is not supported by mallard");
  /* keys the schema does not declare: at start, with the near match */
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{\"properties\":{\"id\":{},\"ts\":{}}}},"
              "\"destination_sync_mode\":\"append_dedup\",\"primary_key\":[[\"Id\"]],\"cursor_field\":[\"ts\"]}]}",
              "stream \"users\": primary_key field \"Id\" is not a property of the stream's json_schema (did you mean \"id\"?)");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{\"properties\":{\"id\":{},\"ts\":{}}}},"
              "\"destination_sync_mode\":\"append_dedup\",\"primary_key\":[[\"id\"]],\"cursor_field\":[\"updated\"]}]}",
              "stream \"users\": cursor_field \"updated\" is not a property of the stream's json_schema");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"destination_sync_mode\":1}]}",
              "stream \"users\": destination_sync_mode must be a string");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},"
              "\"destination_sync_mode\":\"append_dedup\"}]}",
              "stream \"users\": destination_sync_mode \"append_dedup\" needs a primary_key");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},"
              "\"destination_sync_mode\":\"update\",\"primary_key\":[]}]}",
              "stream \"users\": destination_sync_mode \"update\" needs a primary_key");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"primary_key\":\"id\"}]}",
              "stream \"users\": primary_key must be a list of field paths, e.g. [[\"id\"]]");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"primary_key\":[[]]}]}",
              "stream \"users\": primary_key[0] is an empty path");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"primary_key\":[[\"a\"],[1]]}]}",
              "stream \"users\": primary_key[1] must be a list of field names (strings)");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"primary_key\":[{}]}]}",
              "stream \"users\": primary_key[0] must be a list of field names");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"primary_key\":[[\"\"]]}]}",
              "stream \"users\": primary_key[0] contains an empty or invalid field name");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"cursor_field\":[2]}]}",
              "stream \"users\": cursor_field must be a list of field names (strings)");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"cursor_field\":{}}]}",
              "stream \"users\": cursor_field must be a list of field names");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"generation_id\":\"1\"}]}",
              "stream \"users\": generation_id must be a non-negative integer");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"minimum_generation_id\":-1}]}",
              "stream \"users\": minimum_generation_id must be a non-negative integer");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}},\"sync_id\":1.5}]}",
              "stream \"users\": sync_id must be a non-negative integer");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"namespace\":\"p\",\"json_schema\":{}}},"
              "{\"stream\":{\"name\":\"users\",\"namespace\":\"p\",\"json_schema\":{}}}]}",
              "stream \"users\" (namespace \"p\") appears twice in the catalog");
  parse_fails("{\"streams\":[{\"stream\":{\"name\":\"users\",\"json_schema\":{}}},"
              "{\"stream\":{\"name\":\"users\",\"namespace\":\"\",\"json_schema\":{}}}]}",
              "stream \"users\" appears twice in the catalog");

  ml_catalog c;
  ml_err err;
  assert_int_equal(ml_catalog_load(FIX "/no/such/catalog.json", NULL, &c, &err), ML_ERR_IO);
  assert_non_null(strstr(err.msg, "no/such/catalog.json"));
  assert_null(c.streams);
  /* a NULL err is allowed */
  assert_int_equal(ml_catalog_parse("{", 1, NULL, &c, NULL), ML_ERR_CONFIG);
  assert_int_equal(ml_catalog_parse("{}", 2, NULL, &c, NULL), ML_ERR_CONFIG);
}

/* ---- config ---- */

static ml_dest_config config_ok(const char *json, const char *env) {
  ml_dest_config cfg;
  ml_err err;
  ml_err_clear(&err);
  if (ml_dest_config_parse(json, strlen(json), env, &cfg, &err) != ML_OK) fail_msg("config failed: %s", err.msg);
  return cfg;
}

static void config_fails(const char *json, const char *needle) {
  ml_dest_config cfg;
  ml_err err;
  ml_err_clear(&err);
  ml_status st = ml_dest_config_parse(json, strlen(json), "/tmp/airbyte_local", &cfg, &err);
  if (st == ML_OK) {
    ml_dest_config_free(&cfg);
    fail_msg("config parsed but should fail with \"%s\": %s", needle, json);
  }
  assert_int_equal(st, ML_ERR_CONFIG);
  if (!strstr(err.msg, needle)) fail_msg("error \"%s\" does not contain \"%s\"", err.msg, needle);
  assert_null(cfg.destination_path);
  assert_null(cfg.schema);
  assert_null(cfg.local_root);
}

/* dest resolves to want outside a container and (unless want_in is NULL,
 * an error) to want_in inside one. */
static void assert_resolves_in(const char *dest, const char *root, const char *want, const char *want_in) {
  char json[512];
  snprintf(json, sizeof json, "{\"destination_path\":\"%s\",\"local_root\":\"%s\"}", dest, root);
  ml_dest_config cfg = config_ok(json, NULL);
  assert_string_equal(cfg.destination_path, want);
  ml_dest_config_free(&cfg);
  ml_dest_env in = {.local_root = NULL, .in_container = true};
  ml_err err;
  ml_err_clear(&err);
  ml_status st = ml_dest_config_parse_env(json, strlen(json), &in, &cfg, &err);
  if (want_in) {
    if (st != ML_OK) fail_msg("in a container, %s failed: %s", dest, err.msg);
    assert_string_equal(cfg.destination_path, want_in);
    ml_dest_config_free(&cfg);
  } else {
    if (st == ML_OK) fail_msg("in a container, %s should fail but gave %s", dest, cfg.destination_path);
    assert_int_equal(st, ML_ERR_CONFIG);
    char want_msg[300];
    snprintf(want_msg, sizeof want_msg, "destination_path \"%s\" is not under /local: in the container only /local "
             "is kept", dest);
    if (!strstr(err.msg, want_msg)) fail_msg("error \"%s\" does not contain \"%s\"", err.msg, want_msg);
    assert_null(cfg.destination_path);
  }
}

/* the same in and out of a container */
static void assert_resolves(const char *dest, const char *root, const char *want) {
  assert_resolves_in(dest, root, want, want);
}

static void test_config_defaults(void **state) {
  (void)state;
  ml_dest_config cfg = config_ok("{\"destination_path\":\"/local/destination.duckdb\",\"motherduck_api_key\":\"\"}",
                                 "/tmp/airbyte_local");
  assert_string_equal(cfg.destination_path, "/tmp/airbyte_local/destination.duckdb");
  assert_string_equal(cfg.local_root, "/tmp/airbyte_local");
  assert_string_equal(cfg.schema, "main");
  assert_false(cfg.raw_tables);
  assert_int_equal(cfg.commit_interval_ms, 1000);
  ml_dest_config_free(&cfg);
  ml_dest_config_free(&cfg); /* harmless twice */

  /* without env and key: /local inside the container, else /tmp/airbyte_local */
  cfg = config_ok("{\"destination_path\":\"x.duckdb\"}", NULL);
  struct stat sb;
  const char *want_root = stat("/local", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/local" : "/tmp/airbyte_local";
  assert_string_equal(cfg.local_root, want_root);
  ml_dest_config_free(&cfg);
  /* an empty env value counts as unset */
  cfg = config_ok("{\"destination_path\":\"x.duckdb\"}", "");
  assert_string_equal(cfg.local_root, want_root);
  ml_dest_config_free(&cfg);
  /* the key beats the environment */
  cfg = config_ok("{\"destination_path\":\"x.duckdb\",\"local_root\":\"/data\"}", "/env");
  assert_string_equal(cfg.destination_path, "/data/x.duckdb");
  ml_dest_config_free(&cfg);
  cfg = config_ok("{\"destination_path\":\"x.duckdb\",\"local_root\":null}", "/env");
  assert_string_equal(cfg.destination_path, "/env/x.duckdb");
  ml_dest_config_free(&cfg);

  /* every key */
  cfg = config_ok("{\"destination_path\":\"/local/d.duckdb\",\"schema\":\"Analytics_2\",\"raw_tables\":true,"
                  "\"commit_interval_ms\":0,\"local_root\":\"/srv\"}",
                  NULL);
  assert_string_equal(cfg.destination_path, "/srv/d.duckdb");
  assert_string_equal(cfg.schema, "analytics_2");
  assert_true(cfg.raw_tables);
  assert_int_equal(cfg.commit_interval_ms, 0);
  ml_dest_config_free(&cfg);

  {
    ml_dest_config m = config_ok("{\"destination_path\":\"d\",\"memory_limit\":\"1.5 GiB\"}", "/r");
    assert_string_equal(m.memory_limit, "1.5 GiB");
    ml_dest_config_free(&m);
    m = config_ok("{\"destination_path\":\"d\",\"memory_limit\":\"64mb\"}", "/r");
    assert_string_equal(m.memory_limit, "64mb");
    ml_dest_config_free(&m);
    m = config_ok("{\"destination_path\":\"d\"}", "/r");
    assert_null(m.memory_limit);
    ml_dest_config_free(&m);
  }
  cfg = config_ok("{\"destination_path\":\"d\",\"schema\":\"\",\"raw_tables\":false,\"commit_interval_ms\":250}",
                  "/r");
  assert_string_equal(cfg.schema, "main");
  assert_false(cfg.raw_tables);
  assert_int_equal(cfg.commit_interval_ms, 250);
  ml_dest_config_free(&cfg);
  cfg = config_ok("{\"destination_path\":\"d\",\"schema\":\"2024\",\"raw_tables\":null,\"schema\":\"2025\"}", "/r");
  assert_string_equal(cfg.schema, "_2025"); /* last duplicate wins; leading digit prefixed */
  ml_dest_config_free(&cfg);
}

static void test_config_paths(void **state) {
  (void)state;
  const char *r = "/tmp/airbyte_local";
  assert_resolves("/local/destination.duckdb", r, "/tmp/airbyte_local/destination.duckdb");
  assert_resolves("destination.duckdb", r, "/tmp/airbyte_local/destination.duckdb");
  /* another absolute path: the user's own outside a container, an error in one */
  assert_resolves_in("/foo/x.duckdb", r, "/foo/x.duckdb", NULL);
  assert_resolves_in("/tmp/x.duckdb", r, "/tmp/x.duckdb", NULL);
  assert_resolves_in("/localfoo/x.duckdb", r, "/localfoo/x.duckdb", NULL);
  assert_resolves_in("/../x.duckdb", r, "/../x.duckdb", NULL);
  assert_resolves("sub/dir/x.duckdb", r, "/tmp/airbyte_local/sub/dir/x.duckdb");
  assert_resolves("/local/a/./b/../c.duckdb", r, "/tmp/airbyte_local/a/c.duckdb");
  assert_resolves("/local//a//c.duckdb", r, "/tmp/airbyte_local/a/c.duckdb");
  assert_resolves("/local/../local/x.duckdb", r, "/tmp/airbyte_local/x.duckdb");
  assert_resolves("./x.duckdb", r, "/tmp/airbyte_local/x.duckdb");
  assert_resolves("x.duckdb", "/tmp/airbyte_local/", "/tmp/airbyte_local/x.duckdb");
  assert_resolves("x.duckdb", "/", "/x.duckdb");
  assert_resolves("/local/destination.duckdb", ".", "./destination.duckdb");
  assert_resolves("/local/a/x.duckdb", "rel/root", "rel/root/a/x.duckdb");
  assert_resolves("/local/x.duckdb", "/local", "/local/x.duckdb");

  config_fails("{\"destination_path\":\"/local/../etc/x\"}", "destination_path \"/local/../etc/x\" escapes /local");
  config_fails("{\"destination_path\":\"../x.duckdb\"}", "destination_path \"../x.duckdb\" escapes /local");
  config_fails("{\"destination_path\":\"a/../../../x\"}", "escapes /local");
  config_fails("{\"destination_path\":\"/local\"}", "destination_path \"/local\" is the /local directory itself");
  config_fails("{\"destination_path\":\".\"}", "is the /local directory itself");
  config_fails("{\"destination_path\":\"/local/a/..\"}", "is the /local directory itself");
  config_fails("{\"destination_path\":\"/local/\"}", "ends with '/': it names a directory");
  config_fails("{\"destination_path\":\"/local/dir/\"}", "ends with '/'");
}

static void test_config_errors(void **state) {
  (void)state;
  config_fails("{}", "config is missing required key \"destination_path\"");
  config_fails("{\"destination_path\":null}", "config is missing required key \"destination_path\"");
  config_fails("{\"destination_path\":5}", "config key \"destination_path\" must be a string");
  config_fails("{\"destination_path\":\"\"}", "config key \"destination_path\" must not be empty");
  config_fails("{\"destination_path\":\"a\\u0000b\"}", "config key \"destination_path\" contains a NUL character");
  config_fails("{\"destination_path\":\"md:my_db?motherduck_token=secret\"}",
               "MotherDuck (md:) databases are not supported");
  config_fails("{\"destination_path\":\"x\",\"schema\":1}", "config key \"schema\" must be a string");
  config_fails("{\"destination_path\":\"x\",\"schema\":\"my-schema\"}",
               "config key \"schema\" must match ^[A-Za-z0-9_]*$ (got \"my-schema\")");
  config_fails("{\"destination_path\":\"x\",\"schema\":\"sch\\u00e9ma\"}", "config key \"schema\" must match");
  config_fails("{\"destination_path\":\"x\",\"local_root\":[]}", "config key \"local_root\" must be a string");
  config_fails("{\"destination_path\":\"x\",\"local_root\":\"\"}", "config key \"local_root\" must not be empty");
  config_fails("{\"destination_path\":\"x\",\"raw_tables\":\"true\"}", "config key \"raw_tables\" must be a boolean");
  config_fails("{\"destination_path\":\"x\",\"raw_tables\":1}", "config key \"raw_tables\" must be a boolean");
  config_fails("{\"destination_path\":\"x\",\"commit_interval_ms\":\"5\"}",
               "config key \"commit_interval_ms\" must be an integer");
  config_fails("{\"destination_path\":\"x\",\"commit_interval_ms\":1.5}",
               "config key \"commit_interval_ms\" must be an integer");
  config_fails("{\"destination_path\":\"x\",\"commit_interval_ms\":-1}",
               "config key \"commit_interval_ms\" must be >= 0 (got -1)");
  config_fails("{\"destination_path\":\"x\",\"memory_limit\":64}", "config key \"memory_limit\" must be a size");
  config_fails("{\"destination_path\":\"x\",\"memory_limit\":\"lots\"}", "config key \"memory_limit\" must be a size");
  config_fails("{\"destination_path\":\"x\",\"memory_limit\":\"64 parsecs\"}", "must be a size");
  config_fails("{\"destination_path\":\"x\",\"memory_limit\":\".5GB\"}", "must be a size");
  config_fails("{\"destination_path\":\"x\",\"memory_limit\":\"5.GB\"}", "must be a size");
  config_fails("[]", "config must be a JSON object");
  config_fails("{\"destination_path\":", "config is not valid JSON: line 1, column 21: expected a JSON value");
  /* a misspelt or unknown key is an error, not a default silently used */
  config_fails("{\"destinaton_path\":\"x\"}", "config has an unknown key \"destinaton_path\": did you mean \"destination_path\"?");
  config_fails("{\"destination_path\":\"x\",\"password\":1}", "config has an unknown key \"password\" (the keys are");
  config_fails("{\"destination_path\":\"x\",\"motherduck_api_key\":\"tok\"}", "MotherDuck is not supported");
  config_fails("{\"destination_path\":\"x\",}", "config is not valid JSON");

  /* the secret in an md: path is not echoed */
  ml_dest_config cfg;
  ml_err err;
  const char *md = "{\"destination_path\":\"md:db?motherduck_token=secret\"}";
  assert_int_equal(ml_dest_config_parse(md, strlen(md), NULL, &cfg, &err), ML_ERR_CONFIG);
  assert_null(strstr(err.msg, "secret"));
  assert_int_equal(ml_dest_config_parse("{}", 2, NULL, &cfg, NULL), ML_ERR_CONFIG);
}

static void test_config_load(void **state) {
  (void)state;
  ml_dest_config cfg;
  ml_err err;
  assert_int_equal(ml_dest_config_load(FIX "/seed_example/config.json", "/tmp/airbyte_local", &cfg, &err), ML_OK);
  assert_string_equal(cfg.destination_path, "/tmp/airbyte_local/destination.duckdb");
  assert_string_equal(cfg.schema, "main");
  ml_dest_config_free(&cfg);

  assert_int_equal(ml_dest_config_load(FIX "/missing/config.json", NULL, &cfg, &err), ML_ERR_IO);
  assert_non_null(strstr(err.msg, "missing/config.json"));
  assert_null(cfg.destination_path);

  /* a file that is not a config: the message names the file */
  assert_int_equal(ml_dest_config_load(FIX "/seed_example/configured_catalog.json", NULL, &cfg, &err),
                   ML_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "configured_catalog.json"));
  assert_non_null(strstr(err.msg, "missing required key \"destination_path\""));
}

/* The examples in docs/types.md, literally. */
static void test_doc_examples(void **state) {
  (void)state;
  const char *fields[] = {"Data", "data", "DATA", "User Name", "user-name", "_airbyte_raw_id"};
  const char *want[] = {"data_ac825673", "data", "data_99735672", "user_name", "user_name_5060a291",
                        "_airbyte_raw_id_7175517e"};
  const char *reserved[] = {"_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta", "_airbyte_generation_id"};
  char *out[6];
  ml_err err;
  assert_int_equal(ml_names_assign(fields, 6, reserved, 4, out, &err), ML_OK);
  for (int i = 0; i < 6; i++) assert_string_equal(out[i], want[i]);
  free_names(out, 6);

  ml_catalog c = parse_ok("{\"streams\":["
                          "{\"stream\":{\"name\":\"a-b\",\"namespace\":\"public\",\"json_schema\":{}}},"
                          "{\"stream\":{\"name\":\"a_b\",\"namespace\":\"public\",\"json_schema\":{}}},"
                          "{\"stream\":{\"name\":\"a-b\",\"namespace\":\"other\",\"json_schema\":{}}},"
                          "{\"stream\":{\"name\":\"x\",\"namespace\":\"Sales-EU\",\"json_schema\":{}}},"
                          "{\"stream\":{\"name\":\"users\",\"namespace\":\"Public\",\"json_schema\":{}}},"
                          "{\"stream\":{\"name\":\"users\",\"namespace\":\"public\",\"json_schema\":{}}},"
                          "{\"stream\":{\"name\":\"users\",\"json_schema\":{}}}]}",
                          "public");
  assert_string_equal(table_of(&c, "public", "a-b"), "a_b_e61ab319");
  assert_string_equal(table_of(&c, "public", "a_b"), "a_b");
  assert_string_equal(table_of(&c, "other", "a-b"), "a_b");
  assert_string_equal(find(&c, "Sales-EU", "x")->schema, "sales_eu");
  assert_string_equal(table_of(&c, "Public", "users"), "users_c786f54e");
  assert_string_equal(table_of(&c, "public", "users"), "users_10a39729");
  assert_string_equal(table_of(&c, NULL, "users"), "users");
  ml_catalog_free(&c);

  static const struct {
    const char *json, *path, *schema;
    bool raw;
    int64_t interval;
  } configs[] = {
      {"{\"destination_path\": \"/local/destination.duckdb\"}", "/tmp/airbyte_local/destination.duckdb", "main",
       false, 1000},
      {"{\"destination_path\": \"/local/warehouse.duckdb\", \"local_root\": \".\", \"schema\": \"analytics\"}",
       "./warehouse.duckdb", "analytics", false, 1000},
      {"{\n  \"destination_path\": \"/local/airbyte/sync.duckdb\",\n  \"schema\": \"main\",\n  \"local_root\": "
       "\"/srv/duckdb\",\n  \"raw_tables\": true,\n  \"commit_interval_ms\": 0\n}",
       "/srv/duckdb/airbyte/sync.duckdb", "main", true, 0},
  };
  for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
    ml_dest_config cfg = config_ok(configs[i].json, "/tmp/airbyte_local");
    assert_string_equal(cfg.destination_path, configs[i].path);
    assert_string_equal(cfg.schema, configs[i].schema);
    assert_int_equal(cfg.raw_tables, configs[i].raw);
    assert_int_equal(cfg.commit_interval_ms, configs[i].interval);
    ml_dest_config_free(&cfg);
  }
  assert_resolves("/local/a/../b.duckdb", "/data", "/data/b.duckdb");
}

/* ---- SPEC ---- */

/* The SPEC names two URIs, documentationUrl and the draft-07 identifier of
 * "$schema", and no other (mallard never points at a download). */
static void assert_only_two_uris(const char *s) {
  int n = 0;
  for (const char *p = strstr(s, "://"); p; p = strstr(p + 3, "://")) n++;
  assert_int_equal(n, 2);
}

static void test_spec(void **state) {
  (void)state;
  ml_buf b = ML_BUF_INIT;
  ml_buf_puts(&b, "");
  ml_dest_spec_json(&b);
  assert_true(ml_buf_ok(&b));
  assert_null(strchr(b.data, '\n')); /* one compact line */
  assert_only_two_uris(b.data);

  ml_json_doc *doc = ml_json_doc_new();
  const ml_json_val *root;
  ml_err err;
  assert_int_equal(ml_json_parse(doc, b.data, b.len, &root, &err), ML_OK);
  assert_int_equal(root->type, ML_JSON_OBJECT);
  assert_int_equal(ml_json_get(root, "supportsIncremental")->type, ML_JSON_TRUE);
  assert_int_equal(ml_json_get(root, "supportsNormalization")->type, ML_JSON_FALSE);
  assert_int_equal(ml_json_get(root, "supportsDBT")->type, ML_JSON_FALSE);
  /* what the platform reads: where the documentation is, and a draft-07 schema */
  const char *doc_url = ml_json_get_str(root, "documentationUrl");
  assert_non_null(doc_url);
  assert_string_equal(doc_url, MALLARD_DOCUMENTATION_URL);
  assert_non_null(strstr(doc_url, "://"));
  const ml_json_val *modes = ml_json_get(root, "supported_destination_sync_modes");
  assert_non_null(modes);
  assert_int_equal(modes->type, ML_JSON_ARRAY);
  assert_int_equal(modes->len, 3);
  assert_string_equal(modes->u.items[0].u.str, "overwrite");
  assert_string_equal(modes->u.items[1].u.str, "append");
  assert_string_equal(modes->u.items[2].u.str, "append_dedup");

  const ml_json_val *cs = ml_json_get(root, "connectionSpecification");
  assert_non_null(cs);
  assert_string_equal(ml_json_get_str(cs, "type"), "object");
  assert_string_equal(ml_json_get_str(cs, "$schema"), "http://json-schema.org/draft-07/schema#");
  const ml_json_val *req = ml_json_get(cs, "required");
  assert_int_equal(req->len, 1);
  assert_string_equal(req->u.items[0].u.str, "destination_path");
  const ml_json_val *props = ml_json_get(cs, "properties");
  assert_int_equal(props->type, ML_JSON_OBJECT);
  static const struct {
    const char *key, *type;
  } keys[] = {{"destination_path", "string"},
              {"schema", "string"},
              {"local_root", "string"},
              {"raw_tables", "boolean"},
              {"commit_interval_ms", "integer"},
              {"memory_limit", "string"},
              {"unnest_depth", "integer"}};
  assert_int_equal(props->len, 7);
  for (size_t i = 0; i < 7; i++) {
    const ml_json_val *p = ml_json_get(props, keys[i].key);
    if (!p) fail_msg("spec has no property %s", keys[i].key);
    assert_string_equal(ml_json_get_str(p, "type"), keys[i].type);
    assert_non_null(ml_json_get_str(p, "title"));
    assert_non_null(ml_json_get_str(p, "description"));
    const ml_json_val *ex = ml_json_get(p, "examples");
    assert_non_null(ex);
    assert_int_equal(ex->type, ML_JSON_ARRAY);
    assert_true(ex->len >= 1);
  }
  const ml_json_val *schema = ml_json_get(props, "schema");
  assert_string_equal(ml_json_get_str(schema, "default"), "main");
  assert_string_equal(ml_json_get_str(schema, "pattern"), "^[A-Za-z0-9_]*$");
  assert_int_equal(ml_json_get(ml_json_get(props, "raw_tables"), "default")->type, ML_JSON_FALSE);
  const ml_json_val *ci = ml_json_get(props, "commit_interval_ms");
  assert_int_equal(ml_json_get(ci, "default")->i, 1000);
  assert_int_equal(ml_json_get(ci, "minimum")->i, 0);

  /* the example path in the spec is a config that works */
  const ml_json_val *ex = ml_json_get(ml_json_get(props, "destination_path"), "examples");
  for (size_t i = 0; i < ex->len; i++) {
    char json[256];
    snprintf(json, sizeof json, "{\"destination_path\":\"%s\"}", ex->u.items[i].u.str);
    ml_dest_config cfg = config_ok(json, "/tmp/airbyte_local");
    ml_dest_config_free(&cfg);
  }
  ml_json_doc_free(doc);

  /* appends: existing content is kept */
  ml_buf_reset(&b);
  ml_buf_puts(&b, "X");
  ml_dest_spec_json(&b);
  assert_int_equal(b.data[0], 'X');
  assert_int_equal(b.data[1], '{');
  ml_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normalize_rules),
      cmocka_unit_test(test_assign_collisions),
      cmocka_unit_test(test_assign_reserved),
      cmocka_unit_test(test_assign_order_independent),
      cmocka_unit_test(test_assign_second_order),
      cmocka_unit_test(test_assign_errors),
      cmocka_unit_test(test_fixture_edge_case),
      cmocka_unit_test(test_fixture_seed_example),
      cmocka_unit_test(test_fixture_exchange_rate),
      cmocka_unit_test(test_type_mapping),
      cmocka_unit_test(test_type_mapping_v1_refs),
      cmocka_unit_test(test_column_collisions),
      cmocka_unit_test(test_table_collisions),
      cmocka_unit_test(test_stream_settings),
      cmocka_unit_test(test_find),
      cmocka_unit_test(test_catalog_errors),
      cmocka_unit_test(test_config_defaults),
      cmocka_unit_test(test_config_paths),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_config_load),
      cmocka_unit_test(test_doc_examples),
      cmocka_unit_test(test_spec),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
