/* ml_buf: a growable byte buffer (string builder).
 *
 * Ownership: the ml_buf owns `data`; ml_buf_free releases it.  `data` is
 * always NUL-terminated once anything was appended (the NUL is not counted in
 * len), and any append may move it, so pointers into it are valid only until
 * the next append.  Appends never fail loudly: on allocation failure the buffer
 * sets `oom` and ignores further appends, so a caller building a long string
 * checks once at the end (ml_buf_ok). */
#ifndef ML_BUF_H
#define ML_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ml_buf {
  char *data;
  size_t len;
  size_t cap;
  bool oom;
} ml_buf;

#define ML_BUF_INIT {NULL, 0, 0, false}

void ml_buf_init(ml_buf *b);
void ml_buf_free(ml_buf *b);
/* Empties the buffer and clears oom, keeping the allocation for reuse. */
void ml_buf_reset(ml_buf *b);
/* Makes room for `extra` more bytes (+NUL); false (and oom set) on failure. */
bool ml_buf_reserve(ml_buf *b, size_t extra);
void ml_buf_append(ml_buf *b, const void *p, size_t n);
void ml_buf_puts(ml_buf *b, const char *s);
void ml_buf_putc(ml_buf *b, char c);
void ml_buf_printf(ml_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool ml_buf_ok(const ml_buf *b) { return !b->oom; }
/* Hands the allocation to the caller (free() it) and leaves b empty.
 * Returns "" copy on an empty buffer; NULL if oom. */
char *ml_buf_steal(ml_buf *b);

#endif
