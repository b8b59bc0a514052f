/* Unit tests for engine/ml_value: one parsed JSON value into one typed column.
 *
 * For each column type a table of JSON inputs with what must happen: either
 * the value fits (ml_value_put returns true) and DuckDB then shows the stored
 * value as the given text (CAST to VARCHAR, session time zone UTC), or it
 * does not fit (false) and the column stays NULL.  Each case is its own row,
 * and the JSON text is repeated in the query (as a comment) so that a failure
 * names the input. */
#include "test_helpers.h"

#include "warehouse/ml_batch.h"
#include "engine/ml_value.h"
#include "json/ml_json.h"

#define NO false, NULL /* does not fit */
#define YES(text) true, (text)

typedef struct vcase {
  const char *json;
  bool fits;
  const char *stored; /* NULL: SQL NULL */
} vcase;

/* Loads every case into table v(k, v <type>) of a fresh in-memory database,
 * checks the return values, then every stored value.  Returns the open
 * warehouse for extra checks (caller closes). */
static ml_wh *run_cases_(ml_type type, const ml_value_opts *opts, const vcase *cases, size_t n, const char *file,
                         int line) {
  ml_wh *wh = th_open_(":memory:", NULL, file, line);
  char tbuf[32];
  char sql[128];
  snprintf(sql, sizeof sql, "CREATE TABLE v (k INTEGER, v %s)", ml_type_sql(type, tbuf));
  th_exec_(wh, sql, file, line);
  ml_batch *b = th_batch_(wh, "v", 2, file, line);
  ml_err err;
  ml_err_clear(&err);
  ml_json_doc *doc = ml_json_doc_new();
  assert_non_null(doc);
  ml_buf scratch = ML_BUF_INIT;
  bool failed = false;
  for (size_t i = 0; i < n; i++) {
    const ml_json_val *root = NULL;
    if (ml_json_parse(doc, cases[i].json, strlen(cases[i].json), &root, &err) != ML_OK) {
      print_error("case %zu: test input %s is not JSON: %s\n", i, cases[i].json, err.msg);
      failed = true;
      continue;
    }
    ml_batch_put_i32(b, 0, (int32_t)i);
    bool fits = ml_value_put(b, 1, type, opts, root, &scratch);
    if (fits != cases[i].fits) {
      print_error("%s column, input %s: ml_value_put returned %s, expected %s\n", ml_type_sql(type, tbuf),
                  cases[i].json, fits ? "true" : "false", cases[i].fits ? "true" : "false");
      failed = true;
    }
    if (ml_batch_end_row(b, &err) != ML_OK) {
      print_error("end_row: %s\n", err.msg);
      failed = true;
    }
  }
  if (ml_batch_flush(b, &err) != ML_OK) {
    print_error("flush: %s\n", err.msg);
    failed = true;
  }
  ml_batch_close(b);
  ml_buf_free(&scratch);
  ml_json_doc_free(doc);
  if (failed) _fail(file, line);
  for (size_t i = 0; i < n; i++) {
    const char *want = cases[i].fits ? cases[i].stored : NULL;
    th_expectf_(wh, want, file, line, "SELECT CAST(v AS VARCHAR) FROM v WHERE k = %zu -- %s column, input %s", i,
                ml_type_sql(type, tbuf), cases[i].json);
  }
  return wh;
}
#define run_cases(type, opts, cases) run_cases_((type), (opts), (cases), TH_LEN(cases), __FILE__, __LINE__)
#define run_and_close(type, opts, cases) ml_wh_close(run_cases((type), (opts), (cases)))

/* ---- numbers ------------------------------------------------------------------------- */

static void test_bigint(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"42", YES("42")},
      {"\"42\"", YES("42")},
      {"42.0", YES("42")},
      {"1e3", YES("1000")},
      {"1E2", YES("100")},
      {"1.5e1", YES("15")},
      {"\"-17\"", YES("-17")},
      {"\"12.0\"", YES("12")},
      {"-0", YES("0")},
      {"9223372036854775807", YES("9223372036854775807")},
      {"-9223372036854775808", YES("-9223372036854775808")},
      {"\"abc\"", NO},
      {"1.5", NO},
      {"\"1.5\"", NO},
      {"1e-1", NO},
      {"true", NO},
      {"false", NO},
      {"9223372036854775808", NO},
      {"-9223372036854775809", NO},
      {"1e19", NO},
      {"\"\"", NO},
      {"{\"a\":1}", NO},
      {"[1]", NO},
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_BIGINT), NULL, cases);
}

