/* ml_json: strict RFC 8259 reader and always-valid writer (see ml_json.h).
 *
 * Reader design:
 *  - One flat state machine (labels + goto) instead of recursive descent, so
 *    the C stack use is constant whatever the nesting.  Open containers live
 *    on a heap frame stack; finished values live on a heap value stack.
 *  - When a container closes, its children (the top of the value stack) are
 *    copied into the arena in one memcpy, which makes them contiguous, and the
 *    container value replaces them on the stack.  Every value is therefore
 *    copied exactly once more than it is built.
 *  - The arena and both stacks belong to the doc and are reset, not freed,
 *    between parses: after a few documents a stream of similar lines parses
 *    without calling malloc.
 *  - Strings are scanned eight bytes at a time (SWAR) for the only bytes that
 *    need attention: '"', '\\', control characters and non-ASCII.  UTF-8 is
 *    validated only when a non-ASCII byte shows up.
 *  - Line and column are computed only when an error is reported, by counting
 *    newlines up to the offending byte: the hot path tracks nothing.
 */
#include "ml_json.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* strtod depends on LC_NUMERIC; where the C library offers strtod_l the doc
 * keeps a private "C" locale so a program calling setlocale cannot make the
 * reader mis-read "1.5". */
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
#define ML_HAVE_STRTOD_L 1
#endif

/* The Clinger fast path (mantissa and power of ten both exact doubles, one
 * correctly rounded IEEE operation) is only exact when double arithmetic is
 * not carried out in extended precision. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define ML_FAST_FLOAT 1
#endif

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
    (defined(__GNUC__) || defined(__clang__))
#define ML_SWAR_LE 1
#endif

/* ------------------------------------------------------------------------ */
/* arena                                                                     */

typedef struct arena_blk {
  struct arena_blk *prev;
  size_t cap;
  size_t used;
} arena_blk;

/* The header is padded so block data starts 16-byte aligned like malloc's. */
#define BLK_HDR ((sizeof(arena_blk) + 15) & ~(size_t)15)
#define ARENA_FIRST ((size_t)32 * 1024)
/* A block larger than this (left over from one huge document) is given back
 * at the next reset instead of being kept for the life of the doc. */
#define ARENA_KEEP_MAX ((size_t)64 * 1024 * 1024)

typedef struct frame {
  size_t vstart;    /* index in the value stack of the container's first child */
  const char *open; /* the '[' or '{' (which also tells the container kind) */
} frame;

struct ml_json_doc {
  arena_blk *blk; /* current block; older ones chained through prev */
  ml_json_val *vstk;
  size_t vlen, vcap;
  frame *fstk;
  size_t flen, fcap;
  char *scratch; /* NUL-terminated copies of long numbers for strtod */
  size_t scratch_cap;
  /* Memory budget of one parse (arena blocks and stacks): a hostile line of
   * millions of tiny values fails with a clear error instead of taking
   * gigabytes.  `used` counts what the current parse holds. */
  size_t max_bytes, used;
  bool over_budget;
#ifdef ML_HAVE_STRTOD_L
  locale_t cloc; /* (locale_t)0 when newlocale failed: plain strtod then */
#endif
};

static inline char *blk_data(arena_blk *b) { return (char *)b + BLK_HDR; }

static arena_blk *blk_new(size_t cap, arena_blk *prev) {
  if (cap > SIZE_MAX - BLK_HDR) return NULL;
  arena_blk *b = malloc(BLK_HDR + cap);
  if (!b) return NULL;
  b->prev = prev;
  b->cap = cap;
  b->used = 0;
  return b;
}

/* Out of room in the current block: chain a new one at least twice as big,
 * so a document needs O(log size) blocks and the next reset keeps the last
 * (largest) one. */
/* Whether the parse may hold `more` bytes on top of what it has. */
static bool budget_take(ml_json_doc *d, size_t more) {
  if (more > d->max_bytes || d->used > d->max_bytes - more) {
    d->over_budget = true;
    return false;
  }
  d->used += more;
  return true;
}

static void *arena_slow(ml_json_doc *d, size_t n) {
  size_t cap = d->blk->cap <= SIZE_MAX / 4 ? d->blk->cap * 2 : d->blk->cap;
  if (n > SIZE_MAX - 64) return NULL;
  if (cap < n + 64) cap = n + 64;
  if (!budget_take(d, cap)) return NULL;
  arena_blk *b = blk_new(cap, d->blk);
  if (!b) return NULL;
  d->blk = b;
  b->used = n;
  return blk_data(b);
}

static inline void *arena_alloc(ml_json_doc *d, size_t n, size_t align) {
  arena_blk *b = d->blk;
  size_t off = (b->used + (align - 1)) & ~(align - 1);
  if (off <= b->cap && n <= b->cap - off) {
    b->used = off + n;
    return blk_data(b) + off;
  }
  return arena_slow(d, n);
}

static void arena_reset(ml_json_doc *d) {
  arena_blk *b = d->blk;
  arena_blk *old = b->prev;
  while (old) {
    arena_blk *prev = old->prev;
    free(old);
    old = prev;
  }
  b->prev = NULL;
  if (b->cap > ARENA_KEEP_MAX) {
    arena_blk *small = blk_new(ARENA_FIRST, NULL);
    if (small) {
      free(b);
      b = small;
    }
  }
  b->used = 0;
  d->blk = b;
  d->used = b->cap + d->vcap * sizeof *d->vstk + d->fcap * sizeof *d->fstk;
  d->over_budget = false;
}

ml_json_doc *ml_json_doc_new(void) {
  ml_json_doc *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->blk = blk_new(ARENA_FIRST, NULL);
  if (!d->blk) {
    free(d);
    return NULL;
  }
  d->max_bytes = ML_JSON_DEFAULT_MAX_BYTES;
  d->used = ARENA_FIRST;
#ifdef ML_HAVE_STRTOD_L
  d->cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
#endif
  return d;
}

void ml_json_doc_free(ml_json_doc *d) {
  if (!d) return;
  arena_blk *b = d->blk;
  while (b) {
    arena_blk *prev = b->prev;
    free(b);
    b = prev;
  }
  free(d->vstk);
  free(d->fstk);
  free(d->scratch);
#ifdef ML_HAVE_STRTOD_L
  if (d->cloc) freelocale(d->cloc);
#endif
  free(d);
}

static bool grow_vals(ml_json_doc *d) {
  size_t cap = d->vcap ? d->vcap * 2 : 256;
  if (cap > SIZE_MAX / sizeof *d->vstk) return false;
  if (!budget_take(d, (cap - d->vcap) * sizeof *d->vstk)) return false;
  ml_json_val *p = realloc(d->vstk, cap * sizeof *p);
  if (!p) return false;
  d->vstk = p;
  d->vcap = cap;
  return true;
}

