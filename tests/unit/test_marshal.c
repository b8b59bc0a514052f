/* Unit tests for sdk/ml_marshal: the reader of the operation batches a
 * Python connector sends.  The byte vectors are what CPython 3.11's
 * marshal.dumps(value, 4) writes (the values are in the comments), so the
 * tests check the reader against the real format; the hostile-input tests
 * check that no truncation or corrupted byte makes it read out of bounds,
 * loop or crash (run them under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk/ml_marshal.h"

static size_t unhex(const char *hex, unsigned char *out) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    out[i] = (unsigned char)v;
  }
  return n;
}

/* [(1, "t", {"id": 1, "name": "ab", "f": 1.5, "b": True, "n": None,
 *            "big": 2**70, "neg": -(2**63), "mid": 2**40, "raw": b"\x00\x01",
 *            "tag": (1, '{"a":1}')}, "c.py", 7),
 *  (1, "t", {"id": 1, "name": "ab"}, "c.py", 8)]
 * The second operation refers back to the first one's strings and ints. */
static const char BATCH[] =
    "db020000002905e901000000da01747bda0269647201000000da046e616d65da026162da0166e7000000000000f83fda016254da016e4e"
    "da036269676c0500000000000000000000000004da036e6567ecfbffffff00000000000000000800da036d6964ec030000000000000000"
    "04da03726177f3020000000001da03746167a9027201000000fa077b2261223a317d30fa04632e7079e90700000029057201000000720200"
    "00007b7203000000720100000072040000007205000000307214000000e908000000";

static void next(ml_marshal_reader *r, ml_marshal_val *v) {
  ml_err err;
  if (ml_marshal_next(r, v, &err) != ML_OK) fail_msg("%s", err.msg);
}

static void expect_str(ml_marshal_reader *r, const char *s) {
  ml_marshal_val v;
  next(r, &v);
  assert_int_equal(v.kind, ML_MARSHAL_STR);
  assert_int_equal(v.len, strlen(s));
  assert_memory_equal(v.s, s, v.len);
}

static void expect_int(ml_marshal_reader *r, int64_t i) {
  ml_marshal_val v;
  next(r, &v);
  assert_int_equal(v.kind, ML_MARSHAL_INT);
  assert_true(v.i == i);
}

/* Reads the next value, which must be of that kind. */
static ml_marshal_val expect_kind(ml_marshal_reader *r, ml_marshal_kind kind) {
  ml_marshal_val v;
  next(r, &v);
  assert_int_equal(v.kind, kind);
  return v;
}

/* How both operations of BATCH begin, the second one through references to
 * the first one's values: (1, "t", {"id": 1, "name": "ab" */
static void expect_op_start(ml_marshal_reader *r) {
  assert_int_equal(expect_kind(r, ML_MARSHAL_TUPLE).len, 5);
  expect_int(r, 1);
  expect_str(r, "t");
  expect_kind(r, ML_MARSHAL_DICT);
  expect_str(r, "id");
  expect_int(r, 1);
  expect_str(r, "name");
  expect_str(r, "ab");
}

/* How an operation ends: the dict closes, then "c.py" and the line. */
static void expect_op_end(ml_marshal_reader *r, int64_t line) {
  expect_kind(r, ML_MARSHAL_END);
  expect_str(r, "c.py");
  expect_int(r, line);
}

static void test_batch_values(void **state) {
  (void)state;
  unsigned char buf[sizeof BATCH / 2];
  size_t n = unhex(BATCH, buf);
  ml_marshal_reader r = {0};
  ml_marshal_reset(&r, buf, n);
  assert_int_equal(expect_kind(&r, ML_MARSHAL_LIST).len, 2);
  expect_op_start(&r);
  expect_str(&r, "f");
  assert_true(expect_kind(&r, ML_MARSHAL_FLOAT).d == 1.5);
  expect_str(&r, "b");
  assert_int_equal(expect_kind(&r, ML_MARSHAL_BOOL).i, 1);
  expect_str(&r, "n");
  expect_kind(&r, ML_MARSHAL_NONE);
  expect_str(&r, "big");
  ml_marshal_val v = expect_kind(&r, ML_MARSHAL_BIGINT);
  ml_buf text = ML_BUF_INIT;
  ml_marshal_bigint_text(&v, &text);
  assert_string_equal(text.data, "1180591620717411303424");
  expect_str(&r, "neg");
  expect_int(&r, INT64_MIN); /* five digits that still fit 64 bits */
  expect_str(&r, "mid");
  expect_int(&r, (int64_t)1 << 40);
  expect_str(&r, "raw");
  v = expect_kind(&r, ML_MARSHAL_BYTES);
  assert_int_equal(v.len, 2);
  assert_memory_equal(v.s, "\x00\x01", 2);
  expect_str(&r, "tag");
  expect_kind(&r, ML_MARSHAL_TUPLE);
  expect_int(&r, 1);
  expect_str(&r, "{\"a\":1}");
  expect_op_end(&r, 7);
  /* the second operation: references to the first one's values */
  expect_op_start(&r);
  expect_op_end(&r, 8);
  assert_true(ml_marshal_done(&r));
  ml_buf_free(&text);
  ml_marshal_free(&r);
}

