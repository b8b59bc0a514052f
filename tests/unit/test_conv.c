/* Unit tests for convert/ml_conv: text -> DuckDB physical values.
 *
 * Expected instants were computed independently with Python's datetime
 * (e.g. python3 -c "from datetime import *; ...") and are hard-coded with the
 * instant they stand for; TIMETZ bit patterns come from DuckDB 1.4.4's own
 * duckdb_create_time_tz. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/ml_conv.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Each case is also parsed from a copy without a NUL terminator right after
 * it (followed by junk digits), to prove the parsers respect the length. */
static const char *unterminated(const char *s, char *buf, size_t cap) {
  size_t n = strlen(s);
  assert_true(n + 4 <= cap);
  memcpy(buf, s, n);
  memcpy(buf + n, "9999", 4);
  return buf;
}

/* ---- civil <-> days ---------------------------------------------------------- */

static void test_civil_known(void **state) {
  (void)state;
  static const struct {
    int64_t y;
    unsigned m, d;
    int64_t days;
  } cases[] = {
      {1970, 1, 1, 0},         {1969, 12, 31, -1},      {2021, 1, 1, 18628},  {2020, 9, 2, 18507},
      {2000, 2, 29, 11016},    {1900, 2, 28, -25509},   {1900, 3, 1, -25508}, {1, 1, 1, -719162},
      {9999, 12, 31, 2932896}, {2021, 12, 31, 18992},   {0, 1, 1, -719528}, /* 1 BC, as DuckDB */
      {-1, 1, 1, -719893},     {2000, 3, 1, 11017},
  };
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    assert_int_equal(ml_days_from_civil(cases[i].y, cases[i].m, cases[i].d), cases[i].days);
    int64_t y;
    unsigned m, d;
    ml_civil_from_days(cases[i].days, &y, &m, &d);
    assert_int_equal(y, cases[i].y);
    assert_int_equal(m, cases[i].m);
    assert_int_equal(d, cases[i].d);
  }
}

/* Walk day by day over +-1,000,000 days with an independent calendar stepper:
 * each day must be the successor of the previous civil date. */
static void test_civil_roundtrip(void **state) {
  (void)state;
  int64_t py;
  unsigned pm, pd;
  ml_civil_from_days(-1000001, &py, &pm, &pd);
  for (int64_t z = -1000000; z <= 1000000; z++) {
    int64_t y;
    unsigned m, d;
    ml_civil_from_days(z, &y, &m, &d);
    /* successor of (py, pm, pd) */
    static const unsigned mlen[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (py % 4 == 0 && py % 100 != 0) || py % 400 == 0;
    unsigned len = (pm == 2 && leap) ? 29 : mlen[pm - 1];
    int64_t ey = py;
    unsigned em = pm, ed = pd + 1;
    if (ed > len) {
      ed = 1;
      if (++em > 12) {
        em = 1;
        ey++;
      }
    }
    if (y != ey || m != em || d != ed) fail_msg("day %lld: got %lld-%u-%u", (long long)z, (long long)y, m, d);
    if (ml_days_from_civil(y, m, d) != z) fail_msg("day %lld does not round-trip", (long long)z);
    py = y;
    pm = m;
    pd = d;
  }
}

/* ---- date -------------------------------------------------------------------- */

static void test_date_accept(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int32_t days;
  } cases[] = {
      {"2021-01-01", 18628},    /* fixture */
      {"2021-1-1", 18628},      /* fixture: one-digit month and day */
      {"2020-09-02", 18507},    /* fixture */
      {"1970-01-01", 0},
      {"1969-12-31", -1},
      {"2000-02-29", 11016},    /* 2000 is a leap year (divisible by 400) */
      {"1900-02-28", -25509},   /* 1900 is not */
      {"1900-03-01", -25508},
      {"0001-01-01", -719162},
      {"9999-12-31", 2932896},
      {"2021-12-31", 18992},
      {"2021-12-3", 18964},
      {"  2021-01-01\n", 18628}, /* surrounding whitespace */
      {"\t2021-01-01 ", 18628},
      {"+2021-01-01", 18628},   /* ISO extended year */
      {"+0000-01-01", -719528}, /* astronomical year 0 = 1 BC, like DuckDB */
      {"-0001-01-01", -719893},
      {"+10000-01-01", 2932897},
      {"+290000-12-31", 105201162},
  };
  char buf[64];
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    int32_t d = 12345;
    if (!ml_conv_date(cases[i].s, strlen(cases[i].s), &d)) fail_msg("rejected %s", cases[i].s);
    if (d != cases[i].days) fail_msg("%s: %d != %d", cases[i].s, d, cases[i].days);
    d = 12345;
    assert_true(ml_conv_date(unterminated(cases[i].s, buf, sizeof buf), strlen(cases[i].s), &d));
    assert_int_equal(d, cases[i].days);
  }
}

static void test_date_reject(void **state) {
  (void)state;
  static const char *cases[] = {
      "",
      "   ",
      "abc",
      "2021-13-01",
      "2021-00-01",
      "2021-01-00",
      "2021-01-32",
      "2021-02-29", /* not a leap year */
      "1900-02-29", /* not a leap year (century) */
      "2021-04-31",
      "0000-01-01", /* zero-date placeholder */
      "0000-00-00",
      "21-01-01",
      "021-01-01",
      "12021-01-01", /* 5-digit year needs a sign */
      "2021-001-01",
      "2021-01-001",
      "2021/01/01",
      "20210101",
      "2021-01",
      "2021-01-",
      "2021-01-01x",
      "2021-01-01T00:00:00", /* a date followed by a time */
      "2021-01-01 00:00",
      "+290001-01-01",
      "+2021",
      "+21-01-01",
      "-",
      "2021-01-01\x00",
      "2021-1a-01",
  };
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    int32_t d = 777;
    size_t n = strlen(cases[i]);
    if (i == ARRAY_LEN(cases) - 2) n = 11; /* embedded NUL counts as junk */
    if (ml_conv_date(cases[i], n, &d)) fail_msg("accepted %s", cases[i]);
    assert_int_equal(d, 777); /* output untouched on failure */
  }
}

