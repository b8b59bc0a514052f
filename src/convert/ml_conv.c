/* ml_conv: text to DuckDB's physical value representations.
 *
 * These functions run once per value on the load path, so they are written as
 * small hand-rolled scanners over (pointer, length): no sscanf, no locale, no
 * allocation (except in the caller's ml_buf: ml_conv_double's scratch for very
 * long numbers, and the base64 functions' output), no global mutable state.
 *
 * Accepted spellings (the contract documented in docs/types.md):
 *
 *  - Surrounding ASCII whitespace (space, tab, CR, LF) is ignored by every
 *    parser.  Anything else left over after the value is an error.
 *  - Date: YYYY-M[M]-D[D].  Without a sign the year has exactly 4 digits and is
 *    0001..9999 (0000 is rejected: it is almost always a "zero date"
 *    placeholder, not 1 BC).  With a '+' or '-' sign the year has 4..6 digits,
 *    uses astronomical numbering like DuckDB (+0000 = 1 BC, -0001 = 2 BC), and
 *    must be within +-290000 so that every timestamp fits in int64 micros.
 *    Month and day take 1 or 2 digits and must form a real calendar date.
 *  - Time of day: HH:MM[:SS[.fraction]] with exactly two digits for hours,
 *    minutes and seconds; hours 00..23, minutes and seconds 00..59 (no leap
 *    second 60, and "24:00:00" is rejected: it is rare and ambiguous between
 *    "end of this day" and "start of the next").  The fraction follows a '.'
 *    and has 1..9 digits; it is rounded to microseconds half up, and the
 *    rounding may carry into the next second, minute, hour or day.
 *  - Timestamp: DATE, or DATE followed by 'T', 't' or one space and a time of
 *    day, then an optional offset.  An offset after a bare date is rejected.
 *  - Offset: optionally one space, then Z, z, UTC or GMT (any case), or a sign
 *    and HH, HHMM or HH:MM with hours 00..23 and minutes 00..59; east of UTC
 *    is positive.  ml_conv_time additionally rejects offsets beyond
 *    +-15:59:59, which DuckDB's TIMETZ cannot store.
 *  - Numbers (int64, double, decimal): optional '+' or '-', digits, optional
 *    '.' and digits (at least one digit in total; "1." and ".5" are accepted),
 *    optional exponent e/E with optional sign and at least one digit.  Hex,
 *    '_' separators and thousands separators are rejected. */
#include "ml_conv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<sys/random.h>)
#include <sys/random.h>
#define ML_HAVE_GETRANDOM 1
#endif
#endif

#define MICROS_PER_SEC INT64_C(1000000)
#define MICROS_PER_DAY INT64_C(86400000000)

/* Years beyond this would overflow int64 microseconds (about +-292277 years). */
#define MAX_ABS_YEAR 290000

/* DuckDB's TIMETZ stores the offset as (MAX - offset) in 24 bits, with
 * MAX = 15:59:59 (dtime_tz_t::MAX_OFFSET).  Verified against
 * duckdb_create_time_tz of DuckDB 1.4.4. */
#define TIMETZ_MAX_OFFSET 57599

/* ---- small scanning helpers ------------------------------------------------ */

static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

static inline bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* ASCII-only lower-casing: tolower() depends on the locale. */
static inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static void trim(const char **p, const char **end) {
  while (*p < *end && is_ws(**p)) (*p)++;
  while (*end > *p && is_ws((*end)[-1])) (*end)--;
}

/* Case-insensitive comparison of [p, end) with a lowercase ASCII word. */
static bool word_eq(const char *p, const char *end, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(end - p) != n) return false;
  for (size_t i = 0; i < n; i++)
    if (lower(p[i]) != word[i]) return false;
  return true;
}

/* Reads between min and max digits at *p; false if fewer than min.  Stops at
 * max digits so that the caller sees a following digit as junk. */
static bool read_digits(const char **p, const char *end, int min, int max, int32_t *out) {
  int32_t v = 0;
  int k = 0;
  const char *q = *p;
  while (k < max && q < end && is_digit(*q)) {
    v = v * 10 + (*q - '0');
    q++;
    k++;
  }
  if (k < min) return false;
  *p = q;
  *out = v;
  return true;
}

