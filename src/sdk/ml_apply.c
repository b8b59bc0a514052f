#include "ml_apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../util/ml_array.h"
#include "../util/ml_hash.h"
#include "../util/ml_keyset.h"
#include "../warehouse/ml_merge.h"

/* Where earlier versions of mallard kept the staging tables, in the
 * database file; dropped at start in case such a run left them behind.
 * Staging tables are temporary now (ml_table_init_temp): staged rows are
 * read back once and deleted, so writing them into the file (compressing
 * full row groups, then vacuuming the deletes at checkpoint) was wasted. */
#define OLD_STAGE_SCHEMA "_mallard_staging"
#define STAGE_PREFIX "_mallard_stage_"
#define COL_SYNCED "_fivetran_synced"
#define COL_DELETED "_fivetran_deleted"
#define COL_ID "_fivetran_id"
/* Staging columns before the user columns. */
enum { ST_OP, ST_SEQ, ST_GIVEN, ST_USER };
static const char *const stage_meta[ST_USER] = {"_mallard_op", "_mallard_seq", "_mallard_given"};

typedef struct ap_col {
  char *name;
  ml_type type;
  bool declared; /* declared columns convert values or fail; others widen */
} ap_col;

typedef struct ap_table {
  char *name;
  bool declared;
  bool hashed; /* no primary key: _fivetran_id */
  char **pk;
  size_t n_pk;
  ml_col *decl; /* declared columns (names owned) */
  size_t n_decl;
  ap_col *cols; /* user columns (incl. keys), in staging order: stage column ST_USER + i */
  size_t n_cols, cap_cols;
  size_t *hint; /* record field j -> cols index seen last time (lookup shortcut) */
  size_t n_hint;
  ml_table target, stage;
  bool target_ready, stage_ready;
  uint64_t staged; /* rows in the staging table not applied yet */
  uint64_t staged_at_mark; /* of those, staged before ml_apply_mark */
  uint64_t staged_changes; /* of those, updates and deletes (0: upserts only) */
  /* hashes of the staged upserts' keys (note_staged_key); staged_repeats once
   * a key may repeat among the staged rows, or could not be told */
  ml_keyset staged_keys;
  bool staged_repeats;
  uint64_t ops;
} ap_table;

struct ml_apply {
  ml_wh *wh;
  char *schema;
  ml_apply_log_fn log;
  void *log_ud;
  ap_table *tables;
  size_t n_tables, cap_tables;
  uint64_t seq;
  uint64_t mark_seq; /* ops with a smaller _seq came before ml_apply_mark */
  bool marked;
  /* ops with a smaller _seq were applied or planned (ml_apply_plan_ahead's
   * quick test; exact counts are per table) */
  uint64_t planned_seq;
  ml_apply_settle_fn settle; /* see ml_apply_on_schema_change */
  void *settle_ud;
  uint64_t tables_created;
  ml_apply_counts counts; /* ops and checkpoints; schema changes are summed on demand */
  ml_buf sql, scratch, given;
  bool started;
};

/* Statements of an apply: run at once (plan NULL), or collected to run
 * later on the loader thread (ml_apply_plan_behind). */
typedef enum { RUN_PLAIN, RUN_UNBOUNDED, RUN_DELETE } run_kind;
typedef struct ap_stmt {
  run_kind kind;
  char *sql; /* owned */
} ap_stmt;
typedef struct ml_apply_plan {
  ap_stmt *stmts;
  size_t n, cap;
} ap_plan;

static void plan_free(ap_plan *p) {
  for (size_t i = 0; i < p->n; i++) free(p->stmts[i].sql);
  free(p->stmts);
  *p = (ap_plan){0};
}

static ml_status run_now(ml_wh *wh, run_kind kind, const char *sql, ml_err *err) {
  switch (kind) {
  case RUN_UNBOUNDED: return ml_wh_exec_unbounded(wh, sql, err);
  case RUN_DELETE: return ml_wh_delete_unbounded(wh, sql, err);
  default: return ml_wh_exec(wh, sql, err);
  }
}

static ml_status run(ml_apply *a, ap_plan *plan, run_kind kind, const ml_buf *sql, ml_err *err) {
  if (!ml_buf_ok(sql)) return ml_err_nomem(err);
  if (!plan) return run_now(a->wh, kind, sql->data, err);
  if (!ml_array_reserve(&plan->stmts, plan->n + 1, &plan->cap, sizeof *plan->stmts, 8)) return ml_err_nomem(err);
  char *copy = strdup(sql->data);
  if (!copy) return ml_err_nomem(err);
  plan->stmts[plan->n++] = (ap_stmt){kind, copy};
  return ML_OK;
}

