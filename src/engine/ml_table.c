#include "ml_table.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/ml_array.h"

ml_status ml_table_init(ml_table *t, ml_wh *wh, const char *schema, const char *name, ml_err *err) {
  memset(t, 0, sizeof *t);
  t->wh = wh;
  t->schema = strdup(schema);
  t->name = strdup(name);
  if (!t->schema || !t->name) {
    ml_table_free(t);
    return ml_err_nomem(err);
  }
  return ML_OK;
}

ml_status ml_table_init_temp(ml_table *t, ml_wh *wh, const char *name, ml_err *err) {
  ml_status st = ml_table_init(t, wh, "main", name, err);
  t->catalog = ML_WH_TEMP_CATALOG;
  return st;
}

static void free_cols(ml_table *t) {
  for (size_t i = 0; i < t->n_cols; i++) free(t->cols[i].name);
  free(t->cols);
  t->cols = NULL;
  t->n_cols = t->cap = 0;
}

void ml_table_free(ml_table *t) {
  if (!t) return;
  ml_batch_close(t->batch);
  t->batch = NULL;
  free_cols(t);
  free(t->schema);
  free(t->name);
  t->schema = t->name = NULL;
}

void ml_table_sql_name(const ml_table *t, ml_buf *b) { ml_sql_qualified_in(b, t->catalog, t->schema, t->name); }

static ml_status push_col(ml_table *t, const char *name, ml_type type, ml_err *err) {
  if (!ml_array_reserve(&t->cols, t->n_cols + 1, &t->cap, sizeof *t->cols, 16)) return ml_err_nomem(err);
  char *copy = strdup(name);
  if (!copy) return ml_err_nomem(err);
  t->cols[t->n_cols].name = copy;
  t->cols[t->n_cols].type = type;
  t->n_cols++;
  return ML_OK;
}

long ml_table_find(const ml_table *t, const char *name) {
  /* DuckDB resolves identifiers without regard to (ASCII) case */
  for (size_t i = 0; i < t->n_cols; i++)
    if (!strcasecmp(t->cols[i].name, name)) return (long)i;
  return -1;
}

static ml_status exec_buf(ml_table *t, ml_buf *sql, ml_err *err) {
  ml_status st = ml_wh_exec_buf(t->wh, sql, err);
  if (st != ML_OK && ml_buf_ok(sql)) /* out of memory needs no table name */
    ml_err_prefix(err, "table %s%s%s.%s", t->catalog ? t->catalog : "", t->catalog ? "." : "", t->schema, t->name);
  return st;
}

ml_status ml_table_close_batch(ml_table *t, ml_err *err) {
  if (!t->batch) return ML_OK;
  ml_status st = ml_batch_flush(t->batch, err);
  ml_batch_close(t->batch);
  t->batch = NULL;
  return st;
}

ml_status ml_table_sync(ml_table *t, const ml_col *wanted, size_t n, bool replace, bool *kept_type, ml_err *err) {
  if (kept_type) *kept_type = false;
  ml_status st = ml_table_close_batch(t, err);
  if (st != ML_OK) return st;
  free_cols(t);
  ml_buf sql = ML_BUF_INIT;
  if (!t->catalog) { /* the temporary catalog has its one schema */
    ml_buf_puts(&sql, "CREATE SCHEMA IF NOT EXISTS ");
    ml_sql_ident(&sql, t->schema);
    st = exec_buf(t, &sql, err);
    ml_buf_reset(&sql);
  }
  if (st == ML_OK && replace) {
    ml_buf_puts(&sql, "DROP TABLE IF EXISTS ");
    ml_table_sql_name(t, &sql);
    st = exec_buf(t, &sql, err);
    ml_buf_reset(&sql);
  }
  ml_wh_column *existing = NULL;
  size_t n_existing = 0;
  bool exists = false;
  if (st == ML_OK) st = ml_wh_table_columns(t->wh, t->catalog, t->schema, t->name, &existing, &n_existing, &exists, err);
  if (st == ML_OK && !exists) {
    char tbuf[32];
    ml_buf_puts(&sql, t->catalog ? "CREATE TEMP TABLE " : "CREATE TABLE ");
    ml_table_sql_name(t, &sql);
    ml_buf_puts(&sql, " (");
    for (size_t i = 0; i < n; i++) {
      if (i) ml_buf_puts(&sql, ", ");
      ml_sql_ident(&sql, wanted[i].name);
      ml_buf_putc(&sql, ' ');
      ml_buf_puts(&sql, ml_type_sql(wanted[i].type, tbuf));
    }
    ml_buf_putc(&sql, ')');
    st = exec_buf(t, &sql, err);
    for (size_t i = 0; st == ML_OK && i < n; i++) st = push_col(t, wanted[i].name, wanted[i].type, err);
  } else if (st == ML_OK) {
    /* a column of a type mallard does not create is never written: NULL type */
    for (size_t i = 0; st == ML_OK && i < n_existing; i++) {
      ml_type type;
      if (!existing[i].type || !ml_type_parse(existing[i].type, &type)) type = ml_type_of(ML_TYPE_NULL);
      st = push_col(t, existing[i].name, type, err);
    }
    for (size_t i = 0; st == ML_OK && i < n; i++) {
      long at = ml_table_find(t, wanted[i].name);
      if (at < 0) {
        st = ml_table_add_column(t, wanted[i].name, wanted[i].type, err);
      } else if (!ml_type_equal(t->cols[at].type, wanted[i].type)) {
        ml_type merged = ml_type_widen(t->cols[at].type, wanted[i].type);
        if (ml_type_equal(merged, wanted[i].type) && t->cols[at].type.id != ML_TYPE_NULL)
          st = ml_table_widen(t, (size_t)at, wanted[i].type, err);
        else if (kept_type)
          *kept_type = true;
      }
    }
  }
  ml_wh_columns_free(existing, n_existing);
  ml_buf_free(&sql);
  return st;
}

