#include "ml_proto.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "../json/ml_json.h"
#include "ml_catalog.h"

void ml_proto_init(ml_proto *p, FILE *out) {
  p->out = out;
  ml_buf_init(&p->line);
  p->failed = false;
}

void ml_proto_free(ml_proto *p) { ml_buf_free(&p->line); }

long long ml_proto_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ml_proto_emit(ml_proto *p, const char *json, size_t n) {
  if (p->failed) return;
  if (fwrite(json, 1, n, p->out) != n || fputc('\n', p->out) == EOF) p->failed = true;
}

static void emit_line(ml_proto *p) {
  if (!ml_buf_ok(&p->line)) {
    p->failed = true;
    return;
  }
  ml_proto_emit(p, p->line.data, p->line.len);
}

void ml_proto_log(ml_proto *p, const char *level, const char *fmt, ...) {
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ml_buf_reset(&p->line);
  ml_jw w;
  ml_jw_init(&w, &p->line);
  ml_jw_obj_begin(&w);
  ml_jw_key(&w, "type");
  ml_jw_str(&w, "LOG");
  ml_jw_key(&w, "log");
  ml_jw_obj_begin(&w);
  ml_jw_key(&w, "level");
  ml_jw_str(&w, level);
  ml_jw_key(&w, "message");
  ml_jw_str(&w, msg);
  ml_jw_obj_end(&w);
  ml_jw_obj_end(&w);
  emit_line(p);
  /* logs are few and a user watching a long load should see them at once */
  fflush(p->out);
}

void ml_proto_trace_error(ml_proto *p, const char *failure_type, const char *message, const char *internal) {
  ml_buf_reset(&p->line);
  ml_jw w;
  ml_jw_init(&w, &p->line);
  ml_jw_obj_begin(&w);
  ml_jw_key(&w, "type");
  ml_jw_str(&w, "TRACE");
  ml_jw_key(&w, "trace");
  ml_jw_obj_begin(&w);
  ml_jw_key(&w, "type");
  ml_jw_str(&w, "ERROR");
  ml_jw_key(&w, "emitted_at");
  ml_jw_int(&w, ml_proto_now_ms());
  ml_jw_key(&w, "error");
  ml_jw_obj_begin(&w);
  ml_jw_key(&w, "message");
  ml_jw_str(&w, message);
  if (internal) {
    ml_jw_key(&w, "internal_message");
    ml_jw_str(&w, internal);
  }
  ml_jw_key(&w, "failure_type");
  ml_jw_str(&w, failure_type);
  ml_jw_obj_end(&w);
  ml_jw_obj_end(&w);
  ml_jw_obj_end(&w);
  emit_line(p);
  fflush(p->out);
}

void ml_proto_connection_status(ml_proto *p, bool ok, const char *message) {
  ml_buf_reset(&p->line);
  ml_jw w;
  ml_jw_init(&w, &p->line);
  ml_jw_obj_begin(&w);
  ml_jw_key(&w, "type");
  ml_jw_str(&w, "CONNECTION_STATUS");
  ml_jw_key(&w, "connectionStatus");
  ml_jw_obj_begin(&w);
  ml_jw_key(&w, "status");
  ml_jw_str(&w, ok ? "SUCCEEDED" : "FAILED");
  if (message) {
    ml_jw_key(&w, "message");
    ml_jw_str(&w, message);
  }
  ml_jw_obj_end(&w);
  ml_jw_obj_end(&w);
  emit_line(p);
}

void ml_proto_spec(ml_proto *p) {
  ml_buf body = ML_BUF_INIT;
  ml_dest_spec_json(&body);
  ml_buf_reset(&p->line);
  ml_jw w;
  ml_jw_init(&w, &p->line);
  ml_jw_obj_begin(&w);
  ml_jw_key(&w, "type");
  ml_jw_str(&w, "SPEC");
  ml_jw_key(&w, "spec");
  ml_jw_raw(&w, body.data ? body.data : "{}", body.data ? body.len : 2);
  ml_jw_obj_end(&w);
  ml_buf_free(&body);
  emit_line(p);
}

ml_status ml_proto_flush(ml_proto *p, ml_err *err) {
  if (fflush(p->out) != 0) p->failed = true;
  if (p->failed) return ml_err_set(err, ML_ERR_IO, "cannot write to standard output: %s", strerror(errno));
  return ML_OK;
}

void ml_proto_meta_change(ml_buf *changes, const char *field, size_t len, const char *reason_tail) {
  if (changes->len) ml_buf_putc(changes, ',');
  ml_buf_puts(changes, "{\"field\":");
  ml_json_quote(changes, field, len);
  ml_buf_puts(changes, reason_tail);
}