static void test_smallint_integer(void **state) {
  (void)state;
  static const vcase small[] = {
      {"32767", YES("32767")}, {"-32768", YES("-32768")}, {"\"123\"", YES("123")}, {"32768", NO},
      {"\"-32769\"", NO},      {"1.5", NO},               {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_SMALLINT), NULL, small);
  static const vcase integer[] = {
      {"2147483647", YES("2147483647")}, {"-2147483648", YES("-2147483648")}, {"2e9", YES("2000000000")},
      {"2147483648", NO},                {"-2147483649", NO},                 {"\"x\"", NO},
  };
  run_and_close(ml_type_of(ML_TYPE_INTEGER), NULL, integer);
}

static void test_double(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"1.5", YES("1.5")},
      {"\"1.5\"", YES("1.5")},
      {"42", YES("42.0")},
      {"0.1", YES("0.1")},
      {"-0.0", YES("-0.0")},
      {"1e308", YES("1e+308")},
      {"5e-324", YES("5e-324")},
      {"1e-400", YES("0.0")}, /* the nearest double */
      {"12345678901234567890123", YES("1.2345678901234568e+22")},
      {"\"NaN\"", YES("nan")},
      {"\"Infinity\"", YES("inf")},
      {"\"-Infinity\"", YES("-inf")},
      {"\" 2.5 \"", YES("2.5")},
      {"\"+3\"", YES("3.0")},
      {"1e400", NO},
      {"-1e400", NO},
      {"\"abc\"", NO},
      {"\"\"", NO},
      {"true", NO},
      {"[1]", NO},
      {"{}", NO},
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_DOUBLE), NULL, cases);
}

static void test_float(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"1.5", YES("1.5")},   {"0.1", YES("0.1")}, {"3.4e38", YES("3.4e+38")}, {"\"NaN\"", YES("nan")},
      {"\"Infinity\"", YES("inf")}, {"3.5e38", NO}, {"-3.5e38", NO},          {"1e400", NO},
      {"\"x\"", NO},
  };
  run_and_close(ml_type_of(ML_TYPE_FLOAT), NULL, cases);
}

/* A FLOAT column takes every value that rounds to a finite float, up to and
 * including FLT_MAX's shortest text 3.4028235e38 (what printf "%.9g",
 * Python, Java and JavaScript write for the largest float, and what DuckDB
 * reads into a FLOAT as 3.4028235e+38), which is above FLT_MAX as a double;
 * 3.4028236e38, which rounds to infinity, does not fit. */
static void test_float_max(void **state) {
  (void)state;

  static const vcase cases[] = {
      {"3.4028235e38", YES("3.4028235e+38")},
      {"-3.4028235e38", YES("-3.4028235e+38")},
      {"3.4028236e38", NO},
  };
  run_and_close(ml_type_of(ML_TYPE_FLOAT), NULL, cases);
}

/* A value is never rounded into a DECIMAL column: a non-zero digit beyond
 * the scale does not fit (the caller NULLs it and records the change);
 * zeros beyond the scale are fine. */
static void test_decimal(void **state) {
  (void)state;
  static const vcase d18[] = {
      {"1.2345", NO},
      {"\"-1.2345\"", NO},
      {"1.0005", NO},
      {"-1.0005", NO},
      {"1.0004", NO},
      {"1.2340", YES("1.234")},
      {"1e3", YES("1000.000")},
      {"0", YES("0.000")},
      {"-0.0004", NO},
      {"-0.000", YES("0.000")},
      {"123456789012345.678", YES("123456789012345.678")},
      {"-123456789012345.678", YES("-123456789012345.678")},
      {"1234567890123456.7", NO},
      {"1e15", NO},
      {"\"abc\"", NO},
      {"true", NO},
      {"[1]", NO},
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_decimal(18, 3), NULL, d18);
  static const vcase d4[] = {
      {"99.99", YES("99.99")}, {"-99.99", YES("-99.99")}, {"0.5", YES("0.50")}, {"\"1.005\"", NO},
      {"100", NO},             {"99.995", NO},             {"-100", NO},
  };
  run_and_close(ml_type_decimal(4, 2), NULL, d4);
  /* Airbyte's big_integer column: 38 digits as a number or a string */
  static const vcase big[] = {
      {"12345678901234567890123456789012345678", YES("12345678901234567890123456789012345678")},
      {"\"-99999999999999999999999999999999999999\"", YES("-99999999999999999999999999999999999999")},
      {"123456789012345678901234567890123456789", NO},
      {"1.5", NO},
      {"1.0", YES("1")},
  };
  run_and_close(ml_type_decimal(38, 0), NULL, big);
  static const vcase d38[] = {
      {"12345678901234567890.0123456789", YES("12345678901234567890.0123456789")},
      {"\"-9999999999999999999999999999.9999999999\"", YES("-9999999999999999999999999999.9999999999")},
      {"1e27", YES("1000000000000000000000000000.0000000000")},
      {"1e28", NO},
  };
  run_and_close(ml_type_decimal(38, 10), NULL, d38);
}