static bool grow_frames(ml_json_doc *d) {
  size_t cap = d->fcap ? d->fcap * 2 : 64;
  if (!budget_take(d, (cap - d->fcap) * sizeof *d->fstk)) return false;
  frame *p = realloc(d->fstk, cap * sizeof *p);
  if (!p) return false;
  d->fstk = p;
  d->fcap = cap;
  return true;
}

static inline ml_json_val *push_val(ml_json_doc *d) {
  if (d->vlen == d->vcap && !grow_vals(d)) return NULL;
  return &d->vstk[d->vlen++];
}

/* ------------------------------------------------------------------------ */
/* byte classification                                                       */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t load64(const char *p) {
  uint64_t x;
  memcpy(&x, p, 8);
  return x;
}

/* High bit set in every byte lane that holds '"', '\\', a byte < 0x20 or a
 * byte >= 0x80.  The subtractions can borrow into higher lanes, so lanes above
 * a real hit may be flagged too, but the lowest flagged lane is always a real
 * hit and there is no flag at all when no lane is special. */
static inline uint64_t special_mask(uint64_t x) {
  uint64_t q = x ^ (ONES * '"');
  uint64_t b = x ^ (ONES * '\\');
  uint64_t m = ((q - ONES) & ~q) | ((b - ONES) & ~b) | ((x - ONES * 0x20) & ~x) | x;
  return m & HIGHS;
}

/* Index of the first special byte given a non-zero mask.  On big-endian
 * machines the lowest memory byte is the most significant lane, where false
 * positives can sit; there we step bytewise (index 0) instead. */
static inline size_t first_special(uint64_t m) {
#ifdef ML_SWAR_LE
  return (size_t)__builtin_ctzll(m) >> 3;
#else
  (void)m;
  return 0;
#endif
}

static inline bool is_digit(char c) { return (unsigned char)(c - '0') < 10; }

/* High bit set in the byte lanes that hold '\\' or a byte <= ' ' (ASCII
 * only: lanes >= 0x80 are not flagged).  As in special_mask, borrows may flag
 * lanes above a real hit, so only "any lane flagged" is meaningful. */
static inline uint64_t loose_mask(uint64_t x) {
  uint64_t b = x ^ (ONES * '\\');
  return (((b - ONES) & ~b) | ((x - ONES * 0x21) & ~x)) & HIGHS;
}

bool ml_json_text_compact(const char *text, size_t len) {
  /* machine-made JSON has neither whitespace nor escapes: eight bytes a step
   * prove it; a space may still be content of a string, so any hit is
   * decided by the exact scan below */
  size_t i = 0;
  for (; i + 8 <= len; i += 8)
    if (loose_mask(load64(text + i))) goto exact;
  for (; i < len; i++)
    if ((unsigned char)text[i] <= ' ' || text[i] == '\\') goto exact;
  return true;
exact:;
  bool in_string = false;
  for (const unsigned char *p = (const unsigned char *)text, *end = p + len; p < end; p++) {
    if (in_string) {
      if (*p == '\\') return false;
      if (*p == '"') in_string = false;
    } else if (*p == '"') {
      in_string = true;
    } else if (*p <= ' ') {
      return false;
    }
  }
  return true;
}

