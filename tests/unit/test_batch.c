/* Unit tests for engine/ml_batch (rows into a DuckDB data chunk and an
 * appender) and engine/ml_table (creating and evolving the target table).
 *
 * Everything written is read back with SQL, values CAST to VARCHAR, so the
 * expected texts are DuckDB's own renderings.  TIMETZ bit patterns come from
 * DuckDB's duckdb_create_time_tz, not from mallard. */
#include "test_helpers.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "warehouse/ml_loader.h"

#include "warehouse/ml_batch.h"
#include "engine/ml_table.h"

static ml_err err;

/* Every test runs twice: rows appended inline through DuckDB's appender, and
 * through the background loader (ml_feed's INSERT on a second thread). */
static ml_wh_options g_opts;
static int inline_mode(void **state) {
  (void)state;
  g_opts = (ml_wh_options){0};
  return 0;
}
static int loader_mode(void **state) {
  (void)state;
  g_opts = (ml_wh_options){.background_append = true};
  return 0;
}
#undef th_open_mem
#define th_open_mem() th_open_(":memory:", &g_opts, __FILE__, __LINE__)

#define OK(expr)                                                                \
  do {                                                                          \
    ml_err_clear(&err);                                                         \
    ml_status st_ = (expr);                                                     \
    if (st_ != ML_OK) fail_msg("%s failed: %d %s", #expr, (int)st_, err.msg);   \
  } while (0)

/* ---- one table with every type ---------------------------------------------------- */

enum {
  C_BOOL, C_I16, C_I32, C_DATE, C_I64, C_TS, C_TSTZ, C_TIME, C_TIMETZ, C_F32, C_F64, C_UUID,
  C_D4, C_D9, C_D18, C_D38, C_STR, C_JSON, C_BLOB, C_COUNT
};

static const char *const every_sql =
    "CREATE TABLE every (k INTEGER, b BOOLEAN, s SMALLINT, i INTEGER, dt DATE, g BIGINT, ts TIMESTAMP, "
    "tstz TIMESTAMPTZ, t TIME, ttz TIMETZ, f FLOAT, d DOUBLE, u UUID, d4 DECIMAL(4,2), d9 DECIMAL(9,3), "
    "d18 DECIMAL(18,6), d38 DECIMAL(38,10), v VARCHAR, j JSON, bl BLOB)";
static const char *const every_cols[C_COUNT] = {"b",  "s", "i", "dt", "g",   "ts",  "tstz", "t", "ttz", "f",
                                                "d",  "u", "d4", "d9", "d18", "d38", "v",    "j", "bl"};

static void every_types(ml_type types[C_COUNT + 1]) {
  types[0] = ml_type_of(ML_TYPE_INTEGER); /* k: the row number */
  ml_type t[C_COUNT] = {
      ml_type_of(ML_TYPE_BOOLEAN),   ml_type_of(ML_TYPE_SMALLINT),    ml_type_of(ML_TYPE_INTEGER),
      ml_type_of(ML_TYPE_DATE),      ml_type_of(ML_TYPE_BIGINT),      ml_type_of(ML_TYPE_TIMESTAMP),
      ml_type_of(ML_TYPE_TIMESTAMPTZ), ml_type_of(ML_TYPE_TIME),      ml_type_of(ML_TYPE_TIMETZ),
      ml_type_of(ML_TYPE_FLOAT),     ml_type_of(ML_TYPE_DOUBLE),      ml_type_of(ML_TYPE_UUID),
      ml_type_decimal(4, 2),         ml_type_decimal(9, 3),           ml_type_decimal(18, 6),
      ml_type_decimal(38, 10),       ml_type_of(ML_TYPE_VARCHAR),     ml_type_of(ML_TYPE_JSON),
      ml_type_of(ML_TYPE_BLOB)};
  for (int i = 0; i < C_COUNT; i++) types[i + 1] = t[i];
}

/* Unscaled 128-bit value as lo/hi (two's complement, hi signed). */
static void split128(__int128 v, uint64_t *lo, int64_t *hi) {
  *lo = (uint64_t)v;
  *hi = (int64_t)(v >> 64);
}

/* Checks column `col` of row k. */
#define EXPECT_CELL(wh, k, col, want) \
  th_expectf((wh), (want), "SELECT CAST(%s AS VARCHAR) FROM every WHERE k = %d", (col), (k))

static void test_every_type(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, every_sql);
  ml_type types[C_COUNT + 1];
  every_types(types);
  ml_batch *b = NULL;
  OK(ml_batch_open(wh, NULL, "main", "every", C_COUNT + 1, &b, &err));
  assert_int_equal(ml_batch_columns(b), C_COUNT + 1);
  assert_int_equal(ml_batch_rows(b), 0);
  uint64_t lo;
  int64_t hi;

  /* row 1: typical values */
  ml_batch_put_i32(b, 0, 1);
  ml_batch_put_bool(b, 1 + C_BOOL, true);
  ml_batch_put_i16(b, 1 + C_I16, -32768);
  ml_batch_put_i32(b, 1 + C_I32, 2147483647);
  ml_batch_put_i32(b, 1 + C_DATE, 18628); /* 2021-01-01 */
  ml_batch_put_i64(b, 1 + C_I64, INT64_MIN);
  ml_batch_put_i64(b, 1 + C_TS, 1609459200123456LL); /* 2021-01-01 00:00:00.123456 */
  ml_batch_put_i64(b, 1 + C_TSTZ, 1609502400000000LL); /* 2021-01-01 12:00:00 UTC */
  ml_batch_put_i64(b, 1 + C_TIME, 45296789000LL);      /* 12:34:56.789 */
  ml_batch_put_u64(b, 1 + C_TIMETZ, duckdb_create_time_tz(43200000000LL, 7200).bits); /* 12:00+02 */
  ml_batch_put_f32(b, 1 + C_F32, 1.5f);
  ml_batch_put_f64(b, 1 + C_F64, 0.1);
  ml_batch_put_i128(b, 1 + C_UUID, 0x8899aabbccddeeffULL, (int64_t)(0x0011223344556677ULL ^ 0x8000000000000000ULL));
  ml_batch_put_decimal(b, 1 + C_D4, (uint64_t)(int64_t)-9999, -1);
  ml_batch_put_decimal(b, 1 + C_D9, 123456789, 0);
  ml_batch_put_decimal(b, 1 + C_D18, 123456789012345678ULL, 0);
  __int128 big = 1;
  for (int i = 0; i < 38; i++) big *= 10;
  split128(-(big - 1), &lo, &hi); /* -(10^38 - 1) */
  ml_batch_put_decimal(b, 1 + C_D38, lo, hi);
  ml_batch_put_str(b, 1 + C_STR, "hi", 2);
  ml_batch_put_str(b, 1 + C_JSON, "{\"a\":[1,2]}", 11);
  ml_batch_put_str(b, 1 + C_BLOB, "a\0b\0", 4);
  OK(ml_batch_end_row(b, &err));
  assert_int_equal(ml_batch_rows(b), 1);

  /* row 2: nothing set but the key: every other column NULL */
  ml_batch_put_i32(b, 0, 2);
  OK(ml_batch_end_row(b, &err));

  /* row 3: other values, strings around DuckDB's 12-byte inline limit */
  ml_batch_put_i32(b, 0, 3);
  ml_batch_put_bool(b, 1 + C_BOOL, false);
  ml_batch_put_i16(b, 1 + C_I16, 32767);
  ml_batch_put_i32(b, 1 + C_I32, INT32_MIN);
  ml_batch_put_i32(b, 1 + C_DATE, -1); /* 1969-12-31 */
  ml_batch_put_i64(b, 1 + C_I64, INT64_MAX);
  ml_batch_put_i64(b, 1 + C_TS, -1); /* one microsecond before the epoch */
  ml_batch_put_i64(b, 1 + C_TSTZ, 0);
  ml_batch_put_i64(b, 1 + C_TIME, 0);
  ml_batch_put_u64(b, 1 + C_TIMETZ, duckdb_create_time_tz(1000000LL, -(5 * 3600 + 30 * 60)).bits);
  ml_batch_put_f32(b, 1 + C_F32, -0.25f);
  ml_batch_put_f64(b, 1 + C_F64, -1e300);
  ml_batch_put_i128(b, 1 + C_UUID, 0, INT64_MIN); /* the nil UUID */
  ml_batch_put_decimal(b, 1 + C_D4, 1, 0);
  ml_batch_put_decimal(b, 1 + C_D9, (uint64_t)(int64_t)-1, -1);
  ml_batch_put_decimal(b, 1 + C_D18, (uint64_t)(int64_t)-999999999999999999LL, -1);
  split128(big - 1, &lo, &hi);
  ml_batch_put_decimal(b, 1 + C_D38, lo, hi);
  ml_batch_put_str(b, 1 + C_STR, "abcdefghijkl", 12); /* exactly inline */
  ml_batch_put_str(b, 1 + C_JSON, "[]", 2);
  static const char blob13[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, (char)0xff};
  ml_batch_put_str(b, 1 + C_BLOB, blob13, 13);
  OK(ml_batch_end_row(b, &err));

  /* row 4: long strings from a buffer that is overwritten right after each
   * put (DuckDB copies), empty strings, and values replaced by NULL */
  ml_batch_put_i32(b, 0, 4);
  char buf[200];
  memset(buf, 'x', sizeof buf);
  memcpy(buf, "abcdefghijklm", 13); /* 13 bytes: not inline */
  ml_batch_put_str(b, 1 + C_STR, buf, 13);
  memset(buf, 'Z', sizeof buf);
  snprintf(buf, sizeof buf, "{\"long\":\"%0100d\"}", 7);
  ml_batch_put_str(b, 1 + C_JSON, buf, strlen(buf));
  memset(buf, 'Q', sizeof buf);
  ml_batch_put_str(b, 1 + C_BLOB, "", 0);
  ml_batch_put_i64(b, 1 + C_I64, 5);
  ml_batch_put_null(b, 1 + C_I64); /* set, then NULL again */
  ml_batch_put_null(b, 1 + C_F64); /* never set */
  ml_batch_put_i16(b, 1 + C_I16, 7);
  OK(ml_batch_end_row(b, &err));

  /* row 5: a multi-byte UTF-8 string of 100 bytes, and an empty VARCHAR */
  ml_batch_put_i32(b, 0, 5);
  char utf[101];
  for (int i = 0; i < 50; i++) memcpy(utf + 2 * i, "\xc3\xa9", 2); /* é x 50 */
  utf[100] = '\0';
  ml_batch_put_str(b, 1 + C_STR, utf, 100);
  ml_batch_put_str(b, 1 + C_JSON, "\"\"", 2);
  OK(ml_batch_end_row(b, &err));
  ml_batch_put_i32(b, 0, 6);
  ml_batch_put_str(b, 1 + C_STR, "", 0);
  OK(ml_batch_end_row(b, &err));

  assert_int_equal(ml_batch_rows(b), 6);
  /* not visible before the flush */
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM every", "0");
  OK(ml_batch_flush(b, &err));
  assert_int_equal(ml_batch_rows(b), 6);
  ml_batch_close(b);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM every", "6");

  /* row 1 */
  static const char *const row1[C_COUNT] = {
      "true", "-32768", "2147483647", "2021-01-01", "-9223372036854775808", "2021-01-01 00:00:00.123456",
      "2021-01-01 12:00:00+00", "12:34:56.789", "12:00:00+02", "1.5", "0.1",
      "00112233-4455-6677-8899-aabbccddeeff", "-99.99", "123456.789", "123456789012.345678",
      "-9999999999999999999999999999.9999999999", "hi", "{\"a\":[1,2]}", "a\\x00b\\x00"};
  for (int c = 0; c < C_COUNT; c++) EXPECT_CELL(wh, 1, every_cols[c], row1[c]);
  th_expect(wh, "SELECT CAST(octet_length(bl) AS VARCHAR) FROM every WHERE k = 1", "4");
  th_expect(wh, "SELECT typeof(j) FROM every WHERE k = 1", "JSON");
  th_expect(wh, "SELECT CAST(json_extract(j, '$.a[1]') AS VARCHAR) FROM every WHERE k = 1", "2");
  /* row 2: all NULL */
  for (int c = 0; c < C_COUNT; c++) EXPECT_CELL(wh, 2, every_cols[c], NULL);
  /* row 3 */
  static const char *const row3[C_COUNT] = {
      "false", "32767", "-2147483648", "1969-12-31", "9223372036854775807", "1969-12-31 23:59:59.999999",
      "1970-01-01 00:00:00+00", "00:00:00", "00:00:01-05:30", "-0.25", "-1e+300",
      "00000000-0000-0000-0000-000000000000", "0.01", "-0.001", "-999999999999.999999",
      "9999999999999999999999999999.9999999999", "abcdefghijkl", "[]", NULL};
  for (int c = 0; c < C_COUNT; c++)
    if (row3[c]) EXPECT_CELL(wh, 3, every_cols[c], row3[c]);
  th_expect(wh, "SELECT hex(bl) FROM every WHERE k = 3", "000102030405060708090A00FF");
  /* row 4 */
  EXPECT_CELL(wh, 4, "v", "abcdefghijklm");
  EXPECT_CELL(wh, 4, "j",
              "{\"long\":\"00000000000000000000000000000000000000000000000000"
              "00000000000000000000000000000000000000000000000007\"}");
  EXPECT_CELL(wh, 4, "bl", "");
  EXPECT_CELL(wh, 4, "g", NULL);
  EXPECT_CELL(wh, 4, "d", NULL);
  EXPECT_CELL(wh, 4, "s", "7");
  EXPECT_CELL(wh, 4, "b", NULL);
  /* rows 5, 6 */
  EXPECT_CELL(wh, 5, "v", utf);
  th_expect(wh, "SELECT CAST(length(v) AS VARCHAR) || ',' || CAST(strlen(v) AS VARCHAR) FROM every WHERE k = 5",
            "50,100");
  EXPECT_CELL(wh, 5, "j", "\"\"");
  EXPECT_CELL(wh, 6, "v", "");
  EXPECT_CELL(wh, 6, "j", NULL);
  ml_wh_close(wh);
}

