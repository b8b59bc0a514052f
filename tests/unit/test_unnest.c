/* Tests for src/airbyte/ml_unnest.h and ml_shape.h: which columns and child
 * tables a catalog's nested declarations give at each unnest_depth, their
 * names, the config key, and the ids of unnested items. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "airbyte/ml_catalog.h"
#include "airbyte/ml_unnest.h"
#include "engine/ml_ids.h"

static ml_catalog parse(const char *props) {
  char text[4096];
  snprintf(text, sizeof text,
           "{\"streams\":[{\"stream\":{\"name\":\"c\",\"json_schema\":{\"type\":\"object\",\"properties\":%s}},"
           "\"destination_sync_mode\":\"append\"}]}",
           props);
  ml_catalog cat;
  ml_err err = {0};
  if (ml_catalog_parse(text, strlen(text), "main", &cat, &err) != ML_OK) fail_msg("catalog: %s", err.msg);
  return cat;
}

static ml_unnest_plan plan_of(const ml_catalog *cat, unsigned depth) {
  ml_unnest_plan p;
  ml_err err = {0};
  if (ml_unnest_plan_build(&cat->streams[0], depth, &p, &err) != ML_OK) fail_msg("plan: %s", err.msg);
  return p;
}

/* "column:TYPE" of each column, joined by spaces */
static void cols_text(const ml_unnest_col *cols, size_t n, char *out, size_t cap) {
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    char t[32];
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "%s%s:%s", i ? " " : "", cols[i].column, ml_type_sql(cols[i].type, t));
  }
}

static const char *const customer =
    "{\"id\":{\"type\":\"integer\"},"
    "\"billing\":{\"type\":[\"null\",\"object\"],\"properties\":{\"zip\":{\"type\":\"integer\"},"
    "  \"geo\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}},"
    "  \"cards\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"Last 4\":{\"type\":\"string\"},"
    "    \"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"format\":\"date\"}}}}}}},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},"
    "\"grid\":{\"type\":\"array\",\"items\":{\"type\":\"array\"}},"
    "\"loose\":{\"type\":\"array\"},"
    "\"free\":{\"type\":\"object\"},"
    "\"either\":{\"oneOf\":[{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}]}}";

static void test_flattening(void **state) {
  (void)state;
  ml_catalog cat = parse(customer);
  ml_unnest_plan p = plan_of(&cat, 1);
  char text[1024];
  cols_text(p.flat, p.n_flat, text, sizeof text);
  /* declared sub-objects give their leaves, arrays a JSON column; free-form
   * objects and unions nothing */
  assert_string_equal(text, "billing__zip:BIGINT billing__geo__lat:DOUBLE billing__cards:JSON");
  assert_string_equal(p.flat[1].label, "billing.geo.lat");
  assert_int_equal(p.flat[1].n_path, 3);
  assert_string_equal(p.flat[1].path[2], "lat");
  ml_unnest_plan_free(&p);
  ml_catalog_free(&cat);
}