/* ---- civil calendar -------------------------------------------------------- */

/* The calendar is shifted to start on March 1st so that the leap day is the
 * last day of the (shifted) year; then a 400-year era has a fixed length of
 * 146097 days and day-of-year to month is a linear formula (the month lengths
 * from March repeat 31,30,31,30,31 with period 153 days per 5 months). */
int64_t ml_days_from_civil(int64_t y, unsigned m, unsigned d) {
  if (m <= 2) y -= 1;                                    /* Jan/Feb belong to the previous shifted year */
  int64_t era = (y >= 0 ? y : y - 399) / 400;            /* floor division */
  int64_t yoe = y - era * 400;                           /* 0..399 */
  unsigned mp = m > 2 ? m - 3 : m + 9;                   /* March = 0 .. February = 11 */
  int64_t doy = (153 * (int64_t)mp + 2) / 5 + (int64_t)d - 1; /* 0..365 */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;   /* 0..146096 */
  return era * 146097 + doe - 719468;                    /* 719468 = days from 0000-03-01 to 1970-01-01 */
}

void ml_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d) {
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097; /* 0..146096 */
  /* Years of era: remove the leap days seen so far (one every 1460 days, minus
   * one per 36524, plus one at the very end of the era) before dividing. */
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* 0..365 */
  int64_t mp = (5 * doy + 2) / 153;                                     /* 0..11 */
  *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m) {
  static const unsigned char len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return (m == 2 && is_leap(y)) ? 29 : len[m - 1];
}

/* ---- date / time grammar --------------------------------------------------- */

/* Parses the date part at *p, leaving *p after it. */
static bool parse_date(const char **p, const char *end, int64_t *days) {
  const char *q = *p;
  int64_t year;
  int32_t v;
  if (q < end && (*q == '+' || *q == '-')) {
    bool neg = *q == '-';
    q++;
    if (!read_digits(&q, end, 4, 6, &v) || v > MAX_ABS_YEAR) return false;
    year = neg ? -(int64_t)v : v;
  } else {
    if (!read_digits(&q, end, 4, 4, &v) || v == 0) return false;
    year = v;
  }
  int32_t month, day;
  if (q >= end || *q != '-') return false;
  q++;
  if (!read_digits(&q, end, 1, 2, &month) || month < 1 || month > 12) return false;
  if (q >= end || *q != '-') return false;
  q++;
  if (!read_digits(&q, end, 1, 2, &day) || day < 1 || day > days_in_month(year, month)) return false;
  /* A third digit would be junk; read_digits stopped at 2, the caller's
   * end/separator check catches it. */
  *days = ml_days_from_civil(year, (unsigned)month, (unsigned)day);
  *p = q;
  return true;
}

/* HH:MM[:SS[.fraction]] -> micros since midnight, 0..MICROS_PER_DAY (the upper
 * bound only through rounding of the fraction). */
static bool parse_tod(const char **p, const char *end, int64_t *micros) {
  const char *q = *p;
  int32_t hh, mm, ss = 0;
  if (!read_digits(&q, end, 2, 2, &hh) || hh > 23) return false;
  if (q >= end || *q != ':') return false;
  q++;
  if (!read_digits(&q, end, 2, 2, &mm) || mm > 59) return false;
  int64_t frac = 0; /* microseconds, after rounding (may be 1000000) */
  if (q < end && *q == ':') {
    q++;
    if (!read_digits(&q, end, 2, 2, &ss) || ss > 59) return false;
    if (q < end && *q == '.') {
      q++;
      int nd = 0;
      int round_digit = 0;
      while (q < end && is_digit(*q)) {
        if (nd < 6)
          frac = frac * 10 + (*q - '0');
        else if (nd == 6)
          round_digit = *q - '0';
        nd++;
        q++;
      }
      if (nd < 1 || nd > 9) return false;
      for (int i = nd; i < 6; i++) frac *= 10;
      /* Half up: only the 7th digit decides, the 8th and 9th can only make
       * the remainder larger, never cross the half on their own. */
      if (round_digit >= 5) frac++;
    }
  }
  *micros = ((int64_t)hh * 3600 + mm * 60 + ss) * MICROS_PER_SEC + frac;
  *p = q;
  return true;
}

