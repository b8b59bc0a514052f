/* Unit tests for engine/ml_types: SQL spelling and reading it back (as the
 * warehouse names the types of existing columns), and the widening lattice
 * used for inferred columns.
 *
 * The SQL spellings are also checked against DuckDB itself (typeof of a NULL
 * cast to the spelled type), so a spelling DuckDB would read differently
 * fails here rather than in a CREATE TABLE. */
#include "test_helpers.h"

#include "engine/ml_types.h"

/* Every column type mallard creates, with its SQL spelling, DuckDB's base
 * and what DuckDB's typeof() calls it. */
typedef struct type_case {
  ml_type type;
  const char *sql;
  const char *typeof_name;
} type_case;

static type_case all_types[] = {
    {{ML_TYPE_BOOLEAN, 0, 0}, "BOOLEAN", "BOOLEAN"},
    {{ML_TYPE_SMALLINT, 0, 0}, "SMALLINT", "SMALLINT"},
    {{ML_TYPE_INTEGER, 0, 0}, "INTEGER", "INTEGER"},
    {{ML_TYPE_BIGINT, 0, 0}, "BIGINT", "BIGINT"},
    {{ML_TYPE_FLOAT, 0, 0}, "FLOAT", "FLOAT"},
    {{ML_TYPE_DOUBLE, 0, 0}, "DOUBLE", "DOUBLE"},
    {{ML_TYPE_DECIMAL, 18, 3}, "DECIMAL(18,3)", "DECIMAL(18,3)"},
    {{ML_TYPE_DECIMAL, 1, 0}, "DECIMAL(1,0)", "DECIMAL(1,0)"},
    {{ML_TYPE_DECIMAL, 4, 4}, "DECIMAL(4,4)", "DECIMAL(4,4)"},
    {{ML_TYPE_DECIMAL, 9, 2}, "DECIMAL(9,2)", "DECIMAL(9,2)"},
    {{ML_TYPE_DECIMAL, 38, 10}, "DECIMAL(38,10)", "DECIMAL(38,10)"},
    {{ML_TYPE_DECIMAL, 38, 38}, "DECIMAL(38,38)", "DECIMAL(38,38)"},
    {{ML_TYPE_VARCHAR, 0, 0}, "VARCHAR", "VARCHAR"},
    {{ML_TYPE_JSON, 0, 0}, "JSON", "JSON"},
    {{ML_TYPE_BLOB, 0, 0}, "BLOB", "BLOB"},
    {{ML_TYPE_DATE, 0, 0}, "DATE", "DATE"},
    {{ML_TYPE_TIME, 0, 0}, "TIME", "TIME"},
    {{ML_TYPE_TIMETZ, 0, 0}, "TIMETZ", "TIME WITH TIME ZONE"},
    {{ML_TYPE_TIMESTAMP, 0, 0}, "TIMESTAMP", "TIMESTAMP"},
    {{ML_TYPE_TIMESTAMPTZ, 0, 0}, "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"},
    {{ML_TYPE_UUID, 0, 0}, "UUID", "UUID"},
};

/* ---- ml_type_sql ------------------------------------------------------------- */

static void test_sql_every_type(void **state) {
  (void)state;
  /* every id of the enum (except the COUNT_ sentinel) is covered */
  bool seen[ML_TYPE_COUNT_] = {false};
  seen[ML_TYPE_NULL] = true; /* inference only, checked below */
  for (size_t i = 0; i < TH_LEN(all_types); i++) {
    char buf[32];
    memset(buf, 'x', sizeof buf);
    const char *s = ml_type_sql(all_types[i].type, buf);
    assert_non_null(s);
    assert_string_equal(s, all_types[i].sql);
    if (all_types[i].type.id == ML_TYPE_DECIMAL) assert_ptr_equal(s, buf); /* DECIMAL is written into buf */
    seen[all_types[i].type.id] = true;
  }
  for (int id = 0; id < ML_TYPE_COUNT_; id++) assert_true(seen[id]);
  char buf[32];
  assert_string_equal(ml_type_sql(ml_type_of(ML_TYPE_NULL), buf), "NULL");
}

static void test_sql_static_storage(void **state) {
  (void)state;
  /* Non-DECIMAL spellings do not depend on buf: they stay valid after buf is reused. */
  char buf[32];
  const char *a = ml_type_sql(ml_type_of(ML_TYPE_TIMESTAMPTZ), buf);
  const char *d = ml_type_sql(ml_type_decimal(38, 0), buf);
  assert_string_equal(d, "DECIMAL(38,0)");
  memset(buf, 0, sizeof buf);
  assert_string_equal(a, "TIMESTAMPTZ");
}

