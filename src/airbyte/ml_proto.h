/* ml_proto: the messages mallard writes on stdout as an Airbyte destination.
 * Every line is one JSON AirbyteMessage; nothing else is ever printed there.
 *
 * The writer keeps the first output error (for example EPIPE when the platform
 * went away) in `failed`; callers check ml_proto_flush, which reports it. */
#ifndef ML_PROTO_H
#define ML_PROTO_H

#include <stdbool.h>
#include <stdio.h>

#include "../util/ml_buf.h"
#include "../util/ml_err.h"

typedef struct ml_proto {
  FILE *out;   /* borrowed */
  ml_buf line; /* scratch for one message */
  bool failed;
} ml_proto;

void ml_proto_init(ml_proto *p, FILE *out);
void ml_proto_free(ml_proto *p);

/* LOG message; level is one of FATAL ERROR WARN INFO DEBUG TRACE. */
void ml_proto_log(ml_proto *p, const char *level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* TRACE of type ERROR; failure_type is "config_error", "system_error" or
 * "transient_error". internal may be NULL. */
void ml_proto_trace_error(ml_proto *p, const char *failure_type, const char *message, const char *internal);
void ml_proto_connection_status(ml_proto *p, bool ok, const char *message);
void ml_proto_spec(ml_proto *p);
/* Writes one prepared message (valid JSON, no newline) followed by '\n'. */
void ml_proto_emit(ml_proto *p, const char *json, size_t n);
/* Flushes stdout; ML_ERR_IO if any write failed. */
ml_status ml_proto_flush(ml_proto *p, ml_err *err);

/* One entry of a record's _airbyte_meta.changes, appended to `changes` (a
 * comma first unless it is empty): {"field": field, then reason_tail, one of: */
#define ML_CHANGE_NULLED ",\"change\":\"NULLED\",\"reason\":\"DESTINATION_TYPECAST_ERROR\"}"
/* a number with more digits than a DOUBLE holds: the nearest double is kept */
#define ML_CHANGE_TRUNCATED ",\"change\":\"TRUNCATED\",\"reason\":\"DESTINATION_FIELD_SIZE_LIMITATION\"}"
void ml_proto_meta_change(ml_buf *changes, const char *field, size_t len, const char *reason_tail);

/* Milliseconds since the epoch, for emitted_at. */
long long ml_proto_now_ms(void);

#endif
