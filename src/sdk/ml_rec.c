#include "ml_rec.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "../convert/ml_conv.h"
#include "../engine/ml_value.h"
#include "../json/ml_json.h"
#include "../util/ml_array.h"
#include "../util/ml_hash.h"

/* ---- record lifecycle ------------------------------------------------------ */

mallard_record *mallard_record_new(void) { return calloc(1, sizeof(mallard_record)); }

void mallard_record_free(mallard_record *r) {
  if (!r) return;
  for (size_t i = 0; i < r->cap; i++) {
    free(r->f[i].name);
    free(r->f[i].text);
  }
  free(r->f);
  free(r->err);
  ml_buf_free(&r->get_buf);
  ml_json_doc_free(r->json);
  ml_buf_free(&r->json_out);
  free(r);
}

void mallard_record_clear(mallard_record *r) {
  if (!r) return;
  r->n = 0;
  free(r->err);
  r->err = NULL;
}

const char *mallard_record_error(const mallard_record *r) { return r ? r->err : NULL; }

/* Remembers the first error (later ones are usually consequences). */
static int rec_fail(mallard_record *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int rec_fail(mallard_record *r, int code, const char *fmt, ...) {
  if (r && !r->err) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->err = strdup(msg);
  }
  return code;
}

/* FNV-1a of a column name and its length, in one pass.  Every setter looks
 * its column up among the fields set so far; comparing hashes first keeps
 * that from being a strcmp per field (8% of the SDK path's connector thread
 * for 9 columns). */
static uint64_t name_hash(const char *name, size_t *len) {
  uint64_t h = ML_HASH_FNV_OFFSET;
  const unsigned char *p = (const unsigned char *)name;
  /* column names compare without letter case, as DuckDB's do (and the
   * engine's, ml_table.c): "Id" and "id" are one column */
  for (; *p; p++) h = (h ^ (unsigned char)tolower(*p)) * ML_HASH_FNV_PRIME;
  *len = (size_t)((const char *)p - name);
  return h;
}

static ml_rec_field *find(const mallard_record *r, const char *name, uint64_t h) {
  for (size_t i = 0; i < r->n; i++)
    if (r->f[i].name_hash == h && !strcasecmp(r->f[i].name, name)) return &r->f[i];
  return NULL;
}

const ml_rec_field *ml_rec_find(const mallard_record *r, const char *name) {
  size_t len;
  return find(r, name, name_hash(name, &len));
}

static bool grow(char **p, size_t *cap, size_t need) {
  if (need <= *cap) return true;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  char *q = realloc(*p, c);
  if (!q) return false;
  *p = q;
  *cap = c;
  return true;
}

/* The field for column (existing one replaced, or a new one), or NULL with
 * the record's error set. */
static ml_rec_field *field_for(mallard_record *r, const char *column) {
  if (!r) return NULL;
  if (!column || !*column) {
    rec_fail(r, MALLARD_ERR_ARG, "a column name is NULL or empty");
    return NULL;
  }
  size_t len;
  uint64_t h = name_hash(column, &len);
  ml_rec_field *found = find(r, column, h);
  if (found) return found;
  size_t old_cap = r->cap;
  if (!ml_array_reserve(&r->f, r->n + 1, &r->cap, sizeof *r->f, 8)) {
    rec_fail(r, MALLARD_ERR_NOMEM, "out of memory");
    return NULL;
  }
  memset(r->f + old_cap, 0, (r->cap - old_cap) * sizeof *r->f);
  ml_rec_field *f = &r->f[r->n];
  size_t nl = len + 1;
  if (!grow(&f->name, &f->name_cap, nl)) {
    rec_fail(r, MALLARD_ERR_NOMEM, "out of memory");
    return NULL;
  }
  memcpy(f->name, column, nl);
  f->name_hash = h;
  r->n++;
  return f;
}

/* What a setter returns when field_for gave NULL: out of memory unless the
 * record or the column name was missing (the connector's mistake). */
static int field_error(const mallard_record *r, const char *column) {
  return !r || !column || !*column ? MALLARD_ERR_ARG : MALLARD_ERR_NOMEM;
}

static int set_text(mallard_record *r, ml_rec_field *f, const void *p, size_t n) {
  if (!grow(&f->text, &f->text_cap, n + 1)) {
    f->kind = ML_REC_NULL;
    return rec_fail(r, MALLARD_ERR_NOMEM, "out of memory");
  }
  if (n) memcpy(f->text, p, n);
  f->text[n] = '\0';
  f->len = n;
  return MALLARD_OK;
}