static void test_sql_accepted_by_duckdb(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  for (size_t i = 0; i < TH_LEN(all_types); i++) {
    char buf[32];
    th_expectf(wh, all_types[i].typeof_name, "SELECT typeof(CAST(NULL AS %s))", ml_type_sql(all_types[i].type, buf));
  }
  /* and in a CREATE TABLE with every type at once */
  ml_buf sql = ML_BUF_INIT;
  ml_buf_puts(&sql, "CREATE TABLE every (");
  for (size_t i = 0; i < TH_LEN(all_types); i++) {
    char buf[32];
    ml_buf_printf(&sql, "%sc%zu %s", i ? ", " : "", i, ml_type_sql(all_types[i].type, buf));
  }
  ml_buf_putc(&sql, ')');
  th_exec(wh, sql.data);
  ml_buf_free(&sql);
  ml_wh_close(wh);
}

/* ---- reading types back ---------------------------------------------------------- */

/* Every spelling reads back as the type it spells. */
static void test_parse_roundtrip(void **state) {
  (void)state;
  for (size_t i = 0; i < TH_LEN(all_types); i++) {
    ml_type back = {ML_TYPE_NULL, 99, 99};
    assert_true(ml_type_parse(all_types[i].sql, &back));
    if (!ml_type_equal(back, all_types[i].type))
      fail_msg("%s came back as id %d (%u,%u)", all_types[i].sql, back.id, back.width, back.scale);
    assert_int_equal(back.id, all_types[i].type.id);
  }
}

/* Types DuckDB has but mallard never creates, and text that is not exactly a
 * spelling, are not recognised. */
static void test_parse_foreign(void **state) {
  (void)state;
  static const char *const foreign[] = {"TINYINT",      "UTINYINT",     "USMALLINT",     "UINTEGER",
                                        "UBIGINT",      "HUGEINT",      "UHUGEINT",      "INTERVAL",
                                        "TIMESTAMP_S",  "TIMESTAMP_MS", "TIMESTAMP_NS",  "BIT",
                                        "NULL",         "bigint",       "",              "DECIMAL(0,0)",
                                        "DECIMAL(39,2)", "DECIMAL(4,5)", " DECIMAL(4,2)", "DECIMAL(4,2) ",
                                        "DECIMAL(04,2)", "BIGINT "};
  for (size_t i = 0; i < TH_LEN(foreign); i++) {
    ml_type out = ml_type_of(ML_TYPE_NULL);
    if (ml_type_parse(foreign[i], &out)) fail_msg("\"%s\" was recognised as %d", foreign[i], out.id);
  }
}

/* The columns of a real table, as the warehouse names their types, come back
 * as the types they were created with, JSON included; a type of the user's
 * own over VARCHAR is VARCHAR. */
static void test_parse_from_table(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TYPE my_text AS VARCHAR");
  ml_buf sql = ML_BUF_INIT;
  ml_buf_puts(&sql, "CREATE TABLE every (");
  for (size_t i = 0; i < TH_LEN(all_types); i++) {
    char buf[32];
    ml_buf_printf(&sql, "c%zu %s, ", i, ml_type_sql(all_types[i].type, buf));
  }
  ml_buf_puts(&sql, "mine my_text)");
  th_exec(wh, sql.data);
  ml_buf_free(&sql);
  ml_wh_column *cols = NULL;
  size_t n = 0;
  bool exists = false;
  ml_err err;
  assert_int_equal(ml_wh_table_columns(wh, NULL, "main", "every", &cols, &n, &exists, &err), ML_OK);
  assert_int_equal(n, TH_LEN(all_types) + 1);
  for (size_t i = 0; i < n; i++) {
    ml_type want = i < TH_LEN(all_types) ? all_types[i].type : ml_type_of(ML_TYPE_VARCHAR);
    ml_type out = ml_type_of(ML_TYPE_NULL);
    assert_non_null(cols[i].type);
    assert_true(ml_type_parse(cols[i].type, &out));
    if (!ml_type_equal(out, want)) fail_msg("column %s of type %s read back as %d", cols[i].name, cols[i].type, out.id);
  }
  ml_wh_columns_free(cols, n);
  ml_wh_close(wh);
}

/* ---- ml_type_equal ------------------------------------------------------------ */

