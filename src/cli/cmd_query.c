/* mallard query: look into a DuckDB file without installing another tool.
 *
 *   mallard query DB            lists the user tables with their row counts
 *   mallard query DB "SQL"      runs SQL, prints each result as an aligned table
 *   ... --json                  one JSON object per row instead (NDJSON)
 *
 * The file is opened READ ONLY unless --write is given, so a query never
 * changes it.  docs/query.md describes the behaviour for users.
 *
 * How values become text.  Results are read with the chunk API only
 * (duckdb_fetch_chunk).  The types that have a plain C representation
 * (BOOLEAN, the signed and unsigned integers up to 64 bits, FLOAT, DOUBLE,
 * VARCHAR) are read from the vectors directly.  Every other type (DATE,
 * TIMESTAMP[TZ], TIME, INTERVAL, DECIMAL, HUGEINT, UUID, BLOB, ENUM, LIST,
 * STRUCT, MAP, ARRAY, UNION, BIT, BIGNUM, ...) is turned into text by DuckDB
 * itself, exactly as `CAST(x AS VARCHAR)` gives it: the materialized result of
 * the user's statement is exposed to SQL through a table function
 * (_mallard_query_result, registered once per database and reading whatever
 * result q_source points at), and a second query
 *     SELECT c0, CAST(c1 AS VARCHAR), ... FROM _mallard_query_result()
 * hands back a result whose columns all have directly readable types.  This
 * works for every statement that returns rows (SELECT, PRAGMA, CALL, SHOW,
 * EXPLAIN, ... RETURNING) because it never rewrites the user's SQL.
 *
 * Ownership: everything allocated here is owned by the function that
 * allocated it or by the q_ctx / q_table it is stored in, and is freed before
 * ml_cmd_query returns.  There is no global mutable state. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <duckdb.h>

#include "../json/ml_json.h"
#include "../util/ml_buf.h"
#include "ml_cli.h"

#define Q_PREFIX "mallard query: "
/* Widest a table column may get, in terminal columns; longer values are cut
 * and end with an ellipsis. */
#define Q_MAX_WIDTH 60
/* Name of the table function through which a result is cast to text. */
#define Q_SOURCE_FN "_mallard_query_result"
/* Flush pending output once it is this large. */
#define Q_FLUSH_AT (64u * 1024u)

typedef struct q_opts {
  bool json;         /* --json */
  bool all;          /* --all: list _mallard_* tables too */
  bool write;        /* --write: open read-write, create the file if missing */
  const char *db;    /* database path (argv string, not owned) */
  const char *sql;   /* SQL text (argv string, not owned); NULL: list tables */
  bool sql_stdin;    /* SQL argument was "-": read it from stdin */
} q_opts;

/* How a column is printed. */
typedef enum q_kind {
  Q_TEXT,    /* VARCHAR or text produced by DuckDB's cast: left-aligned, JSON string */
  Q_JSONTXT, /* DuckDB type JSON: JSON mode inserts it as JSON, not as a string */
  Q_BOOL,    /* BOOLEAN */
  Q_INT,     /* TINYINT..BIGINT */
  Q_UINT,    /* UTINYINT..UBIGINT */
  Q_FLOAT,   /* FLOAT read natively (JSON mode only) */
  Q_DOUBLE,  /* DOUBLE read natively (JSON mode only) */
  Q_NUMTEXT  /* a number DuckDB turned into text (DECIMAL, HUGEINT, doubles in
                table mode, ...): right-aligned, a JSON number when it is one */
} q_kind;

typedef struct q_col {
  const char *name; /* points into the user's result (valid while it lives) */
  q_kind kind;
  bool cast;        /* converted to VARCHAR by the conversion query */
} q_col;

/* What the _mallard_query_result table function reads: the result set here
 * just before the conversion query runs (not owned). */
typedef struct q_source {
  duckdb_result *res;
} q_source;

/* Per-scan state of the table function: the chunk whose vectors the output
 * currently references (owned; destroyed on the next call or at the end). */
typedef struct q_scan {
  duckdb_data_chunk held;
} q_scan;

/* One cell of a table being laid out: text[off..off+len) in q_table.text,
 * already escaped and cut to Q_MAX_WIDTH; width in terminal columns. */
typedef struct q_cell {
  size_t off;
  size_t len;
  size_t width;
} q_cell;

/* A whole result kept for layout (column widths depend on every row). */
typedef struct q_table {
  size_t ncols;
  size_t nrows;
  size_t cap_rows;
  q_cell *cells; /* nrows * ncols, owned */
  ml_buf text;   /* owned */
  bool oom;
} q_table;

typedef struct q_ctx {
  const q_opts *opt;
  duckdb_connection con;
  q_source *src;      /* owned by ml_cmd_query; shared with the table function */
  ml_buf out;         /* pending standard output, owned */
  ml_json_doc *jdoc;  /* JSON mode, created on first use, owned */
  size_t nresults;    /* result tables printed so far */
} q_ctx;