static void logf_(ml_apply *a, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(ml_apply *a, int level, const char *fmt, ...) {
  if (!a->log) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  a->log(a->log_ud, level, msg);
}

ml_status ml_apply_open(ml_wh *wh, const char *schema, ml_apply_log_fn log, void *log_ud, ml_apply **out,
                        ml_err *err) {
  *out = NULL;
  ml_apply *a = calloc(1, sizeof *a);
  if (!a || !(a->schema = strdup(schema))) {
    free(a);
    return ml_err_nomem(err);
  }
  a->wh = wh;
  a->log = log;
  a->log_ud = log_ud;
  *out = a;
  return ML_OK;
}

static void table_free(ap_table *t) {
  free(t->name);
  for (size_t i = 0; i < t->n_pk; i++) free(t->pk[i]);
  free(t->pk);
  for (size_t i = 0; i < t->n_decl; i++) free(t->decl[i].name);
  free(t->decl);
  for (size_t i = 0; i < t->n_cols; i++) free(t->cols[i].name);
  free(t->cols);
  free(t->hint);
  ml_keyset_free(&t->staged_keys);
  if (t->target_ready) ml_table_free(&t->target);
  if (t->stage_ready) ml_table_free(&t->stage);
}

void ml_apply_free(ml_apply *a) {
  if (!a) return;
  for (size_t i = 0; i < a->n_tables; i++) table_free(&a->tables[i]);
  free(a->tables);
  free(a->schema);
  ml_buf_free(&a->sql);
  ml_buf_free(&a->scratch);
  ml_buf_free(&a->given);
  free(a);
}

static ap_table *find_table(ml_apply *a, const char *name) {
  for (size_t i = 0; i < a->n_tables; i++)
    if (!strcasecmp(a->tables[i].name, name)) return &a->tables[i];
  return NULL;
}

static ap_table *add_table(ml_apply *a, const char *name) {
  if (!ml_array_reserve(&a->tables, a->n_tables + 1, &a->cap_tables, sizeof *a->tables, 8)) return NULL;
  ap_table *t = &a->tables[a->n_tables];
  memset(t, 0, sizeof *t);
  if (!(t->name = strdup(name))) return NULL;
  a->n_tables++;
  return t;
}

static ml_status set_pk(ap_table *t, const char *const *pk, size_t n_pk, ml_err *err) {
  t->hashed = n_pk == 0;
  static const char *const id_only[1] = {COL_ID};
  if (t->hashed) {
    pk = id_only;
    n_pk = 1;
  }
  t->pk = calloc(n_pk, sizeof *t->pk);
  if (!t->pk) return ml_err_nomem(err);
  for (size_t i = 0; i < n_pk; i++)
    if (!(t->pk[t->n_pk++] = strdup(pk[i]))) return ml_err_nomem(err);
  return ML_OK;
}

ml_status ml_apply_declare(ml_apply *a, const char *table, const char *const *pk, size_t n_pk, const ml_col *cols,
                           size_t n_cols, ml_err *err) {
  if (find_table(a, table)) return ml_err_set(err, ML_ERR_CONFIG, "table '%s' is declared twice", table);
  ap_table *t = add_table(a, table);
  if (!t) return ml_err_nomem(err);
  t->declared = true;
  ml_status st = set_pk(t, pk, n_pk, err);
  if (st != ML_OK) return st;
  t->decl = calloc(n_cols ? n_cols : 1, sizeof *t->decl);
  if (!t->decl) return ml_err_nomem(err);
  for (size_t i = 0; i < n_cols; i++) {
    if (!(t->decl[i].name = strdup(cols[i].name))) return ml_err_nomem(err);
    t->decl[i].type = cols[i].type;
    t->n_decl++;
  }
  return ML_OK;
}

/* ---- columns ----------------------------------------------------------------- */

static long col_index(const ap_table *t, const char *name) {
  for (size_t i = 0; i < t->n_cols; i++)
    if (!strcasecmp(t->cols[i].name, name)) return (long)i;
  return -1;
}

static bool is_declared(const ap_table *t, const char *name) {
  if (t->hashed && !strcasecmp(name, COL_ID)) return true;
  for (size_t i = 0; i < t->n_decl; i++)
    if (!strcasecmp(t->decl[i].name, name)) return true;
  return false;
}

static ml_status push_col(ap_table *t, const char *name, ml_type type, bool declared, ml_err *err) {
  if (!ml_array_reserve(&t->cols, t->n_cols + 1, &t->cap_cols, sizeof *t->cols, 16)) return ml_err_nomem(err);
  char *copy = strdup(name);
  if (!copy) return ml_err_nomem(err);
  t->cols[t->n_cols++] = (ap_col){copy, type, declared};
  return ML_OK;
}

static ml_status ensure_tx(ml_apply *a, ml_err *err) {
  return ml_wh_in_transaction(a->wh) ? ML_OK : ml_wh_begin(a->wh, err);
}

void ml_apply_on_schema_change(ml_apply *a, ml_apply_settle_fn fn, void *ud) {
  a->settle = fn;
  a->settle_ud = ud;
}

/* Before DDL on a destination table: a held-back checkpoint is committed
 * first, so that the table or column does not reach a warehouse that a
 * failure leaves as at that checkpoint. */
static ml_status before_schema_change(ml_apply *a, ml_err *err) {
  if (!a->marked || !a->settle) return ML_OK;
  ml_status st = a->settle(a->settle_ud, err);
  return st == ML_OK ? ensure_tx(a, err) : st;
}

static int int_rank(ml_type_id id) {
  return id == ML_TYPE_SMALLINT ? 1 : id == ML_TYPE_INTEGER ? 2 : id == ML_TYPE_BIGINT ? 3 : 0;
}

/* Whether a declared type that changed between runs can replace the
 * existing column's type without losing values (ml_type_widen covers only
 * inference: BIGINT, DOUBLE, VARCHAR, JSON). */
static bool declared_widens(ml_type from, ml_type to) {
  if (ml_type_equal(from, to)) return false;
  if (to.id == ML_TYPE_VARCHAR) return from.id != ML_TYPE_BLOB && from.id != ML_TYPE_JSON;
  if (int_rank(from.id) && int_rank(to.id)) return int_rank(from.id) < int_rank(to.id);
  if (int_rank(from.id) && to.id == ML_TYPE_DOUBLE) return true;
  if (from.id == ML_TYPE_FLOAT && to.id == ML_TYPE_DOUBLE) return true;
  if (from.id == ML_TYPE_DECIMAL && to.id == ML_TYPE_DECIMAL)
    return to.scale >= from.scale && to.width - to.scale >= from.width - from.scale;
  if (int_rank(from.id) && to.id == ML_TYPE_DECIMAL) {
    static const int digits[4] = {0, 5, 10, 19};
    return to.width - to.scale >= digits[int_rank(from.id)];
  }
  return from.id == ML_TYPE_DATE && (to.id == ML_TYPE_TIMESTAMP || to.id == ML_TYPE_TIMESTAMPTZ);
}

/* Creates or reconciles the destination table and loads its user columns. */
static ml_status ensure_target(ml_apply *a, ap_table *t, ml_err *err) {
  if (t->target_ready) return ML_OK;
  ml_wh_column *existing = NULL;
  size_t n_existing = 0;
  bool exists = false;
  ml_status st = before_schema_change(a, err);
  if (st != ML_OK) return st;
  st = ml_wh_table_columns(a->wh, NULL, a->schema, t->name, &existing, &n_existing, &exists, err);
  if (st != ML_OK) return st;
  size_t n_wanted = t->n_decl + 3;
  ml_col *wanted = calloc(n_wanted, sizeof *wanted);
  if (!wanted) {
    ml_wh_columns_free(existing, n_existing);
    return ml_err_nomem(err);
  }
  size_t n = 0;
  if (t->hashed) wanted[n++] = (ml_col){COL_ID, ml_type_of(ML_TYPE_VARCHAR)};
  for (size_t i = 0; i < t->n_decl; i++) wanted[n++] = t->decl[i];
  wanted[n++] = (ml_col){COL_SYNCED, ml_type_of(ML_TYPE_TIMESTAMPTZ)};
  wanted[n++] = (ml_col){COL_DELETED, ml_type_of(ML_TYPE_BOOLEAN)};
  st = ml_table_init(&t->target, a->wh, a->schema, t->name, err);
  if (st == ML_OK) {
    t->target_ready = true;
    bool kept = false;
    st = ml_table_sync(&t->target, wanted, n, false, &kept, err);
    if (st == ML_OK && !exists) {
      a->tables_created++;
      logf_(a, MALLARD_INFO, "schema change: created table %s.%s", a->schema, t->name);
    } else if (st == ML_OK) {
      char tb[32];
      for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < n_existing && strcasecmp(existing[j].name, wanted[i].name)) j++;
        long now = ml_table_find(&t->target, wanted[i].name);
        /* a type mallard does not create compares as VARCHAR, as it always has */
        ml_type was = ml_type_of(ML_TYPE_VARCHAR);
        if (j < n_existing && existing[j].type) ml_type_parse(existing[j].type, &was);
        if (j == n_existing)
          logf_(a, MALLARD_INFO, "schema change: table %s: new column %s %s", t->name, wanted[i].name,
                ml_type_sql(wanted[i].type, tb));
        else if (now >= 0 && !ml_type_equal(was, t->target.cols[now].type))
          logf_(a, MALLARD_INFO, "schema change: table %s: column %s widened to %s", t->name, wanted[i].name,
                ml_type_sql(t->target.cols[now].type, tb));
        else if (now >= 0 && declared_widens(t->target.cols[now].type, wanted[i].type)) {
          if ((st = ml_table_widen(&t->target, (size_t)now, wanted[i].type, err)) != ML_OK) break;
          logf_(a, MALLARD_INFO, "schema change: table %s: column %s widened to %s", t->name, wanted[i].name,
                ml_type_sql(wanted[i].type, tb));
        } else if (now >= 0 && !ml_type_equal(wanted[i].type, t->target.cols[now].type))
          logf_(a, MALLARD_WARNING,
                "table %s: column %s is declared %s but already exists as %s; values are converted to %s", t->name,
                wanted[i].name, ml_type_sql(wanted[i].type, tb), ml_type_sql(t->target.cols[now].type, tb),
                ml_type_sql(t->target.cols[now].type, tb));
      }
    }
    (void)kept;
  }
  for (size_t i = 0; st == ML_OK && i < t->target.n_cols; i++) {
    const ml_col *c = &t->target.cols[i];
    if (!strcasecmp(c->name, COL_SYNCED) || !strcasecmp(c->name, COL_DELETED)) continue;
    st = push_col(t, c->name, c->type, is_declared(t, c->name), err);
  }
  free(wanted);
  ml_wh_columns_free(existing, n_existing);
  return st;
}