static inline const char *skip_ws(const char *p, const char *end) {
  /* machine-made JSON has no whitespace between tokens: one test then */
  if (p < end && (unsigned char)*p > ' ') return p;
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

/* Checks the UTF-8 sequence at p (p[0] >= 0x80).  Returns its length (2..4)
 * when valid.  Otherwise returns 0, sets *sub to the length of the maximal
 * ill-formed subpart (what one U+FFFD replaces, per Unicode's recommended
 * practice) and *why to a short explanation. */
static int utf8_seq(const unsigned char *p, const unsigned char *end, size_t *sub, const char **why) {
  unsigned char c = p[0];
  int n;
  unsigned char lo = 0x80, hi = 0xBF;
  const char *range_why = NULL;
  *sub = 1;
  if (c < 0xC0) {
    *why = "continuation byte without a lead byte";
    return 0;
  } else if (c < 0xC2) {
    *why = "overlong encoding";
    return 0;
  } else if (c < 0xE0) {
    n = 1;
  } else if (c < 0xF0) {
    n = 2;
    if (c == 0xE0) {
      lo = 0xA0;
      range_why = "overlong encoding";
    } else if (c == 0xED) {
      hi = 0x9F;
      range_why = "UTF-16 surrogate encoded in UTF-8";
    }
  } else if (c < 0xF5) {
    n = 3;
    if (c == 0xF0) {
      lo = 0x90;
      range_why = "overlong encoding";
    } else if (c == 0xF4) {
      hi = 0x8F;
      range_why = "code point above U+10FFFF";
    }
  } else {
    *why = "byte that never appears in UTF-8";
    return 0;
  }
  if (end - p < 2 || (p[1] & 0xC0) != 0x80) {
    *why = "incomplete multi-byte sequence";
    return 0;
  }
  if (p[1] < lo || p[1] > hi) {
    *why = range_why;
    return 0;
  }
  for (int k = 2; k <= n; k++) {
    if (end - p <= k || (p[k] & 0xC0) != 0x80) {
      *sub = (size_t)k;
      *why = "incomplete multi-byte sequence";
      return 0;
    }
  }
  return n + 1;
}

bool ml_utf8_valid(const char *s, size_t n, size_t *bad_offset) {
  const char *p = s, *end = s + n;
  for (;;) {
    while (end - p >= 8 && (load64(p) & HIGHS) == 0) p += 8;
    while (p < end && (unsigned char)*p < 0x80) p++;
    if (p >= end) return true;
    size_t sub;
    const char *why;
    int k = utf8_seq((const unsigned char *)p, (const unsigned char *)end, &sub, &why);
    if (!k) {
      if (bad_offset) *bad_offset = (size_t)(p - s);
      return false;
    }
    p += k;
  }
}

static inline int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Four hex digits at p (caller checked they are in bounds), or -1. */
static long hex4(const char *p) {
  long v = 0;
  for (int k = 0; k < 4; k++) {
    int h = hexval((unsigned char)p[k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

static inline char *put_utf8(char *dst, unsigned long cp) {
  if (cp < 0x80) {
    *dst++ = (char)cp;
  } else if (cp < 0x800) {
    *dst++ = (char)(0xC0 | (cp >> 6));
    *dst++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *dst++ = (char)(0xE0 | (cp >> 12));
    *dst++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *dst++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *dst++ = (char)(0xF0 | (cp >> 18));
    *dst++ = (char)(0x80 | ((cp >> 12) & 0x3F));
    *dst++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *dst++ = (char)(0x80 | (cp & 0x3F));
  }
  return dst;
}

/* ------------------------------------------------------------------------ */
/* errors                                                                    */

typedef struct pctx {
  const char *text;
  const char *end;
  ml_err *err;
  ml_json_doc *doc;
  ml_status status;
} pctx;

/* What sits at p, for "found ..." in messages. */
static const char *describe(const char *p, const char *end, char *buf, size_t cap) {
  if (p >= end) return "end of input";
  unsigned char c = (unsigned char)*p;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    /* a word such as NaN, Infinity, True or undefined reads better whole */
    size_t n = 0;
    while (p + n < end && n < 20) {
      unsigned char w = (unsigned char)p[n];
      if (!((w >= 'a' && w <= 'z') || (w >= 'A' && w <= 'Z') || (w >= '0' && w <= '9') || w == '_')) break;
      n++;
    }
    snprintf(buf, cap, "'%.*s%s'", (int)n, p, n == 20 ? "..." : "");
    return buf;
  }
  switch (c) {
    case ' ': return "a space";
    case '\t': return "a tab";
    case '\n': return "a newline";
    case '\r': return "a carriage return";
    case '\'': return "a single quote (')";
    default: break;
  }
  if (c > 0x20 && c < 0x7F) {
    snprintf(buf, cap, "'%c'", c);
  } else {
    snprintf(buf, cap, "byte 0x%02X", c);
  }
  return buf;
}

/* 1-based line and byte column of `at` in text (only '\n' ends a line). */
static void line_col(const char *text, const char *at, size_t *line, size_t *col) {
  size_t ln = 1;
  const char *ls = text;
  for (const char *q = text; q < at;) {
    const char *nl = memchr(q, '\n', (size_t)(at - q));
    if (!nl) break;
    ln++;
    ls = nl + 1;
    q = nl + 1;
  }
  *line = ln;
  *col = (size_t)(at - ls) + 1;
}

/* Reports an error at `at`: the message says what is wrong, line/column/offset
 * say where (callers word the position for their reader, see
 * ml_json_err_locate). */
__attribute__((format(printf, 4, 5))) static ml_status fail(pctx *c, const char *at, ml_status code,
                                                            const char *fmt, ...) {
  c->status = code;
  ml_err *err = c->err;
  if (!err) return code;
  size_t off = (size_t)(at - c->text);
  size_t line, col;
  line_col(c->text, at, &line, &col);
  char msg[sizeof err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ml_err_set(err, code, "%s", msg);
  err->line = line;
  err->column = col;
  err->offset = off;
  return code;
}

static ml_status fail_nomem(pctx *c, const char *at) {
  if (c->doc->over_budget)
    return fail(c, at, ML_ERR_LIMIT, "document needs more than %zu MB of memory to parse (too many values)",
                c->doc->max_bytes >> 20);
  return fail(c, at, ML_ERR_NOMEM, "out of memory while parsing JSON");
}

void ml_json_err_locate(ml_err *err) {
  if (err && err->line) ml_err_prefix(err, "line %zu, column %zu", err->line, err->column);
}

void ml_json_doc_set_max_bytes(ml_json_doc *doc, size_t max_bytes) { doc->max_bytes = max_bytes; }

/* ------------------------------------------------------------------------ */
/* strings                                                                   */

/* Pass 1 over a string body (p just after the opening quote at `open`):
 * validates everything and returns the closing quote, or NULL after reporting
 * an error.  *outlen is the unescaped length, *esc whether escapes occur. */
static const char *scan_string(pctx *c, const char *open, size_t *outlen, bool *esc) {
  const char *p = open + 1;
  const char *end = c->end;
  size_t saved = 0; /* how much shorter the unescaped text is than the raw one */
  bool any_esc = false;
  char dbuf[48];
  for (;;) {
    while (end - p >= 8) {
      uint64_t m = special_mask(load64(p));
      if (m) {
        p += first_special(m);
        break;
      }
      p += 8;
    }
    if (p >= end) {
      /* the error is at the end: where the string starts says more.  A
       * string cannot span lines (a raw newline in it is an error), so it
       * starts on the error's line, which the caller words. */
      size_t line, col;
      line_col(c->text, open, &line, &col);
      fail(c, end, ML_ERR_INPUT, "unterminated string: expected '\"' before end of input (the string starts at column %zu)",
           col);
      return NULL;
    }
    unsigned char ch = (unsigned char)*p;
    if (ch == '"') {
      *outlen = (size_t)(p - open - 1) - saved;
      *esc = any_esc;
      return p;
    }
    if (ch == '\\') {
      any_esc = true;
      if (end - p < 2) {
        fail(c, p, ML_ERR_INPUT, "unterminated escape sequence at end of input");
        return NULL;
      }
      switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          p += 2;
          saved += 1;
          continue;
        case 'u': break;
        default:
          if ((unsigned char)p[1] > 0x20 && (unsigned char)p[1] < 0x7F) {
            fail(c, p, ML_ERR_INPUT,
                 "invalid escape '\\%c' in string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", p[1]);
          } else {
            fail(c, p, ML_ERR_INPUT, "invalid escape: '\\' followed by %s in string",
                 describe(p + 1, end, dbuf, sizeof dbuf));
          }
          return NULL;
      }
      long cp = end - p >= 6 ? hex4(p + 2) : -1;
      if (cp < 0) {
        fail(c, p, ML_ERR_INPUT, "invalid \\u escape in string: expected 4 hex digits after \\u");
        return NULL;
      }
      if (cp >= 0xDC00 && cp <= 0xDFFF) {
        fail(c, p, ML_ERR_INPUT,
             "unpaired UTF-16 surrogate \\u%04lX in string (a low surrogate must follow a high surrogate "
             "\\uD800..\\uDBFF)",
             cp);
        return NULL;
      }
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        long lo = (end - p >= 12 && p[6] == '\\' && p[7] == 'u') ? hex4(p + 8) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) {
          fail(c, p, ML_ERR_INPUT,
               "unpaired UTF-16 surrogate \\u%04lX in string (a high surrogate must be followed by a low "
               "surrogate escape \\uDC00..\\uDFFF)",
               cp);
          return NULL;
        }
        p += 12;
        saved += 12 - 4;
        continue;
      }
      p += 6;
      saved += 6 - (cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3);
      continue;
    }
    if (ch < 0x20) {
      char how[8];
      switch (ch) {
        case '\b': snprintf(how, sizeof how, "\\b"); break;
        case '\f': snprintf(how, sizeof how, "\\f"); break;
        case '\n': snprintf(how, sizeof how, "\\n"); break;
        case '\r': snprintf(how, sizeof how, "\\r"); break;
        case '\t': snprintf(how, sizeof how, "\\t"); break;
        default: snprintf(how, sizeof how, "\\u%04X", ch); break;
      }
      fail(c, p, ML_ERR_INPUT, "control character %s in string must be escaped (as %s)",
           describe(p, end, dbuf, sizeof dbuf), how);
      return NULL;
    }
    if (ch >= 0x80) {
      size_t sub;
      const char *why;
      int k = utf8_seq((const unsigned char *)p, (const unsigned char *)end, &sub, &why);
      if (!k) {
        fail(c, p, ML_ERR_INPUT, "invalid UTF-8 byte 0x%02X in string (%s)", ch, why);
        return NULL;
      }
      p += k;
      continue;
    }
    p++; /* a plain byte reached by the bytewise tail */
  }
}

/* Pass 2 for strings with escapes: p..q is the validated raw body. */
static void unescape(char *dst, const char *p, const char *q) {
  while (p < q) {
    const char *bs = memchr(p, '\\', (size_t)(q - p));
    if (!bs) {
      memcpy(dst, p, (size_t)(q - p));
      dst += q - p;
      break;
    }
    memcpy(dst, p, (size_t)(bs - p));
    dst += bs - p;
    p = bs;
    char e = p[1];
    p += 2;
    switch (e) {
      case 'b': *dst++ = '\b'; break;
      case 'f': *dst++ = '\f'; break;
      case 'n': *dst++ = '\n'; break;
      case 'r': *dst++ = '\r'; break;
      case 't': *dst++ = '\t'; break;
      case 'u': {
        unsigned long cp = (unsigned long)hex4(p);
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          unsigned long lo = (unsigned long)hex4(p + 2);
          p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        dst = put_utf8(dst, cp);
        break;
      }
      default: *dst++ = e; break; /* '"', '\\', '/' */
    }
  }
  *dst = '\0';
}

/* Most keys and values are short: fixed-size (inlined) overlapping copies
 * beat a call to memcpy for them. */
static inline void copy_short(char *dst, const char *src, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a = load64(src), b = load64(src + n - 8);
    memcpy(dst, &a, 8);
    memcpy(dst + n - 8, &b, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t a, b;
    memcpy(&a, src, 4);
    memcpy(&b, src + n - 4, 4);
    memcpy(dst, &a, 4);
    memcpy(dst + n - 4, &b, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; i++) dst[i] = src[i];
  } else {
    memcpy(dst, src, n);
  }
}

/* p at the opening quote; fills v and returns the byte after the closing
 * quote, or NULL after reporting an error. */
static inline const char *parse_string(pctx *c, const char *p, ml_json_val *v) {
  size_t olen;
  bool esc;
  const char *q = scan_string(c, p, &olen, &esc);
  if (!q) return NULL;
  char *dst = arena_alloc(c->doc, olen + 1, 1);
  if (!dst) return fail_nomem(c, p), NULL;
  if (!esc) {
    copy_short(dst, p + 1, olen);
    dst[olen] = '\0';
  } else {
    unescape(dst, p + 1, q);
  }
  *v = (ml_json_val){.type = ML_JSON_STRING, .len = olen, .u.str = dst, .src = p, .src_len = (size_t)(q + 1 - p)};
  return q + 1;
}

/* ------------------------------------------------------------------------ */
/* numbers                                                                   */

#ifdef ML_FAST_FLOAT
static const double k_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#endif

/* Correctly rounded conversion of the validated number text s[0..n). */
static bool slow_strtod(pctx *c, const char *s, size_t n, double *out) {
  char local[128];
  char *buf = local;
  if (n >= sizeof local) {
    ml_json_doc *d = c->doc;
    if (n >= d->scratch_cap) {
      char *np = realloc(d->scratch, n + 1);
      if (!np) return false;
      d->scratch = np;
      d->scratch_cap = n + 1;
    }
    buf = d->scratch;
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
#ifdef ML_HAVE_STRTOD_L
  if (c->doc->cloc) {
    *out = strtod_l(buf, NULL, c->doc->cloc);
    return true;
  }
#endif
  *out = strtod(buf, NULL);
  return true;
}

/* p at '-' or a digit; fills v and returns the byte after the number, or
 * NULL after reporting an error. */
static const char *parse_number(pctx *c, const char *p, ml_json_val *v) {
  const char *start = p, *end = c->end;
  char dbuf[48];
  bool neg = false;
  if (*p == '-') {
    neg = true;
    p++;
    if (p >= end || !is_digit(*p)) {
      fail(c, p, ML_ERR_INPUT, "expected a digit after '-' in number, found %s", describe(p, end, dbuf, sizeof dbuf));
      return NULL;
    }
  }
  uint64_t mant = 0; /* the first 19-20 significant digits */
  int nd = 0;        /* significant digits held in mant */
  bool trunc = false; /* digits beyond what mant holds: strtod decides */
  int64_t e10 = 0;    /* value = mant * 10^e10 when !trunc */
  bool is_int = true;
  if (*p == '0') {
    p++;
    if (p < end && is_digit(*p)) {
      fail(c, start, ML_ERR_INPUT, "leading zeros are not allowed in numbers");
      return NULL;
    }
  } else {
    do {
      unsigned dg = (unsigned)(*p - '0');
      if (nd < 19) {
        mant = mant * 10 + dg;
        nd++;
      } else if (nd == 19 && mant <= (UINT64_MAX - dg) / 10) {
        mant = mant * 10 + dg;
        nd++;
      } else {
        trunc = true;
      }
      p++;
    } while (p < end && is_digit(*p));
  }
  if (p < end && *p == '.') {
    is_int = false;
    p++;
    if (p >= end || !is_digit(*p)) {
      fail(c, p, ML_ERR_INPUT, "expected a digit after '.' in number, found %s", describe(p, end, dbuf, sizeof dbuf));
      return NULL;
    }
    do {
      unsigned dg = (unsigned)(*p - '0');
      if (mant == 0 && dg == 0) {
        e10--; /* leading zeros of a fraction only shift the scale */
      } else if (nd < 19) {
        mant = mant * 10 + dg;
        nd++;
        e10--;
      } else {
        trunc = true;
      }
      p++;
    } while (p < end && is_digit(*p));
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    is_int = false;
    p++;
    bool eneg = false;
    if (p < end && (*p == '+' || *p == '-')) {
      eneg = *p == '-';
      p++;
    }
    if (p >= end || !is_digit(*p)) {
      fail(c, p, ML_ERR_INPUT, "expected a digit in the exponent of number, found %s",
           describe(p, end, dbuf, sizeof dbuf));
      return NULL;
    }
    int64_t ex = 0;
    do {
      if (ex < 100000000) ex = ex * 10 + (*p - '0'); /* saturate: only the fast-path test uses it */
      p++;
    } while (p < end && is_digit(*p));
    e10 += eneg ? -ex : ex;
  }
  size_t n = (size_t)(p - start);
  *v = (ml_json_val){.type = ML_JSON_NUMBER, .len = n, .u.str = start, .src = start, .src_len = n};
  double d;
  if (is_int && !trunc) {
    if (!neg && mant <= (uint64_t)INT64_MAX) {
      v->flags = ML_JSON_NUM_INT;
      v->i = (int64_t)mant;
    } else if (neg && mant <= (uint64_t)INT64_MAX + 1) {
      v->flags = ML_JSON_NUM_INT;
      v->i = mant == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mant;
    }
    d = (double)mant; /* the integer-to-double conversion rounds correctly */
    v->d = neg ? -d : d;
    return p;
  }
  if (!trunc && mant == 0) {
    v->d = neg ? -0.0 : 0.0;
    return p;
  }
#ifdef ML_FAST_FLOAT
  if (!trunc && mant <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {
    d = (double)mant;
    d = e10 < 0 ? d / k_pow10[-e10] : d * k_pow10[e10];
    v->d = neg ? -d : d;
    return p;
  }
#endif
  if (!slow_strtod(c, start, n, &d)) {
    fail_nomem(c, start);
    return NULL;
  }
  v->d = d;
  if (isinf(d)) v->flags |= ML_JSON_NUM_OVERFLOW;
  return p;
}

/* ------------------------------------------------------------------------ */
/* the parser                                                                */

static bool word_is(const char *p, const char *end, const char *w) {
  size_t n = strlen(w);
  return (size_t)(end - p) >= n && memcmp(p, w, n) == 0;
}

/* A hint for the usual reasons a value fails to start: other languages'
 * spellings and JSON5/JavaScript extensions. p < end. */
static const char *value_hint(const char *p, const char *end) {
  switch (*p) {
    case '+': return " (a number cannot start with '+')";
    case '.': return " (a number must start with a digit)";
    case '/': case '#': return " (comments are not allowed)";
    case '\'': return " (strings must use double quotes)";
    default: break;
  }
  if (word_is(p, end, "NaN") || word_is(p, end, "Infinity") || word_is(p, end, "nan") || word_is(p, end, "inf"))
    return " (NaN and Infinity are not JSON numbers)";
  if (word_is(p, end, "True") || word_is(p, end, "False") || word_is(p, end, "None") || word_is(p, end, "NULL") ||
      word_is(p, end, "Null") || word_is(p, end, "TRUE") || word_is(p, end, "FALSE"))
    return " (JSON literals are true, false and null, in lower case)";
  return "";
}

ml_status ml_json_parse(ml_json_doc *doc, const char *text, size_t len, const ml_json_val **root, ml_err *err) {
  if (root) *root = NULL;
  if (!doc || !root || (!text && len)) return ml_err_set(err, ML_ERR_STATE, "ml_json_parse: missing document, text or result");
  if (!text) text = "";
  arena_reset(doc);
  doc->vlen = 0;
  doc->flen = 0;
  pctx c = {text, text + len, err, doc, ML_OK};
  const char *p = text;
  const char *const end = text + len;
  ml_json_val *v;
  char dbuf[48];
  bool in_obj = false; /* kind of the innermost open container, kept in a register */

value:
  p = skip_ws(p, end);
  if (p >= end) return fail(&c, p, ML_ERR_INPUT, "expected a JSON value, found end of input");
  switch (*p) {
    case '{':
    case '[':
      if (doc->flen >= ML_JSON_MAX_DEPTH)
        return fail(&c, p, ML_ERR_LIMIT, "JSON nesting deeper than %d levels", ML_JSON_MAX_DEPTH);
      if (doc->flen == doc->fcap && !grow_frames(doc)) return fail_nomem(&c, p);
      doc->fstk[doc->flen++] = (frame){doc->vlen, p};
      in_obj = *p++ == '{';
      if (in_obj) {
        p = skip_ws(p, end);
        if (p < end && *p == '}') goto close;
        if (p < end && *p == '"') goto key;
        return fail(&c, p, ML_ERR_INPUT, "expected a string key or '}' after '{', found %s%s",
                    describe(p, end, dbuf, sizeof dbuf), p < end && *p == '\'' ? " (keys must use double quotes)" : "");
      }
      p = skip_ws(p, end);
      if (p < end && *p == ']') goto close;
      goto value;
    case '"':
      if (!(v = push_val(doc))) return fail_nomem(&c, p);
      if (!(p = parse_string(&c, p, v))) return c.status;
      goto after;
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
      if (!(v = push_val(doc))) return fail_nomem(&c, p);
      if (!(p = parse_number(&c, p, v))) return c.status;
      goto after;
    case 't':
      if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
        if (!(v = push_val(doc))) return fail_nomem(&c, p);
        *v = (ml_json_val){.type = ML_JSON_TRUE, .src = p, .src_len = 4};
        p += 4;
        goto after;
      }
      break;
    case 'f':
      if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
        if (!(v = push_val(doc))) return fail_nomem(&c, p);
        *v = (ml_json_val){.type = ML_JSON_FALSE, .src = p, .src_len = 5};
        p += 5;
        goto after;
      }
      break;
    case 'n':
      if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
        if (!(v = push_val(doc))) return fail_nomem(&c, p);
        *v = (ml_json_val){.type = ML_JSON_NULL, .src = p, .src_len = 4};
        p += 4;
        goto after;
      }
      break;
    default:
      break;
  }
  return fail(&c, p, ML_ERR_INPUT, "expected a JSON value, found %s%s", describe(p, end, dbuf, sizeof dbuf),
              value_hint(p, end));

key: /* p at the '"' of a member key */
  if (!(v = push_val(doc))) return fail_nomem(&c, p);
  if (!(p = parse_string(&c, p, v))) return c.status;
  p = skip_ws(p, end);
  if (p >= end || *p != ':')
    return fail(&c, p, ML_ERR_INPUT, "expected ':' after object key, found %s", describe(p, end, dbuf, sizeof dbuf));
  p++;
  goto value;

close: { /* p at the ']' or '}' that closes the innermost container */
  frame f = doc->fstk[--doc->flen];
  size_t n = doc->vlen - f.vstart;
  ml_json_val *items = NULL;
  if (n) {
    items = arena_alloc(doc, n * sizeof *items, _Alignof(ml_json_val));
    if (!items) return fail_nomem(&c, p);
    memcpy(items, doc->vstk + f.vstart, n * sizeof *items);
  }
  doc->vlen = f.vstart;
  if (!(v = push_val(doc))) return fail_nomem(&c, p);
  bool obj = *f.open == '{';
  *v = (ml_json_val){.type = obj ? ML_JSON_OBJECT : ML_JSON_ARRAY,
                     .len = obj ? n / 2 : n,
                     .u.items = items,
                     .src = f.open,
                     .src_len = (size_t)(p + 1 - f.open)};
  p++;
  if (doc->flen) in_obj = *doc->fstk[doc->flen - 1].open == '{';
}
  /* fall through */

after: /* a value just ended */
  if (doc->flen == 0) goto done;
  p = skip_ws(p, end);
  if (in_obj) {
    if (p < end && *p == ',') {
      p = skip_ws(p + 1, end);
      if (p < end && *p == '"') goto key;
      return fail(&c, p, ML_ERR_INPUT, "expected a string key after ',' in object, found %s%s",
                  describe(p, end, dbuf, sizeof dbuf),
                  p < end && *p == '}' ? " (trailing commas are not allowed)" : "");
    }
    if (p < end && *p == '}') goto close;
    return fail(&c, p, ML_ERR_INPUT, "expected ',' or '}' after object member, found %s",
                describe(p, end, dbuf, sizeof dbuf));
  }
  if (p < end && *p == ',') {
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']')
      return fail(&c, p, ML_ERR_INPUT, "expected a value after ',' in array, found ']' (trailing commas are not allowed)");
    goto value;
  }
  if (p < end && *p == ']') goto close;
  return fail(&c, p, ML_ERR_INPUT, "expected ',' or ']' after array element, found %s",
              describe(p, end, dbuf, sizeof dbuf));

done:
  p = skip_ws(p, end);
  if (p != end)
    return fail(&c, p, ML_ERR_INPUT, "expected end of input after the JSON value, found %s",
                describe(p, end, dbuf, sizeof dbuf));
  {
    ml_json_val *r = arena_alloc(doc, sizeof *r, _Alignof(ml_json_val));
    if (!r) return fail_nomem(&c, text);
    *r = doc->vstk[0];
    *root = r;
  }
  return ML_OK;
}

