/* ml_conv: text to DuckDB's physical value representations.
 *
 * Every function is pure (no global state, no allocation unless it takes an
 * ml_buf), takes text that need not be NUL-terminated, and returns false on
 * anything it cannot convert exactly, so the caller can NULL the value and
 * record a DESTINATION_TYPECAST_ERROR.  A function that takes an ml_buf also
 * returns false when that buffer could not grow; its oom flag then tells the
 * caller to report out of memory rather than blame the value.  What each
 * function accepts is listed at the function; dates and times follow ISO 8601
 * / RFC 3339 plus the lenient spellings sources really send (documented in
 * docs/types.md). */
#ifndef ML_CONV_H
#define ML_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/ml_buf.h"

/* Date: days since 1970-01-01 (DuckDB DATE).  Accepts YYYY-MM-DD, and also
 * one-digit month/day (2021-1-1), years 0001..9999 (and a leading '-' or '+'
 * with up to 6 digits for extended years), and surrounding ASCII spaces.
 * Rejects invalid calendar dates (2021-02-30), and a date followed by a time. */
bool ml_conv_date(const char *s, size_t n, int32_t *days);

/* Timestamp: microseconds since 1970-01-01T00:00:00 UTC.
 * Accepts DATE[(T|t|' ')HH:MM[:SS[.fraction]]][offset] where the date follows
 * ml_conv_date, fraction has 1..9 digits (rounded to microseconds, half up),
 * offset is Z, z, +HH, +HHMM, +HH:MM (or '-'), optionally preceded by one space
 * (also the words "UTC"/"GMT"). A date alone is midnight.
 * *has_offset says whether an offset was present; without one the time is
 * taken as UTC (for TIMESTAMPTZ) or as the local wall time (TIMESTAMP), which
 * is the same number.  For TIMESTAMP (without time zone) the caller ignores
 * the offset: pass wall_clock=true to get the local wall time as written
 * instead of the UTC instant. */
bool ml_conv_timestamp(const char *s, size_t n, bool wall_clock, int64_t *micros, bool *has_offset);

/* Time of day: microseconds since midnight (DuckDB TIME), 0..86400000000.
 * Accepts HH:MM[:SS[.fraction]][offset]; *offset_seconds is the offset east of
 * UTC (0 when none) and *has_offset says whether one was written. */
bool ml_conv_time(const char *s, size_t n, int64_t *micros, int32_t *offset_seconds, bool *has_offset);

/* DuckDB TIMETZ packing of (micros, offset): the uint64 duckdb_time_tz.bits
 * value, as duckdb_create_time_tz computes it (without needing a connection). */
uint64_t ml_conv_timetz_bits(int64_t micros, int32_t offset_seconds);

/* Integer from a JSON number's text or a numeric string: optional sign, digits,
 * and also an exact-integer decimal/exponent form ("12.0", "1e3").  false if not
 * an integer or outside int64. */
bool ml_conv_int64(const char *s, size_t n, int64_t *out);

/* Double from decimal text (JSON number syntax, also leading '+', surrounding
 * spaces, and the words NaN, Infinity, -Infinity, inf).  Correctly rounded
 * (strtod).  false on anything else.  scratch is emptied and holds a copy of
 * text too long for the stack (numbers of 128 characters or more); false
 * with its oom flag set (!ml_buf_ok(scratch)) means that copy could not be
 * allocated, which says nothing about the text. */
bool ml_conv_double(const char *s, size_t n, double *out, ml_buf *scratch);

/* Boolean from "true"/"false" (any case), "1"/"0", "t"/"f", "yes"/"no". */
bool ml_conv_bool(const char *s, size_t n, bool *out);

/* DECIMAL(width, scale) from decimal text (optional sign, digits, '.', digits,
 * exponent): the unscaled value as a 128-bit integer (lo/hi as DuckDB's
 * hugeint: hi is signed).  Rounds half away from zero to `scale` digits; false
 * when the value needs more than `width` digits.  width 1..38, scale <= width. */
bool ml_conv_decimal(const char *s, size_t n, int width, int scale, uint64_t *lo, int64_t *hi);
/* Whether s is decimal text of any size (the syntax ml_conv_decimal reads). */
bool ml_conv_is_decimal(const char *s, size_t n);
/* The same without rounding: false also when a non-zero digit lies beyond
 * `scale` ("1.234" into DECIMAL(5,2)), so that no value changes without a
 * word (the connector SDK's DECIMAL columns). */
bool ml_conv_decimal_exact(const char *s, size_t n, int width, int scale, uint64_t *lo, int64_t *hi);

/* Base64 (standard or URL-safe alphabet, padding optional, ASCII whitespace
 * ignored) decoded and appended to out.  false (out unchanged in length) on
 * invalid characters or length, and when out cannot grow: then its oom flag
 * is set (!ml_buf_ok(out)), which says nothing about the text. */
bool ml_conv_base64_decode(const char *s, size_t n, ml_buf *out);
/* Standard base64 with padding, appended to out. */
void ml_conv_base64_encode(const void *data, size_t n, ml_buf *out);

/* Random UUIDs: a small non-cryptographic generator (xoshiro256**) seeded by
 * the caller (ml_uuid_gen_seed uses the clock, pid and getrandom when there).
 * No global state: each user keeps its own generator. */
typedef struct ml_uuid_gen {
  uint64_t s[4];
} ml_uuid_gen;
void ml_uuid_gen_seed(ml_uuid_gen *g);
void ml_uuid_gen_seed_fixed(ml_uuid_gen *g, uint64_t seed); /* deterministic, for tests */
/* Version 4 UUID as 16 big-endian bytes. */
void ml_uuid_v4(ml_uuid_gen *g, uint8_t out[16]);
/* The DuckDB UUID (hugeint) representation of 16 big-endian bytes: DuckDB
 * stores UUIDs as hugeint with the top bit flipped so that they sort bytewise. */
void ml_uuid_to_duckdb(const uint8_t bytes[16], uint64_t *lo, int64_t *hi);
/* 36-character text form plus NUL into out[37]. */
void ml_uuid_format(const uint8_t bytes[16], char out[37]);

/* Days from civil date (proleptic Gregorian) and back; valid for years
 * -290000..290000. */
int64_t ml_days_from_civil(int64_t y, unsigned m, unsigned d);
void ml_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