/* Decimals of each storage width at the edges of their range, with scales
 * that make the unscaled value visible.  (DuckDB prints a DECIMAL whose scale
 * equals its width without the leading 0: ".99999".) */
static void test_decimal_widths(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE dec (k INTEGER, a DECIMAL(1,0), b DECIMAL(4,0), c DECIMAL(5,5), d DECIMAL(9,0), "
              "e DECIMAL(10,0), f DECIMAL(18,18), g DECIMAL(19,0), h DECIMAL(38,0))");
  ml_batch *b = NULL;
  OK(ml_batch_open(wh, NULL, "main", "dec", 9, &b, &err));
  /* k=1: the largest values; k=2: the smallest; k=3: zero */
  static const int64_t max64[] = {9, 9999, 99999, 999999999, 9999999999LL, 999999999999999999LL};
  for (int k = 1; k <= 3; k++) {
    ml_batch_put_i32(b, 0, k);
    for (int c = 0; c < 6; c++) {
      int64_t v = k == 1 ? max64[c] : k == 2 ? -max64[c] : 0;
      ml_batch_put_decimal(b, (size_t)c + 1, (uint64_t)v, v < 0 ? -1 : 0);
    }
    /* 19 digits: 10^19 - 1 does not fit int64 */
    __int128 v19 = (__int128)999999999999999999LL * 10 + 9;
    __int128 v38 = 1;
    for (int i = 0; i < 38; i++) v38 *= 10;
    v38 -= 1;
    if (k == 2) {
      v19 = -v19;
      v38 = -v38;
    } else if (k == 3) {
      v19 = v38 = 0;
    }
    uint64_t lo;
    int64_t hi;
    split128(v19, &lo, &hi);
    ml_batch_put_decimal(b, 7, lo, hi);
    split128(v38, &lo, &hi);
    ml_batch_put_decimal(b, 8, lo, hi);
    OK(ml_batch_end_row(b, &err));
  }
  OK(ml_batch_flush(b, &err));
  ml_batch_close(b);
  th_expect(wh, "SELECT concat_ws(' ', a, b, c, d, e, f, g, h) FROM dec WHERE k = 1",
            "9 9999 .99999 999999999 9999999999 .999999999999999999 9999999999999999999 "
            "99999999999999999999999999999999999999");
  th_expect(wh, "SELECT concat_ws(' ', a, b, c, d, e, f, g, h) FROM dec WHERE k = 2",
            "-9 -9999 -.99999 -999999999 -9999999999 -.999999999999999999 -9999999999999999999 "
            "-99999999999999999999999999999999999999");
  th_expect(wh, "SELECT concat_ws(' ', a, b, c, d, e, f, g, h) FROM dec WHERE k = 3",
            "0 0 .00000 0 0 .000000000000000000 0 0");
  ml_wh_close(wh);
}