/* ------------------------------------------------------------------------ */
/* lookup                                                                    */

const ml_json_val *ml_json_getn(const ml_json_val *obj, const char *key, size_t key_len) {
  if (!obj || obj->type != ML_JSON_OBJECT || !key) return NULL;
  /* backwards, so the last of duplicate keys wins */
  for (size_t i = obj->len; i-- > 0;) {
    const ml_json_val *k = &obj->u.items[2 * i];
    /* the first byte tells most keys of an envelope apart without a call */
    if (k->len == key_len && (!key_len || k->u.str[0] == key[0]) && memcmp(k->u.str, key, key_len) == 0)
      return &obj->u.items[2 * i + 1];
  }
  return NULL;
}

const char *ml_json_get_str(const ml_json_val *obj, const char *key) {
  const ml_json_val *v = ml_json_get(obj, key);
  return v && v->type == ML_JSON_STRING ? v->u.str : NULL;
}

/* ------------------------------------------------------------------------ */
/* equality                                                                  */

/* A number's value as sign, significant digits and the decimal exponent of
 * the first significant digit, read straight from its (valid) source text so
 * that comparison is exact for any number of digits. */
typedef struct dec {
  bool zero;
  bool neg;
  bool huge_exp; /* exponent too long to hold: compare doubles instead */
  const char *first; /* first significant digit */
  size_t nsig;       /* significant digits (the '.' not counted) */
  int64_t sci;       /* value = 0.d1d2d3... * 10^(sci + 1) */
} dec;

