#include "ml_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ml_buf_init(ml_buf *b) { *b = (ml_buf)ML_BUF_INIT; }

void ml_buf_free(ml_buf *b) {
  free(b->data);
  ml_buf_init(b);
}

void ml_buf_reset(ml_buf *b) {
  b->len = 0;
  b->oom = false;
  if (b->data) b->data[0] = '\0';
}

bool ml_buf_reserve(ml_buf *b, size_t extra) {
  if (b->oom) return false;
  if (extra > SIZE_MAX / 2 - b->len) {
    b->oom = true;
    return false;
  }
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) {
    b->oom = true;
    return false;
  }
  b->data = p;
  b->cap = cap;
  return true;
}

void ml_buf_append(ml_buf *b, const void *p, size_t n) {
  if (!ml_buf_reserve(b, n)) return;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void ml_buf_puts(ml_buf *b, const char *s) { ml_buf_append(b, s, strlen(s)); }

void ml_buf_putc(ml_buf *b, char c) {
  if (b->len + 1 < b->cap && !b->oom) {
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return;
  }
  ml_buf_append(b, &c, 1);
}

void ml_buf_printf(ml_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = true;
  } else if ((size_t)n < sizeof small) {
    ml_buf_append(b, small, (size_t)n);
  } else if (ml_buf_reserve(b, (size_t)n)) {
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    b->len += (size_t)n;
  }
  va_end(ap2);
}

char *ml_buf_steal(ml_buf *b) {
  if (b->oom) {
    ml_buf_free(b);
    return NULL;
  }
  if (!b->data) return strdup("");
  char *p = b->data;
  ml_buf_init(b);
  return p;
}
