#include "ml_sdkschema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../json/ml_json.h"
#include "../util/ml_array.h"
#include "ml_sdk_internal.h"

/* One declared table; every string and array is owned.  Names compare
 * without case, as DuckDB's identifiers do. */
struct ml_sdkschema_table {
  char *name;
  char **pk; /* the primary key's columns, in key order */
  size_t n_pk;
  ml_col *cols; /* the columns declared with a type */
  size_t n_cols, cap_cols;
};
typedef struct ml_sdkschema_table decl_table;

ml_status ml_sdkschema_declare(const ml_sdkschema *s, ml_apply *apply, ml_err *err) {
  ml_status st = ML_OK;
  for (size_t i = 0; st == ML_OK && i < s->n; i++) {
    /* a key column without a declared type is inferred like any other */
    const decl_table *t = &s->tables[i];
    st = ml_apply_declare(apply, t->name, (const char *const *)t->pk, t->n_pk, t->cols, t->n_cols, err);
  }
  return st;
}

void ml_sdkschema_free(ml_sdkschema *s) {
  for (size_t i = 0; i < s->n; i++) {
    decl_table *t = &s->tables[i];
    free(t->name);
    for (size_t k = 0; k < t->n_pk; k++) free(t->pk[k]);
    free(t->pk);
    for (size_t k = 0; k < t->n_cols; k++) free(t->cols[k].name);
    free(t->cols);
  }
  free(s->tables);
  memset(s, 0, sizeof *s);
}

static int schema_guard(mallard_ctx *ctx, const char *what) {
  if (ctx->phase != ML_SDK_PHASE_SCHEMA)
    return ml_sdk_soft_error(ctx, MALLARD_ERR_STATE, "%s is only allowed inside schema()", what);
  return ctx->failed ? MALLARD_ERR_FAILED : MALLARD_OK;
}

static decl_table *decl_find(mallard_ctx *ctx, const char *name) {
  for (size_t i = 0; i < ctx->schema.n; i++)
    if (!strcasecmp(ctx->schema.tables[i].name, name)) return &ctx->schema.tables[i];
  return NULL;
}

static int schema_error(mallard_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int schema_error(mallard_ctx *ctx, const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return ml_sdk_fatal(ctx, MALLARD_ERR_SCHEMA, ML_ERR_CONNECTOR, "invalid schema: %s", msg);
}

static int add_pk(mallard_ctx *ctx, decl_table *t, const char *name, size_t n) {
  while (n && (name[0] == ' ' || name[0] == '\t')) name++, n--;
  while (n && (name[n - 1] == ' ' || name[n - 1] == '\t')) n--;
  if (!n) return schema_error(ctx, "table '%s': empty column name in the primary key", t->name);
  char **pk = realloc(t->pk, (t->n_pk + 1) * sizeof *pk);
  if (!pk) return ml_sdk_fatal_nomem(ctx);
  t->pk = pk;
  if (!(pk[t->n_pk] = ml_sdk_dup_n(name, n))) return ml_sdk_fatal_nomem(ctx);
  for (size_t i = 0; i < t->n_pk; i++)
    if (!strcasecmp(pk[i], pk[t->n_pk])) {
      free(pk[t->n_pk]);
      return schema_error(ctx, "table '%s': column '%s' appears twice in the primary key", t->name, pk[i]);
    }
  t->n_pk++;
  return MALLARD_OK;
}

static int declare_table(mallard_ctx *ctx, const char *table, decl_table **out) {
  *out = NULL;
  int rc = schema_guard(ctx, "mallard_table");
  if (rc) return rc;
  if (!table || !*table) return schema_error(ctx, "a table name is NULL or empty");
  if (decl_find(ctx, table)) return schema_error(ctx, "table '%s' is declared twice", table);
  ml_sdkschema *s = &ctx->schema;
  if (!ml_array_reserve(&s->tables, s->n + 1, &s->cap, sizeof *s->tables, 8)) return ml_sdk_fatal_nomem(ctx);
  decl_table *t = &ctx->schema.tables[ctx->schema.n];
  memset(t, 0, sizeof *t);
  if (!(t->name = strdup(table))) return ml_sdk_fatal_nomem(ctx);
  ctx->schema.n++;
  *out = t;
  return MALLARD_OK;
}

int mallard_table(mallard_ctx *ctx, const char *table, const char *primary_key) {
  if (!ctx) return MALLARD_ERR_ARG;
  decl_table *t;
  int rc = declare_table(ctx, table, &t);
  if (rc || !primary_key) return rc;
  const char *p = primary_key;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if ((rc = add_pk(ctx, t, p, n)) != MALLARD_OK) return rc;
    p += n + (comma ? 1 : 0);
    if (comma && !*p) return schema_error(ctx, "table '%s': the primary key ends with a comma", t->name);
  }
  return MALLARD_OK;
}