static void dec_read(const char *s, size_t n, dec *o) {
  const char *p = s, *end = s + n;
  memset(o, 0, sizeof *o);
  if (p < end && *p == '-') {
    o->neg = true;
    p++;
  }
  const char *mant = p;
  while (p < end && (is_digit(*p) || *p == '.')) p++;
  const char *mend = p;
  int64_t ex = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    bool eneg = false;
    if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    while (p < end && *p == '0') p++;
    if (end - p > 17) o->huge_exp = true;
    /* a huge exponent is flagged, not summed: 18+ digits would overflow */
    if (!o->huge_exp)
      for (; p < end && is_digit(*p); p++) ex = ex * 10 + (*p - '0');
    if (eneg) ex = -ex;
  }
  const char *dot = memchr(mant, '.', (size_t)(mend - mant));
  int64_t intlen = (int64_t)((dot ? dot : mend) - mant);
  /* position (in digits, '.' skipped) of the first non-zero digit */
  const char *f = mant;
  int64_t k = 0;
  while (f < mend && (*f == '0' || *f == '.')) {
    if (*f == '0') k++;
    f++;
  }
  if (f == mend) {
    o->zero = true;
    return;
  }
  const char *l = mend - 1;
  while (*l == '0' || *l == '.') l--;
  size_t cnt = (size_t)(l - f + 1);
  if (dot && f < dot && l > dot) cnt--;
  o->first = f;
  o->nsig = cnt;
  o->sci = intlen - 1 - k + ex;
}