/* ---- timestamp ------------------------------------------------------------------ */

typedef struct ts_case {
  const char *s;
  bool wall_clock;
  int64_t micros;
  bool has_offset;
} ts_case;

static const ts_case ts_accept[] = {
    /* The Airbyte edge-case fixture spellings. */
    {"2021-01-01", false, 1609459200000000, false},                    /* 2021-01-01T00:00:00Z */
    {"2021-1-1", false, 1609459200000000, false},                      /* 2021-01-01T00:00:00Z */
    {"2021-01-01 01:01:01", false, 1609462861000000, false},           /* 2021-01-01T01:01:01Z */
    {"2021-1-1 01:01:01", false, 1609462861000000, false},             /* 2021-01-01T01:01:01Z */
    {"2021-01-01 01:01:01.22654", false, 1609462861226540, false},     /* 2021-01-01T01:01:01.226540Z */
    {"2021-01-02T01:01:01+01:00", false, 1609545661000000, true},      /* 2021-01-02T00:01:01Z */
    {"2021-01-03T01:01:01.544+01:00", false, 1609632061544000, true},  /* 2021-01-03T00:01:01.544Z */
    {"2021-01-05T01:01:01Z", false, 1609808461000000, true},           /* 2021-01-05T01:01:01Z */
    {"2021-01-06T01:01:01-01:00", false, 1609898461000000, true},      /* 2021-01-06T02:01:01Z */
    {"2021-01-08T01:01:01+0000", false, 1610067661000000, true},       /* 2021-01-08T01:01:01Z */
    {"2021-01-01T01:01:01+01", false, 1609459261000000, true},         /* 2021-01-01T00:01:01Z */
    /* The same with wall_clock: the time as written, offset ignored. */
    {"2021-01-02T01:01:01+01:00", true, 1609549261000000, true},       /* 2021-01-02 01:01:01 */
    {"2021-01-03T01:01:01.544+01:00", true, 1609635661544000, true},   /* 2021-01-03 01:01:01.544 */
    {"2021-01-06T01:01:01-01:00", true, 1609894861000000, true},       /* 2021-01-06 01:01:01 */
    {"2021-01-01T01:01:01+01", true, 1609462861000000, true},          /* 2021-01-01 01:01:01 */
    {"2021-01-01 01:01:01", true, 1609462861000000, false},            /* 2021-01-01 01:01:01 */
    /* Other separators and offset spellings. */
    {"2021-01-05t01:01:01z", false, 1609808461000000, true},           /* 2021-01-05T01:01:01Z */
    {"2021-01-05T01:01:01 UTC", false, 1609808461000000, true},        /* 2021-01-05T01:01:01Z */
    {"2021-01-05 01:01:01 gmt", false, 1609808461000000, true},        /* 2021-01-05T01:01:01Z */
    {"2021-01-05 01:01:01 Z", false, 1609808461000000, true},          /* 2021-01-05T01:01:01Z */
    {"2021-01-02 01:01:01 +01:00", false, 1609545661000000, true},     /* 2021-01-02T00:01:01Z */
    {"2021-06-15T10:20:30.5+05:30", false, 1623732630500000, true},    /* 2021-06-15T04:50:30.5Z */
    {"2021-06-15T10:20:30-0930", false, 1623786630000000, true},       /* 2021-06-15T19:50:30Z */
    {"2021-01-02T01:01:01+23:59", false, 1609462921000000, true},      /* 2021-01-01T01:02:01Z */
    {"2000-02-29 12:00", false, 951825600000000, false},               /* 2000-02-29T12:00:00Z, no seconds */
    {"2000-02-29T12:00Z", false, 951825600000000, true},               /* 2000-02-29T12:00:00Z */
    {" 2021-01-01T01:01:01Z\r\n", false, 1609462861000000, true},      /* surrounding whitespace */
    /* Boundaries and negative epoch. */
    {"1970-01-01T00:00:00Z", false, 0, true},
    {"1969-12-31T23:59:59.999999", false, -1, false},                  /* 1969-12-31T23:59:59.999999Z */
    {"1970-01-01T00:59:59+01:00", false, -1000000, true},              /* 1969-12-31T23:59:59Z */
    {"0001-01-01T00:00:00", false, -62135596800000000, false},         /* 0001-01-01T00:00:00Z */
    {"9999-12-31T23:59:59.999999", false, 253402300799999999, false},  /* 9999-12-31T23:59:59.999999Z */
    {"1900-03-01", false, -2203891200000000, false},                   /* 1900-03-01T00:00:00Z */
    /* Fractions: 1..9 digits, rounded half up to microseconds. */
    {"1970-01-01T00:00:00.1", false, 100000, false},
    {"1970-01-01T00:00:00.12", false, 120000, false},
    {"1970-01-01T00:00:00.123", false, 123000, false},
    {"1970-01-01T00:00:00.1234", false, 123400, false},
    {"1970-01-01T00:00:00.12345", false, 123450, false},
    {"1970-01-01T00:00:00.123456", false, 123456, false},
    {"1970-01-01T00:00:00.1234564", false, 123456, false},             /* rounds down */
    {"1970-01-01T00:00:00.1234565", false, 123457, false},             /* half up */
    {"1970-01-01T00:00:00.12345649", false, 123456, false},            /* below half */
    {"1970-01-01T00:00:00.123456999", false, 123457, false},
    {"1970-01-01T00:00:00.0000005", false, 1, false},
    {"1970-01-01T00:00:00.000000499", false, 0, false},
    {"1970-01-01T00:00:00.000000000", false, 0, false},
    {"1969-12-31T23:59:59.9999995", false, 0, false},                  /* rounds into 1970-01-01T00:00:00Z */
    {"1999-12-31T23:59:59.9999995", false, 946684800000000, false},    /* rolls over the day, month and year */
    {"1999-12-31T23:59:59.9999995+01:00", false, 946681200000000, true}, /* 1999-12-31T23:00:00Z */
};