/* ---- booleans, text, JSON ------------------------------------------------------------- */

static void test_boolean(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"true", YES("true")},      {"false", YES("false")},   {"\"true\"", YES("true")}, {"\"FALSE\"", YES("false")},
      {"\"yes\"", YES("true")},   {"\"no\"", YES("false")},  {"\"1\"", YES("true")},    {"\"0\"", YES("false")},
      {"\"t\"", YES("true")},     {"\"f\"", YES("false")},   {"1", NO},                 {"0", NO},
      {"\"maybe\"", NO},          {"\"\"", NO},              {"{}", NO},                {"[true]", NO},
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_BOOLEAN), NULL, cases);
}

static void test_varchar(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"\"hello\"", YES("hello")},
      {"\"\"", YES("")},
      {"12345678901234567890123", YES("12345678901234567890123")}, /* every digit kept */
      {"1.50", YES("1.50")},
      {"-0.0", YES("-0.0")},
      {"1E+2", YES("1E+2")},
      {"1e400", YES("1e400")},
      {"true", YES("true")},
      {"false", YES("false")},
      {"\"a\\\"b\\\\n\"", YES("a\"b\\n")}, /* escapes decoded */
      {"\"\\u00e9\\ud83e\\udd86\"", YES("é🦆")},
      {"\"line\\nbreak\\ttab\"", YES("line\nbreak\ttab")},
      {"{\"a\": [1, 2], \"b\": \"x\"}", YES("{\"a\":[1,2],\"b\":\"x\"}")}, /* compact JSON */
      {"{\"a\":[1,2],\"b\":\"x\"}", YES("{\"a\":[1,2],\"b\":\"x\"}")},
      {" [ 1 , { } , [ ] , \"s p\" ] ", YES("[1,{},[],\"s p\"]")},
      {"[]", YES("[]")},
      {"{}", YES("{}")},
      {"{\"n\": 1.50e+3}", YES("{\"n\":1.50e+3}")}, /* numbers inside keep their text */
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_VARCHAR), NULL, cases);
}

/* A NUL byte from a \u0000 escape is kept in VARCHAR (and escaped in JSON). */
static void test_nul_bytes(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"\"a\\u0000b\"", YES("a")}, /* the C text stops at the NUL; lengths are checked below */
  };
  ml_wh *wh = run_cases(ml_type_of(ML_TYPE_VARCHAR), NULL, cases);
  th_expect(wh, "SELECT CAST(strlen(v) AS VARCHAR) || '|' || replace(v, chr(0), '<NUL>') FROM v", "3|a<NUL>b");
  ml_wh_close(wh);
  static const vcase json[] = {
      {"\"a\\u0000b\"", YES("\"a\\u0000b\"")},
  };
  run_and_close(ml_type_of(ML_TYPE_JSON), NULL, json);
}

