#include "ml_err.h"

#include <stdio.h>
#include <string.h>

ml_status ml_err_setv(ml_err *err, ml_status code, const char *fmt, va_list ap) {
  if (err) {
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  }
  return code;
}

ml_status ml_err_set(ml_err *err, ml_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ml_err_setv(err, code, fmt, ap);
  va_end(ap);
  return code;
}

ml_status ml_err_nomem(ml_err *err) { return ml_err_set(err, ML_ERR_NOMEM, "out of memory"); }

ml_status ml_err_prefix(ml_err *err, const char *fmt, ...) {
  if (!err) return ML_ERR_STATE;
  char head[sizeof err->msg];
  char old[sizeof err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  /* head + ": " + old, cut to fit: the context goes first because it says where */
  size_t hl = strnlen(head, sizeof head);
  if (hl > sizeof err->msg - 3) hl = sizeof err->msg - 3;
  memcpy(err->msg, head, hl);
  memcpy(err->msg + hl, ": ", 2);
  size_t room = sizeof err->msg - hl - 3;
  size_t ol = strnlen(old, room);
  memcpy(err->msg + hl + 2, old, ol);
  err->msg[hl + 2 + ol] = '\0';
  return err->code;
}

void ml_err_clear(ml_err *err) {
  if (!err) return;
  err->code = ML_OK;
  err->line = err->column = err->offset = 0;
  err->msg[0] = '\0';
}