int mallard_set_null(mallard_record *r, const char *column) {
  ml_rec_field *f = field_for(r, column);
  if (!f) return field_error(r, column);
  f->kind = ML_REC_NULL;
  f->len = 0;
  return MALLARD_OK;
}

int mallard_set_stringn(mallard_record *r, const char *column, const char *value, size_t len) {
  if (!value) return mallard_set_null(r, column);
  ml_rec_field *f = field_for(r, column);
  if (!f) return field_error(r, column);
  f->kind = ML_REC_STRING;
  return set_text(r, f, value, len);
}

int mallard_set_string(mallard_record *r, const char *column, const char *value) {
  return mallard_set_stringn(r, column, value, value ? strlen(value) : 0);
}

int mallard_set_long(mallard_record *r, const char *column, int64_t value) {
  ml_rec_field *f = field_for(r, column);
  if (!f) return field_error(r, column);
  f->kind = ML_REC_LONG;
  f->i = value;
  f->len = 0;
  return MALLARD_OK;
}

int mallard_set_double(mallard_record *r, const char *column, double value) {
  ml_rec_field *f = field_for(r, column);
  if (!f) return field_error(r, column);
  f->kind = ML_REC_DOUBLE;
  f->d = value;
  f->len = 0;
  return MALLARD_OK;
}

int mallard_set_bool(mallard_record *r, const char *column, int value) {
  ml_rec_field *f = field_for(r, column);
  if (!f) return field_error(r, column);
  f->kind = ML_REC_BOOL;
  f->i = value != 0;
  f->len = 0;
  return MALLARD_OK;
}

/* Shared by the parsed-text setters: validates with `ok`, keeps the text. */
static int set_parsed(mallard_record *r, const char *column, ml_rec_kind kind, const char *text, bool ok, int64_t i,
                      const char *what) {
  if (!text) return mallard_set_null(r, column);
  if (!ok) {
    if (r && column) mallard_unset(r, column);
    return rec_fail(r, MALLARD_ERR_ARG, "column '%s': \"%.100s\" is not a valid %s", column ? column : "?", text,
                    what);
  }
  ml_rec_field *f = field_for(r, column);
  if (!f) return field_error(r, column);
  f->kind = kind;
  f->i = i;
  return set_text(r, f, text, strlen(text));
}

int mallard_set_decimal(mallard_record *r, const char *column, const char *text) {
  /* the syntax only: the digits are kept as text, and checked against a
   * column's precision and scale when the value is put into one */
  bool ok = text && ml_conv_is_decimal(text, strlen(text));
  return set_parsed(r, column, ML_REC_DECIMAL, text, ok || !text, 0, "decimal number");
}

int mallard_set_date(mallard_record *r, const char *column, const char *text) {
  int32_t days = 0;
  bool ok = text && ml_conv_date(text, strlen(text), &days);
  return set_parsed(r, column, ML_REC_DATE, text, ok || !text, days, "date (YYYY-MM-DD)");
}

int mallard_set_time(mallard_record *r, const char *column, const char *text) {
  int64_t us = 0;
  int32_t off;
  bool has_off;
  bool ok = text && ml_conv_time(text, strlen(text), &us, &off, &has_off);
  return set_parsed(r, column, ML_REC_TIME, text, ok || !text, us, "time (HH:MM:SS)");
}

int mallard_set_naive_datetime(mallard_record *r, const char *column, const char *text) {
  int64_t us = 0;
  bool has_off;
  bool ok = text && ml_conv_timestamp(text, strlen(text), true, &us, &has_off);
  return set_parsed(r, column, ML_REC_NAIVE_DT, text, ok || !text, us, "datetime (YYYY-MM-DDTHH:MM:SS)");
}

int mallard_set_utc_datetime(mallard_record *r, const char *column, const char *text) {
  int64_t us = 0;
  bool has_off;
  bool ok = text && ml_conv_timestamp(text, strlen(text), false, &us, &has_off);
  return set_parsed(r, column, ML_REC_UTC_DT, text, ok || !text, us, "UTC datetime (YYYY-MM-DDTHH:MM:SSZ)");
}

int mallard_set_utc_micros(mallard_record *r, const char *column, int64_t micros) {
  ml_rec_field *f = field_for(r, column);
  if (!f) return field_error(r, column);
  f->kind = ML_REC_UTC_DT;
  f->i = micros;
  f->len = 0;
  return MALLARD_OK;
}