static void test_json(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"{\"a\":1}", YES("{\"a\":1}")},
      {"{ \"a\" : [ 1 , 2 ] }", YES("{\"a\":[1,2]}")},
      {"[1,\"x\",null]", YES("[1,\"x\",null]")},
      {"[ ]", YES("[]")},
      {"{}", YES("{}")},
      {"\"str\"", YES("\"str\"")}, /* a string stays a JSON string */
      {"\"\"", YES("\"\"")},
      {"\"a\\\"b\"", YES("\"a\\\"b\"")},
      {"\"\\u0001\"", YES("\"\\u0001\"")},
      {"\"42\"", YES("\"42\"")},
      {"42", YES("42")},
      {"1.50", YES("1.50")},
      {"-1e5", YES("-1e5")},
      {"12345678901234567890123", YES("12345678901234567890123")},
      {"true", YES("true")},
      {"false", YES("false")},
      {"{\"k\": {\"d\": [[[]]]}, \"s\": \"a b\"}", YES("{\"k\":{\"d\":[[[]]]},\"s\":\"a b\"}")},
      {"null", YES(NULL)}, /* SQL NULL, not the JSON text null */
  };
  ml_wh *wh = run_cases(ml_type_of(ML_TYPE_JSON), NULL, cases);
  /* every stored value is valid JSON of the input's JSON type */
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM v WHERE v IS NOT NULL AND NOT json_valid(v)", "0");
  th_expect(wh, "SELECT json_type(v) FROM v WHERE k = 5", "VARCHAR");
  th_expect(wh, "SELECT json_type(v) FROM v WHERE k = 0", "OBJECT");
  th_expect(wh, "SELECT json_type(v) FROM v WHERE k = 9", "VARCHAR");
  th_expect(wh, "SELECT CAST(v ->> '$.s' AS VARCHAR) FROM v WHERE k = 16", "a b");
  ml_wh_close(wh);
}

/* Escapes inside containers may be written either way; the decoded value is
 * what counts. */
static void test_json_escapes_inside(void **state) {
  (void)state;
  static const char *const inputs[] = {
      "{\"e\":\"\\u00e9\",\"q\":\"a\\\"b\"}",
      "{\"e\": \"\\u00e9\", \"q\": \"a\\\"b\"}",
  };
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE v (k INTEGER, j JSON, s VARCHAR)");
  ml_type types[3] = {ml_type_of(ML_TYPE_INTEGER), ml_type_of(ML_TYPE_JSON), ml_type_of(ML_TYPE_VARCHAR)};
  ml_batch *b = NULL;
  ml_err err;
  assert_int_equal(ml_batch_open(wh, NULL, "main", "v", 3, &b, &err), ML_OK);
  ml_json_doc *doc = ml_json_doc_new();
  ml_buf scratch = ML_BUF_INIT;
  for (size_t i = 0; i < TH_LEN(inputs); i++) {
    const ml_json_val *root;
    assert_int_equal(ml_json_parse(doc, inputs[i], strlen(inputs[i]), &root, &err), ML_OK);
    ml_batch_put_i32(b, 0, (int32_t)i);
    assert_true(ml_value_put(b, 1, types[1], NULL, root, &scratch));
    assert_true(ml_value_put(b, 2, types[2], NULL, root, &scratch));
    assert_int_equal(ml_batch_end_row(b, &err), ML_OK);
  }
  assert_int_equal(ml_batch_flush(b, &err), ML_OK);
  ml_batch_close(b);
  ml_json_doc_free(doc);
  ml_buf_free(&scratch);
  for (int k = 0; k < 2; k++) {
    th_expectf(wh, "é|a\"b", "SELECT (j ->> '$.e') || '|' || (j ->> '$.q') FROM v WHERE k = %d", k);
    th_expectf(wh, "é|a\"b",
               "SELECT (CAST(s AS JSON) ->> '$.e') || '|' || (CAST(s AS JSON) ->> '$.q') FROM v WHERE k = %d", k);
    /* compact: no whitespace outside strings */
    th_expectf(wh, "false",
               "SELECT CAST(contains(s, ' ') OR contains(CAST(j AS VARCHAR), ' ') AS VARCHAR) FROM v WHERE k = %d", k);
  }
  ml_wh_close(wh);
}

/* ---- dates and times ------------------------------------------------------------------- */

static void test_date(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"\"2021-1-1\"", YES("2021-01-01")},
      {"\"2021-01-01\"", YES("2021-01-01")},
      {"\" 2021-01-01 \"", YES("2021-01-01")},
      {"\"2020-02-29\"", YES("2020-02-29")},
      {"\"0001-01-01\"", YES("0001-01-01")},
      {"\"1969-12-31\"", YES("1969-12-31")},
      /* a full timestamp keeps the date as written, whatever the offset */
      {"\"2021-01-01T10:20:30Z\"", YES("2021-01-01")},
      {"\"2021-01-01T23:30:00-05:00\"", YES("2021-01-01")},
      {"\"2021-01-01T00:30:00+05:00\"", YES("2021-01-01")},
      {"\"2021-03-04 05:06:07.891\"", YES("2021-03-04")},
      {"\"1969-12-31T12:00:00\"", YES("1969-12-31")},
      {"\"2021-02-30\"", NO},
      {"\"2021-02-29\"", NO},
      {"\"2021-13-01\"", NO},
      {"\"yesterday\"", NO},
      {"\"\"", NO},
      {"20210101", NO},
      {"true", NO},
      {"{}", NO},
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_DATE), NULL, cases);
}