/* [' '](Z|z|UTC|GMT|(+|-)HH[[:]MM]) -> seconds east of UTC.  Must consume the
 * rest of the text (the caller trimmed it), so it is called only when
 * something follows the time. */
static bool parse_offset(const char *q, const char *end, int32_t *offset) {
  if (q < end && *q == ' ') q++;
  if (q >= end) return false;
  if (*q == 'Z' || *q == 'z') {
    if (q + 1 != end) return false;
    *offset = 0;
    return true;
  }
  if (word_eq(q, end, "utc") || word_eq(q, end, "gmt")) {
    *offset = 0;
    return true;
  }
  if (*q != '+' && *q != '-') return false;
  bool neg = *q == '-';
  q++;
  int32_t hh, mm = 0;
  if (!read_digits(&q, end, 2, 2, &hh) || hh > 23) return false;
  if (q < end) {
    if (*q == ':') q++;
    if (!read_digits(&q, end, 2, 2, &mm) || mm > 59) return false;
  }
  if (q != end) return false;
  int32_t secs = hh * 3600 + mm * 60;
  *offset = neg ? -secs : secs;
  return true;
}

bool ml_conv_date(const char *s, size_t n, int32_t *days) {
  const char *p = s, *end = s + n;
  trim(&p, &end);
  int64_t d;
  if (!parse_date(&p, end, &d) || p != end) return false;
  *days = (int32_t)d; /* |d| < 106 million: fits */
  return true;
}

bool ml_conv_timestamp(const char *s, size_t n, bool wall_clock, int64_t *micros, bool *has_offset) {
  const char *p = s, *end = s + n;
  trim(&p, &end);
  int64_t days;
  if (!parse_date(&p, end, &days)) return false;
  int64_t tod = 0;
  int32_t offset = 0;
  bool off = false;
  if (p != end) {
    if (*p != 'T' && *p != 't' && *p != ' ') return false;
    p++;
    if (!parse_tod(&p, end, &tod)) return false;
    if (p != end) {
      if (!parse_offset(p, end, &offset)) return false;
      off = true;
    }
  }
  int64_t v = days * MICROS_PER_DAY + tod;
  if (!wall_clock) v -= (int64_t)offset * MICROS_PER_SEC;
  *micros = v;
  if (has_offset) *has_offset = off;
  return true;
}

bool ml_conv_time(const char *s, size_t n, int64_t *micros, int32_t *offset_seconds, bool *has_offset) {
  const char *p = s, *end = s + n;
  trim(&p, &end);
  int64_t tod;
  if (!parse_tod(&p, end, &tod)) return false;
  int32_t offset = 0;
  bool off = false;
  if (p != end) {
    if (!parse_offset(p, end, &offset) || offset > TIMETZ_MAX_OFFSET || offset < -TIMETZ_MAX_OFFSET) return false;
    off = true;
  }
  *micros = tod;
  if (offset_seconds) *offset_seconds = offset;
  if (has_offset) *has_offset = off;
  return true;
}

uint64_t ml_conv_timetz_bits(int64_t micros, int32_t offset_seconds) {
  /* Upper 40 bits: micros since midnight; lower 24 bits: MAX_OFFSET - offset,
   * which makes the encoded value sort by UTC instant for equal local times. */
  uint64_t enc = (uint64_t)(int64_t)(TIMETZ_MAX_OFFSET - offset_seconds) & 0xFFFFFFu;
  return ((uint64_t)micros << 24) | enc;
}

/* ---- numbers --------------------------------------------------------------- */

/* A decimal number split into its parts, without interpreting it: the value
 * is (-1)^neg * D * 10^exp10 where D is the digit string int ++ frac and
 * exp10 = exponent - nfrac. */
typedef struct num_text {
  bool neg;
  const char *ip; /* integer digits */
  size_t ni;
  const char *fp; /* fraction digits */
  size_t nf;
  int64_t exp10;
} num_text;