static void check_bigint(const char *hex, const char *want) {
  unsigned char buf[64];
  size_t n = unhex(hex, buf);
  ml_marshal_reader r = {0};
  ml_marshal_reset(&r, buf, n);
  ml_marshal_val v;
  next(&r, &v);
  ml_buf text = ML_BUF_INIT;
  if (v.kind == ML_MARSHAL_BIGINT) ml_marshal_bigint_text(&v, &text);
  else ml_buf_printf(&text, "%lld (int)", (long long)v.i);
  assert_string_equal(text.data, want);
  ml_buf_free(&text);
  ml_marshal_free(&r);
}

static void test_big_integers(void **state) {
  (void)state;
  check_bigint("6c09000000000000000004ab4fbb7a9714d770f814631d", "10000000000000000000000000000000000000000"); /* 10**40 */
  check_bigint("6cf7ffffff000000000004ab4fbb7a9714d770f814631d", "-10000000000000000000000000000000000000000");
  check_bigint("ec0500000000000000000000000800", "9223372036854775808");  /* 2**63: one past INT64_MAX */
  check_bigint("ec05000000ff7fff7fff7fff7f0f00", "18446744073709551615"); /* 2**64 - 1 */
  check_bigint("6c00000000", "0 (int)");                                /* 0 as a long of no digits */
}

/* Reads every value of buf; the status of the first failure. */
static ml_status walk(const unsigned char *buf, size_t n) {
  ml_marshal_reader r = {0};
  ml_marshal_reset(&r, buf, n);
  ml_marshal_val v;
  ml_err err;
  ml_status st = ml_marshal_next(&r, &v, &err);
  if (st == ML_OK) st = ml_marshal_skip(&r, &v, &err);
  if (st == ML_OK && !ml_marshal_done(&r)) st = ML_ERR_INPUT;
  if (st != ML_OK && st != ML_ERR_INPUT) fail_msg("unexpected status %d", st);
  if (st != ML_OK && !strstr(err.msg, "at byte")) fail_msg("the error does not name the byte: %s", err.msg);
  ml_marshal_free(&r);
  return st;
}

static void test_every_truncation_fails(void **state) {
  (void)state;
  unsigned char buf[sizeof BATCH / 2];
  size_t n = unhex(BATCH, buf);
  assert_int_equal(walk(buf, n), ML_OK);
  for (size_t k = 0; k < n; k++) {
    unsigned char *copy = malloc(k ? k : 1); /* exact size: ASan sees any overread */
    memcpy(copy, buf, k);
    if (walk(copy, k) == ML_OK) fail_msg("a batch cut to %zu of %zu bytes was read as whole", k, n);
    free(copy);
  }
}

static void test_corrupted_bytes_never_crash(void **state) {
  (void)state;
  unsigned char buf[sizeof BATCH / 2];
  size_t n = unhex(BATCH, buf);
  static const unsigned char subst[] = {0x00, 0x01, 0x7f, 0x80, 0xff, '(', '[', '{', 'r', 'l', 'u', 0xf2};
  for (size_t k = 0; k < n; k++)
    for (size_t s = 0; s < sizeof subst; s++) {
      unsigned char *copy = malloc(n);
      memcpy(copy, buf, n);
      copy[k] = subst[s];
      (void)walk(copy, n); /* any status: it must only not crash or read out of bounds */
      free(copy);
    }
}

static void test_unsupported_input_is_named(void **state) {
  (void)state;
  unsigned char buf[512];
  /* [x, x] with x = [1]: a reference to a list */
  size_t n = unhex("5b02000000db01000000e9010000007200000000", buf);
  assert_int_equal(walk(buf, n), ML_ERR_INPUT);
  /* a code object's type code */
  buf[0] = 'c';
  assert_int_equal(walk(buf, 1), ML_ERR_INPUT);
  /* lists nested deeper than the reader allows */
  size_t k = 0;
  for (int d = 0; d < 80; d++) {
    buf[k++] = '[';
    buf[k++] = 1;
    buf[k++] = 0;
    buf[k++] = 0;
    buf[k++] = 0;
  }
  buf[k++] = 'N';
  assert_int_equal(walk(buf, k), ML_ERR_INPUT);
  /* a reference to nothing */
  n = unhex("7205000000", buf);
  assert_int_equal(walk(buf, n), ML_ERR_INPUT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batch_values),
      cmocka_unit_test(test_big_integers),
      cmocka_unit_test(test_every_truncation_fails),
      cmocka_unit_test(test_corrupted_bytes_never_crash),
      cmocka_unit_test(test_unsupported_input_is_named),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