static void test_equal(void **state) {
  (void)state;
  assert_true(ml_type_equal(ml_type_of(ML_TYPE_BIGINT), ml_type_of(ML_TYPE_BIGINT)));
  assert_false(ml_type_equal(ml_type_of(ML_TYPE_BIGINT), ml_type_of(ML_TYPE_DOUBLE)));
  assert_false(ml_type_equal(ml_type_of(ML_TYPE_VARCHAR), ml_type_of(ML_TYPE_JSON)));
  assert_true(ml_type_equal(ml_type_decimal(18, 3), ml_type_decimal(18, 3)));
  assert_false(ml_type_equal(ml_type_decimal(18, 3), ml_type_decimal(18, 2)));
  assert_false(ml_type_equal(ml_type_decimal(18, 3), ml_type_decimal(17, 3)));
  assert_false(ml_type_equal(ml_type_decimal(18, 3), ml_type_of(ML_TYPE_BIGINT)));
}

/* ---- widening --------------------------------------------------------------- */

enum { W_NULL, W_BOOL, W_BIGINT, W_DOUBLE, W_VARCHAR, W_JSON, W_N };
static const ml_type_id inference[W_N] = {ML_TYPE_NULL, ML_TYPE_BOOLEAN, ML_TYPE_BIGINT,
                                          ML_TYPE_DOUBLE, ML_TYPE_VARCHAR, ML_TYPE_JSON};

/* The whole table, written out by hand from the rules in ml_types.h. */
static const ml_type_id widen_table[W_N][W_N] = {
    /*            NULL             BOOLEAN          BIGINT           DOUBLE           VARCHAR          JSON */
    /* NULL */ {ML_TYPE_NULL, ML_TYPE_BOOLEAN, ML_TYPE_BIGINT, ML_TYPE_DOUBLE, ML_TYPE_VARCHAR, ML_TYPE_JSON},
    /* BOOL */ {ML_TYPE_BOOLEAN, ML_TYPE_BOOLEAN, ML_TYPE_JSON, ML_TYPE_JSON, ML_TYPE_VARCHAR, ML_TYPE_JSON},
    /* BIGI */ {ML_TYPE_BIGINT, ML_TYPE_JSON, ML_TYPE_BIGINT, ML_TYPE_DOUBLE, ML_TYPE_VARCHAR, ML_TYPE_JSON},
    /* DOUB */ {ML_TYPE_DOUBLE, ML_TYPE_JSON, ML_TYPE_DOUBLE, ML_TYPE_DOUBLE, ML_TYPE_VARCHAR, ML_TYPE_JSON},
    /* VARC */ {ML_TYPE_VARCHAR, ML_TYPE_VARCHAR, ML_TYPE_VARCHAR, ML_TYPE_VARCHAR, ML_TYPE_VARCHAR, ML_TYPE_VARCHAR},
    /* JSON */ {ML_TYPE_JSON, ML_TYPE_JSON, ML_TYPE_JSON, ML_TYPE_JSON, ML_TYPE_VARCHAR, ML_TYPE_JSON},
};

static ml_type W(int i) { return ml_type_of(inference[i]); }

static void test_widen_table(void **state) {
  (void)state;
  for (int a = 0; a < W_N; a++)
    for (int b = 0; b < W_N; b++) {
      ml_type got = ml_type_widen(W(a), W(b));
      if (got.id != widen_table[a][b])
        fail_msg("widen(%d, %d) = %d, expected %d", inference[a], inference[b], got.id, widen_table[a][b]);
    }
}

