/* fuzz_conv: text to typed values (ml_conv_*).
 *
 * The first input byte picks the conversion; for DECIMAL the next two bytes
 * give width (1..38) and scale (0..width); the rest is the text.  Whatever
 * the text, each function returns (no crash, no read outside s[0..n)); when it
 * succeeds the result is in range and survives a round trip:
 *   date       days -> civil date -> days; re-reading YYYY-MM-DD gives the same
 *              days; a date also reads as a timestamp at midnight;
 *   timestamp  without an offset, wall_clock does not matter; re-reading the
 *              UTC instant written as YYYY-MM-DDTHH:MM:SS.ffffffZ is the same;
 *   time       0..24h, offset bounded;
 *   int64      re-reading its decimal text;
 *   double     re-reading %.17g gives the same bits (finite values);
 *   decimal    |unscaled| < 10^width and re-reading its text gives it back;
 *   base64     failure leaves the buffer as it was; decode(encode(x)) == x for
 *              the decoded bytes and for the raw input. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/ml_conv.h"

#include "fuzz_check.h"

#define DAY_US INT64_C(86400000000)

/* A private copy of the text, so that reading past n is caught by ASan even
 * when the caller's buffer continues. */
static char *dup_exact(const uint8_t *p, size_t n) {
  char *s = malloc(n ? n : 1);
  if (s && n) memcpy(s, p, n);
  return s;
}

static void check_date(const char *s, size_t n) {
  int32_t days;
  if (!ml_conv_date(s, n, &days)) return;
  int64_t y;
  unsigned m, d;
  ml_civil_from_days(days, &y, &m, &d);
  FUZZ_CHECK(m >= 1 && m <= 12 && d >= 1 && d <= 31);
  FUZZ_CHECK(ml_days_from_civil(y, m, d) == days);
  if (y >= 1 && y <= 9999) {
    char txt[32];
    int len = snprintf(txt, sizeof txt, "%04" PRId64 "-%02u-%02u", y, m, d);
    int32_t again;
    FUZZ_CHECK(ml_conv_date(txt, (size_t)len, &again) && again == days);
  }
  int64_t us;
  bool has_offset;
  FUZZ_CHECK(ml_conv_timestamp(s, n, false, &us, &has_offset));
  FUZZ_CHECK(us == (int64_t)days * DAY_US && !has_offset);
}

static void check_timestamp(const char *s, size_t n) {
  int64_t utc, wall;
  bool off1, off2;
  bool ok1 = ml_conv_timestamp(s, n, false, &utc, &off1);
  bool ok2 = ml_conv_timestamp(s, n, true, &wall, &off2);
  FUZZ_CHECK(ok1 == ok2);
  if (!ok1) return;
  FUZZ_CHECK(off1 == off2);
  if (!off1) FUZZ_CHECK(utc == wall);
  int64_t days = utc / DAY_US, rem = utc % DAY_US;
  if (rem < 0) {
    rem += DAY_US;
    days--;
  }
  int64_t y;
  unsigned m, d;
  ml_civil_from_days(days, &y, &m, &d);
  if (y < 1 || y > 9999) return;
  char txt[64];
  int len = snprintf(txt, sizeof txt, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d.%06dZ", y, m, d,
                     (int)(rem / INT64_C(3600000000)), (int)(rem / 60000000 % 60), (int)(rem / 1000000 % 60),
                     (int)(rem % 1000000));
  int64_t again;
  bool off3;
  FUZZ_CHECK(ml_conv_timestamp(txt, (size_t)len, false, &again, &off3));
  FUZZ_CHECK(again == utc && off3);
}

static void check_time(const char *s, size_t n) {
  int64_t us;
  int32_t off;
  bool has_offset;
  if (!ml_conv_time(s, n, &us, &off, &has_offset)) return;
  FUZZ_CHECK(us >= 0 && us <= DAY_US);
  FUZZ_CHECK(off > -100 * 3600 && off < 100 * 3600);
  if (!has_offset) FUZZ_CHECK(off == 0);
  (void)ml_conv_timetz_bits(us, off);
}

static void check_int64(const char *s, size_t n) {
  int64_t v;
  if (!ml_conv_int64(s, n, &v)) return;
  char txt[32];
  int len = snprintf(txt, sizeof txt, "%" PRId64, v);
  int64_t again;
  FUZZ_CHECK(ml_conv_int64(txt, (size_t)len, &again) && again == v);
}

