#include "ml_children.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/ml_ids.h"
#include "../engine/ml_table.h"
#include "../engine/ml_value.h"
#include "../util/ml_hash.h"

/* One child table.  The runtimes sit in breadth-first order, so the
 * children of rt[k] are rt[first_sub .. first_sub + plan->n_children). */
typedef struct child_rt {
  const ml_unnest_child *plan;
  size_t first_sub;
  uint64_t path_hash; /* of plan->key, for _mallard_id */
  ml_table load;      /* where rows are appended; `ready` once the table exists and load.cols is current */
  bool ready;
  ml_table final; /* append_dedup: the merge target; final_ready once it exists */
  bool final_ready;
  ml_table pending; /* parked rows (see ml_astream_park) */
  bool pending_made, pending_rows;
  long meta_col[ML_UNNEST_META_COLUMNS];
  long *col; /* plan->cols[i] -> column of load */
} child_rt;

struct ml_children {
  ml_wh *wh;
  const ml_stream_def *def;
  ml_proto *log;
  child_rt *rt;
  size_t n;
  ml_buf label, scratch, q;
  uint64_t rows;
};

static ml_status exec_q(ml_children *c, ml_err *err) { return ml_wh_exec_buf(c->wh, &c->q, err); }

static size_t count_nodes(const ml_unnest_child *kids, size_t n) {
  size_t total = n;
  for (size_t i = 0; i < n; i++) total += count_nodes(kids[i].children, kids[i].n_children);
  return total;
}

/* The columns a new child table is created with: meta columns, then the plan's. */
static ml_status wanted_cols(const child_rt *r, ml_col **out, size_t *n, ml_err *err) {
  *n = ML_UNNEST_META_COLUMNS + r->plan->n_cols;
  ml_col *w = calloc(*n, sizeof *w);
  if (!(*out = w)) return ml_err_nomem(err);
  for (size_t i = 0; i < ML_UNNEST_META_COLUMNS; i++)
    w[i] = (ml_col){(char *)ml_unnest_meta_names[i], ml_type_of(ml_unnest_meta_types[i])};
  for (size_t i = 0; i < r->plan->n_cols; i++)
    w[ML_UNNEST_META_COLUMNS + i] = (ml_col){r->plan->cols[i].column, r->plan->cols[i].type};
  return ML_OK;
}

/* Creates the load table or brings it to the plan's columns, and maps them. */
static ml_status make_ready(ml_children *c, child_rt *r, ml_err *err) {
  ml_col *w;
  size_t n;
  ml_status st = wanted_cols(r, &w, &n, err);
  bool kept_type = false;
  if (st == ML_OK) st = ml_table_sync(&r->load, w, n, false, &kept_type, err);
  free(w);
  if (st != ML_OK) return st;
  if (kept_type)
    ml_proto_log(c->log, "WARN",
                 "stream '%s': a column of table %s.%s already exists with another type; values are converted to "
                 "the existing type (NULL where they do not fit)",
                 c->def->name, c->def->schema, r->plan->table);
  for (size_t i = 0; i < ML_UNNEST_META_COLUMNS; i++) r->meta_col[i] = ml_table_find(&r->load, ml_unnest_meta_names[i]);
  for (size_t i = 0; i < r->plan->n_cols; i++) r->col[i] = ml_table_find(&r->load, r->plan->cols[i].column);
  r->ready = true;
  return ML_OK;
}

static ml_status table_exists(ml_children *c, const ml_table *t, bool *exists, ml_err *err) {
  return ml_wh_table_exists(c->wh, NULL, t->schema, t->name, exists, err);
}