/* ALTER TABLE <t><action><column><between><type>, after flushing and
 * closing the table's batch, whose columns are the table's old ones. */
static ml_status alter_column(ml_table *t, const char *action, const char *column, const char *between, ml_type type,
                              ml_err *err) {
  ml_status st = ml_table_close_batch(t, err);
  if (st != ML_OK) return st;
  char tbuf[32];
  ml_buf sql = ML_BUF_INIT;
  ml_buf_puts(&sql, "ALTER TABLE ");
  ml_table_sql_name(t, &sql);
  ml_buf_puts(&sql, action);
  ml_sql_ident(&sql, column);
  ml_buf_puts(&sql, between);
  ml_buf_puts(&sql, ml_type_sql(type, tbuf));
  st = exec_buf(t, &sql, err);
  ml_buf_free(&sql);
  return st;
}

ml_status ml_table_add_column(ml_table *t, const char *name, ml_type type, ml_err *err) {
  ml_status st = alter_column(t, " ADD COLUMN ", name, " ", type, err);
  if (st == ML_OK) st = push_col(t, name, type, err);
  if (st == ML_OK) t->schema_changes++;
  return st;
}

ml_status ml_table_widen(ml_table *t, size_t col, ml_type type, ml_err *err) {
  ml_status st = alter_column(t, " ALTER COLUMN ", t->cols[col].name, " TYPE ", type, err);
  if (st == ML_OK) {
    t->cols[col].type = type;
    t->schema_changes++;
  }
  return st;
}

ml_status ml_table_batch(ml_table *t, ml_batch **out, ml_err *err) {
  if (!t->batch) {
    ml_status st = ml_batch_open(t->wh, t->catalog, t->schema, t->name, t->n_cols, &t->batch, err);
    if (st != ML_OK) return st;
  }
  *out = t->batch;
  return ML_OK;
}

ml_status ml_table_flush(ml_table *t, ml_err *err) { return t->batch ? ml_batch_flush(t->batch, err) : ML_OK; }
ml_status ml_table_flush_async(ml_table *t, ml_err *err) {
  return t->batch ? ml_batch_flush_async(t->batch, err) : ML_OK;
}

ml_status ml_table_align(ml_table *a, ml_table *b, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t i = 0; st == ML_OK && i < a->n_cols; i++)
    if (ml_table_find(b, a->cols[i].name) < 0) st = ml_table_add_column(b, a->cols[i].name, a->cols[i].type, err);
  for (size_t i = 0; st == ML_OK && i < b->n_cols; i++)
    if (ml_table_find(a, b->cols[i].name) < 0) st = ml_table_add_column(a, b->cols[i].name, b->cols[i].type, err);
  return st;
}

ml_status ml_table_move_rows(ml_table *from, ml_table *to, const char *where_sql, ml_err *err) {
  ml_buf q = ML_BUF_INIT;
  ml_buf_puts(&q, "INSERT INTO ");
  ml_table_sql_name(to, &q);
  ml_buf_puts(&q, " BY NAME SELECT * FROM ");
  ml_table_sql_name(from, &q);
  ml_buf_puts(&q, where_sql);
  ml_buf_puts(&q, "; DELETE FROM ");
  ml_table_sql_name(from, &q);
  ml_buf_puts(&q, where_sql);
  ml_status st = ml_wh_delete_unbounded_buf(from->wh, &q, err);
  ml_buf_free(&q);
  return st;
}

ml_status ml_table_rename_over(ml_table *t, const char *name, ml_err *err) {
  ml_status st = ml_table_close_batch(t, err);
  if (st != ML_OK) return st;
  ml_buf q = ML_BUF_INIT;
  ml_buf_puts(&q, "DROP TABLE IF EXISTS ");
  ml_sql_qualified_in(&q, t->catalog, t->schema, name);
  ml_buf_puts(&q, "; ALTER TABLE ");
  ml_table_sql_name(t, &q);
  ml_buf_puts(&q, " RENAME TO ");
  ml_sql_ident(&q, name);
  st = ml_wh_exec_buf(t->wh, &q, err);
  ml_buf_free(&q);
  return st;
}