static const char *ts_reject[] = {
    "",
    "abc",
    "2021-13-01",
    "2021-02-29",
    "2021-01-01T25:00:00",
    "2021-01-01T24:00:00", /* documented: 24:00 rejected */
    "2021-01-01T23:60:00",
    "2021-01-01T23:59:60", /* no leap seconds */
    "2021-01-01T10:00:00+25:00",
    "2021-01-01T10:00:00+24:00",
    "2021-01-01T10:00:00+01:60",
    "2021-01-01T10:00:00+1",
    "2021-01-01T10:00:00+010",
    "2021-01-01T10:00:00+01:0",
    "2021-01-01T10:00:00+01:00:00",
    "2021-01-01T10:00:00+",
    "2021-01-01T10:00:00ZZ",
    "2021-01-01T10:00:00Z+01",
    "2021-01-01T10:00:00  Z", /* at most one space before the offset */
    "2021-01-01T10:00:00 EST",
    "2021-01-01T10:00:00.",
    "2021-01-01T10:00:00.1234567890", /* 10 fraction digits */
    "2021-01-01T10:00:00.12a",
    "2021-01-01T10:00:00,5",
    "2021-01-01T10",
    "2021-01-01T10:",
    "2021-01-01T10:0",
    "2021-01-01T1:00:00",
    "2021-01-01T10:00:0",
    "2021-01-01T10:00:",
    "2021-01-01T",
    "2021-01-01X10:00:00",
    "2021-01-01  10:00:00",
    "2021-01-01Z", /* offset after a bare date */
    "2021-01-01+01:00",
    "2021-01-01T10:00:00 trailing",
    "2021-01-01T10:00:00.5.5",
};

static void test_timestamp_accept(void **state) {
  (void)state;
  char buf[64];
  for (size_t i = 0; i < ARRAY_LEN(ts_accept); i++) {
    const ts_case *c = &ts_accept[i];
    int64_t us = 42;
    bool off = !c->has_offset;
    if (!ml_conv_timestamp(c->s, strlen(c->s), c->wall_clock, &us, &off)) fail_msg("rejected %s", c->s);
    if (us != c->micros) fail_msg("%s: %lld != %lld", c->s, (long long)us, (long long)c->micros);
    if (off != c->has_offset) fail_msg("%s: has_offset %d", c->s, off);
    us = 42;
    assert_true(ml_conv_timestamp(unterminated(c->s, buf, sizeof buf), strlen(c->s), c->wall_clock, &us, NULL));
    assert_int_equal(us, c->micros);
  }
}

static void test_timestamp_reject(void **state) {
  (void)state;
  for (size_t i = 0; i < ARRAY_LEN(ts_reject); i++) {
    int64_t us = 42;
    bool off = false;
    for (int wall = 0; wall < 2; wall++)
      if (ml_conv_timestamp(ts_reject[i], strlen(ts_reject[i]), wall, &us, &off)) fail_msg("accepted %s", ts_reject[i]);
    assert_int_equal(us, 42);
  }
}

/* Every date of a 400-year cycle at a few times of day, against the civil
 * functions (which the day-by-day walk above checked independently). */
static void test_timestamp_sweep(void **state) {
  (void)state;
  char s[64];
  int64_t start = ml_days_from_civil(1800, 1, 1);
  for (int64_t z = start; z < start + 146097; z += 7) {
    int64_t y;
    unsigned m, d;
    ml_civil_from_days(z, &y, &m, &d);
    int n = snprintf(s, sizeof s, "%04lld-%u-%uT13:14:15.5-02:30", (long long)y, m, d);
    int64_t us;
    assert_true(ml_conv_timestamp(s, (size_t)n, false, &us, NULL));
    assert_int_equal(us, z * INT64_C(86400000000) + ((13 * 3600 + 14 * 60 + 15 + 2 * 3600 + 30 * 60) * INT64_C(1000000)) + 500000);
    int32_t dd;
    n = snprintf(s, sizeof s, "%04lld-%02u-%02u", (long long)y, m, d);
    assert_true(ml_conv_date(s, (size_t)n, &dd));
    assert_int_equal(dd, z);
  }
}

/* ---- time ------------------------------------------------------------------------ */

