#include "ml_unnest.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../json/ml_json.h"
#include "../util/ml_array.h"
#include "../util/ml_hash.h"

const char *const ml_unnest_meta_names[ML_UNNEST_META_COLUMNS] = {
    "_airbyte_raw_id", "_mallard_parent_id", "_mallard_id", "_mallard_list_idx", "_airbyte_extracted_at",
    "_airbyte_generation_id"};
const ml_type_id ml_unnest_meta_types[ML_UNNEST_META_COLUMNS] = {ML_TYPE_UUID,   ML_TYPE_UUID,        ML_TYPE_UUID,
                                                                 ML_TYPE_BIGINT, ML_TYPE_TIMESTAMPTZ, ML_TYPE_BIGINT};

/* ---- plan ---- */

/* A property of a row object that gets a column: a top-level one (the
 * record's fields, an item's properties) or a flattened leaf. */
typedef struct entry {
  const char **path; /* owned array, borrowed strings */
  size_t n_path;
  char *source;       /* owned: the name before normalisation ("billing__zip"), or the column itself */
  const ml_shape *shape;
  char *column;       /* owned once assigned */
} entry;

typedef struct entries {
  entry *v;
  size_t n, cap;
} entries;

static void entries_free(entries *e) {
  for (size_t i = 0; i < e->n; i++) {
    free(e->v[i].path);
    free(e->v[i].source);
    free(e->v[i].column);
  }
  free(e->v);
  memset(e, 0, sizeof *e);
}

/* Appends an entry for path prefix + key (key NULL: prefix alone). */
static ml_status entries_push(entries *e, const char **prefix, size_t n_prefix, const char *key, const char *source,
                              const ml_shape *shape, ml_err *err) {
  if (!ml_array_reserve(&e->v, e->n + 1, &e->cap, sizeof *e->v, 8)) return ml_err_nomem(err);
  size_t n = n_prefix + (key != NULL);
  entry *x = &e->v[e->n];
  memset(x, 0, sizeof *x);
  x->path = malloc((n ? n : 1) * sizeof *x->path);
  x->source = strdup(source);
  if (!x->path || !x->source) {
    free(x->path);
    free(x->source);
    return ml_err_nomem(err);
  }
  if (n_prefix) memcpy(x->path, prefix, n_prefix * sizeof *prefix);
  if (key) x->path[n_prefix] = key;
  x->n_path = n;
  x->shape = shape;
  e->n++;
  return ML_OK;
}

/* The leaves of a declared object reached by path, named source__key...:
 * sub-objects with declared properties give their leaves, not a column. */
static ml_status collect_leaves(const ml_shape *obj, const char **path, size_t n_path, const char *source,
                                entries *out, ml_err *err) {
  ml_status st = ML_OK;
  const char **sub = malloc((n_path + 1) * sizeof *sub);
  if (!sub) return ml_err_nomem(err);
  if (n_path) memcpy(sub, path, n_path * sizeof *path);
  ml_buf name = ML_BUF_INIT;
  for (size_t i = 0; st == ML_OK && i < obj->n_props; i++) {
    const ml_shape_prop *p = &obj->props[i];
    sub[n_path] = p->key;
    ml_buf_reset(&name);
    ml_buf_puts(&name, source);
    ml_buf_puts(&name, "__");
    ml_buf_puts(&name, p->key);
    if (!ml_buf_ok(&name)) st = ml_err_nomem(err);
    else if (p->shape.kind == ML_SHAPE_OBJECT)
      st = collect_leaves(&p->shape, sub, n_path + 1, name.data, out, err);
    else
      st = entries_push(out, sub, n_path, p->key, name.data, &p->shape, err);
  }
  ml_buf_free(&name);
  free(sub);
  return st;
}

/* Assigns distinct column names to e->v[from..] avoiding `reserved` and the
 * columns of e->v[..from]. */
