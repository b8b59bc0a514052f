#include "ml_astream.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/ml_array.h"
#include "../engine/ml_value.h"
#include "../util/ml_hash.h"
#include "../warehouse/ml_merge.h"
#include "ml_children.h"

/* Metadata columns of every typed table, in this order at creation. */
enum { META_RAW_ID, META_EXTRACTED_AT, META_META, META_GENERATION, META_COUNT };
static const char *const meta_names[META_COUNT] = {"_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta",
                                                   "_airbyte_generation_id"};
static const ml_type_id meta_types[META_COUNT] = {ML_TYPE_UUID, ML_TYPE_TIMESTAMPTZ, ML_TYPE_JSON, ML_TYPE_BIGINT};

/* One record field name the stream knows, and the load-table column it
 * fills.  Declared fields come from the catalog; others were inferred from
 * records during this run and may widen. */
typedef struct field_slot {
  char *key;
  size_t key_len;
  uint64_t hash;
  long col;
  bool declared;
  bool base64;
} field_slot;

struct ml_astream {
  const ml_stream_def *def;
  ml_wh *wh;
  ml_proto *log;
  ml_table load;  /* where rows are appended */
  ml_table final; /* append_dedup only: the merge target */
  bool has_final;
  ml_table raw; /* legacy raw table (load side) */
  bool has_raw;
  char *raw_final_name;
  long meta_col[META_COUNT];
  /* open-addressing map from field name to slot; size is a power of two */
  field_slot *slots;
  size_t n_slots, slot_cap;
  /* per-record scratch: the slot of each data member.  The first
   * n_predicted entries still hold the last record's slots (valid pointers:
   * slot_add, which may move the slots, sets n_predicted to 0); records of
   * one stream nearly always list their fields in the same order, so a key
   * equal to the last record's at the same position skips the hash lookup. */
  field_slot **member_slot;
  size_t member_cap, n_predicted;
  ml_buf scratch, meta, changes;
  uint64_t records, nulled;
  uint64_t staged; /* append_dedup: rows in the staging table not merged yet */
  /* append_dedup without child tables: rows go straight into the final
   * table (load is the final table, no staging); the rows of the open
   * transaction are those with a rowid above new_after (see merge_direct) */
  bool direct;
  int64_t new_after;
  /* uncovered rows (see ml_astream_park): the first id loaded since the last
   * STATE of this stream, and the pending table holding parked rows */
  bool tail;
  uint64_t tail_lo;
  int64_t tail_hi;
  ml_table pending;
  bool pending_ready, pending_rows;
  char meta_plain[64];
  size_t meta_plain_len;
  /* unnesting (NULL / 0 without): flattened columns of the load table, and the child tables */
  const ml_unnest_plan *plan;
  long *flat_col; /* plan->flat[i] -> column of load */
  ml_children *children;
};

static uint64_t fnv1a(const char *s, size_t n) { return ml_hash_fnv1a(s, n); }
static ml_status pending_open(ml_astream *s, bool create, ml_err *err);

static field_slot *slot_find(ml_astream *s, const char *key, size_t len, uint64_t h) {
  if (!s->slot_cap) return NULL;
  for (size_t i = h & (s->slot_cap - 1);; i = (i + 1) & (s->slot_cap - 1)) {
    field_slot *f = &s->slots[i];
    if (!f->key) return NULL;
    if (f->hash == h && f->key_len == len && !memcmp(f->key, key, len)) return f;
  }
}

