#include "ml_shape.h"

#include <stdlib.h>
#include <string.h>

#include "ml_catalog.h"

/* The one type a schema allows besides null ("object", ["null","array"]),
 * or NULL when it allows several, none, or says it another way. */
static const ml_json_val *single_type(const ml_json_val *schema) {
  const ml_json_val *t = ml_json_get(schema, "type");
  if (!t) return NULL;
  if (t->type == ML_JSON_STRING) return t;
  if (t->type != ML_JSON_ARRAY) return NULL;
  const ml_json_val *one = NULL;
  for (size_t i = 0; i < t->len; i++) {
    const ml_json_val *e = &t->u.items[i];
    if (e->type != ML_JSON_STRING) return NULL;
    if (e->len == 4 && !memcmp(e->u.str, "null", 4)) continue;
    if (one) return NULL;
    one = e;
  }
  return one;
}

static bool type_is(const ml_json_val *t, const char *name) {
  return t && t->len == strlen(name) && !memcmp(t->u.str, name, t->len);
}

/* Whether property i of props is usable as a column source and is the last
 * definition of its key. */
static bool prop_counts(const ml_json_val *props, size_t i) {
  const ml_json_val *k = ml_json_key(props, i);
  if (k->len == 0 || memchr(k->u.str, '\0', k->len)) return false;
  return ml_json_getn(props, k->u.str, k->len) == ml_json_member(props, i);
}

static ml_status build(const ml_json_val *schema, ml_type type, bool base64, unsigned depth, ml_shape *out,
                       ml_err *err) {
  memset(out, 0, sizeof *out);
  out->kind = ML_SHAPE_LEAF;
  out->type = type;
  out->base64 = base64;
  if (!schema || schema->type != ML_JSON_OBJECT || depth >= ML_SHAPE_MAX_DEPTH) return ML_OK;
  if (ml_json_get(schema, "oneOf") || ml_json_get(schema, "anyOf") || ml_json_get(schema, "allOf")) return ML_OK;
  const ml_json_val *t = single_type(schema);
  if (type_is(t, "array")) {
    out->kind = ML_SHAPE_ARRAY;
    const ml_json_val *items = ml_json_get(schema, "items");
    if (!items || items->type != ML_JSON_OBJECT) return ML_OK; /* undeclared, or a tuple: items stay JSON */
    if (!(out->items = malloc(sizeof *out->items))) return ml_err_nomem(err);
    bool b64 = false;
    ml_type it = ml_catalog_schema_type(items, &b64);
    ml_status st = build(items, it, b64, depth + 1, out->items, err);
    if (st != ML_OK) ml_shape_free(out);
    return st;
  }
  const ml_json_val *props = ml_json_get(schema, "properties");
  if (!type_is(t, "object") || !props || props->type != ML_JSON_OBJECT) return ML_OK;
  size_t n = 0;
  for (size_t i = 0; i < props->len; i++) n += prop_counts(props, i);
  if (n == 0) return ML_OK; /* a free-form object */
  if (!(out->props = calloc(n, sizeof *out->props))) return ml_err_nomem(err);
  out->kind = ML_SHAPE_OBJECT;
  for (size_t i = 0; i < props->len; i++) {
    if (!prop_counts(props, i)) continue;
    const ml_json_val *k = ml_json_key(props, i), *ps = ml_json_member(props, i);
    ml_shape_prop *p = &out->props[out->n_props++];
    if (!(p->key = malloc(k->len + 1))) {
      ml_shape_free(out);
      return ml_err_nomem(err);
    }
    memcpy(p->key, k->u.str, k->len);
    p->key[k->len] = '\0';
    bool b64 = false;
    ml_type pt = ml_catalog_schema_type(ps, &b64);
    ml_status st = build(ps, pt, b64, depth + 1, &p->shape, err);
    if (st != ML_OK) {
      ml_shape_free(out);
      return st;
    }
  }
  return ML_OK;
}

ml_status ml_shape_build(const ml_json_val *schema, ml_type type, bool base64, ml_shape *out, ml_err *err) {
  return build(schema, type, base64, 0, out, err);
}

void ml_shape_free(ml_shape *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n_props; i++) {
    free(s->props[i].key);
    ml_shape_free(&s->props[i].shape);
  }
  free(s->props);
  if (s->items) {
    ml_shape_free(s->items);
    free(s->items);
  }
  memset(s, 0, sizeof *s);
}
