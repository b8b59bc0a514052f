/* fuzz_marshal: the reader of a Python connector's operation batches.
 *
 * Whatever the input, reading it value by value (ml_marshal_next, and
 * ml_marshal_skip for containers) returns: no crash, no read outside the
 * buffer, no endless loop; an error is ML_ERR_INPUT (or ML_ERR_NOMEM) with
 * a message naming the byte offset, within the buffer; a BIGINT's decimal
 * text is digits with an optional '-'. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk/ml_marshal.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ml_marshal_reader r = {0};
  ml_marshal_reset(&r, data, size);
  ml_buf text = ML_BUF_INIT;
  ml_err err;
  ml_err_clear(&err);
  ml_status st = ML_OK;
  /* values one after another, as many as the input holds */
  for (int values = 0; st == ML_OK && !ml_marshal_done(&r) && values < 100000; values++) {
    ml_marshal_val v;
    const unsigned char *before = r.cur;
    st = ml_marshal_next(&r, &v, &err);
    if (st != ML_OK) break;
    FUZZ_CHECK(r.cur > before && r.cur <= r.end); /* progress, in bounds */
    if (v.kind == ML_MARSHAL_STR || v.kind == ML_MARSHAL_BYTES)
      FUZZ_CHECK(v.s >= (const char *)data && v.s + v.len <= (const char *)data + size);
    if (v.kind == ML_MARSHAL_BIGINT) {
      ml_buf_reset(&text);
      ml_marshal_bigint_text(&v, &text);
      if (ml_buf_ok(&text)) {
        FUZZ_CHECK(text.len > 0);
        for (size_t i = 0; i < text.len; i++)
          FUZZ_CHECK((text.data[i] >= '0' && text.data[i] <= '9') || (i == 0 && text.data[i] == '-'));
      }
    }
    if (v.kind == ML_MARSHAL_TUPLE || v.kind == ML_MARSHAL_LIST || v.kind == ML_MARSHAL_DICT)
      st = ml_marshal_skip(&r, &v, &err);
  }
  if (st != ML_OK) {
    FUZZ_CHECK(st == ML_ERR_INPUT || st == ML_ERR_NOMEM);
    FUZZ_CHECK(st == ML_ERR_NOMEM || strstr(err.msg, "at byte") != NULL);
  }
  ml_buf_free(&text);
  ml_marshal_free(&r);
  return 0;
}
