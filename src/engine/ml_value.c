#include "ml_value.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../convert/ml_conv.h"

/* 32 hex digits, with the usual dashes or without any. */
static bool parse_uuid(const char *s, size_t n, uint8_t out[16]) {
  if (n != 36 && n != 32) return false;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
      if (s[i] != '-') return false;
      continue;
    }
    int c = (unsigned char)s[i], d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    if (k % 2 == 0) out[k / 2] = (uint8_t)(d << 4);
    else out[k / 2] |= (uint8_t)d;
    k++;
  }
  return k == 32;
}

ml_type ml_value_infer(const ml_json_val *v) {
  switch (v->type) {
  case ML_JSON_NULL: return ml_type_of(ML_TYPE_NULL);
  case ML_JSON_TRUE:
  case ML_JSON_FALSE: return ml_type_of(ML_TYPE_BOOLEAN);
  case ML_JSON_NUMBER: return ml_type_of((v->flags & ML_JSON_NUM_INT) ? ML_TYPE_BIGINT : ML_TYPE_DOUBLE);
  case ML_JSON_STRING: return ml_type_of(ML_TYPE_VARCHAR);
  default: return ml_type_of(ML_TYPE_JSON);
  }
}

/* A parsed container's source text is valid JSON already; when it is
 * compact it is also the text the writer would give, and copying it is far
 * cheaper than writing the value again (the common case for machine-made
 * JSON).  Escapes ("\u00e9", "\/") are written decoded, so that one value
 * always has one text: the SDK hashes records' values into _fivetran_id. */
static bool source_is_compact(const ml_json_val *v) { return v->src && ml_json_text_compact(v->src, v->src_len); }

void ml_value_json_text(const ml_json_val *v, ml_buf *out) {
  ml_buf_reset(out);
  ml_jw w;
  ml_jw_init(&w, out);
  ml_jw_val(&w, v);
}

void ml_value_json_compact(const ml_json_val *v, ml_buf *scratch, const char **text, size_t *len) {
  if ((v->type == ML_JSON_OBJECT || v->type == ML_JSON_ARRAY) && source_is_compact(v)) {
    *text = v->src;
    *len = v->src_len;
    return;
  }
  ml_value_json_text(v, scratch);
  *text = scratch->data ? scratch->data : "";
  *len = scratch->len;
}

/* v as compact JSON into column col; false, writing nothing, when scratch
 * ran out of memory (the text would be cut short). */
static bool put_json_text(ml_batch *b, size_t col, const ml_json_val *v, ml_buf *scratch) {
  const char *text;
  size_t len;
  ml_value_json_compact(v, scratch, &text, &len);
  if (!ml_buf_ok(scratch)) return false;
  ml_batch_put_str(b, col, text, len);
  return true;
}

/* Text of a scalar for a VARCHAR column; containers as compact JSON. */
static bool put_as_text(ml_batch *b, size_t col, const ml_json_val *v, ml_buf *scratch) {
  switch (v->type) {
  case ML_JSON_STRING: ml_batch_put_str(b, col, v->u.str, v->len); return true;
  case ML_JSON_NUMBER: ml_batch_put_str(b, col, v->u.str, v->len); return true;
  case ML_JSON_TRUE: ml_batch_put_str(b, col, "true", 4); return true;
  case ML_JSON_FALSE: ml_batch_put_str(b, col, "false", 5); return true;
  default: return put_json_text(b, col, v, scratch);
  }
}

/* v as a timestamp, when it is a string that holds one (naive: no zone, as
 * TIMESTAMP wants), in microseconds since the epoch. */
static bool str_timestamp(const ml_json_val *v, bool naive, int64_t *us) {
  bool off;
  return v->type == ML_JSON_STRING && ml_conv_timestamp(v->u.str, v->len, naive, us, &off);
}