static bool num_equal(const ml_json_val *a, const ml_json_val *b) {
  if (a->flags & b->flags & ML_JSON_NUM_INT) return a->i == b->i;
  if (!a->u.str || !b->u.str) return a->d == b->d;
  dec x, y;
  dec_read(a->u.str, a->len, &x);
  dec_read(b->u.str, b->len, &y);
  if (x.zero || y.zero) return x.zero && y.zero;
  if (x.huge_exp || y.huge_exp) return a->d == b->d && x.neg == y.neg;
  if (x.neg != y.neg || x.nsig != y.nsig || x.sci != y.sci) return false;
  const char *p = x.first, *q = y.first;
  for (size_t i = 0; i < x.nsig; i++, p++, q++) {
    if (*p == '.') p++;
    if (*q == '.') q++;
    if (*p != *q) return false;
  }
  return true;
}

static inline bool str_equal(const ml_json_val *a, const ml_json_val *b) {
  return a->len == b->len && (a->len == 0 || memcmp(a->u.str, b->u.str, a->len) == 0);
}

typedef struct vpair {
  const ml_json_val *a, *b;
} vpair;

typedef struct pstack {
  vpair *p;
  size_t n, cap;
  vpair inl[64];
  bool oom;
} pstack;

static bool ps_push(pstack *s, const ml_json_val *a, const ml_json_val *b) {
  if (s->n == s->cap) {
    size_t cap = s->cap * 2;
    vpair *np;
    if (s->p == s->inl) {
      np = malloc(cap * sizeof *np);
      if (np) memcpy(np, s->inl, s->n * sizeof *np);
    } else {
      np = realloc(s->p, cap * sizeof *np);
    }
    if (!np) {
      s->oom = true;
      return false;
    }
    s->p = np;
    s->cap = cap;
  }
  s->p[s->n++] = (vpair){a, b};
  return true;
}

static int key_cmp(const void *x, const void *y) {
  const ml_json_val *a = *(const ml_json_val *const *)x, *b = *(const ml_json_val *const *)y;
  size_t n = a->len < b->len ? a->len : b->len;
  int r = n ? memcmp(a->u.str, b->u.str, n) : 0;
  if (r) return r;
  if (a->len != b->len) return a->len < b->len ? -1 : 1;
  /* keys are contiguous in the items array: address order is member order */
  return a < b ? -1 : a > b ? 1 : 0;
}

/* Pushes the value pairs of two objects compared as maps (last duplicate
 * wins); false when the key sets differ.  Small objects: quadratic scans.
 * Large ones: sort key pointers, so equality stays O(n log n). */