static int add_column(mallard_ctx *ctx, const char *table, const char *column, ml_type type) {
  int rc = schema_guard(ctx, "mallard_column");
  if (rc) return rc;
  decl_table *t = table ? decl_find(ctx, table) : NULL;
  if (!t)
    return schema_error(ctx, "column '%s' of table '%s': declare the table with mallard_table first",
                        column ? column : "?", table ? table : "(null)");
  if (!column || !*column) return schema_error(ctx, "table '%s': a column name is NULL or empty", table);
  if (!strncmp(column, "_fivetran_", 10))
    return schema_error(ctx, "table '%s': column '%s': names starting with _fivetran_ are mallard's", table, column);
  for (size_t i = 0; i < t->n_cols; i++)
    if (!strcasecmp(t->cols[i].name, column))
      return schema_error(ctx, "table '%s': column '%s' is declared twice", table, column);
  if (!ml_array_reserve(&t->cols, t->n_cols + 1, &t->cap_cols, sizeof *t->cols, 8)) return ml_sdk_fatal_nomem(ctx);
  if (!(t->cols[t->n_cols].name = strdup(column))) return ml_sdk_fatal_nomem(ctx);
  t->cols[t->n_cols++].type = type;
  return MALLARD_OK;
}

static const struct {
  const char *name;
  mallard_type sdk;
  ml_type_id id;
} type_names[] = {
    {"BOOLEAN", MALLARD_BOOLEAN, ML_TYPE_BOOLEAN},
    {"SHORT", MALLARD_SHORT, ML_TYPE_SMALLINT},
    {"INT", MALLARD_INT, ML_TYPE_INTEGER},
    {"LONG", MALLARD_LONG, ML_TYPE_BIGINT},
    {"DECIMAL", MALLARD_DECIMAL, ML_TYPE_DECIMAL},
    {"FLOAT", MALLARD_FLOAT, ML_TYPE_FLOAT},
    {"DOUBLE", MALLARD_DOUBLE, ML_TYPE_DOUBLE},
    {"NAIVE_DATE", MALLARD_NAIVE_DATE, ML_TYPE_DATE},
    {"NAIVE_TIME", MALLARD_NAIVE_TIME, ML_TYPE_TIME},
    {"NAIVE_DATETIME", MALLARD_NAIVE_DATETIME, ML_TYPE_TIMESTAMP},
    {"UTC_DATETIME", MALLARD_UTC_DATETIME, ML_TYPE_TIMESTAMPTZ},
    {"BINARY", MALLARD_BINARY, ML_TYPE_BLOB},
    {"XML", MALLARD_XML, ML_TYPE_VARCHAR},
    {"STRING", MALLARD_STRING, ML_TYPE_VARCHAR},
    {"JSON", MALLARD_JSON, ML_TYPE_JSON},
};
#define N_TYPES (sizeof type_names / sizeof type_names[0])

int mallard_column(mallard_ctx *ctx, const char *table, const char *column, mallard_type type) {
  if (!ctx) return MALLARD_ERR_ARG;
  if (type == MALLARD_DECIMAL)
    return schema_error(ctx, "table '%s': column '%s': DECIMAL needs precision and scale (mallard_column_decimal)",
                        table ? table : "?", column ? column : "?");
  for (size_t i = 0; i < N_TYPES; i++)
    if (type_names[i].sdk == type) return add_column(ctx, table, column, ml_type_of(type_names[i].id));
  return schema_error(ctx, "table '%s': column '%s': unknown type %d", table ? table : "?", column ? column : "?",
                      (int)type);
}

int mallard_column_decimal(mallard_ctx *ctx, const char *table, const char *column, int precision, int scale) {
  if (!ctx) return MALLARD_ERR_ARG;
  if (precision < 1 || precision > 38 || scale < 0 || scale > precision)
    return schema_error(ctx, "table '%s': column '%s': DECIMAL(%d,%d) is invalid (precision 1..38, scale 0..precision)",
                        table ? table : "?", column ? column : "?", precision, scale);
  return add_column(ctx, table, column, ml_type_decimal((uint8_t)precision, (uint8_t)scale));
}

static const char *json_kind(const ml_json_val *v) {
  switch (v->type) {
  case ML_JSON_STRING: return "a string";
  case ML_JSON_NUMBER: return "a number";
  case ML_JSON_OBJECT: return "an object";
  case ML_JSON_ARRAY: return "an array";
  case ML_JSON_NULL: return "null";
  default: return "a boolean";
  }
}