int mallard_set_binary(mallard_record *r, const char *column, const void *data, size_t len) {
  if (!data && len) return rec_fail(r, MALLARD_ERR_ARG, "column '%s': binary data is NULL", column ? column : "?");
  ml_rec_field *f = field_for(r, column);
  if (!f) return field_error(r, column);
  f->kind = ML_REC_BINARY;
  return set_text(r, f, data, len);
}

/* Parses json[0..len) with the record's reusable parser; NULL (with the
 * record failed for out of memory) when the parser cannot be created.  The
 * values stay valid until the next parse on r. */
static ml_json_doc *rec_json_doc(mallard_record *r) {
  if (!r->json && !(r->json = ml_json_doc_new())) rec_fail(r, MALLARD_ERR_NOMEM, "out of memory");
  return r->json;
}

/* Sets column to v as compact JSON. */
static int set_json_value(mallard_record *r, const char *column, const ml_json_val *v) {
  const char *text;
  size_t len;
  ml_value_json_compact(v, &r->json_out, &text, &len);
  if (!ml_buf_ok(&r->json_out)) return rec_fail(r, MALLARD_ERR_NOMEM, "out of memory");
  ml_rec_field *f = field_for(r, column);
  if (!f) return field_error(r, column);
  f->kind = ML_REC_JSON;
  return set_text(r, f, text, len);
}

int mallard_set_json(mallard_record *r, const char *column, const char *json) {
  if (!json) return mallard_set_null(r, column);
  if (!r) return MALLARD_ERR_ARG;
  ml_json_doc *doc = rec_json_doc(r);
  if (!doc) return MALLARD_ERR_NOMEM;
  const ml_json_val *v;
  ml_err err;
  if (ml_json_parse(doc, json, strlen(json), &v, &err) != ML_OK) {
    if (column) mallard_unset(r, column);
    ml_json_err_locate(&err);
    return rec_fail(r, MALLARD_ERR_ARG, "column '%s': invalid JSON: %s", column ? column : "?", err.msg);
  }
  return set_json_value(r, column, v);
}

int mallard_set_from_json(mallard_record *r, const char *json, size_t len) {
  if (!r) return MALLARD_ERR_ARG;
  if (!json) return rec_fail(r, MALLARD_ERR_ARG, "JSON text is NULL");
  ml_json_doc *doc = rec_json_doc(r);
  if (!doc) return MALLARD_ERR_NOMEM;
  const ml_json_val *v;
  ml_err err;
  int rc = MALLARD_OK;
  if (ml_json_parse(doc, json, len, &v, &err) != ML_OK) {
    ml_json_err_locate(&err);
    rc = rec_fail(r, MALLARD_ERR_ARG, "invalid JSON record: %s", err.msg);
  } else if (v->type != ML_JSON_OBJECT) {
    rc = rec_fail(r, MALLARD_ERR_ARG, "a JSON record must be an object");
  } else {
    for (size_t i = 0; rc == MALLARD_OK && i < v->len; i++) {
      const ml_json_val *k = ml_json_key(v, i), *m = ml_json_member(v, i);
      if (memchr(k->u.str, '\0', k->len)) {
        rc = rec_fail(r, MALLARD_ERR_ARG, "a JSON record key contains a NUL character");
        break;
      }
      const char *name = k->u.str;
      switch (m->type) {
      case ML_JSON_NULL: rc = mallard_set_null(r, name); break;
      case ML_JSON_TRUE:
      case ML_JSON_FALSE: rc = mallard_set_bool(r, name, m->type == ML_JSON_TRUE); break;
      case ML_JSON_STRING: rc = mallard_set_stringn(r, name, m->u.str, m->len); break;
      case ML_JSON_NUMBER:
        if (m->flags & ML_JSON_NUM_INT) rc = mallard_set_long(r, name, m->i);
        else {
          ml_rec_field *f = field_for(r, name);
          if (!f) rc = field_error(r, name);
          else {
            f->kind = ML_REC_DOUBLE;
            f->d = m->d;
            rc = set_text(r, f, m->src, m->src_len); /* exact digits for DECIMAL columns */
          }
        }
        break;
      default: rc = set_json_value(r, name, m);
      }
    }
  }
  return rc;
}

void mallard_unset(mallard_record *r, const char *column) {
  if (!r || !column) return;
  for (size_t i = 0; i < r->n; i++) {
    if (strcasecmp(r->f[i].name, column)) continue;
    /* swap with the last set field, keeping both buffers owned */
    ml_rec_field tmp = r->f[i];
    r->f[i] = r->f[r->n - 1];
    r->f[r->n - 1] = tmp;
    r->n--;
    return;
  }
}

