/* Unit tests for src/json/ml_json.c: the strict reader, equality and writer.
 *
 * Every document is parsed from a malloc'd buffer of exactly its length, so
 * that a read past the end shows up under AddressSanitizer and valgrind.
 * ML_TEST_QUICK=1 in the environment shrinks the random-mutation loop (for
 * slow runs under valgrind). */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/ml_json.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct fx {
  ml_json_doc *doc;
  char *buf;
  size_t len;
  const ml_json_val *root;
  ml_err err;
  ml_status st;
} fx;

static void fx_init(fx *f) {
  memset(f, 0, sizeof *f);
  f->doc = ml_json_doc_new();
  assert_non_null(f->doc);
}

static void fx_free(fx *f) {
  ml_json_doc_free(f->doc);
  free(f->buf);
  memset(f, 0, sizeof *f);
}

static ml_status fx_parse(fx *f, const char *s, size_t n) {
  free(f->buf);
  f->buf = malloc(n ? n : 1);
  assert_non_null(f->buf);
  if (n) memcpy(f->buf, s, n);
  f->len = n;
  ml_err_clear(&f->err);
  f->st = ml_json_parse(f->doc, f->buf, n, &f->root, &f->err);
  if (f->st == ML_OK) {
    assert_non_null(f->root);
  } else {
    assert_null(f->root);
  }
  return f->st;
}

static ml_status fx_parses(fx *f, const char *s) { return fx_parse(f, s, strlen(s)); }

/* Parses s, which must succeed. */
static const ml_json_val *ok(fx *f, const char *s) {
  if (fx_parses(f, s) != ML_OK) fail_msg("unexpected error for %s: %s", s, f->err.msg);
  return f->root;
}

static bool quick(void) {
  const char *q = getenv("ML_TEST_QUICK");
  return q && *q && *q != '0';
}

/* Writes v with ml_jw_val into a fresh NUL-terminated string (caller frees). */
static char *write_val(const ml_json_val *v) {
  ml_buf b = ML_BUF_INIT;
  ml_jw w;
  ml_jw_init(&w, &b);
  ml_jw_val(&w, v);
  assert_true(ml_jw_done(&w));
  char *s = ml_buf_steal(&b);
  assert_non_null(s);
  return s;
}

