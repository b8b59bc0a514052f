#include "cli_table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* UTF-8 and display width */

/* Decodes one UTF-8 character of s[0..n) (n > 0).  Returns its length, or 0
 * for an invalid sequence (overlong, surrogate, > U+10FFFF, truncated). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  uint32_t v, min;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, v = c & 0x1Fu, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, v = c & 0x0Fu, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, v = c & 0x07u, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3Fu);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

typedef struct cp_range {
  uint32_t lo, hi;
} cp_range;

static bool in_ranges(uint32_t cp, const cp_range *r, size_t n) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < r[mid].lo) {
      hi = mid;
    } else if (cp > r[mid].hi) {
      lo = mid + 1;
    } else {
      return true;
    }
  }
  return false;
}

/* Terminal columns taken by a printable code point: 0 for combining marks and
 * zero-width characters, 2 for East Asian wide / fullwidth characters and
 * emoji, 1 otherwise.  The tables cover the common blocks, not all of
 * Unicode; an unlisted character counts as 1. */
static size_t cp_width(uint32_t cp) {
  static const cp_range zero[] = {
      {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x05BF, 0x05BF}, {0x05C1, 0x05C2},
      {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A}, {0x064B, 0x065F}, {0x0670, 0x0670},
      {0x06D6, 0x06DC}, {0x06DF, 0x06E4}, {0x06E7, 0x06E8}, {0x06EA, 0x06ED}, {0x0900, 0x0902},
      {0x093A, 0x093A}, {0x093C, 0x093C}, {0x0941, 0x0948}, {0x094D, 0x094D}, {0x0951, 0x0957},
      {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF},
      {0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x2064}, {0x20D0, 0x20FF}, {0xFE00, 0xFE0F},
      {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0x1F3FB, 0x1F3FF}, {0xE0001, 0xE0001},
      {0xE0020, 0xE007F}, {0xE0100, 0xE01EF},
  };
  static const cp_range wide[] = {
      {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
      {0x23F0, 0x23F0},   {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},
      {0x2648, 0x2653},   {0x267F, 0x267F},   {0x2693, 0x2693},   {0x26A1, 0x26A1},
      {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26CE, 0x26CE},
      {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
      {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},
      {0x2728, 0x2728},   {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},
      {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27B0, 0x27B0},   {0x27BF, 0x27BF},
      {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x303E},
      {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
      {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},
      {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4},
      {0x17000, 0x18CFF}, {0x1B000, 0x1B2FF}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF},
      {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F200, 0x1F251}, {0x1F300, 0x1F3FA},
      {0x1F400, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F7E0, 0x1F7EB}, {0x1F90C, 0x1F9FF},
      {0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
  };
  if (cp < 0x300) return 1;
  if (in_ranges(cp, zero, sizeof zero / sizeof zero[0])) return 0;
  if (in_ranges(cp, wide, sizeof wide / sizeof wide[0])) return 2;
  return 1;
}

/* Appends s[0..n) to out as one line of display text: newline, tab and
 * carriage return become \n \t \r, other control characters \xHH (C0, DEL)
 * or \uHHHH (C1, U+2028/2029), bytes that are not UTF-8 \xHH.  When the text
 * is wider than max_width columns it is cut so that, with a final "…", it
 * fits.  Returns the width in terminal columns of what was appended. */
static size_t append_display(ml_buf *out, const char *s, size_t n, size_t max_width) {
  const unsigned char *p = (const unsigned char *)s;
  size_t start = out->len;
  size_t width = 0;
  size_t cut_len = start, cut_width = 0; /* last point where width <= max_width - 1 */
  size_t i = 0;
  while (i < n) {
    uint32_t cp = 0;
    size_t k = utf8_decode(p + i, n - i, &cp);
    char esc[16];
    const char *tok;
    size_t tok_len, tok_width;
    if (k == 0) {
      snprintf(esc, sizeof esc, "\\x%02X", p[i]);
      tok = esc, tok_len = 4, tok_width = 4, k = 1;
    } else if (cp == '\n' || cp == '\t' || cp == '\r') {
      esc[0] = '\\';
      esc[1] = cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r';
      tok = esc, tok_len = 2, tok_width = 2;
    } else if (cp < 0x20 || cp == 0x7F) {
      snprintf(esc, sizeof esc, "\\x%02X", (unsigned)cp);
      tok = esc, tok_len = 4, tok_width = 4;
    } else if ((cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029) {
      snprintf(esc, sizeof esc, "\\u%04X", (unsigned)cp);
      tok = esc, tok_len = 6, tok_width = 6;
    } else {
      tok = s + i, tok_len = k, tok_width = cp_width(cp);
    }
    if (width + tok_width > max_width) {
      /* does not fit: cut back to the last point leaving room for "…" */
      out->len = cut_len;
      if (out->data) out->data[out->len] = '\0';
      ml_buf_puts(out, "\xE2\x80\xA6");
      return cut_width + 1;
    }
    ml_buf_append(out, tok, tok_len);
    width += tok_width;
    i += k;
    if (width + 1 <= max_width) {
      cut_len = out->len;
      cut_width = width;
    }
  }
  return width;
}


void cli_table_free(cli_table *t) {
  free(t->cells);
  ml_buf_free(&t->text);
}

void cli_table_put(cli_table *t, size_t row, size_t col, const char *s, size_t n) {
  if (t->oom || !ml_buf_reserve(&t->text, 0)) { /* text.data is never NULL below */
    t->oom = true;
    return;
  }
  if (row >= t->cap_rows) {
    size_t cap = t->cap_rows ? t->cap_rows * 2 : 256;
    cli_table_cell *cells = (t->ncols && cap <= SIZE_MAX / sizeof(cli_table_cell) / t->ncols)
                        ? realloc(t->cells, cap * t->ncols * sizeof(cli_table_cell))
                        : NULL;
    if (!cells) {
      t->oom = true;
      return;
    }
    t->cells = cells;
    t->cap_rows = cap;
  }
  cli_table_cell *cell = &t->cells[row * t->ncols + col];
  cell->off = t->text.len;
  cell->width = append_display(&t->text, s, n, CLI_TABLE_MAX_WIDTH);
  cell->len = t->text.len - cell->off;
  if (t->text.oom) t->oom = true;
  if (row >= t->nrows) t->nrows = row + 1;
}

static void pad(ml_buf *out, size_t n) {
  for (size_t i = 0; i < n; i++) ml_buf_putc(out, ' ');
}

static bool is_number_kind(ml_rows_kind k) {
  return k == ML_ROWS_INT || k == ML_ROWS_UINT || k == ML_ROWS_FLOAT || k == ML_ROWS_DOUBLE || k == ML_ROWS_NUMTEXT;
}

/* Appends text of the given width padded to `width` columns: numbers to the
 * right; text to the left, without trailing blanks in the last column. */
static void put_aligned(ml_buf *out, const char *s, size_t len, size_t text_width, size_t width, bool right,
                        bool last) {
  if (right) pad(out, width - text_width);
  ml_buf_append(out, s, len);
  if (!right && !last) pad(out, width - text_width);
}

void cli_table_print(const cli_table *t, const ml_rows_col *cols, const char *noun, ml_buf *out) {
  size_t nc = t->ncols;
  cli_table head = {nc, 0, 0, NULL, ML_BUF_INIT, false}; /* the header row, laid out like a row */
  size_t *w = calloc(nc, sizeof *w);
  for (size_t c = 0; c < nc; c++) cli_table_put(&head, 0, c, cols[c].name, strlen(cols[c].name));
  if (!w || head.oom) {
    out->oom = true;
    free(w);
    cli_table_free(&head);
    return;
  }
  for (size_t c = 0; c < nc; c++) w[c] = head.cells[c].width;
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t c = 0; c < nc; c++)
      if (t->cells[r * nc + c].width > w[c]) w[c] = t->cells[r * nc + c].width;

  for (size_t c = 0; c < nc; c++) {
    const cli_table_cell *h = &head.cells[c];
    if (c) ml_buf_puts(out, " | ");
    put_aligned(out, head.text.data + h->off, h->len, h->width, w[c], is_number_kind(cols[c].kind), c + 1 == nc);
  }
  ml_buf_putc(out, '\n');
  for (size_t c = 0; c < nc; c++) {
    if (c) ml_buf_puts(out, "-+-");
    for (size_t i = 0; i < w[c]; i++) ml_buf_putc(out, '-');
  }
  ml_buf_putc(out, '\n');
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t c = 0; c < nc; c++) {
      const cli_table_cell *cell = &t->cells[r * nc + c];
      if (c) ml_buf_puts(out, " | ");
      put_aligned(out, t->text.data + cell->off, cell->len, cell->width, w[c], is_number_kind(cols[c].kind),
                  c + 1 == nc);
    }
    ml_buf_putc(out, '\n');
  }
  ml_buf_printf(out, "(%zu %s%s)\n", t->nrows, noun, t->nrows == 1 ? "" : "s");
  free(w);
  cli_table_free(&head);
}