static bool obj_pairs(pstack *s, const ml_json_val *a, const ml_json_val *b) {
  size_t na = a->len, nb = b->len;
  if (na > 16 || nb > 16) {
    const ml_json_val **ka = malloc((na + nb + 1) * sizeof *ka);
    if (ka) {
      const ml_json_val **kb = ka + na;
      for (size_t i = 0; i < na; i++) ka[i] = &a->u.items[2 * i];
      for (size_t i = 0; i < nb; i++) kb[i] = &b->u.items[2 * i];
      qsort(ka, na, sizeof *ka, key_cmp);
      qsort(kb, nb, sizeof *kb, key_cmp);
      size_t i = 0, j = 0;
      bool ok = true;
      while (ok && (i < na || j < nb)) {
        if (i >= na || j >= nb) {
          ok = false;
          break;
        }
        /* last of each run of equal keys is the effective member */
        while (i + 1 < na && str_equal(ka[i], ka[i + 1])) i++;
        while (j + 1 < nb && str_equal(kb[j], kb[j + 1])) j++;
        if (!str_equal(ka[i], kb[j]) || !ps_push(s, ka[i] + 1, kb[j] + 1)) ok = false;
        i++;
        j++;
      }
      free(ka);
      return ok;
    }
  }
  size_t distinct_a = 0, distinct_b = 0;
  for (size_t i = 0; i < na; i++) {
    const ml_json_val *k = &a->u.items[2 * i];
    bool later = false;
    for (size_t t = i + 1; t < na && !later; t++) later = str_equal(k, &a->u.items[2 * t]);
    if (later) continue;
    distinct_a++;
    const ml_json_val *bv = ml_json_getn(b, k->u.str, k->len);
    if (!bv || !ps_push(s, &a->u.items[2 * i + 1], bv)) return false;
  }
  for (size_t i = 0; i < nb; i++) {
    const ml_json_val *k = &b->u.items[2 * i];
    bool later = false;
    for (size_t t = i + 1; t < nb && !later; t++) later = str_equal(k, &b->u.items[2 * t]);
    if (!later) distinct_b++;
  }
  return distinct_a == distinct_b;
}

bool ml_json_equal(const ml_json_val *a, const ml_json_val *b) {
  pstack s;
  s.p = s.inl;
  s.n = 0;
  s.cap = sizeof s.inl / sizeof s.inl[0];
  s.oom = false;
  bool eq = true;
  ps_push(&s, a, b);
  while (eq && s.n) {
    vpair pr = s.p[--s.n];
    const ml_json_val *x = pr.a, *y = pr.b;
    if (x == y) continue;
    if (!x || !y || x->type != y->type) {
      eq = false;
      break;
    }
    switch (x->type) {
      case ML_JSON_NULL: case ML_JSON_FALSE: case ML_JSON_TRUE: break;
      case ML_JSON_NUMBER: eq = num_equal(x, y); break;
      case ML_JSON_STRING: eq = str_equal(x, y); break;
      case ML_JSON_ARRAY:
        if (x->len != y->len) {
          eq = false;
          break;
        }
        /* pushed in reverse so elements are compared first to last */
        for (size_t i = x->len; i-- > 0 && eq;) eq = ps_push(&s, &x->u.items[i], &y->u.items[i]);
        break;
      case ML_JSON_OBJECT: eq = obj_pairs(&s, x, y); break;
      default: eq = false; break;
    }
  }
  if (s.p != s.inl) free(s.p);
  return eq;
}

/* ------------------------------------------------------------------------ */
/* writer                                                                    */

static const char k_hex[] = "0123456789abcdef";

void ml_json_quote(ml_buf *out, const char *s, size_t n) {
  if (!ml_buf_reserve(out, n + 2)) return;
  ml_buf_putc(out, '"');
  const char *p = s, *end = s + n, *run = s;
  while (p < end) {
    while (end - p >= 8) {
      uint64_t m = special_mask(load64(p));
      if (m) {
        p += first_special(m);
        break;
      }
      p += 8;
    }
    if (p >= end) break;
    unsigned char ch = (unsigned char)*p;
    if (ch >= 0x20 && ch != '"' && ch != '\\' && ch < 0x80) {
      p++;
      continue;
    }
    if (ch >= 0x80) {
      size_t sub;
      const char *why;
      int k = utf8_seq((const unsigned char *)p, (const unsigned char *)end, &sub, &why);
      if (k) {
        p += k;
        continue;
      }
      ml_buf_append(out, run, (size_t)(p - run));
      ml_buf_append(out, "\xEF\xBF\xBD", 3); /* U+FFFD per maximal ill-formed subpart */
      p += sub;
      run = p;
      continue;
    }
    ml_buf_append(out, run, (size_t)(p - run));
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t en = 2;
    switch (ch) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = k_hex[ch >> 4];
        esc[5] = k_hex[ch & 15];
        en = 6;
        break;
    }
    ml_buf_append(out, esc, en);
    p++;
    run = p;
  }
  ml_buf_append(out, run, (size_t)(end - run));
  ml_buf_putc(out, '"');
}

void ml_jw_init(ml_jw *w, ml_buf *out) {
  memset(w, 0, sizeof *w);
  w->out = out;
  if (!out) w->bad = true;
}

#define JW_MAXDEPTH (sizeof(((ml_jw *)0)->state) - 1)

/* Bookkeeping before any value: the comma, the top-level single-value rule
 * and "objects need a key first".  False (and bad set) on misuse. */
static bool jw_value(ml_jw *w) {
  if (w->bad) return false;
  uint32_t d = w->depth;
  if (d == 0) {
    if (w->state[0]) return w->bad = true, false; /* one value per document */
    w->state[0] = 1;
    return true;
  }
  if (w->is_obj[d]) {
    if (w->state[d] != 2) return w->bad = true, false;
    w->state[d] = 1;
    return true;
  }
  if (w->state[d] == 1) ml_buf_putc(w->out, ',');
  w->state[d] = 1;
  return true;
}

static void jw_open(ml_jw *w, bool obj) {
  if (!jw_value(w)) return;
  if (w->depth >= JW_MAXDEPTH) {
    w->bad = true;
    return;
  }
  w->depth++;
  w->state[w->depth] = 0;
  w->is_obj[w->depth] = obj;
  ml_buf_putc(w->out, obj ? '{' : '[');
}

static void jw_close(ml_jw *w, bool obj) {
  if (w->bad) return;
  uint32_t d = w->depth;
  if (d == 0 || w->is_obj[d] != obj || w->state[d] == 2) {
    w->bad = true;
    return;
  }
  w->depth--;
  ml_buf_putc(w->out, obj ? '}' : ']');
}

void ml_jw_obj_begin(ml_jw *w) { jw_open(w, true); }
void ml_jw_obj_end(ml_jw *w) { jw_close(w, true); }
void ml_jw_arr_begin(ml_jw *w) { jw_open(w, false); }
void ml_jw_arr_end(ml_jw *w) { jw_close(w, false); }