static void check_double(const char *s, size_t n) {
  double v;
  ml_buf scratch = ML_BUF_INIT;
  bool ok = ml_conv_double(s, n, &v, &scratch);
  if (ok && isfinite(v)) {
    char txt[64];
    int len = snprintf(txt, sizeof txt, "%.17g", v);
    double again;
    FUZZ_CHECK(ml_conv_double(txt, (size_t)len, &again, &scratch));
    FUZZ_CHECK(memcmp(&again, &v, sizeof v) == 0);
  }
  ml_buf_free(&scratch);
}

static void check_decimal(const char *s, size_t n, int width, int scale) {
  uint64_t lo;
  int64_t hi;
  if (!ml_conv_decimal(s, n, width, scale, &lo, &hi)) return;
  __int128 v = (__int128)(((unsigned __int128)(uint64_t)hi << 64) | lo);
  unsigned __int128 mag = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
  unsigned __int128 limit = 1;
  for (int i = 0; i < width; i++) limit *= 10;
  FUZZ_CHECK(mag < limit);
  /* its text: digits with the point `scale` from the right */
  char digits[48];
  int nd = 0;
  do {
    digits[nd++] = (char)('0' + (int)(mag % 10));
    mag /= 10;
  } while (mag);
  while (nd <= scale) digits[nd++] = '0';
  char txt[64];
  size_t len = 0;
  if (v < 0) txt[len++] = '-';
  for (int i = nd - 1; i >= 0; i--) {
    txt[len++] = digits[i];
    if (i == scale && scale > 0) txt[len++] = '.';
  }
  uint64_t lo2;
  int64_t hi2;
  FUZZ_CHECK(ml_conv_decimal(txt, len, width, scale, &lo2, &hi2));
  FUZZ_CHECK(lo2 == lo && hi2 == hi);
}

static void check_base64(const char *s, size_t n) {
  ml_buf out = ML_BUF_INIT, enc = ML_BUF_INIT, dec = ML_BUF_INIT;
  ml_buf_append(&out, "XY", 2);
  bool ok = ml_conv_base64_decode(s, n, &out);
  if (!ml_buf_ok(&out)) goto done;
  if (!ok) {
    FUZZ_CHECK(out.len == 2 && memcmp(out.data, "XY", 2) == 0);
  } else {
    ml_conv_base64_encode(out.data + 2, out.len - 2, &enc);
    if (!ml_buf_ok(&enc)) goto done;
    FUZZ_CHECK(enc.len == (out.len - 2 + 2) / 3 * 4);
    FUZZ_CHECK(ml_conv_base64_decode(enc.data, enc.len, &dec));
    FUZZ_CHECK(dec.len == out.len - 2 && (dec.len == 0 || memcmp(dec.data, out.data + 2, dec.len) == 0));
  }
  /* any bytes survive encode -> decode */
  ml_buf_reset(&enc);
  ml_buf_reset(&dec);
  ml_conv_base64_encode(s, n, &enc);
  if (!ml_buf_ok(&enc)) goto done;
  FUZZ_CHECK(enc.len == (n + 2) / 3 * 4);
  FUZZ_CHECK(ml_conv_base64_decode(enc.data, enc.len, &dec));
  FUZZ_CHECK(dec.len == n && (n == 0 || memcmp(dec.data, s, n) == 0));
done:
  ml_buf_free(&out);
  ml_buf_free(&enc);
  ml_buf_free(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned op = data[0] % 8;
  size_t skip = op == 5 ? 3 : 1;
  if (size < skip) return 0;
  int width = 0, scale = 0;
  if (op == 5) {
    width = 1 + data[1] % 38;
    scale = data[2] % (width + 1);
  }
  size_t n = size - skip;
  char *s = dup_exact(data + skip, n);
  if (!s) return 0;
  switch (op) {
  case 0: check_date(s, n); break;
  case 1: check_timestamp(s, n); break;
  case 2: check_time(s, n); break;
  case 3: check_int64(s, n); break;
  case 4: check_double(s, n); break;
  case 5: check_decimal(s, n, width, scale); break;
  case 6: check_base64(s, n); break;
  default: {
    bool b;
    (void)ml_conv_bool(s, n, &b);
    break;
  }
  }
  free(s);
  return 0;
}