static void test_time(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int64_t micros;
    int32_t offset;
    bool has_offset;
  } ok[] = {
      {"12:34:56", 45296000000, 0, false},
      {"12:34", 45240000000, 0, false},
      {"12:34:56.123456", 45296123456, 0, false},
      {"12:34:56.1234565", 45296123457, 0, false},
      {"12:34:56+02:00", 45296000000, 7200, true},
      {"12:34:56Z", 45296000000, 0, true},
      {"12:34:56.5-05:30", 45296500000, -19800, true},
      {"12:34:56 +0100", 45296000000, 3600, true},
      {"12:34+01", 45240000000, 3600, true},
      {"00:00:00", 0, 0, false},
      {"23:59:59.999999", 86399999999, 0, false},
      {"23:59:59.9999995", 86400000000, 0, false}, /* rounding reaches 24:00:00, which DuckDB's TIME holds */
      {"12:00:00+15:59", 43200000000, 57540, true},
      {" 12:00:00 UTC ", 43200000000, 0, true},
      {"12:34:56 ", 45296000000, 0, false}, /* trailing whitespace is trimmed */
  };
  static const char *bad[] = {
      "", "12", "12:", "1:00", "12:3", "12:34:5", "24:00:00", "25:00", "12:60", "12:34:60", "12:34:56.",
      "12:34:56.1234567890", "12:34:56+16:00", /* beyond DuckDB's TIMETZ range */
      "12:34:56+02:00x", "2021-01-01T12:34:56", "12:34:56  x",
  };
  char buf[64];
  for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
    int64_t us = 1;
    int32_t off = 99;
    bool has = !ok[i].has_offset;
    if (!ml_conv_time(ok[i].s, strlen(ok[i].s), &us, &off, &has)) fail_msg("rejected %s", ok[i].s);
    assert_int_equal(us, ok[i].micros);
    assert_int_equal(off, ok[i].offset);
    assert_int_equal(has, ok[i].has_offset);
    assert_true(ml_conv_time(unterminated(ok[i].s, buf, sizeof buf), strlen(ok[i].s), &us, NULL, NULL));
    assert_int_equal(us, ok[i].micros);
  }
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    int64_t us = 1;
    bool accepted = ml_conv_time(bad[i], strlen(bad[i]), &us, NULL, NULL);
    if (accepted) fail_msg("accepted %s", bad[i]);
    assert_int_equal(us, 1);
  }
}

/* Bit patterns printed by DuckDB 1.4.4: duckdb_create_time_tz(micros, offset).bits */
static void test_timetz_bits(void **state) {
  (void)state;
  static const struct {
    int64_t micros;
    int32_t offset;
    uint64_t bits;
  } cases[] = {
      {0, 0, UINT64_C(0x000000000000e0ff)},                       /* 00:00:00+00 */
      {45296123456, 7200, UINT64_C(0x0a8bdbfe4000c4df)},          /* 12:34:56.123456+02 */
      {86399999999, -18000, UINT64_C(0x141dd75fff01274f)},        /* 23:59:59.999999-05 */
      {3723000000, -57599, UINT64_C(0x00dde878c001c1fe)},         /* 01:02:03-15:59:59 */
      {0, 57599, UINT64_C(0x0000000000000000)},                   /* 00:00:00+15:59:59 */
      {86400000000, 3600, UINT64_C(0x141dd7600000d2ef)},          /* 24:00:00+01 */
  };
  for (size_t i = 0; i < ARRAY_LEN(cases); i++)
    assert_int_equal(ml_conv_timetz_bits(cases[i].micros, cases[i].offset), cases[i].bits);
}

/* ---- int64 ----------------------------------------------------------------------- */

static void test_int64(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int64_t v;
  } ok[] = {
      {"0", 0},
      {"123", 123},
      {"-123", -123},
      {"+123", 123},
      {"-0", 0},
      {"007", 7},
      {"9223372036854775807", INT64_MAX},
      {"-9223372036854775808", INT64_MIN},
      {"12.0", 12},
      {"12.000", 12},
      {"-12.0", -12},
      {"1e3", 1000},
      {"1E3", 1000},
      {"1e+3", 1000},
      {"1.5e1", 15},
      {"1.50e1", 15},
      {"150e-1", 15},
      {"1500e-2", 15},
      {"0.0", 0},
      {"0e999999999999999999999", 0},
      {"0.5e1", 5},
      {".5e1", 5},
      {"12.", 12},
      {"9.223372036854775807e18", INT64_MAX},
      {"-9.223372036854775808e18", INT64_MIN},
      {"922337203685477580.7e1", INT64_MAX},
      {"1e18", 1000000000000000000},
      {" 42 ", 42},
      {"00000000000000000000000000001", 1},
  };
  static const char *bad[] = {
      "",
      " ",
      "abc",
      "1.5",
      "0.5",
      "1e-1",
      "15e-1",
      "9223372036854775808",
      "-9223372036854775809",
      "18446744073709551616",
      "99999999999999999999999",
      "1e19",
      "1e400",
      "1e99999999999999999999999",
      "1e",
      "1e+",
      "e3",
      ".",
      "-",
      "+",
      "1 2",
      "12abc",
      "0x10",
      "1_000",
      "1,000",
      "--1",
      "NaN",
      "Infinity",
      "1.0000000000000000000000000001",
  };
  char buf[64];
  for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
    int64_t v = 3;
    if (!ml_conv_int64(ok[i].s, strlen(ok[i].s), &v)) fail_msg("rejected %s", ok[i].s);
    if (v != ok[i].v) fail_msg("%s: %lld", ok[i].s, (long long)v);
    assert_true(ml_conv_int64(unterminated(ok[i].s, buf, sizeof buf), strlen(ok[i].s), &v));
    assert_int_equal(v, ok[i].v);
  }
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    int64_t v = 3;
    if (ml_conv_int64(bad[i], strlen(bad[i]), &v)) fail_msg("accepted %s", bad[i]);
    assert_int_equal(v, 3);
  }
}