static ml_status ensure_stage(ml_apply *a, ap_table *t, ml_err *err) {
  if (t->stage_ready) return ML_OK;
  ml_col *wanted = calloc(ST_USER + t->n_cols, sizeof *wanted);
  if (!wanted) return ml_err_nomem(err);
  wanted[ST_OP] = (ml_col){(char *)stage_meta[ST_OP], ml_type_of(ML_TYPE_INTEGER)};
  wanted[ST_SEQ] = (ml_col){(char *)stage_meta[ST_SEQ], ml_type_of(ML_TYPE_BIGINT)};
  wanted[ST_GIVEN] = (ml_col){(char *)stage_meta[ST_GIVEN], ml_type_of(ML_TYPE_VARCHAR)};
  for (size_t i = 0; i < t->n_cols; i++) wanted[ST_USER + i] = (ml_col){t->cols[i].name, t->cols[i].type};
  ml_buf name = ML_BUF_INIT;
  ml_buf_puts(&name, STAGE_PREFIX);
  ml_buf_puts(&name, t->name);
  ml_status st = ml_buf_ok(&name) ? ml_table_init_temp(&t->stage, a->wh, name.data, err) : ml_err_nomem(err);
  ml_buf_free(&name);
  if (st == ML_OK) {
    t->stage_ready = true;
    st = ml_table_sync(&t->stage, wanted, ST_USER + t->n_cols, true, NULL, err);
  }
  free(wanted);
  return st;
}

/* A column the connector sent a value for that the table does not have. */
static ml_status add_col(ml_apply *a, ap_table *t, const char *name, ml_type type, ml_err *err) {
  ml_status st = before_schema_change(a, err);
  char tb[32];
  if (st == ML_OK && ml_table_find(&t->target, name) < 0) {
    st = ml_table_add_column(&t->target, name, type, err);
    if (st == ML_OK)
      logf_(a, MALLARD_INFO, "schema change: table %s: new column %s %s", t->name, name, ml_type_sql(type, tb));
  }
  if (st == ML_OK) st = push_col(t, name, type, false, err);
  if (st == ML_OK && t->stage_ready) st = ml_table_add_column(&t->stage, name, type, err);
  return st;
}