static void test_timestamptz(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"\"2021-01-01T10:00:00+02:00\"", YES("2021-01-01 08:00:00+00")},
      {"\"2021-01-01T10:00:00Z\"", YES("2021-01-01 10:00:00+00")},
      {"\"2021-01-01t10:00:00z\"", YES("2021-01-01 10:00:00+00")},
      {"\"2021-01-01 10:00:00\"", YES("2021-01-01 10:00:00+00")}, /* no offset: UTC */
      {"\"2021-01-01T10:00:00.123456-05:30\"", YES("2021-01-01 15:30:00.123456+00")},
      {"\"2021-01-01T00:00:00.1234565Z\"", YES("2021-01-01 00:00:00.123457+00")}, /* half up */
      {"\"2021-01-01T23:30:00-05:00\"", YES("2021-01-02 04:30:00+00")},
      {"\"2021-01-01T10:00Z\"", YES("2021-01-01 10:00:00+00")},
      {"\"2021-01-01T10:00:00+0530\"", YES("2021-01-01 04:30:00+00")},
      {"\"2021-01-01T10:00:00+05\"", YES("2021-01-01 05:00:00+00")},
      {"\"2021-01-01 10:00:00 UTC\"", YES("2021-01-01 10:00:00+00")},
      {"\"2021-01-01\"", YES("2021-01-01 00:00:00+00")},
      {"\"1969-12-31T23:59:59.999999Z\"", YES("1969-12-31 23:59:59.999999+00")},
      {"\"nope\"", NO},
      {"\"2021-13-01T00:00:00Z\"", NO},
      {"\"2021-01-01T10:00:00+02:00 junk\"", NO},
      {"1609459200", NO},
      {"true", NO},
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_TIMESTAMPTZ), NULL, cases);
}

static void test_timestamp(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"\"2021-01-01T10:00:00+02:00\"", YES("2021-01-01 10:00:00")}, /* wall clock as written */
      {"\"2021-01-01T23:30:00-05:00\"", YES("2021-01-01 23:30:00")},
      {"\"2021-01-01T10:00:00Z\"", YES("2021-01-01 10:00:00")},
      {"\"2021-06-15 23:59:59.999999\"", YES("2021-06-15 23:59:59.999999")},
      {"\"2021-01-01\"", YES("2021-01-01 00:00:00")},
      {"\"1900-03-01T00:00:00\"", YES("1900-03-01 00:00:00")},
      {"\"x\"", NO},
      {"42", NO},
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_TIMESTAMP), NULL, cases);
}

static void test_time(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"\"12:34:56\"", YES("12:34:56")},
      {"\"12:34\"", YES("12:34:00")},
      {"\"12:34:56.5\"", YES("12:34:56.5")},
      {"\"23:59:59.999999\"", YES("23:59:59.999999")},
      {"\"00:00\"", YES("00:00:00")},
      {"\"12:34:56+02:00\"", YES("12:34:56")}, /* a TIME has no zone: offset dropped */
      {"\"25:00\"", NO},
      {"\"12:60\"", NO},
      {"\"x\"", NO},
      {"1200", NO},
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_TIME), NULL, cases);
}

static void test_timetz(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"\"12:34:56+02:00\"", YES("12:34:56+02")},
      {"\"12:34:56Z\"", YES("12:34:56+00")},
      {"\"12:34:56\"", YES("12:34:56+00")},
      {"\"12:34:56-05:30\"", YES("12:34:56-05:30")},
      {"\"12:00:00.25+0100\"", YES("12:00:00.25+01")},
      {"\"nope\"", NO},
      {"43200", NO},
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_TIMETZ), NULL, cases);
}

/* ---- blobs ------------------------------------------------------------------------------ */