static ml_status assign_columns(entries *e, size_t from, const char *const *reserved, size_t n_reserved,
                                ml_err *err) {
  size_t n = e->n - from, n_taken = n_reserved + from;
  if (n == 0) return ML_OK;
  const char **names = malloc(n * sizeof *names);
  const char **taken = malloc((n_taken ? n_taken : 1) * sizeof *taken);
  char **out = calloc(n, sizeof *out);
  ml_status st = names && taken && out ? ML_OK : ml_err_nomem(err);
  if (st == ML_OK) {
    for (size_t i = 0; i < n_reserved; i++) taken[i] = reserved[i];
    for (size_t i = 0; i < from; i++) taken[n_reserved + i] = e->v[i].column;
    for (size_t i = 0; i < n; i++) names[i] = e->v[from + i].source;
    st = ml_names_assign(names, n, taken, n_taken, out, err);
  }
  if (st == ML_OK)
    for (size_t i = 0; i < n; i++) e->v[from + i].column = out[i];
  free(names);
  free(taken);
  free(out);
  return st;
}

static char *path_text(const char **path, size_t n, bool as_json) {
  ml_buf b = ML_BUF_INIT;
  if (as_json) ml_buf_putc(&b, '[');
  for (size_t i = 0; i < n; i++) {
    if (i) ml_buf_putc(&b, as_json ? ',' : '.');
    if (as_json) ml_json_quote(&b, path[i], strlen(path[i]));
    else ml_buf_puts(&b, path[i]);
  }
  if (as_json) ml_buf_putc(&b, ']');
  if (!b.data) ml_buf_puts(&b, "");
  return ml_buf_steal(&b);
}

static ml_status col_from(const entry *x, ml_unnest_col *c, ml_err *err) {
  c->path = malloc((x->n_path ? x->n_path : 1) * sizeof *c->path);
  c->label = path_text(x->path, x->n_path, false);
  c->column = strdup(x->column);
  if (!c->path || !c->label || !c->column) return ml_err_nomem(err);
  if (x->n_path) memcpy(c->path, x->path, x->n_path * sizeof *x->path);
  c->n_path = x->n_path;
  c->type = x->shape ? x->shape->type : ml_type_of(ML_TYPE_JSON);
  c->base64 = x->shape && x->shape->base64;
  return ML_OK;
}

static void col_free(ml_unnest_col *c) {
  free(c->path);
  free(c->label);
  free(c->column);
}

static void child_free(ml_unnest_child *c) {
  free(c->path);
  free(c->label);
  free(c->key);
  free(c->array_column);
  free(c->table);
  for (size_t i = 0; i < c->n_cols; i++) col_free(&c->cols[i]);
  free(c->cols);
  for (size_t i = 0; i < c->n_children; i++) child_free(&c->children[i]);
  free(c->children);
}

static ml_status build_child(const entry *arr, unsigned level, unsigned depth, ml_unnest_child *c, ml_err *err);

/* For the columns e->v[0..] of one row object (top-level entries first, then
 * leaves): the children of its arrays, while level <= depth. */
static ml_status children_of(const entries *e, unsigned level, unsigned depth, ml_unnest_child **out, size_t *n_out,
                             ml_err *err) {
  *out = NULL;
  *n_out = 0;
  if (level > depth) return ML_OK;
  size_t n = 0;
  for (size_t i = 0; i < e->n; i++) n += e->v[i].shape && e->v[i].shape->kind == ML_SHAPE_ARRAY;
  if (n == 0) return ML_OK;
  if (!(*out = calloc(n, sizeof **out))) return ml_err_nomem(err);
  ml_status st = ML_OK;
  for (size_t i = 0; st == ML_OK && i < e->n; i++) {
    if (!e->v[i].shape || e->v[i].shape->kind != ML_SHAPE_ARRAY) continue;
    st = build_child(&e->v[i], level, depth, &(*out)[(*n_out)++], err);
  }
  return st;
}