/* ------------------------------------------------------------------------ */
/* output */

static bool flush_out(ml_buf *out) {
  if (out->oom) return false;
  if (out->len && fwrite(out->data, 1, out->len, stdout) != out->len) return false;
  ml_buf_reset(out);
  return true;
}

static void usage(FILE *f) {
  fputs("usage: mallard query DB [SQL] [--json] [--all] [--write]\n"
        "\n"
        "Without SQL, lists the tables of the DuckDB file DB (schema, table, row\n"
        "count).  With SQL, runs it and prints every result that has rows as an\n"
        "aligned table; several statements separated by ';' run in order.  SQL '-'\n"
        "reads the SQL from standard input.  DB ':memory:' is an empty in-memory\n"
        "database.\n"
        "\n"
        "options:\n"
        "  --json      print one JSON object per row (newline-delimited JSON)\n"
        "  --all       also list mallard's own _mallard_* tables\n"
        "  --write     open DB read-write (creating it if missing) so SQL may\n"
        "              change it; by default DB is opened read-only\n"
        "  --          what follows is DB and SQL, even if it starts with '-'\n"
        "  -h, --help  show this text\n"
        "\n"
        "exit status: 0 ok, 1 SQL or database error, 2 usage error,\n"
        "3 DB is locked by another process\n",
        f);
}

static int usage_error(const char *fmt, const char *arg) {
  fputs(Q_PREFIX, stderr);
  fprintf(stderr, fmt, arg);
  fputs("\n(mallard query --help shows the usage)\n", stderr);
  return ML_EXIT_USAGE;
}

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

typedef struct q_range {
  uint32_t lo, hi;
} q_range;

static bool in_ranges(uint32_t cp, const q_range *r, size_t n) {
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
  static const q_range zero[] = {
      {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x05BF, 0x05BF}, {0x05C1, 0x05C2},
      {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A}, {0x064B, 0x065F}, {0x0670, 0x0670},
      {0x06D6, 0x06DC}, {0x06DF, 0x06E4}, {0x06E7, 0x06E8}, {0x06EA, 0x06ED}, {0x0900, 0x0902},
      {0x093A, 0x093A}, {0x093C, 0x093C}, {0x0941, 0x0948}, {0x094D, 0x094D}, {0x0951, 0x0957},
      {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF},
      {0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x2064}, {0x20D0, 0x20FF}, {0xFE00, 0xFE0F},
      {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0x1F3FB, 0x1F3FF}, {0xE0001, 0xE0001},
      {0xE0020, 0xE007F}, {0xE0100, 0xE01EF},
  };
  static const q_range wide[] = {
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

/* ------------------------------------------------------------------------ */
/* numbers */

/* True when s[0..n) is a JSON number (RFC 8259 grammar). */
static bool is_json_number(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  if (i >= n) return false;
  if (s[i] == '0') {
    i++;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == d) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == d) return false;
  }
  return i == n;
}

/* Shortest %g text that reads back as the same float (f finite). */
static void float_text(char *buf, size_t size, float f) {
  for (int prec = 1; prec <= 9; prec++) {
    snprintf(buf, size, "%.*g", prec, (double)f);
    if (strtof(buf, NULL) == f) return;
  }
}

/* ------------------------------------------------------------------------ */
/* columns and vectors */

static bool vec_valid(const uint64_t *validity, idx_t row) {
  return !validity || (validity[row / 64] >> (row % 64)) & 1u;
}

/* Decides how column i of res is read and printed. */
static q_col classify(duckdb_result *res, idx_t i, bool json) {
  q_col c = {duckdb_column_name(res, i), Q_TEXT, false};
  switch (duckdb_column_type(res, i)) {
  case DUCKDB_TYPE_BOOLEAN:
    c.kind = Q_BOOL;
    break;
  case DUCKDB_TYPE_TINYINT:
  case DUCKDB_TYPE_SMALLINT:
  case DUCKDB_TYPE_INTEGER:
  case DUCKDB_TYPE_BIGINT:
    c.kind = Q_INT;
    break;
  case DUCKDB_TYPE_UTINYINT:
  case DUCKDB_TYPE_USMALLINT:
  case DUCKDB_TYPE_UINTEGER:
  case DUCKDB_TYPE_UBIGINT:
    c.kind = Q_UINT;
    break;
  case DUCKDB_TYPE_FLOAT:
  case DUCKDB_TYPE_DOUBLE:
    /* JSON needs the value; a table shows DuckDB's own text (1.0, 1e+20). */
    if (json) {
      c.kind = duckdb_column_type(res, i) == DUCKDB_TYPE_FLOAT ? Q_FLOAT : Q_DOUBLE;
    } else {
      c.kind = Q_NUMTEXT, c.cast = true;
    }
    break;
  case DUCKDB_TYPE_HUGEINT:
  case DUCKDB_TYPE_UHUGEINT:
  case DUCKDB_TYPE_DECIMAL:
  case DUCKDB_TYPE_BIGNUM:
    c.kind = Q_NUMTEXT, c.cast = true;
    break;
  case DUCKDB_TYPE_VARCHAR: {
    duckdb_logical_type lt = duckdb_column_logical_type(res, i);
    char *alias = duckdb_logical_type_get_alias(lt);
    if (alias && !strcmp(alias, "JSON")) c.kind = Q_JSONTXT;
    if (alias) duckdb_free(alias);
    duckdb_destroy_logical_type(&lt);
    break;
  }
  default:
    c.cast = true; /* everything else: DuckDB's VARCHAR cast */
    break;
  }
  return c;
}