/* Exponents are saturated here: any larger one already overflows every type
 * (or makes a non-zero value round to 0), and saturating keeps the arithmetic
 * below from overflowing on "1e99999999999999999999". */
#define EXP_SATURATE INT64_C(1000000000000000)

static bool scan_number(const char *p, const char *end, num_text *t) {
  t->neg = false;
  if (p < end && (*p == '+' || *p == '-')) {
    t->neg = *p == '-';
    p++;
  }
  t->ip = p;
  while (p < end && is_digit(*p)) p++;
  t->ni = (size_t)(p - t->ip);
  t->fp = p;
  t->nf = 0;
  if (p < end && *p == '.') {
    p++;
    t->fp = p;
    while (p < end && is_digit(*p)) p++;
    t->nf = (size_t)(p - t->fp);
  }
  if (t->ni + t->nf == 0) return false;
  int64_t e = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    bool eneg = false;
    if (p < end && (*p == '+' || *p == '-')) {
      eneg = *p == '-';
      p++;
    }
    if (p >= end || !is_digit(*p)) return false;
    while (p < end && is_digit(*p)) {
      if (e < EXP_SATURATE) e = e * 10 + (*p - '0');
      p++;
    }
    if (eneg) e = -e;
  }
  if (p != end) return false;
  t->exp10 = e - (int64_t)t->nf;
  return true;
}

/* i-th digit of D (0 = most significant). */
static inline int num_digit(const num_text *t, size_t i) {
  return (i < t->ni ? t->ip[i] : t->fp[i - t->ni]) - '0';
}

/* Index of the first non-zero digit of D, or ni+nf when D is zero. */
static size_t num_first_nonzero(const num_text *t) {
  size_t nd = t->ni + t->nf;
  size_t i = 0;
  while (i < nd && num_digit(t, i) == 0) i++;
  return i;
}

/* scan_number on s[0..n) without its surrounding white space. */
static bool scan_text(const char *s, size_t n, num_text *t) {
  const char *p = s, *end = s + n;
  trim(&p, &end);
  return scan_number(p, end, t);
}