static ml_status open_one(ml_children *c, child_rt *r, ml_children_start start, ml_err *err) {
  const ml_stream_def *d = c->def;
  ml_buf name = ML_BUF_INIT;
  ml_buf_printf(&name, "%s%s", ml_sync_mode_load_prefix(d->mode), r->plan->table);
  ml_status st = ml_buf_ok(&name) ? ml_table_init(&r->load, c->wh, d->schema, name.data, err) : ml_err_nomem(err);
  ml_buf_reset(&name);
  ml_buf_printf(&name, "_mallard_pending_%s", r->plan->table);
  if (st == ML_OK) st = ml_buf_ok(&name) ? ml_table_init(&r->pending, c->wh, d->schema, name.data, err) : ml_err_nomem(err);
  ml_buf_free(&name);
  if (st == ML_OK) st = ml_table_init(&r->final, c->wh, d->schema, r->plan->table, err);
  r->path_hash = ml_hash_fnv1a(r->plan->key, strlen(r->plan->key));
  if (st == ML_OK && !(r->col = calloc(r->plan->n_cols ? r->plan->n_cols : 1, sizeof *r->col))) st = ml_err_nomem(err);
  if (st != ML_OK) return st;
  if (d->mode == ML_MODE_OVERWRITE && start != ML_CHILDREN_KEEP) {
    bool from_final = false;
    if (start == ML_CHILDREN_FROM_FINAL) st = table_exists(c, &r->final, &from_final, err);
    ml_buf_reset(&c->q);
    ml_buf_puts(&c->q, "DROP TABLE IF EXISTS ");
    ml_table_sql_name(&r->load, &c->q);
    if (from_final) {
      ml_buf_puts(&c->q, "; CREATE TABLE ");
      ml_table_sql_name(&r->load, &c->q);
      ml_buf_puts(&c->q, " AS FROM ");
      ml_table_sql_name(&r->final, &c->q);
    }
    if (st == ML_OK) st = exec_q(c, err);
  }
  bool exists = false;
  if (st == ML_OK) st = table_exists(c, &r->load, &exists, err);
  if (st == ML_OK && exists) st = make_ready(c, r, err);
  if (st == ML_OK && d->mode == ML_MODE_APPEND_DEDUP) {
    st = table_exists(c, &r->final, &exists, err);
    if (st == ML_OK && exists) {
      ml_col *w;
      size_t n;
      st = wanted_cols(r, &w, &n, err);
      if (st == ML_OK) st = ml_table_sync(&r->final, w, n, false, NULL, err);
      free(w);
      r->final_ready = st == ML_OK;
    }
  }
  if (st == ML_OK && d->mode != ML_MODE_APPEND_DEDUP) {
    /* rows a run that died parked: no STATE covered them, the source sends them again */
    ml_buf_reset(&c->q);
    ml_buf_puts(&c->q, "DROP TABLE IF EXISTS ");
    ml_table_sql_name(&r->pending, &c->q);
    st = exec_q(c, err);
  }
  return st;
}

ml_status ml_children_open(ml_wh *wh, const ml_stream_def *def, const ml_unnest_plan *plan, ml_children_start start,
                           ml_proto *log, ml_children **out, ml_err *err) {
  *out = NULL;
  size_t n = count_nodes(plan->children, plan->n_children);
  if (n == 0) return ML_OK;
  ml_children *c = calloc(1, sizeof *c);
  if (!c) return ml_err_nomem(err);
  c->wh = wh;
  c->def = def;
  c->log = log;
  ml_buf_init(&c->label);
  ml_buf_init(&c->scratch);
  ml_buf_init(&c->q);
  ml_status st = (c->rt = calloc(n, sizeof *c->rt)) ? ML_OK : ml_err_nomem(err);
  if (st == ML_OK) {
    size_t next = 0;
    for (size_t i = 0; i < plan->n_children; i++) c->rt[next++].plan = &plan->children[i];
    for (size_t k = 0; k < next; k++) {
      c->rt[k].first_sub = next;
      for (size_t i = 0; i < c->rt[k].plan->n_children; i++) c->rt[next++].plan = &c->rt[k].plan->children[i];
    }
    c->n = n;
  }
  for (size_t k = 0; st == ML_OK && k < n; k++) st = open_one(c, &c->rt[k], start, err);
  if (st != ML_OK) {
    ml_children_free(c);
    return st;
  }
  *out = c;
  return ML_OK;
}

void ml_children_free(ml_children *c) {
  if (!c) return;
  for (size_t k = 0; k < c->n; k++) {
    ml_table_free(&c->rt[k].load);
    ml_table_free(&c->rt[k].final);
    ml_table_free(&c->rt[k].pending);
    free(c->rt[k].col);
  }
  free(c->rt);
  ml_buf_free(&c->label);
  ml_buf_free(&c->scratch);
  ml_buf_free(&c->q);
  free(c);
}

