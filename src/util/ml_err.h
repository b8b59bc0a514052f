/* ml_err: the error record every fallible mallard function fills.
 *
 * Convention (used by every module): a function that can fail returns
 * ML_OK (0) on success or a negative ml_status, and writes a message a user
 * can act on into the caller's ml_err.  The err pointer may be NULL when the
 * caller does not care.  Messages name what failed and where (file, line,
 * column, stream, column name) so that they can be printed as they are. */
#ifndef ML_ERR_H
#define ML_ERR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum ml_status {
  ML_OK = 0,
  ML_ERR_NOMEM = -1,    /* allocation failed */
  ML_ERR_INPUT = -2,    /* malformed input: JSON syntax, bad message, bad value */
  ML_ERR_CONFIG = -3,   /* invalid configuration or catalog */
  ML_ERR_IO = -4,       /* file system: open, read, write, rename */
  ML_ERR_DB = -5,       /* DuckDB reported an error */
  ML_ERR_LOCKED = -6,   /* database file is locked by another process */
  ML_ERR_LIMIT = -7,    /* a size limit was exceeded */
  ML_ERR_STATE = -8,    /* API misuse: call in the wrong state */
  ML_ERR_CONNECTOR = -9 /* a connector reported failure */
} ml_status;

/* line/column/offset are 0 when unknown; line and column are 1-based. */
typedef struct ml_err {
  ml_status code;
  size_t line;
  size_t column;
  size_t offset;
  char msg[1024];
} ml_err;

/* Sets code and a printf-formatted message (truncated to fit); returns code so
 * callers can write `return ml_err_set(err, ML_ERR_IO, "...")`. err may be NULL. */
ml_status ml_err_set(ml_err *err, ml_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ml_status ml_err_setv(ml_err *err, ml_status code, const char *fmt, va_list ap);

/* ml_err_set(err, ML_ERR_NOMEM, "out of memory"): the one wording of a
 * failed allocation where nothing more specific helps the user. */
ml_status ml_err_nomem(ml_err *err);

/* Puts `fmt...: ` in front of the existing message, to add context while an
 * error travels up ("stream 'users': column 'age': ..."). Keeps code/position. */
ml_status ml_err_prefix(ml_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets to ML_OK with an empty message. err may be NULL. */
void ml_err_clear(ml_err *err);

#endif