/* ---- more than one chunk ------------------------------------------------------------ */

static void test_many_chunks(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE big (i BIGINT, x DOUBLE, s VARCHAR, n INTEGER)");
  ml_batch *b = NULL;
  OK(ml_batch_open(wh, NULL, "main", "big", 4, &b, &err));
  const int64_t vs = (int64_t)duckdb_vector_size();
  const int64_t rows = 2 * vs + 904; /* 5000 with the usual 2048 */
  int64_t sum_i = 0, nulls_n = 0, sum_len = 0;
  for (int64_t r = 0; r < rows; r++) {
    ml_batch_put_i64(b, 0, r);
    ml_batch_put_f64(b, 1, (double)r * 0.5);
    char s[64];
    int len = snprintf(s, sizeof s, "row number %06lld%s", (long long)r, r % 3 ? "" : " and some more text");
    ml_batch_put_str(b, 2, s, (size_t)len);
    sum_len += len;
    if (r % 7) ml_batch_put_i32(b, 3, (int32_t)r); /* every 7th row NULL */
    else nulls_n++;
    sum_i += r;
    OK(ml_batch_end_row(b, &err));
    assert_int_equal(ml_batch_rows(b), (uint64_t)r + 1);
  }
  OK(ml_batch_flush(b, &err));
  ml_batch_close(b);
  char want[64];
  snprintf(want, sizeof want, "%lld", (long long)rows);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM big", want);
  snprintf(want, sizeof want, "%lld", (long long)sum_i);
  th_expect(wh, "SELECT CAST(sum(i) AS VARCHAR) FROM big", want);
  /* sum of r/2: exact in a double */
  snprintf(want, sizeof want, "%lld", (long long)sum_i);
  th_expect(wh, "SELECT CAST(CAST(sum(x) * 2 AS BIGINT) AS VARCHAR) FROM big", want);
  snprintf(want, sizeof want, "%lld", (long long)sum_len);
  th_expect(wh, "SELECT CAST(sum(strlen(s)) AS VARCHAR) FROM big", want);
  snprintf(want, sizeof want, "%lld", (long long)nulls_n);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM big WHERE n IS NULL", want);
  /* every row intact: i, x, s and n agree with each other */
  th_expect(wh,
            "SELECT CAST(count(*) AS VARCHAR) FROM big WHERE x <> i * 0.5 OR s NOT LIKE 'row number ' || "
            "lpad(CAST(i AS VARCHAR), 6, '0') || '%' OR (i % 7 = 0) <> (n IS NULL) OR n <> i",
            "0");
  ml_wh_close(wh);
}

/* Exactly one full chunk, then a row in the next chunk that sets nothing:
 * values of the previous chunk must not show through. */
static void test_chunk_boundary_nulls(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE c (k INTEGER, g BIGINT, v VARCHAR)");
  ml_batch *b = NULL;
  OK(ml_batch_open(wh, NULL, "main", "c", 3, &b, &err));
  const int vs = (int)duckdb_vector_size();
  for (int r = 0; r < vs; r++) {
    ml_batch_put_i32(b, 0, r);
    ml_batch_put_i64(b, 1, 1000 + r);
    ml_batch_put_str(b, 2, "a value longer than twelve", 26);
    OK(ml_batch_end_row(b, &err));
  }
  /* a flush right at the chunk boundary, with nothing pending */
  OK(ml_batch_flush(b, &err));
  OK(ml_batch_flush(b, &err));
  for (int r = vs; r < vs + 3; r++) {
    ml_batch_put_i32(b, 0, r);
    OK(ml_batch_end_row(b, &err));
  }
  OK(ml_batch_flush(b, &err));
  ml_batch_close(b);
  char want[32];
  snprintf(want, sizeof want, "%d", vs + 3);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM c", want);
  snprintf(want, sizeof want, "%d,%d,0", vs, vs);
  th_expect(wh,
            "SELECT CAST(count(g) AS VARCHAR) || ',' || CAST(count(v) AS VARCHAR) || ',' || "
            "CAST(count(*) FILTER (WHERE k >= g - 1000 AND g IS NOT NULL AND k <> g - 1000) AS VARCHAR) FROM c",
            want);
  snprintf(want, sizeof want, "%d", vs);
  th_expectf(wh, "0", "SELECT CAST(count(*) AS VARCHAR) FROM c WHERE k >= %d AND (g IS NOT NULL OR v IS NOT NULL)", vs);
  ml_wh_close(wh);
}

/* ---- transactions ------------------------------------------------------------------- */