static ml_status slot_add(ml_astream *s, const char *key, size_t len, long col, bool declared, bool base64,
                          field_slot **out, ml_err *err) {
  s->n_predicted = 0;
  if ((s->n_slots + 1) * 2 > s->slot_cap) {
    size_t cap = s->slot_cap ? s->slot_cap * 2 : 64;
    field_slot *fresh = calloc(cap, sizeof *fresh);
    if (!fresh) return ml_err_nomem(err);
    for (size_t i = 0; i < s->slot_cap; i++) {
      if (!s->slots[i].key) continue;
      size_t j = s->slots[i].hash & (cap - 1);
      while (fresh[j].key) j = (j + 1) & (cap - 1);
      fresh[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = fresh;
    s->slot_cap = cap;
  }
  uint64_t h = fnv1a(key, len);
  size_t i = h & (s->slot_cap - 1);
  while (s->slots[i].key) i = (i + 1) & (s->slot_cap - 1);
  char *copy = malloc(len + 1);
  if (!copy) return ml_err_nomem(err);
  memcpy(copy, key, len);
  copy[len] = '\0';
  s->slots[i] = (field_slot){copy, len, h, col, declared, base64};
  s->n_slots++;
  if (out) *out = &s->slots[i];
  return ML_OK;
}

static char *concat(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *p = malloc(la + lb + 1);
  if (!p) return NULL;
  memcpy(p, a, la);
  memcpy(p + la, b, lb + 1);
  return p;
}

/* Whether `table` exists and holds only rows of this very sync (same sync_id
 * and generation; never for sync_id 0).  An overwrite that failed part-way
 * left a temporary table whose rows were acknowledged (their STATE echoed):
 * when the platform retries the same sync it resends only what follows, so
 * such a table is kept; any other leftover is discarded. */
static ml_status holds_only_this_sync(ml_astream *s, const char *table, bool *keep, ml_err *err) {
  *keep = false;
  if (s->def->sync_id == 0) return ML_OK;
  bool exists = false, found = false;
  ml_status st = ml_wh_table_exists(s->wh, NULL, s->def->schema, table, &exists, err);
  if (st != ML_OK || !exists) return st;
  ml_buf q = ML_BUF_INIT;
  ml_buf_puts(&q, "SELECT count(*) FROM ");
  ml_sql_qualified(&q, s->def->schema, table);
  ml_buf_printf(&q,
                " WHERE _airbyte_generation_id IS DISTINCT FROM %lld OR "
                "TRY_CAST(json_extract(_airbyte_meta, '$.sync_id') AS BIGINT) IS DISTINCT FROM %lld",
                (long long)s->def->generation_id, (long long)s->def->sync_id);
  int64_t foreign = 0;
  st = ml_wh_query_i64(s->wh, q.data, &foreign, &found, err);
  ml_buf_free(&q);
  if (st == ML_OK) *keep = foreign == 0;
  return st;
}

/* The column name that would hide DuckDB's own rowid, which the direct
 * merge tells this transaction's rows by: DuckDB resolves `rowid` to a
 * column of that name when the table has one. */
#define ROWID "rowid"

/* append_dedup: opens the final table (with the wanted columns), and loads
 * straight into it unless the stream has child tables (their merge needs
 * the staged rows apart), an earlier run left rows in the staging table
 * (kept from older versions of mallard, and merged the staged way; counted
 * in s->staged), or the table has a column named rowid (declared or not).
 * Direct: s->load is the final table and an empty staging table is dropped;
 * staged: s->final is, and s->load is opened by the caller. */
static ml_status open_dedup(ml_astream *s, const char *stage_name, const ml_col *wanted, size_t n, bool *kept_type,
                            ml_err *err) {
  const ml_stream_def *d = s->def;
  s->has_final = true;
  ml_status st = ml_table_init(&s->final, s->wh, d->schema, d->table, err);
  if (st == ML_OK) st = ml_table_sync(&s->final, wanted, n, false, kept_type, err);
  bool exists = false, found = false;
  int64_t left = 0;
  if (st == ML_OK) st = ml_wh_table_exists(s->wh, NULL, d->schema, stage_name, &exists, err);
  ml_buf q = ML_BUF_INIT;
  if (st == ML_OK && exists) {
    /* rows a failed run staged (and acknowledged) are merged at the first commit */
    ml_buf_puts(&q, "SELECT count(*) FROM ");
    ml_sql_qualified(&q, d->schema, stage_name);
    st = ml_buf_ok(&q) ? ml_wh_query_i64(s->wh, q.data, &left, &found, err) : ml_err_nomem(err);
  }
  s->staged = (uint64_t)left;
  s->direct = st == ML_OK && !s->plan && left == 0 && ml_table_find(&s->final, ROWID) < 0;
  if (s->direct && exists) {
    /* an empty staging table an earlier run (or version) left has no use */
    ml_buf_reset(&q);
    ml_buf_puts(&q, "DROP TABLE ");
    ml_sql_qualified(&q, d->schema, stage_name);
    st = ml_wh_exec_buf(s->wh, &q, err);
  }
  ml_buf_free(&q);
  if (s->direct) {
    s->load = s->final;
    s->final = (ml_table){0};
    s->has_final = false;
  }
  return st;
}

static ml_status open_tables(ml_astream *s, bool raw_tables, ml_err *err) {
  const ml_stream_def *d = s->def;
  size_t n_flat = s->plan ? s->plan->n_flat : 0;
  size_t n = META_COUNT + d->n_fields + n_flat;
  ml_col *wanted = calloc(n, sizeof *wanted);
  if (!wanted) return ml_err_nomem(err);
  for (size_t i = 0; i < META_COUNT; i++) {
    wanted[i].name = (char *)meta_names[i];
    wanted[i].type = ml_type_of(meta_types[i]);
  }
  for (size_t i = 0; i < d->n_fields; i++) {
    wanted[META_COUNT + i].name = d->fields[i].column;
    wanted[META_COUNT + i].type = d->fields[i].type;
  }
  for (size_t i = 0; i < n_flat; i++) {
    wanted[META_COUNT + d->n_fields + i].name = s->plan->flat[i].column;
    wanted[META_COUNT + d->n_fields + i].type = s->plan->flat[i].type;
  }
  char *load_name = concat(ml_sync_mode_load_prefix(d->mode), d->table);
  ml_status st = load_name ? ML_OK : ml_err_nomem(err);
  bool kept_type = false, final_kept_type = false;
  if (st == ML_OK && d->mode == ML_MODE_APPEND_DEDUP) st = open_dedup(s, load_name, wanted, n, &final_kept_type, err);
  /* the types kept in the table rows are loaded into (as before: the
   * staging table's when staged) */
  if (s->direct) kept_type = final_kept_type;
  bool keep = true;
  ml_children_start child_start = ML_CHILDREN_KEEP;
  if (st == ML_OK && d->mode == ML_MODE_OVERWRITE) st = holds_only_this_sync(s, load_name, &keep, err);
  if (!keep) child_start = ML_CHILDREN_FRESH;
  if (st == ML_OK && d->mode == ML_MODE_OVERWRITE && !keep) {
    /* The table may already have been swapped in by this very sync, killed
     * before its last STATEs were echoed: the platform resends the tail, which
     * is dropped as already loaded, so the new table must start from the
     * swapped-in one, not empty. */
    bool swapped = false;
    st = holds_only_this_sync(s, d->table, &swapped, err);
    if (st == ML_OK && swapped) {
      ml_buf q = ML_BUF_INIT;
      ml_buf_puts(&q, "DROP TABLE IF EXISTS ");
      ml_sql_qualified(&q, d->schema, load_name);
      ml_buf_puts(&q, "; CREATE TABLE ");
      ml_sql_qualified(&q, d->schema, load_name);
      ml_buf_puts(&q, " AS FROM ");
      ml_sql_qualified(&q, d->schema, d->table);
      st = ml_wh_exec_buf(s->wh, &q, err);
      ml_buf_free(&q);
      keep = true;
      child_start = ML_CHILDREN_FROM_FINAL;
    }
  }
  if (st == ML_OK && !s->direct) st = ml_table_init(&s->load, s->wh, d->schema, load_name, err);
  if (st == ML_OK && !s->direct) st = ml_table_sync(&s->load, wanted, n, !keep, &kept_type, err);
  if (st == ML_OK && kept_type)
    ml_proto_log(s->log, "WARN",
                 "stream '%s': a column of table %s.%s already exists with another type; values are converted to "
                 "the existing type (NULL where they do not fit)",
                 d->name, d->schema, d->table);
  if (st == ML_OK && raw_tables) {
    s->has_raw = true;
    s->raw_final_name = concat("_airbyte_raw_", d->table);
    char *raw_load = s->raw_final_name ? concat(ml_sync_mode_load_prefix(d->mode == ML_MODE_OVERWRITE ? d->mode : ML_MODE_APPEND),
                                                s->raw_final_name)
                                       : NULL;
    ml_col raw_cols[3] = {{"_airbyte_ab_id", ml_type_of(ML_TYPE_VARCHAR)},
                          {"_airbyte_emitted_at", ml_type_of(ML_TYPE_TIMESTAMPTZ)},
                          {"_airbyte_data", ml_type_of(ML_TYPE_JSON)}};
    st = raw_load ? ml_table_init(&s->raw, s->wh, d->schema, raw_load, err)
                  : ml_err_nomem(err);
    if (st == ML_OK) st = ml_table_sync(&s->raw, raw_cols, 3, d->mode == ML_MODE_OVERWRITE && !keep, NULL, err);
    free(raw_load);
  }
  free(load_name);
  free(wanted);
  if (st != ML_OK) return st;
  /* rows a failed run parked were never covered by a STATE: the platform
   * sends them again, so they go */
  if (d->mode != ML_MODE_APPEND_DEDUP) {
    st = pending_open(s, false, err);
    int64_t stale = 0;
    if (st == ML_OK) {
      ml_buf q = ML_BUF_INIT;
      bool exists = false, found;
      st = ml_wh_table_exists(s->wh, NULL, d->schema, s->pending.name, &exists, err);
      if (st == ML_OK && exists) {
        ml_buf_puts(&q, "SELECT count(*) FROM ");
        ml_table_sql_name(&s->pending, &q);
        st = ml_wh_query_i64(s->wh, q.data, &stale, &found, err);
        ml_buf_reset(&q);
        ml_buf_puts(&q, "DROP TABLE ");
        ml_table_sql_name(&s->pending, &q);
        if (st == ML_OK) st = ml_wh_exec(s->wh, q.data, err);
      }
      ml_buf_free(&q);
    }
    if (st == ML_OK && stale > 0)
      ml_proto_log(s->log, "INFO",
                   "stream '%s': %lld rows of an earlier attempt that no STATE covered were discarded; the source "
                   "sends them again",
                   d->name, (long long)stale);
    if (st != ML_OK) return st;
  }
  for (size_t i = 0; i < META_COUNT; i++) s->meta_col[i] = ml_table_find(&s->load, meta_names[i]);
  if (n_flat && !(s->flat_col = calloc(n_flat, sizeof *s->flat_col))) return ml_err_nomem(err);
  for (size_t i = 0; i < n_flat; i++) s->flat_col[i] = ml_table_find(&s->load, s->plan->flat[i].column);
  if (s->plan) st = ml_children_open(s->wh, d, s->plan, child_start, s->log, &s->children, err);
  for (size_t i = 0; st == ML_OK && i < d->n_fields; i++) {
    const ml_field *f = &d->fields[i];
    st = slot_add(s, f->source, strlen(f->source), ml_table_find(&s->load, f->column), true, f->base64, NULL, err);
  }
  return st;
}

ml_status ml_astream_open(ml_wh *wh, const ml_stream_def *def, const ml_unnest_plan *plan, bool raw_tables,
                          ml_proto *log, ml_astream **out, ml_err *err) {
  *out = NULL;
  ml_astream *s = calloc(1, sizeof *s);
  if (!s) return ml_err_nomem(err);
  s->def = def;
  s->wh = wh;
  s->log = log;
  s->plan = plan;
  ml_buf_init(&s->scratch);
  ml_buf_init(&s->meta);
  ml_buf_init(&s->changes);
  s->meta_plain_len = (size_t)snprintf(s->meta_plain, sizeof s->meta_plain, "{\"sync_id\":%lld,\"changes\":[]}",
                                       (long long)def->sync_id);
  ml_status st = open_tables(s, raw_tables, err);
  if (st != ML_OK) {
    ml_err_prefix(err, "stream '%s'", def->name);
    ml_astream_free(s);
    return st;
  }
  *out = s;
  return ML_OK;
}

void ml_astream_free(ml_astream *s) {
  if (!s) return;
  ml_table_free(&s->load);
  if (s->has_final) ml_table_free(&s->final);
  if (s->has_raw) ml_table_free(&s->raw);
  if (s->pending_ready) ml_table_free(&s->pending);
  free(s->raw_final_name);
  free(s->flat_col);
  ml_children_free(s->children);
  for (size_t i = 0; i < s->slot_cap; i++) free(s->slots[i].key);
  free(s->slots);
  free(s->member_slot);
  ml_buf_free(&s->scratch);
  ml_buf_free(&s->meta);
  ml_buf_free(&s->changes);
  free(s);
}

const ml_stream_def *ml_astream_def(const ml_astream *s) { return s->def; }
uint64_t ml_astream_records(const ml_astream *s) { return s->records; }
uint64_t ml_astream_nulled(const ml_astream *s) { return s->nulled; }
uint64_t ml_astream_child_rows(const ml_astream *s) { return ml_children_rows(s->children); }
unsigned ml_astream_schema_changes(const ml_astream *s) {
  return s->load.schema_changes + (s->has_final ? s->final.schema_changes : 0) +
         ml_children_schema_changes(s->children);
}

/* A column name for a field that the catalog did not declare: its normalised
 * form, unless a different field already owns that column, in which case a
 * hash of the field name keeps the two apart. */
static ml_status inferred_column_name(ml_astream *s, const char *key, size_t len, ml_buf *name, ml_err *err) {
  ml_buf_reset(name);
  if (!ml_name_normalize(key, len, name) || !ml_buf_ok(name))
    return ml_err_set(err, ML_ERR_INPUT, "stream '%s': a record has a field with an empty name", s->def->name);
  long at = ml_table_find(&s->load, name->data);
  bool owned = false;
  for (size_t i = 0; at >= 0 && i < s->slot_cap; i++)
    if (s->slots[i].key && s->slots[i].col == at) owned = true;
  for (size_t i = 0; at >= 0 && s->plan && i < s->plan->n_flat; i++)
    if (s->flat_col[i] == at) owned = true;
  bool meta = false;
  for (size_t i = 0; i < META_COUNT; i++) meta |= !strcmp(name->data, meta_names[i]);
  /* a direct append_dedup table must keep DuckDB's rowid visible */
  if (s->direct && !strcasecmp(name->data, ROWID)) meta = true;
  if (owned || meta) ml_buf_printf(name, "_%08llx", (unsigned long long)(fnv1a(key, len) >> 32));
  return ML_OK;
}

/* Makes sure every member of `data` has a column that can hold it, before
 * the row is started (DDL closes the batch). */
static ml_status prepare_columns(ml_astream *s, const ml_json_val *data, ml_err *err) {
  if (!ml_array_reserve(&s->member_slot, data->len, &s->member_cap, sizeof *s->member_slot, 16))
    return ml_err_nomem(err);
  for (size_t i = 0; i < data->len; i++) {
    const ml_json_val *k = ml_json_key(data, i), *v = ml_json_member(data, i);
    field_slot *f = i < s->n_predicted ? s->member_slot[i] : NULL;
    if (!f || f->key_len != k->len || memcmp(f->key, k->u.str, k->len))
      f = slot_find(s, k->u.str, k->len, fnv1a(k->u.str, k->len));
    s->member_slot[i] = f;
    if (f && f->declared) continue; /* declared: converted, never widened (and never created when missing) */
    ml_type vt = ml_value_infer(v);
    if (!f) {
      if (vt.id == ML_TYPE_NULL) continue; /* no column for a field seen only as null */
      ml_buf name = ML_BUF_INIT;
      ml_status st = inferred_column_name(s, k->u.str, k->len, &name, err);
      long col = st == ML_OK ? ml_table_find(&s->load, name.data) : -1;
      if (st == ML_OK && col < 0) {
        st = ml_table_add_column(&s->load, name.data, vt, err);
        col = (long)s->load.n_cols - 1;
        if (st == ML_OK)
          ml_proto_log(s->log, "INFO", "stream '%s': new field '%s' stored in column %s (%s)", s->def->name,
                       k->u.str, name.data, ml_type_sql(vt, (char[32]){0}));
      }
      if (st == ML_OK) st = slot_add(s, k->u.str, k->len, col, false, false, &f, err);
      ml_buf_free(&name);
      if (st != ML_OK) return st;
      s->member_slot[i] = f;
      /* slots may have moved: refresh earlier members' pointers */
      for (size_t j = 0; j < i; j++) {
        const ml_json_val *kj = ml_json_key(data, j);
        s->member_slot[j] = slot_find(s, kj->u.str, kj->len, fnv1a(kj->u.str, kj->len));
      }
    }
    if (!f->declared && vt.id != ML_TYPE_NULL && s->load.cols[f->col].type.id != ML_TYPE_NULL) {
      ml_type have = s->load.cols[f->col].type;
      ml_type want = ml_type_widen(have, vt);
      if (!ml_type_equal(have, want)) {
        ml_status st = ml_table_widen(&s->load, (size_t)f->col, want, err);
        if (st != ML_OK) return st;
        ml_proto_log(s->log, "INFO", "stream '%s': column %s widened to %s", s->def->name, s->load.cols[f->col].name,
                     ml_type_sql(want, (char[32]){0}));
      }
    }
  }
  s->n_predicted = data->len;
  return ML_OK;
}

/* Before the first row of a transaction reaches the final table: the
 * greatest rowid it holds, so that the merge can tell this transaction's
 * rows from the rest.  DuckDB gives the rows a transaction appends rowids
 * above every row the table had (transaction-local ones from 2^55 in 1.4,
 * placed after the last row at commit) and keeps rowids stable until the
 * transaction ends; a rowid filter is pushed into the scan. */
static ml_status mark_new_rows(ml_astream *s, ml_err *err) {
  ml_buf q = ML_BUF_INIT;
  ml_buf_puts(&q, "SELECT coalesce(max(rowid), -1) FROM ");
  ml_table_sql_name(&s->load, &q);
  bool found = false;
  ml_status st = ml_buf_ok(&q) ? ml_wh_query_i64(s->wh, q.data, &s->new_after, &found, err) : ml_err_nomem(err);
  ml_buf_free(&q);
  if (st != ML_OK && st != ML_ERR_NOMEM) ml_err_prefix(err, "stream '%s': reading the rowids of %s.%s", s->def->name, s->def->schema, s->def->table);
  return st;
}

/* One value of the record's row; what does not fit is noted in its meta. */
/* ML_ERR_NOMEM when the value could not be converted for lack of memory
 * (the row is incomplete: the caller abandons the transaction); a misfit is
 * recorded in the row's _airbyte_meta and is not an error. */
static ml_status put_field(ml_astream *s, ml_batch *b, size_t col, const ml_value_opts *opts, const ml_json_val *v,
                           const char *field, size_t len, ml_err *err) {
  switch (ml_value_put_or_null(b, col, s->load.cols[col].type, opts, v, &s->scratch)) {
  case ML_VALUE_FITS: break;
  case ML_VALUE_NULLED:
    if (!ml_buf_ok(&s->scratch))
      return ml_err_set(err, ML_ERR_NOMEM, "stream '%s': out of memory converting the value of field '%.*s'",
                        s->def->name, (int)len, field);
    ml_proto_meta_change(&s->changes, field, len, ML_CHANGE_NULLED);
    s->nulled++;
    break;
  case ML_VALUE_TRUNCATED: ml_proto_meta_change(&s->changes, field, len, ML_CHANGE_TRUNCATED); break;
  }
  return ML_OK;
}

ml_status ml_astream_record(ml_astream *s, const ml_json_val *data, int64_t emitted_at, const ml_json_val *source_meta,
                            ml_ids *ids, ml_err *err) {
  ml_status st = prepare_columns(s, data, err);
  if (st != ML_OK) return st;
  uint64_t lo;
  int64_t hi;
  ml_ids_next(ids, &lo, &hi);
  if (!s->tail) {
    s->tail = true;
    s->tail_lo = lo;
    s->tail_hi = hi;
  }
  /* Old sources send seconds: anything before 1973 in milliseconds is taken
   * as seconds. */
  int64_t ms = emitted_at < 100000000000LL ? emitted_at * 1000 : emitted_at;
  ml_buf_reset(&s->changes);
  /* child rows first: what did not fit in them goes into this row's _airbyte_meta */
  if (s->children &&
      (st = ml_children_write(s->children, data, lo, hi, ms * 1000, s->def->generation_id, &s->changes, &s->nulled,
                              err)) != ML_OK)
    return st;
  if (s->direct && s->staged == 0 && (st = mark_new_rows(s, err)) != ML_OK) return st;
  ml_batch *b;
  if ((st = ml_table_batch(&s->load, &b, err)) != ML_OK) return st;
  ml_batch_put_i128(b, (size_t)s->meta_col[META_RAW_ID], lo, hi);
  ml_batch_put_i64(b, (size_t)s->meta_col[META_EXTRACTED_AT], ms * 1000);
  ml_batch_put_i64(b, (size_t)s->meta_col[META_GENERATION], s->def->generation_id);
  ml_value_opts opts = {false};
  for (size_t i = 0; i < data->len; i++) {
    field_slot *f = s->member_slot[i];
    if (!f || f->col < 0) continue;
    opts.base64 = f->base64;
    if ((st = put_field(s, b, (size_t)f->col, &opts, ml_json_member(data, i), f->key, f->key_len, err)) != ML_OK)
      return st;
  }
  for (size_t i = 0; s->plan && i < s->plan->n_flat; i++) {
    const ml_unnest_col *fc = &s->plan->flat[i];
    const ml_json_val *v = ml_unnest_walk(data, fc->path, fc->n_path);
    if (!v || s->flat_col[i] < 0) continue;
    opts.base64 = fc->base64;
    if ((st = put_field(s, b, (size_t)s->flat_col[i], &opts, v, fc->label, strlen(fc->label), err)) != ML_OK)
      return st;
  }
  const ml_json_val *src_changes = source_meta ? ml_json_get(source_meta, "changes") : NULL;
  bool has_src = src_changes && src_changes->type == ML_JSON_ARRAY && src_changes->len > 0;
  if (!s->changes.len && !has_src) {
    ml_batch_put_str(b, (size_t)s->meta_col[META_META], s->meta_plain, s->meta_plain_len);
  } else {
    ml_buf_reset(&s->meta);
    ml_buf_printf(&s->meta, "{\"sync_id\":%lld,\"changes\":[", (long long)s->def->sync_id);
    if (has_src) {
      for (size_t i = 0; i < src_changes->len; i++) {
        if (i) ml_buf_putc(&s->meta, ',');
        ml_jw w;
        ml_jw_init(&w, &s->meta);
        ml_jw_val(&w, &src_changes->u.items[i]);
      }
      if (s->changes.len) ml_buf_putc(&s->meta, ',');
    }
    if (s->changes.len) ml_buf_append(&s->meta, s->changes.data, s->changes.len);
    ml_buf_puts(&s->meta, "]}");
    if (!ml_buf_ok(&s->meta) || !ml_buf_ok(&s->changes)) return ml_err_nomem(err);
    ml_batch_put_str(b, (size_t)s->meta_col[META_META], s->meta.data, s->meta.len);
  }
  if ((st = ml_batch_end_row(b, err)) != ML_OK) return st;
  if (s->has_raw) {
    ml_batch *rb;
    if ((st = ml_table_batch(&s->raw, &rb, err)) != ML_OK) return st;
    char id[37];
    ml_ids_format(lo, hi, id);
    ml_batch_put_str(rb, 0, id, 36);
    ml_batch_put_i64(rb, 1, ms * 1000);
    ml_batch_put_str(rb, 2, data->src, data->src_len);
    if ((st = ml_batch_end_row(rb, err)) != ML_OK) return st;
  }
  s->records++;
  if (s->def->mode == ML_MODE_APPEND_DEDUP) s->staged++;
  return ML_OK;
}

/* The column of the final table behind a primary-key or cursor path. */
static const char *path_column(const ml_astream *s, const ml_path *p, const char *what, ml_err *err) {
  if (p->n != 1) {
    ml_err_set(err, ML_ERR_CONFIG, "stream '%s': nested %s paths are not supported", s->def->name, what);
    return NULL;
  }
  for (size_t i = 0; i < s->def->n_fields; i++)
    if (!strcmp(s->def->fields[i].source, p->parts[0])) return s->def->fields[i].column;
  ml_err_set(err, ML_ERR_CONFIG, "stream '%s': %s field '%s' is not in the stream's json_schema", s->def->name, what,
             p->parts[0]);
  return NULL;
}

/* append_dedup with child tables: the raw ids of the final rows a merge
 * replaces, and of the staged rows it inserts (temporary tables) */
#define REPLACED_IDS "temp.main._mallard_replaced_ids"
#define WINNER_IDS "temp.main._mallard_winner_ids"
/* the direct merge's keys of this transaction's rows */
#define NEW_KEYS "temp.main._mallard_new_keys"

/* What both merges need: the key columns, how to match a key of the table
 * (f) to a key of the new rows (s), and the cursor column. */
typedef struct merge_keys {
  const char **kc; /* n column names, owned by the stream's definition */
  size_t n;
  ml_buf keys;       /* "k1, k2" */
  ml_buf match;      /* f.k1 = s.k1 AND ... */
  ml_buf match_null; /* the same, null-safe */
  const char *cursor; /* NULL without a cursor */
  bool cdc;           /* the table has _ab_cdc_deleted_at */
} merge_keys;

static void merge_keys_free(merge_keys *m) {
  free(m->kc);
  ml_buf_free(&m->keys);
  ml_buf_free(&m->match);
  ml_buf_free(&m->match_null);
}

static ml_status merge_keys_init(ml_astream *s, const ml_table *target, merge_keys *m, ml_err *err) {
  const ml_stream_def *d = s->def;
  *m = (merge_keys){0};
  if (d->n_primary_key == 0)
    return ml_err_set(err, ML_ERR_CONFIG, "stream '%s': append_dedup needs a primary_key", d->name);
  if (!(m->kc = calloc(d->n_primary_key, sizeof *m->kc))) return ml_err_nomem(err);
  m->n = d->n_primary_key;
  ml_status st = ML_OK;
  for (size_t i = 0; st == ML_OK && i < m->n; i++)
    if (!(m->kc[i] = path_column(s, &d->primary_key[i], "primary key", err))) st = err ? err->code : ML_ERR_CONFIG;
  if (st == ML_OK && d->cursor.n > 0 && !(m->cursor = path_column(s, &d->cursor, "cursor", err)))
    st = err ? err->code : ML_ERR_CONFIG;
  if (st != ML_OK) return st;
  ml_merge_keys(&m->keys, m->kc, m->n, "", ", ");
  ml_merge_match(&m->match, m->kc, m->n, "f", "s", false);
  ml_merge_match(&m->match_null, m->kc, m->n, "f", "s", true);
  if (!ml_buf_ok(&m->keys) || !ml_buf_ok(&m->match) || !ml_buf_ok(&m->match_null)) return ml_err_nomem(err);
  m->cdc = ml_table_find(target, "_ab_cdc_deleted_at") >= 0;
  return ML_OK;
}

/* "(SELECT k1, k2[, max(cursor) AS _mallard_cursor] <rest>": the new rows'
 * keys, each with its greatest cursor */
static void key_aggregate(ml_buf *q, const merge_keys *m, const char *rest) {
  ml_buf_puts(q, "SELECT ");
  ml_buf_append(q, m->keys.data, m->keys.len);
  if (m->cursor) {
    ml_buf_puts(q, ", max(");
    ml_sql_ident(q, m->cursor);
    ml_buf_puts(q, ") AS _mallard_cursor");
  }
  ml_buf_puts(q, rest);
}

/* " AND (f.cursor IS NULL OR s._mallard_cursor >= f.cursor)": the key's new
 * rows replace f (nothing without a cursor: every new key replaces).  In a
 * sync that removes older generations (a refresh), a row of an older
 * generation is replaced whatever its cursor: it is going anyway, and if it
 * kept the new row out, the key would be gone after the sync. */
static void replaces(ml_buf *q, const ml_stream_def *d, const merge_keys *m) {
  if (!m->cursor) return;
  ml_buf_puts(q, " AND (f.");
  ml_sql_ident(q, m->cursor);
  ml_buf_puts(q, " IS NULL OR s._mallard_cursor >= f.");
  ml_sql_ident(q, m->cursor);
  if (d->minimum_generation_id > 0)
    ml_buf_printf(q, " OR f._airbyte_generation_id IS NULL OR f._airbyte_generation_id < %lld",
                  (long long)d->minimum_generation_id);
  ml_buf_puts(q, ")");
}

/* " ORDER BY" of "each key's latest row": the greatest cursor, ties to the
 * later record (raw ids grow within a run) */
static void latest_order(ml_buf *order, const merge_keys *m) {
  if (m->cursor) {
    ml_sql_ident(order, m->cursor);
    ml_buf_puts(order, " DESC NULLS LAST, ");
  }
  ml_buf_puts(order, "_airbyte_raw_id DESC");
}

/* The merge's rule, per key: the new row with the greatest cursor (ties:
 * the later record) replaces the final rows whose cursor is not greater (or
 * NULL), and is kept unless a final row with a greater cursor stays; a CDC
 * deletion is not kept.
 *
 * Straight into the final table (no child tables): the rows arrived in the
 * final table itself, so the merge only deletes.  1) the old rows some new
 * row of their key replaces; 2) the new rows of keys where an old row
 * stays; 3) when a key came more than once, or the stream has CDC
 * deletions, every new row but each key's latest, and the deletions.  The
 * new rows are told apart by rowid (mark_new_rows).  Writing the rows once
 * instead of staging and copying them halves what the merge stores
 * (docs/performance.md, issue 16). */
static ml_status merge_direct(ml_astream *s, const merge_keys *m, ml_err *err) {
  char is_new[64], is_old[64];
  snprintf(is_new, sizeof is_new, "rowid > %lld", (long long)s->new_after);
  snprintf(is_old, sizeof is_old, "f.rowid <= %lld", (long long)s->new_after);
  ml_buf q = ML_BUF_INIT;
  ml_buf_puts(&q, "CREATE OR REPLACE TEMP TABLE " NEW_KEYS " AS ");
  key_aggregate(&q, m, ", count(*) AS _mallard_rows FROM ");
  ml_table_sql_name(&s->load, &q);
  ml_buf_printf(&q, " WHERE %s GROUP BY ALL", is_new);
  ml_status st = ml_wh_exec_unbounded_buf(s->wh, &q, err);
  /* in one scan of the new keys: how many are NULL, how many came more than
   * once, and the rows counted */
  uint64_t *facts = NULL;
  size_t n_facts = 0;
  if (st == ML_OK) {
    ml_buf_reset(&q);
    ml_buf_puts(&q, "SELECT unnest([count(*) FILTER (WHERE ");
    ml_merge_keys(&q, m->kc, m->n, "", " IS NULL OR ");
    ml_buf_puts(&q, " IS NULL), count(*) FILTER (WHERE _mallard_rows > 1), coalesce(sum(_mallard_rows), 0)]::UBIGINT[]) "
                    "FROM " NEW_KEYS);
    st = ml_buf_ok(&q) ? ml_wh_query_u64s(s->wh, q.data, &facts, &n_facts, err) : ml_err_nomem(err);
  }
  uint64_t null_keys = n_facts == 3 ? facts[0] : 0, repeated = n_facts == 3 ? facts[1] : 0;
  uint64_t counted = n_facts == 3 ? facts[2] : 0;
  free(facts);
  /* every row this transaction appended, and only those, must be counted:
   * else DuckDB numbers rows otherwise than mark_new_rows assumes, and the
   * merge would delete the wrong ones */
  if (st == ML_OK && counted != s->staged)
    st = ml_err_set(err, ML_ERR_DB,
                    "the table holds %llu rows with a rowid above %lld, but this transaction appended %llu: DuckDB "
                    "numbers rows otherwise than this version of mallard expects; nothing was merged",
                    (unsigned long long)counted, (long long)s->new_after, (unsigned long long)s->staged);
  /* "=" lets DuckDB skip the row groups outside the new keys' range; NULL
   * keys need the null-safe match */
  const ml_buf *on = null_keys > 0 ? &m->match_null : &m->match;
  /* 1. old rows replaced */
  ml_buf_reset(&q);
  ml_buf_puts(&q, "DELETE FROM ");
  ml_table_sql_name(&s->load, &q);
  ml_buf_puts(&q, " AS f USING " NEW_KEYS " AS s WHERE ");
  ml_buf_append(&q, on->data, on->len);
  ml_buf_printf(&q, " AND %s", is_old);
  replaces(&q, s->def, m);
  if (st == ML_OK) st = ml_wh_delete_unbounded_buf(s->wh, &q, err);
  /* 2. new rows of keys whose old row stays (it has a greater cursor);
   * without a cursor step 1 left no old row of a new key */
  if (st == ML_OK && m->cursor) {
    ml_buf_reset(&q);
    ml_buf_puts(&q, "DELETE FROM ");
    ml_table_sql_name(&s->load, &q);
    ml_buf_printf(&q, " AS s WHERE s.%s AND EXISTS (SELECT 1 FROM ", is_new);
    ml_table_sql_name(&s->load, &q);
    ml_buf_puts(&q, " AS f WHERE ");
    ml_buf_append(&q, on->data, on->len);
    ml_buf_printf(&q, " AND %s)", is_old);
    st = ml_wh_delete_unbounded_buf(s->wh, &q, err);
  }
  /* 3. each key's latest new row only, and no CDC deletion */
  if (st == ML_OK && (repeated > 0 || m->cdc)) {
    ml_buf_reset(&q);
    ml_buf_puts(&q, "DELETE FROM ");
    ml_table_sql_name(&s->load, &q);
    if (repeated > 0) {
      ml_buf order = ML_BUF_INIT;
      latest_order(&order, m);
      ml_buf_puts(&q, " WHERE rowid IN (SELECT rowid FROM (SELECT rowid, ");
      if (m->cdc) ml_buf_puts(&q, "_ab_cdc_deleted_at, ");
      ml_merge_rank(&q, m->kc, m->n, order.data ? order.data : "");
      ml_buf_free(&order);
      ml_buf_puts(&q, " AS _mallard_rank FROM ");
      ml_table_sql_name(&s->load, &q);
      ml_buf_printf(&q, " WHERE %s) WHERE _mallard_rank > 1%s)", is_new,
                    m->cdc ? " OR _ab_cdc_deleted_at IS NOT NULL" : "");
    } else {
      ml_buf_printf(&q, " WHERE %s AND _ab_cdc_deleted_at IS NOT NULL", is_new);
    }
    st = ml_wh_delete_unbounded_buf(s->wh, &q, err);
  }
  if (st == ML_OK) st = ml_wh_exec(s->wh, "DROP TABLE IF EXISTS " NEW_KEYS, err);
  ml_buf_free(&q);
  return st;
}

/* Through the staging table (a stream with child tables, or rows an
 * earlier run staged): a DELETE of every final row that some staged row of
 * its key replaces, then an INSERT of each key's latest staged row whose key
 * has no final row left (an older final row was just deleted; a newer one
 * stays), then the staging table emptied.  The MERGE ... UPDATE SET of every
 * column this replaced gave the same results, except where an earlier
 * append load left a key more than once: it updated each older row and kept
 * the newer ones (several rows per key on), this leaves the staged row or
 * the newer ones; and it was slower and needed more memory
 * (docs/performance.md, session 4). */
static ml_status merge_via_stage(ml_astream *s, const merge_keys *m, ml_err *err) {
  ml_status st;
  const char *const *kc = m->kc;
  size_t nk = m->n;
  ml_buf q = ML_BUF_INIT;
  ml_buf_puts(&q, "SELECT count(*) FROM ");
  ml_table_sql_name(&s->load, &q);
  ml_buf_puts(&q, " WHERE ");
  ml_merge_keys(&q, kc, nk, "", " IS NULL OR ");
  ml_buf_puts(&q, " IS NULL");
  int64_t null_keys = 0;
  bool found;
  st = ml_buf_ok(&q) ? ml_wh_query_i64(s->wh, q.data, &null_keys, &found, err) : ml_err_nomem(err);
  const ml_buf *on = null_keys > 0 ? &m->match_null : &m->match;

  /* 1. final rows replaced: some staged row of the key has a cursor at least
   * theirs (or theirs is NULL); without a cursor every staged key replaces.
   * `replaced` is "<staged keys> AS s WHERE <they replace f>" */
  ml_buf replaced = ML_BUF_INIT;
  ml_buf_puts(&replaced, "(");
  key_aggregate(&replaced, m, " FROM ");
  ml_table_sql_name(&s->load, &replaced);
  ml_buf_puts(&replaced, " GROUP BY ALL) AS s WHERE ");
  ml_buf_append(&replaced, on->data, on->len);
  replaces(&replaced, s->def, m);
  if (s->children) {
    /* their child rows go with them */
    ml_buf_reset(&q);
    ml_buf_puts(&q, "CREATE OR REPLACE TEMP TABLE " REPLACED_IDS " AS SELECT f._airbyte_raw_id FROM ");
    ml_table_sql_name(&s->final, &q);
    ml_buf_puts(&q, " AS f, ");
    ml_buf_append(&q, replaced.data, replaced.len);
    if (st == ML_OK) st = ml_wh_exec_unbounded_buf(s->wh, &q, err);
    if (st == ML_OK) st = ml_children_delete_replaced(s->children, "SELECT _airbyte_raw_id FROM " REPLACED_IDS, err);
  }
  ml_buf_reset(&q);
  ml_buf_puts(&q, "DELETE FROM ");
  ml_table_sql_name(&s->final, &q);
  ml_buf_puts(&q, " AS f USING ");
  ml_buf_append(&q, replaced.data, replaced.len);
  ml_buf_free(&replaced);
  if (st == ML_OK) st = ml_wh_delete_unbounded_buf(s->wh, &q, err);

  /* 2. each key's latest staged row, unless a (newer) final row is left or
   * the row is a CDC deletion */
  ml_buf cols = ML_BUF_INIT, winners = ML_BUF_INIT;
  for (size_t i = 0; i < s->final.n_cols; i++) {
    if (i) ml_buf_puts(&cols, ", ");
    ml_sql_ident(&cols, s->final.cols[i].name);
  }
  ml_buf_puts(&winners, "(SELECT * FROM ");
  ml_table_sql_name(&s->load, &winners);
  ml_buf order = ML_BUF_INIT;
  latest_order(&order, m);
  ml_merge_latest(&winners, kc, nk, order.data ? order.data : "");
  ml_buf_free(&order);
  ml_buf_puts(&winners, ") AS s WHERE ");
  if (m->cdc) ml_buf_puts(&winners, "s._ab_cdc_deleted_at IS NULL AND ");
  ml_buf_puts(&winners, "NOT EXISTS (SELECT 1 FROM ");
  ml_table_sql_name(&s->final, &winners);
  ml_buf_puts(&winners, " AS f WHERE ");
  ml_buf_append(&winners, on->data, on->len);
  ml_buf_puts(&winners, ")");
  ml_buf_reset(&q);
  if (s->children) {
    /* the winners are picked once, for the rows and their child rows */
    ml_buf_puts(&q, "CREATE OR REPLACE TEMP TABLE " WINNER_IDS " AS SELECT s._airbyte_raw_id FROM ");
    ml_buf_append(&q, winners.data, winners.len);
    ml_buf_puts(&q, "; INSERT INTO ");
    ml_table_sql_name(&s->final, &q);
    ml_buf_puts(&q, " (");
    ml_buf_append(&q, cols.data, cols.len);
    ml_buf_puts(&q, ") SELECT ");
    ml_buf_append(&q, cols.data, cols.len);
    ml_buf_puts(&q, " FROM ");
    ml_table_sql_name(&s->load, &q);
    ml_buf_puts(&q, " WHERE _airbyte_raw_id IN (SELECT _airbyte_raw_id FROM " WINNER_IDS ")");
  } else {
    ml_buf_puts(&q, "INSERT INTO ");
    ml_table_sql_name(&s->final, &q);
    ml_buf_puts(&q, " (");
    ml_buf_append(&q, cols.data, cols.len);
    ml_buf_puts(&q, ") SELECT ");
    for (size_t i = 0; i < s->final.n_cols; i++) {
      if (i) ml_buf_puts(&q, ", ");
      ml_buf_puts(&q, "s.");
      ml_sql_ident(&q, s->final.cols[i].name);
    }
    ml_buf_puts(&q, " FROM ");
    ml_buf_append(&q, winners.data, winners.len);
  }
  ml_buf_free(&cols);
  ml_buf_free(&winners);
  if (st == ML_OK) st = ml_wh_exec_unbounded_buf(s->wh, &q, err);
  if (st == ML_OK && s->children) {
    st = ml_children_insert_winners(s->children, "SELECT _airbyte_raw_id FROM " WINNER_IDS, err);
    if (st == ML_OK) st = ml_children_clear_staged(s->children, err);
    if (st == ML_OK) st = ml_wh_exec(s->wh, "DROP TABLE IF EXISTS " REPLACED_IDS "; DROP TABLE IF EXISTS " WINNER_IDS, err);
  }
  if (st == ML_OK) {
    /* every row of the staging table goes, so DuckDB drops its row groups
     * at the next checkpoint without merging anything: no ml_wh_rows_deleted */
    ml_buf_reset(&q);
    ml_buf_puts(&q, "DELETE FROM ");
    ml_table_sql_name(&s->load, &q);
    st = ml_wh_exec(s->wh, q.data, err);
  }
  ml_buf_free(&q);
  return st;
}

/* Folds this transaction's rows into the final table (see merge_direct for
 * the rule). */
static ml_status merge(ml_astream *s, ml_err *err) {
  ml_status st = ml_table_close_batch(&s->load, err);
  if (st != ML_OK || s->staged == 0) return st;
  /* staged: both tables get every column either has (a CDC column may be
   * new in the staging table), so one column list fits both */
  if (!s->direct && (st = ml_table_align(&s->final, &s->load, err)) != ML_OK) return st;
  merge_keys m;
  st = merge_keys_init(s, s->direct ? &s->load : &s->final, &m, err);
  if (st == ML_OK) st = s->direct ? merge_direct(s, &m, err) : merge_via_stage(s, &m, err);
  merge_keys_free(&m);
  if (st != ML_OK) ml_err_prefix(err, "stream '%s': merging into %s.%s", s->def->name, s->def->schema, s->def->table);
  else s->staged = 0;
  return st;
}

ml_status ml_astream_before_commit(ml_astream *s, ml_err *err) {
  ml_status st = ml_table_flush(&s->load, err);
  if (st == ML_OK && s->has_raw) st = ml_table_flush(&s->raw, err);
  if (st == ML_OK && s->children) st = ml_children_flush(s->children, err);
  if (st == ML_OK && s->def->mode == ML_MODE_APPEND_DEDUP) st = merge(s, err);
  return st;
}

bool ml_astream_commit_is_flush_only(const ml_astream *s) {
  if (s->def->mode == ML_MODE_APPEND_DEDUP) return s->staged == 0;
  return !s->tail;
}

ml_status ml_astream_flush_async(ml_astream *s, ml_err *err) {
  ml_status st = ml_table_flush_async(&s->load, err);
  if (st == ML_OK && s->has_raw) st = ml_table_flush_async(&s->raw, err);
  if (st == ML_OK && s->children) st = ml_children_flush_async(s->children, err);
  return st;
}

ml_status ml_astream_finish(ml_astream *s, ml_err *err) {
  const ml_stream_def *d = s->def;
  ml_status st = ML_OK;
  if (d->mode == ML_MODE_OVERWRITE) {
    st = ml_table_rename_over(&s->load, d->table, err);
    if (st == ML_OK && s->has_raw) st = ml_table_rename_over(&s->raw, s->raw_final_name, err);
  } else if (d->minimum_generation_id > 0) {
    ml_buf q = ML_BUF_INIT;
    ml_buf_puts(&q, "DELETE FROM ");
    ml_sql_qualified(&q, d->schema, d->table);
    ml_buf_printf(&q, " WHERE _airbyte_generation_id IS NULL OR _airbyte_generation_id < %lld",
                  (long long)d->minimum_generation_id);
    st = ml_wh_delete_unbounded_buf(s->wh, &q, err);
    ml_buf_free(&q);
  }
  if (st == ML_OK && s->children) st = ml_children_finish(s->children, err);
  if (st != ML_OK) ml_err_prefix(err, "stream '%s': finishing the sync", d->name);
  return st;
}

static ml_status drop_from(ml_astream *s, ml_table *t, const char *id_col, bool text_id, uint64_t lo, int64_t hi,
                           uint64_t *dropped, ml_err *err) {
  ml_status st = ml_table_close_batch(t, err);
  if (st != ML_OK) return st;
  char id[37];
  ml_ids_format(lo, hi, id);
  ml_buf q = ML_BUF_INIT;
  ml_buf_puts(&q, "DELETE FROM ");
  ml_table_sql_name(t, &q);
  ml_buf_printf(&q, " WHERE %s >= '%s'%s", id_col, id, text_id ? "" : "::UUID");
  uint64_t n = 0;
  st = ml_wh_delete_counted(s->wh, &q, &n, err);
  if (st == ML_OK && dropped) *dropped += n;
  else if (st != ML_OK && st != ML_ERR_NOMEM) ml_err_prefix(err, "stream '%s': removing resent rows", s->def->name);
  ml_buf_free(&q);
  return st;
}

ml_status ml_astream_drop_run_rows(ml_astream *s, uint64_t first_lo, int64_t first_hi, uint64_t *dropped, ml_err *err) {
  if (s->def->mode == ML_MODE_APPEND_DEDUP) return ML_OK;
  ml_status st = drop_from(s, &s->load, "_airbyte_raw_id", false, first_lo, first_hi, dropped, err);
  /* parked rows are this run's too */
  if (st == ML_OK && s->pending_rows) st = drop_from(s, &s->pending, "_airbyte_raw_id", false, first_lo, first_hi, dropped, err);
  if (st == ML_OK) s->pending_rows = false;
  /* raw ids are text in the legacy table; same-run ids share a prefix and
   * grow in their hex digits, so text order is id order */
  if (st == ML_OK && s->has_raw) st = drop_from(s, &s->raw, "_airbyte_ab_id", true, first_lo, first_hi, NULL, err);
  if (st == ML_OK && s->children) st = ml_children_drop_from(s->children, first_lo, first_hi, err);
  return st;
}

/* Opens the handle of the pending table (creating the table on first use
 * with the load table's columns, adding any it lacks). */
static ml_status pending_open(ml_astream *s, bool create, ml_err *err) {
  if (!s->pending_ready) {
    char *name = concat("_mallard_pending_", s->def->table);
    ml_status st = name ? ml_table_init(&s->pending, s->wh, s->def->schema, name, err)
                        : ml_err_nomem(err);
    free(name);
    if (st != ML_OK) return st;
    s->pending_ready = true;
  }
  if (!create) return ML_OK;
  return ml_table_sync(&s->pending, s->load.cols, s->load.n_cols, false, NULL, err);
}

static ml_status move_rows(ml_astream *s, ml_table *from, ml_table *to, bool only_tail, ml_err *err) {
  char id[37], where[96] = "";
  ml_ids_format(s->tail_lo, s->tail_hi, id);
  if (only_tail) snprintf(where, sizeof where, " WHERE _airbyte_raw_id >= '%s'::UUID", id);
  ml_status st = ml_table_move_rows(from, to, where, err);
  if (st != ML_OK) ml_err_prefix(err, "stream '%s': moving rows not covered by a STATE", s->def->name);
  return st;
}

ml_status ml_astream_park(ml_astream *s, ml_err *err) {
  if (!s->tail || s->def->mode == ML_MODE_APPEND_DEDUP) return ML_OK;
  ml_status st = ml_table_close_batch(&s->load, err);
  if (st == ML_OK) st = pending_open(s, true, err);
  if (st == ML_OK) st = move_rows(s, &s->load, &s->pending, true, err);
  if (st == ML_OK && s->children) st = ml_children_park(s->children, s->tail_lo, s->tail_hi, err);
  if (st == ML_OK) {
    s->pending_rows = true;
    s->tail = false;
  }
  return st;
}

ml_status ml_astream_covered(ml_astream *s, ml_err *err) {
  s->tail = false;
  ml_status st = s->children ? ml_children_covered(s->children, err) : ML_OK;
  if (st != ML_OK || !s->pending_rows) return st;
  st = ml_table_close_batch(&s->load, err);
  /* new columns may have reached the load table since the rows were parked */
  if (st == ML_OK) st = pending_open(s, true, err);
  if (st == ML_OK) st = move_rows(s, &s->pending, &s->load, false, err);
  if (st == ML_OK) s->pending_rows = false;
  return st;
}

ml_status ml_astream_end_of_input(ml_astream *s, ml_err *err) {
  ml_status st = ml_astream_covered(s, err);
  if (st == ML_OK && s->children) st = ml_children_end_of_input(s->children, err);
  if (st != ML_OK || !s->pending_ready || !s->pending.n_cols) return st;
  ml_buf q = ML_BUF_INIT;
  ml_buf_puts(&q, "DROP TABLE IF EXISTS ");
  ml_table_sql_name(&s->pending, &q);
  st = ml_wh_exec_buf(s->wh, &q, err);
  ml_buf_free(&q);
  ml_table_free(&s->pending);
  s->pending_ready = false;
  return st;
}