static void test_children_by_depth(void **state) {
  (void)state;
  ml_catalog cat = parse(customer);
  ml_unnest_plan p = plan_of(&cat, 1);
  /* record arrays first (in schema order), then arrays of flattened objects */
  assert_int_equal(p.n_children, 4);
  const char *want[][3] = {{"tags", "tags", "value:BIGINT"},
                           {"grid", "grid", "value:JSON"},
                           {"loose", "loose", "value:JSON"},
                           {"billing.cards", "billing__cards", ""}};
  for (size_t i = 0; i < 4; i++) {
    char text[512];
    assert_string_equal(p.children[i].label, want[i][0]);
    assert_string_equal(p.children[i].array_column, want[i][1]);
    assert_int_equal(p.children[i].level, 1);
    if (i < 3) {
      cols_text(p.children[i].cols, p.children[i].n_cols, text, sizeof text);
      assert_string_equal(text, want[i][2]);
      assert_int_equal(p.children[i].cols[0].n_path, 0); /* the item itself */
    }
  }
  const ml_unnest_child *cards = &p.children[3];
  char text[512];
  cols_text(cards->cols, cards->n_cols, text, sizeof text);
  assert_string_equal(text, "last_4:VARCHAR tags:JSON");
  assert_string_equal(cards->key, "[\"billing\",\"cards\"]");
  assert_int_equal(cards->n_children, 0); /* depth 1: the cards' tags stay JSON */
  ml_unnest_plan_free(&p);

  p = plan_of(&cat, 2);
  cards = &p.children[3];
  assert_int_equal(cards->n_children, 1);
  assert_int_equal(cards->children[0].level, 2);
  assert_string_equal(cards->children[0].array_column, "tags");
  cols_text(cards->children[0].cols, cards->children[0].n_cols, text, sizeof text);
  assert_string_equal(text, "value:DATE");
  /* arrays of arrays never go deeper: their items are the value */
  assert_int_equal(p.children[1].n_children, 0);
  ml_unnest_plan_free(&p);
  ml_catalog_free(&cat);
}

static void test_names_avoid_collisions(void **state) {
  (void)state;
  /* "a__b" is a field of its own and the flattened a.b; meta column names
   * and "value"-like item keys stay apart too */
  ml_catalog cat = parse("{\"a__b\":{\"type\":\"string\"},"
                         "\"a\":{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"integer\"},\"B\":{\"type\":\"integer\"}}},"
                         "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
                         "\"_mallard_id\":{\"type\":\"string\"},\"x\":{\"type\":\"string\"}}}}}");
  ml_unnest_plan p = plan_of(&cat, 1);
  assert_int_equal(p.n_flat, 2);
  for (size_t i = 0; i < p.n_flat; i++) {
    assert_string_not_equal(p.flat[i].column, "a__b");
    assert_memory_equal(p.flat[i].column, "a__b_", 5);
  }
  assert_string_not_equal(p.flat[0].column, p.flat[1].column);
  assert_int_equal(p.n_children, 1);
  assert_string_not_equal(p.children[0].cols[0].column, "_mallard_id");
  assert_memory_equal(p.children[0].cols[0].column, "_mallard_id_", 12);
  assert_string_equal(p.children[0].cols[1].column, "x");
  ml_unnest_plan_free(&p);
  ml_catalog_free(&cat);
}

static void test_nothing_nested(void **state) {
  (void)state;
  ml_catalog cat = parse("{\"id\":{\"type\":\"integer\"},\"o\":{\"type\":\"object\",\"properties\":{}}}");
  ml_unnest_plan p = plan_of(&cat, 3);
  assert_true(ml_unnest_plan_empty(&p));
  ml_unnest_plan_free(&p);
  ml_catalog_free(&cat);
}

static void test_deep_schema_is_bounded(void **state) {
  (void)state;
  /* 40 nested objects: leaves below ML_SHAPE_MAX_DEPTH stay in a JSON column */
  char props[4096] = "";
  for (int i = 0; i < 40; i++) strcat(props, "{\"o\":{\"type\":\"object\",\"properties\":");
  strcat(props, "{\"leaf\":{\"type\":\"string\"}}");
  for (int i = 0; i < 40; i++) strcat(props, "}}");
  ml_catalog cat = parse(props);
  ml_unnest_plan p = plan_of(&cat, 1);
  assert_int_equal(p.n_flat, 1);
  assert_int_equal(ml_type_equal(p.flat[0].type, ml_type_of(ML_TYPE_JSON)), true);
  assert_int_equal(p.flat[0].n_path, 1 + ML_SHAPE_MAX_DEPTH); /* the field, then the shapes below it */
  ml_unnest_plan_free(&p);
  ml_catalog_free(&cat);
}