/* ---- double ---------------------------------------------------------------------- */

static void test_double(void **state) {
  (void)state;
  ml_buf scratch = ML_BUF_INIT; /* ml_conv_double's copy of long text */
  static const struct {
    const char *s;
    double v;
  } ok[] = {
      {"0", 0.0},
      {"1.5", 1.5},
      {"-1.5", -1.5},
      {"+1.5", 1.5},
      {"0.1", 0.1},
      {"1e308", 1e308},
      {"1.7976931348623157e308", 1.7976931348623157e308},
      {"4.9e-324", 4.9e-324},
      {"2.2250738585072011e-308", 2.2250738585072011e-308},
      {"1e-400", 0.0}, /* underflow rounds to zero */
      {"123456789012345678901234567890", 123456789012345678901234567890.0},
      {" 2.5 ", 2.5},
      {".5", 0.5},
      {"5.", 5.0},
      {"1E2", 100.0},
      {"9007199254740993", 9007199254740992.0}, /* ties to even */
  };
  static const char *bad[] = {"", "abc", "1e", "1e309", "-1e309", "0x10", "0x1p3", "1.5x", "nan(1)", "infinit",
                              "1,5", "--1", ".", "e5", "1 2", "+-1", "Infinityx"};
  char buf[64];
  for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
    double v = 3;
    if (!ml_conv_double(ok[i].s, strlen(ok[i].s), &v, &scratch)) fail_msg("rejected %s", ok[i].s);
    if (v != ok[i].v) fail_msg("%s: %.17g", ok[i].s, v);
    assert_true(ml_conv_double(unterminated(ok[i].s, buf, sizeof buf), strlen(ok[i].s), &v, &scratch));
    assert_true(v == ok[i].v);
  }
  double v;
  assert_true(ml_conv_double("-0", 2, &v, &scratch));
  assert_true(v == 0.0 && signbit(v));
  static const char *nans[] = {"NaN", "nan", "NAN", "-NaN", "+nan"};
  for (size_t i = 0; i < ARRAY_LEN(nans); i++) {
    assert_true(ml_conv_double(nans[i], strlen(nans[i]), &v, &scratch));
    assert_true(isnan(v));
  }
  static const struct {
    const char *s;
    int sign;
  } infs[] = {{"Infinity", 1}, {"-Infinity", -1}, {"+Infinity", 1}, {"inf", 1}, {"-inf", -1}, {"INF", 1}, {"infinity", 1}};
  for (size_t i = 0; i < ARRAY_LEN(infs); i++) {
    assert_true(ml_conv_double(infs[i].s, strlen(infs[i].s), &v, &scratch));
    assert_true(isinf(v));
    assert_int_equal(v > 0 ? 1 : -1, infs[i].sign);
  }
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    v = 3;
    if (ml_conv_double(bad[i], strlen(bad[i]), &v, &scratch)) fail_msg("accepted %s", bad[i]);
    assert_true(v == 3);
  }
  /* Long text takes the heap path: 1 followed by 300 zeros, e-300, is 1. */
  char big[400];
  big[0] = '1';
  memset(big + 1, '0', 300);
  memcpy(big + 301, "e-300", 5);
  assert_true(ml_conv_double(big, 306, &v, &scratch));
  assert_true(v == 1.0);
  big[150] = 'x';
  assert_false(ml_conv_double(big, 306, &v, &scratch));
  assert_true(ml_buf_ok(&scratch)); /* a bad number, not out of memory */
  /* 1e399 written out: read on the heap path, too large for a double */
  memset(big + 1, '0', sizeof big - 1);
  assert_false(ml_conv_double(big, sizeof big, &v, &scratch));
  assert_true(ml_buf_ok(&scratch));
  ml_buf_free(&scratch);
}

/* ---- bool ------------------------------------------------------------------------ */

static void test_bool(void **state) {
  (void)state;
  static const char *t[] = {"true", "TRUE", "True", "1", "t", "T", "yes", "YES", " true "};
  static const char *f[] = {"false", "FALSE", "False", "0", "f", "F", "no", "NO", "\tfalse\n"};
  static const char *bad[] = {"", "tru", "truee", "2", "y", "n", "on", "off", "-1", "yes!", "nope"};
  bool b;
  for (size_t i = 0; i < ARRAY_LEN(t); i++) {
    b = false;
    assert_true(ml_conv_bool(t[i], strlen(t[i]), &b));
    assert_true(b);
  }
  for (size_t i = 0; i < ARRAY_LEN(f); i++) {
    b = true;
    assert_true(ml_conv_bool(f[i], strlen(f[i]), &b));
    assert_false(b);
  }
  for (size_t i = 0; i < ARRAY_LEN(bad); i++)
    if (ml_conv_bool(bad[i], strlen(bad[i]), &b)) fail_msg("accepted %s", bad[i]);
}

/* ---- decimal --------------------------------------------------------------------- */