bool ml_conv_int64(const char *s, size_t n, int64_t *out) {
  num_text t;
  if (!scan_text(s, n, &t)) return false;
  size_t nd = t.ni + t.nf;
  size_t f = num_first_nonzero(&t);
  if (f == nd) {
    *out = 0;
    return true;
  }
  size_t sig = nd - f; /* significant digits, >= 1 */
  size_t keep = nd;    /* digits of D that form the integer */
  int64_t zeros = 0;   /* trailing zeros appended by a positive exponent */
  if (t.exp10 < 0) {
    /* The last -exp10 digits are the fractional part: they must all be 0. */
    if ((uint64_t)(-t.exp10) >= sig) return false; /* a non-zero digit is fractional */
    keep = nd - (size_t)(-t.exp10);
    for (size_t i = keep; i < nd; i++)
      if (num_digit(&t, i) != 0) return false;
  } else {
    if (t.exp10 > 19) return false; /* >= 10^19 > int64 */
    zeros = t.exp10;
  }
  uint64_t limit = t.neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t v = 0;
  for (size_t i = f; i < keep; i++) {
    unsigned dgt = (unsigned)num_digit(&t, i);
    if (v > (limit - dgt) / 10) return false;
    v = v * 10 + dgt;
  }
  for (int64_t i = 0; i < zeros; i++) {
    if (v > limit / 10) return false;
    v *= 10;
  }
  /* Two's complement negation done in unsigned arithmetic: -(2^63) is fine. */
  *out = t.neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

bool ml_conv_double(const char *s, size_t n, double *out, ml_buf *scratch) {
  /* emptied first, so that its oom flag after a false is this call's */
  ml_buf_reset(scratch);
  const char *p = s, *end = s + n;
  trim(&p, &end);
  /* The words first: strtod would accept more spellings ("nan(123)",
   * "infinit"...) than we want, so they are matched here and strtod only ever
   * sees text that scan_number validated. */
  const char *w = p;
  bool neg = false;
  if (w < end && (*w == '+' || *w == '-')) {
    neg = *w == '-';
    w++;
  }
  if (word_eq(w, end, "nan")) {
    *out = neg ? -NAN : NAN;
    return true;
  }
  if (word_eq(w, end, "inf") || word_eq(w, end, "infinity")) {
    *out = neg ? -INFINITY : INFINITY;
    return true;
  }
  num_text t;
  if (!scan_number(p, end, &t)) return false;
  /* strtod needs a NUL-terminated string.  It reads the decimal point from
   * LC_NUMERIC; mallard never calls setlocale, so that is the "C" locale. */
  size_t len = (size_t)(end - p);
  char stackbuf[128];
  char *buf = stackbuf;
  if (len < sizeof stackbuf) {
    memcpy(buf, p, len);
    buf[len] = '\0';
  } else {
    /* a failed allocation leaves scratch's oom flag set: the caller tells
     * "out of memory" from a value that is not a number by it */
    ml_buf_append(scratch, p, len);
    if (!ml_buf_ok(scratch)) return false;
    buf = scratch->data;
  }
  char *stop;
  errno = 0;
  double v = strtod(buf, &stop);
  bool ok = stop == buf + len;
  /* Overflow to infinity is rejected (the text did not say infinity);
   * underflow to a subnormal or zero is the correctly rounded value. */
  if (!ok || isinf(v)) return false;
  *out = v;
  return true;
}

bool ml_conv_bool(const char *s, size_t n, bool *out) {
  const char *p = s, *end = s + n;
  trim(&p, &end);
  if (word_eq(p, end, "true") || word_eq(p, end, "t") || word_eq(p, end, "1") || word_eq(p, end, "yes")) {
    *out = true;
    return true;
  }
  if (word_eq(p, end, "false") || word_eq(p, end, "f") || word_eq(p, end, "0") || word_eq(p, end, "no")) {
    *out = false;
    return true;
  }
  return false;
}

/* __extension__: __int128 is a GCC/Clang extension; this keeps -Wpedantic quiet. */
__extension__ typedef unsigned __int128 u128;

/* 10^k for 0 <= k <= 38. */
static u128 pow10_u128(int k) {
  static const uint64_t p19[20] = {1ULL,
                                   10ULL,
                                   100ULL,
                                   1000ULL,
                                   10000ULL,
                                   100000ULL,
                                   1000000ULL,
                                   10000000ULL,
                                   100000000ULL,
                                   1000000000ULL,
                                   10000000000ULL,
                                   100000000000ULL,
                                   1000000000000ULL,
                                   10000000000000ULL,
                                   100000000000000ULL,
                                   1000000000000000ULL,
                                   10000000000000000ULL,
                                   100000000000000000ULL,
                                   1000000000000000000ULL,
                                   10000000000000000000ULL};
  if (k <= 19) return p19[k];
  return (u128)p19[k - 19] * p19[19];
}

static bool conv_decimal(const char *s, size_t n, int width, int scale, bool exact, uint64_t *lo, int64_t *hi) {
  if (width < 1 || width > 38 || scale < 0 || scale > width) return false;
  num_text t;
  if (!scan_text(s, n, &t)) return false;
  size_t nd = t.ni + t.nf;
  size_t f = num_first_nonzero(&t);
  /* The unscaled result is D * 10^k, rounded to an integer. */
  int64_t k = t.exp10 + scale;
  u128 max = pow10_u128(width); /* the result must be < 10^width */
  u128 v = 0;
  if (f < nd) {
    size_t keep = nd; /* digits of D kept before rounding */
    int round_digit = 0;
    if (k < 0) {
      uint64_t drop = (uint64_t)(-k);
      if (drop > nd) {
        keep = 0; /* even the first dropped digit is an implicit leading 0 */
      } else {
        keep = nd - (size_t)drop;
        round_digit = num_digit(&t, keep);
      }
      if (exact)
        for (size_t i = keep > f ? keep : f; i < nd; i++)
          if (num_digit(&t, i)) return false; /* a digit beyond the scale would be lost */
      k = 0;
    }
    /* Significant digits of the result before rounding; more than width means
     * the value is >= 10^width (rounding only ever increases the magnitude). */
    uint64_t sig = keep > f ? (uint64_t)(keep - f) : 0;
    if (sig > 0 && sig + (uint64_t)k > (uint64_t)width) return false;
    for (size_t i = f; i < keep; i++) v = v * 10 + (unsigned)num_digit(&t, i);
    if (sig > 0) v *= pow10_u128((int)k);
    /* Half away from zero: we are rounding the magnitude. */
    if (round_digit >= 5) v++;
    if (v >= max) return false;
  }
  u128 u = t.neg ? (u128)0 - v : v;
  *lo = (uint64_t)u;
  *hi = (int64_t)(uint64_t)(u >> 64); /* two's complement: gcc converts modulo 2^64 */
  return true;
}

bool ml_conv_is_decimal(const char *s, size_t n) {
  num_text t;
  return scan_text(s, n, &t);
}

bool ml_conv_decimal(const char *s, size_t n, int width, int scale, uint64_t *lo, int64_t *hi) {
  return conv_decimal(s, n, width, scale, false, lo, hi);
}

bool ml_conv_decimal_exact(const char *s, size_t n, int width, int scale, uint64_t *lo, int64_t *hi) {
  return conv_decimal(s, n, width, scale, true, lo, hi);
}

/* ---- base64 ---------------------------------------------------------------- */

/* Decoding table: sextet value + 1 for both alphabets (standard +/ and
 * URL-safe -_), B64_PAD for '=', B64_WS for ignored whitespace, and 0 (the
 * default of every entry not named) for invalid characters. */
enum { B64_BAD = 0, B64_PAD = 65, B64_WS = 66 };
static const unsigned char b64_dec[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
    ['-'] = 63, ['_'] = 64, ['='] = B64_PAD, [' '] = B64_WS, ['\t'] = B64_WS, ['\n'] = B64_WS,
    ['\r'] = B64_WS, ['\f'] = B64_WS, ['\v'] = B64_WS,
};

/* Leniencies, deliberately: the two alphabets may be mixed; padding may be
 * left out, but when present it must complete the last group to 4 characters;
 * the unused low bits of the last group (which a canonical encoder leaves 0)
 * are ignored rather than rejected, as most decoders do.  Rejected: any other
 * character, data after padding, and a last group of a single character
 * (6 bits cannot make a byte). */
bool ml_conv_base64_decode(const char *s, size_t n, ml_buf *out) {
  if (!ml_buf_reserve(out, n / 4 * 3 + 3)) return false;
  unsigned char *dst = (unsigned char *)out->data + out->len;
  size_t w = 0;
  uint32_t acc = 0;
  size_t q = 0;   /* data characters seen */
  size_t pad = 0; /* '=' seen */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = b64_dec[(unsigned char)s[i]];
    if (c == B64_WS) continue;
    if (c == B64_PAD) {
      pad++;
      continue;
    }
    if (c == B64_BAD || pad) goto fail;
    acc = (acc << 6) | (uint32_t)(c - 1);
    q++;
    if (q % 4 == 0) {
      dst[w++] = (unsigned char)(acc >> 16);
      dst[w++] = (unsigned char)(acc >> 8);
      dst[w++] = (unsigned char)acc;
      acc = 0;
    }
  }
  switch (q % 4) {
  case 0:
    if (pad) goto fail;
    break;
  case 1:
    goto fail;
  case 2: /* 12 bits: one byte */
    if (pad && pad != 2) goto fail;
    dst[w++] = (unsigned char)(acc >> 4);
    break;
  case 3: /* 18 bits: two bytes */
    if (pad && pad != 1) goto fail;
    dst[w++] = (unsigned char)(acc >> 10);
    dst[w++] = (unsigned char)(acc >> 2);
    break;
  }
  out->len += w;
  out->data[out->len] = '\0';
  return true;
fail:
  out->data[out->len] = '\0'; /* we may have written over the terminator */
  return false;
}