static void test_blob(void **state) {
  (void)state;
  ml_value_opts b64 = {.base64 = true};
  static const vcase decoded[] = {
      {"\"aGVsbG8=\"", YES("hello")},
      {"\"aGVsbG8\"", YES("hello")}, /* padding optional */
      {"\"aGVs bG8=\"", YES("hello")}, /* whitespace ignored */
      {"\"AAEC\"", YES("\\x00\\x01\\x02")},
      {"\"_-8=\"", YES("\\xFF\\xEF")}, /* URL-safe alphabet */
      {"\"\"", YES("")},
      {"\"!!!\"", NO},
      {"\"a\"", NO},
      {"42", NO},
      {"{}", NO},
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_BLOB), &b64, decoded);
  ml_value_opts plain = {.base64 = false};
  static const vcase raw[] = {
      {"\"aGVsbG8=\"", YES("aGVsbG8=")},
      {"\"a\\u0000b\"", YES("a\\x00b")}, /* a NUL from an escape is kept */
      {"\"\\u00e9\"", YES("\\xC3\\xA9")},
      {"\"!!!\"", YES("!!!")},
      {"42", NO},
      {"[]", NO},
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_BLOB), &plain, raw);
  /* opts NULL: no base64 */
  run_and_close(ml_type_of(ML_TYPE_BLOB), NULL, raw);
}

/* The scratch buffer is reused between values: nothing of an earlier (longer)
 * value leaks into a later one. */
static void test_scratch_reuse(void **state) {
  (void)state;
  static const vcase cases[] = {
      {"{\"long\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
       YES("{\"long\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}")},
      {"[ 1 ]", YES("[1]")},
      {"\"s\"", YES("\"s\"")},
      {"{ }", YES("{}")},
  };
  run_and_close(ml_type_of(ML_TYPE_JSON), NULL, cases);
  ml_value_opts b64 = {.base64 = true};
  static const vcase blobs[] = {
      {"\"aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=\"", YES("hello world hello world")},
      {"\"aGk=\"", YES("hi")},
      {"\"\"", YES("")},
  };
  run_and_close(ml_type_of(ML_TYPE_BLOB), &b64, blobs);
}

/* A UUID column takes well-formed UUID strings (and refuses other text).
 * mallard creates UUID columns only for _airbyte_raw_id, but ml_table_sync
 * keeps an existing UUID column of a user's table when the wanted type is
 * not wider (e.g. the field is declared as a date/number), and
 * ml_type_parse recognises UUID, so values do reach this path. */
static void test_uuid_column(void **state) {
  (void)state;

  static const vcase cases[] = {
      {"\"00112233-4455-6677-8899-aabbccddeeff\"", YES("00112233-4455-6677-8899-aabbccddeeff")},
      {"\"nope\"", NO},
      {"null", YES(NULL)},
  };
  run_and_close(ml_type_of(ML_TYPE_UUID), NULL, cases);
}

/* ---- inference and JSON text ---------------------------------------------------------- */

static void test_infer(void **state) {
  (void)state;
  static const struct {
    const char *json;
    ml_type_id type;
  } cases[] = {
      {"null", ML_TYPE_NULL},
      {"true", ML_TYPE_BOOLEAN},
      {"false", ML_TYPE_BOOLEAN},
      {"42", ML_TYPE_BIGINT},
      {"-0", ML_TYPE_BIGINT},
      {"-9223372036854775808", ML_TYPE_BIGINT},
      {"9223372036854775808", ML_TYPE_DOUBLE}, /* does not fit int64 */
      {"1.0", ML_TYPE_DOUBLE},
      {"1e3", ML_TYPE_DOUBLE},
      {"1e400", ML_TYPE_DOUBLE},
      {"\"x\"", ML_TYPE_VARCHAR},
      {"\"42\"", ML_TYPE_VARCHAR},
      {"\"2021-01-01\"", ML_TYPE_VARCHAR},
      {"{}", ML_TYPE_JSON},
      {"{\"a\":1}", ML_TYPE_JSON},
      {"[]", ML_TYPE_JSON},
      {"[1,2]", ML_TYPE_JSON},
  };
  ml_json_doc *doc = ml_json_doc_new();
  assert_non_null(doc);
  for (size_t i = 0; i < TH_LEN(cases); i++) {
    const ml_json_val *root;
    ml_err err;
    assert_int_equal(ml_json_parse(doc, cases[i].json, strlen(cases[i].json), &root, &err), ML_OK);
    ml_type t = ml_value_infer(root);
    if (t.id != cases[i].type) fail_msg("infer(%s) = %d, expected %d", cases[i].json, t.id, cases[i].type);
  }
  ml_json_doc_free(doc);
}