/* A column of the chunk being read: its data, validity mask and type. */
typedef struct q_vec {
  void *data;
  uint64_t *valid;
  duckdb_type type;
} q_vec;

static void load_vecs(duckdb_data_chunk ch, q_vec *vs, size_t nc) {
  for (size_t c = 0; c < nc; c++) {
    duckdb_vector v = duckdb_data_chunk_get_vector(ch, c);
    duckdb_logical_type lt = duckdb_vector_get_column_type(v);
    vs[c].data = duckdb_vector_get_data(v);
    vs[c].valid = duckdb_vector_get_validity(v);
    vs[c].type = duckdb_get_type_id(lt);
    duckdb_destroy_logical_type(&lt);
  }
}

/* The text of one non-NULL value for a table cell, in *s and *n; numbers are
 * formatted into buf (at least 64 bytes). */
static void value_text(const q_vec *v, idx_t row, char *buf, size_t size, const char **s, size_t *n) {
  const void *d = v->data;
  switch (v->type) {
  case DUCKDB_TYPE_BOOLEAN:
    *s = ((const bool *)d)[row] ? "true" : "false";
    *n = strlen(*s);
    return;
  case DUCKDB_TYPE_VARCHAR: {
    duckdb_string_t *str = &((duckdb_string_t *)v->data)[row];
    *s = duckdb_string_t_data(str);
    *n = duckdb_string_t_length(*str);
    return;
  }
  case DUCKDB_TYPE_TINYINT: snprintf(buf, size, "%d", (int)((const int8_t *)d)[row]); break;
  case DUCKDB_TYPE_SMALLINT: snprintf(buf, size, "%d", (int)((const int16_t *)d)[row]); break;
  case DUCKDB_TYPE_INTEGER: snprintf(buf, size, "%ld", (long)((const int32_t *)d)[row]); break;
  case DUCKDB_TYPE_BIGINT: snprintf(buf, size, "%lld", (long long)((const int64_t *)d)[row]); break;
  case DUCKDB_TYPE_UTINYINT: snprintf(buf, size, "%u", (unsigned)((const uint8_t *)d)[row]); break;
  case DUCKDB_TYPE_USMALLINT: snprintf(buf, size, "%u", (unsigned)((const uint16_t *)d)[row]); break;
  case DUCKDB_TYPE_UINTEGER: snprintf(buf, size, "%lu", (unsigned long)((const uint32_t *)d)[row]); break;
  case DUCKDB_TYPE_UBIGINT: snprintf(buf, size, "%llu", (unsigned long long)((const uint64_t *)d)[row]); break;
  default: snprintf(buf, size, "?"); break; /* not reached: classify() casts the rest */
  }
  *s = buf;
  *n = strlen(buf);
}

/* ------------------------------------------------------------------------ */
/* the table function exposing a materialized result to SQL */

static void scan_free(void *p) {
  q_scan *s = p;
  if (s->held) duckdb_destroy_data_chunk(&s->held);
  free(s);
}

static void source_bind(duckdb_bind_info info) {
  q_source *src = duckdb_bind_get_extra_info(info);
  if (!src || !src->res) {
    duckdb_bind_set_error(info, Q_SOURCE_FN " is internal to mallard query");
    return;
  }
  idx_t n = duckdb_column_count(src->res);
  for (idx_t i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "c%llu", (unsigned long long)i);
    duckdb_logical_type lt = duckdb_column_logical_type(src->res, i);
    duckdb_bind_add_result_column(info, name, lt);
    duckdb_destroy_logical_type(&lt);
  }
}

static void source_init(duckdb_init_info info) {
  q_scan *s = calloc(1, sizeof *s);
  if (!s) {
    duckdb_init_set_error(info, "out of memory");
    return;
  }
  duckdb_init_set_init_data(info, s, scan_free);
  duckdb_init_set_max_threads(info, 1); /* one reader: rows keep their order */
}