static uint64_t rng_next(uint64_t *s) {
  /* xorshift64*: deterministic, seedable, good enough for mutations */
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

typedef struct lit {
  const char *s;
  size_t n;
} lit;
#define L(x) {x, sizeof(x) - 1}

/* ---- scalars ------------------------------------------------------------- */

static void test_scalars(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  const ml_json_val *v = ok(&f, "null");
  assert_int_equal(v->type, ML_JSON_NULL);
  assert_int_equal(v->src_len, 4);
  assert_ptr_equal(v->src, f.buf);
  assert_int_equal(ok(&f, "true")->type, ML_JSON_TRUE);
  assert_int_equal(ok(&f, "false")->type, ML_JSON_FALSE);
  v = ok(&f, "  \"hi\"\n");
  assert_int_equal(v->type, ML_JSON_STRING);
  assert_int_equal(v->len, 2);
  assert_string_equal(v->u.str, "hi");
  assert_ptr_equal(v->src, f.buf + 2);
  assert_int_equal(v->src_len, 4);
  assert_true(v->u.str < f.buf || v->u.str >= f.buf + f.len); /* copied, not pointing into input */
  v = ok(&f, "42");
  assert_int_equal(v->type, ML_JSON_NUMBER);
  assert_int_equal(v->flags, ML_JSON_NUM_INT);
  assert_int_equal(v->i, 42);
  assert_true(v->d == 42.0);
  assert_int_equal(v->len, 2);
  assert_memory_equal(v->u.str, "42", 2);
  /* parsing without an ml_err works */
  const ml_json_val *r = NULL;
  assert_int_equal(ml_json_parse(f.doc, "[1]", 3, &r, NULL), ML_OK);
  assert_int_equal(ml_json_parse(f.doc, "[1", 2, &r, NULL), ML_ERR_INPUT);
  assert_null(r);
  assert_int_equal(ml_json_parse(f.doc, NULL, 0, &r, NULL), ML_ERR_INPUT);
  fx_free(&f);
}

/* ---- numbers ------------------------------------------------------------- */

static void check_int(fx *f, const char *s, int64_t want) {
  const ml_json_val *v = ok(f, s);
  assert_int_equal(v->type, ML_JSON_NUMBER);
  if (!(v->flags & ML_JSON_NUM_INT)) fail_msg("%s: expected NUM_INT", s);
  assert_true(v->i == want);
  assert_int_equal(v->len, strlen(s));
  assert_memory_equal(v->u.str, s, v->len);
  assert_true(v->d == strtod(s, NULL));
}

static void check_num(fx *f, const char *s, uint32_t flags) {
  const ml_json_val *v = ok(f, s);
  assert_int_equal(v->type, ML_JSON_NUMBER);
  if (v->flags != flags) fail_msg("%s: flags %u, expected %u", s, v->flags, flags);
  double want = strtod(s, NULL);
  if (memcmp(&want, &v->d, sizeof want) != 0) fail_msg("%s: d=%.17g, strtod=%.17g", s, v->d, want);
  assert_int_equal(v->len, strlen(s));
  assert_memory_equal(v->u.str, s, v->len);
  assert_ptr_equal(v->src, f->buf);
}

static void test_numbers(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  check_int(&f, "0", 0);
  check_int(&f, "-0", 0);
  assert_true(signbit(f.root->d)); /* -0 keeps its sign in d */
  check_int(&f, "7", 7);
  check_int(&f, "-7", -7);
  check_int(&f, "9223372036854775807", INT64_MAX);
  check_int(&f, "-9223372036854775808", INT64_MIN);
  check_int(&f, "-9223372036854775807", -INT64_MAX);
  check_int(&f, "1602637589000", 1602637589000LL);
  /* just outside int64: not INT, d still correct */
  check_num(&f, "9223372036854775808", 0);
  check_num(&f, "-9223372036854775809", 0);
  check_num(&f, "18446744073709551615", 0);
  check_num(&f, "18446744073709551616", 0);
  check_num(&f, "9007199254740993", ML_JSON_NUM_INT);
  assert_true(f.root->i == 9007199254740993LL);
  /* a huge integer keeps every digit in its source text */
  const char *huge = "123456789012345678901234567890123456789012345678901234567890";
  check_num(&f, huge, 0);
  assert_int_equal(f.root->len, strlen(huge));
  assert_memory_equal(f.root->u.str, huge, strlen(huge));
  /* fractions and exponents */
  check_num(&f, "-0.0", 0);
  assert_true(signbit(f.root->d));
  check_num(&f, "0.0", 0);
  check_num(&f, "0e0", 0);
  check_num(&f, "0E+7", 0);
  check_num(&f, "-0e-7", 0);
  check_num(&f, "1.0", 0);
  check_num(&f, "33.33", 0);
  check_num(&f, "0.1", 0);
  check_num(&f, "-2.5E-3", 0);
  check_num(&f, "1e22", 0);
  check_num(&f, "1e23", 0);
  check_num(&f, "123456789012345678e-5", 0);
  check_num(&f, "2.2250738585072011e-308", 0);
  check_num(&f, "4.9406564584124654e-324", 0);
  check_num(&f, "1e-400", 0); /* underflow is not overflow */
  check_num(&f, "1.7976931348623157e308", 0);
  check_num(&f, "0.000000000000000000000000000000000000000001", 0);
  check_num(&f, "0e99999999999999999999", 0);
  check_num(&f, "9007199254740993.0", 0);
  check_num(&f, "1e400", ML_JSON_NUM_OVERFLOW);
  assert_true(f.root->d == HUGE_VAL);
  check_num(&f, "-1e400", ML_JSON_NUM_OVERFLOW);
  assert_true(f.root->d == -HUGE_VAL);
  check_num(&f, "1.8e308", ML_JSON_NUM_OVERFLOW);
  check_num(&f, "1e99999999999999999999", ML_JSON_NUM_OVERFLOW);
  /* a very long number (beyond the parser's stack copy) */
  char big[600];
  memset(big, '9', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  check_num(&f, big, ML_JSON_NUM_OVERFLOW); /* 599 digits */
  big[300] = '.';
  check_num(&f, big, 0); /* 300 digits '.' 298 digits */
  /* inside containers: numbers end at structural characters */
  const ml_json_val *v = ok(&f, "[1,-2.5,3e2]");
  assert_int_equal(v->len, 3);
  assert_true(v->u.items[0].i == 1);
  assert_true(v->u.items[1].d == -2.5);
  assert_int_equal(v->u.items[1].len, 4);
  assert_true(v->u.items[2].d == 300.0);
  assert_int_equal(v->u.items[2].flags, 0);
  fx_free(&f);
}

/* Random decimal texts: the parser's double must be bit-identical to strtod. */
static void test_numbers_random(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  uint64_t seed = 0x1234567;
  char s[128];
  for (int it = 0; it < 100000; it++) {
    size_t n = 0;
    if (rng_next(&seed) & 1) s[n++] = '-';
    int id = 1 + (int)(rng_next(&seed) % 20);
    if (rng_next(&seed) % 5 == 0) {
      s[n++] = '0';
    } else {
      s[n++] = (char)('1' + rng_next(&seed) % 9);
      for (int k = 1; k < id; k++) s[n++] = (char)('0' + rng_next(&seed) % 10);
    }
    if (rng_next(&seed) & 1) {
      s[n++] = '.';
      int fd = 1 + (int)(rng_next(&seed) % 20);
      for (int k = 0; k < fd; k++) s[n++] = (char)('0' + rng_next(&seed) % 10);
    }
    if (rng_next(&seed) % 3 == 0) {
      s[n++] = (rng_next(&seed) & 1) ? 'e' : 'E';
      int r = (int)(rng_next(&seed) % 3);
      if (r == 1) s[n++] = '-';
      if (r == 2) s[n++] = '+';
      n += (size_t)snprintf(s + n, sizeof s - n, "%d", (int)(rng_next(&seed) % 340));
    }
    s[n] = '\0';
    const ml_json_val *v = ok(&f, s);
    double want = strtod(s, NULL);
    if (memcmp(&want, &v->d, sizeof want) != 0) fail_msg("%s: d=%.17g, strtod=%.17g", s, v->d, want);
    assert_int_equal((v->flags & ML_JSON_NUM_OVERFLOW) != 0, isinf(want) != 0);
  }
  fx_free(&f);
}

/* ---- strings ------------------------------------------------------------- */

static void test_strings(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  const ml_json_val *v = ok(&f, "\"\"");
  assert_int_equal(v->len, 0);
  assert_string_equal(v->u.str, "");
  v = ok(&f, "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
  assert_int_equal(v->len, 8);
  assert_memory_equal(v->u.str, "\"\\/\b\f\n\r\t", 9);
  /* \u0000 gives an embedded NUL, counted in len */
  v = ok(&f, "\"a\\u0000b\"");
  assert_int_equal(v->len, 3);
  assert_memory_equal(v->u.str, "a\0b", 4);
  /* 1-, 2- and 3-byte \u escapes, upper and lower case hex */
  v = ok(&f, "\"\\u0041\\u00e9\\u00E9\\u20AC\\uffff\"");
  assert_string_equal(v->u.str, "A\xC3\xA9\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBF");
  /* surrogate pairs */
  v = ok(&f, "\"\\uD834\\uDD1E\"");
  assert_string_equal(v->u.str, "\xF0\x9D\x84\x9E");
  assert_int_equal(v->len, 4);
  v = ok(&f, "\"\\uD800\\uDC00|\\uDBFF\\uDFFF\"");
  assert_string_equal(v->u.str, "\xF0\x90\x80\x80|\xF4\x8F\xBF\xBF");
  /* raw UTF-8 of every length, including the extremes */
  const char *u = "\"\x7F \xC2\x80 \xDF\xBF \xE0\xA0\x80 \xED\x9F\xBF \xEE\x80\x80 \xEF\xBF\xBF \xF0\x90\x80\x80 \xF4\x8F\xBF\xBF\"";
  v = ok(&f, u);
  assert_int_equal(v->len, strlen(u) - 2);
  assert_memory_equal(v->u.str, u + 1, v->len);
  /* long strings exercise the 8-byte scan: special bytes at every offset */
  char buf[200];
  for (size_t pos = 0; pos < 100; pos++) {
    size_t n = 0;
    buf[n++] = '"';
    for (size_t k = 0; k < 100; k++) {
      if (k == pos) {
        buf[n++] = '\\';
        buf[n++] = 'n';
      } else if (k == (pos * 7) % 100 && k != pos) {
        buf[n++] = '\xC3';
        buf[n++] = '\xA9';
      } else {
        buf[n++] = (char)('a' + k % 26);
      }
    }
    buf[n++] = '"';
    assert_int_equal(fx_parse(&f, buf, n), ML_OK);
    assert_int_equal(f.root->len, n - 3);
    assert_int_equal(f.root->u.str[pos + (pos > (pos * 7) % 100 && pos != 0 ? 1 : 0)], '\n');
    assert_int_equal(strlen(f.root->u.str), f.root->len);
  }
  /* strings are NUL-terminated copies */
  v = ok(&f, "[\"abc\",\"de\"]");
  assert_int_equal(v->u.items[0].u.str[3], '\0');
  assert_int_equal(v->u.items[1].u.str[2], '\0');
  assert_int_equal(v->u.items[0].src_len, 5);
  assert_ptr_equal(v->u.items[1].src, f.buf + 7);
  fx_free(&f);
}

/* ---- containers ---------------------------------------------------------- */

static void test_containers(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  const ml_json_val *v = ok(&f, "[]");
  assert_int_equal(v->type, ML_JSON_ARRAY);
  assert_int_equal(v->len, 0);
  v = ok(&f, "{}");
  assert_int_equal(v->type, ML_JSON_OBJECT);
  assert_int_equal(v->len, 0);
  v = ok(&f, " [ { } , [ ] , { \"a\" : [ ] } ] ");
  assert_int_equal(v->len, 3);
  assert_int_equal(v->src_len, strlen("[ { } , [ ] , { \"a\" : [ ] } ]"));
  assert_int_equal(v->u.items[0].type, ML_JSON_OBJECT);
  assert_int_equal(v->u.items[0].src_len, 3);
  assert_int_equal(v->u.items[1].type, ML_JSON_ARRAY);
  assert_int_equal(v->u.items[2].len, 1);

  const char *rec = "{\"type\": \"RECORD\", \"record\": {\"stream\": \"users\", \"emitted_at\": 1602637589000, "
                    "\"data\": {\"id\": 1, \"name\": \"x\", \"tags\": [1, 2, null], \"nested\": {\"k\": false}}}}";
  v = ok(&f, rec);
  assert_int_equal(v->len, 2);
  assert_string_equal(ml_json_key(v, 0)->u.str, "type");
  assert_string_equal(ml_json_member(v, 0)->u.str, "RECORD");
  assert_string_equal(ml_json_get_str(v, "type"), "RECORD");
  assert_null(ml_json_get_str(v, "record"));
  assert_null(ml_json_get(v, "nope"));
  assert_null(ml_json_get(ml_json_member(v, 0), "type")); /* not an object */
  const ml_json_val *r = ml_json_get(v, "record");
  assert_non_null(r);
  assert_string_equal(ml_json_get_str(r, "stream"), "users");
  assert_true(ml_json_get(r, "emitted_at")->i == 1602637589000LL);
  const ml_json_val *data = ml_json_getn(r, "datax", 4);
  assert_non_null(data);
  /* src of a container is its exact text, ready to copy verbatim */
  const char *want = "{\"id\": 1, \"name\": \"x\", \"tags\": [1, 2, null], \"nested\": {\"k\": false}}";
  assert_int_equal(data->src_len, strlen(want));
  assert_memory_equal(data->src, want, data->src_len);
  const ml_json_val *tags = ml_json_get(data, "tags");
  assert_int_equal(tags->len, 3);
  assert_int_equal(tags->u.items[2].type, ML_JSON_NULL);
  assert_memory_equal(tags->src, "[1, 2, null]", tags->src_len);
  assert_int_equal(ml_json_get(ml_json_get(data, "nested"), "k")->type, ML_JSON_FALSE);

  /* duplicate keys: all kept in order, lookup returns the last */
  v = ok(&f, "{\"a\":1,\"b\":2,\"a\":3}");
  assert_int_equal(v->len, 3);
  assert_true(ml_json_member(v, 0)->i == 1);
  assert_true(ml_json_member(v, 2)->i == 3);
  assert_true(ml_json_get(v, "a")->i == 3);
  /* keys with escapes and NULs */
  v = ok(&f, "{\"a\\u0000b\":1,\"\\u00e9\":2,\"\":3}");
  assert_true(ml_json_getn(v, "a\0b", 3)->i == 1);
  assert_null(ml_json_get(v, "a"));
  assert_true(ml_json_get(v, "\xC3\xA9")->i == 2);
  assert_true(ml_json_get(v, "")->i == 3);
  /* whitespace variants */
  v = ok(&f, "\t\r\n {\r\n\t\"a\"\t:\n[ 1 ,\r2 ]\n}\t\r\n ");
  assert_int_equal(ml_json_get(v, "a")->len, 2);
  /* a wide container exercises stack and arena growth */
  size_t n = 100000;
  char *wide = malloc(n * 2 + 2);
  assert_non_null(wide);
  size_t w = 0;
  wide[w++] = '[';
  for (size_t i = 0; i < n; i++) {
    wide[w++] = (char)('0' + i % 10);
    wide[w++] = ',';
  }
  wide[w - 1] = ']';
  assert_int_equal(fx_parse(&f, wide, w), ML_OK);
  assert_int_equal(f.root->len, n);
  for (size_t i = 0; i < n; i++) assert_true(f.root->u.items[i].i == (int64_t)(i % 10));
  free(wide);
  fx_free(&f);
}

/* The doc is reused: results stay valid until the next parse on that doc,
 * and separate docs are independent. */
static void test_reuse(void **state) {
  (void)state;
  fx a, b;
  fx_init(&a);
  fx_init(&b);
  for (int i = 0; i < 2000; i++) {
    char line[200];
    int n = snprintf(line, sizeof line, "{\"i\":%d,\"s\":\"v%d\",\"a\":[%d,{\"x\":\"%*s\"}]}", i, i, i, i % 97, "");
    assert_int_equal(fx_parse(&a, line, (size_t)n), ML_OK);
    assert_int_equal(fx_parses(&b, "[\"other\"]"), ML_OK);
    assert_true(ml_json_get(a.root, "i")->i == i);
    char want[32];
    snprintf(want, sizeof want, "v%d", i);
    assert_string_equal(ml_json_get_str(a.root, "s"), want);
    assert_int_equal(strlen(ml_json_get_str(ml_json_get(a.root, "a")->u.items + 1, "x")), (size_t)(i % 97));
    assert_string_equal(b.root->u.items[0].u.str, "other");
    if (i % 500 == 0) assert_int_equal(fx_parses(&a, "[1,"), ML_ERR_INPUT); /* failures leave the doc usable */
  }
  /* a huge document followed by small ones */
  size_t m = 700000, n = 1 + m * 4 + 1000;
  char *big = malloc(n);
  assert_non_null(big);
  memset(big, ' ', n);
  big[0] = '[';
  for (size_t i = 0; i < m; i++) memcpy(big + 1 + 4 * i, "\"x\",", 4);
  big[4 * m] = ']';
  assert_int_equal(fx_parse(&a, big, n), ML_OK);
  assert_int_equal(a.root->len, m);
  assert_int_equal(a.root->src_len, 4 * m + 1);
  free(big);
  assert_int_equal(ml_json_get(ok(&a, "{\"k\":5}"), "k")->i, 5);
  fx_free(&a);
  fx_free(&b);
}

/* ---- errors with positions ----------------------------------------------- */

typedef struct errcase {
  lit doc;
  ml_status code;
  size_t line, col;
  const char *msg; /* must occur in err.msg */
} errcase;

static const errcase k_errs[] = {
    {L(""), ML_ERR_INPUT, 1, 1, "expected a JSON value, found end of input"},
    {L("   "), ML_ERR_INPUT, 1, 4, "found end of input"},
    {L("{\"type\": \"RECORD\"x}"), ML_ERR_INPUT, 1, 18, "expected ',' or '}' after object member, found 'x'"},
    {L("{\"a\":1 x}"), ML_ERR_INPUT, 1, 8, "expected ',' or '}' after object member, found 'x'"},
    {L("[1 2]"), ML_ERR_INPUT, 1, 4, "expected ',' or ']' after array element, found '2'"},
    {L("[1,]"), ML_ERR_INPUT, 1, 4, "trailing commas are not allowed"},
    {L("[1, \n ]"), ML_ERR_INPUT, 2, 2, "trailing commas are not allowed"},
    {L("{\"a\":1,}"), ML_ERR_INPUT, 1, 8, "trailing commas are not allowed"},
    {L("{\"a\" 1}"), ML_ERR_INPUT, 1, 6, "expected ':' after object key, found '1'"},
    {L("{1:1}"), ML_ERR_INPUT, 1, 2, "expected a string key or '}' after '{', found '1'"},
    {L("{'a':1}"), ML_ERR_INPUT, 1, 2, "double quotes"},
    {L("[01]"), ML_ERR_INPUT, 1, 2, "leading zeros are not allowed"},
    {L("-012"), ML_ERR_INPUT, 1, 1, "leading zeros"},
    {L("-"), ML_ERR_INPUT, 1, 2, "expected a digit after '-' in number, found end of input"},
    {L("[-x]"), ML_ERR_INPUT, 1, 3, "expected a digit after '-' in number, found 'x'"},
    {L("1."), ML_ERR_INPUT, 1, 3, "expected a digit after '.'"},
    {L("[1.e5]"), ML_ERR_INPUT, 1, 4, "expected a digit after '.' in number, found 'e5'"},
    {L("1e"), ML_ERR_INPUT, 1, 3, "expected a digit in the exponent"},
    {L("1e+]"), ML_ERR_INPUT, 1, 4, "exponent of number, found ']'"},
    {L("+1"), ML_ERR_INPUT, 1, 1, "a number cannot start with '+'"},
    {L(".5"), ML_ERR_INPUT, 1, 1, "a number must start with a digit"},
    {L("NaN"), ML_ERR_INPUT, 1, 1, "expected a JSON value, found 'NaN'"},
    {L("[1, Infinity]"), ML_ERR_INPUT, 1, 5, "found 'Infinity' (NaN and Infinity are not JSON numbers)"},
    {L("{\"a\": None}"), ML_ERR_INPUT, 1, 7, "found 'None' (JSON literals are true, false and null, in lower case)"},
    {L("[-Infinity]"), ML_ERR_INPUT, 1, 3, "expected a digit after '-' in number, found 'Infinity'"},
    {L("tru"), ML_ERR_INPUT, 1, 1, "found 'tru'"},
    {L("nulL"), ML_ERR_INPUT, 1, 1, "found 'nulL'"},
    {L("[1] x"), ML_ERR_INPUT, 1, 5, "expected end of input after the JSON value, found 'x'"},
    {L("1 2"), ML_ERR_INPUT, 1, 3, "expected end of input after the JSON value, found '2'"},
    {L("truex"), ML_ERR_INPUT, 1, 5, "found 'x'"},
    {L("[1]\n\n  ]"), ML_ERR_INPUT, 3, 3, "found ']'"},
    {L("// c\n1"), ML_ERR_INPUT, 1, 1, "comments are not allowed"},
    {L("[1] /* c */"), ML_ERR_INPUT, 1, 5, "found '/'"},
    {L("\"abc"), ML_ERR_INPUT, 1, 5, "unterminated string"},
    {L("[\"abc\n"), ML_ERR_INPUT, 1, 6, "control character a newline in string must be escaped"},
    {L("\"a\x01\""), ML_ERR_INPUT, 1, 3, "control character byte 0x01 in string must be escaped (as \\u0001)"},
    {L("\"a\tb\""), ML_ERR_INPUT, 1, 3, "control character a tab in string must be escaped (as \\t)"},
    {L("\"a\0b\""), ML_ERR_INPUT, 1, 3, "control character byte 0x00"},
    {L("\"\\x\""), ML_ERR_INPUT, 1, 2, "invalid escape '\\x'"},
    {L("\"\\'\""), ML_ERR_INPUT, 1, 2, "invalid escape '\\''"},
    {L("\"\\"), ML_ERR_INPUT, 1, 2, "unterminated escape"},
    {L("\"\\u12\""), ML_ERR_INPUT, 1, 2, "expected 4 hex digits after \\u"},
    {L("\"ab\\u12G4\""), ML_ERR_INPUT, 1, 4, "4 hex digits"},
    {L("\"\\uD800\""), ML_ERR_INPUT, 1, 2, "unpaired UTF-16 surrogate \\uD800"},
    {L("\"x\\uD800\\u0041\""), ML_ERR_INPUT, 1, 3, "unpaired UTF-16 surrogate \\uD800"},
    {L("\"\\uDBFF\\uDBFF\""), ML_ERR_INPUT, 1, 2, "unpaired UTF-16 surrogate \\uDBFF"},
    {L("\"\\uDC00\""), ML_ERR_INPUT, 1, 2, "unpaired UTF-16 surrogate \\uDC00"},
    {L("\"\\udfff\\ud800\""), ML_ERR_INPUT, 1, 2, "\\uDFFF"},
    {L("{\n  \"a\": 1,\n  \"b\" 2\n}"), ML_ERR_INPUT, 3, 7, "expected ':' after object key, found '2'"},
    {L("[\r\n1,\r\n2\r\n3]"), ML_ERR_INPUT, 4, 1, "found '3'"},
    /* invalid UTF-8: every class, position at the first byte of the bad sequence */
    {L("\"\xC3\""), ML_ERR_INPUT, 1, 2, "invalid UTF-8 byte 0xC3 in string (incomplete multi-byte sequence)"},
    {L("\"ab\xC3"), ML_ERR_INPUT, 1, 4, "invalid UTF-8 byte 0xC3"},
    {L("\"\xC0\xAF\""), ML_ERR_INPUT, 1, 2, "0xC0 in string (overlong encoding)"},
    {L("\"\xC1\xBF\""), ML_ERR_INPUT, 1, 2, "overlong"},
    {L("\"\xE0\x80\xAF\""), ML_ERR_INPUT, 1, 2, "0xE0 in string (overlong encoding)"},
    {L("\"\xE0\x9F\xBF\""), ML_ERR_INPUT, 1, 2, "overlong"},
    {L("\"\xF0\x80\x80\xAF\""), ML_ERR_INPUT, 1, 2, "0xF0 in string (overlong encoding)"},
    {L("\"\xF0\x8F\xBF\xBF\""), ML_ERR_INPUT, 1, 2, "overlong"},
    {L("\"a\xED\xA0\x80\""), ML_ERR_INPUT, 1, 3, "0xED in string (UTF-16 surrogate encoded in UTF-8)"},
    {L("\"\xED\xBF\xBF\""), ML_ERR_INPUT, 1, 2, "surrogate"},
    {L("\"\xF4\x90\x80\x80\""), ML_ERR_INPUT, 1, 2, "0xF4 in string (code point above U+10FFFF)"},
    {L("\"\xF5\x80\x80\x80\""), ML_ERR_INPUT, 1, 2, "0xF5 in string (byte that never appears in UTF-8)"},
    {L("\"\xFF\""), ML_ERR_INPUT, 1, 2, "0xFF"},
    {L("\"\xF8\x88\x80\x80\x80\""), ML_ERR_INPUT, 1, 2, "0xF8"},
    {L("\"\x80\""), ML_ERR_INPUT, 1, 2, "0x80 in string (continuation byte without a lead byte)"},
    {L("\"\xE2\x82\""), ML_ERR_INPUT, 1, 2, "0xE2 in string (incomplete multi-byte sequence)"},
    {L("\"\xF0\x9F\x98\""), ML_ERR_INPUT, 1, 2, "incomplete"},
    {L("\"\xF0\x9F\x98"), ML_ERR_INPUT, 1, 2, "incomplete"},
    {L("\"\xC3\xA9\xC3(\""), ML_ERR_INPUT, 1, 4, "0xC3"},
    {L("\"0123456789abcdef\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80..\x80\""), ML_ERR_INPUT, 1, 29, "0x80"},
    {L("\xC3\xA9"), ML_ERR_INPUT, 1, 1, "expected a JSON value, found byte 0xC3"},
    {L("\xEF\xBB\xBF[]"), ML_ERR_INPUT, 1, 1, "byte 0xEF"},
    {L("[1]\0"), ML_ERR_INPUT, 1, 4, "found byte 0x00"},
    {L("[\v]"), ML_ERR_INPUT, 1, 2, "byte 0x0B"},
    {L("[\f1]"), ML_ERR_INPUT, 1, 2, "byte 0x0C"},
};

static void test_error_positions(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  for (size_t i = 0; i < sizeof k_errs / sizeof k_errs[0]; i++) {
    const errcase *c = &k_errs[i];
    ml_status st = fx_parse(&f, c->doc.s, c->doc.n);
    if (st != c->code) fail_msg("case %zu: status %d, expected %d (%s)", i, st, c->code, f.err.msg);
    if (f.err.code != c->code) fail_msg("case %zu: err.code %d", i, f.err.code);
    if (f.err.line != c->line || f.err.column != c->col)
      fail_msg("case %zu: at %zu:%zu, expected %zu:%zu (%s)", i, f.err.line, f.err.column, c->line, c->col, f.err.msg);
    if (!strstr(f.err.msg, c->msg)) fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, f.err.msg, c->msg);
    /* the position is data; ml_json_err_locate words it in front */
    char pos[64];
    snprintf(pos, sizeof pos, "line %zu, column %zu: ", c->line, c->col);
    if (strstr(f.err.msg, pos)) fail_msg("case %zu: message \"%s\" carries the position", i, f.err.msg);
    ml_err located = f.err;
    ml_json_err_locate(&located);
    if (strncmp(located.msg, pos, strlen(pos)) != 0)
      fail_msg("case %zu: located message \"%s\" lacks \"%s\"", i, located.msg, pos);
    /* offset agrees with line/column */
    size_t line = 1, ls = 0;
    for (size_t k = 0; k < f.err.offset; k++)
      if (c->doc.s[k] == '\n') {
        line++;
        ls = k + 1;
      }
    assert_int_equal(line, c->line);
    assert_int_equal(f.err.offset - ls + 1, c->col);
  }
  /* the full example message */
  fx_parses(&f, "{\"a\": 1, \"bb\": 2x}");
  assert_string_equal(f.err.msg, "expected ',' or '}' after object member, found 'x'");
  assert_int_equal(f.err.offset, 16);
  ml_json_err_locate(&f.err);
  assert_string_equal(f.err.msg, "line 1, column 17: expected ',' or '}' after object member, found 'x'");
  /* an unterminated string also says where on the error's line it starts */
  fx_parses(&f, "[\n \"abc");
  assert_int_equal(f.err.line, 2);
  assert_string_equal(f.err.msg, "unterminated string: expected '\"' before end of input (the string starts at column 2)");
  fx_free(&f);
}

/* ---- table of invalid and valid documents --------------------------------- */

static const lit k_invalid[] = {
    L(""), L(" "), L("["), L("]"), L("{"), L("}"), L("[1"), L("[1,"), L("{\"a\""), L("{\"a\":"), L("{\"a\":1"),
    L("{\"a\":1,"), L("[1,]"), L("[,1]"), L("[,]"), L("{,}"), L("{\"a\":1,}"), L("{\"a\" 1}"), L("{\"a\"::1}"),
    L("{a:1}"), L("{'a':1}"), L("['a']"), L("{1:1}"), L("{null:1}"), L("[1 2]"), L("[1,,2]"), L("01"), L("-01"),
    L("00"), L("1."), L(".5"), L("+1"), L("-"), L("1e"), L("1e+"), L("1E-"), L("1.e3"), L("0x10"), L("1_000"),
    L("NaN"), L("-NaN"), L("Infinity"), L("-Infinity"), L("inf"), L("True"), L("nul"), L("tru"), L("fals"),
    L("nulll"), L("[1]]"), L("[1] [2]"), L("1 2"), L("\"abc"), L("\"\\\""), L("\"\\x\""), L("\"\\u12\""),
    L("\"\\u12G4\""), L("\"\\uD800\""), L("\"\\uDC00\""), L("\"\\uD800\\u0041\""), L("\"\\uD800x\""),
    L("\"\\uDBFF\\uDBFF\""), L("\"\\uD800\\\""), L("\"\t\""), L("\"\n\""), L("\"\x1f\""), L("\"\0\""), L("[1]//c"),
    L("/*c*/1"), L("#1"), L("[1,2,3]\0"), L("\xEF\xBB\xBF[]"), L("\"\xC0\xAF\""), L("\"\xE0\x80\xAF\""),
    L("\"\xED\xA0\x80\""), L("\"\xF4\x90\x80\x80\""), L("\"\xF8\x88\x80\x80\x80\""), L("\"\x80\""),
    L("\"\xE2\x82\""), L("\"\xFF\""), L("[\"a\"\v]"), L("[\f]"), L("[\xA0]"), L("{\"a\":1}}"),
    L("{\"a\":1 \"b\":2}"), L("[-]"), L("[1.0e]"), L("[\"\\u00\"]"), L("'a'"), L("[undefined]"),
    L("{\"a\":undefined}"), L("\"a\" \"b\""), L("{\"\":}"), L("[0.]"), L("[-.5]"), L("[1e1.5]"), L("[Infinity]"),
    L("[]  x"), L("[1,2,3"), L("{\"a\":[}"), L("{\"a\":{]}"), L("[{]}"), L("[\"\\uDFAA\"]"), L("[1;2]"),
    L("{\"a\"=1}"), L("[\"a\",]"), L("\"\\U0041\""), L("[0x]"), L("[-0x1]"), L("[1e+-1]"), L("[--1]"),
    L("[\"\\u 123\"]"), L("\x00"), L("[\"a\\\"]"), L("[1,\"\xC3\x28\"]"), L("[,"), L("{\"a\":1,,\"b\":2}"),
};

static const lit k_valid[] = {
    L("[]"), L("{}"), L("0"), L("-0"), L("-0.0"), L("0e0"), L("0E+1"), L("1E-1"), L("123.456e-789"), L("1e400"),
    L("\"\""), L("\"\\u0000\""), L("\"\\uD834\\uDD1E\""), L("\"\xF0\x9D\x84\x9E\""), L("\"\x7f\""),
    L(" [ 1 , 2 ] "), L("\t\n\r []\n"), L("{\"a\":{\"b\":[{},[]]}}"), L("[null,true,false]"),
    L("{\"a\":1,\"a\":2}"), L("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]"), L("\"\\u00e9\\u20AC\""), L("[1e-400]"),
    L("[-9223372036854775808]"), L("[18446744073709551616]"), L("[0.1,1.5e10,-2E-3]"), L("{\"\":\"\"}"),
    L("\"\xEF\xBF\xBF\""), L("\"\xF4\x8F\xBF\xBF\""), L("\"\xE2\x80\xA8\""), L("[[[[[[]]]]]]"),
    L("{\"a\":[1,{\"b\":null}]}"), L("\"\\uDBFF\\uDFFF\""), L("1.0"), L("true"), L("null"), L("\"/\""),
    L("[\"\\/\"]"), L("{\"a\":\"\xC3\xA9\",\"\xE2\x82\xAC\":[]}"), L("[1E22,1e+22,1e-0]"),
};

static void test_invalid_table(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  for (size_t i = 0; i < sizeof k_invalid / sizeof k_invalid[0]; i++) {
    ml_status st = fx_parse(&f, k_invalid[i].s, k_invalid[i].n);
    if (st == ML_OK) fail_msg("invalid case %zu accepted: %.*s", i, (int)k_invalid[i].n, k_invalid[i].s);
    assert_int_equal(st, ML_ERR_INPUT);
    assert_true(f.err.line >= 1 && f.err.column >= 1);
    assert_true(f.err.offset <= k_invalid[i].n);
    assert_true(strncmp(f.err.msg, "line ", 5) != 0); /* the position is data, not text */
  }
  fx_free(&f);
}

static void test_valid_table(void **state) {
  (void)state;
  fx f, g;
  fx_init(&f);
  fx_init(&g);
  for (size_t i = 0; i < sizeof k_valid / sizeof k_valid[0]; i++) {
    if (fx_parse(&f, k_valid[i].s, k_valid[i].n) != ML_OK)
      fail_msg("valid case %zu rejected: %s: %s", i, k_valid[i].s, f.err.msg);
    /* the root's src is the document minus surrounding whitespace */
    size_t lead = strspn(k_valid[i].s, " \t\r\n");
    assert_ptr_equal(f.root->src, f.buf + lead);
    /* writer output re-parses to an equal value */
    char *out = write_val(f.root);
    if (fx_parses(&g, out) != ML_OK) fail_msg("case %zu: writer output %s rejected: %s", i, out, g.err.msg);
    assert_true(ml_json_equal(f.root, g.root));
    free(out);
  }
  fx_free(&f);
  fx_free(&g);
}

/* ---- deep nesting -------------------------------------------------------- */

static char *nested(size_t depth, bool obj, size_t *len) {
  size_t open = obj ? 5 : 1;
  size_t n = depth * (open + 1) + 1;
  char *s = malloc(n);
  assert_non_null(s);
  size_t w = 0;
  for (size_t i = 0; i < depth; i++) {
    if (obj) {
      memcpy(s + w, "{\"a\":", 5);
    } else {
      s[w] = '[';
    }
    w += open;
  }
  s[w++] = '1';
  memset(s + w, obj ? '}' : ']', depth);
  w += depth;
  *len = w;
  return s;
}

static void test_deep_limit(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  size_t len;
  /* a million levels: a clean limit error, no crash */
  char *s = nested(1000000, false, &len);
  assert_int_equal(fx_parse(&f, s, len), ML_ERR_LIMIT);
  assert_int_equal(f.err.column, ML_JSON_MAX_DEPTH + 1);
  assert_non_null(strstr(f.err.msg, "nesting deeper than 100000 levels"));
  free(s);
  s = nested(1000000, true, &len);
  assert_int_equal(fx_parse(&f, s, len), ML_ERR_LIMIT);
  assert_int_equal(f.err.offset, (size_t)ML_JSON_MAX_DEPTH * 5);
  free(s);
  /* unclosed deep documents */
  s = nested(ML_JSON_MAX_DEPTH, false, &len);
  assert_int_equal(fx_parse(&f, s, ML_JSON_MAX_DEPTH), ML_ERR_INPUT);
  assert_non_null(strstr(f.err.msg, "found end of input"));
  free(s);
  fx_free(&f);
}

static void test_deep_max(void **state) {
  (void)state;
  fx f, g;
  fx_init(&f);
  fx_init(&g);
  for (int obj = 0; obj < 2; obj++) {
    size_t len;
    char *s = nested(ML_JSON_MAX_DEPTH, obj, &len);
    assert_int_equal(fx_parse(&f, s, len), ML_OK);
    /* walk down to the leaf */
    const ml_json_val *v = f.root;
    size_t depth = 0;
    while (v->type == ML_JSON_ARRAY || v->type == ML_JSON_OBJECT) {
      assert_int_equal(v->len, 1);
      assert_int_equal(v->src_len, len - depth * (obj ? 6 : 2));
      v = obj ? ml_json_get(v, "a") : &v->u.items[0];
      depth++;
    }
    assert_int_equal(depth, ML_JSON_MAX_DEPTH);
    assert_true(v->i == 1);
    /* writer: compact output equals the (already compact) input */
    char *out = write_val(f.root);
    assert_int_equal(strlen(out), len);
    assert_memory_equal(out, s, len);
    /* equality against a second parse, and against a different leaf */
    assert_int_equal(fx_parse(&g, out, len), ML_OK);
    assert_true(ml_json_equal(f.root, g.root));
    out[(size_t)ML_JSON_MAX_DEPTH * (obj ? 5 : 1)] = '2'; /* the leaf */
    assert_int_equal(fx_parse(&g, out, len), ML_OK);
    assert_false(ml_json_equal(f.root, g.root));
    free(out);
    free(s);
  }
  fx_free(&f);
  fx_free(&g);
}

/* Hand-built trees deeper than the reader allows: equality and the writer
 * must not depend on the C stack either. */
static void build_chain(ml_json_val *slots, size_t depth, bool obj, int64_t leaf) {
  static const char key[] = "k";
  for (size_t i = 0; i < depth; i++) {
    ml_json_val *c = &slots[2 * i];
    memset(c, 0, sizeof *c);
    c->type = obj ? ML_JSON_OBJECT : ML_JSON_ARRAY;
    c->len = 1;
    if (obj) {
      /* items: key at slots[2i+1], value (the next container) at slots[2i+2] */
      c->u.items = &slots[2 * i + 1];
      memset(&slots[2 * i + 1], 0, sizeof slots[0]);
      slots[2 * i + 1].type = ML_JSON_STRING;
      slots[2 * i + 1].u.str = key;
      slots[2 * i + 1].len = 1;
    } else {
      c->u.items = &slots[2 * i + 2];
      memset(&slots[2 * i + 1], 0, sizeof slots[0]);
    }
  }
  ml_json_val *l = &slots[2 * depth];
  memset(l, 0, sizeof *l);
  l->type = ML_JSON_NUMBER;
  l->flags = ML_JSON_NUM_INT;
  l->i = leaf;
  l->d = (double)leaf;
}

static void test_deep_handbuilt(void **state) {
  (void)state;
  size_t depth = 1000000;
  for (int obj = 0; obj < 2; obj++) {
    ml_json_val *a = malloc((2 * depth + 1) * sizeof *a);
    ml_json_val *b = malloc((2 * depth + 1) * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    build_chain(a, depth, obj, 7);
    build_chain(b, depth, obj, 7);
    assert_true(ml_json_equal(a, b));
    b[2 * depth].i = 8;
    b[2 * depth].d = 8;
    assert_false(ml_json_equal(a, b));
    char *out = write_val(a);
    size_t open = obj ? 5 : 1;
    assert_int_equal(strlen(out), depth * (open + 1) + 1);
    assert_memory_equal(out, obj ? "{\"k\":{\"k\":" : "[[", obj ? 10 : 2);
    assert_int_equal(out[depth * open], '7');
    assert_int_equal(out[strlen(out) - 1], obj ? '}' : ']');
    free(out);
    free(a);
    free(b);
  }
}

/* ---- equality ------------------------------------------------------------ */

static bool eq(const char *x, const char *y) {
  fx f, g;
  fx_init(&f);
  fx_init(&g);
  if (fx_parses(&f, x) != ML_OK) fail_msg("%s: %s", x, f.err.msg);
  if (fx_parses(&g, y) != ML_OK) fail_msg("%s: %s", y, g.err.msg);
  bool r = ml_json_equal(f.root, g.root);
  bool r2 = ml_json_equal(g.root, f.root);
  if (r != r2) fail_msg("equality not symmetric: %s vs %s", x, y);
  fx_free(&f);
  fx_free(&g);
  return r;
}

static void test_equal(void **state) {
  (void)state;
  assert_true(eq("null", "null"));
  assert_false(eq("null", "false"));
  assert_false(eq("true", "false"));
  assert_false(eq("0", "false"));
  assert_false(eq("\"1\"", "1"));
  /* numbers by value */
  assert_true(eq("1", "1.0"));
  assert_true(eq("1", "10e-1"));
  assert_true(eq("1", "0.1e1"));
  assert_true(eq("100", "1E2"));
  assert_true(eq("1.50", "15e-1"));
  assert_true(eq("0", "-0"));
  assert_true(eq("0", "0.000e5"));
  assert_true(eq("-0.0", "0"));
  assert_true(eq("-12.5", "-0.125e2"));
  assert_true(eq("9223372036854775807", "9223372036854775807.0"));
  assert_false(eq("1", "2"));
  assert_false(eq("1", "-1"));
  assert_false(eq("0.1", "0.01"));
  assert_false(eq("9007199254740993", "9007199254740992")); /* same double, different values */
  assert_false(eq("100000000000000000000001", "100000000000000000000000"));
  assert_true(eq("100000000000000000000000", "1e23"));
  assert_true(eq("1e400", "10e399"));
  assert_false(eq("1e400", "1e401"));
  assert_false(eq("1e400", "-1e400"));
  assert_true(eq("123456789012345678901234567890", "1234567890123456789012345678.90e2"));
  /* strings */
  assert_true(eq("\"a\\u0000b\"", "\"a\\u0000b\""));
  assert_false(eq("\"a\\u0000b\"", "\"a\\u0000c\""));
  assert_false(eq("\"a\"", "\"a\\u0000\""));
  assert_true(eq("\"\\u00e9\"", "\"\xC3\xA9\""));
  /* arrays element-wise, objects as maps */
  assert_true(eq("[]", "[]"));
  assert_false(eq("[]", "{}"));
  assert_false(eq("[1,2]", "[2,1]"));
  assert_false(eq("[1]", "[1,1]"));
  assert_true(eq("[[1],{\"a\":[2]}]", "[[1.0],{\"a\":[2e0]}]"));
  assert_true(eq("{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}"));
  assert_false(eq("{\"a\":1}", "{\"a\":1,\"b\":2}"));
  assert_false(eq("{\"a\":1,\"b\":2}", "{\"a\":1,\"c\":2}"));
  assert_true(eq("{\"a\":1,\"a\":2}", "{\"a\":2}"));
  assert_false(eq("{\"a\":1,\"a\":2}", "{\"a\":1}"));
  assert_true(eq("{\"a\":1,\"a\":2,\"b\":3}", "{\"b\":3,\"a\":5,\"a\":2}"));
  assert_false(eq("{\"a\":1,\"a\":2}", "{\"a\":2,\"b\":2}"));
  /* large objects (the sorted path), with duplicates */
  char x[4096], y[4096];
  size_t nx = 0, ny = 0;
  x[nx++] = '{';
  y[ny++] = '{';
  for (int i = 0; i < 60; i++) {
    nx += (size_t)snprintf(x + nx, sizeof x - nx, "%s\"k%d\":%d", i ? "," : "", i, i);
    ny += (size_t)snprintf(y + ny, sizeof y - ny, "%s\"k%d\":%d", i ? "," : "", 59 - i, 59 - i);
  }
  x[nx] = '}';
  x[nx + 1] = '\0';
  y[ny] = '}';
  y[ny + 1] = '\0';
  assert_true(eq(x, y));
  char z[4200];
  snprintf(z, sizeof z, "{\"k5\":\"old\",%s", x + 1); /* duplicate that loses */
  assert_true(eq(z, y));
  snprintf(z, sizeof z, "%.*s,\"k5\":\"new\"}", (int)nx, x); /* duplicate that wins */
  assert_false(eq(z, y));
  snprintf(z, sizeof z, "%.*s,\"k60\":60}", (int)nx, x);
  assert_false(eq(z, y));
  snprintf(z, sizeof z, "%.*s,\"k60\":60}", (int)ny, y);
  char w[4200];
  snprintf(w, sizeof w, "{\"k60\":60,%s", x + 1);
  assert_true(eq(z, w));
  /* identical pointers and NULL */
  fx f;
  fx_init(&f);
  ok(&f, "[1]");
  assert_true(ml_json_equal(f.root, f.root));
  assert_false(ml_json_equal(f.root, NULL));
  fx_free(&f);
}

/* ---- writer -------------------------------------------------------------- */

static void quote_is(const char *in, size_t n, const char *want) {
  ml_buf b = ML_BUF_INIT;
  ml_json_quote(&b, in, n);
  assert_true(ml_buf_ok(&b));
  if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0) fail_msg("quote gave %s, expected %s", b.data, want);
  /* always valid JSON, decoding to valid UTF-8 */
  fx f;
  fx_init(&f);
  if (fx_parse(&f, b.data, b.len) != ML_OK) fail_msg("quote output %s rejected: %s", b.data, f.err.msg);
  assert_true(ml_utf8_valid(f.root->u.str, f.root->len, NULL));
  fx_free(&f);
  ml_buf_free(&b);
}

static void test_quote(void **state) {
  (void)state;
  quote_is("", 0, "\"\"");
  quote_is("abc", 3, "\"abc\"");
  quote_is("a\"b\\c/", 6, "\"a\\\"b\\\\c/\"");
  quote_is("\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\"");
  quote_is("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
  quote_is("a\0b", 3, "\"a\\u0000b\"");
  quote_is("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9, "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"");
  /* invalid UTF-8: one U+FFFD per maximal ill-formed subpart */
  quote_is("a\xFF" "b", 3, "\"a\xEF\xBF\xBD" "b\"");
  quote_is("\xE2\x82", 2, "\"\xEF\xBF\xBD\"");
  quote_is("\xE2\x82x", 3, "\"\xEF\xBF\xBDx\"");
  quote_is("\xC0\x80", 2, "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  quote_is("\xED\xA0\x80", 3, "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  quote_is("\xF0\x9F\x98x", 4, "\"\xEF\xBF\xBDx\"");
  quote_is("\xF4\x90\x80\x80", 4, "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  quote_is("\x80\x80", 2, "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  quote_is("\xC3", 1, "\"\xEF\xBF\xBD\"");
  /* long inputs: special bytes at every offset of the 8-byte scan */
  for (size_t pos = 0; pos < 40; pos++) {
    char in[41], want[80];
    memset(in, 'x', 40);
    in[40] = '\0';
    in[pos] = '"';
    snprintf(want, sizeof want, "\"%.*s\\\"%s\"", (int)pos, in, in + pos + 1);
    quote_is(in, 40, want);
    in[pos] = '\xFE';
    snprintf(want, sizeof want, "\"%.*s\xEF\xBF\xBD%s\"", (int)pos, in, in + pos + 1);
    quote_is(in, 40, want);
  }
  /* random bytes always quote to valid JSON */
  uint64_t seed = 99;
  for (int it = 0; it < 2000; it++) {
    unsigned char in[64];
    size_t n = rng_next(&seed) % sizeof in;
    for (size_t k = 0; k < n; k++) in[k] = (unsigned char)rng_next(&seed);
    ml_buf b = ML_BUF_INIT;
    ml_json_quote(&b, (const char *)in, n);
    fx f;
    fx_init(&f);
    if (fx_parse(&f, b.data, b.len) != ML_OK) fail_msg("quote output rejected: %s", f.err.msg);
    /* valid input comes back unchanged */
    if (ml_utf8_valid((const char *)in, n, NULL)) {
      assert_int_equal(f.root->len, n);
      assert_memory_equal(f.root->u.str, in, n);
    }
    fx_free(&f);
    ml_buf_free(&b);
  }
}

static void test_utf8_valid(void **state) {
  (void)state;
  size_t off = 99;
  assert_true(ml_utf8_valid("", 0, &off));
  assert_true(ml_utf8_valid("plain ascii text, longer than eight", 35, &off));
  assert_true(ml_utf8_valid("\xC3\xA9\xF4\x8F\xBF\xBF\xEF\xBF\xBF", 9, NULL));
  assert_false(ml_utf8_valid("abcdefghij\xC3", 11, &off));
  assert_int_equal(off, 10);
  assert_false(ml_utf8_valid("ab\xED\xA0\x80", 5, &off));
  assert_int_equal(off, 2);
  assert_false(ml_utf8_valid("\xE0\x9F\xBF", 3, &off));
  assert_int_equal(off, 0);
  assert_false(ml_utf8_valid("0123456789\xC3\xA9\xF5", 13, &off));
  assert_int_equal(off, 12);
}

static char *written(void (*fn)(ml_jw *), bool want_done) {
  ml_buf b = ML_BUF_INIT;
  ml_jw w;
  ml_jw_init(&w, &b);
  fn(&w);
  assert_int_equal(ml_jw_done(&w), want_done);
  char *s = ml_buf_steal(&b);
  assert_non_null(s);
  return s;
}

static void w_structure(ml_jw *w) {
  ml_jw_obj_begin(w);
  ml_jw_key(w, "a");
  ml_jw_int(w, 1);
  ml_jw_key(w, "b\"q");
  ml_jw_arr_begin(w);
  ml_jw_null(w);
  ml_jw_bool(w, true);
  ml_jw_bool(w, false);
  ml_jw_str(w, "s\n");
  ml_jw_str(w, NULL);
  ml_jw_strn(w, "ab\0c", 4);
  ml_jw_int(w, INT64_MIN);
  ml_jw_int(w, INT64_MAX);
  ml_jw_uint(w, UINT64_MAX);
  ml_jw_uint(w, 0);
  ml_jw_double(w, 0.5);
  ml_jw_raw(w, "{\"r\":[1]}", 9);
  ml_jw_obj_begin(w);
  ml_jw_obj_end(w);
  ml_jw_arr_begin(w);
  ml_jw_arr_end(w);
  ml_jw_arr_end(w);
  ml_jw_keyn(w, "k\0z", 3);
  ml_jw_double(w, NAN);
  ml_jw_key(w, "inf");
  ml_jw_double(w, -INFINITY);
  ml_jw_obj_end(w);
}

static void w_key_top(ml_jw *w) { ml_jw_key(w, "a"); }
static void w_two_top(ml_jw *w) {
  ml_jw_int(w, 1);
  ml_jw_int(w, 2);
}
static void w_value_no_key(ml_jw *w) {
  ml_jw_obj_begin(w);
  ml_jw_int(w, 1);
  ml_jw_obj_end(w);
}
static void w_key_twice(ml_jw *w) {
  ml_jw_obj_begin(w);
  ml_jw_key(w, "a");
  ml_jw_key(w, "b");
}
static void w_dangling_key(ml_jw *w) {
  ml_jw_obj_begin(w);
  ml_jw_key(w, "a");
  ml_jw_obj_end(w);
}
static void w_mismatch(ml_jw *w) {
  ml_jw_arr_begin(w);
  ml_jw_obj_end(w);
}
static void w_extra_end(ml_jw *w) {
  ml_jw_arr_begin(w);
  ml_jw_arr_end(w);
  ml_jw_arr_end(w);
}
static void w_unclosed(ml_jw *w) {
  ml_jw_arr_begin(w);
  ml_jw_int(w, 1);
}
static void w_key_in_array(ml_jw *w) {
  ml_jw_arr_begin(w);
  ml_jw_key(w, "a");
}
static void w_nothing(ml_jw *w) { (void)w; }
static void w_depth_ok(ml_jw *w) {
  for (int i = 0; i < 255; i++) ml_jw_arr_begin(w);
  for (int i = 0; i < 255; i++) ml_jw_arr_end(w);
}
static void w_depth_bad(ml_jw *w) {
  for (int i = 0; i < 256; i++) ml_jw_arr_begin(w);
  for (int i = 0; i < 256; i++) ml_jw_arr_end(w);
}

static void test_writer(void **state) {
  (void)state;
  char *s = written(w_structure, true);
  assert_string_equal(s, "{\"a\":1,\"b\\\"q\":[null,true,false,\"s\\n\",null,\"ab\\u0000c\",-9223372036854775808,"
                         "9223372036854775807,18446744073709551615,0,0.5,{\"r\":[1]},{},[]],\"k\\u0000z\":null,"
                         "\"inf\":null}");
  fx f;
  fx_init(&f);
  assert_int_equal(fx_parses(&f, s), ML_OK);
  assert_true(ml_json_get(ml_json_get(f.root, "b\"q")->u.items + 11, "r") != NULL);
  free(s);

  void (*bad[])(ml_jw *) = {w_key_top,  w_two_top,  w_value_no_key, w_key_twice,    w_dangling_key,
                            w_mismatch, w_extra_end, w_unclosed,     w_key_in_array, w_nothing};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) free(written(bad[i], false));
  /* after misuse the writer stops writing */
  s = written(w_value_no_key, false);
  assert_string_equal(s, "{");
  free(s);
  s = written(w_two_top, false);
  assert_string_equal(s, "1");
  free(s);
  s = written(w_depth_ok, true);
  assert_int_equal(strlen(s), 510);
  free(s);
  s = written(w_depth_bad, false);
  assert_int_equal(strlen(s), 255);
  free(s);
  fx_free(&f);
}

static void test_writer_double(void **state) {
  (void)state;
  const double vals[] = {0.0, -0.0, 1.0, 3.0, -3.0, 0.1, 0.5, 1.0 / 3.0, 2.0 / 3.0, 1e21, 1e22, 1e-7, 123.456,
                         1e300, -1e-300, 5e-324, DBL_MAX, DBL_MIN, 9007199254740993.0, 0.30000000000000004, 100.0,
                         1234567890123456789.0, 33.33, 1602637589000.0};
  fx f;
  fx_init(&f);
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    ml_buf b = ML_BUF_INIT;
    ml_jw w;
    ml_jw_init(&w, &b);
    ml_jw_double(&w, vals[i]);
    assert_true(ml_jw_done(&w));
    if (fx_parse(&f, b.data, b.len) != ML_OK) fail_msg("%s: %s", b.data, f.err.msg);
    assert_int_equal(f.root->type, ML_JSON_NUMBER);
    if (memcmp(&f.root->d, &vals[i], sizeof(double)) != 0 && !(vals[i] == 0 && f.root->d == 0))
      fail_msg("%.17g written as %s", vals[i], b.data);
    /* never longer than the 17 significant digits that always round-trip */
    char longest[64];
    snprintf(longest, sizeof longest, "%.17g", vals[i]);
    assert_true(b.len <= strlen(longest));
    ml_buf_free(&b);
  }
  ml_buf b = ML_BUF_INIT;
  ml_jw w;
  ml_jw_init(&w, &b);
  ml_jw_arr_begin(&w);
  ml_jw_double(&w, 0.1);
  ml_jw_double(&w, 3.0);
  ml_jw_double(&w, 1.0 / 3.0);
  ml_jw_double(&w, -0.0);
  ml_jw_double(&w, NAN);
  ml_jw_double(&w, INFINITY);
  ml_jw_double(&w, 1e21);
  ml_jw_arr_end(&w);
  assert_true(ml_jw_done(&w));
  assert_string_equal(b.data, "[0.1,3,0.3333333333333333,-0,null,null,1e+21]");
  ml_buf_free(&b);
  fx_free(&f);
}

/* Values built with the writer come back through the reader unchanged. */
static void test_roundtrip(void **state) {
  (void)state;
  ml_buf b = ML_BUF_INIT;
  ml_jw w;
  ml_jw_init(&w, &b);
  ml_jw_obj_begin(&w);
  ml_jw_key(&w, "str");
  ml_jw_strn(&w, "q\"\\\x01\n\xC3\xA9\xF0\x9F\x98\x80\xFFz", 13);
  ml_jw_key(&w, "min");
  ml_jw_int(&w, INT64_MIN);
  ml_jw_key(&w, "umax");
  ml_jw_uint(&w, UINT64_MAX);
  ml_jw_key(&w, "d");
  ml_jw_double(&w, 0.1);
  ml_jw_key(&w, "arr");
  ml_jw_arr_begin(&w);
  for (int i = 0; i < 20; i++) ml_jw_int(&w, i * 1000003);
  ml_jw_arr_end(&w);
  ml_jw_obj_end(&w);
  assert_true(ml_jw_done(&w));

  fx f, g;
  fx_init(&f);
  fx_init(&g);
  if (fx_parse(&f, b.data, b.len) != ML_OK) fail_msg("%s: %s", b.data, f.err.msg);
  const ml_json_val *s = ml_json_get(f.root, "str");
  assert_int_equal(s->len, 15); /* the 0xFF byte became the 3-byte U+FFFD */
  assert_memory_equal(s->u.str, "q\"\\\x01\n\xC3\xA9\xF0\x9F\x98\x80\xEF\xBF\xBDz", 15);
  assert_true(ml_json_get(f.root, "min")->i == INT64_MIN);
  assert_true(ml_json_get(f.root, "umax")->d == 18446744073709551615.0);
  assert_true(ml_json_get(f.root, "d")->d == 0.1);
  assert_true(ml_json_get(f.root, "arr")->u.items[19].i == 19 * 1000003);
  /* ml_jw_val of the parse, re-parsed, is equal; writing it again is stable */
  char *out = write_val(f.root);
  assert_int_equal(fx_parses(&g, out), ML_OK);
  assert_true(ml_json_equal(f.root, g.root));
  char *out2 = write_val(g.root);
  assert_string_equal(out, out2);
  assert_string_equal(out, b.data);
  /* ml_jw_val nested inside a writer's own structure */
  ml_buf b2 = ML_BUF_INIT;
  ml_jw_init(&w, &b2);
  ml_jw_arr_begin(&w);
  ml_jw_val(&w, ml_json_get(f.root, "arr"));
  ml_jw_val(&w, NULL);
  ml_jw_obj_begin(&w);
  ml_jw_key(&w, "x");
  ml_jw_val(&w, ml_json_get(f.root, "str"));
  ml_jw_obj_end(&w);
  ml_jw_arr_end(&w);
  assert_true(ml_jw_done(&w));
  assert_int_equal(fx_parse(&g, b2.data, b2.len), ML_OK);
  assert_int_equal(g.root->len, 3);
  assert_true(ml_json_equal(&g.root->u.items[0], ml_json_get(f.root, "arr")));
  assert_int_equal(g.root->u.items[1].type, ML_JSON_NULL);
  free(out);
  free(out2);
  ml_buf_free(&b);
  ml_buf_free(&b2);
  fx_free(&f);
  fx_free(&g);
}

/* Under a locale whose decimal point is ',', numbers still read and write
 * with '.'.  Skipped where no such locale is installed. */
static bool compact_str(const char *s) { return ml_json_text_compact(s, strlen(s)); }

/* Random JSON text with whitespace and escapes sprinkled in: appends to b. */
static void gen_doc(ml_buf *b, uint64_t *seed, int depth) {
  static const char *const ws[] = {" ", "\n", "\t", "\r\n"};
  static const char *const pieces[] = {"a", " ", "Dennis 1", "\\n", "\\u00e9", "\xC3\xA9", "\\/", "/", "\\\"", "0123456789"};
  static const char *const scalars[] = {"1", "-2.50", "3e2", "true", "false", "null"};
  if (rng_next(seed) % 4 == 0) ml_buf_puts(b, ws[rng_next(seed) % 4]);
  uint64_t kind = depth >= 3 ? rng_next(seed) % 2 : rng_next(seed) % 4;
  if (kind == 0) {
    ml_buf_puts(b, scalars[rng_next(seed) % 6]);
  } else if (kind == 1) {
    ml_buf_putc(b, '"');
    for (uint64_t n = rng_next(seed) % 4; n-- > 0;) ml_buf_puts(b, pieces[rng_next(seed) % 10]);
    ml_buf_putc(b, '"');
  } else {
    bool obj = kind == 3;
    ml_buf_putc(b, obj ? '{' : '[');
    for (uint64_t i = 0, n = rng_next(seed) % 4; i < n; i++) {
      if (i) ml_buf_putc(b, ',');
      if (obj) {
        ml_buf_printf(b, "\"k%llu\"", (unsigned long long)i);
        if (rng_next(seed) % 4 == 0) ml_buf_puts(b, ws[rng_next(seed) % 4]);
        ml_buf_putc(b, ':');
      }
      gen_doc(b, seed, depth + 1);
    }
    if (rng_next(seed) % 4 == 0) ml_buf_puts(b, ws[rng_next(seed) % 4]);
    ml_buf_putc(b, obj ? '}' : ']');
  }
  if (rng_next(seed) % 4 == 0) ml_buf_puts(b, ws[rng_next(seed) % 4]);
}

/* ml_json_text_compact accepts a parsed container's source only when it is
 * exactly what the writer gives for it (so that callers may copy it), and
 * refuses one the writer gives alike only when it holds an escape: on
 * random documents with whitespace inside and outside strings, escapes and
 * non-ASCII text, and across the eight-byte steps of its fast path. */
static void test_text_compact(void **state) {
  (void)state;
  fx fxs;
  fx *f = &fxs;
  fx_init(f);
  uint64_t seed = 0x9E3779B97F4A7C15ULL;
  size_t compact = 0, loose = 0;
  for (int i = 0; i < (quick() ? 2000 : 20000); i++) {
    ml_buf b = ML_BUF_INIT;
    ml_buf_putc(&b, '[');
    gen_doc(&b, &seed, 1);
    ml_buf_putc(&b, ']');
    assert_true(ml_buf_ok(&b));
    const ml_json_val *v = ok(f, b.data);
    for (size_t k = 0; k < v->len; k++) {
      const ml_json_val *e = &v->u.items[k];
      if (e->type != ML_JSON_ARRAY && e->type != ML_JSON_OBJECT) continue;
      char *w = write_val(e);
      bool same = strlen(w) == e->src_len && !memcmp(w, e->src, e->src_len);
      bool said = ml_json_text_compact(e->src, e->src_len);
      /* never a source the writer would write otherwise; a text it would
       * write alike is refused only for an escape (conservatively: the
       * writer keeps some, such as \n, and decodes others) */
      bool escaped = memchr(e->src, '\\', e->src_len) != NULL;
      if ((said && !same) || (!said && same && !escaped))
        fail_msg("wrong answer (%d) for %.*s", said, (int)e->src_len, e->src);
      *(said ? &compact : &loose) += 1;
      free(w);
    }
    ml_buf_free(&b);
  }
  /* both answers were tested often */
  assert_true(compact > 500 && loose > 500);
  assert_true(compact_str(""));
  assert_true(compact_str("{\"name\":\"Dennis 1\",\"tags\":[\"a b\"]}"));
  assert_false(compact_str("{\"name\":\"Dennis1\",\"tags\":[\"ab\"] }"));
  assert_false(compact_str("[\"abcdefgh\\/\"]"));
  fx_free(f);
}

static void test_locale(void **state) {
  (void)state;
  static const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "de_DE", "fr_FR"};
  const char *old = setlocale(LC_NUMERIC, NULL);
  char saved[64];
  snprintf(saved, sizeof saved, "%s", old ? old : "C");
  bool found = false;
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !found; i++)
    found = setlocale(LC_NUMERIC, names[i]) != NULL && strcmp(localeconv()->decimal_point, ",") == 0;
  if (!found) {
    setlocale(LC_NUMERIC, saved);
    skip();
  }
  fx f;
  fx_init(&f);
  const ml_json_val *v = ok(&f, "[1.5,2.5e-3]");
  bool read_ok = v->u.items[0].d == 1.5 && v->u.items[1].d == 2.5e-3;
  ml_buf b = ML_BUF_INIT;
  ml_jw w;
  ml_jw_init(&w, &b);
  ml_jw_double(&w, 0.1);
  setlocale(LC_NUMERIC, saved);
  assert_true(read_ok);
  assert_string_equal(b.data, "0.1");
  ml_buf_free(&b);
  fx_free(&f);
}

/* ---- random mutations ---------------------------------------------------- */

static void test_mutations(void **state) {
  (void)state;
  static const char *seeds[] = {
      ("{\"type\": \"RECORD\", \"record\": {\"stream\": \"users\", \"emitted_at\": 1602637589000, \"data\": "
      "{\"id\": 1, \"name\": \"Jos\xC3\xA9\", \"tags\": [1, 2.5e3, null, true, false], \"o\": {\"k\": \"\\u00e9\\n\"}}}}"),
      "[0, -0.0, 1e400, 9223372036854775808, \"\\uD834\\uDD1E\", {\"\": []}, [[[]]]]",
      "{\"a\":{\"b\":{\"c\":[1,2,{\"d\":\"\xF0\x9F\x98\x80\"}]}},\"a\":-12.5E-3}",
      "\"plain string with some length to cross eight-byte boundaries \\\" \\\\ \\/ \\t\"",
      "[true,false,null,\"\",{},[],0.1,-7]",
  };
  static const char alphabet[] = "{}[],:\"\\0123456789-+.eEtrufalsn \t\r\nxu\xC3\xA9\xF0\x80\xFF\x01";
  fx f, g;
  fx_init(&f);
  fx_init(&g);
  uint64_t seed = 0xC0FFEE;
  char buf[512];
  int iters = quick() ? 10000 : 100000;
  int accepted = 0;
  for (int it = 0; it < iters; it++) {
    const char *src = seeds[rng_next(&seed) % (sizeof seeds / sizeof seeds[0])];
    size_t n = strlen(src);
    memcpy(buf, src, n);
    int muts = 1 + (int)(rng_next(&seed) % 4);
    for (int m = 0; m < muts; m++) {
      size_t pos = n ? rng_next(&seed) % n : 0;
      switch (rng_next(&seed) % 5) {
        case 0: /* flip a bit */
          if (n) buf[pos] ^= (char)(1u << (rng_next(&seed) % 8));
          break;
        case 1: /* insert a byte */
          if (n < sizeof buf - 1) {
            memmove(buf + pos + 1, buf + pos, n - pos);
            buf[pos] = alphabet[rng_next(&seed) % (sizeof alphabet - 1)];
            n++;
          }
          break;
        case 2: /* delete a byte */
          if (n) {
            memmove(buf + pos, buf + pos + 1, n - pos - 1);
            n--;
          }
          break;
        case 3: /* replace a byte */
          if (n) buf[pos] = alphabet[rng_next(&seed) % (sizeof alphabet - 1)];
          break;
        default: /* truncate */
          n = pos;
          break;
      }
    }
    ml_status st = fx_parse(&f, buf, n);
    if (st != ML_OK) {
      assert_int_equal(st, ML_ERR_INPUT);
      assert_true(f.err.offset <= n);
      continue;
    }
    accepted++;
    assert_true(ml_json_equal(f.root, f.root));
    char *out = write_val(f.root);
    if (fx_parses(&g, out) != ML_OK) fail_msg("iteration %d: writer output %s rejected: %s", it, out, g.err.msg);
    if (!ml_json_equal(f.root, g.root)) fail_msg("iteration %d: %s not equal after round trip", it, out);
    free(out);
  }
  print_message("%d of %d mutated documents accepted\n", accepted, iters);
  /* the mutations must leave a fair share of valid documents to compare */
  assert_true(accepted > iters / 20);
  fx_free(&f);
  fx_free(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars),        cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_numbers_random), cmocka_unit_test(test_strings),
      cmocka_unit_test(test_containers),     cmocka_unit_test(test_reuse),
      cmocka_unit_test(test_error_positions), cmocka_unit_test(test_invalid_table),
      cmocka_unit_test(test_valid_table),    cmocka_unit_test(test_deep_limit),
      cmocka_unit_test(test_deep_max),       cmocka_unit_test(test_deep_handbuilt),
      cmocka_unit_test(test_equal),          cmocka_unit_test(test_quote),
      cmocka_unit_test(test_utf8_valid),     cmocka_unit_test(test_writer),
      cmocka_unit_test(test_writer_double),  cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_locale), cmocka_unit_test(test_text_compact),         cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