/* ---- rows ---- */

/* The rows of child k for the array inside `row` (the record or a parent
 * item whose id is plo/phi); c->label holds the parent row's path. */
static ml_status write_rows(ml_children *c, size_t k, const ml_json_val *row, uint64_t plo, int64_t phi,
                            uint64_t rlo, int64_t rhi, int64_t us, int64_t gen, ml_buf *changes, uint64_t *nulled,
                            ml_err *err) {
  child_rt *r = &c->rt[k];
  const ml_unnest_child *p = r->plan;
  const ml_json_val *arr = ml_unnest_walk(row, p->path, p->n_path);
  if (!arr || arr->type != ML_JSON_ARRAY || arr->len == 0) return ML_OK;
  ml_status st = r->ready ? ML_OK : make_ready(c, r, err);
  if (st != ML_OK) return st;
  size_t parent_len = c->label.len;
  if (parent_len) ml_buf_putc(&c->label, '.');
  ml_buf_puts(&c->label, p->label);
  size_t base = c->label.len;
  ml_value_opts opts = {false};
  for (size_t i = 0; st == ML_OK && i < arr->len; i++) {
    ml_batch *b;
    if ((st = ml_table_batch(&r->load, &b, err)) != ML_OK) break;
    uint64_t lo;
    int64_t hi;
    ml_ids_derive(plo, phi, r->path_hash, i, &lo, &hi);
    ml_batch_put_i128(b, (size_t)r->meta_col[ML_UNNEST_RAW_ID], rlo, rhi);
    ml_batch_put_i128(b, (size_t)r->meta_col[ML_UNNEST_PARENT_ID], plo, phi);
    ml_batch_put_i128(b, (size_t)r->meta_col[ML_UNNEST_ID], lo, hi);
    ml_batch_put_i64(b, (size_t)r->meta_col[ML_UNNEST_LIST_IDX], (int64_t)i);
    ml_batch_put_i64(b, (size_t)r->meta_col[ML_UNNEST_EXTRACTED_AT], us);
    ml_batch_put_i64(b, (size_t)r->meta_col[ML_UNNEST_GENERATION], gen);
    const ml_json_val *item = &arr->u.items[i];
    for (size_t j = 0; j < p->n_cols; j++) {
      const ml_unnest_col *col = &p->cols[j];
      const ml_json_val *v = ml_unnest_walk(item, col->path, col->n_path);
      if (!v || r->col[j] < 0) continue;
      opts.base64 = col->base64;
      ml_value_fit fit = ml_value_put_or_null(b, (size_t)r->col[j], r->load.cols[r->col[j]].type, &opts, v, &c->scratch);
      if (fit == ML_VALUE_FITS) continue;
      /* not the value's fault: the sync fails rather than record it as nulled */
      if (fit == ML_VALUE_NULLED && !ml_buf_ok(&c->scratch)) {
        st = ml_err_nomem(err);
        break;
      }
      if (fit == ML_VALUE_NULLED) (*nulled)++;
      ml_buf_printf(&c->label, "[%zu]%s%s", i, col->label[0] ? "." : "", col->label);
      ml_proto_meta_change(changes, c->label.data, c->label.len,
                           fit == ML_VALUE_NULLED ? ML_CHANGE_NULLED : ML_CHANGE_TRUNCATED);
      c->label.len = base;
    }
    if (st != ML_OK || (st = ml_batch_end_row(b, err)) != ML_OK) break;
    c->rows++;
    if (p->n_children && item->type == ML_JSON_OBJECT) {
      ml_buf_printf(&c->label, "[%zu]", i);
      for (size_t s = 0; st == ML_OK && s < p->n_children; s++)
        st = write_rows(c, r->first_sub + s, item, lo, hi, rlo, rhi, us, gen, changes, nulled, err);
      c->label.len = base;
    }
  }
  c->label.len = parent_len;
  if (st == ML_OK && !ml_buf_ok(&c->label)) st = ml_err_nomem(err);
  return st;
}