static void source_next(duckdb_function_info info, duckdb_data_chunk output) {
  q_source *src = duckdb_function_get_extra_info(info);
  q_scan *s = duckdb_function_get_init_data(info);
  if (s->held) duckdb_destroy_data_chunk(&s->held);
  duckdb_data_chunk c;
  while ((c = duckdb_fetch_chunk(*src->res)) != NULL && duckdb_data_chunk_get_size(c) == 0)
    duckdb_destroy_data_chunk(&c);
  if (!c) {
    duckdb_data_chunk_set_size(output, 0);
    return;
  }
  idx_t ncols = duckdb_data_chunk_get_column_count(c);
  for (idx_t i = 0; i < ncols; i++)
    duckdb_vector_reference_vector(duckdb_data_chunk_get_vector(output, i), duckdb_data_chunk_get_vector(c, i));
  duckdb_data_chunk_set_size(output, duckdb_data_chunk_get_size(c));
  s->held = c; /* the output references its vectors until the next call */
}

static bool register_source(duckdb_connection con, q_source *src) {
  duckdb_table_function tf = duckdb_create_table_function();
  duckdb_table_function_set_name(tf, Q_SOURCE_FN);
  duckdb_table_function_set_extra_info(tf, src, NULL); /* not owned by DuckDB */
  duckdb_table_function_set_bind(tf, source_bind);
  duckdb_table_function_set_init(tf, source_init);
  duckdb_table_function_set_function(tf, source_next);
  duckdb_state st = duckdb_register_table_function(con, tf);
  duckdb_destroy_table_function(&tf);
  return st == DuckDBSuccess;
}

/* ------------------------------------------------------------------------ */
/* table layout */

static void table_free(q_table *t) {
  free(t->cells);
  ml_buf_free(&t->text);
}

/* Adds a cell for row `row`, column `col` (rows are added in order). */
static void table_put(q_table *t, size_t row, size_t col, const char *s, size_t n) {
  if (t->oom || !ml_buf_reserve(&t->text, 0)) { /* text.data is never NULL below */
    t->oom = true;
    return;
  }
  if (row >= t->cap_rows) {
    size_t cap = t->cap_rows ? t->cap_rows * 2 : 256;
    q_cell *cells = (t->ncols && cap <= SIZE_MAX / sizeof(q_cell) / t->ncols)
                        ? realloc(t->cells, cap * t->ncols * sizeof(q_cell))
                        : NULL;
    if (!cells) {
      t->oom = true;
      return;
    }
    t->cells = cells;
    t->cap_rows = cap;
  }
  q_cell *cell = &t->cells[row * t->ncols + col];
  cell->off = t->text.len;
  cell->width = append_display(&t->text, s, n, Q_MAX_WIDTH);
  cell->len = t->text.len - cell->off;
  if (t->text.oom) t->oom = true;
  if (row >= t->nrows) t->nrows = row + 1;
}

static void pad(ml_buf *out, size_t n) {
  for (size_t i = 0; i < n; i++) ml_buf_putc(out, ' ');
}

static bool is_number_kind(q_kind k) {
  return k == Q_INT || k == Q_UINT || k == Q_FLOAT || k == Q_DOUBLE || k == Q_NUMTEXT;
}

/* Appends text of the given width padded to `width` columns: numbers to the
 * right; text to the left, without trailing blanks in the last column. */
static void put_aligned(ml_buf *out, const char *s, size_t len, size_t text_width, size_t width, bool right,
                        bool last) {
  if (right) pad(out, width - text_width);
  ml_buf_append(out, s, len);
  if (!right && !last) pad(out, width - text_width);
}

/* Prints header, separator, rows and "(N rows)" into out. */
static void table_print(const q_table *t, const q_col *cols, const char *noun, ml_buf *out) {
  size_t nc = t->ncols;
  q_table head = {nc, 0, 0, NULL, ML_BUF_INIT, false}; /* the header row, laid out like a row */
  size_t *w = calloc(nc, sizeof *w);
  for (size_t c = 0; c < nc; c++) table_put(&head, 0, c, cols[c].name, strlen(cols[c].name));
  if (!w || head.oom) {
    out->oom = true;
    free(w);
    table_free(&head);
    return;
  }
  for (size_t c = 0; c < nc; c++) w[c] = head.cells[c].width;
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t c = 0; c < nc; c++)
      if (t->cells[r * nc + c].width > w[c]) w[c] = t->cells[r * nc + c].width;

  for (size_t c = 0; c < nc; c++) {
    const q_cell *h = &head.cells[c];
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
      const q_cell *cell = &t->cells[r * nc + c];
      if (c) ml_buf_puts(out, " | ");
      put_aligned(out, t->text.data + cell->off, cell->len, cell->width, w[c], is_number_kind(cols[c].kind),
                  c + 1 == nc);
    }
    ml_buf_putc(out, '\n');
  }
  ml_buf_printf(out, "(%zu %s%s)\n", t->nrows, noun, t->nrows == 1 ? "" : "s");
  free(w);
  table_free(&head);
}

/* ------------------------------------------------------------------------ */
/* results */

/* Writes row `row` of the chunk (columns vs) as a JSON object line into
 * ctx->out. */