static void test_decimal(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int width, scale;
    uint64_t lo;
    int64_t hi;
  } ok[] = {
      {"123.456", 10, 2, 12346, 0},
      {"-123.456", 10, 2, (uint64_t)-12346, -1},
      {"-0.005", 5, 2, (uint64_t)-1, -1}, /* half away from zero */
      {"0.005", 5, 2, 1, 0},
      {"0.0049999", 5, 2, 0, 0},
      {"-0.0049", 5, 2, 0, 0},
      {"0.125", 3, 2, 13, 0},
      {"-0.125", 3, 2, (uint64_t)-13, -1},
      {"1.5e2", 10, 2, 15000, 0},
      {"1.5E+2", 10, 0, 150, 0},
      {"15e-1", 10, 1, 15, 0},
      {"15e-3", 10, 2, 2, 0}, /* 0.015 -> 0.02 */
      {"5e-3", 5, 2, 1, 0},
      {"5e-4", 5, 2, 0, 0},
      {"1e-100", 10, 2, 0, 0},
      {"0e100000", 10, 2, 0, 0},
      {"99.994", 4, 2, 9999, 0},
      {"99.99", 4, 2, 9999, 0},
      {"-99.99", 4, 2, (uint64_t)-9999, -1},
      {"0", 1, 0, 0, 0},
      {"9", 1, 0, 9, 0},
      {"0.9", 1, 1, 9, 0},
      {"12", 38, 0, 12, 0},
      {"+12.5", 3, 0, 13, 0},
      {"  7.25  ", 5, 1, 73, 0},
      {"0000000000000000000000000000000000000000000001", 5, 0, 1, 0},
      {"1.00000000000000000000000000000000000000000000000000", 5, 0, 1, 0},
      {"99999999999999999999999999999999999999", 38, 0, UINT64_C(0x098a223fffffffff), INT64_C(5421010862427522170)},
      {"-99999999999999999999999999999999999999", 38, 0, UINT64_C(0xf675ddc000000001), INT64_C(-5421010862427522171)},
      {"1e37", 38, 0, UINT64_C(0x00f436a000000000), INT64_C(542101086242752217)},
      {"-18446744073709551616", 38, 0, 0, -1}, /* -2^64 */
      {"0.00000000000000000000000000000000000001", 38, 38, 1, 0},
      {"-0", 5, 2, 0, 0},
  };
  for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
    uint64_t lo = 1;
    int64_t hi = 1;
    if (!ml_conv_decimal(ok[i].s, strlen(ok[i].s), ok[i].width, ok[i].scale, &lo, &hi))
      fail_msg("rejected %s (%d,%d)", ok[i].s, ok[i].width, ok[i].scale);
    if (lo != ok[i].lo || hi != ok[i].hi)
      fail_msg("%s (%d,%d): lo=%llx hi=%lld", ok[i].s, ok[i].width, ok[i].scale, (unsigned long long)lo, (long long)hi);
  }
  static const struct {
    const char *s;
    int width, scale;
  } bad[] = {
      {"99.995", 4, 2},  /* rounds to 100.00: 5 digits */
      {"100", 4, 2},
      {"-100", 4, 2},
      {"0.95", 1, 1},    /* rounds to 1.0 */
      {"10", 1, 0},
      {"1e38", 38, 0},
      {"100000000000000000000000000000000000000", 38, 0},
      {"999999999999999999999999999999999999995e-1", 38, 0}, /* rounds to 10^38 */
      {"1e100000", 38, 0},
      {"1e99999999999999999999999999", 38, 0},
      {"1", 38, 38},
      {"", 10, 2},
      {"abc", 10, 2},
      {"1.2.3", 10, 2},
      {"1e", 10, 2},
      {"NaN", 10, 2},
      {"Infinity", 10, 2},
      {"1,5", 10, 2},
      {"1", 0, 0},   /* invalid width */
      {"1", 39, 0},  /* invalid width */
      {"1", 5, 6},   /* scale > width */
      {"1", 5, -1},  /* negative scale */
  };
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    uint64_t lo = 1;
    int64_t hi = 1;
    if (ml_conv_decimal(bad[i].s, strlen(bad[i].s), bad[i].width, bad[i].scale, &lo, &hi))
      fail_msg("accepted %s (%d,%d)", bad[i].s, bad[i].width, bad[i].scale);
    assert_int_equal(lo, 1);
    assert_int_equal(hi, 1);
  }
}

/* Exhaustive-ish check of rounding against integer arithmetic: every value
 * n/1000 for n in [-20000, 20000] at scale 2 and scale 0. */
static void test_decimal_rounding_sweep(void **state) {
  (void)state;
  char s[32];
  for (int nval = -20000; nval <= 20000; nval++) {
    int a = nval < 0 ? -nval : nval;
    int len = snprintf(s, sizeof s, "%s%d.%03d", nval < 0 ? "-" : "", a / 1000, a % 1000);
    for (int scale = 0; scale <= 2; scale++) {
      int div = scale == 2 ? 10 : scale == 1 ? 100 : 1000;
      int mag = (a + div / 2) / div; /* half away from zero on the magnitude */
      int64_t want = nval < 0 ? -mag : mag;
      uint64_t lo;
      int64_t hi;
      assert_true(ml_conv_decimal(s, (size_t)len, 10, scale, &lo, &hi));
      if ((int64_t)lo != want || hi != (want < 0 ? -1 : 0)) fail_msg("%s scale %d: %lld", s, scale, (long long)lo);
    }
  }
}

/* ---- base64 ---------------------------------------------------------------------- */

/* The exact form never rounds: a non-zero digit beyond the scale fails,
 * zeros beyond it and values within it pass with the same unscaled value. */