/* One column of the JSON schema: "TYPE" or {"type": "DECIMAL", "precision": p, "scale": s}. */
static int json_column(mallard_ctx *ctx, const char *table, const char *col, const ml_json_val *v) {
  const char *type = NULL;
  const ml_json_val *prec = NULL, *scale = NULL;
  if (v->type == ML_JSON_STRING) {
    type = v->u.str;
  } else if (v->type == ML_JSON_OBJECT) {
    for (size_t i = 0; i < v->len; i++) {
      const char *k = ml_json_key(v, i)->u.str;
      const ml_json_val *m = ml_json_member(v, i);
      if (!strcmp(k, "type") && m->type == ML_JSON_STRING) type = m->u.str;
      else if (!strcmp(k, "precision")) prec = m;
      else if (!strcmp(k, "scale")) scale = m;
      else if (strcmp(k, "type"))
        return schema_error(ctx, "table '%s': column '%s': unknown key '%s' (known: type, precision, scale)", table,
                            col, k);
    }
    if (!type) return schema_error(ctx, "table '%s': column '%s': \"type\" must be a string", table, col);
  } else {
    return schema_error(ctx, "table '%s': column '%s': the type must be a string or an object, not %s", table, col,
                        json_kind(v));
  }
  for (size_t i = 0; i < N_TYPES; i++) {
    if (strcmp(type_names[i].name, type)) continue;
    if (type_names[i].sdk == MALLARD_DECIMAL) {
      if (!prec || !scale || !(prec->flags & ML_JSON_NUM_INT) || !(scale->flags & ML_JSON_NUM_INT))
        return schema_error(ctx, "table '%s': column '%s': DECIMAL needs integer \"precision\" and \"scale\"", table,
                            col);
      if (prec->i < 1 || prec->i > 38 || scale->i < 0 || scale->i > prec->i)
        return schema_error(ctx, "table '%s': column '%s': DECIMAL(%lld,%lld) is invalid (precision 1..38, scale "
                                 "0..precision)",
                            table, col, (long long)prec->i, (long long)scale->i);
      return mallard_column_decimal(ctx, table, col, (int)prec->i, (int)scale->i);
    }
    if (prec || scale)
      return schema_error(ctx, "table '%s': column '%s': precision and scale apply to DECIMAL only", table, col);
    return mallard_column(ctx, table, col, type_names[i].sdk);
  }
  return schema_error(ctx,
                      "table '%s': column '%s': unknown type '%s' (known: BOOLEAN, SHORT, INT, LONG, DECIMAL, FLOAT, "
                      "DOUBLE, NAIVE_DATE, NAIVE_TIME, NAIVE_DATETIME, UTC_DATETIME, BINARY, XML, STRING, JSON)",
                      table, col, type);
}

static int json_table(mallard_ctx *ctx, size_t index, const ml_json_val *t) {
  if (t->type != ML_JSON_OBJECT)
    return schema_error(ctx, "entry %zu: a table must be an object, not %s", index + 1, json_kind(t));
  const char *name = NULL;
  const ml_json_val *pk = NULL, *cols = NULL;
  for (size_t i = 0; i < t->len; i++) {
    const char *k = ml_json_key(t, i)->u.str;
    const ml_json_val *m = ml_json_member(t, i);
    if (!strcmp(k, "table")) {
      if (m->type != ML_JSON_STRING) return schema_error(ctx, "entry %zu: \"table\" must be a string", index + 1);
      name = m->u.str;
    } else if (!strcmp(k, "primary_key")) {
      pk = m;
    } else if (!strcmp(k, "columns")) {
      cols = m;
    } else {
      return schema_error(ctx, "entry %zu: unknown key '%s' (known: table, primary_key, columns)", index + 1, k);
    }
  }
  if (!name) return schema_error(ctx, "entry %zu: \"table\" is missing", index + 1);
  decl_table *d;
  int rc = declare_table(ctx, name, &d);
  if (rc) return rc;
  if (pk && pk->type != ML_JSON_ARRAY)
    return schema_error(ctx, "table '%s': \"primary_key\" must be an array of column names", name);
  for (size_t i = 0; pk && i < pk->len; i++) {
    const ml_json_val *c = &pk->u.items[i];
    if (c->type != ML_JSON_STRING)
      return schema_error(ctx, "table '%s': \"primary_key\" must be an array of column names", name);
    if ((rc = add_pk(ctx, d, c->u.str, c->len)) != MALLARD_OK) return rc;
  }
  if (cols && cols->type != ML_JSON_OBJECT)
    return schema_error(ctx, "table '%s': \"columns\" must be an object of column: type", name);
  for (size_t i = 0; cols && i < cols->len; i++)
    if ((rc = json_column(ctx, name, ml_json_key(cols, i)->u.str, ml_json_member(cols, i))) != MALLARD_OK) return rc;
  return MALLARD_OK;
}

int mallard_schema_json(mallard_ctx *ctx, const char *json) {
  if (!ctx) return MALLARD_ERR_ARG;
  int rc = schema_guard(ctx, "mallard_schema_json");
  if (rc) return rc;
  if (!json) return schema_error(ctx, "the schema JSON is NULL");
  ml_json_doc *doc = ml_json_doc_new();
  if (!doc) return ml_sdk_fatal_nomem(ctx);
  const ml_json_val *root;
  ml_err err;
  if (ml_json_parse(doc, json, strlen(json), &root, &err) != ML_OK) {
    ml_json_err_locate(&err);
    rc = schema_error(ctx, "%s", err.msg);
  }
  else if (root->type != ML_JSON_ARRAY) rc = schema_error(ctx, "the schema must be a JSON array of tables");
  for (size_t i = 0; rc == MALLARD_OK && i < root->len; i++) rc = json_table(ctx, i, &root->u.items[i]);
  ml_json_doc_free(doc);
  return rc;
}