static void test_flush_in_transaction(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE t (x BIGINT)");
  OK(ml_wh_begin(wh, &err));
  ml_batch *b = th_batch_x(wh);
  th_fill_x(b, 3000);
  OK(ml_batch_flush(b, &err));
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "3000"); /* visible inside the transaction */
  ml_wh_rollback(wh);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "0");
  ml_batch_close(b);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "0");

  /* and committed when the transaction commits */
  OK(ml_wh_begin(wh, &err));
  b = th_batch_x(wh);
  th_fill_x(b, 10);
  OK(ml_batch_flush(b, &err));
  OK(ml_wh_commit(wh, &err));
  ml_batch_close(b);
  th_expect(wh, "SELECT CAST(sum(x) AS VARCHAR) FROM t", "45");
  ml_wh_close(wh);
}

/* ---- opening --------------------------------------------------------------------- */

static void test_open_errors(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE t (a BIGINT, b VARCHAR)");
  ml_batch *b = (ml_batch *)1;
  ml_err_clear(&err);
  assert_int_equal(ml_batch_open(wh, NULL, "main", "t", 3, &b, &err), ML_ERR_STATE);
  assert_null(b);
  if (!strstr(err.msg, "main.t")) fail_msg("message does not name the table: %s", err.msg);
  b = (ml_batch *)1;
  assert_int_equal(ml_batch_open(wh, NULL, "main", "t", 1, &b, &err), ML_ERR_STATE);
  assert_null(b);
  b = (ml_batch *)1;
  ml_err_clear(&err);
  assert_int_equal(ml_batch_open(wh, NULL, "main", "missing", 2, &b, &err), ML_ERR_DB);
  assert_null(b);
  if (!strstr(err.msg, "missing")) fail_msg("message does not name the table: %s", err.msg);
  /* right count: fine; closing without rows is fine, and NULL is fine */
  OK(ml_batch_open(wh, NULL, "main", "t", 2, &b, &err));
  ml_batch_close(b);
  ml_batch_close(NULL);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "0");
  ml_wh_close(wh);
}

/* ml_batch_close drops every row that was not flushed, also the full chunks
 * (duckdb_vector_size() rows each) that ml_batch_end_row already handed to
 * the appender: destroying DuckDB's appender would flush them.  2 * 2048 + 5
 * rows appended and closed without a flush leave the table empty. */
static void test_close_without_flush(void **state) {
  (void)state;

  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE t (x BIGINT)");
  ml_batch *b = th_batch_x(wh);
  const int rows = 2 * (int)duckdb_vector_size() + 5;
  th_fill_x(b, rows);
  ml_batch_close(b);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "0");
  ml_wh_close(wh);
}

/* Rows appended inside a transaction that is rolled back stay out of the
 * table for good: ml_batch_close afterwards (in autocommit mode) does not
 * flush the full chunks the appender still holds.  This is the order of an
 * aborted Airbyte sync (ml_dest_abort rolls back, then ml_dest_free ->
 * ml_astream_free -> ml_table_free -> ml_batch_close), whose rows must not
 * be committed without their state. */
static void test_close_after_rollback(void **state) {
  (void)state;

  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE t (x BIGINT)");
  OK(ml_wh_begin(wh, &err));
  ml_batch *b = th_batch_x(wh);
  const int rows = 2 * (int)duckdb_vector_size() + 5;
  th_fill_x(b, rows);
  ml_wh_rollback(wh);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "0");
  ml_batch_close(b);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "0");
  ml_wh_close(wh);
}

/* A partial chunk that was never flushed is dropped (this part holds). */
static void test_close_drops_partial_chunk(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE t (x BIGINT)");
  ml_batch *b = th_batch_x(wh);
  th_fill_x(b, 10);
  ml_batch_close(b);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "0");
  ml_wh_close(wh);
}

/* A constraint violation surfaces as an error naming the table. */
static void test_flush_constraint_error(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE t (x BIGINT NOT NULL)");
  ml_batch *b = th_batch_x(wh);
  ml_batch_put_i64(b, 0, 1);
  OK(ml_batch_end_row(b, &err));
  OK(ml_batch_end_row(b, &err)); /* NULL into NOT NULL */
  ml_err_clear(&err);
  ml_status st = ml_batch_flush(b, &err);
  assert_int_equal(st, ML_ERR_DB);
  if (!strstr(err.msg, "main.t") || !strstr(err.msg, "NOT NULL")) fail_msg("unexpected message: %s", err.msg);
  ml_batch_close(b);
  ml_wh_close(wh);
}

/* Two tables filled in turns (with a loader: each switch ends one INSERT and
 * starts the other's), SQL in between (it sees every row handed over
 * before it), then commit: every row once, in the order it was appended. */
static void test_interleaved_tables(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE a (x BIGINT); CREATE TABLE b (x BIGINT)");
  ml_batch *ba = NULL, *bb = NULL;
  OK(ml_wh_begin(wh, &err));
  OK(ml_batch_open(wh, NULL, "main", "a", 1, &ba, &err));
  OK(ml_batch_open(wh, NULL, "main", "b", 1, &bb, &err));
  const int per_turn = (int)duckdb_vector_size() + 7, turns = 9;
  int na = 0, nb = 0;
  for (int t = 0; t < turns; t++) {
    ml_batch *b = t % 2 ? bb : ba;
    int *n = t % 2 ? &nb : &na;
    for (int r = 0; r < per_turn * (1 + t % 3); r++) {
      ml_batch_put_i64(b, 0, (*n)++);
      OK(ml_batch_end_row(b, &err));
    }
    if (t == 4) {
      /* full chunks are handed over; a statement waits for them */
      OK(ml_batch_flush_async(ba, &err));
      th_expectf(wh, "1", "SELECT CAST(count(*) = %d AS INTEGER) FROM a", na);
    }
  }
  OK(ml_batch_flush(ba, &err));
  OK(ml_batch_flush(bb, &err));
  OK(ml_wh_commit(wh, &err));
  th_expectf(wh, "1", "SELECT CAST(count(*) = %d AND sum(x) = %lld AS INTEGER) FROM a", na, (long long)na * (na - 1) / 2);
  th_expectf(wh, "1", "SELECT CAST(count(*) = %d AND sum(x) = %lld AS INTEGER) FROM b", nb, (long long)nb * (nb - 1) / 2);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM (SELECT x, row_number() OVER () - 1 AS rn FROM a) WHERE x <> rn",
            "0");
  ml_batch_close(ba);
  ml_batch_close(bb);
  ml_wh_close(wh);
}

/* ---- chunks in flight -------------------------------------------------------------- */

/* Opens the gate a second later, from another thread: the producer that
 * must wait for the loader goes on then (and a batch that wrongly stopped
 * growing fails its count instead of waiting forever). */
static void *gate_open_later(void *a) {
  nanosleep(&(struct timespec){1, 0}, NULL);
  th_gate_open(a);
  return NULL;
}

static void fill_chunks(ml_batch *b, int64_t *next_key, int chunks, size_t str_len) {
  static char text[2048];
  memset(text, 'x', sizeof text);
  for (int64_t r = 0; r < chunks * (int64_t)duckdb_vector_size(); r++) {
    ml_batch_put_i64(b, 0, (*next_key)++);
    ml_batch_put_str(b, 1, text, str_len);
    OK(ml_batch_end_row(b, &err));
  }
}