static void test_decimal_exact(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int width, scale;
    bool ok;
    int64_t unscaled;
  } cases[] = {
      {"1.234", 5, 2, false, 0},  {"1.230", 5, 2, true, 123}, {"1.2", 5, 2, true, 120},
      {"-0.001", 5, 2, false, 0}, {"1e-3", 5, 2, false, 0},   {"1.5e1", 5, 2, true, 1500},
      {"0.000", 3, 0, true, 0},   {"12345.678", 12, 3, true, 12345678}, {"12345.6789", 12, 3, false, 0},
      {"999.994", 5, 2, false, 0}, {"123.45", 4, 2, false, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t lo = 0;
    int64_t hi = 0;
    bool ok = ml_conv_decimal_exact(cases[i].s, strlen(cases[i].s), cases[i].width, cases[i].scale, &lo, &hi);
    if (ok != cases[i].ok) fail_msg("'%s' into DECIMAL(%d,%d): %s", cases[i].s, cases[i].width, cases[i].scale, ok ? "accepted" : "refused");
    if (ok && (int64_t)lo != cases[i].unscaled) fail_msg("'%s': unscaled %lld", cases[i].s, (long long)lo);
  }
  /* the rounding form still rounds */
  uint64_t lo;
  int64_t hi;
  assert_true(ml_conv_decimal("1.235", 5, 5, 2, &lo, &hi));
  assert_int_equal(lo, 124);
  assert_true(ml_conv_is_decimal("123456789012345678901234567890123456789012345", 45));
  assert_false(ml_conv_is_decimal("12a", 3));
}

static void test_base64_vectors(void **state) {
  (void)state;
  /* RFC 4648 section 10 */
  static const struct {
    const char *raw, *enc;
  } v[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
           {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < ARRAY_LEN(v); i++) {
    ml_buf b = ML_BUF_INIT;
    ml_conv_base64_encode(v[i].raw, strlen(v[i].raw), &b);
    assert_true(ml_buf_ok(&b));
    assert_int_equal(b.len, strlen(v[i].enc));
    if (b.len) assert_memory_equal(b.data, v[i].enc, b.len);
    ml_buf_reset(&b);
    assert_true(ml_conv_base64_decode(v[i].enc, strlen(v[i].enc), &b));
    assert_int_equal(b.len, strlen(v[i].raw));
    if (b.len) assert_memory_equal(b.data, v[i].raw, b.len);
    ml_buf_free(&b);
  }
  static const struct {
    const char *enc;
    const char *raw;
    size_t rawlen;
  } ok[] = {
      {"Zg", "f", 1},          /* padding optional */
      {"Zm8", "fo", 2},
      {"Zm9v\nYmFy", "foobar", 6}, /* whitespace ignored */
      {" Z m 9 v Y g = = ", "foob", 4},
      {"+/+/", "\xfb\xff\xbf", 3}, /* standard alphabet */
      {"-_-_", "\xfb\xff\xbf", 3}, /* URL-safe alphabet */
      {"+_-/", "\xfb\xff\xbf", 3}, /* mixed, leniently */
      {"Zh==", "f", 1},            /* non-zero padding bits, leniently */
      {"Zm9=", "fo", 2},
      {"", "", 0},
      {"  \r\n", "", 0},
  };
  for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
    ml_buf b = ML_BUF_INIT;
    if (!ml_conv_base64_decode(ok[i].enc, strlen(ok[i].enc), &b)) fail_msg("rejected '%s'", ok[i].enc);
    assert_int_equal(b.len, ok[i].rawlen);
    if (b.len) assert_memory_equal(b.data, ok[i].raw, b.len);
    ml_buf_free(&b);
  }
  static const char *bad[] = {
      "Z",         /* a single leftover 6-bit group */
      "Zm9vY",     /* 4n+1 characters */
      "Zm9vY===",
      "Zg=",       /* padding must complete the group */
      "Zg===",
      "Zm8==",
      "Zm9v=",     /* padding after a full group */
      "Zm9v====",
      "=",
      "==",
      "Zg==Zg==",  /* data after padding */
      "Zg=x",
      "Zm9v!",
      "Zm9v\x80",
      "Zm.v",
      "Zm9v\0",
  };
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    ml_buf b = ML_BUF_INIT;
    ml_buf_puts(&b, "keep");
    size_t n = strlen(bad[i]);
    if (i == ARRAY_LEN(bad) - 1) n = 5; /* the embedded NUL is invalid too */
    if (ml_conv_base64_decode(bad[i], n, &b)) fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(b.len, 4); /* out unchanged */
    assert_string_equal(b.data, "keep");
    ml_buf_free(&b);
  }
}

static uint64_t test_rng(uint64_t *x) { /* xorshift64, for test data only */
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static void test_base64_roundtrip(void **state) {
  (void)state;
  uint64_t seed = 0x1234567887654321ULL;
  unsigned char data[600];
  ml_buf enc = ML_BUF_INIT, dec = ML_BUF_INIT;
  for (int iter = 0; iter < 2000; iter++) {
    size_t n = (size_t)(test_rng(&seed) % sizeof data);
    for (size_t i = 0; i < n; i++) data[i] = (unsigned char)test_rng(&seed);
    ml_buf_reset(&enc);
    ml_buf_reset(&dec);
    ml_buf_puts(&enc, "pre:"); /* appends, does not overwrite */
    ml_conv_base64_encode(data, n, &enc);
    assert_true(ml_buf_ok(&enc));
    assert_int_equal(enc.len, 4 + (n + 2) / 3 * 4);
    assert_int_equal(strlen(enc.data), enc.len);
    ml_buf_puts(&dec, "x");
    assert_true(ml_conv_base64_decode(enc.data + 4, enc.len - 4, &dec));
    assert_int_equal(dec.len, n + 1);
    assert_int_equal(dec.data[0], 'x');
    if (n) assert_memory_equal(dec.data + 1, data, n);
    /* URL-safe, unpadded, line-wrapped variant of the same text decodes too. */
    char *u = malloc(enc.len * 2 + 1);
    assert_non_null(u);
    size_t k = 0;
    for (size_t i = 4; i < enc.len; i++) {
      char c = enc.data[i];
      if (c == '=') continue;
      u[k++] = c == '+' ? '-' : c == '/' ? '_' : c;
      if ((i - 4) % 76 == 75) u[k++] = '\n';
    }
    ml_buf_reset(&dec);
    assert_true(ml_conv_base64_decode(u, k, &dec));
    assert_int_equal(dec.len, n);
    if (n) assert_memory_equal(dec.data, data, n);
    free(u);
  }
  ml_buf_free(&enc);
  ml_buf_free(&dec);
}

/* ---- UUID ------------------------------------------------------------------------ */

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }

