/* mallard query: look into a DuckDB file without installing another tool.
 *
 *   mallard query DB            lists the user tables with their row counts
 *   mallard query DB "SQL"      runs SQL, prints each result as an aligned table
 *   ... --json                  one JSON object per row instead (NDJSON)
 *
 * The file is opened READ ONLY unless --write is given, so a query never
 * changes it, and through the warehouse (ml_wh_open), with its settings that
 * keep DuckDB off the network.  docs/query.md describes the behaviour for
 * users.  Here: the options, opening and listing, and the output; the
 * statements run and their values are read in the warehouse (ml_rows), the
 * tables are laid out by cli_table.
 *
 * Ownership: everything allocated here is owned by the function that
 * allocated it or by the q_ctx it is stored in, and is freed before
 * ml_cmd_query returns.  There is no global mutable state. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../json/ml_json.h"
#include "../util/ml_buf.h"
#include "../warehouse/ml_rows.h"
#include "../warehouse/ml_wh.h"
#include "cli_table.h"
#include "ml_cli.h"

#define Q_PREFIX "mallard query: "
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


typedef struct q_ctx {
  const q_opts *opt;
  ml_rows *rows;      /* owned by ml_cmd_query */
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
/* results */

/* The text of one non-NULL value for a table cell, in *s and *n; numbers are
 * formatted into buf (at least 64 bytes). */
static void cell_text(const ml_cell *v, char *buf, size_t size, const char **s, size_t *n) {
  switch (v->type) {
  case ML_CELL_BOOL:
    *s = v->b ? "true" : "false";
    *n = strlen(*s);
    return;
  case ML_CELL_TEXT:
    *s = v->s;
    *n = v->n;
    return;
  case ML_CELL_INT: snprintf(buf, size, "%lld", (long long)v->i); break;
  case ML_CELL_UINT: snprintf(buf, size, "%llu", (unsigned long long)v->u); break;
  default: snprintf(buf, size, "?"); break; /* not reached: floats are text in a table */
  }
  *s = buf;
  *n = strlen(buf);
}

/* Writes one row (its cells) as a JSON object line into ctx->out. */
static bool json_row(q_ctx *ctx, const ml_rows_col *cols, size_t nc, size_t row) {
  ml_jw w;
  ml_jw_init(&w, &ctx->out);
  ml_jw_obj_begin(&w);
  for (size_t c = 0; c < nc; c++) {
    ml_cell v = ml_rows_cell(ctx->rows, row, c);
    ml_jw_key(&w, cols[c].name);
    switch (v.type) {
    case ML_CELL_NULL: ml_jw_null(&w); break;
    case ML_CELL_BOOL: ml_jw_bool(&w, v.b); break;
    case ML_CELL_INT: ml_jw_int(&w, v.i); break;
    case ML_CELL_UINT: ml_jw_uint(&w, v.u); break;
    case ML_CELL_DOUBLE: ml_jw_double(&w, v.d); break; /* non-finite: null */
    case ML_CELL_FLOAT: {
      char buf[64];
      if (isfinite(v.f)) {
        float_text(buf, sizeof buf, v.f); /* 0.1f as 0.1, not 0.10000000149011612 */
        ml_jw_raw(&w, buf, strlen(buf));
      } else {
        ml_jw_null(&w);
      }
      break;
    }
    case ML_CELL_TEXT: {
      const ml_json_val *root = NULL;
      if (cols[c].kind == ML_ROWS_NUMTEXT && is_json_number(v.s, v.n)) {
        ml_jw_raw(&w, v.s, v.n); /* DECIMAL, HUGEINT: every digit kept */
      } else if (cols[c].kind == ML_ROWS_JSONTXT && (ctx->jdoc || (ctx->jdoc = ml_json_doc_new())) &&
                 ml_json_parse(ctx->jdoc, v.s, v.n, &root, NULL) == ML_OK) {
        ml_jw_val(&w, root); /* compact, so that the row stays on one line */
      } else {
        ml_jw_strn(&w, v.s, v.n);
      }
      break;
    }
    }
  }
  ml_jw_obj_end(&w);
  ml_buf_putc(&ctx->out, '\n');
  return ml_jw_done(&w);
}

static void print_db_error(const q_ctx *ctx, const ml_err *err) {
  fprintf(stderr, Q_PREFIX "%s\n", err->msg);
  if (!ctx->opt->write && err->code == ML_ERR_DB && strstr(err->msg, "read-only mode"))
    fputs(Q_PREFIX "the database is opened read-only; add --write to change it\n", stderr);
}

/* Reads every row of the current statement and prints it: a table, JSON
 * lines, or for EXPLAIN the plan text as it is. */