/* While the loader lags, a batch keeps creating chunks instead of waiting:
 * 16 of its own, and beyond that what is left of the loader's grant of 48
 * shared by all tables (so two tables together stop at 16 + 16 + 48); a
 * table whose chunks in flight hold 32 MB of strings or more stays at 16.
 * Every row arrives once either way. */
static void test_chunks_grow_within_grant(void **state) {
  (void)state;
  if (!g_opts.background_append) skip();
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE a (k BIGINT, s VARCHAR); CREATE TABLE b (k BIGINT, s VARCHAR); "
              "CREATE TABLE w (k BIGINT, s VARCHAR)");
  ml_batch *ba = NULL, *bb = NULL, *bw = NULL;
  OK(ml_wh_begin(wh, &err));
  OK(ml_batch_open(wh, NULL, "main", "a", 2, &ba, &err));
  OK(ml_batch_open(wh, NULL, "main", "b", 2, &bb, &err));
  OK(ml_batch_open(wh, NULL, "main", "w", 2, &bw, &err));
  assert_int_equal(ml_batch_chunks(ba), 1);

  th_gate g1, g2;
  th_gate_close_on_loader(&g1, wh);
  pthread_t opener;
  assert_int_equal(pthread_create(&opener, NULL, gate_open_later, &g1), 0);
  int64_t ka = 0, kb = 0, kw = 0;
  fill_chunks(ba, &ka, 40, 20); /* 40 in flight and one filling: 16 + 25 of the grant */
  assert_int_equal(ml_batch_chunks(ba), 41);
  fill_chunks(bb, &kb, 40, 20); /* 16 + the 23 left; then it waits for the loader */
  pthread_join(opener, NULL);
  assert_int_equal(ml_batch_chunks(bb), 39);
  OK(ml_batch_flush(ba, &err));
  OK(ml_batch_flush(bb, &err));
  ml_batch_close(ba);
  ml_batch_close(bb);
  /* closed batches give their part of the grant back */
  ml_loader *loader = ml_wh_loader(wh);
  ml_loader_lock(loader);
  for (int i = 0; i < ML_LOADER_EXTRA_CHUNKS; i++) assert_true(ml_loader_take_extra(loader));
  assert_false(ml_loader_take_extra(loader));
  ml_loader_return_extra(loader, ML_LOADER_EXTRA_CHUNKS);
  ml_loader_unlock(loader);

  th_gate_close_on_loader(&g2, wh);
  assert_int_equal(pthread_create(&opener, NULL, gate_open_later, &g2), 0);
  fill_chunks(bw, &kw, 20, 1200); /* 2.4 MB of strings per chunk */
  pthread_join(opener, NULL);
  OK(ml_batch_flush(bw, &err));
  assert_int_equal(ml_batch_chunks(bw), 16);
  ml_batch_close(bw);
  OK(ml_wh_commit(wh, &err));
  const char *check = "SELECT CAST(count(*) = %lld AND count(DISTINCT k) = %lld AND max(k) = %lld - 1 AND "
                      "min(strlen(s)) = %d AS INTEGER) FROM %s";
  th_expectf(wh, "1", check, (long long)ka, (long long)ka, (long long)ka, 20, "a");
  th_expectf(wh, "1", check, (long long)kb, (long long)kb, (long long)kb, 20, "b");
  th_expectf(wh, "1", check, (long long)kw, (long long)kw, (long long)kw, 1200, "w");
  ml_wh_close(wh);
}

/* Seconds on clock id (CLOCK_MONOTONIC, or the calling thread's CPU time). */
static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono_s(void) { return clock_s(CLOCK_MONOTONIC); }

/* A loader job that keeps its thread busy until it has used *(double *)a
 * seconds of CPU (at least as long on the wall clock, however loaded the
 * machine is). */
static ml_status spin_job(void *a, void *b, ml_err *e) {
  (void)b, (void)e;
  double until = clock_s(CLOCK_THREAD_CPUTIME_ID) + *(double *)a;
  volatile unsigned long n = 0;
  while (clock_s(CLOCK_THREAD_CPUTIME_ID) < until) n++;
  return ML_OK;
}

/* ml_loader_times, which the sync summary reads to say what bounded a load:
 * a producer blocked on the loader's work counts on the producer's side, the
 * loader waiting for chunks (between jobs and inside a feed's INSERT) on the
 * loader's side, and the loader thread's CPU time is its own. */
static void test_loader_times(void **state) {
  (void)state;
  if (!g_opts.background_append) skip();
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE t (k BIGINT, s VARCHAR)");
  ml_loader *loader = ml_wh_loader(wh);
  ml_loader_times t0, t1, t2, t3;
  ml_loader_times_get(loader, &t0);

  /* the producer waits for a busy loader: its wait and the loader's CPU grow */
  double spin = 0.2;
  ml_loader_submit(loader, spin_job, NULL, &spin, NULL);
  OK(ml_loader_wait(loader, &err));
  ml_loader_times_get(loader, &t1);
  assert_true(t1.owner_wait_s - t0.owner_wait_s >= 0.15);
  assert_true(t1.loader_cpu_s - t0.loader_cpu_s >= 0.1);
  assert_true(t1.loader_idle_s - t0.loader_idle_s < 0.1);
  assert_true(t0.caller_cpu_s > 0 && t1.caller_cpu_s >= t0.caller_cpu_s);

  /* rows arrive slowly: the loader waits inside the feed's INSERT */
  ml_batch *b = NULL;
  OK(ml_batch_open(wh, NULL, "main", "t", 2, &b, &err));
  int64_t k = 0;
  fill_chunks(b, &k, 1, 10); /* one full chunk starts the INSERT */
  nanosleep(&(struct timespec){0, 300000000}, NULL);
  ml_loader_times_get(loader, &t2);
  fill_chunks(b, &k, 1, 10);
  OK(ml_batch_flush(b, &err));
  ml_batch_close(b);
  ml_loader_times_get(loader, &t3);
  assert_true(t3.loader_idle_s - t1.loader_idle_s >= 0.25);
  assert_true(t2.owner_wait_s - t1.owner_wait_s < 0.1);
  th_expectf(wh, "1", "SELECT CAST(count(*) = %lld AS INTEGER) FROM t", (long long)k);
  ml_wh_close(wh);
}

/* Opening a batch reads the table on the connection, so it waits for the
 * loader's job (a commit or a merge behind the caller, whose statements let
 * other callers in between their tasks: ml_wh.c, run_prepared) instead of
 * reaching into the middle of it. */
static void test_open_waits_for_the_loader(void **state) {
  (void)state;
  if (!g_opts.background_append) skip();
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE t (k BIGINT, s VARCHAR)");
  double busy = 0.3;
  ml_loader_submit(ml_wh_loader(wh), spin_job, NULL, &busy, NULL);
  double t0 = mono_s();
  ml_batch *b = NULL;
  OK(ml_batch_open(wh, NULL, "main", "t", 2, &b, &err));
  assert_true(mono_s() - t0 >= 0.25);
  int64_t k = 0;
  fill_chunks(b, &k, 1, 10);
  OK(ml_batch_flush(b, &err));
  ml_batch_close(b);
  th_expectf(wh, "1", "SELECT CAST(count(*) = %lld AS INTEGER) FROM t", (long long)k);
  ml_wh_close(wh);
}

/* A failing INSERT (NOT NULL) in the middle of many chunks: the flush says
 * which table and why, the transaction rolls back to nothing, and the
 * warehouse (and its loader) keep working afterwards. */