bool ml_value_put(ml_batch *b, size_t col, ml_type type, const ml_value_opts *opts, const ml_json_val *v,
                  ml_buf *scratch) {
  /* a flag left from an earlier value would make a misfit look like out of memory */
  if (!ml_buf_ok(scratch)) ml_buf_reset(scratch);
  if (v->type == ML_JSON_NULL) {
    ml_batch_put_null(b, col);
    return true;
  }
  bool is_str = v->type == ML_JSON_STRING;
  bool is_num = v->type == ML_JSON_NUMBER;
  switch (type.id) {
  case ML_TYPE_VARCHAR: return put_as_text(b, col, v, scratch);
  case ML_TYPE_JSON:
    if (v->type == ML_JSON_OBJECT || v->type == ML_JSON_ARRAY || is_str) return put_json_text(b, col, v, scratch);
    ml_batch_put_str(b, col, v->src, v->src_len);
    return true;
  case ML_TYPE_BOOLEAN:
    if (v->type == ML_JSON_TRUE || v->type == ML_JSON_FALSE) {
      ml_batch_put_bool(b, col, v->type == ML_JSON_TRUE);
      return true;
    }
    if (is_str) {
      bool x;
      if (ml_conv_bool(v->u.str, v->len, &x)) {
        ml_batch_put_bool(b, col, x);
        return true;
      }
    }
    return false;
  case ML_TYPE_SMALLINT:
  case ML_TYPE_INTEGER:
  case ML_TYPE_BIGINT: {
    int64_t x;
    if (is_num && (v->flags & ML_JSON_NUM_INT)) x = v->i;
    else if (!(is_num || is_str) || !ml_conv_int64(v->u.str, v->len, &x)) return false;
    if (type.id == ML_TYPE_SMALLINT) {
      if (x < INT16_MIN || x > INT16_MAX) return false;
      ml_batch_put_i16(b, col, (int16_t)x);
    } else if (type.id == ML_TYPE_INTEGER) {
      if (x < INT32_MIN || x > INT32_MAX) return false;
      ml_batch_put_i32(b, col, (int32_t)x);
    } else {
      ml_batch_put_i64(b, col, x);
    }
    return true;
  }
  case ML_TYPE_FLOAT:
  case ML_TYPE_DOUBLE: {
    double x;
    if (is_num) {
      if (v->flags & ML_JSON_NUM_OVERFLOW) return false;
      x = v->d;
    } else if (!is_str || !ml_conv_double(v->u.str, v->len, &x, scratch)) {
      return false;
    }
    if (type.id == ML_TYPE_FLOAT) {
      if (isfinite(x) && isinf((float)x)) return false;
      ml_batch_put_f32(b, col, (float)x);
    } else {
      ml_batch_put_f64(b, col, x);
    }
    return true;
  }
  case ML_TYPE_DECIMAL: {
    uint64_t lo;
    int64_t hi;
    if (!(is_num || is_str) || !ml_conv_decimal_exact(v->u.str, v->len, type.width, type.scale, &lo, &hi)) return false;
    ml_batch_put_decimal(b, col, lo, hi);
    return true;
  }
  case ML_TYPE_DATE: {
    int32_t days;
    if (!is_str || !ml_conv_date(v->u.str, v->len, &days)) {
      /* a full timestamp in a DATE column keeps its date part */
      int64_t us;
      if (!str_timestamp(v, true, &us)) return false;
      days = (int32_t)(us >= 0 ? us / 86400000000LL : -((-us + 86400000000LL - 1) / 86400000000LL));
    }
    ml_batch_put_i32(b, col, days);
    return true;
  }
  case ML_TYPE_TIMESTAMP:
  case ML_TYPE_TIMESTAMPTZ: {
    int64_t us;
    if (!str_timestamp(v, type.id == ML_TYPE_TIMESTAMP, &us)) return false;
    ml_batch_put_i64(b, col, us);
    return true;
  }
  case ML_TYPE_TIME:
  case ML_TYPE_TIMETZ: {
    int64_t us;
    int32_t off;
    bool has_off;
    if (!is_str || !ml_conv_time(v->u.str, v->len, &us, &off, &has_off)) return false;
    if (type.id == ML_TYPE_TIME) ml_batch_put_i64(b, col, us);
    else ml_batch_put_u64(b, col, ml_conv_timetz_bits(us, off));
    return true;
  }
  case ML_TYPE_BLOB:
    if (!is_str) return false;
    if (opts && opts->base64) {
      ml_buf_reset(scratch);
      /* out of memory also returns false, with scratch's oom flag set for the caller */
      if (!ml_conv_base64_decode(v->u.str, v->len, scratch) || !ml_buf_ok(scratch)) return false;
      ml_batch_put_str(b, col, scratch->data ? scratch->data : "", scratch->len);
    } else {
      ml_batch_put_str(b, col, v->u.str, v->len);
    }
    return true;
  case ML_TYPE_UUID: {
    uint8_t bytes[16];
    if (!is_str || !parse_uuid(v->u.str, v->len, bytes)) return false;
    uint64_t lo;
    int64_t hi;
    ml_uuid_to_duckdb(bytes, &lo, &hi);
    ml_batch_put_i128(b, col, lo, hi);
    return true;
  }
  case ML_TYPE_NULL:
  case ML_TYPE_COUNT_:
    break;
  }
  return false;
}

bool ml_value_double_inexact(const ml_json_val *v) {
  /* any decimal of up to 15 significant digits survives a double (DBL_DIG) */
  if (v->type != ML_JSON_NUMBER || v->len <= 15 || (v->flags & ML_JSON_NUM_OVERFLOW)) return false;
  char digits[800];
  size_t n = 0;
  bool started = false;
  for (size_t i = 0; i < v->len; i++) {
    char c = v->u.str[i];
    if (c == 'e' || c == 'E') break;
    if (c < '0' || c > '9') continue;
    if (!started && c == '0') continue;
    started = true;
    if (n == sizeof digits) return true; /* far more digits than any double carries */
    digits[n++] = c;
  }
  while (n && digits[n - 1] == '0') n--;
  if (n <= 15) return false;
  /* the double's exact decimal expansion to as many digits: the same digits
   * exactly when the double holds the value */
  char printed[sizeof digits + 16];
  snprintf(printed, sizeof printed, "%.*e", (int)n - 1, v->d < 0 ? -v->d : v->d);
  size_t k = 0;
  for (const char *p = printed; *p && *p != 'e' && k <= n; p++)
    if (*p >= '0' && *p <= '9') {
      if (k == n || *p != digits[k]) return true;
      k++;
    }
  return k != n;
}


ml_value_fit ml_value_put_or_null(ml_batch *b, size_t col, ml_type type, const ml_value_opts *opts,
                                  const ml_json_val *v, ml_buf *scratch) {
  if (!ml_value_put(b, col, type, opts, v, scratch)) {
    ml_batch_put_null(b, col);
    return ML_VALUE_NULLED;
  }
  /* only numbers this long can carry more digits than a double keeps */
  if (type.id == ML_TYPE_DOUBLE && v->type == ML_JSON_NUMBER && v->len > 15 && ml_value_double_inexact(v))
    return ML_VALUE_TRUNCATED;
  return ML_VALUE_FITS;
}