static int print_rows(q_ctx *ctx, const char *noun) {
  size_t nc = ml_rows_ncols(ctx->rows);
  const ml_rows_col *cols = ml_rows_cols(ctx->rows);
  bool explain = ml_rows_explain(ctx->rows);
  cli_table t = CLI_TABLE_INIT(nc);
  bool ok = true;
  size_t row_no = 0, n = 0;
  ml_err err;
  ml_err_clear(&err);
  while (ok && ml_rows_fetch(ctx->rows, &n, &err) == ML_OK && n > 0) {
    for (size_t r = 0; r < n; r++) {
      if (ctx->opt->json) {
        ok &= json_row(ctx, cols, nc, r);
      } else if (explain) {
        /* the last column holds the plan, drawn over several lines */
        char buf[64];
        const char *s;
        size_t len;
        ml_cell v = ml_rows_cell(ctx->rows, r, nc - 1);
        if (v.type == ML_CELL_NULL) continue;
        cell_text(&v, buf, sizeof buf, &s, &len);
        while (len && s[len - 1] == '\n') len--;
        ml_buf_append(&ctx->out, s, len);
        ml_buf_putc(&ctx->out, '\n');
      } else {
        for (size_t c = 0; c < nc; c++) {
          char buf[64];
          const char *s = "NULL";
          size_t len = 4;
          ml_cell v = ml_rows_cell(ctx->rows, r, c);
          if (v.type != ML_CELL_NULL) cell_text(&v, buf, sizeof buf, &s, &len);
          cli_table_put(&t, row_no + r, c, s, len);
        }
      }
    }
    row_no += n;
    if (ctx->out.len >= Q_FLUSH_AT && !flush_out(&ctx->out)) ok = false;
  }
  if (!ctx->opt->json && !explain) {
    if (ctx->nresults) ml_buf_putc(&ctx->out, '\n');
    if (!t.oom) cli_table_print(&t, cols, noun, &ctx->out);
  }
  ctx->nresults++;
  bool oom = t.oom || ctx->out.oom;
  cli_table_free(&t);
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

/* Runs every statement of sql in order and prints the results that have
 * rows.  noun names the rows in the footer ("row" -> "(3 rows)"). */
static int run_sql(q_ctx *ctx, const char *sql, const char *noun) {
  ml_err err;
  ml_err_clear(&err);
  bool more = false;
  ml_status st = ml_rows_run(ctx->rows, sql, &err);
  int rc = ML_EXIT_OK;
  while (st == ML_OK && rc == ML_EXIT_OK && (st = ml_rows_next(ctx->rows, &more, &err)) == ML_OK && more)
    if (ml_rows_ncols(ctx->rows) > 0) rc = print_rows(ctx, noun);
  if (st != ML_OK) {
    print_db_error(ctx, &err);
    rc = ML_EXIT_FAILED;
  }
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

/* The text of a cell as a NUL-terminated string in b ("" for NULL). */
static const char *cell_str(const ml_rows *rows, size_t row, size_t col, ml_buf *b) {
  ml_cell v = ml_rows_cell(rows, row, col);
  ml_buf_reset(b);
  if (v.type == ML_CELL_TEXT) ml_buf_append(b, v.s, v.n);
  else ml_buf_append(b, "", 0);
  return b->data ? b->data : "";
}

/* Lists the tables: one query finds them, a second one counts their rows
 * (and is printed like any other result). */
static int list_tables(q_ctx *ctx) {
  ml_err err;
  ml_err_clear(&err);
  bool more = false;
  ml_status st = ml_rows_run(ctx->rows,
                             "SELECT database_name, schema_name, table_name FROM duckdb_tables() "
                             "WHERE database_name = current_database() AND NOT internal AND NOT temporary "
                             "ORDER BY schema_name, table_name",
                             &err);
  if (st == ML_OK) st = ml_rows_next(ctx->rows, &more, &err);
  if (st != ML_OK) {
    print_db_error(ctx, &err);
    return ML_EXIT_FAILED;
  }
  ml_buf sql = ML_BUF_INIT, db = ML_BUF_INIT, schema = ML_BUF_INIT, table = ML_BUF_INIT;
  size_t count = 0, n = 0;
  while (ml_rows_fetch(ctx->rows, &n, &err) == ML_OK && n > 0) {
    for (size_t r = 0; r < n; r++) {
      cell_str(ctx->rows, r, 0, &db);
      cell_str(ctx->rows, r, 1, &schema);
      cell_str(ctx->rows, r, 2, &table);
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
  }
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

/* Opens opt->db.  Returns ML_EXIT_OK with *wh set, or prints why not and
 * returns the exit code. */
static int open_db(const q_opts *opt, ml_wh **wh) {
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
  ml_wh_options o = {.read_only = !memory && !opt->write};
  char *said = NULL;
  ml_err err;
  ml_err_clear(&err);
  ml_status st = ml_wh_open_said(opt->db, &o, wh, &said, &err);
  if (st == ML_OK) return ML_EXIT_OK;
  int rc = ML_EXIT_FAILED;
  if (st == ML_ERR_LOCKED) {
    fprintf(stderr,
            Q_PREFIX "%s is locked: another process has it open for writing%s; "
                     "try again when it is done\n",
            opt->db, opt->write ? " (or reading)" : "");
    fprintf(stderr, Q_PREFIX "DuckDB said: %s\n", said ? said : "");
    rc = ML_EXIT_LOCKED;
  } else if (said) {
    fprintf(stderr, Q_PREFIX "cannot open %s: %s\n", opt->db, said);
  } else {
    fprintf(stderr, Q_PREFIX "%s\n", err.msg);
  }
  free(said);
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

  ml_wh *wh = NULL;
  rc = open_db(&opt, &wh);
  if (rc != ML_EXIT_OK) {
    ml_buf_free(&stdin_sql);
    return rc;
  }
  q_ctx ctx = {&opt, NULL, ML_BUF_INIT, NULL, 0};
  ml_err err;
  ml_err_clear(&err);
  if (ml_rows_open(wh, !opt.json, &ctx.rows, &err) != ML_OK) {
    fprintf(stderr, Q_PREFIX "%s\n", err.msg);
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
  ml_rows_close(ctx.rows);
  ml_wh_close(wh);
  ml_json_doc_free(ctx.jdoc);
  ml_buf_free(&ctx.out);
  ml_buf_free(&stdin_sql);
  return rc;
}