static ml_status widen_col(ml_apply *a, ap_table *t, size_t i, ml_type type, ml_err *err) {
  long at = ml_table_find(&t->target, t->cols[i].name);
  ml_status st = before_schema_change(a, err);
  if (st == ML_OK && at >= 0) st = ml_table_widen(&t->target, (size_t)at, type, err);
  if (st == ML_OK && t->stage_ready) st = ml_table_widen(&t->stage, ST_USER + i, type, err);
  /* staged keys of the old type may now equal new ones with other hashes */
  t->staged_repeats = true;
  if (st == ML_OK) {
    char tb[32];
    logf_(a, MALLARD_INFO, "schema change: table %s: column %s widened to %s", t->name, t->cols[i].name,
          ml_type_sql(type, tb));
    t->cols[i].type = type;
  }
  return st;
}

/* ---- operations ----------------------------------------------------------------- */

static const char *kind_name(ml_apply_kind k) {
  return k == ML_APPLY_UPSERT ? "upsert" : k == ML_APPLY_UPDATE ? "update" : "delete";
}

static bool is_pk(const ap_table *t, const char *name) {
  for (size_t i = 0; i < t->n_pk; i++)
    if (!strcasecmp(t->pk[i], name)) return true;
  return false;
}

/* SQL pieces of the apply statements.  The key columns, qual (may be "")
 * before each, sep between them. */
static void put_pk(ml_buf *q, const ap_table *t, const char *qual, const char *sep) {
  ml_merge_keys(q, (const char *const *)t->pk, t->n_pk, qual, sep);
}

/* t.k1 = s.k1 AND t.k2 = s.k2 */
static void put_pk_match(ml_buf *q, const ap_table *t) {
  ml_merge_match(q, (const char *const *)t->pk, t->n_pk, "t", "s", false);
}

/* Every user column, qual before and ", " after each. */
static void put_cols(ml_buf *q, const ap_table *t, const char *qual) {
  for (size_t i = 0; i < t->n_cols; i++) {
    ml_buf_puts(q, qual);
    ml_sql_ident(q, t->cols[i].name);
    ml_buf_puts(q, ", ");
  }
}

/* cols index of record field j, using the per-table hint first. */
static long field_col(ap_table *t, const mallard_record *r, size_t j) {
  if (j < t->n_hint && t->hint[j] < t->n_cols && !strcasecmp(t->cols[t->hint[j]].name, r->f[j].name))
    return (long)t->hint[j];
  long i = col_index(t, r->f[j].name);
  if (i >= 0) {
    if (j >= t->n_hint) {
      size_t n = j + 8;
      size_t *h = realloc(t->hint, n * sizeof *h);
      if (!h) return i; /* the hint is only a shortcut */
      for (size_t k = t->n_hint; k < n; k++) h[k] = SIZE_MAX;
      t->hint = h;
      t->n_hint = n;
    }
    t->hint[j] = (size_t)i;
  }
  return i;
}

/* Beyond this many staged keys a table just counts as repeating (the set
 * would take 16 bytes per key and more). */
#define MAX_TRACKED_KEYS ((size_t)1 << 20)

/* Remembers a staged upsert's key, so that upsert_only knows whether a key
 * repeats among the staged rows (only then must it pick each key's last
 * row).  A key is hashed in the form its column stores it: a LONG in an
 * integer column, a STRING in a VARCHAR column.  Any other pairing ("1" or
 * 1.0 into a BIGINT key, a date) could equal another form once converted,
 * so the table then counts as repeating; so does a hash seen before, which
 * at worst sends a batch down the general path. */
static void note_staged_key(ap_table *t, const mallard_record *r, const char *own_id) {
  if (t->staged_repeats) return;
  uint64_t h = ML_HASH_FNV_OFFSET;
  if (own_id) {
    /* as a VARCHAR key below: the same id given in the record hashes alike */
    size_t len = strlen(own_id);
    h = ml_hash_fnv1a_more(h, &len, sizeof len);
    h = ml_hash_fnv1a_more(h, own_id, len);
  }
  for (size_t k = 0; !own_id && k < t->n_pk; k++) {
    const ml_rec_field *f = ml_rec_find(r, t->pk[k]);
    long i = col_index(t, t->pk[k]);
    ml_type_id type = i >= 0 ? t->cols[i].type.id : ML_TYPE_NULL;
    bool integer = type == ML_TYPE_BIGINT || type == ML_TYPE_INTEGER || type == ML_TYPE_SMALLINT;
    if (f && f->kind == ML_REC_LONG && integer) {
      h = ml_hash_fnv1a_more(h, &f->i, sizeof f->i);
    } else if (f && f->kind == ML_REC_STRING && type == ML_TYPE_VARCHAR) {
      h = ml_hash_fnv1a_more(h, &f->len, sizeof f->len);
      h = ml_hash_fnv1a_more(h, f->text, f->len);
    } else {
      t->staged_repeats = true;
      return;
    }
  }
  if (t->staged_keys.n >= MAX_TRACKED_KEYS || ml_keyset_add(&t->staged_keys, h) != 1) t->staged_repeats = true;
}