int mallard_has(const mallard_record *r, const char *column) {
  return r && column && ml_rec_find(r, column) != NULL;
}

/* ---- text forms ------------------------------------------------------------- */

static void put_date_text(ml_buf *out, int64_t days) {
  int64_t y;
  unsigned m, d;
  ml_civil_from_days(days, &y, &m, &d);
  ml_buf_printf(out, "%04" PRId64 "-%02u-%02u", y, m, d);
}

static void put_time_text(ml_buf *out, int64_t us) {
  int64_t s = us / 1000000, frac = us % 1000000;
  ml_buf_printf(out, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, s / 3600, s / 60 % 60, s % 60);
  if (frac) ml_buf_printf(out, ".%06" PRId64, frac);
}

static void put_ts_text(ml_buf *out, int64_t us, bool utc) {
  int64_t days = us / 86400000000LL, rem = us % 86400000000LL;
  if (rem < 0) {
    rem += 86400000000LL;
    days--;
  }
  put_date_text(out, days);
  ml_buf_putc(out, 'T');
  put_time_text(out, rem);
  if (utc) ml_buf_putc(out, 'Z');
}

static void put_double_text(ml_buf *out, double d) {
  char tmp[40];
  snprintf(tmp, sizeof tmp, "%.17g", d);
  /* the shortest form that reads back the same double */
  for (int prec = 1; prec <= 17; prec++) {
    char t2[40];
    snprintf(t2, sizeof t2, "%.*g", prec, d);
    if (strtod(t2, NULL) == d) {
      memcpy(tmp, t2, sizeof t2);
      break;
    }
  }
  ml_buf_puts(out, tmp);
}

void ml_rec_text(const ml_rec_field *f, ml_buf *out) {
  switch (f->kind) {
  case ML_REC_NULL: return;
  case ML_REC_BOOL: ml_buf_puts(out, f->i ? "true" : "false"); return;
  case ML_REC_LONG: ml_buf_printf(out, "%" PRId64, f->i); return;
  case ML_REC_DOUBLE:
    if (f->len) ml_buf_append(out, f->text, f->len);
    else put_double_text(out, f->d);
    return;
  case ML_REC_UTC_DT:
    if (f->len) ml_buf_append(out, f->text, f->len);
    else put_ts_text(out, f->i, true);
    return;
  case ML_REC_BINARY: ml_conv_base64_encode(f->text, f->len, out); return;
  default: ml_buf_append(out, f->text, f->len); return;
  }
}

const char *mallard_get_text(const mallard_record *r, const char *column) {
  if (!r || !column) return NULL;
  const ml_rec_field *f = ml_rec_find(r, column);
  if (!f || f->kind == ML_REC_NULL) return NULL;
  if (f->kind == ML_REC_STRING || f->kind == ML_REC_DECIMAL || f->kind == ML_REC_JSON ||
      ((f->kind == ML_REC_DATE || f->kind == ML_REC_TIME || f->kind == ML_REC_NAIVE_DT ||
        f->kind == ML_REC_UTC_DT || f->kind == ML_REC_DOUBLE) &&
       f->len))
    return f->text;
  /* The record is logically const: get_buf is a cache for this answer. */
  ml_buf *b = (ml_buf *)&r->get_buf;
  ml_buf_reset(b);
  ml_rec_text(f, b);
  return ml_buf_ok(b) ? (b->data ? b->data : "") : NULL;
}

/* ---- values into columns ------------------------------------------------------ */

ml_type ml_rec_infer(const ml_rec_field *f) {
  switch (f->kind) {
  case ML_REC_BOOL: return ml_type_of(ML_TYPE_BOOLEAN);
  case ML_REC_LONG: return ml_type_of(ML_TYPE_BIGINT);
  case ML_REC_DOUBLE: return ml_type_of(ML_TYPE_DOUBLE);
  case ML_REC_DATE: return ml_type_of(ML_TYPE_DATE);
  case ML_REC_TIME: return ml_type_of(ML_TYPE_TIME);
  case ML_REC_NAIVE_DT: return ml_type_of(ML_TYPE_TIMESTAMP);
  case ML_REC_UTC_DT: return ml_type_of(ML_TYPE_TIMESTAMPTZ);
  case ML_REC_BINARY: return ml_type_of(ML_TYPE_BLOB);
  case ML_REC_JSON: return ml_type_of(ML_TYPE_JSON);
  /* An undeclared decimal keeps its exact digits as text; declare
   * DECIMAL(p,s) to get a numeric column. */
  case ML_REC_DECIMAL:
  case ML_REC_STRING: return ml_type_of(ML_TYPE_VARCHAR);
  default: return ml_type_of(ML_TYPE_NULL);
  }
}