void ml_conv_base64_encode(const void *data, size_t n, ml_buf *out) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (n / 3 >= SIZE_MAX / 8) { /* the output size would overflow: let the buffer record oom */
    ml_buf_reserve(out, SIZE_MAX);
    return;
  }
  size_t olen = (n + 2) / 3 * 4;
  if (!ml_buf_reserve(out, olen)) return;
  const unsigned char *src = data;
  char *dst = out->data + out->len;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
    *dst++ = alphabet[v >> 18];
    *dst++ = alphabet[(v >> 12) & 63];
    *dst++ = alphabet[(v >> 6) & 63];
    *dst++ = alphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)src[i] << 16;
    *dst++ = alphabet[v >> 18];
    *dst++ = alphabet[(v >> 12) & 63];
    *dst++ = '=';
    *dst++ = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
    *dst++ = alphabet[v >> 18];
    *dst++ = alphabet[(v >> 12) & 63];
    *dst++ = alphabet[(v >> 6) & 63];
    *dst++ = '=';
  }
  out->len += olen;
  out->data[out->len] = '\0';
}

/* ---- UUID ------------------------------------------------------------------ */

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* splitmix64: turns any 64-bit input (even a poor one such as a counter or a
 * clock) into well-mixed output; used to expand seeds into xoshiro state, as
 * the xoshiro authors recommend. */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* xoshiro256** (Blackman & Vigna): fast, 256 bits of state, passes BigCrush. */