/* The entries of an item row: its properties, then their leaves. */
static ml_status item_entries(const ml_shape *items, entries *e, ml_err *err) {
  static const char value[] = "value";
  ml_status st = ML_OK;
  if (!items || items->kind != ML_SHAPE_OBJECT) {
    /* one column for the item itself; an array of arrays or undeclared items keep their JSON */
    st = entries_push(e, NULL, 0, NULL, value, items && items->kind == ML_SHAPE_LEAF ? items : NULL, err);
    if (st == ML_OK && !(e->v[0].column = strdup(value))) st = ml_err_nomem(err);
    return st;
  }
  for (size_t i = 0; st == ML_OK && i < items->n_props; i++)
    st = entries_push(e, NULL, 0, items->props[i].key, items->props[i].key, &items->props[i].shape, err);
  if (st == ML_OK) st = assign_columns(e, 0, ml_unnest_meta_names, ML_UNNEST_META_COLUMNS, err);
  size_t top = e->n;
  for (size_t i = 0; st == ML_OK && i < top; i++)
    if (e->v[i].shape->kind == ML_SHAPE_OBJECT) {
      const char **path = e->v[i].path;
      st = collect_leaves(e->v[i].shape, path, 1, e->v[i].column, e, err);
    }
  if (st == ML_OK) st = assign_columns(e, top, ml_unnest_meta_names, ML_UNNEST_META_COLUMNS, err);
  return st;
}

static ml_status build_child(const entry *arr, unsigned level, unsigned depth, ml_unnest_child *c, ml_err *err) {
  c->level = level;
  c->path = malloc(arr->n_path * sizeof *c->path);
  c->label = path_text(arr->path, arr->n_path, false);
  c->key = path_text(arr->path, arr->n_path, true);
  c->array_column = strdup(arr->column);
  if (!c->path || !c->label || !c->key || !c->array_column) return ml_err_nomem(err);
  memcpy(c->path, arr->path, arr->n_path * sizeof *arr->path);
  c->n_path = arr->n_path;
  entries e = {0};
  ml_status st = item_entries(arr->shape->items, &e, err);
  if (st == ML_OK && !(c->cols = calloc(e.n, sizeof *c->cols))) st = ml_err_nomem(err);
  for (size_t i = 0; st == ML_OK && i < e.n; i++) {
    st = col_from(&e.v[i], &c->cols[i], err);
    c->n_cols = i + 1;
  }
  /* an item that is an array itself stays JSON in "value": only an
   * object's array properties go a level deeper */
  if (st == ML_OK && arr->shape->items && arr->shape->items->kind == ML_SHAPE_OBJECT)
    st = children_of(&e, level + 1, depth, &c->children, &c->n_children, err);
  entries_free(&e);
  return st;
}

static const char *const record_meta_columns[] = {"_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta",
                                                  "_airbyte_generation_id"};

ml_status ml_unnest_plan_build(const ml_stream_def *def, unsigned depth, ml_unnest_plan *out, ml_err *err) {
  memset(out, 0, sizeof *out);
  entries e = {0};
  ml_status st = ML_OK;
  for (size_t i = 0; st == ML_OK && i < def->n_fields; i++) {
    const ml_field *f = &def->fields[i];
    st = entries_push(&e, NULL, 0, f->source, f->column, &f->shape, err);
    if (st == ML_OK && !(e.v[i].column = strdup(f->column))) st = ml_err_nomem(err);
  }
  size_t top = e.n;
  for (size_t i = 0; st == ML_OK && i < top; i++)
    if (e.v[i].shape->kind == ML_SHAPE_OBJECT) {
      const char **path = e.v[i].path;
      st = collect_leaves(e.v[i].shape, path, 1, e.v[i].column, &e, err);
    }
  if (st == ML_OK)
    st = assign_columns(&e, top, record_meta_columns, sizeof record_meta_columns / sizeof *record_meta_columns, err);
  if (st == ML_OK && e.n > top && !(out->flat = calloc(e.n - top, sizeof *out->flat))) st = ml_err_nomem(err);
  for (size_t i = top; st == ML_OK && i < e.n; i++) {
    st = col_from(&e.v[i], &out->flat[i - top], err);
    out->n_flat = i - top + 1;
  }
  if (st == ML_OK && depth >= 1) st = children_of(&e, 1, depth, &out->children, &out->n_children, err);
  entries_free(&e);
  if (st != ML_OK) ml_unnest_plan_free(out);
  return st;
}