static bool json_row(q_ctx *ctx, const q_col *cols, const q_vec *vs, size_t nc, idx_t row) {
  ml_jw w;
  ml_jw_init(&w, &ctx->out);
  ml_jw_obj_begin(&w);
  for (size_t c = 0; c < nc; c++) {
    const void *d = vs[c].data;
    ml_jw_key(&w, cols[c].name);
    if (!vec_valid(vs[c].valid, row)) {
      ml_jw_null(&w);
      continue;
    }
    switch (vs[c].type) {
    case DUCKDB_TYPE_BOOLEAN: ml_jw_bool(&w, ((const bool *)d)[row]); break;
    case DUCKDB_TYPE_TINYINT: ml_jw_int(&w, ((const int8_t *)d)[row]); break;
    case DUCKDB_TYPE_SMALLINT: ml_jw_int(&w, ((const int16_t *)d)[row]); break;
    case DUCKDB_TYPE_INTEGER: ml_jw_int(&w, ((const int32_t *)d)[row]); break;
    case DUCKDB_TYPE_BIGINT: ml_jw_int(&w, ((const int64_t *)d)[row]); break;
    case DUCKDB_TYPE_UTINYINT: ml_jw_uint(&w, ((const uint8_t *)d)[row]); break;
    case DUCKDB_TYPE_USMALLINT: ml_jw_uint(&w, ((const uint16_t *)d)[row]); break;
    case DUCKDB_TYPE_UINTEGER: ml_jw_uint(&w, ((const uint32_t *)d)[row]); break;
    case DUCKDB_TYPE_UBIGINT: ml_jw_uint(&w, ((const uint64_t *)d)[row]); break;
    case DUCKDB_TYPE_DOUBLE: ml_jw_double(&w, ((const double *)d)[row]); break; /* non-finite: null */
    case DUCKDB_TYPE_FLOAT: {
      float f = ((const float *)d)[row];
      char buf[64];
      if (isfinite(f)) {
        float_text(buf, sizeof buf, f); /* 0.1f as 0.1, not 0.10000000149011612 */
        ml_jw_raw(&w, buf, strlen(buf));
      } else {
        ml_jw_null(&w);
      }
      break;
    }
    case DUCKDB_TYPE_VARCHAR: {
      duckdb_string_t *str = &((duckdb_string_t *)vs[c].data)[row];
      const char *s = duckdb_string_t_data(str);
      size_t n = duckdb_string_t_length(*str);
      const ml_json_val *root = NULL;
      if (cols[c].kind == Q_NUMTEXT && is_json_number(s, n)) {
        ml_jw_raw(&w, s, n); /* DECIMAL, HUGEINT: every digit kept */
      } else if (cols[c].kind == Q_JSONTXT && (ctx->jdoc || (ctx->jdoc = ml_json_doc_new())) &&
                 ml_json_parse(ctx->jdoc, s, n, &root, NULL) == ML_OK) {
        ml_jw_val(&w, root); /* compact, so that the row stays on one line */
      } else {
        ml_jw_strn(&w, s, n);
      }
      break;
    }
    default: ml_jw_null(&w); break; /* not reached: classify() casts the rest */
    }
  }
  ml_jw_obj_end(&w);
  ml_buf_putc(&ctx->out, '\n');
  return ml_jw_done(&w);
}

/* Reads every chunk of res (whose columns are all directly readable) and
 * prints it: a table, JSON lines, or for EXPLAIN the plan text as it is. */
static int print_rows(q_ctx *ctx, duckdb_result *res, const q_col *cols, size_t nc, const char *noun,
                      bool explain) {
  q_table t = {nc, 0, 0, NULL, ML_BUF_INIT, false};
  q_vec *vs = calloc(nc, sizeof *vs);
  if (!vs) {
    fputs(Q_PREFIX "out of memory\n", stderr);
    return ML_EXIT_FAILED;
  }
  bool ok = true;
  size_t row_no = 0;
  duckdb_data_chunk ch;
  while (ok && (ch = duckdb_fetch_chunk(*res)) != NULL) {
    idx_t n = duckdb_data_chunk_get_size(ch);
    load_vecs(ch, vs, nc);
    for (idx_t r = 0; r < n; r++) {
      if (ctx->opt->json) {
        ok &= json_row(ctx, cols, vs, nc, r);
      } else if (explain) {
        /* the last column holds the plan, drawn over several lines */
        char buf[64];
        const char *s;
        size_t len;
        if (!vec_valid(vs[nc - 1].valid, r)) continue;
        value_text(&vs[nc - 1], r, buf, sizeof buf, &s, &len);
        while (len && s[len - 1] == '\n') len--;
        ml_buf_append(&ctx->out, s, len);
        ml_buf_putc(&ctx->out, '\n');
      } else {
        for (size_t c = 0; c < nc; c++) {
          char buf[64];
          const char *s = "NULL";
          size_t len = 4;
          if (vec_valid(vs[c].valid, r)) value_text(&vs[c], r, buf, sizeof buf, &s, &len);
          table_put(&t, row_no + r, c, s, len);
        }
      }
    }
    row_no += n;
    duckdb_destroy_data_chunk(&ch);
    if (ctx->out.len >= Q_FLUSH_AT && !flush_out(&ctx->out)) ok = false;
  }
  free(vs);
  if (!ctx->opt->json && !explain) {
    if (ctx->nresults) ml_buf_putc(&ctx->out, '\n');
    if (!t.oom) table_print(&t, cols, noun, &ctx->out);
  }
  ctx->nresults++;
  bool oom = t.oom || ctx->out.oom;
  table_free(&t);
  if (oom) {
    fputs(Q_PREFIX "out of memory while printing the result\n", stderr);
    return ML_EXIT_FAILED;
  }
  if (!ok || !flush_out(&ctx->out)) {
    fprintf(stderr, Q_PREFIX "cannot write the output: %s\n", strerror(errno));
    return ML_EXIT_FAILED;
  }
  return ML_EXIT_OK;
}