static void test_widen_laws(void **state) {
  (void)state;
  for (int a = 0; a < W_N; a++) {
    /* NULL is the identity, on both sides */
    assert_true(ml_type_equal(ml_type_widen(W(W_NULL), W(a)), W(a)));
    assert_true(ml_type_equal(ml_type_widen(W(a), W(W_NULL)), W(a)));
    /* idempotent */
    assert_true(ml_type_equal(ml_type_widen(W(a), W(a)), W(a)));
    /* JSON absorbs */
    /* VARCHAR is the top: it absorbs everything */
    assert_int_equal(ml_type_widen(W(a), W(W_VARCHAR)).id, ML_TYPE_VARCHAR);
    assert_int_equal(ml_type_widen(W(W_VARCHAR), W(a)).id, ML_TYPE_VARCHAR);
    for (int b = 0; b < W_N; b++) {
      ml_type ab = ml_type_widen(W(a), W(b));
      /* symmetric */
      assert_true(ml_type_equal(ab, ml_type_widen(W(b), W(a))));
      /* an upper bound: widening it again by either side changes nothing */
      assert_true(ml_type_equal(ml_type_widen(ab, W(a)), ab));
      assert_true(ml_type_equal(ml_type_widen(ab, W(b)), ab));
      /* never NULL unless both are NULL */
      if (a != W_NULL || b != W_NULL) assert_int_not_equal(ab.id, ML_TYPE_NULL);
      for (int c = 0; c < W_N; c++) {
        /* associative: the order in which values arrive does not matter */
        ml_type left = ml_type_widen(ab, W(c));
        ml_type right = ml_type_widen(W(a), ml_type_widen(W(b), W(c)));
        if (!ml_type_equal(left, right))
          fail_msg("widen not associative for %d, %d, %d: %d vs %d", inference[a], inference[b], inference[c], left.id,
                   right.id);
        /* and commutative in any order of three */
        ml_type other = ml_type_widen(ml_type_widen(W(c), W(a)), W(b));
        assert_true(ml_type_equal(left, other));
      }
    }
  }
}

/* Spot checks named in the contract, and other scalar types. */
static void test_widen_named(void **state) {
  (void)state;
  /* integer family: the larger integer; with a float: DOUBLE */
  assert_int_equal(ml_type_widen(ml_type_of(ML_TYPE_SMALLINT), ml_type_of(ML_TYPE_INTEGER)).id, ML_TYPE_INTEGER);
  assert_int_equal(ml_type_widen(ml_type_of(ML_TYPE_BIGINT), ml_type_of(ML_TYPE_INTEGER)).id, ML_TYPE_BIGINT);
  assert_int_equal(ml_type_widen(ml_type_of(ML_TYPE_INTEGER), ml_type_of(ML_TYPE_FLOAT)).id, ML_TYPE_DOUBLE);
  assert_int_equal(ml_type_widen(ml_type_of(ML_TYPE_FLOAT), ml_type_of(ML_TYPE_DOUBLE)).id, ML_TYPE_DOUBLE);
  assert_int_equal(ml_type_widen(ml_type_of(ML_TYPE_BIGINT), ml_type_of(ML_TYPE_DOUBLE)).id, ML_TYPE_DOUBLE);
  assert_int_equal(ml_type_widen(ml_type_of(ML_TYPE_DOUBLE), ml_type_of(ML_TYPE_BIGINT)).id, ML_TYPE_DOUBLE);
  assert_int_equal(ml_type_widen(ml_type_of(ML_TYPE_BOOLEAN), ml_type_of(ML_TYPE_BIGINT)).id, ML_TYPE_JSON);
  assert_int_equal(ml_type_widen(ml_type_of(ML_TYPE_DATE), ml_type_of(ML_TYPE_TIMESTAMPTZ)).id, ML_TYPE_VARCHAR);
  assert_int_equal(ml_type_widen(ml_type_of(ML_TYPE_DATE), ml_type_of(ML_TYPE_DATE)).id, ML_TYPE_DATE);
  assert_int_equal(ml_type_widen(ml_type_of(ML_TYPE_UUID), ml_type_of(ML_TYPE_JSON)).id, ML_TYPE_VARCHAR);
  assert_int_equal(ml_type_widen(ml_type_of(ML_TYPE_NULL), ml_type_of(ML_TYPE_BLOB)).id, ML_TYPE_BLOB);
  /* DECIMAL: the same width/scale is the same type; another one is a different scalar */
  ml_type d = ml_type_widen(ml_type_decimal(18, 3), ml_type_decimal(18, 3));
  assert_true(ml_type_equal(d, ml_type_decimal(18, 3)));
  assert_int_equal(ml_type_widen(ml_type_decimal(18, 3), ml_type_decimal(10, 2)).id, ML_TYPE_VARCHAR);
  d = ml_type_widen(ml_type_of(ML_TYPE_NULL), ml_type_decimal(9, 2));
  assert_true(ml_type_equal(d, ml_type_decimal(9, 2)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sql_every_type),      cmocka_unit_test(test_sql_static_storage),
      cmocka_unit_test(test_sql_accepted_by_duckdb), cmocka_unit_test(test_parse_roundtrip),
      cmocka_unit_test(test_parse_foreign),       cmocka_unit_test(test_parse_from_table),  cmocka_unit_test(test_equal),
      cmocka_unit_test(test_widen_table),         cmocka_unit_test(test_widen_laws),
      cmocka_unit_test(test_widen_named),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
