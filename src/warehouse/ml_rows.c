#include "ml_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml_wh_conn.h"

/* Name of the table function through which a result is cast to text. */
#define SOURCE_FN "_mallard_query_result"

/* What the table function reads: the result being converted, set just
 * before the conversion query runs (not owned).  Owned by DuckDB (freed
 * with the function when the database closes), borrowed by ml_rows. */
typedef struct rows_source {
  duckdb_result *res;
} rows_source;

/* Per-scan state of the table function: the chunk whose vectors the output
 * currently references (owned; destroyed on the next call or at the end). */
typedef struct rows_scan {
  duckdb_data_chunk held;
} rows_scan;

/* A column of the chunk being read: its data, validity mask and type. */
typedef struct rows_vec {
  void *data;
  uint64_t *valid;
  duckdb_type type;
} rows_vec;

struct ml_rows {
  ml_wh *wh; /* borrowed */
  bool floats_as_text;
  rows_source *src; /* borrowed from DuckDB */
  duckdb_extracted_statements stmts;
  idx_t n_stmts, next_stmt;
  /* the current statement */
  duckdb_result res, conv; /* conv: the conversion query's, when has_conv */
  bool has_res, has_conv, explain;
  ml_rows_col *cols;
  size_t ncols;
  duckdb_data_chunk chunk; /* the last fetched */
  rows_vec *vecs;          /* ncols, of chunk */
};

/* ---- the table function exposing a materialized result to SQL ---- */

static void scan_free(void *p) {
  rows_scan *s = p;
  if (s->held) duckdb_destroy_data_chunk(&s->held);
  free(s);
}