static void test_uuid_v4(void **state) {
  (void)state;
  enum { N = 100000 };
  uint8_t (*u)[16] = malloc(sizeof(uint8_t[16]) * N);
  assert_non_null(u);
  ml_uuid_gen g;
  ml_uuid_gen_seed(&g);
  unsigned ones[128] = {0};
  for (int i = 0; i < N; i++) {
    ml_uuid_v4(&g, u[i]);
    assert_int_equal(u[i][6] >> 4, 4);      /* version 4 */
    assert_int_equal(u[i][8] & 0xC0, 0x80); /* variant 10 */
    for (int bit = 0; bit < 128; bit++) ones[bit] += (u[i][bit / 8] >> (7 - bit % 8)) & 1;
  }
  /* The 122 random bits look random: each set in ~50% of draws (±1%, which
   * is more than 6 standard deviations at 100k draws). */
  for (int bit = 0; bit < 128; bit++) {
    if (bit >= 48 && bit < 52) continue;
    if (bit == 64 || bit == 65) continue;
    if (ones[bit] < N / 2 - N / 100 || ones[bit] > N / 2 + N / 100) fail_msg("bit %d set %u times", bit, ones[bit]);
  }
  qsort(u, N, 16, cmp16);
  for (int i = 1; i < N; i++)
    if (memcmp(u[i - 1], u[i], 16) == 0) fail_msg("duplicate UUID at %d", i);
  free(u);

  /* Two clock/getrandom-seeded generators give different streams. */
  ml_uuid_gen g2;
  ml_uuid_gen_seed(&g2);
  uint8_t a[16], b[16];
  ml_uuid_v4(&g, a);
  ml_uuid_v4(&g2, b);
  assert_memory_not_equal(a, b, 16);
}

static void test_uuid_fixed_and_format(void **state) {
  (void)state;
  ml_uuid_gen g1, g2, g3;
  ml_uuid_gen_seed_fixed(&g1, 42);
  ml_uuid_gen_seed_fixed(&g2, 42);
  ml_uuid_gen_seed_fixed(&g3, 43);
  uint8_t a[16], b[16], c[16];
  for (int i = 0; i < 10; i++) {
    ml_uuid_v4(&g1, a);
    ml_uuid_v4(&g2, b);
    ml_uuid_v4(&g3, c);
    assert_memory_equal(a, b, 16);
    assert_memory_not_equal(a, c, 16);
  }
  ml_uuid_gen z;
  ml_uuid_gen_seed_fixed(&z, 0);
  assert_true((z.s[0] | z.s[1] | z.s[2] | z.s[3]) != 0);

  static const uint8_t bytes[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  char text[37];
  memset(text, 'x', sizeof text);
  ml_uuid_format(bytes, text);
  assert_string_equal(text, "01234567-89ab-cdef-0123-456789abcdef");

  /* DuckDB 1.4.4 stores '01234567-89ab-cdef-0123-456789abcdef'::UUID as
   * lower=0x0123456789abcdef upper=0x8123456789abcdef (read from a vector). */
  uint64_t lo;
  int64_t hi;
  ml_uuid_to_duckdb(bytes, &lo, &hi);
  assert_int_equal(lo, UINT64_C(0x0123456789abcdef));
  assert_int_equal((uint64_t)hi, UINT64_C(0x8123456789abcdef));
  static const uint8_t ff[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  ml_uuid_to_duckdb(ff, &lo, &hi);
  assert_int_equal(hi, INT64_MAX); /* sorts last */
  assert_int_equal(lo, UINT64_MAX);
  static const uint8_t zero[16] = {0};
  ml_uuid_to_duckdb(zero, &lo, &hi);
  assert_int_equal(hi, INT64_MIN); /* sorts first */
  assert_int_equal(lo, 0);
  ml_uuid_format(zero, text);
  assert_string_equal(text, "00000000-0000-0000-0000-000000000000");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_civil_known),
      cmocka_unit_test(test_civil_roundtrip),
      cmocka_unit_test(test_date_accept),
      cmocka_unit_test(test_date_reject),
      cmocka_unit_test(test_timestamp_accept),
      cmocka_unit_test(test_timestamp_reject),
      cmocka_unit_test(test_timestamp_sweep),
      cmocka_unit_test(test_time),
      cmocka_unit_test(test_timetz_bits),
      cmocka_unit_test(test_int64),
      cmocka_unit_test(test_double),
      cmocka_unit_test(test_bool),
      cmocka_unit_test(test_decimal),
      cmocka_unit_test(test_decimal_rounding_sweep),
      cmocka_unit_test(test_decimal_exact), cmocka_unit_test(test_base64_vectors),
      cmocka_unit_test(test_base64_roundtrip),
      cmocka_unit_test(test_uuid_v4),
      cmocka_unit_test(test_uuid_fixed_and_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