/* Prints one statement's result, if it has rows to show. */
static int emit_result(q_ctx *ctx, duckdb_result *res, duckdb_statement_type stype, const char *noun) {
  if (duckdb_result_return_type(*res) != DUCKDB_RESULT_TYPE_QUERY_RESULT) return ML_EXIT_OK;
  size_t nc = (size_t)duckdb_column_count(res);
  if (nc == 0) return ML_EXIT_OK;
  q_col *cols = calloc(nc, sizeof *cols);
  if (!cols) {
    fputs(Q_PREFIX "out of memory\n", stderr);
    return ML_EXIT_FAILED;
  }
  bool need_cast = false;
  for (size_t c = 0; c < nc; c++) {
    cols[c] = classify(res, c, ctx->opt->json);
    need_cast |= cols[c].cast;
  }
  bool explain = stype == DUCKDB_STATEMENT_TYPE_EXPLAIN;
  int rc;
  if (!need_cast) {
    rc = print_rows(ctx, res, cols, nc, noun, explain);
  } else {
    /* SELECT c0, CAST(c1 AS VARCHAR), ... FROM _mallard_query_result() */
    ml_buf sql = ML_BUF_INIT;
    ml_buf_puts(&sql, "SELECT ");
    for (size_t c = 0; c < nc; c++) {
      if (c) ml_buf_puts(&sql, ", ");
      if (cols[c].cast) {
        ml_buf_printf(&sql, "CAST(c%zu AS VARCHAR)", c);
      } else {
        ml_buf_printf(&sql, "c%zu", c);
      }
    }
    ml_buf_puts(&sql, " FROM " Q_SOURCE_FN "()");
    duckdb_result conv;
    ctx->src->res = res;
    duckdb_state st = sql.oom ? DuckDBError : duckdb_query(ctx->con, sql.data, &conv);
    ctx->src->res = NULL;
    if (sql.oom) {
      fputs(Q_PREFIX "out of memory\n", stderr);
      rc = ML_EXIT_FAILED;
    } else if (st == DuckDBError) {
      const char *e = duckdb_result_error(&conv);
      fprintf(stderr, Q_PREFIX "cannot convert the result to text: %s\n", e ? e : "unknown error");
      duckdb_destroy_result(&conv);
      rc = ML_EXIT_FAILED;
    } else {
      rc = print_rows(ctx, &conv, cols, nc, noun, explain);
      duckdb_destroy_result(&conv);
    }
    ml_buf_free(&sql);
  }
  free(cols);
  return rc;
}

static void print_db_error(const q_ctx *ctx, const char *msg) {
  fprintf(stderr, Q_PREFIX "%s\n", msg ? msg : "unknown DuckDB error");
  if (!ctx->opt->write && msg && strstr(msg, "read-only mode"))
    fputs(Q_PREFIX "the database is opened read-only; add --write to change it\n", stderr);
}

/* Runs every statement of sql in order and prints the results.  noun names
 * the rows in the footer ("row" -> "(3 rows)"). */