static void source_bind(duckdb_bind_info info) {
  rows_source *src = duckdb_bind_get_extra_info(info);
  if (!src || !src->res) {
    duckdb_bind_set_error(info, SOURCE_FN " is internal to mallard query");
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
  rows_scan *s = calloc(1, sizeof *s);
  if (!s) {
    duckdb_init_set_error(info, "out of memory");
    return;
  }
  duckdb_init_set_init_data(info, s, scan_free);
  duckdb_init_set_max_threads(info, 1); /* one reader: rows keep their order */
}

static void source_next(duckdb_function_info info, duckdb_data_chunk output) {
  rows_source *src = duckdb_function_get_extra_info(info);
  rows_scan *s = duckdb_function_get_init_data(info);
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

static ml_status register_source(ml_rows *r, ml_err *err) {
  rows_source *src = calloc(1, sizeof *src);
  if (!src) return ml_err_nomem(err);
  duckdb_table_function tf = duckdb_create_table_function();
  duckdb_table_function_set_name(tf, SOURCE_FN);
  duckdb_table_function_set_extra_info(tf, src, free);
  duckdb_table_function_set_bind(tf, source_bind);
  duckdb_table_function_set_init(tf, source_init);
  duckdb_table_function_set_function(tf, source_next);
  duckdb_state st = duckdb_register_table_function(ml_wh_conn(r->wh), tf);
  duckdb_destroy_table_function(&tf);
  if (st != DuckDBSuccess) return ml_err_set(err, ML_ERR_DB, "cannot register the result reader with DuckDB");
  r->src = src;
  return ML_OK;
}

/* ---- statements ---- */

ml_status ml_rows_open(ml_wh *wh, bool floats_as_text, ml_rows **out, ml_err *err) {
  *out = NULL;
  /* registering the reader uses the connection: not beside a loader job */
  ml_status st = ml_wh_sync(wh, err);
  if (st != ML_OK) return st;
  ml_rows *r = calloc(1, sizeof *r);
  if (!r) return ml_err_nomem(err);
  r->wh = wh;
  r->floats_as_text = floats_as_text;
  st = register_source(r, err);
  if (st != ML_OK) {
    ml_rows_close(r);
    return st;
  }
  *out = r;
  return ML_OK;
}

static void end_statement(ml_rows *r) {
  if (r->chunk) duckdb_destroy_data_chunk(&r->chunk);
  if (r->has_conv) duckdb_destroy_result(&r->conv);
  if (r->has_res) duckdb_destroy_result(&r->res);
  r->has_conv = r->has_res = r->explain = false;
  free(r->cols);
  free(r->vecs);
  r->cols = NULL;
  r->vecs = NULL;
  r->ncols = 0;
}

static void end_script(ml_rows *r) {
  end_statement(r);
  if (r->stmts) duckdb_destroy_extracted(&r->stmts);
  r->stmts = NULL;
  r->n_stmts = r->next_stmt = 0;
}

void ml_rows_close(ml_rows *r) {
  if (!r) return;
  end_script(r);
  free(r);
}

static ml_status db_error(const char *msg, ml_err *err) {
  return ml_err_set(err, ML_ERR_DB, "%s", msg ? msg : "unknown DuckDB error");
}

ml_status ml_rows_run(ml_rows *r, const char *sql, ml_err *err) {
  end_script(r);
  ml_status st = ml_wh_sync(r->wh, err);
  if (st != ML_OK) return st;
  r->n_stmts = duckdb_extract_statements(ml_wh_conn(r->wh), sql, &r->stmts);
  if (r->n_stmts == 0) {
    const char *e = duckdb_extract_statements_error(r->stmts);
    if (e) return db_error(e, err);
  }
  return ML_OK;
}

/* Decides how column i of res is read and shown. */
static ml_rows_col classify(duckdb_result *res, idx_t i, bool floats_as_text) {
  ml_rows_col c = {duckdb_column_name(res, i), ML_ROWS_TEXT, false};
  switch (duckdb_column_type(res, i)) {
  case DUCKDB_TYPE_BOOLEAN: c.kind = ML_ROWS_BOOL; break;
  case DUCKDB_TYPE_TINYINT:
  case DUCKDB_TYPE_SMALLINT:
  case DUCKDB_TYPE_INTEGER:
  case DUCKDB_TYPE_BIGINT: c.kind = ML_ROWS_INT; break;
  case DUCKDB_TYPE_UTINYINT:
  case DUCKDB_TYPE_USMALLINT:
  case DUCKDB_TYPE_UINTEGER:
  case DUCKDB_TYPE_UBIGINT: c.kind = ML_ROWS_UINT; break;
  case DUCKDB_TYPE_FLOAT:
  case DUCKDB_TYPE_DOUBLE:
    if (floats_as_text) c.kind = ML_ROWS_NUMTEXT, c.cast = true;
    else c.kind = duckdb_column_type(res, i) == DUCKDB_TYPE_FLOAT ? ML_ROWS_FLOAT : ML_ROWS_DOUBLE;
    break;
  case DUCKDB_TYPE_HUGEINT:
  case DUCKDB_TYPE_UHUGEINT:
  case DUCKDB_TYPE_DECIMAL:
  case DUCKDB_TYPE_BIGNUM: c.kind = ML_ROWS_NUMTEXT, c.cast = true; break;
  case DUCKDB_TYPE_VARCHAR: {
    duckdb_logical_type lt = duckdb_column_logical_type(res, i);
    char *alias = duckdb_logical_type_get_alias(lt);
    if (alias && !strcmp(alias, "JSON")) c.kind = ML_ROWS_JSONTXT;
    if (alias) duckdb_free(alias);
    duckdb_destroy_logical_type(&lt);
    break;
  }
  default: c.cast = true; break; /* everything else: DuckDB's VARCHAR cast */
  }
  return c;
}

/* SELECT c0, CAST(c1 AS VARCHAR), ... FROM _mallard_query_result() over the
 * current result, into r->conv. */
static ml_status convert(ml_rows *r, ml_err *err) {
  ml_buf sql = ML_BUF_INIT;
  ml_buf_puts(&sql, "SELECT ");
  for (size_t c = 0; c < r->ncols; c++) {
    if (c) ml_buf_puts(&sql, ", ");
    if (r->cols[c].cast) ml_buf_printf(&sql, "CAST(c%zu AS VARCHAR)", c);
    else ml_buf_printf(&sql, "c%zu", c);
  }
  ml_buf_puts(&sql, " FROM " SOURCE_FN "()");
  if (!ml_buf_ok(&sql)) {
    ml_buf_free(&sql);
    return ml_err_nomem(err);
  }
  r->src->res = &r->res;
  duckdb_state st = duckdb_query(ml_wh_conn(r->wh), sql.data, &r->conv);
  r->src->res = NULL;
  ml_buf_free(&sql);
  r->has_conv = true;
  if (st == DuckDBSuccess) return ML_OK;
  const char *e = duckdb_result_error(&r->conv);
  return ml_err_set(err, ML_ERR_DB, "cannot convert the result to text: %s", e ? e : "unknown error");
}

/* After the statement ran: its columns, and the conversion when any needs it. */
static ml_status describe(ml_rows *r, ml_err *err) {
  if (duckdb_result_return_type(r->res) != DUCKDB_RESULT_TYPE_QUERY_RESULT) return ML_OK;
  size_t nc = (size_t)duckdb_column_count(&r->res);
  if (nc == 0) return ML_OK;
  r->cols = calloc(nc, sizeof *r->cols);
  r->vecs = calloc(nc, sizeof *r->vecs);
  if (!r->cols || !r->vecs) return ml_err_nomem(err);
  r->ncols = nc;
  bool need_cast = false;
  for (size_t c = 0; c < nc; c++) {
    r->cols[c] = classify(&r->res, c, r->floats_as_text);
    need_cast |= r->cols[c].cast;
  }
  return need_cast ? convert(r, err) : ML_OK;
}

ml_status ml_rows_next(ml_rows *r, bool *more, ml_err *err) {
  end_statement(r);
  *more = r->next_stmt < r->n_stmts;
  if (!*more) return ML_OK;
  ml_status st = ml_wh_sync(r->wh, err);
  if (st != ML_OK) return st;
  duckdb_prepared_statement prep = NULL;
  if (duckdb_prepare_extracted_statement(ml_wh_conn(r->wh), r->stmts, r->next_stmt++, &prep) == DuckDBError) {
    st = db_error(duckdb_prepare_error(prep), err);
  } else {
    r->explain = duckdb_prepared_statement_type(prep) == DUCKDB_STATEMENT_TYPE_EXPLAIN;
    r->has_res = true;
    st = duckdb_execute_prepared(prep, &r->res) == DuckDBError ? db_error(duckdb_result_error(&r->res), err)
                                                               : describe(r, err);
  }
  duckdb_destroy_prepare(&prep);
  if (st != ML_OK) end_statement(r);
  return st;
}

size_t ml_rows_ncols(const ml_rows *r) { return r->ncols; }
const ml_rows_col *ml_rows_cols(const ml_rows *r) { return r->cols; }
bool ml_rows_explain(const ml_rows *r) { return r->explain; }

ml_status ml_rows_fetch(ml_rows *r, size_t *n, ml_err *err) {
  *n = 0;
  if (r->chunk) duckdb_destroy_data_chunk(&r->chunk);
  if (!r->ncols) return ML_OK;
  r->chunk = duckdb_fetch_chunk(r->has_conv ? r->conv : r->res);
  if (!r->chunk) return ML_OK;
  for (size_t c = 0; c < r->ncols; c++) {
    duckdb_vector v = duckdb_data_chunk_get_vector(r->chunk, c);
    duckdb_logical_type lt = duckdb_vector_get_column_type(v);
    r->vecs[c].data = duckdb_vector_get_data(v);
    r->vecs[c].valid = duckdb_vector_get_validity(v);
    r->vecs[c].type = duckdb_get_type_id(lt);
    duckdb_destroy_logical_type(&lt);
  }
  *n = (size_t)duckdb_data_chunk_get_size(r->chunk);
  (void)err; /* DuckDB reports no error from a fetch: a failed one ends the rows */
  return ML_OK;
}

ml_cell ml_rows_cell(const ml_rows *r, size_t row, size_t col) {
  const rows_vec *v = &r->vecs[col];
  ml_cell c = {0};
  if (v->valid && !((v->valid[row / 64] >> (row % 64)) & 1u)) return c;
  const void *d = v->data;
  switch (v->type) {
  case DUCKDB_TYPE_BOOLEAN: c.type = ML_CELL_BOOL, c.b = ((const bool *)d)[row]; break;
  case DUCKDB_TYPE_TINYINT: c.type = ML_CELL_INT, c.i = ((const int8_t *)d)[row]; break;
  case DUCKDB_TYPE_SMALLINT: c.type = ML_CELL_INT, c.i = ((const int16_t *)d)[row]; break;
  case DUCKDB_TYPE_INTEGER: c.type = ML_CELL_INT, c.i = ((const int32_t *)d)[row]; break;
  case DUCKDB_TYPE_BIGINT: c.type = ML_CELL_INT, c.i = ((const int64_t *)d)[row]; break;
  case DUCKDB_TYPE_UTINYINT: c.type = ML_CELL_UINT, c.u = ((const uint8_t *)d)[row]; break;
  case DUCKDB_TYPE_USMALLINT: c.type = ML_CELL_UINT, c.u = ((const uint16_t *)d)[row]; break;
  case DUCKDB_TYPE_UINTEGER: c.type = ML_CELL_UINT, c.u = ((const uint32_t *)d)[row]; break;
  case DUCKDB_TYPE_UBIGINT: c.type = ML_CELL_UINT, c.u = ((const uint64_t *)d)[row]; break;
  case DUCKDB_TYPE_FLOAT: c.type = ML_CELL_FLOAT, c.f = ((const float *)d)[row]; break;
  case DUCKDB_TYPE_DOUBLE: c.type = ML_CELL_DOUBLE, c.d = ((const double *)d)[row]; break;
  case DUCKDB_TYPE_VARCHAR: {
    duckdb_string_t *str = &((duckdb_string_t *)v->data)[row];
    c.type = ML_CELL_TEXT;
    c.s = duckdb_string_t_data(str);
    c.n = duckdb_string_t_length(*str);
    break;
  }
  default: break; /* not reached: classify() casts the rest; shown as NULL */
  }
  return c;
}