ml_status ml_apply_op(ml_apply *a, ml_apply_kind kind, const char *table, const mallard_record *r, ml_err *err) {
  if (!table || !*table) return ml_err_set(err, ML_ERR_INPUT, "%s: the table name is NULL or empty", kind_name(kind));
  if (!r) return ml_err_set(err, ML_ERR_INPUT, "%s into table '%s': the record is NULL", kind_name(kind), table);
  if (r->err)
    return ml_err_set(err, ML_ERR_INPUT, "%s into table '%s': %s", kind_name(kind), table, r->err);
  ml_status st = ensure_tx(a, err);
  if (st != ML_OK) return st;
  ap_table *t = find_table(a, table);
  if (!t) {
    /* not declared: created from the values, keyed by _fivetran_id */
    if (!(t = add_table(a, table))) return ml_err_nomem(err);
    if ((st = set_pk(t, NULL, 0, err)) != ML_OK) return st;
  }
  if ((st = ensure_target(a, t, err)) != ML_OK) return st;

  /* keys */
  char id[33] = {0};
  bool own_id = t->hashed && kind == ML_APPLY_UPSERT && !ml_rec_find(r, COL_ID);
  if (own_id) ml_rec_hash(r, id);
  for (size_t k = 0; k < t->n_pk; k++) {
    if (own_id) break;
    const ml_rec_field *f = ml_rec_find(r, t->pk[k]);
    if (!f || f->kind == ML_REC_NULL) {
      if (t->hashed)
        return ml_err_set(err, ML_ERR_INPUT,
                          "%s on table '%s': the table has no primary key, so the record must give %s (the value "
                          "mallard stored for the row)",
                          kind_name(kind), table, COL_ID);
      return ml_err_set(err, ML_ERR_INPUT, "%s on table '%s': primary key column '%s' has no value", kind_name(kind),
                        table, t->pk[k]);
    }
  }

  /* columns: create the ones that are new (a column that only ever gets
   * NULL is never created) */
  for (size_t j = 0; j < r->n; j++) {
    const ml_rec_field *f = &r->f[j];
    if (!strcasecmp(f->name, COL_SYNCED) || !strcasecmp(f->name, COL_DELETED))
      return ml_err_set(err, ML_ERR_INPUT, "%s on table '%s': column %s is set by mallard, not by the connector",
                        kind_name(kind), table, f->name);
    if (kind == ML_APPLY_DELETE && !is_pk(t, f->name)) continue;
    if (f->kind == ML_REC_NULL || field_col(t, r, j) >= 0) continue;
    if ((st = add_col(a, t, f->name, ml_rec_infer(f), err)) != ML_OK) return st;
  }
  if (own_id && col_index(t, COL_ID) < 0 && (st = add_col(a, t, COL_ID, ml_type_of(ML_TYPE_VARCHAR), err)) != ML_OK)
    return st;
  if ((st = ensure_stage(a, t, err)) != ML_OK) return st;

  /* the staging row; a value that does not fit an undeclared column widens
   * the column, which drops the half-written row, and the row starts over */
  for (;;) {
    ml_batch *b;
    if ((st = ml_table_batch(&t->stage, &b, err)) != ML_OK) return st;
    ml_batch_put_i32(b, ST_OP, (int32_t)kind);
    ml_batch_put_i64(b, ST_SEQ, (int64_t)a->seq);
    if (kind == ML_APPLY_UPDATE) {
      ml_buf_reset(&a->given);
      for (size_t i = 0; i < t->n_cols; i++) ml_buf_putc(&a->given, '0');
      if (!ml_buf_ok(&a->given)) return ml_err_nomem(err);
    }
    bool restart = false;
    for (size_t j = 0; j < r->n && !restart; j++) {
      const ml_rec_field *f = &r->f[j];
      if (kind == ML_APPLY_DELETE && !is_pk(t, f->name)) continue;
      long i = field_col(t, r, j);
      if (i < 0) continue; /* NULL for a column that does not exist: nothing to store */
      ap_col *c = &t->cols[i];
      if (kind == ML_APPLY_UPDATE) a->given.data[i] = '1';
      if (ml_rec_put(b, ST_USER + (size_t)i, c->type, f, !c->declared, &a->scratch)) continue;
      if (!ml_buf_ok(&a->scratch))
        return ml_err_set(err, ML_ERR_NOMEM, "%s on table '%s': out of memory converting the value of column '%s'",
                          kind_name(kind), table, c->name);
      ml_buf_reset(&a->scratch);
      ml_rec_text(f, &a->scratch);
      char tb[32];
      if (c->declared || c->type.id == ML_TYPE_VARCHAR)
        return ml_err_set(err, ML_ERR_INPUT, "%s on table '%s': column '%s' (%s): value \"%.80s\" does not fit",
                          kind_name(kind), table, c->name, ml_type_sql(c->type, tb),
                          a->scratch.data ? a->scratch.data : "");
      ml_type wider = ml_type_widen(c->type, ml_rec_infer(f));
      if (ml_type_equal(wider, c->type)) wider = ml_type_of(ML_TYPE_VARCHAR);
      if ((st = widen_col(a, t, (size_t)i, wider, err)) != ML_OK) return st;
      restart = true;
    }
    if (restart) continue;
    if (own_id) ml_batch_put_str(b, ST_USER + (size_t)col_index(t, COL_ID), id, 32);
    if (kind == ML_APPLY_UPDATE) ml_batch_put_str(b, ST_GIVEN, a->given.data, a->given.len);
    if ((st = ml_batch_end_row(b, err)) != ML_OK) return st;
    break;
  }
  if (kind == ML_APPLY_UPSERT) note_staged_key(t, r, own_id ? id : NULL);
  a->seq++;
  t->staged++;
  if (kind != ML_APPLY_UPSERT) t->staged_changes++;
  t->ops++;
  if (kind == ML_APPLY_UPSERT) a->counts.upserts++;
  else if (kind == ML_APPLY_UPDATE) a->counts.updates++;
  else a->counts.deletes++;
  return ML_OK;
}

/* ---- applying ---------------------------------------------------------------------- */

/* Current time as a TIMESTAMPTZ literal: _fivetran_synced. */
static void now_literal(char out[96]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  time_t s = ts.tv_sec;
  gmtime_r(&s, &tm);
  snprintf(out, 96, "TIMESTAMPTZ '%04d-%02d-%02d %02d:%02d:%02d.%06ld+00'", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 1000));
}