static void test_failure_mid_stream(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE t (x BIGINT NOT NULL)");
  OK(ml_wh_begin(wh, &err));
  ml_batch *b = th_batch_x(wh);
  const int rows = 20 * (int)duckdb_vector_size();
  for (int r = 0; r < rows; r++) {
    if (r != rows / 2) ml_batch_put_i64(b, 0, r); /* one NULL */
    OK(ml_batch_end_row(b, &err));
  }
  ml_err_clear(&err);
  ml_status st = ml_batch_flush(b, &err);
  assert_int_not_equal(st, ML_OK);
  if (!strstr(err.msg, "main.t") || !strstr(err.msg, "NOT NULL")) fail_msg("unexpected message: %s", err.msg);
  ml_batch_close(b);
  ml_wh_rollback(wh);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM t", "0");
  OK(ml_wh_begin(wh, &err));
  b = th_batch_x(wh);
  th_fill_x(b, rows);
  OK(ml_batch_flush(b, &err));
  OK(ml_wh_commit(wh, &err));
  th_expectf(wh, "1", "SELECT CAST(count(*) = %d AS INTEGER) FROM t", rows);
  ml_batch_close(b);
  ml_wh_close(wh);
}

/* ---- ml_table ------------------------------------------------------------------------- */

static void expect_columns(ml_wh *wh, const char *schema, const char *table, const char *want) {
  /* "name TYPE, name TYPE" as DuckDB's catalog has them */
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index) FROM duckdb_columns() "
           "WHERE schema_name = '%s' AND table_name = '%s'",
           schema, table);
  th_expect(wh, sql, want);
}

static void test_table_create(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  ml_table t;
  OK(ml_table_init(&t, wh, "s1", "people", &err));
  ml_col wanted[] = {{"id", {ML_TYPE_BIGINT, 0, 0}},
                     {"Name", {ML_TYPE_VARCHAR, 0, 0}},
                     {"amount", {ML_TYPE_DECIMAL, 18, 3}},
                     {"doc", {ML_TYPE_JSON, 0, 0}},
                     {"at", {ML_TYPE_TIMESTAMPTZ, 0, 0}}};
  bool kept = true;
  OK(ml_table_sync(&t, wanted, TH_LEN(wanted), false, &kept, &err));
  assert_false(kept);
  assert_int_equal(t.schema_changes, 0);
  assert_int_equal(t.n_cols, 5);
  for (size_t i = 0; i < 5; i++) {
    assert_string_equal(t.cols[i].name, wanted[i].name);
    assert_true(ml_type_equal(t.cols[i].type, wanted[i].type));
  }
  assert_int_equal(ml_table_find(&t, "amount"), 2);
  assert_int_equal(ml_table_find(&t, "name"), 1); /* DuckDB's names ignore ASCII case */
  assert_int_equal(ml_table_find(&t, "Name"), 1);
  expect_columns(wh, "s1", "people",
                 "id BIGINT, Name VARCHAR, amount DECIMAL(18,3), doc JSON, at TIMESTAMP WITH TIME ZONE");
  ml_buf name = ML_BUF_INIT;
  ml_table_sql_name(&t, &name);
  assert_string_equal(name.data, "\"s1\".\"people\"");
  ml_buf_free(&name);

  /* rows through the table's batch */
  ml_batch *b = NULL;
  OK(ml_table_batch(&t, &b, &err));
  ml_batch *again = NULL;
  OK(ml_table_batch(&t, &again, &err));
  assert_ptr_equal(b, again);
  ml_batch_put_i64(b, 0, 7);
  ml_batch_put_str(b, 1, "Ann", 3);
  ml_batch_put_decimal(b, 2, 12345, 0);
  OK(ml_batch_end_row(b, &err));
  OK(ml_table_flush(&t, &err));
  th_expect(wh, "SELECT concat_ws('|', id, \"Name\", amount, doc) FROM s1.people", "7|Ann|12.345");

  /* syncing again with the same columns changes nothing */
  OK(ml_table_sync(&t, wanted, TH_LEN(wanted), false, &kept, &err));
  assert_false(kept);
  assert_int_equal(t.schema_changes, 0);
  assert_int_equal(t.n_cols, 5);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM s1.people", "1");
  /* flushing with no open batch is fine */
  OK(ml_table_flush(&t, &err));
  OK(ml_table_close_batch(&t, &err));
  ml_table_free(&t);
  ml_wh_close(wh);
}

/* An existing table is reconciled with what is wanted. */
static void test_table_reconcile(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE t (a BIGINT, b BIGINT, c BIGINT, j JSON, d DOUBLE, v VARCHAR, extra DATE)");
  th_exec(wh, "INSERT INTO t VALUES (1, 42, 3, '{\"k\":1}', 2.5, 'text', '2021-01-01')");
  ml_table t;
  OK(ml_table_init(&t, wh, "main", "t", &err));
  ml_col wanted[] = {
      {"a", {ML_TYPE_DOUBLE, 0, 0}},  /* BIGINT -> DOUBLE: widened */
      {"b", {ML_TYPE_VARCHAR, 0, 0}}, /* BIGINT -> VARCHAR: widened, old values as text */
      {"c", {ML_TYPE_BIGINT, 0, 0}},  /* same */
      {"new1", {ML_TYPE_BOOLEAN, 0, 0}}, /* missing: added */
      {"j", {ML_TYPE_VARCHAR, 0, 0}}, /* JSON -> VARCHAR: widened (VARCHAR holds any text) */
      {"d", {ML_TYPE_BIGINT, 0, 0}},  /* DOUBLE is wider than BIGINT: DOUBLE kept */
      {"v", {ML_TYPE_BIGINT, 0, 0}},  /* VARCHAR kept */
      {"new2", {ML_TYPE_DECIMAL, 10, 2}},
  };
  bool kept = false;
  OK(ml_table_sync(&t, wanted, TH_LEN(wanted), false, &kept, &err));
  assert_true(kept);
  assert_int_equal(t.schema_changes, 5); /* a, b, j widened; new1, new2 added */
  /* table order: existing columns first, in their order, then the added ones */
  static const char *const names[] = {"a", "b", "c", "j", "d", "v", "extra", "new1", "new2"};
  ml_type types[] = {{ML_TYPE_DOUBLE, 0, 0}, {ML_TYPE_VARCHAR, 0, 0}, {ML_TYPE_BIGINT, 0, 0},
                     {ML_TYPE_VARCHAR, 0, 0}, {ML_TYPE_DOUBLE, 0, 0}, {ML_TYPE_VARCHAR, 0, 0},
                     {ML_TYPE_DATE, 0, 0},   {ML_TYPE_BOOLEAN, 0, 0}, {ML_TYPE_DECIMAL, 10, 2}};
  assert_int_equal(t.n_cols, TH_LEN(names));
  for (size_t i = 0; i < TH_LEN(names); i++) {
    assert_string_equal(t.cols[i].name, names[i]);
    if (!ml_type_equal(t.cols[i].type, types[i])) fail_msg("column %s has type %d", names[i], t.cols[i].type.id);
  }
  expect_columns(wh, "main", "t",
                 "a DOUBLE, b VARCHAR, c BIGINT, j VARCHAR, d DOUBLE, v VARCHAR, extra DATE, new1 BOOLEAN, "
                 "new2 DECIMAL(10,2)");
  th_expect(wh, "SELECT concat_ws('|', a, b, c, j, d, v, extra, coalesce(CAST(new1 AS VARCHAR), 'null'), "
                "coalesce(CAST(new2 AS VARCHAR), 'null')) FROM t",
            "1.0|42|3|{\"k\":1}|2.5|text|2021-01-01|null|null");

  /* kept_type is reset by the next sync and may be NULL */
  OK(ml_table_sync(&t, wanted, TH_LEN(wanted), false, NULL, &err));
  ml_col same[] = {{"a", {ML_TYPE_DOUBLE, 0, 0}}};
  OK(ml_table_sync(&t, same, 1, false, &kept, &err));
  assert_false(kept);
  assert_int_equal(t.schema_changes, 5);
  ml_table_free(&t);
  ml_wh_close(wh);
}