void ml_unnest_plan_free(ml_unnest_plan *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n_flat; i++) col_free(&p->flat[i]);
  free(p->flat);
  for (size_t i = 0; i < p->n_children; i++) child_free(&p->children[i]);
  free(p->children);
  memset(p, 0, sizeof *p);
}

const ml_json_val *ml_unnest_walk(const ml_json_val *v, const char *const *path, size_t n) {
  for (size_t i = 0; v && i < n; i++) v = v->type == ML_JSON_OBJECT ? ml_json_get(v, path[i]) : NULL;
  return v;
}

bool ml_unnest_plan_empty(const ml_unnest_plan *p) { return p->n_flat == 0 && p->n_children == 0; }

/* ---- table names ---- */

/* What is known of the database's names: registered children and existing
 * tables (both parsed JSON lists), plus this run's catalog and new names. */
typedef struct names {
  const ml_json_val *registry; /* [[schema, parent, path, child], ...] or NULL */
  const ml_json_val *tables;   /* [[schema, table], ...] or NULL */
  const ml_catalog *cat;
  char **fresh; /* "schema\0table" pairs given this run: schema and table at fresh[2i], fresh[2i+1] */
  size_t n_fresh, cap_fresh;
} names;

static bool str_eq(const ml_json_val *v, const char *s) {
  return v && v->type == ML_JSON_STRING && v->len == strlen(s) && !strncasecmp(v->u.str, s, v->len);
}

/* DuckDB matches identifiers without case, so names are compared so too. */
static bool name_taken(const names *nm, const char *schema, const char *table) {
  for (size_t i = 0; nm->registry && i < nm->registry->len; i++) {
    const ml_json_val *r = &nm->registry->u.items[i];
    if (r->len == 4 && str_eq(&r->u.items[0], schema) && str_eq(&r->u.items[3], table)) return true;
  }
  for (size_t i = 0; nm->tables && i < nm->tables->len; i++) {
    const ml_json_val *r = &nm->tables->u.items[i];
    if (r->len == 2 && str_eq(&r->u.items[0], schema) && str_eq(&r->u.items[1], table)) return true;
  }
  for (size_t i = 0; i < nm->cat->n_streams; i++)
    if (!strcasecmp(nm->cat->streams[i].schema, schema) && !strcasecmp(nm->cat->streams[i].table, table)) return true;
  for (size_t i = 0; i < nm->n_fresh; i++)
    if (!strcasecmp(nm->fresh[2 * i], schema) && !strcasecmp(nm->fresh[2 * i + 1], table)) return true;
  return false;
}

static const char *registered(const names *nm, const char *schema, const char *parent, const char *key) {
  for (size_t i = 0; nm->registry && i < nm->registry->len; i++) {
    const ml_json_val *r = &nm->registry->u.items[i];
    if (r->len != 4 || r->u.items[3].type != ML_JSON_STRING) continue;
    if (str_eq(&r->u.items[0], schema) && str_eq(&r->u.items[1], parent) && r->u.items[2].type == ML_JSON_STRING &&
        !strcmp(r->u.items[2].u.str, key))
      return r->u.items[3].u.str;
  }
  return NULL;
}

/* A child waiting for a name: the candidate and what breaks ties. */
typedef struct wanted {
  ml_unnest_child *child;
  const char *stream, *schema, *parent;
  char *candidate; /* owned */
} wanted;

static int wanted_cmp(const void *pa, const void *pb) {
  const wanted *a = pa, *b = pb;
  int c = strcmp(a->schema, b->schema);
  if (!c) c = strcmp(a->candidate, b->candidate);
  if (!c) c = strcmp(a->parent, b->parent);
  if (!c) c = strcmp(a->child->key, b->child->key);
  return c;
}

typedef struct wanted_list {
  wanted *v;
  size_t n, cap;
} wanted_list;

/* Children at `level` below parent: registered ones get their name, the
 * others join `todo`. */
