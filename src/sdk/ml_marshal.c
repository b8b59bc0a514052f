#include "ml_marshal.h"

#include "../json/ml_json.h"
#include "../util/ml_array.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Type codes of CPython's Python/marshal.c (format version 4).  FLAG_REF on
 * a code means "remember this value": a later TYPE_REF names it by its
 * position among the remembered values. */
enum {
  FLAG_REF = 0x80,
  TYPE_NULL = '0',
  TYPE_NONE = 'N',
  TYPE_FALSE = 'F',
  TYPE_TRUE = 'T',
  TYPE_INT = 'i',
  TYPE_INT64 = 'I',
  TYPE_BINARY_FLOAT = 'g',
  TYPE_LONG = 'l',
  TYPE_STRING = 's', /* bytes */
  TYPE_INTERNED = 't',
  TYPE_REF = 'r',
  TYPE_TUPLE = '(',
  TYPE_LIST = '[',
  TYPE_DICT = '{',
  TYPE_UNICODE = 'u',
  TYPE_ASCII = 'a',
  TYPE_ASCII_INTERNED = 'A',
  TYPE_SMALL_TUPLE = ')',
  TYPE_SHORT_ASCII = 'z',
  TYPE_SHORT_ASCII_INTERNED = 'Z'
};

/* 15-bit digits of the largest int read: 4300 decimal digits, the most
 * CPython itself turns into text (sys.get_int_max_str_digits). */
#define MAX_INT_DIGITS 953

/* A container marked for reference is remembered with this bit set: the
 * reader cannot hand it out a second time (the SDK never sends one). */
#define CONTAINER_REF ((size_t)1 << (sizeof(size_t) * 8 - 1))

void ml_marshal_reset(ml_marshal_reader *r, const void *buf, size_t len) {
  r->start = r->cur = buf;
  r->end = r->start + len;
  r->n_refs = 0;
}

void ml_marshal_free(ml_marshal_reader *r) {
  free(r->refs);
  r->refs = NULL;
  r->n_refs = r->cap_refs = 0;
}

static size_t offset(const ml_marshal_reader *r) { return (size_t)(r->cur - r->start); }

static ml_status fail(const ml_marshal_reader *r, ml_err *err, const char *what) {
  return ml_err_set(err, ML_ERR_INPUT, "malformed operation batch from the Python connector at byte %zu: %s",
                    offset(r), what);
}

static int need(const ml_marshal_reader *r, size_t n) { return (size_t)(r->end - r->cur) >= n; }

static uint32_t rd_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static ml_status remember(ml_marshal_reader *r, size_t at, ml_err *err) {
  if (!ml_array_reserve(&r->refs, r->n_refs + 1, &r->cap_refs, sizeof *r->refs, 64)) return ml_err_nomem(err);
  r->refs[r->n_refs++] = at;
  return ML_OK;
}

/* Reads a value's header at r->cur.  `depth` guards against a reference
 * that leads to another reference. */