/* replace=true starts over with exactly the wanted columns. */
static void test_table_replace(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE SCHEMA r");
  th_exec(wh, "CREATE TABLE r.t (old VARCHAR, a VARCHAR)");
  th_exec(wh, "INSERT INTO r.t VALUES ('x', 'y')");
  ml_table t;
  OK(ml_table_init(&t, wh, "r", "t", &err));
  ml_col wanted[] = {{"a", {ML_TYPE_BIGINT, 0, 0}}, {"b", {ML_TYPE_JSON, 0, 0}}};
  bool kept = true;
  OK(ml_table_sync(&t, wanted, 2, true, &kept, &err));
  assert_false(kept);
  assert_int_equal(t.n_cols, 2);
  expect_columns(wh, "r", "t", "a BIGINT, b JSON");
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM r.t", "0");
  /* replace on a missing table just creates it */
  ml_table u;
  OK(ml_table_init(&u, wh, "r", "u", &err));
  OK(ml_table_sync(&u, wanted, 2, true, NULL, &err));
  expect_columns(wh, "r", "u", "a BIGINT, b JSON");
  ml_table_free(&u);
  ml_table_free(&t);
  ml_wh_close(wh);
}

/* Columns added and widened while rows are being appended: the batch is
 * flushed first, so rows from before and after survive. */
static void test_table_evolve_mid_batch(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  ml_table t;
  OK(ml_table_init(&t, wh, "main", "ev", &err));
  ml_col wanted[] = {{"a", {ML_TYPE_BIGINT, 0, 0}}, {"s", {ML_TYPE_BIGINT, 0, 0}}};
  OK(ml_wh_begin(wh, &err));
  OK(ml_table_sync(&t, wanted, 2, false, NULL, &err));
  ml_batch *b = NULL;
  OK(ml_table_batch(&t, &b, &err));
  for (int r = 1; r <= 3; r++) {
    ml_batch_put_i64(b, 0, r);
    ml_batch_put_i64(b, 1, r * 10);
    OK(ml_batch_end_row(b, &err));
  }
  /* add a column: rows 1-3 are flushed first */
  OK(ml_table_add_column(&t, "note", ml_type_of(ML_TYPE_VARCHAR), &err));
  assert_null(t.batch);
  assert_int_equal(t.n_cols, 3);
  assert_int_equal(ml_table_find(&t, "note"), 2);
  OK(ml_table_batch(&t, &b, &err));
  assert_int_equal(ml_batch_columns(b), 3);
  for (int r = 4; r <= 5; r++) {
    ml_batch_put_i64(b, 0, r);
    ml_batch_put_i64(b, 1, r * 10);
    ml_batch_put_str(b, 2, "after add", 9);
    OK(ml_batch_end_row(b, &err));
  }
  /* widen a to DOUBLE, then s to VARCHAR */
  OK(ml_table_widen(&t, 0, ml_type_of(ML_TYPE_DOUBLE), &err));
  assert_null(t.batch);
  assert_int_equal(t.cols[0].type.id, ML_TYPE_DOUBLE);
  OK(ml_table_batch(&t, &b, &err));
  ml_batch_put_f64(b, 0, 6.5);
  ml_batch_put_i64(b, 1, 60);
  OK(ml_batch_end_row(b, &err));
  OK(ml_table_widen(&t, 1, ml_type_of(ML_TYPE_VARCHAR), &err));
  OK(ml_table_batch(&t, &b, &err));
  assert_int_equal(t.cols[1].type.id, ML_TYPE_VARCHAR);
  ml_batch_put_f64(b, 0, 7.25);
  ml_batch_put_str(b, 1, "seventy", 7);
  OK(ml_batch_end_row(b, &err));
  OK(ml_table_flush(&t, &err));
  OK(ml_wh_commit(wh, &err));
  assert_int_equal(t.schema_changes, 3);
  expect_columns(wh, "main", "ev", "a DOUBLE, s VARCHAR, note VARCHAR");
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) || ' ' || CAST(sum(a) AS VARCHAR) FROM ev", "7 28.75");
  th_expect(wh, "SELECT string_agg(s, ',' ORDER BY a) FROM ev", "10,20,30,40,50,60,seventy");
  th_expect(wh, "SELECT string_agg(coalesce(note, '-'), ',' ORDER BY a) FROM ev",
            "-,-,-,after add,after add,-,-");
  ml_table_free(&t);
  ml_wh_close(wh);
}

/* The DDL of a sync runs in the open transaction and rolls back with it. */
static void test_table_sync_rollback(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  ml_table t;
  OK(ml_table_init(&t, wh, "tx", "t", &err));
  ml_col wanted[] = {{"a", {ML_TYPE_BIGINT, 0, 0}}};
  OK(ml_wh_begin(wh, &err));
  OK(ml_table_sync(&t, wanted, 1, false, NULL, &err));
  ml_batch *b = NULL;
  OK(ml_table_batch(&t, &b, &err));
  ml_batch_put_i64(b, 0, 1);
  OK(ml_batch_end_row(b, &err));
  OK(ml_table_close_batch(&t, &err));
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM tx.t", "1");
  ml_wh_rollback(wh);
  th_expect(wh, "SELECT CAST(count(*) AS VARCHAR) FROM duckdb_tables() WHERE table_name = 't'", "0");
  ml_table_free(&t);
  ml_wh_close(wh);
}

/* Names with quotes and non-ASCII characters in schema, table and columns. */
static void test_table_odd_names(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  ml_table t;
  OK(ml_table_init(&t, wh, "sch \"ö\"", "we\"ird 'name", &err));
  ml_col wanted[] = {{"ö \"x\"", {ML_TYPE_VARCHAR, 0, 0}}, {"it's", {ML_TYPE_BIGINT, 0, 0}}};
  OK(ml_table_sync(&t, wanted, 2, false, NULL, &err));
  ml_batch *b = NULL;
  OK(ml_table_batch(&t, &b, &err));
  ml_batch_put_str(b, 0, "ü", 2);
  ml_batch_put_i64(b, 1, 5);
  OK(ml_batch_end_row(b, &err));
  OK(ml_table_add_column(&t, "new \"col\"", ml_type_of(ML_TYPE_BIGINT), &err));
  OK(ml_table_widen(&t, 1, ml_type_of(ML_TYPE_DOUBLE), &err));
  /* a second handle sees the same columns */
  ml_table t2;
  OK(ml_table_init(&t2, wh, "sch \"ö\"", "we\"ird 'name", &err));
  OK(ml_table_sync(&t2, wanted, 2, false, NULL, &err));
  assert_int_equal(t2.n_cols, 3);
  assert_string_equal(t2.cols[0].name, "ö \"x\"");
  assert_int_equal(t2.cols[1].type.id, ML_TYPE_DOUBLE);
  assert_string_equal(t2.cols[2].name, "new \"col\"");
  th_expect(wh, "SELECT \"ö \"\"x\"\"\" || CAST(\"it's\" AS VARCHAR) FROM \"sch \"\"ö\"\"\".\"we\"\"ird 'name\"",
            "ü5.0");
  ml_table_free(&t2);
  ml_table_free(&t);
  ml_wh_close(wh);
}