static ml_status gather(const names *nm, ml_unnest_child *kids, size_t n, const ml_stream_def *d, const char *parent,
                        unsigned level, wanted_list *todo, ml_err *err) {
  const char *schema = d->schema;
  for (size_t i = 0; i < n; i++) {
    ml_unnest_child *c = &kids[i];
    if (c->level < level) {
      if (c->table) {
        ml_status st = gather(nm, c->children, c->n_children, d, c->table, level, todo, err);
        if (st != ML_OK) return st;
      }
      continue;
    }
    const char *known = registered(nm, schema, parent, c->key);
    if (known) {
      if (!(c->table = strdup(known))) return ml_err_nomem(err);
      continue;
    }
    if (!ml_array_reserve(&todo->v, todo->n + 1, &todo->cap, sizeof *todo->v, 8)) return ml_err_nomem(err);
    ml_buf b = ML_BUF_INIT;
    ml_buf_puts(&b, parent);
    ml_buf_puts(&b, "__");
    ml_buf_puts(&b, c->array_column);
    if (!ml_buf_ok(&b)) return ml_err_nomem(err);
    todo->v[todo->n++] = (wanted){c, d->name, schema, parent, ml_buf_steal(&b)};
  }
  return ML_OK;
}

/* Whether a child at `level` has children of its own. */
static bool has_children_at(const ml_unnest_child *kids, size_t n, unsigned level) {
  for (size_t i = 0; i < n; i++) {
    if (kids[i].level == level ? kids[i].n_children > 0 : has_children_at(kids[i].children, kids[i].n_children, level))
      return true;
  }
  return false;
}

static ml_status give_name(ml_wh *wh, names *nm, wanted *w, ml_proto *log, ml_err *err) {
  ml_buf name = ML_BUF_INIT, q = ML_BUF_INIT;
  ml_buf_puts(&name, w->candidate);
  uint64_t h = ml_hash_fnv1a(w->parent, strlen(w->parent) + 1);
  h = ml_hash_fnv1a_more(h, w->child->key, strlen(w->child->key));
  for (unsigned tries = 0; ml_buf_ok(&name) && name_taken(nm, w->schema, name.data); tries++) {
    ml_buf_reset(&name);
    if (tries < 2) ml_buf_printf(&name, "%s_%0*llx", w->candidate, tries ? 16 : 8, (unsigned long long)(tries ? h : h >> 32));
    else ml_buf_printf(&name, "%s_%016llx_%u", w->candidate, (unsigned long long)h, tries);
  }
  if (nm->n_fresh == nm->cap_fresh) {
    size_t cap = nm->cap_fresh ? nm->cap_fresh * 2 : 8;
    char **v = realloc(nm->fresh, 2 * cap * sizeof *v);
    if (!v) {
      ml_buf_free(&name);
      return ml_err_nomem(err);
    }
    nm->fresh = v;
    nm->cap_fresh = cap;
  }
  char *table = ml_buf_steal(&name);
  char *schema = strdup(w->schema);
  w->child->table = table ? strdup(table) : NULL;
  if (!table || !schema || !w->child->table) {
    free(table);
    free(schema);
    return ml_err_nomem(err);
  }
  nm->fresh[2 * nm->n_fresh] = schema;
  nm->fresh[2 * nm->n_fresh + 1] = table;
  nm->n_fresh++;
  ml_buf_puts(&q, "INSERT INTO main." ML_UNNEST_REGISTRY " VALUES (");
  ml_sql_literal(&q, w->schema, strlen(w->schema));
  ml_buf_puts(&q, ", ");
  ml_sql_literal(&q, w->parent, strlen(w->parent));
  ml_buf_puts(&q, ", ");
  ml_sql_literal(&q, w->child->key, strlen(w->child->key));
  ml_buf_puts(&q, ", ");
  ml_sql_literal(&q, table, strlen(table));
  ml_buf_puts(&q, ", now())");
  ml_status st = ml_wh_exec_buf(wh, &q, err);
  ml_buf_free(&q);
  if (st == ML_OK)
    ml_proto_log(log, "INFO", "stream '%s': array %s of table %s unnested into table %s.%s", w->stream,
                 w->child->label, w->parent, w->schema, table);
  return st;
}