ml_status ml_children_write(ml_children *c, const ml_json_val *data, uint64_t lo, int64_t hi, int64_t extracted_us,
                            int64_t generation, ml_buf *changes, uint64_t *nulled, ml_err *err) {
  ml_status st = ML_OK;
  ml_buf_reset(&c->label);
  for (size_t k = 0; st == ML_OK && k < c->n && c->rt[k].plan->level == 1; k++)
    st = write_rows(c, k, data, lo, hi, lo, hi, extracted_us, generation, changes, nulled, err);
  if (st != ML_OK) ml_err_prefix(err, "stream '%s': unnesting a record", c->def->name);
  return st;
}

ml_status ml_children_flush(ml_children *c, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t k = 0; st == ML_OK && k < c->n; k++)
    if (c->rt[k].ready) st = ml_table_flush(&c->rt[k].load, err);
  return st;
}

ml_status ml_children_flush_async(ml_children *c, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t k = 0; st == ML_OK && k < c->n; k++)
    if (c->rt[k].ready) st = ml_table_flush_async(&c->rt[k].load, err);
  return st;
}

/* ---- append_dedup ---- */

ml_status ml_children_delete_replaced(ml_children *c, const char *ids_sql, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t k = 0; st == ML_OK && k < c->n; k++) {
    child_rt *r = &c->rt[k];
    if (!r->final_ready) continue;
    ml_buf_reset(&c->q);
    ml_buf_puts(&c->q, "DELETE FROM ");
    ml_table_sql_name(&r->final, &c->q);
    ml_buf_printf(&c->q, " WHERE _airbyte_raw_id IN (%s)", ids_sql);
    st = ml_wh_delete_unbounded_buf(c->wh, &c->q, err);
  }
  return st;
}

ml_status ml_children_insert_winners(ml_children *c, const char *ids_sql, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t k = 0; st == ML_OK && k < c->n; k++) {
    child_rt *r = &c->rt[k];
    if (!r->ready) continue;
    if ((st = ml_table_close_batch(&r->load, err)) != ML_OK) break;
    if (!r->final_ready) {
      /* created with its first row, not before */
      ml_buf_reset(&c->q);
      ml_buf_puts(&c->q, "SELECT count(*) FROM ");
      ml_table_sql_name(&r->load, &c->q);
      ml_buf_printf(&c->q, " WHERE _airbyte_raw_id IN (%s)", ids_sql);
      int64_t rows = 0;
      bool found;
      st = ml_buf_ok(&c->q) ? ml_wh_query_i64(c->wh, c->q.data, &rows, &found, err) : ml_err_nomem(err);
      if (st != ML_OK || rows == 0) continue;
      if ((st = ml_table_sync(&r->final, r->load.cols, r->load.n_cols, false, NULL, err)) != ML_OK) break;
      r->final_ready = true;
    }
    if ((st = ml_table_align(&r->final, &r->load, err)) != ML_OK) break;
    ml_buf_reset(&c->q);
    ml_buf_puts(&c->q, "INSERT INTO ");
    ml_table_sql_name(&r->final, &c->q);
    ml_buf_puts(&c->q, " BY NAME SELECT * FROM ");
    ml_table_sql_name(&r->load, &c->q);
    ml_buf_printf(&c->q, " WHERE _airbyte_raw_id IN (%s)", ids_sql);
    st = ml_wh_exec_unbounded_buf(c->wh, &c->q, err);
  }
  return st;
}

ml_status ml_children_clear_staged(ml_children *c, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t k = 0; st == ML_OK && k < c->n; k++) {
    if (!c->rt[k].ready) continue;
    ml_buf_reset(&c->q);
    ml_buf_puts(&c->q, "DELETE FROM ");
    ml_table_sql_name(&c->rt[k].load, &c->q);
    st = exec_q(c, err);
  }
  return st;
}

/* ---- end of a sync ---- */