static uint64_t xoshiro_next(ml_uuid_gen *g) {
  uint64_t *s = g->s;
  uint64_t result = rotl64(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl64(s[3], 45);
  return result;
}

static void seed_from(ml_uuid_gen *g, const uint64_t in[4]) {
  uint64_t x = 0;
  for (int i = 0; i < 4; i++) {
    x ^= in[i];
    g->s[i] = splitmix64(&x);
  }
  /* The all-zero state is xoshiro's one fixed point. */
  if ((g->s[0] | g->s[1] | g->s[2] | g->s[3]) == 0) g->s[0] = 1;
}

void ml_uuid_gen_seed(ml_uuid_gen *g) {
  uint64_t in[4] = {0, 0, 0, 0};
#ifdef ML_HAVE_GETRANDOM
  /* Non-blocking: early in boot the pool may not be ready, and then the clock,
   * pid and address below still give distinct streams per process. */
  ssize_t got = getrandom(in, sizeof in, GRND_NONBLOCK);
  (void)got;
#endif
  struct timespec rt, mt;
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mt);
  in[0] ^= (uint64_t)rt.tv_sec * UINT64_C(1000000000) + (uint64_t)rt.tv_nsec;
  in[1] ^= (uint64_t)mt.tv_sec * UINT64_C(1000000000) + (uint64_t)mt.tv_nsec;
  in[2] ^= (uint64_t)getpid();
  in[3] ^= (uint64_t)(uintptr_t)g; /* differs per generator and, with ASLR, per run */
  seed_from(g, in);
}

void ml_uuid_gen_seed_fixed(ml_uuid_gen *g, uint64_t seed) {
  uint64_t in[4] = {seed, 0, 0, 0};
  seed_from(g, in);
}

static void put_be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

static uint64_t get_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

void ml_uuid_v4(ml_uuid_gen *g, uint8_t out[16]) {
  put_be64(out, xoshiro_next(g));
  put_be64(out + 8, xoshiro_next(g));
  out[6] = (uint8_t)((out[6] & 0x0F) | 0x40); /* version 4 */
  out[8] = (uint8_t)((out[8] & 0x3F) | 0x80); /* variant 10xx (RFC 4122) */
}

void ml_uuid_to_duckdb(const uint8_t bytes[16], uint64_t *lo, int64_t *hi) {
  /* DuckDB: upper = first 8 bytes big-endian with the sign bit flipped, so
   * that signed hugeint order equals bytewise order; lower = last 8 bytes. */
  *hi = (int64_t)(get_be64(bytes) ^ (UINT64_C(1) << 63));
  *lo = get_be64(bytes + 8);
}

void ml_uuid_format(const uint8_t bytes[16], char out[37]) {
  static const char hex[] = "0123456789abcdef";
  char *o = out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
    *o++ = hex[bytes[i] >> 4];
    *o++ = hex[bytes[i] & 15];
  }
  *o = '\0';
}