static int run_sql(q_ctx *ctx, const char *sql, const char *noun) {
  duckdb_extracted_statements stmts = NULL;
  idx_t n = duckdb_extract_statements(ctx->con, sql, &stmts);
  int rc = ML_EXIT_OK;
  if (n == 0) {
    const char *e = duckdb_extract_statements_error(stmts);
    if (e) {
      print_db_error(ctx, e);
      rc = ML_EXIT_FAILED;
    }
  }
  for (idx_t i = 0; i < n && rc == ML_EXIT_OK; i++) {
    duckdb_prepared_statement prep = NULL;
    if (duckdb_prepare_extracted_statement(ctx->con, stmts, i, &prep) == DuckDBError) {
      print_db_error(ctx, duckdb_prepare_error(prep));
      rc = ML_EXIT_FAILED;
    } else {
      duckdb_statement_type stype = duckdb_prepared_statement_type(prep);
      duckdb_result res;
      if (duckdb_execute_prepared(prep, &res) == DuckDBError) {
        print_db_error(ctx, duckdb_result_error(&res));
        rc = ML_EXIT_FAILED;
      } else {
        rc = emit_result(ctx, &res, stype, noun);
      }
      duckdb_destroy_result(&res);
    }
    duckdb_destroy_prepare(&prep);
  }
  duckdb_destroy_extracted(&stmts);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* listing tables */

static void sql_quote(ml_buf *b, const char *s, char q) {
  ml_buf_putc(b, q);
  for (; *s; s++) {
    if (*s == q) ml_buf_putc(b, q);
    ml_buf_putc(b, *s);
  }
  ml_buf_putc(b, q);
}

static const char *vec_str(duckdb_data_chunk ch, idx_t col, idx_t row, ml_buf *b) {
  duckdb_vector v = duckdb_data_chunk_get_vector(ch, col);
  duckdb_string_t *d = duckdb_vector_get_data(v);
  ml_buf_reset(b);
  if (vec_valid(duckdb_vector_get_validity(v), row))
    ml_buf_append(b, duckdb_string_t_data(&d[row]), duckdb_string_t_length(d[row]));
  else
    ml_buf_append(b, "", 0);
  return b->data ? b->data : "";
}

/* Lists the tables: one query finds them, a second one counts their rows
 * (and is printed like any other result). */
static int list_tables(q_ctx *ctx) {
  duckdb_result res;
  if (duckdb_query(ctx->con,
                   "SELECT database_name, schema_name, table_name FROM duckdb_tables() "
                   "WHERE database_name = current_database() AND NOT internal AND NOT temporary "
                   "ORDER BY schema_name, table_name",
                   &res) == DuckDBError) {
    print_db_error(ctx, duckdb_result_error(&res));
    duckdb_destroy_result(&res);
    return ML_EXIT_FAILED;
  }
  ml_buf sql = ML_BUF_INIT, db = ML_BUF_INIT, schema = ML_BUF_INIT, table = ML_BUF_INIT;
  size_t count = 0;
  duckdb_data_chunk ch;
  while ((ch = duckdb_fetch_chunk(res)) != NULL) {
    idx_t n = duckdb_data_chunk_get_size(ch);
    for (idx_t r = 0; r < n; r++) {
      vec_str(ch, 0, r, &db);
      vec_str(ch, 1, r, &schema);
      vec_str(ch, 2, r, &table);
      if (!ctx->opt->all && table.data && !strncmp(table.data, "_mallard_", 9)) continue;
      ml_buf_puts(&sql, count ? "\nUNION ALL SELECT " : "SELECT ");
      sql_quote(&sql, schema.data ? schema.data : "", '\'');
      ml_buf_puts(&sql, " AS \"schema\", ");
      sql_quote(&sql, table.data ? table.data : "", '\'');
      ml_buf_puts(&sql, " AS \"table\", count(*) AS \"rows\" FROM ");
      sql_quote(&sql, db.data ? db.data : "", '"');
      ml_buf_putc(&sql, '.');
      sql_quote(&sql, schema.data ? schema.data : "", '"');
      ml_buf_putc(&sql, '.');
      sql_quote(&sql, table.data ? table.data : "", '"');
      count++;
    }
    duckdb_destroy_data_chunk(&ch);
  }
  duckdb_destroy_result(&res);
  if (count == 0)
    ml_buf_puts(&sql, "SELECT NULL::VARCHAR AS \"schema\", NULL::VARCHAR AS \"table\", "
                      "NULL::BIGINT AS \"rows\" WHERE false");
  else
    ml_buf_puts(&sql, "\nORDER BY \"schema\", \"table\"");
  int rc;
  if (sql.oom || db.oom || schema.oom || table.oom) {
    fputs(Q_PREFIX "out of memory\n", stderr);
    rc = ML_EXIT_FAILED;
  } else {
    rc = run_sql(ctx, sql.data, "table");
  }
  ml_buf_free(&sql);
  ml_buf_free(&db);
  ml_buf_free(&schema);
  ml_buf_free(&table);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* opening the database */

static bool is_locked_error(const char *msg) {
  return msg && (strstr(msg, "Could not set lock on file") || strstr(msg, "Conflicting lock"));
}

/* Opens opt->db.  Returns ML_EXIT_OK with *db set, or prints why not and
 * returns the exit code. */
static int open_db(const q_opts *opt, duckdb_database *db) {
  bool memory = !strcmp(opt->db, ":memory:");
  if (!memory && !opt->write) {
    struct stat sb;
    if (stat(opt->db, &sb) != 0) {
      if (errno == ENOENT || errno == ENOTDIR)
        fprintf(stderr, Q_PREFIX "no database file at %s\n", opt->db);
      else
        fprintf(stderr, Q_PREFIX "cannot open %s: %s\n", opt->db, strerror(errno));
      return ML_EXIT_FAILED;
    }
    if (S_ISDIR(sb.st_mode)) {
      fprintf(stderr, Q_PREFIX "%s is a directory, not a DuckDB database file\n", opt->db);
      return ML_EXIT_FAILED;
    }
  }
  duckdb_config cfg = NULL;
  if (duckdb_create_config(&cfg) == DuckDBError) {
    fputs(Q_PREFIX "out of memory\n", stderr);
    return ML_EXIT_FAILED;
  }
  duckdb_set_config(cfg, "access_mode", memory || opt->write ? "READ_WRITE" : "READ_ONLY");
  char *err = NULL;
  duckdb_state st = duckdb_open_ext(memory ? NULL : opt->db, db, cfg, &err);
  duckdb_destroy_config(&cfg);
  if (st == DuckDBSuccess) {
    if (err) duckdb_free(err);
    return ML_EXIT_OK;
  }
  int rc = ML_EXIT_FAILED;
  if (is_locked_error(err)) {
    fprintf(stderr,
            Q_PREFIX "%s is locked: another process has it open for writing%s; "
                     "try again when it is done\n",
            opt->db, opt->write ? " (or reading)" : "");
    fprintf(stderr, Q_PREFIX "DuckDB said: %s\n", err);
    rc = ML_EXIT_LOCKED;
  } else {
    fprintf(stderr, Q_PREFIX "cannot open %s: %s\n", opt->db, err ? err : "unknown error");
  }
  if (err) duckdb_free(err);
  return rc;
}

/* Reads all of stdin into b (NUL-terminated).  False on a read error. */
static bool read_stdin(ml_buf *b) {
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) ml_buf_append(b, chunk, n);
  ml_buf_append(b, "", 0);
  return !ferror(stdin) && ml_buf_ok(b);
}

/* ------------------------------------------------------------------------ */

/* Parses argv; returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, q_opts *opt) {
  const char *pos[2] = {NULL, NULL};
  int npos = 0;
  bool opts_done = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    /* An argument is an option when it starts with '-' and has no blank:
     * SQL such as "-- note\nSELECT 1" stays SQL. */
    bool option = !opts_done && a[0] == '-' && a[1] != '\0' && !strpbrk(a, " \t\r\n");
    if (option) {
      if (!strcmp(a, "--")) {
        opts_done = true;
      } else if (!strcmp(a, "--json")) {
        opt->json = true;
      } else if (!strcmp(a, "--all")) {
        opt->all = true;
      } else if (!strcmp(a, "--write")) {
        opt->write = true;
      } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        usage(stdout);
        return ML_EXIT_OK;
      } else {
        return usage_error("unknown option '%s'", a);
      }
      continue;
    }
    if (npos == 2) return usage_error("unexpected argument '%s' (quote the SQL as one argument)", a);
    pos[npos++] = a;
  }
  if (npos == 0) return usage_error("%s", "missing the database file (DB)");
  if (!pos[0][0]) return usage_error("%s", "the database path is empty");
  opt->db = pos[0];
  opt->sql = pos[1];
  opt->sql_stdin = pos[1] && !strcmp(pos[1], "-");
  return -1;
}