static ml_status read_val(ml_marshal_reader *r, ml_marshal_val *v, ml_err *err, int depth) {
  if (!need(r, 1)) return fail(r, err, "the batch ends inside a value");
  size_t at = offset(r);
  unsigned code = *r->cur++;
  int flagged = (code & FLAG_REF) != 0;
  code &= ~(unsigned)FLAG_REF;
  memset(v, 0, sizeof *v);
  size_t n = 0;
  switch (code) {
  case TYPE_NULL: v->kind = ML_MARSHAL_END; break;
  case TYPE_NONE: v->kind = ML_MARSHAL_NONE; break;
  case TYPE_FALSE:
  case TYPE_TRUE:
    v->kind = ML_MARSHAL_BOOL;
    v->i = code == TYPE_TRUE;
    break;
  case TYPE_INT:
    if (!need(r, 4)) return fail(r, err, "the batch ends inside an int");
    v->kind = ML_MARSHAL_INT;
    v->i = (int32_t)rd_u32(r->cur);
    r->cur += 4;
    break;
  case TYPE_INT64:
    if (!need(r, 8)) return fail(r, err, "the batch ends inside an int");
    v->kind = ML_MARSHAL_INT;
    v->i = (int64_t)((uint64_t)rd_u32(r->cur) | (uint64_t)rd_u32(r->cur + 4) << 32);
    r->cur += 8;
    break;
  case TYPE_BINARY_FLOAT: {
    if (!need(r, 8)) return fail(r, err, "the batch ends inside a float");
    uint64_t bits = (uint64_t)rd_u32(r->cur) | (uint64_t)rd_u32(r->cur + 4) << 32;
    memcpy(&v->d, &bits, sizeof v->d);
    v->kind = ML_MARSHAL_FLOAT;
    r->cur += 8;
    break;
  }
  case TYPE_LONG: {
    if (!need(r, 4)) return fail(r, err, "the batch ends inside an int");
    int32_t nd = (int32_t)rd_u32(r->cur);
    r->cur += 4;
    size_t digits = nd < 0 ? (size_t)(-(int64_t)nd) : (size_t)nd;
    if (digits > ((size_t)(r->end - r->cur)) / 2) return fail(r, err, "the batch ends inside an int");
    if (digits > MAX_INT_DIGITS) return fail(r, err, "an int of more than 4300 decimal digits (Python's own limit)");
    for (size_t k = 0; k < digits; k++)
      if (((unsigned)r->cur[2 * k] | (unsigned)r->cur[2 * k + 1] << 8) >= 1u << 15)
        return fail(r, err, "an int digit is out of range");
    v->sign = nd < 0 ? -1 : 1;
    /* up to 4 digits of 15 bits (60 bits) always fit an int64; 5 may */
    uint64_t mag = 0;
    int fits = digits <= 5;
    for (size_t k = digits; fits && k-- > 0;) {
      unsigned d = (unsigned)r->cur[2 * k] | (unsigned)r->cur[2 * k + 1] << 8;
      if (mag >> 49) fits = 0;
      else mag = mag << 15 | d;
    }
    if (fits && (v->sign > 0 ? mag <= (uint64_t)INT64_MAX : mag <= (uint64_t)INT64_MAX + 1)) {
      v->kind = ML_MARSHAL_INT;
      v->i = v->sign > 0 ? (int64_t)mag : (int64_t)(0 - mag);
    } else {
      v->kind = ML_MARSHAL_BIGINT;
      v->s = (const char *)r->cur;
      v->len = digits;
    }
    r->cur += 2 * digits;
    break;
  }
  case TYPE_STRING:
  case TYPE_UNICODE:
  case TYPE_INTERNED:
  case TYPE_ASCII:
  case TYPE_ASCII_INTERNED:
    if (!need(r, 4)) return fail(r, err, "the batch ends inside a string length");
    n = rd_u32(r->cur);
    r->cur += 4;
    goto text;
  case TYPE_SHORT_ASCII:
  case TYPE_SHORT_ASCII_INTERNED:
    if (!need(r, 1)) return fail(r, err, "the batch ends inside a string length");
    n = *r->cur++;
  text:
    if (!need(r, n)) return fail(r, err, "the batch ends inside a string");
    v->kind = code == TYPE_STRING ? ML_MARSHAL_BYTES : ML_MARSHAL_STR;
    /* marshal writes a str's lone surrogates (surrogatepass): not UTF-8 */
    if ((code == TYPE_UNICODE || code == TYPE_INTERNED) && !ml_utf8_valid((const char *)r->cur, n, NULL))
      return fail(r, err, "a str that is not valid UTF-8 (a lone surrogate such as \\ud800)");
    v->s = (const char *)r->cur;
    v->len = n;
    r->cur += n;
    break;
  case TYPE_TUPLE:
  case TYPE_LIST:
    if (!need(r, 4)) return fail(r, err, "the batch ends inside a length");
    v->len = rd_u32(r->cur);
    r->cur += 4;
    v->kind = code == TYPE_LIST ? ML_MARSHAL_LIST : ML_MARSHAL_TUPLE;
    if (v->len > (size_t)(r->end - r->cur)) return fail(r, err, "a tuple or list is longer than the batch");
    break;
  case TYPE_SMALL_TUPLE:
    if (!need(r, 1)) return fail(r, err, "the batch ends inside a length");
    v->len = *r->cur++;
    v->kind = ML_MARSHAL_TUPLE;
    break;
  case TYPE_DICT: v->kind = ML_MARSHAL_DICT; break;
  case TYPE_REF: {
    if (flagged || !need(r, 4)) return fail(r, err, "a malformed reference");
    uint32_t idx = rd_u32(r->cur);
    r->cur += 4;
    if (idx >= r->n_refs) return fail(r, err, "a reference to a value not seen yet");
    if (r->refs[idx] & CONTAINER_REF) return fail(r, err, "a reference to a tuple, list or dict (not supported)");
    if (depth > 0) return fail(r, err, "a reference to a reference");
    const unsigned char *back = r->cur;
    r->cur = r->start + r->refs[idx];
    ml_status st = read_val(r, v, err, depth + 1);
    r->cur = back;
    return st;
  }
  default: {
    char what[64];
    snprintf(what, sizeof what, "type code 0x%02x is not one mallard reads", code);
    return fail(r, err, what);
  }
  }
  if (flagged && depth == 0) {
    int container = v->kind == ML_MARSHAL_TUPLE || v->kind == ML_MARSHAL_LIST || v->kind == ML_MARSHAL_DICT;
    /* a re-read through a reference must not see the flag again: remember
     * the offset of the code byte with the flag, and re-reading strips it
     * (depth > 0 skips this block) */
    return remember(r, container ? at | CONTAINER_REF : at, err);
  }
  return ML_OK;
}