ml_status ml_children_finish(ml_children *c, ml_err *err) {
  const ml_stream_def *d = c->def;
  ml_status st = ML_OK;
  for (size_t k = 0; st == ML_OK && k < c->n; k++) {
    child_rt *r = &c->rt[k];
    ml_buf_reset(&c->q);
    if (d->mode == ML_MODE_OVERWRITE && r->ready) {
      st = ml_table_rename_over(&r->load, r->plan->table, err);
      r->ready = false; /* the load table is gone: a later sync starts it again */
      continue;
    }
    if (d->mode != ML_MODE_OVERWRITE && d->minimum_generation_id <= 0) continue;
    bool exists = false;
    if ((st = table_exists(c, &r->final, &exists, err)) != ML_OK || !exists) continue;
    ml_buf_puts(&c->q, "DELETE FROM ");
    ml_table_sql_name(&r->final, &c->q);
    /* overwrite: a child without rows in this sync has none left */
    if (d->mode != ML_MODE_OVERWRITE)
      ml_buf_printf(&c->q, " WHERE _airbyte_generation_id IS NULL OR _airbyte_generation_id < %lld",
                    (long long)d->minimum_generation_id);
    st = ml_wh_delete_unbounded_buf(c->wh, &c->q, err);
  }
  return st;
}

/* ---- resent and parked rows ---- */

/* " WHERE _airbyte_raw_id >= '<lo/hi>'::UUID": rows of records from that id on. */
static void id_condition(char out[96], uint64_t lo, int64_t hi) {
  char id[37];
  ml_ids_format(lo, hi, id);
  snprintf(out, 96, " WHERE _airbyte_raw_id >= '%s'::UUID", id);
}

ml_status ml_children_drop_from(ml_children *c, uint64_t lo, int64_t hi, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t k = 0; st == ML_OK && k < c->n; k++) {
    child_rt *r = &c->rt[k];
    for (int which = 0; st == ML_OK && which < 2; which++) {
      ml_table *t = which ? &r->pending : &r->load;
      if (which ? !r->pending_rows : !r->ready) continue;
      if (!which && (st = ml_table_close_batch(t, err)) != ML_OK) break;
      char where[96];
      id_condition(where, lo, hi);
      ml_buf_reset(&c->q);
      ml_buf_puts(&c->q, "DELETE FROM ");
      ml_table_sql_name(t, &c->q);
      ml_buf_puts(&c->q, where);
      st = ml_wh_delete_unbounded_buf(c->wh, &c->q, err);
    }
  }
  return st;
}

ml_status ml_children_park(ml_children *c, uint64_t lo, int64_t hi, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t k = 0; st == ML_OK && k < c->n; k++) {
    child_rt *r = &c->rt[k];
    if (!r->ready) continue;
    st = ml_table_close_batch(&r->load, err);
    if (st == ML_OK) st = ml_table_sync(&r->pending, r->load.cols, r->load.n_cols, false, NULL, err);
    r->pending_made |= st == ML_OK;
    char where[96];
    id_condition(where, lo, hi);
    if (st == ML_OK) st = ml_table_move_rows(&r->load, &r->pending, where, err);
    r->pending_rows |= st == ML_OK;
  }
  return st;
}

ml_status ml_children_covered(ml_children *c, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t k = 0; st == ML_OK && k < c->n; k++) {
    child_rt *r = &c->rt[k];
    if (!r->pending_rows) continue;
    st = ml_table_close_batch(&r->load, err);
    if (st == ML_OK) st = ml_table_move_rows(&r->pending, &r->load, "", err);
    if (st == ML_OK) r->pending_rows = false;
  }
  return st;
}

ml_status ml_children_end_of_input(ml_children *c, ml_err *err) {
  ml_status st = ml_children_covered(c, err);
  for (size_t k = 0; st == ML_OK && k < c->n; k++) {
    if (!c->rt[k].pending_made) continue;
    ml_buf_reset(&c->q);
    ml_buf_puts(&c->q, "DROP TABLE IF EXISTS ");
    ml_table_sql_name(&c->rt[k].pending, &c->q);
    st = exec_q(c, err);
    c->rt[k].pending_made = false;
  }
  return st;
}

uint64_t ml_children_rows(const ml_children *c) { return c ? c->rows : 0; }

unsigned ml_children_schema_changes(const ml_children *c) {
  unsigned n = 0;
  for (size_t k = 0; c && k < c->n; k++) n += c->rt[k].load.schema_changes + c->rt[k].final.schema_changes;
  return n;
}
