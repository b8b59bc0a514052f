/* The conversions that allocate, when allocations fail (ml_failalloc.h):
 * base64 into a growing ml_buf and doubles written with more digits than
 * fit on the stack.  A failed allocation must show as a failure (false, or
 * the buffer's oom flag), never as a wrong value, and leak nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "convert/ml_conv.h"
#include "ml_failalloc.h"

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
    st = ml_err_set(err, ML_ERR_NOMEM, "base64 decoding failed");
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
  if (!ml_conv_double(text, strlen(text), &d)) return ml_err_set(err, ML_ERR_INPUT, "not read as a double");
  if (d != 0.1) return ml_err_set(err, ML_ERR_STATE, "read %.17g, want 0.1", d);
  return ML_OK;
}

int main(void) {
  ml_fa_case base64 = {"base64 encode and decode", op_base64, NULL};
  ml_fa_case long_double = {"a double of 300 digits", op_long_double, NULL};
  const struct CMUnitTest tests[] = {ML_FA_TEST(base64), ML_FA_TEST(long_double)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