static bool is_textual(ml_rec_kind k) { return k == ML_REC_STRING || k == ML_REC_DECIMAL; }

static bool put_int(ml_batch *b, size_t col, ml_type_id id, const ml_rec_field *f, bool strict) {
  int64_t x;
  if (f->kind == ML_REC_LONG) x = f->i;
  else if (strict) return false;
  else if (is_textual(f->kind) || (f->kind == ML_REC_DOUBLE && f->len)) {
    if (!ml_conv_int64(f->text, f->len, &x)) return false;
  } else if (f->kind == ML_REC_DOUBLE) {
    if (!(f->d >= -9223372036854775808.0 && f->d < 9223372036854775808.0) || f->d != floor(f->d)) return false;
    x = (int64_t)f->d;
  } else if (f->kind == ML_REC_BOOL) x = f->i;
  else return false;
  switch (id) {
  case ML_TYPE_SMALLINT:
    if (x < INT16_MIN || x > INT16_MAX) return false;
    ml_batch_put_i16(b, col, (int16_t)x);
    return true;
  case ML_TYPE_INTEGER:
    if (x < INT32_MIN || x > INT32_MAX) return false;
    ml_batch_put_i32(b, col, (int32_t)x);
    return true;
  default: ml_batch_put_i64(b, col, x); return true;
  }
}

static bool put_json(ml_batch *b, size_t col, const ml_rec_field *f, ml_buf *scratch) {
  ml_buf_reset(scratch);
  switch (f->kind) {
  case ML_REC_JSON: ml_batch_put_str(b, col, f->text, f->len); return true;
  case ML_REC_BOOL:
  case ML_REC_LONG: ml_rec_text(f, scratch); break;
  case ML_REC_DOUBLE:
    if (!isfinite(f->d)) ml_buf_puts(scratch, "null");
    else ml_rec_text(f, scratch);
    break;
  default: {
    ml_buf t = ML_BUF_INIT;
    ml_rec_text(f, &t);
    if (ml_buf_ok(&t)) ml_json_quote(scratch, t.data ? t.data : "", t.len);
    else scratch->oom = true; /* out of memory for the caller, not a misfit */
    ml_buf_free(&t);
  }
  }
  if (!ml_buf_ok(scratch)) return false;
  ml_batch_put_str(b, col, scratch->data ? scratch->data : "", scratch->len);
  return true;
}