static void test_walk(void **state) {
  (void)state;
  ml_json_doc *doc = ml_json_doc_new();
  const ml_json_val *root;
  const char *text = "{\"a\":{\"b\":[1],\"c\":null},\"s\":\"x\"}";
  assert_int_equal(ml_json_parse(doc, text, strlen(text), &root, NULL), ML_OK);
  const char *ab[] = {"a", "b"}, *ac[] = {"a", "c"}, *sx[] = {"s", "x"}, *ax[] = {"a", "x"};
  assert_int_equal(ml_unnest_walk(root, ab, 2)->type, ML_JSON_ARRAY);
  assert_int_equal(ml_unnest_walk(root, ac, 2)->type, ML_JSON_NULL);
  assert_null(ml_unnest_walk(root, sx, 2)); /* a step that is not an object */
  assert_null(ml_unnest_walk(root, ax, 2));
  assert_ptr_equal(ml_unnest_walk(root, NULL, 0), root);
  ml_json_doc_free(doc);
}

static void test_config_key(void **state) {
  (void)state;
  ml_dest_config cfg;
  ml_err err = {0};
  const char *ok = "{\"destination_path\":\"/tmp/x.duckdb\",\"unnest_depth\":2}";
  assert_int_equal(ml_dest_config_parse(ok, strlen(ok), NULL, &cfg, &err), ML_OK);
  assert_int_equal(cfg.unnest_depth, 2);
  ml_dest_config_free(&cfg);
  const char *def = "{\"destination_path\":\"/tmp/x.duckdb\"}";
  assert_int_equal(ml_dest_config_parse(def, strlen(def), NULL, &cfg, &err), ML_OK);
  assert_int_equal(cfg.unnest_depth, 0);
  ml_dest_config_free(&cfg);
  const char *bad[] = {"-1", "1.5", "\"2\"", "9", "true"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char text[128];
    snprintf(text, sizeof text, "{\"destination_path\":\"/tmp/x.duckdb\",\"unnest_depth\":%s}", bad[i]);
    memset(&err, 0, sizeof err);
    assert_int_equal(ml_dest_config_parse(text, strlen(text), NULL, &cfg, &err), ML_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "\"unnest_depth\" must be an integer from 0 (off) to 8"));
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_item_ids(void **state) {
  (void)state;
  uint64_t lo1, lo2, lo3, lo4;
  int64_t hi1, hi2, hi3, hi4;
  ml_ids_derive(7, 9, 100, 0, &lo1, &hi1);
  ml_ids_derive(7, 9, 100, 0, &lo2, &hi2);
  assert_true(lo1 == lo2 && hi1 == hi2); /* the same item of the same record: the same id */
  ml_ids_derive(7, 9, 100, 1, &lo3, &hi3);
  ml_ids_derive(7, 9, 101, 0, &lo4, &hi4);
  assert_false(lo1 == lo3 && hi1 == hi3);
  assert_false(lo1 == lo4 && hi1 == hi4);
  char text[37];
  ml_ids_format(lo1, hi1, text);
  assert_int_equal(text[14], '8'); /* UUID version 8 */
  assert_non_null(strchr("89ab", text[19])); /* RFC 9562 variant */
  /* 200k items of one parent: no two ids alike (top bits, sorted) */
  enum { N = 200000 };
  uint64_t *seen = malloc(N * sizeof *seen);
  for (uint64_t i = 0; i < N; i++) {
    uint64_t lo;
    int64_t hi;
    ml_ids_derive(7, 9, 100, i, &lo, &hi);
    seen[i] = lo ^ (uint64_t)hi * 0x9E3779B97F4A7C15ULL;
  }
  qsort(seen, N, sizeof *seen, cmp_u64);
  for (size_t i = 1; i < N; i++) assert_true(seen[i] != seen[i - 1]);
  free(seen);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flattening),      cmocka_unit_test(test_children_by_depth),
      cmocka_unit_test(test_names_avoid_collisions), cmocka_unit_test(test_nothing_nested),
      cmocka_unit_test(test_deep_schema_is_bounded), cmocka_unit_test(test_walk),
      cmocka_unit_test(test_config_key),      cmocka_unit_test(test_item_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