/* After n staged rows (_seq < upto) were applied: removes them. */
static ml_status finish_apply(ml_apply *a, ap_table *t, uint64_t n, uint64_t upto, const char *upto_sql,
                              ap_plan *plan, ml_err *err) {
  ml_buf *q = &a->sql;
  ml_buf_reset(q);
  ml_buf_puts(q, "DELETE FROM ");
  ml_table_sql_name(&t->stage, q);
  ml_buf_puts(q, upto_sql);
  ml_status st = run(a, plan, RUN_UNBOUNDED, q, err);
  if (st == ML_OK) {
    t->staged -= n;
    t->staged_at_mark = upto == UINT64_MAX ? 0 : t->staged_at_mark - n;
    /* what stays staged after a partial apply is counted conservatively */
    if (t->staged == 0) {
      t->staged_changes = 0;
      t->staged_repeats = false;
      ml_keyset_clear(&t->staged_keys);
    }
  }
  return st;
}

/* Only upserts staged: each key's last upsert replaces the whole row, which
 * a DELETE of the staged keys and an INSERT of their last rows do without
 * the general MERGE's window, per-column aggregates and join (timings in
 * docs/performance.md).  When no key repeats among the staged rows, every
 * row is its key's last and the window that picks them is left out. */
static ml_status upsert_only(ml_apply *a, ap_table *t, const char *now, const char *upto_sql, ap_plan *plan,
                             ml_err *err) {
  bool repeats = t->staged_repeats;
  ml_buf *q = &a->sql;
  ml_buf_reset(q);
  ml_buf_puts(q, "DELETE FROM ");
  ml_table_sql_name(&t->target, q);
  ml_buf_puts(q, repeats ? " AS t USING (SELECT DISTINCT " : " AS t USING (SELECT ");
  put_pk(q, t, "", ", ");
  ml_buf_puts(q, " FROM ");
  ml_table_sql_name(&t->stage, q);
  ml_buf_puts(q, upto_sql);
  ml_buf_puts(q, ") AS s WHERE ");
  put_pk_match(q, t);
  ml_status st = run(a, plan, RUN_DELETE, q, err);
  if (st != ML_OK) return st;
  ml_buf_reset(q);
  ml_buf_puts(q, "INSERT INTO ");
  ml_table_sql_name(&t->target, q);
  ml_buf_puts(q, " (");
  put_cols(q, t, "");
  ml_buf_puts(q, COL_DELETED ", " COL_SYNCED ") SELECT ");
  put_cols(q, t, "");
  ml_buf_printf(q, "false, %s FROM ", now);
  ml_table_sql_name(&t->stage, q);
  ml_buf_puts(q, upto_sql);
  if (repeats) ml_merge_latest(q, (const char *const *)t->pk, t->n_pk, "_mallard_seq DESC");
  return run(a, plan, RUN_UNBOUNDED, q, err);
}

/* Applies the staged rows with _seq < upto (UINT64_MAX: all of them): only
 * upserts staged, with upsert_only; otherwise the staged operations are
 * folded per key and applied with one MERGE.  With a plan (only upserts
 * staged, see ml_apply_plan_behind and ml_apply_plan_ahead) the statements
 * are collected for the loader thread, behind the staged rows.
 *
 * Why the MERGE equals applying the operations one by one, per key (ops
 * ordered by _seq):
 *  - an upsert replaces every column and the deleted flag, so nothing before
 *    the key's last upsert matters: only rows with _seq >= that upsert count;
 *  - after it (or from the start when there is none) each column ends with
 *    the value of the latest row that set it (the upsert sets all, an update
 *    sets its _given columns): arg_max_null over _seq among those rows;
 *  - the row ends deleted when a delete follows (updates do not revive);
 *    without an upsert it keeps its earlier deleted flag;
 *  - with no upsert, a key that is not in the table stays absent (update and
 *    delete of a missing row are ignored): NOT MATCHED inserts only with an
 *    upsert. */