ml_status ml_marshal_next(ml_marshal_reader *r, ml_marshal_val *v, ml_err *err) { return read_val(r, v, err, 0); }

/* Nesting deeper than this is refused (the SDK sends two levels). */
#define MAX_DEPTH 64

static ml_status skip_val(ml_marshal_reader *r, const ml_marshal_val *v, ml_err *err, int depth) {
  if (depth > MAX_DEPTH) return fail(r, err, "values nested too deep");
  ml_marshal_val x;
  ml_status st = ML_OK;
  if (v->kind == ML_MARSHAL_TUPLE || v->kind == ML_MARSHAL_LIST) {
    for (size_t k = 0; st == ML_OK && k < v->len; k++)
      if ((st = read_val(r, &x, err, 0)) == ML_OK) st = skip_val(r, &x, err, depth + 1);
  } else if (v->kind == ML_MARSHAL_DICT) {
    for (;;) {
      if ((st = read_val(r, &x, err, 0)) != ML_OK || x.kind == ML_MARSHAL_END) break;
      if ((st = skip_val(r, &x, err, depth + 1)) != ML_OK) break;
      if ((st = read_val(r, &x, err, 0)) != ML_OK) break;
      if (x.kind == ML_MARSHAL_END) return fail(r, err, "a dict key without a value");
      if ((st = skip_val(r, &x, err, depth + 1)) != ML_OK) break;
    }
  } else if (v->kind == ML_MARSHAL_END) {
    st = fail(r, err, "an end of dict outside a dict");
  }
  return st;
}

ml_status ml_marshal_skip(ml_marshal_reader *r, const ml_marshal_val *v, ml_err *err) {
  return skip_val(r, v, err, 0);
}

void ml_marshal_bigint_text(const ml_marshal_val *v, ml_buf *out) {
  /* digits base 2^15, most significant last; divide by 10^4 repeatedly */
  size_t n = v->len;
  uint32_t *d = malloc((n ? n : 1) * sizeof *d);
  char *dec = malloc(n * 5 + 8);
  if (!d || !dec) {
    free(d);
    free(dec);
    out->oom = true;
    return;
  }
  for (size_t k = 0; k < n; k++)
    d[k] = (uint32_t)(unsigned char)v->s[2 * k] | (uint32_t)(unsigned char)v->s[2 * k + 1] << 8;
  size_t len = 0;
  while (n && d[n - 1] == 0) n--;
  while (n) {
    uint32_t rem = 0;
    for (size_t k = n; k-- > 0;) {
      uint32_t cur = rem << 15 | d[k];
      d[k] = cur / 10000;
      rem = cur % 10000;
    }
    while (n && d[n - 1] == 0) n--;
    for (int j = 0; j < 4; j++) {
      dec[len++] = (char)('0' + rem % 10);
      rem /= 10;
      if (!n && !rem) break;
    }
  }
  if (!len) dec[len++] = '0';
  if (v->sign < 0) ml_buf_putc(out, '-');
  for (size_t k = len; k-- > 0;) ml_buf_putc(out, dec[k]);
  free(d);
  free(dec);
}