void ml_jw_keyn(ml_jw *w, const char *key, size_t n) {
  if (w->bad) return;
  uint32_t d = w->depth;
  if (d == 0 || !w->is_obj[d] || w->state[d] == 2 || (!key && n)) {
    w->bad = true;
    return;
  }
  if (w->state[d] == 1) ml_buf_putc(w->out, ',');
  ml_json_quote(w->out, key ? key : "", n);
  ml_buf_putc(w->out, ':');
  w->state[d] = 2;
}

void ml_jw_key(ml_jw *w, const char *key) {
  if (!key) {
    w->bad = true;
    return;
  }
  ml_jw_keyn(w, key, strlen(key));
}

void ml_jw_null(ml_jw *w) {
  if (jw_value(w)) ml_buf_append(w->out, "null", 4);
}

void ml_jw_strn(ml_jw *w, const char *s, size_t n) {
  if (!s) {
    ml_jw_null(w);
    return;
  }
  if (jw_value(w)) ml_json_quote(w->out, s, n);
}

void ml_jw_str(ml_jw *w, const char *s) {
  if (!s) {
    ml_jw_null(w);
    return;
  }
  ml_jw_strn(w, s, strlen(s));
}

/* Digits of v written backwards ending at buf+21; returns the first. */
static char *fmt_u64(char *end, uint64_t v) {
  char *p = end;
  do {
    *--p = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return p;
}

void ml_jw_int(ml_jw *w, int64_t v) {
  if (!jw_value(w)) return;
  char buf[24];
  char *end = buf + sizeof buf;
  uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  char *p = fmt_u64(end, mag);
  if (v < 0) *--p = '-';
  ml_buf_append(w->out, p, (size_t)(end - p));
}

void ml_jw_uint(ml_jw *w, uint64_t v) {
  if (!jw_value(w)) return;
  char buf[24];
  char *end = buf + sizeof buf;
  char *p = fmt_u64(end, v);
  ml_buf_append(w->out, p, (size_t)(end - p));
}

/* printf's %g writes the locale's decimal point: turn whatever is not part of
 * a JSON number back into '.'. */
static size_t normalize_point(char *s, size_t n) {
  size_t o = 0;
  bool in_other = false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (is_digit(ch) || ch == '-' || ch == '+' || ch == 'e' || ch == 'E') {
      s[o++] = ch;
      in_other = false;
    } else if (!in_other) {
      s[o++] = '.';
      in_other = true;
    }
  }
  return o;
}

void ml_jw_double(ml_jw *w, double v) {
  if (!isfinite(v)) {
    ml_jw_null(w);
    return;
  }
  if (!jw_value(w)) return;
  char buf[64];
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, sizeof buf, "%.*g", prec, v);
    /* strtod and snprintf share the current locale, so the check is sound
       before the decimal point is normalized */
    if (prec == 17 || strtod(buf, NULL) == v) break;
  }
  if (n <= 0 || (size_t)n >= sizeof buf) {
    w->bad = true;
    return;
  }
  ml_buf_append(w->out, buf, normalize_point(buf, (size_t)n));
}

void ml_jw_bool(ml_jw *w, bool v) {
  if (jw_value(w)) ml_buf_append(w->out, v ? "true" : "false", v ? 4 : 5);
}

void ml_jw_raw(ml_jw *w, const char *json, size_t n) {
  if (!json || !n) {
    if (!w->bad) w->bad = true;
    return;
  }
  if (jw_value(w)) ml_buf_append(w->out, json, n);
}

typedef struct wframe {
  const ml_json_val *c;
  size_t i;
} wframe;

static void write_scalar(ml_buf *out, const ml_json_val *v) {
  switch (v->type) {
    case ML_JSON_NULL: ml_buf_append(out, "null", 4); break;
    case ML_JSON_FALSE: ml_buf_append(out, "false", 5); break;
    case ML_JSON_TRUE: ml_buf_append(out, "true", 4); break;
    case ML_JSON_STRING: ml_json_quote(out, v->u.str ? v->u.str : "", v->u.str ? v->len : 0); break;
    case ML_JSON_NUMBER:
      if (v->u.str && v->len) {
        ml_buf_append(out, v->u.str, v->len);
      } else {
        /* a hand-built number without text: format its double */
        ml_jw tmp;
        ml_jw_init(&tmp, out);
        ml_jw_double(&tmp, v->d);
      }
      break;
    default: ml_buf_append(out, "null", 4); break;
  }
}

/* Writes a whole tree with an explicit stack (inline for the usual shallow
 * documents, on the heap beyond).  False when out of memory. */
static bool write_tree(ml_buf *out, const ml_json_val *v) {
  wframe inl[32];
  wframe *st = inl;
  size_t n = 0, cap = sizeof inl / sizeof inl[0];
  bool ok = true;
  for (;;) {
    bool container = (v->type == ML_JSON_ARRAY || v->type == ML_JSON_OBJECT) && v->len > 0;
    if (!container) {
      if (v->type == ML_JSON_ARRAY) {
        ml_buf_append(out, "[]", 2);
      } else if (v->type == ML_JSON_OBJECT) {
        ml_buf_append(out, "{}", 2);
      } else {
        write_scalar(out, v);
      }
    } else {
      if (n == cap) {
        size_t ncap = cap * 2;
        wframe *np;
        if (st == inl) {
          np = malloc(ncap * sizeof *np);
          if (np) memcpy(np, inl, n * sizeof *np);
        } else {
          np = realloc(st, ncap * sizeof *np);
        }
        if (!np) {
          ok = false;
          break;
        }
        st = np;
        cap = ncap;
      }
      st[n++] = (wframe){v, 0};
      if (v->type == ML_JSON_OBJECT) {
        ml_buf_putc(out, '{');
        write_scalar(out, &v->u.items[0]);
        ml_buf_putc(out, ':');
        v = &v->u.items[1];
      } else {
        ml_buf_putc(out, '[');
        v = &v->u.items[0];
      }
      continue;
    }
    /* the value is complete: climb until a container has a next child */
    while (n) {
      wframe *f = &st[n - 1];
      if (++f->i < f->c->len) {
        ml_buf_putc(out, ',');
        if (f->c->type == ML_JSON_OBJECT) {
          write_scalar(out, &f->c->u.items[2 * f->i]);
          ml_buf_putc(out, ':');
          v = &f->c->u.items[2 * f->i + 1];
        } else {
          v = &f->c->u.items[f->i];
        }
        break;
      }
      ml_buf_putc(out, f->c->type == ML_JSON_OBJECT ? '}' : ']');
      n--;
    }
    if (n == 0) break;
    if (out->oom) break;
  }
  if (st != inl) free(st);
  return ok;
}

void ml_jw_val(ml_jw *w, const ml_json_val *v) {
  if (!v) {
    ml_jw_null(w);
    return;
  }
  if (!jw_value(w)) return;
  if (!write_tree(w->out, v)) w->bad = true;
}

bool ml_jw_done(const ml_jw *w) { return !w->bad && w->out && !w->out->oom && w->depth == 0 && w->state[0] == 1; }