static ml_status apply_table(ml_apply *a, ap_table *t, const char *now, uint64_t upto, ap_plan *plan, ml_err *err) {
  uint64_t n = upto == UINT64_MAX ? t->staged : t->staged_at_mark;
  if (!n) return ML_OK;
  char upto_sql[64] = "";
  if (upto != UINT64_MAX) snprintf(upto_sql, sizeof upto_sql, " WHERE _mallard_seq < %llu", (unsigned long long)upto);
  ml_status st = plan ? ml_table_flush_async(&t->stage, err) : ml_table_flush(&t->stage, err);
  if (st != ML_OK) return st;
  if (t->staged_changes == 0) {
    if ((st = upsert_only(a, t, now, upto_sql, plan, err)) != ML_OK)
      return ml_err_prefix(err, "applying the operations on table %s", t->name);
    return finish_apply(a, t, n, upto, upto_sql, plan, err);
  }
  if (plan) return ml_err_set(err, ML_ERR_STATE, "table %s has updates or deletes staged: it cannot commit behind", t->name);
  ml_buf *q = &a->sql;
  ml_buf_reset(q);
  ml_buf_puts(q, "MERGE INTO ");
  ml_table_sql_name(&t->target, q);
  ml_buf_puts(q, " AS t USING (SELECT ");
  put_pk(q, t, "s.", ", ");
  ml_buf_puts(q, ", bool_or(s._mallard_op = 1) AS _mallard_has_up, bool_or(s._mallard_op = 3) AS _mallard_del");
  for (size_t i = 0; i < t->n_cols; i++) {
    if (is_pk(t, t->cols[i].name)) continue;
    char cond[160];
    snprintf(cond, sizeof cond, "(s._mallard_op = 1 OR (s._mallard_op = 2 AND substr(s._mallard_given, %zu, 1) = '1'))",
             i + 1);
    ml_buf_puts(q, ", arg_max_null(s.");
    ml_sql_ident(q, t->cols[i].name);
    ml_buf_printf(q, ", CASE WHEN %s THEN s._mallard_seq END) AS ", cond);
    ml_sql_ident(q, t->cols[i].name);
    ml_buf_printf(q, ", bool_or(%s) AS _mallard_g%zu", cond, i);
  }
  ml_buf_puts(q, " FROM (SELECT *, max(CASE WHEN _mallard_op = 1 THEN _mallard_seq END) OVER (PARTITION BY ");
  put_pk(q, t, "", ", ");
  ml_buf_puts(q, ") AS _mallard_last_up FROM ");
  ml_table_sql_name(&t->stage, q);
  ml_buf_puts(q, upto_sql);
  ml_buf_puts(q, ") AS s WHERE s._mallard_last_up IS NULL OR s._mallard_seq >= s._mallard_last_up GROUP BY ");
  put_pk(q, t, "s.", ", ");
  ml_buf_puts(q, ") AS s ON ");
  put_pk_match(q, t);
  ml_buf_puts(q, " WHEN MATCHED THEN UPDATE SET ");
  for (size_t i = 0; i < t->n_cols; i++) {
    if (is_pk(t, t->cols[i].name)) continue;
    ml_sql_ident(q, t->cols[i].name);
    ml_buf_printf(q, " = CASE WHEN s._mallard_g%zu THEN s.", i);
    ml_sql_ident(q, t->cols[i].name);
    ml_buf_puts(q, " ELSE t.");
    ml_sql_ident(q, t->cols[i].name);
    ml_buf_puts(q, " END, ");
  }
  ml_buf_printf(q,
                COL_DELETED " = CASE WHEN s._mallard_has_up THEN s._mallard_del ELSE t." COL_DELETED
                            " OR s._mallard_del END, " COL_SYNCED " = %s",
                now);
  ml_buf_puts(q, " WHEN NOT MATCHED AND s._mallard_has_up THEN INSERT (");
  put_cols(q, t, "");
  ml_buf_puts(q, COL_DELETED ", " COL_SYNCED ") VALUES (");
  put_cols(q, t, "s.");
  ml_buf_printf(q, "s._mallard_del, %s)", now);
  st = ml_wh_exec_unbounded_buf(a->wh, q, err);
  if (st != ML_OK) return ml_err_prefix(err, "applying the operations on table %s", t->name);
  return finish_apply(a, t, n, upto, upto_sql, NULL, err);
}

static ml_status apply_all(ml_apply *a, uint64_t upto, ml_err *err) {
  char now[96];
  now_literal(now);
  for (size_t i = 0; i < a->n_tables; i++) {
    ml_status st = apply_table(a, &a->tables[i], now, upto, NULL, err);
    if (st != ML_OK) return st;
  }
  a->marked = false;
  a->planned_seq = upto == UINT64_MAX ? a->seq : upto;
  return ML_OK;
}

ml_status ml_apply_truncate(ml_apply *a, const char *table, ml_err *err) {
  if (!table || !*table) return ml_err_set(err, ML_ERR_INPUT, "truncate: the table name is NULL or empty");
  ml_status st = ensure_tx(a, err);
  if (st != ML_OK) return st;
  ap_table *t = find_table(a, table);
  if (!t) {
    /* an undeclared table this run has not written: only rows from earlier
     * runs can be there, if the table exists at all */
    ml_wh_column *cols = NULL;
    size_t n = 0;
    bool exists = false;
    st = ml_wh_table_columns(a->wh, NULL, a->schema, table, &cols, &n, &exists, err);
    ml_wh_columns_free(cols, n);
    if (st != ML_OK) return st;
    a->counts.truncates++;
    if (!exists) return ML_OK;
    if (!(t = add_table(a, table))) return ml_err_nomem(err);
    if ((st = set_pk(t, NULL, 0, err)) != ML_OK) return st;
  } else {
    a->counts.truncates++;
  }
  t->ops++;
  if ((st = ensure_target(a, t, err)) != ML_OK) return st;
  char now[96];
  now_literal(now);
  if ((st = apply_table(a, t, now, UINT64_MAX, NULL, err)) != ML_OK) return st;
  ml_buf *q = &a->sql;
  ml_buf_reset(q);
  ml_buf_puts(q, "UPDATE ");
  ml_table_sql_name(&t->target, q);
  ml_buf_printf(q, " SET " COL_DELETED " = true, " COL_SYNCED " = %s WHERE " COL_DELETED " IS NOT TRUE", now);
  return ml_wh_exec_unbounded_buf(a->wh, q, err);
}

ml_status ml_apply_start(ml_apply *a, ml_err *err) {
  ml_status st = ensure_tx(a, err);
  if (st == ML_OK) st = ml_wh_exec(a->wh, "DROP SCHEMA IF EXISTS " OLD_STAGE_SCHEMA " CASCADE", err);
  for (size_t i = 0; st == ML_OK && i < a->n_tables; i++) st = ensure_target(a, &a->tables[i], err);
  a->started = st == ML_OK;
  return st;
}

ml_status ml_apply_ready(ml_apply *a, ml_err *err) {
  ml_status st = ensure_tx(a, err);
  return st == ML_OK ? apply_all(a, UINT64_MAX, err) : st;
}

void ml_apply_checkpointed(ml_apply *a) { a->counts.checkpoints++; }

/* A plan that could not be made whole: the tables planned before the
 * failure already count their staged rows as applied, so a later commit
 * (of a held checkpoint, say, when the sync fails) would save a state for
 * rows that never reach the tables.  The open transaction is marked failed
 * instead, after the loader's jobs, so that nothing of it can commit. */
static ml_status plan_failed(ml_apply *a, ap_plan *plan, ml_status st) {
  ml_apply_plan_free(plan);
  ml_err ignored;
  ml_wh_sync(a->wh, &ignored);
  ml_wh_fail_tx(a->wh);
  return st;
}

/* A new plan (*out) of the statements applying every table's staged
 * operations before upto (UINT64_MAX: all of them), see apply_table. */