bool ml_rec_put(ml_batch *b, size_t col, ml_type type, const ml_rec_field *f, bool strict, ml_buf *scratch) {
  /* a flag left from an earlier value would make a misfit look like out of memory */
  if (!ml_buf_ok(scratch)) ml_buf_reset(scratch);
  if (f->kind == ML_REC_NULL) {
    ml_batch_put_null(b, col);
    return true;
  }
  switch (type.id) {
  case ML_TYPE_VARCHAR:
    if (f->kind == ML_REC_STRING) {
      ml_batch_put_str(b, col, f->text, f->len);
      return true;
    }
    ml_buf_reset(scratch);
    ml_rec_text(f, scratch);
    if (!ml_buf_ok(scratch)) return false;
    ml_batch_put_str(b, col, scratch->data ? scratch->data : "", scratch->len);
    return true;
  case ML_TYPE_JSON: return put_json(b, col, f, scratch);
  case ML_TYPE_BOOLEAN: {
    bool x;
    if (f->kind == ML_REC_BOOL) x = f->i != 0;
    else if (strict) return false;
    else if (f->kind == ML_REC_LONG && (f->i == 0 || f->i == 1)) x = f->i == 1;
    else if (f->kind != ML_REC_STRING || !ml_conv_bool(f->text, f->len, &x)) return false;
    ml_batch_put_bool(b, col, x);
    return true;
  }
  case ML_TYPE_SMALLINT:
  case ML_TYPE_INTEGER:
  case ML_TYPE_BIGINT: return put_int(b, col, type.id, f, strict);
  case ML_TYPE_FLOAT:
  case ML_TYPE_DOUBLE: {
    double x;
    if (f->kind == ML_REC_DOUBLE) x = f->d;
    else if (f->kind == ML_REC_LONG) x = (double)f->i;
    else if (strict || !is_textual(f->kind) || !ml_conv_double(f->text, f->len, &x, scratch)) return false;
    if (type.id == ML_TYPE_FLOAT) ml_batch_put_f32(b, col, (float)x);
    else ml_batch_put_f64(b, col, x);
    return true;
  }
  case ML_TYPE_DECIMAL: {
    if (strict && f->kind != ML_REC_LONG && f->kind != ML_REC_DECIMAL) return false;
    if (f->kind != ML_REC_LONG && f->kind != ML_REC_DOUBLE && !is_textual(f->kind)) return false;
    ml_buf_reset(scratch);
    ml_rec_text(f, scratch);
    uint64_t lo;
    int64_t hi;
    if (!ml_buf_ok(scratch) || !scratch->data ||
        !ml_conv_decimal_exact(scratch->data, scratch->len, type.width, type.scale, &lo, &hi))
      return false;
    ml_batch_put_decimal(b, col, lo, hi);
    return true;
  }
  case ML_TYPE_BLOB:
    if (f->kind == ML_REC_BINARY || (!strict && f->kind == ML_REC_STRING)) {
      ml_batch_put_str(b, col, f->text, f->len);
      return true;
    }
    return false;
  case ML_TYPE_DATE: {
    int32_t days;
    if (f->kind == ML_REC_DATE) days = (int32_t)f->i;
    else if (strict || f->kind != ML_REC_STRING || !ml_conv_date(f->text, f->len, &days)) return false;
    ml_batch_put_i32(b, col, days);
    return true;
  }
  case ML_TYPE_TIME: {
    int64_t us;
    int32_t off;
    bool has_off;
    if (f->kind == ML_REC_TIME) us = f->i;
    else if (strict || f->kind != ML_REC_STRING || !ml_conv_time(f->text, f->len, &us, &off, &has_off)) return false;
    ml_batch_put_i64(b, col, us);
    return true;
  }
  case ML_TYPE_TIMESTAMP:
  case ML_TYPE_TIMESTAMPTZ: {
    bool naive = type.id == ML_TYPE_TIMESTAMP;
    ml_rec_kind own = naive ? ML_REC_NAIVE_DT : ML_REC_UTC_DT;
    int64_t us;
    bool has_off;
    if (f->kind == own) us = f->i;
    else if (strict) return false;
    else if (f->kind == ML_REC_NAIVE_DT || f->kind == ML_REC_UTC_DT) us = f->i;
    else if (f->kind == ML_REC_DATE) us = f->i * 86400000000LL;
    else if (f->kind != ML_REC_STRING || !ml_conv_timestamp(f->text, f->len, naive, &us, &has_off)) return false;
    ml_batch_put_i64(b, col, us);
    return true;
  }
  default: return false;
  }
}

/* ---- _fivetran_id ------------------------------------------------------------- */

static int cmp_field_ptr(const void *a, const void *b) {
  const ml_rec_field *x = *(const ml_rec_field *const *)a, *y = *(const ml_rec_field *const *)b;
  return strcmp(x->name, y->name);
}

typedef struct hash2 {
  uint64_t a, b;
} hash2;

static void hash_bytes(hash2 *h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) {
    h->a = (h->a ^ s[i]) * 1099511628211ULL;
    h->b = (h->b ^ s[i]) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
  }
}

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void ml_rec_hash(const mallard_record *r, char out[33]) {
  const ml_rec_field *small[32];
  const ml_rec_field **order = r->n <= 32 ? small : malloc(r->n * sizeof *order);
  hash2 h = {1469598103934665603ULL, 0x6a09e667f3bcc909ULL};
  size_t n = 0;
  if (order) {
    for (size_t i = 0; i < r->n; i++)
      if (r->f[i].kind != ML_REC_NULL) order[n++] = &r->f[i];
    qsort(order, n, sizeof *order, cmp_field_ptr);
  }
  ml_buf text = ML_BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    hash_bytes(&h, order[i]->name, strlen(order[i]->name) + 1);
    ml_buf_reset(&text);
    ml_rec_text(order[i], &text);
    uint64_t len = text.len;
    hash_bytes(&h, &len, sizeof len);
    if (text.len) hash_bytes(&h, text.data, text.len);
  }
  ml_buf_free(&text);
  if (order != small) free(order);
  uint64_t a = mix64(h.a ^ mix64(h.b)), b = mix64(h.b + a);
  snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}