static ml_status query_list(ml_wh *wh, const char *sql, ml_json_doc *doc, const ml_json_val **out, ml_err *err) {
  char *text = NULL;
  *out = NULL;
  ml_status st = ml_wh_query_text(wh, sql, &text, err);
  if (st == ML_OK && text) st = ml_json_parse(doc, text, strlen(text), out, err);
  free(text);
  if (st == ML_OK && *out && (*out)->type != ML_JSON_ARRAY) *out = NULL;
  return st;
}

ml_status ml_unnest_assign_tables(ml_wh *wh, const ml_catalog *cat, ml_unnest_plan *const *plans, ml_proto *log,
                                  ml_err *err) {
  bool any = false;
  for (size_t i = 0; i < cat->n_streams; i++) any |= plans[i] && plans[i]->n_children > 0;
  if (!any) return ML_OK;
  names nm = {.cat = cat};
  wanted_list todo = {0};
  ml_json_doc *reg_doc = ml_json_doc_new(), *tab_doc = ml_json_doc_new();
  ml_status st = reg_doc && tab_doc ? ML_OK : ml_err_nomem(err);
  if (st == ML_OK)
    st = ml_wh_exec(wh,
                    "CREATE TABLE IF NOT EXISTS main." ML_UNNEST_REGISTRY " (schema_name VARCHAR NOT NULL, "
                    "parent_table VARCHAR NOT NULL, path VARCHAR NOT NULL, child_table VARCHAR NOT NULL, "
                    "assigned_at TIMESTAMPTZ)",
                    err);
  if (st == ML_OK)
    st = query_list(wh,
                    "SELECT to_json(list([schema_name, parent_table, path, child_table]))::VARCHAR FROM main." ML_UNNEST_REGISTRY,
                    reg_doc, &nm.registry, err);
  if (st == ML_OK)
    st = query_list(wh,
                    "SELECT to_json(list([schema_name, table_name]))::VARCHAR FROM duckdb_tables() "
                    "WHERE database_name = current_database() AND NOT temporary",
                    tab_doc, &nm.tables, err);
  /* a stream's own table that holds another stream's children would get
   * both streams' rows */
  for (size_t i = 0; st == ML_OK && i < cat->n_streams; i++) {
    const ml_stream_def *d = &cat->streams[i];
    for (size_t r = 0; nm.registry && r < nm.registry->len; r++) {
      const ml_json_val *row = &nm.registry->u.items[r];
      if (row->len == 4 && str_eq(&row->u.items[0], d->schema) && str_eq(&row->u.items[3], d->table) &&
          row->u.items[1].type == ML_JSON_STRING)
        st = ml_err_set(err, ML_ERR_CONFIG,
                        "stream '%s' writes table %s.%s, which holds the unnested array %s of table %s; give the "
                        "stream another namespace, or move that table away",
                        d->name, d->schema, d->table, row->u.items[2].u.str, row->u.items[1].u.str);
    }
  }
  for (unsigned level = 1; st == ML_OK; level++) {
    for (size_t i = 0; i < todo.n; i++) free(todo.v[i].candidate);
    todo.n = 0;
    bool deeper = false;
    for (size_t i = 0; st == ML_OK && i < cat->n_streams; i++) {
      if (!plans[i]) continue;
      st = gather(&nm, plans[i]->children, plans[i]->n_children, &cat->streams[i], cat->streams[i].table, level,
                  &todo, err);
    }
    if (todo.n) qsort(todo.v, todo.n, sizeof *todo.v, wanted_cmp);
    for (size_t i = 0; st == ML_OK && i < todo.n; i++) {
      st = give_name(wh, &nm, &todo.v[i], log, err);
    }
    for (size_t i = 0; i < cat->n_streams; i++)
      if (plans[i]) deeper |= has_children_at(plans[i]->children, plans[i]->n_children, level);
    if (!deeper) break;
  }
  for (size_t i = 0; i < todo.n; i++) free(todo.v[i].candidate);
  free(todo.v);
  for (size_t i = 0; i < 2 * nm.n_fresh; i++) free(nm.fresh[i]);
  free(nm.fresh);
  ml_json_doc_free(reg_doc);
  ml_json_doc_free(tab_doc);
  if (st != ML_OK) ml_err_prefix(err, "naming the tables of unnested arrays");
  return st;
}