int ml_cmd_query(int argc, char **argv) {
  q_opts opt = {0};
  int rc = parse_args(argc, argv, &opt);
  if (rc >= 0) return rc;

  ml_buf stdin_sql = ML_BUF_INIT;
  if (opt.sql_stdin && !read_stdin(&stdin_sql)) {
    fprintf(stderr, Q_PREFIX "cannot read SQL from standard input: %s\n",
            stdin_sql.oom ? "out of memory" : strerror(errno));
    ml_buf_free(&stdin_sql);
    return ML_EXIT_FAILED;
  }

  duckdb_database db = NULL;
  rc = open_db(&opt, &db);
  if (rc != ML_EXIT_OK) {
    ml_buf_free(&stdin_sql);
    return rc;
  }
  q_source src = {NULL};
  q_ctx ctx = {&opt, NULL, &src, ML_BUF_INIT, NULL, 0};
  if (duckdb_connect(db, &ctx.con) == DuckDBError) {
    fprintf(stderr, Q_PREFIX "cannot connect to %s\n", opt.db);
    rc = ML_EXIT_FAILED;
  } else if (!register_source(ctx.con, &src)) {
    fputs(Q_PREFIX "cannot register the result reader with DuckDB\n", stderr);
    rc = ML_EXIT_FAILED;
  } else if (opt.sql) {
    rc = run_sql(&ctx, opt.sql_stdin ? stdin_sql.data : opt.sql, "row");
  } else {
    rc = list_tables(&ctx);
  }
  if (!flush_out(&ctx.out) && rc == ML_EXIT_OK) rc = ML_EXIT_FAILED;
  if (fflush(stdout) != 0 && rc == ML_EXIT_OK) {
    fprintf(stderr, Q_PREFIX "cannot write the output: %s\n", strerror(errno));
    rc = ML_EXIT_FAILED;
  }
  if (ctx.con) duckdb_disconnect(&ctx.con);
  duckdb_close(&db);
  ml_json_doc_free(ctx.jdoc);
  ml_buf_free(&ctx.out);
  ml_buf_free(&stdin_sql);
  return rc;
}