static ml_status plan_applies(ml_apply *a, uint64_t upto, ap_plan **out, ml_err *err) {
  *out = NULL;
  ml_status st = ensure_tx(a, err);
  ap_plan *plan = st == ML_OK ? calloc(1, sizeof *plan) : NULL;
  if (st == ML_OK && !plan) st = ml_err_nomem(err);
  if (st != ML_OK) return st;
  char now[96];
  now_literal(now);
  for (size_t i = 0; st == ML_OK && i < a->n_tables; i++) st = apply_table(a, &a->tables[i], now, upto, plan, err);
  if (st != ML_OK) return plan_failed(a, plan, st);
  *out = plan;
  return ML_OK;
}

ml_status ml_apply_plan_behind(ml_apply *a, ml_apply_plan **out, ml_err *err) {
  *out = NULL;
  if (!ml_wh_loader(a->wh)) return ML_OK;
  for (size_t i = 0; i < a->n_tables; i++)
    if (a->tables[i].staged_changes) return ML_OK;
  ap_plan *plan;
  ml_status st = plan_applies(a, UINT64_MAX, &plan, err);
  if (st != ML_OK) return st;
  a->marked = false;
  a->planned_seq = a->seq;
  a->counts.checkpoints++;
  *out = plan;
  return ML_OK;
}

ml_status ml_apply_plan_ahead(ml_apply *a, uint64_t min_rows, ml_apply_plan **out, ml_err *err) {
  *out = NULL;
  uint64_t upto_seq = a->marked ? a->mark_seq : a->seq;
  if (!ml_wh_loader(a->wh) || upto_seq < a->planned_seq || upto_seq - a->planned_seq < (min_rows ? min_rows : 1))
    return ML_OK;
  uint64_t rows = 0;
  for (size_t i = 0; i < a->n_tables; i++) {
    if (a->tables[i].staged_changes) return ML_OK;
    rows += a->marked ? a->tables[i].staged_at_mark : a->tables[i].staged;
  }
  if (!rows || rows < min_rows) return ML_OK;
  ap_plan *plan;
  ml_status st = plan_applies(a, a->marked ? a->mark_seq : UINT64_MAX, &plan, err);
  if (st != ML_OK) return st;
  a->planned_seq = upto_seq;
  *out = plan;
  return ML_OK;
}

ml_status ml_apply_plan_run(ml_apply_plan *plan, ml_wh *wh, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t i = 0; st == ML_OK && i < plan->n; i++) st = run_now(wh, plan->stmts[i].kind, plan->stmts[i].sql, err);
  if (st != ML_OK) ml_err_prefix(err, "applying staged operations");
  return st;
}

void ml_apply_plan_free(ml_apply_plan *plan) {
  if (!plan) return;
  plan_free(plan);
  free(plan);
}

void ml_apply_mark(ml_apply *a) {
  a->mark_seq = a->seq;
  a->marked = true;
  for (size_t i = 0; i < a->n_tables; i++) a->tables[i].staged_at_mark = a->tables[i].staged;
  a->counts.checkpoints++;
}

bool ml_apply_marked(const ml_apply *a) { return a->marked; }

ml_status ml_apply_ready_mark(ml_apply *a, ml_err *err) {
  if (!a->marked) return ml_err_set(err, ML_ERR_STATE, "no checkpoint is held back");
  ml_status st = ensure_tx(a, err);
  return st == ML_OK ? apply_all(a, a->mark_seq, err) : st;
}

/* Forgets the staging tables (rows not flushed yet are dropped with their
 * batch) and, inside the open transaction, drops them so that their memory
 * goes back to DuckDB. */
static ml_status drop_stages(ml_apply *a, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t i = 0; i < a->n_tables; i++) {
    ap_table *t = &a->tables[i];
    if (!t->stage_ready) continue;
    ml_buf *q = &a->sql;
    ml_buf_reset(q);
    ml_buf_puts(q, "DROP TABLE IF EXISTS ");
    ml_table_sql_name(&t->stage, q);
    ml_table_free(&t->stage);
    t->stage_ready = false;
    if (st == ML_OK) st = ml_wh_exec_buf(a->wh, q, err);
  }
  return st;
}

ml_status ml_apply_ready_finish(ml_apply *a, ml_err *err) {
  /* a commit behind that failed is the reason: before the staging tables
   * go (closing their batches waits for the loader and drops its error) */
  ml_status st = ml_wh_sync(a->wh, err);
  if (st == ML_OK) st = ensure_tx(a, err);
  if (st == ML_OK) st = apply_all(a, UINT64_MAX, err);
  if (st == ML_OK) st = drop_stages(a, err);
  return st;
}

void ml_apply_abort(ml_apply *a) {
  if (!a) return;
  if (ml_wh_in_transaction(a->wh)) ml_wh_rollback(a->wh);
  /* staging tables created in an earlier, committed transaction still hold
   * the operations after the held checkpoint (ml_apply_commit_mark) */
  bool began = ml_wh_begin(a->wh, NULL) == ML_OK;
  ml_status st = drop_stages(a, NULL); /* when begin failed, each DROP commits on its own */
  if (began && (st != ML_OK || ml_wh_commit(a->wh, NULL) != ML_OK)) ml_wh_rollback(a->wh);
}

ml_wh *ml_apply_wh(const ml_apply *a) { return a->wh; }

ml_apply_counts ml_apply_totals(const ml_apply *a) {
  ml_apply_counts c = a->counts;
  c.schema_changes = a->tables_created;
  for (size_t i = 0; i < a->n_tables; i++)
    if (a->tables[i].target_ready) c.schema_changes += a->tables[i].target.schema_changes;
  return c;
}

size_t ml_apply_tables(const ml_apply *a) { return a->n_tables; }
const char *ml_apply_table_name(const ml_apply *a, size_t i) { return a->tables[i].name; }
uint64_t ml_apply_table_ops(const ml_apply *a, size_t i) { return a->tables[i].ops; }