static void test_json_text(void **state) {
  (void)state;
  static const struct {
    const char *json;
    const char *text;
  } cases[] = {
      {"\"a\"", "\"a\""},
      {" 1.50 ", "1.50"},
      {"null", "null"},
      {"true", "true"},
      {"{ \"a\" : [ 1 , { \"b\" : null } ] }", "{\"a\":[1,{\"b\":null}]}"},
      {"\"tab\\there\"", "\"tab\\there\""},
  };
  ml_json_doc *doc = ml_json_doc_new();
  ml_buf out = ML_BUF_INIT;
  ml_buf_puts(&out, "junk that must go");
  for (size_t i = 0; i < TH_LEN(cases); i++) {
    const ml_json_val *root;
    ml_err err;
    assert_int_equal(ml_json_parse(doc, cases[i].json, strlen(cases[i].json), &root, &err), ML_OK);
    ml_value_json_text(root, &out);
    assert_non_null(out.data);
    assert_int_equal(out.len, strlen(cases[i].text));
    assert_string_equal(out.data, cases[i].text);
  }
  ml_buf_free(&out);
  ml_json_doc_free(doc);
}

/* A container whose source has no whitespace outside its strings and no
 * escapes inside them is taken as it is (the source text itself, spaces in
 * its strings and all); any other is written compactly into scratch, escapes
 * decoded, so that one value always gives one text. */
static void test_json_compact(void **state) {
  (void)state;
  static const struct {
    const char *json;
    const char *text;
    bool source; /* the result is the source text itself */
  } cases[] = {
      {"{\"s\":\"a b\",\"t\":[\"S\u00e3o Paulo\",1]}", "{\"s\":\"a b\",\"t\":[\"S\u00e3o Paulo\",1]}", true},
      {"{\"s\":\"a b\",\"t\":\"x\\\" y\"}", "{\"s\":\"a b\",\"t\":\"x\\\" y\"}", false},
      {"{\"a\":\"x\\\\\",\"b\":[1,2]}", "{\"a\":\"x\\\\\",\"b\":[1,2]}", false},
      {"[\"caf\\u00e9\",\"a\\/b\"]", "[\"caf\u00e9\",\"a/b\"]", false},
      {"[\"caf\u00e9\",\"a/b\"]", "[\"caf\u00e9\",\"a/b\"]", true},
      {"{\"a\": 1}", "{\"a\":1}", false},
      {"[\"a b\" ,1]", "[\"a b\",1]", false},
      {"[\"a\",\n2]", "[\"a\",2]", false},
      {"\"a b\"", "\"a b\"", false}, /* scalars are always written */
  };
  ml_json_doc *doc = ml_json_doc_new();
  ml_buf scratch = ML_BUF_INIT;
  for (size_t i = 0; i < TH_LEN(cases); i++) {
    const ml_json_val *root;
    ml_err err;
    const char *in = cases[i].json, *text;
    size_t len;
    assert_int_equal(ml_json_parse(doc, in, strlen(in), &root, &err), ML_OK);
    ml_value_json_compact(root, &scratch, &text, &len);
    if ((text >= in && text < in + strlen(in)) != cases[i].source) fail_msg("case %zu: source taken: %d", i, !cases[i].source);
    assert_int_equal(len, strlen(cases[i].text));
    assert_memory_equal(text, cases[i].text, len);
  }
  ml_buf_free(&scratch);
  ml_json_doc_free(doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bigint),       cmocka_unit_test(test_smallint_integer),
      cmocka_unit_test(test_double),       cmocka_unit_test(test_float),
      cmocka_unit_test(test_float_max),    cmocka_unit_test(test_decimal),
      cmocka_unit_test(test_boolean),
      cmocka_unit_test(test_varchar),      cmocka_unit_test(test_nul_bytes),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_json_escapes_inside), cmocka_unit_test(test_date),
      cmocka_unit_test(test_timestamptz),  cmocka_unit_test(test_timestamp),
      cmocka_unit_test(test_time),         cmocka_unit_test(test_timetz),
      cmocka_unit_test(test_blob),         cmocka_unit_test(test_scratch_reuse),
      cmocka_unit_test(test_uuid_column),  cmocka_unit_test(test_infer),
      cmocka_unit_test(test_json_text),    cmocka_unit_test(test_json_compact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
