/* The conversions that allocate, when allocations fail (ml_failalloc.h):
 * base64 into a growing ml_buf, doubles written with more digits than fit
 * on the stack, and ml_value_put, which puts JSON values into a batch's
 * columns with them.  A failed allocation must show as out of memory (the
 * buffer's oom flag, which the ops turn into ML_ERR_NOMEM), never as a value
 * that is invalid or does not fit, nor as a wrong value, and leak nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "convert/ml_conv.h"
#include "engine/ml_value.h"
#include "json/ml_json.h"
#include "ml_failalloc.h"
#include "warehouse/ml_batch.h"
#include "warehouse/ml_wh.h"

enum { RAW = 3000 }; /* bytes: the buffer grows several times */

static ml_status op_base64(void *ud, ml_err *err) {
  (void)ud;
  unsigned char raw[RAW];
  for (size_t i = 0; i < RAW; i++) raw[i] = (unsigned char)(i * 131 + 7);
  ml_buf text = ML_BUF_INIT, back = ML_BUF_INIT;
  ml_status st = ML_OK;
  /* a prefix first, so that encoding appends to a buffer that has to grow */
  ml_buf_puts(&text, "x");
  ml_conv_base64_encode(raw, RAW, &text);
  if (!ml_buf_ok(&text)) st = ml_err_set(err, ML_ERR_NOMEM, "out of memory encoding base64");
  if (st == ML_OK && !ml_conv_base64_decode(text.data + 1, text.len - 1, &back))
    st = ml_buf_ok(&back) ? ml_err_set(err, ML_ERR_INPUT, "base64 text rejected")
                          : ml_err_set(err, ML_ERR_NOMEM, "out of memory decoding base64");
  if (st == ML_OK && (back.len != RAW || memcmp(back.data, raw, RAW) != 0))
    st = ml_err_set(err, ML_ERR_STATE, "base64 did not round-trip");
  ml_buf_free(&text);
  ml_buf_free(&back);
  return st;
}

/* 0.1 written with 300 digits (too long for the stack buffer) */
static ml_status op_long_double(void *ud, ml_err *err) {
  (void)ud;
  char text[320] = "0.1";
  memset(text + 3, '0', 300);
  text[303] = '\0';
  double d = 0;
  ml_buf scratch = ML_BUF_INIT;
  bool ok = ml_conv_double(text, strlen(text), &d, &scratch);
  bool oom = !ml_buf_ok(&scratch);
  ml_buf_free(&scratch);
  if (!ok && oom) return ml_err_set(err, ML_ERR_NOMEM, "out of memory reading a double");
  if (!ok) return ml_err_set(err, ML_ERR_INPUT, "not read as a double");
  if (d != 0.1) return ml_err_set(err, ML_ERR_STATE, "read %.17g, want 0.1", d);
  return ML_OK;
}

/* ---- values into columns ---------------------------------------------------------- */

/* One row of table v, whose columns take a value each that ml_value_put
 * converts with an allocation: a number written as a string too long for
 * the stack (DOUBLE), base64 (BLOB), an object that is not compact JSON
 * already (VARCHAR and JSON, written out again).  Made outside the hook. */
typedef struct values_case {
  ml_wh *wh;
  ml_batch *b;
  ml_json_doc *doc;
  const ml_json_val *row;
} values_case;

static const struct {
  const char *column;
  ml_type_id type;
  bool base64;
} value_cols[] = {
    {"d", ML_TYPE_DOUBLE, false}, {"b", ML_TYPE_BLOB, true}, {"v", ML_TYPE_VARCHAR, false}, {"j", ML_TYPE_JSON, false}};
#define N_VALUE_COLS (sizeof value_cols / sizeof value_cols[0])

/* The row's values into the batch: false with the scratch buffer's oom
 * flag set is out of memory, false without it a value that does not fit
 * (each one fits).  A new scratch buffer for each value, so that every
 * conversion allocates. */
static ml_status op_values(void *ud, ml_err *err) {
  values_case *c = ud;
  ml_status st = ML_OK;
  for (size_t i = 0; st == ML_OK && i < N_VALUE_COLS; i++) {
    ml_buf scratch = ML_BUF_INIT;
    ml_value_opts opts = {value_cols[i].base64};
    const ml_json_val *v = ml_json_get(c->row, value_cols[i].column);
    if (!ml_value_put(c->b, i, ml_type_of(value_cols[i].type), &opts, v, &scratch)) {
      if (!ml_buf_ok(&scratch)) st = ml_err_set(err, ML_ERR_NOMEM, "out of memory converting %s", value_cols[i].column);
      else st = ml_err_set(err, ML_ERR_INPUT, "the value of %s does not fit", value_cols[i].column);
    }
    ml_buf_free(&scratch);
  }
  return st;
}

static void test_values(void **state) {
  (void)state;
  values_case c = {0};
  ml_err err;
  if (ml_wh_open(":memory:", NULL, &c.wh, &err) != ML_OK) fail_msg("cannot open a warehouse: %s", err.msg);
  assert_int_equal(ml_wh_exec(c.wh, "CREATE TABLE v (d DOUBLE, b BLOB, v VARCHAR, j JSON)", &err), ML_OK);
  assert_int_equal(ml_batch_open(c.wh, NULL, "main", "v", N_VALUE_COLS, &c.b, &err), ML_OK);
  char json[1024];
  char digits[301];
  memset(digits, '0', 300);
  digits[300] = '\0';
  snprintf(json, sizeof json,
           "{\"d\": \"0.1%s\", \"b\": \"%s\", \"v\": {\"a\": [1, 2], \"s\": \"%s\"}, \"j\": {\"k\": \"%s\", "
           "\"n\": null}}",
           digits, "aGVsbG8sIHdvcmxkOiBhIGZldyBieXRlcyBvZiBiYXNlNjQsIGVub3VnaCB0byBncm93IGEgYnVmZmVyIG9uY2Uu",
           "a string long enough that the text outgrows a new buffer's first size", "another long string, for JSON");
  c.doc = ml_json_doc_new();
  assert_non_null(c.doc);
  assert_int_equal(ml_json_parse(c.doc, json, strlen(json), &c.row, &err), ML_OK);
  ml_fa_check_nomem("values into DOUBLE, BLOB, VARCHAR and JSON columns", op_values, &c);
  ml_json_doc_free(c.doc);
  ml_batch_close(c.b);
  ml_wh_close(c.wh);
}

int main(void) {
  ml_fa_case base64 = {"base64 encode and decode", op_base64, NULL};
  ml_fa_case long_double = {"a double of 300 digits", op_long_double, NULL};
  const struct CMUnitTest tests[] = {ML_FA_TEST_NOMEM(base64), ML_FA_TEST_NOMEM(long_double),
                                     cmocka_unit_test(test_values)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