/* VARCHAR is the top of the type lattice: widening a VARCHAR column towards
 * JSON (a field's schema changed from string to object, or an undeclared
 * field seen as "hello" and later as {"a":1}) keeps it VARCHAR.  ALTER ...
 * TYPE JSON would make DuckDB parse the old text, failing the sync on text
 * that is not JSON ("hello") and reinterpreting text that is ('42' would
 * become the number 42, where ml_value_put stores the string "\"42\""). */
static void test_widen_varchar_to_json(void **state) {
  (void)state;

  ml_wh *wh = th_open_mem();
  ml_table t;
  OK(ml_table_init(&t, wh, "main", "vj", &err));
  ml_col wanted[] = {{"x", {ML_TYPE_VARCHAR, 0, 0}}};
  OK(ml_table_sync(&t, wanted, 1, false, NULL, &err));
  ml_batch *b = NULL;
  OK(ml_table_batch(&t, &b, &err));
  ml_batch_put_str(b, 0, "hello", 5);
  OK(ml_batch_end_row(b, &err));
  OK(ml_table_flush(&t, &err));
  /* inference: the next value of x is an object: VARCHAR already holds it */
  ml_type want = ml_type_widen(t.cols[0].type, ml_type_of(ML_TYPE_JSON));
  assert_int_equal(want.id, ML_TYPE_VARCHAR);
  th_expect(wh, "SELECT x FROM vj", "hello");
  ml_table_free(&t);
  ml_wh_close(wh);
}

/* Column names match without regard to case, as in DuckDB: a table with a
 * column ID synced with a wanted column id has that one column (no ALTER
 * TABLE ADD COLUMN "id", which DuckDB refuses: "Column with name id already
 * exists"). */
static void test_sync_column_case(void **state) {
  (void)state;

  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE t (ID BIGINT)");
  th_exec(wh, "INSERT INTO t VALUES (1)");
  ml_table t;
  OK(ml_table_init(&t, wh, "main", "t", &err));
  ml_col wanted[] = {{"id", {ML_TYPE_BIGINT, 0, 0}}};
  ml_err_clear(&err);
  ml_status st = ml_table_sync(&t, wanted, 1, false, NULL, &err);
  if (st != ML_OK) fail_msg("sync failed: %s", err.msg);
  assert_int_equal(t.n_cols, 1);
  ml_table_free(&t);
  ml_wh_close(wh);
}

/* Runs fn in a forked child (so that an abort cannot take the test runner
 * down) and returns its wait status. */
static int run_in_child(int (*fn)(void)) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(fn());
  int ws = 0;
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  return ws;
}

/* Child side of test_unknown_column_type: exit 0 when a value for a column of
 * a type mallard does not create (INTERVAL) is handled without error. */
static int unknown_column_child(void) {
  ml_wh *wh = NULL;
  ml_err e;
  if (ml_wh_open(":memory:", NULL, &wh, &e) != ML_OK) return 10;
  if (ml_wh_exec(wh, "CREATE TABLE t (a BIGINT, iv INTERVAL)", &e) != ML_OK) return 11;
  ml_table t;
  if (ml_table_init(&t, wh, "main", "t", &e) != ML_OK) return 12;
  ml_col wanted[] = {{"a", {ML_TYPE_BIGINT, 0, 0}}, {"iv", {ML_TYPE_VARCHAR, 0, 0}}};
  bool kept = false;
  if (ml_table_sync(&t, wanted, 2, false, &kept, &e) != ML_OK) return 13;
  ml_batch *b = NULL;
  if (ml_table_batch(&t, &b, &e) != ML_OK) return 14;
  /* what the destination does for a string field: the column's type says how */
  ml_batch_put_i64(b, 0, 1);
  if (t.cols[1].type.id == ML_TYPE_VARCHAR) ml_batch_put_str(b, 1, "1 day", 5);
  if (ml_batch_end_row(b, &e) != ML_OK) return 15;
  if (ml_table_flush(&t, &e) != ML_OK) return 16;
  ml_table_free(&t);
  ml_wh_close(wh);
  return 0;
}

/* An existing column of a type mallard does not create (INTERVAL, HUGEINT,
 * TINYINT, TIMESTAMP_NS, LIST, ...: known=false in ml_wh_table_columns) is
 * written through a type the vector really has, never taken as VARCHAR: a
 * string written into an INTERVAL vector makes DuckDB throw through the C
 * API and the process abort.  The Airbyte destination meets such a column
 * whenever a user's table has one with the name of a stream field.  Runs in
 * a child process, so that an abort fails the test instead of the runner. */
static void test_unknown_column_type(void **state) {
  (void)state;

  int ws = run_in_child(unknown_column_child);
  if (WIFSIGNALED(ws)) fail_msg("the process died of signal %d (%s)", WTERMSIG(ws), strsignal(WTERMSIG(ws)));
  assert_true(WIFEXITED(ws));
  if (WEXITSTATUS(ws) != 0) fail_msg("step %d failed", WEXITSTATUS(ws));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_type),
      cmocka_unit_test(test_decimal_widths),
      cmocka_unit_test(test_many_chunks),
      cmocka_unit_test(test_chunk_boundary_nulls),
      cmocka_unit_test(test_flush_in_transaction),
      cmocka_unit_test(test_open_errors),
      cmocka_unit_test(test_close_without_flush),
      cmocka_unit_test(test_close_after_rollback),
      cmocka_unit_test(test_close_drops_partial_chunk),
      cmocka_unit_test(test_flush_constraint_error),
      cmocka_unit_test(test_interleaved_tables),
      cmocka_unit_test(test_chunks_grow_within_grant),
      cmocka_unit_test(test_loader_times),
      cmocka_unit_test(test_open_waits_for_the_loader),
      cmocka_unit_test(test_failure_mid_stream),
      cmocka_unit_test(test_table_create),
      cmocka_unit_test(test_table_reconcile),
      cmocka_unit_test(test_table_replace),
      cmocka_unit_test(test_table_evolve_mid_batch),
      cmocka_unit_test(test_table_sync_rollback),
      cmocka_unit_test(test_table_odd_names),
      cmocka_unit_test(test_widen_varchar_to_json),
      cmocka_unit_test(test_unknown_column_type),
      cmocka_unit_test(test_sync_column_case),
  };
  int failed = cmocka_run_group_tests_name("inline appender", tests, inline_mode, NULL);
  return failed + cmocka_run_group_tests_name("background loader", tests, loader_mode, NULL);
}
