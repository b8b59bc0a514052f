/* ml_catalog: name normalisation, collision resolution and the configured
 * catalog (see ml_catalog.h).  The config and SPEC live in ml_config.c.
 *
 * Names.
 *
 * The assignment works on "items": a source name (what gets normalised and
 * what the keeper rule compares) plus a hash key (what the suffix hashes and
 * what breaks ties between equal source names).  For fields both are the
 * property name; for tables the catalog code passes a key that also covers the
 * namespace when two streams of the same name land in one schema. */
#include "ml_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/ml_json.h"
#include "../util/ml_file.h"
#include "../util/ml_hash.h"
#include "../util/ml_near.h"

/* One name to assign: see the comment at the top. */
typedef struct ml_name_item {
  const char *name; /* source name (not NUL-terminated necessarily) */
  size_t name_len;
  const char *hkey; /* hash key: distinct for distinct items */
  size_t hkey_len;
  char *norm; /* working storage: the normalised name */
} ml_name_item;

/* Length of the valid UTF-8 sequence that starts at s (1..4), or 0 when the
 * byte at s does not start one (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF).  Used so that one character, not one byte, becomes '_'. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < need) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < need; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return need;
}

bool ml_name_normalize(const char *name, size_t len, ml_buf *out) {
  if (len == 0) return false;
  const unsigned char *s = (const unsigned char *)name;
  if (s[0] >= '0' && s[0] <= '9') ml_buf_putc(out, '_');
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      ml_buf_putc(out, (char)c);
      i++;
    } else if (c >= 'A' && c <= 'Z') {
      ml_buf_putc(out, (char)(c - 'A' + 'a'));
      i++;
    } else {
      /* A whole character becomes one '_'; a byte that is not valid UTF-8 is
       * its own "character" so that garbage still maps deterministically. */
      size_t k = utf8_seq(s + i, len - i);
      ml_buf_putc(out, '_');
      i += k ? k : 1;
    }
  }
  return true;
}

/* ---- a set of strings (open addressing), for "is this name taken" ---- */

static uint64_t fnv1a(const char *s, size_t n) { return ml_hash_fnv1a(s, n); }

typedef struct strset {
  const char **slot; /* not owned */
  size_t cap;        /* power of two */
} strset;

static bool strset_init(strset *s, size_t max_entries) {
  size_t cap = 16;
  while (cap < max_entries * 2 + 1) cap *= 2;
  s->slot = calloc(cap, sizeof *s->slot);
  s->cap = cap;
  return s->slot != NULL;
}

/* Returns the slot holding str, or the empty slot where it would go. */
static const char **strset_find(const strset *s, const char *str) {
  size_t i = (size_t)fnv1a(str, strlen(str)) & (s->cap - 1);
  while (s->slot[i] && strcmp(s->slot[i], str) != 0) i = (i + 1) & (s->cap - 1);
  return &s->slot[i];
}

static bool strset_has(const strset *s, const char *str) { return *strset_find(s, str) != NULL; }

/* The caller sized the set for every insert it makes, so there is always room. */
static void strset_add(strset *s, const char *str) {
  const char **p = strset_find(s, str);
  if (!*p) *p = str;
}

/* ---- assignment ---- */

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  if (c) return c;
  return an < bn ? -1 : an > bn;
}

/* Sort order that makes the result independent of the input order: by
 * normalised text (groups the colliders), then source name, then hash key. */
static int item_cmp(const void *pa, const void *pb) {
  const ml_name_item *a = *(const ml_name_item *const *)pa;
  const ml_name_item *b = *(const ml_name_item *const *)pb;
  int c = strcmp(a->norm, b->norm);
  if (c) return c;
  c = bytes_cmp(a->name, a->name_len, b->name, b->name_len);
  if (c) return c;
  return bytes_cmp(a->hkey, a->hkey_len, b->hkey, b->hkey_len);
}

static ml_status names_assign_items(ml_name_item *items, size_t n, const char *const *reserved, size_t n_reserved,
                                char **out, ml_err *err) {
  ml_status st = ML_OK;
  ml_name_item **order = NULL;
  strset taken = {NULL, 0};
  ml_buf b = ML_BUF_INIT;

  for (size_t i = 0; i < n; i++) {
    out[i] = NULL;
    items[i].norm = NULL;
  }
  if (n == 0) return ML_OK;

  for (size_t i = 0; i < n; i++) {
    ml_buf_reset(&b);
    if (!ml_name_normalize(items[i].name, items[i].name_len, &b)) {
      st = ml_err_set(err, ML_ERR_CONFIG, "name number %zu is empty", i + 1);
      goto done;
    }
    if (!ml_buf_ok(&b) || !(items[i].norm = strdup(b.data))) goto nomem;
  }

  order = malloc(n * sizeof *order);
  if (!order || !strset_init(&taken, n + n_reserved)) goto nomem;
  for (size_t i = 0; i < n; i++) order[i] = &items[i];
  qsort(order, n, sizeof *order, item_cmp);
  for (size_t r = 0; r < n_reserved; r++)
    if (reserved[r]) strset_add(&taken, reserved[r]);

  /* Pass 1: in each group of equal normalised text, the keeper takes the plain
   * name, so that a name nobody collides with is never decorated. */
  for (size_t g = 0; g < n;) {
    size_t end = g + 1;
    while (end < n && strcmp(order[end]->norm, order[g]->norm) == 0) end++;
    for (size_t k = g + 1; k < end; k++) {
      if (item_cmp(&order[k - 1], &order[k]) == 0) {
        st = ml_err_set(err, ML_ERR_CONFIG, "the name \"%.*s\" is given twice", (int)order[k]->name_len,
                        order[k]->name);
        goto done;
      }
    }
    if (!strset_has(&taken, order[g]->norm)) {
      size_t keeper = g; /* the byte-wise smallest source name ... */
      for (size_t k = g; k < end; k++) {
        /* ... unless a source name is already in normal form: it has the
         * strongest claim, and renaming it would surprise its users most. */
        if (strlen(order[k]->norm) == order[k]->name_len &&
            memcmp(order[k]->norm, order[k]->name, order[k]->name_len) == 0) {
          keeper = k;
          break;
        }
      }
      size_t idx = (size_t)(order[keeper] - items);
      if (!(out[idx] = strdup(order[keeper]->norm))) goto nomem;
      strset_add(&taken, out[idx]);
    }
    g = end;
  }

  /* Pass 2: everyone else gets a hash suffix, in sorted order so that a
   * second-order collision is resolved the same way whatever the input order. */
  for (size_t k = 0; k < n; k++) {
    ml_name_item *it = order[k];
    size_t idx = (size_t)(it - items);
    if (out[idx]) continue;
    char hex[17];
    static const char digits[] = "0123456789abcdef";
    uint64_t h = fnv1a(it->hkey, it->hkey_len);
    for (int d = 0; d < 16; d++) hex[d] = digits[(h >> (60 - 4 * d)) & 0xF];
    hex[16] = '\0';
    for (int nd = 8; nd <= 16 && !out[idx]; nd++) {
      ml_buf_reset(&b);
      ml_buf_printf(&b, "%s_%.*s", it->norm, nd, hex);
      if (!ml_buf_ok(&b)) goto nomem;
      if (!strset_has(&taken, b.data) && !(out[idx] = ml_buf_steal(&b))) goto nomem;
    }
    /* Only a source name crafted to equal another's full hash gets here. */
    for (unsigned long c = 2; !out[idx]; c++) {
      ml_buf_reset(&b);
      ml_buf_printf(&b, "%s_%s_%lu", it->norm, hex, c);
      if (!ml_buf_ok(&b)) goto nomem;
      if (!strset_has(&taken, b.data) && !(out[idx] = ml_buf_steal(&b))) goto nomem;
    }
    strset_add(&taken, out[idx]);
  }
  goto done;

nomem:
  st = ml_err_set(err, ML_ERR_NOMEM, "out of memory assigning names");
done:
  if (st != ML_OK) {
    for (size_t i = 0; i < n; i++) {
      free(out[i]);
      out[i] = NULL;
    }
  }
  for (size_t i = 0; i < n; i++) {
    free(items[i].norm);
    items[i].norm = NULL;
  }
  free(order);
  free(taken.slot);
  ml_buf_free(&b);
  return st;
}

ml_status ml_names_assign(const char *const *names, size_t n, const char *const *reserved, size_t n_reserved,
                          char **out, ml_err *err) {
  for (size_t i = 0; i < n; i++) out[i] = NULL;
  if (n == 0) return ML_OK;
  ml_name_item *items = calloc(n, sizeof *items);
  if (!items) return ml_err_set(err, ML_ERR_NOMEM, "out of memory assigning names");
  for (size_t i = 0; i < n; i++) {
    if (!names[i] || !names[i][0]) {
      free(items);
      return ml_err_set(err, ML_ERR_CONFIG, "name number %zu is empty", i + 1);
    }
    items[i].name = items[i].hkey = names[i];
    items[i].name_len = items[i].hkey_len = strlen(names[i]);
  }
  ml_status st = names_assign_items(items, n, reserved, n_reserved, out, err);
  free(items);
  return st;
}

/* ==== catalog ==== */

static const char *const metadata_columns[] = {"_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta",
                                               "_airbyte_generation_id"};

const char *ml_sync_mode_load_prefix(ml_sync_mode m) {
  switch (m) {
  case ML_MODE_OVERWRITE: return "_mallard_tmp_";
  case ML_MODE_APPEND_DEDUP: return "_mallard_stage_";
  default: return "";
  }
}

const char *ml_sync_mode_name(ml_sync_mode m) {
  switch (m) {
  case ML_MODE_APPEND: return "append";
  case ML_MODE_OVERWRITE: return "overwrite";
  case ML_MODE_APPEND_DEDUP: return "append_dedup";
  }
  return "append";
}

static bool json_str_is(const ml_json_val *v, const char *s) {
  size_t n = strlen(s);
  return v && v->type == ML_JSON_STRING && v->len == n && memcmp(v->u.str, s, n) == 0;
}

static bool is_null(const ml_json_val *v) { return !v || v->type == ML_JSON_NULL; }

/* Copies a JSON string; NULL when out of memory.  The caller has checked
 * that it holds no NUL byte (names become C strings). */
static char *dup_json_str(const ml_json_val *v) {
  char *p = malloc(v->len + 1);
  if (p) {
    memcpy(p, v->u.str, v->len);
    p[v->len] = '\0';
  }
  return p;
}

static bool has_nul(const ml_json_val *v) { return memchr(v->u.str, '\0', v->len) != NULL; }

/* ---- type mapping ---- */

/* airbyte_type on its own (the v0 protocol's refinement of "string"/"number"). */
static bool airbyte_type_map(const char *at, ml_type_id *id) {
  static const struct {
    const char *name;
    ml_type_id id;
  } map[] = {
      {"timestamp_with_timezone", ML_TYPE_TIMESTAMPTZ},
      {"timestamp_without_timezone", ML_TYPE_TIMESTAMP},
      {"time_with_timezone", ML_TYPE_TIMETZ},
      {"time_without_timezone", ML_TYPE_TIME},
      {"date", ML_TYPE_DATE},
      {"integer", ML_TYPE_BIGINT},
      /* DECIMAL(38,0): integers of up to 38 digits (BIGINT holds 19) */
      {"big_integer", ML_TYPE_DECIMAL},
  };
  if (!at) return false;
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    if (strcmp(at, map[i].name) == 0) {
      *id = map[i].id;
      return true;
    }
  }
  return false;
}

/* v1 catalogs: {"$ref": "WellKnownTypes.json#/definitions/Integer"}, also
 * spelt without the '/' after '#', possibly behind a directory or URL. */
static ml_type_id well_known_type(const ml_json_val *ref, bool *base64) {
  static const char marker[] = "WellKnownTypes.json#";
  static const struct {
    const char *name;
    ml_type_id id;
  } map[] = {
      {"String", ML_TYPE_VARCHAR},
      {"BinaryData", ML_TYPE_BLOB},
      {"Boolean", ML_TYPE_BOOLEAN},
      {"Date", ML_TYPE_DATE},
      {"TimestampWithTimezone", ML_TYPE_TIMESTAMPTZ},
      {"TimestampWithoutTimezone", ML_TYPE_TIMESTAMP},
      {"TimeWithTimezone", ML_TYPE_TIMETZ},
      {"TimeWithoutTimezone", ML_TYPE_TIME},
      {"Number", ML_TYPE_DOUBLE},
      {"Integer", ML_TYPE_BIGINT},
  };
  const char *s = ref->u.str;
  size_t n = ref->len, m = sizeof marker - 1;
  for (size_t p = 0; p + m <= n; p++) {
    if (memcmp(s + p, marker, m) != 0 || (p > 0 && s[p - 1] != '/')) continue;
    const char *rest = s + p + m;
    size_t rn = n - p - m;
    if (rn && *rest == '/') rest++, rn--;
    if (rn < 12 || memcmp(rest, "definitions/", 12) != 0) break;
    rest += 12;
    rn -= 12;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
      if (strlen(map[i].name) == rn && memcmp(map[i].name, rest, rn) == 0) {
        /* BinaryData values are base64 text in the protocol. */
        *base64 = map[i].id == ML_TYPE_BLOB;
        return map[i].id;
      }
    }
    break;
  }
  return ML_TYPE_JSON; /* another $ref: we cannot see its shape, keep the value whole */
}

static ml_type_id string_type(const char *fmt, const char *at, const char *enc, bool *base64) {
  if (enc && strcmp(enc, "base64") == 0) {
    *base64 = true;
    return ML_TYPE_BLOB;
  }
  if (fmt) {
    if (strcmp(fmt, "date") == 0) return ML_TYPE_DATE;
    if (strcmp(fmt, "date-time") == 0 || strcmp(fmt, "datetime") == 0 || strcmp(fmt, "timestamp") == 0)
      return at && strcmp(at, "timestamp_without_timezone") == 0 ? ML_TYPE_TIMESTAMP : ML_TYPE_TIMESTAMPTZ;
    if (strcmp(fmt, "time") == 0)
      return at && strcmp(at, "time_without_timezone") == 0 ? ML_TYPE_TIME : ML_TYPE_TIMETZ;
  }
  ml_type_id id;
  if (airbyte_type_map(at, &id)) return id;
  return ML_TYPE_VARCHAR;
}

/* The column type of one top-level property.  Only the property's own
 * keywords matter: anything nested (object, array) is stored whole as JSON. */
static ml_type_id property_type(const ml_json_val *s, bool *base64) {
  *base64 = false;
  /* `true`, `false`, or a non-schema: anything may arrive, keep it as JSON. */
  if (s->type != ML_JSON_OBJECT) return ML_TYPE_JSON;
  const ml_json_val *ref = ml_json_get(s, "$ref");
  if (ref && ref->type == ML_JSON_STRING) return well_known_type(ref, base64);
  if (ml_json_get(s, "oneOf") || ml_json_get(s, "anyOf") || ml_json_get(s, "allOf")) return ML_TYPE_JSON;

  const char *fmt = ml_json_get_str(s, "format");
  const char *at = ml_json_get_str(s, "airbyte_type");
  const char *enc = ml_json_get_str(s, "contentEncoding");
  const ml_json_val *t = ml_json_get(s, "type");
  const ml_json_val *single = NULL;
  size_t n_types = 0;
  if (!t) {
    /* No "type": only an airbyte_type can still say what the values are. */
    ml_type_id id;
    return airbyte_type_map(at, &id) ? id : ML_TYPE_JSON;
  }
  if (t->type == ML_JSON_STRING) {
    if (!json_str_is(t, "null")) single = t, n_types = 1;
  } else if (t->type == ML_JSON_ARRAY) {
    for (size_t i = 0; i < t->len; i++) {
      const ml_json_val *e = &t->u.items[i];
      if (json_str_is(e, "null")) continue;
      single = e;
      n_types++;
    }
  }
  /* A union of several types (or none at all) has no single column type. */
  if (n_types != 1 || single->type != ML_JSON_STRING) return ML_TYPE_JSON;
  if (json_str_is(single, "string")) return string_type(fmt, at, enc, base64);
  if (json_str_is(single, "integer")) return ML_TYPE_BIGINT;
  if (json_str_is(single, "number")) {
    ml_type_id id;
    if (airbyte_type_map(at, &id) && (id == ML_TYPE_BIGINT || id == ML_TYPE_DECIMAL)) return id;
    return ML_TYPE_DOUBLE;
  }
  if (json_str_is(single, "boolean")) return ML_TYPE_BOOLEAN;
  return ML_TYPE_JSON; /* object, array, or a type we do not know */
}

ml_type ml_catalog_schema_type(const ml_json_val *schema, bool *base64) {
  ml_type_id id = property_type(schema, base64);
  /* the only DECIMAL a catalog declares is big_integer's */
  return id == ML_TYPE_DECIMAL ? ml_type_decimal(38, 0) : ml_type_of(id);
}

/* ---- streams ---- */

static void path_free(ml_path *p) {
  for (size_t i = 0; i < p->n; i++) free(p->parts[i]);
  free(p->parts);
  p->parts = NULL;
  p->n = 0;
}

static void stream_free(ml_stream_def *s) {
  free(s->name);
  free(s->ns);
  free(s->schema);
  free(s->table);
  for (size_t i = 0; i < s->n_fields; i++) {
    free(s->fields[i].source);
    free(s->fields[i].column);
    ml_shape_free(&s->fields[i].shape);
  }
  free(s->fields);
  for (size_t i = 0; i < s->n_primary_key; i++) path_free(&s->primary_key[i]);
  free(s->primary_key);
  path_free(&s->cursor);
  memset(s, 0, sizeof *s);
}

void ml_catalog_free(ml_catalog *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n_streams; i++) stream_free(&c->streams[i]);
  free(c->streams);
  c->streams = NULL;
  c->n_streams = 0;
}

/* Text naming a stream in error messages. */
typedef struct label {
  char s[400];
} label;

static void label_stream(label *l, const char *ns, const char *name) {
  if (ns)
    snprintf(l->s, sizeof l->s, "stream \"%.150s\" (namespace \"%.150s\")", name, ns);
  else
    snprintf(l->s, sizeof l->s, "stream \"%.300s\"", name);
}

/* A path: an array of non-empty strings ("what" names it in errors);
 * a bare string is accepted as a one-part path. */
static ml_status parse_path(const ml_json_val *v, ml_path *p, const label *l, const char *what, ml_err *err) {
  const ml_json_val *parts = v;
  size_t n = 1;
  if (v->type == ML_JSON_ARRAY) {
    n = v->len;
    if (n == 0) return ml_err_set(err, ML_ERR_CONFIG, "%s: %s is an empty path", l->s, what);
  } else if (v->type != ML_JSON_STRING) {
    return ml_err_set(err, ML_ERR_CONFIG, "%s: %s must be a list of field names", l->s, what);
  }
  p->parts = calloc(n, sizeof *p->parts);
  if (!p->parts) return ml_err_nomem(err);
  for (size_t i = 0; i < n; i++) {
    const ml_json_val *e = v->type == ML_JSON_ARRAY ? &parts->u.items[i] : v;
    if (e->type != ML_JSON_STRING)
      return ml_err_set(err, ML_ERR_CONFIG, "%s: %s must be a list of field names (strings)", l->s, what);
    if (e->len == 0 || has_nul(e))
      return ml_err_set(err, ML_ERR_CONFIG, "%s: %s contains an empty or invalid field name", l->s, what);
    if (!(p->parts[i] = dup_json_str(e))) return ml_err_nomem(err);
    p->n = i + 1;
  }
  return ML_OK;
}

static bool path_list_empty(const ml_json_val *v) { return is_null(v) || (v->type == ML_JSON_ARRAY && v->len == 0); }

static ml_status parse_primary_key(const ml_json_val *v, ml_stream_def *sd, const label *l, ml_err *err) {
  if (v->type != ML_JSON_ARRAY)
    return ml_err_set(err, ML_ERR_CONFIG, "%s: primary_key must be a list of field paths, e.g. [[\"id\"]]", l->s);
  sd->primary_key = calloc(v->len, sizeof *sd->primary_key);
  if (!sd->primary_key) return ml_err_nomem(err);
  for (size_t i = 0; i < v->len; i++) {
    char what[64];
    snprintf(what, sizeof what, "primary_key[%zu]", i);
    sd->n_primary_key = i + 1;
    ml_status st = parse_path(&v->u.items[i], &sd->primary_key[i], l, what, err);
    if (st != ML_OK) return st;
  }
  return ML_OK;
}

static ml_status parse_int_key(const ml_json_val *cs, const char *key, int64_t *out, const label *l,
                               ml_err *err) {
  const ml_json_val *v = ml_json_get(cs, key);
  *out = 0;
  if (is_null(v)) return ML_OK;
  if (v->type != ML_JSON_NUMBER || !(v->flags & ML_JSON_NUM_INT) || v->i < 0)
    return ml_err_set(err, ML_ERR_CONFIG, "%s: %s must be a non-negative integer", l->s, key);
  *out = v->i;
  return ML_OK;
}

typedef struct prop_ref {
  const ml_json_val *key;
  size_t pos;
} prop_ref;

static int prop_ref_cmp(const void *pa, const void *pb) {
  const prop_ref *a = pa, *b = pb;
  int c = bytes_cmp(a->key->u.str, a->key->len, b->key->u.str, b->key->len);
  if (c) return c;
  return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Fields from json_schema.properties, in the catalog's order.  A key given
 * twice keeps its last definition (what ml_json_get and JavaScript see). */
static ml_status parse_fields(const ml_json_val *props, ml_stream_def *sd, const label *l, ml_err *err) {
  size_t n = props->len;
  if (n == 0) return ML_OK;
  ml_status st = ML_OK;
  prop_ref *refs = calloc(n, sizeof *refs);
  bool *skip = calloc(n, sizeof *skip);
  ml_name_item *items = calloc(n, sizeof *items);
  char **cols = calloc(n, sizeof *cols);
  sd->fields = calloc(n, sizeof *sd->fields);
  if (!refs || !skip || !items || !cols || !sd->fields) {
    st = ml_err_nomem(err);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    const ml_json_val *k = ml_json_key(props, i);
    if (k->len == 0) {
      st = ml_err_set(err, ML_ERR_CONFIG, "%s: a property in json_schema has an empty name", l->s);
      goto done;
    }
    if (has_nul(k)) {
      st = ml_err_set(err, ML_ERR_CONFIG, "%s: property \"%.200s\" has a NUL character in its name", l->s,
                      k->u.str);
      goto done;
    }
    refs[i].key = k;
    refs[i].pos = i;
  }
  qsort(refs, n, sizeof *refs, prop_ref_cmp);
  for (size_t i = 0; i + 1 < n; i++)
    if (bytes_cmp(refs[i].key->u.str, refs[i].key->len, refs[i + 1].key->u.str, refs[i + 1].key->len) == 0)
      skip[refs[i].pos] = true; /* a later definition of the same key follows */

  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (skip[i]) continue;
    const ml_json_val *k = ml_json_key(props, i);
    ml_field *f = &sd->fields[m];
    items[m].name = items[m].hkey = k->u.str;
    items[m].name_len = items[m].hkey_len = k->len;
    sd->n_fields = ++m;
    if (!(f->source = dup_json_str(k))) {
      st = ml_err_nomem(err);
      goto done;
    }
    const ml_json_val *schema = ml_json_member(props, i);
    f->type = ml_catalog_schema_type(schema, &f->base64);
    if ((st = ml_shape_build(schema, f->type, f->base64, &f->shape, err)) != ML_OK) goto done;
  }
  st = names_assign_items(items, m, metadata_columns, sizeof metadata_columns / sizeof metadata_columns[0], cols,
                          err);
  if (st != ML_OK) {
    ml_err_prefix(err, "%s: column names", l->s);
    goto done;
  }
  for (size_t i = 0; i < m; i++) sd->fields[i].column = cols[i];

done:
  free(refs);
  free(skip);
  free(items);
  free(cols);
  return st;
}

static ml_status parse_sync_mode(const ml_json_val *v, ml_sync_mode *mode, const label *l, ml_err *err) {
  static const struct {
    const char *name;
    ml_sync_mode mode;
  } map[] = {
      {"append", ML_MODE_APPEND},           {"overwrite", ML_MODE_OVERWRITE},
      {"append_dedup", ML_MODE_APPEND_DEDUP}, {"update", ML_MODE_APPEND_DEDUP},
  };
  *mode = ML_MODE_APPEND;
  if (is_null(v)) return ML_OK;
  if (v->type == ML_JSON_STRING) {
    /* Airbyte's soft_delete marks the destination's records deleted on the
     * source's say-so (data activation destinations); taking it as append
     * would keep every row instead */
    if (json_str_is(v, "soft_delete"))
      return ml_err_set(err, ML_ERR_CONFIG,
                        "%s: destination_sync_mode \"soft_delete\" is not supported by mallard (it would mark rows "
                        "deleted by key); use append_dedup, where deletions arrive as records with "
                        "_ab_cdc_deleted_at",
                        l->s);
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
      if (json_str_is(v, map[i].name)) {
        *mode = map[i].mode;
        return ML_OK;
      }
    }
    return ml_err_set(err, ML_ERR_CONFIG,
                      "%s: unknown destination_sync_mode \"%.100s\" (expected append, overwrite, append_dedup or "
                      "update)",
                      l->s, v->u.str);
  }
  return ml_err_set(err, ML_ERR_CONFIG, "%s: destination_sync_mode must be a string", l->s);
}

/* A key path whose first field the stream's json_schema does not declare
 * would dedup on NULL and never match: said at start, before any record. */
static ml_status check_path(const ml_stream_def *sd, const ml_path *p, const char *what, const label *l, ml_err *err) {
  if (!p->n) return ML_OK;
  const char *first = p->parts[0];
  for (size_t i = 0; i < sd->n_fields; i++)
    if (!strcmp(sd->fields[i].source, first)) return ML_OK;
  const char *cands[256];
  size_t n = 0;
  for (size_t i = 0; i < sd->n_fields && n < sizeof cands / sizeof cands[0]; i++) cands[n++] = sd->fields[i].source;
  const char *near = ml_near_match(first, cands, n);
  return ml_err_set(err, ML_ERR_CONFIG, "%s: %s \"%.100s\" is not a property of the stream's json_schema%s%.100s%s",
                    l->s, what, first, near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
}

static ml_status check_key_fields(const ml_stream_def *sd, const label *l, ml_err *err) {
  if (!sd->n_fields) return ML_OK; /* a schema without properties declares nothing to check against */
  for (size_t i = 0; i < sd->n_primary_key; i++) {
    ml_status st = check_path(sd, &sd->primary_key[i], "primary_key field", l, err);
    if (st != ML_OK) return st;
  }
  /* the cursor orders the records of a key only in append_dedup */
  return sd->mode == ML_MODE_APPEND_DEDUP ? check_path(sd, &sd->cursor, "cursor_field", l, err) : ML_OK;
}

static ml_status parse_stream(const ml_json_val *cs, size_t idx, ml_stream_def *sd, ml_err *err) {
  label l;
  snprintf(l.s, sizeof l.s, "streams[%zu]", idx);
  if (cs->type != ML_JSON_OBJECT) return ml_err_set(err, ML_ERR_CONFIG, "%s is not an object", l.s);
  const ml_json_val *st = ml_json_get(cs, "stream");
  if (!st || st->type != ML_JSON_OBJECT)
    return ml_err_set(err, ML_ERR_CONFIG, "%s has no \"stream\" object", l.s);

  const ml_json_val *name = ml_json_get(st, "name");
  if (is_null(name)) return ml_err_set(err, ML_ERR_CONFIG, "%s: stream has no \"name\"", l.s);
  if (name->type != ML_JSON_STRING) return ml_err_set(err, ML_ERR_CONFIG, "%s: stream \"name\" must be a string", l.s);
  if (name->len == 0) return ml_err_set(err, ML_ERR_CONFIG, "%s: stream name is empty", l.s);
  if (has_nul(name)) return ml_err_set(err, ML_ERR_CONFIG, "%s: stream name contains a NUL character", l.s);
  if (!(sd->name = dup_json_str(name))) return ml_err_nomem(err);

  const ml_json_val *ns = ml_json_get(st, "namespace");
  if (!is_null(ns)) {
    if (ns->type != ML_JSON_STRING)
      return ml_err_set(err, ML_ERR_CONFIG, "%s: stream \"%.200s\": namespace must be a string", l.s, sd->name);
    if (has_nul(ns))
      return ml_err_set(err, ML_ERR_CONFIG, "%s: stream \"%.200s\": namespace contains a NUL character", l.s,
                        sd->name);
    /* "" is how some sources say "no namespace". */
    if (ns->len && !(sd->ns = dup_json_str(ns))) return ml_err_nomem(err);
  }
  label_stream(&l, sd->ns, sd->name);

  ml_status rc = parse_sync_mode(ml_json_get(cs, "destination_sync_mode"), &sd->mode, &l, err);
  if (rc != ML_OK) return rc;

  const ml_json_val *js = ml_json_get(st, "json_schema");
  if (is_null(js)) return ml_err_set(err, ML_ERR_CONFIG, "%s has no json_schema", l.s);
  if (js->type != ML_JSON_OBJECT) return ml_err_set(err, ML_ERR_CONFIG, "%s: json_schema must be an object", l.s);
  const ml_json_val *props = ml_json_get(js, "properties");
  if (!is_null(props)) {
    if (props->type != ML_JSON_OBJECT)
      return ml_err_set(err, ML_ERR_CONFIG, "%s: json_schema \"properties\" must be an object", l.s);
    if ((rc = parse_fields(props, sd, &l, err)) != ML_OK) return rc;
  }

  /* The configured key wins; the source's default fills in when the platform
   * left it empty (older platforms and hand-written catalogs do). */
  const ml_json_val *pk = ml_json_get(cs, "primary_key");
  if (path_list_empty(pk)) pk = ml_json_get(st, "source_defined_primary_key");
  if (!path_list_empty(pk) && (rc = parse_primary_key(pk, sd, &l, err)) != ML_OK) return rc;
  if (sd->mode == ML_MODE_APPEND_DEDUP && sd->n_primary_key == 0) {
    const char *given = ml_json_get_str(cs, "destination_sync_mode");
    return ml_err_set(err, ML_ERR_CONFIG, "%s: destination_sync_mode \"%s\" needs a primary_key", l.s,
                      given ? given : "append_dedup");
  }
  const ml_json_val *cursor = ml_json_get(cs, "cursor_field");
  if (path_list_empty(cursor)) cursor = ml_json_get(st, "default_cursor_field");
  if (!path_list_empty(cursor) && (rc = parse_path(cursor, &sd->cursor, &l, "cursor_field", err)) != ML_OK)
    return rc;

  if ((rc = parse_int_key(cs, "generation_id", &sd->generation_id, &l, err)) != ML_OK) return rc;
  if ((rc = parse_int_key(cs, "minimum_generation_id", &sd->minimum_generation_id, &l, err)) != ML_OK) return rc;
  if ((rc = check_key_fields(sd, &l, err)) != ML_OK) return rc;
  return parse_int_key(cs, "sync_id", &sd->sync_id, &l, err);
}

static int cmp_opt_str(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

/* Identity order: (namespace, name). */
static int stream_id_cmp(const void *pa, const void *pb) {
  const ml_stream_def *a = *(const ml_stream_def *const *)pa, *b = *(const ml_stream_def *const *)pb;
  int c = cmp_opt_str(a->ns, b->ns);
  return c ? c : strcmp(a->name, b->name);
}

/* Table order: (schema, name, namespace): groups each schema's streams and
 * puts equal names next to each other. */
static int stream_table_cmp(const void *pa, const void *pb) {
  const ml_stream_def *a = *(const ml_stream_def *const *)pa, *b = *(const ml_stream_def *const *)pb;
  int c = strcmp(a->schema, b->schema);
  if (c) return c;
  c = strcmp(a->name, b->name);
  return c ? c : cmp_opt_str(a->ns, b->ns);
}

/* Gives every stream a table name distinct within its schema. */
static ml_status assign_tables(ml_catalog *c, ml_err *err) {
  size_t n = c->n_streams;
  ml_status st = ML_OK;
  ml_stream_def **order = malloc(n * sizeof *order);
  ml_name_item *items = calloc(n, sizeof *items);
  char **keys = calloc(n, sizeof *keys);
  char **tables = calloc(n, sizeof *tables);
  if (!order || !items || !keys || !tables) {
    st = ml_err_nomem(err);
    goto done;
  }
  for (size_t i = 0; i < n; i++) order[i] = &c->streams[i];

  /* The same (namespace, name) twice would write one table from two streams. */
  qsort(order, n, sizeof *order, stream_id_cmp);
  for (size_t i = 1; i < n; i++) {
    if (stream_id_cmp(&order[i - 1], &order[i]) == 0) {
      label l;
      label_stream(&l, order[i]->ns, order[i]->name);
      st = ml_err_set(err, ML_ERR_CONFIG, "%s appears twice in the catalog", l.s);
      goto done;
    }
  }

  qsort(order, n, sizeof *order, stream_table_cmp);
  for (size_t g = 0; g < n;) {
    size_t end = g + 1;
    while (end < n && strcmp(order[end]->schema, order[g]->schema) == 0) end++;
    for (size_t k = g; k < end; k++) {
      ml_stream_def *s = order[k];
      items[k - g].name = s->name;
      items[k - g].name_len = strlen(s->name);
      /* The suffix hashes the stream name; only when namespaces that
       * normalise alike bring the same name into one schema does the
       * namespace join the hash, to tell those streams apart. */
      bool shared = (k > g && strcmp(order[k - 1]->name, s->name) == 0) ||
                    (k + 1 < end && strcmp(order[k + 1]->name, s->name) == 0);
      if (shared) {
        ml_buf b = ML_BUF_INIT;
        ml_buf_printf(&b, "%s.%s", s->ns ? s->ns : "", s->name);
        if (!(keys[k] = ml_buf_steal(&b))) {
          st = ml_err_nomem(err);
          goto done;
        }
        items[k - g].hkey = keys[k];
        items[k - g].hkey_len = strlen(keys[k]);
      } else {
        items[k - g].hkey = s->name;
        items[k - g].hkey_len = items[k - g].name_len;
      }
    }
    st = names_assign_items(items, end - g, NULL, 0, tables, err);
    if (st != ML_OK) {
      ml_err_prefix(err, "table names in schema \"%s\"", order[g]->schema);
      goto done;
    }
    for (size_t k = g; k < end; k++) order[k]->table = tables[k - g];
    g = end;
  }

done:
  if (keys)
    for (size_t i = 0; i < n; i++) free(keys[i]);
  free(keys);
  free(order);
  free(items);
  free(tables);
  return st;
}

static char *normalized_dup(const char *s) {
  ml_buf b = ML_BUF_INIT;
  if (!ml_name_normalize(s, strlen(s), &b)) ml_buf_puts(&b, "main");
  return ml_buf_steal(&b);
}

ml_status ml_catalog_parse(const char *text, size_t len, const char *default_schema, ml_catalog *out, ml_err *err) {
  memset(out, 0, sizeof *out);
  ml_json_doc *doc = ml_json_doc_new();
  if (!doc) return ml_err_nomem(err);
  const ml_json_val *root = NULL;
  ml_status st = ml_json_parse(doc, text, len, &root, err);
  char *schema = NULL;
  if (st != ML_OK) {
    if (st != ML_ERR_NOMEM) {
      ml_err_prefix(err, "configured catalog is not valid JSON (line %zu, column %zu)", err ? err->line : 0,
                    err ? err->column : 0);
      if (err) err->code = ML_ERR_CONFIG;
      st = ML_ERR_CONFIG;
    }
    goto done;
  }
  if (root->type != ML_JSON_OBJECT) {
    st = ml_err_set(err, ML_ERR_CONFIG, "configured catalog must be a JSON object");
    goto done;
  }
  const ml_json_val *streams = ml_json_get(root, "streams");
  if (!streams || streams->type != ML_JSON_ARRAY) {
    st = ml_err_set(err, ML_ERR_CONFIG, "configured catalog has no \"streams\" list");
    goto done;
  }
  /* The config's schema follows the same rule as namespaces: DuckDB matches
   * identifiers case-insensitively, so "Main" and a namespace "main" must be
   * seen as one schema when tables are made distinct. */
  if (!(schema = normalized_dup(default_schema && *default_schema ? default_schema : "main"))) goto nomem;
  if (streams->len) {
    out->streams = calloc(streams->len, sizeof *out->streams);
    if (!out->streams) goto nomem;
  }
  for (size_t i = 0; i < streams->len; i++) {
    ml_stream_def *sd = &out->streams[i];
    out->n_streams = i + 1;
    if ((st = parse_stream(&streams->u.items[i], i, sd, err)) != ML_OK) goto done;
    if (!(sd->schema = sd->ns ? normalized_dup(sd->ns) : strdup(schema))) goto nomem;
  }
  if (out->n_streams) st = assign_tables(out, err);
  goto done;

nomem:
  st = ml_err_nomem(err);
done:
  free(schema);
  ml_json_doc_free(doc);
  if (st != ML_OK) ml_catalog_free(out);
  return st;
}

ml_status ml_catalog_load(const char *path, const char *default_schema, ml_catalog *out, ml_err *err) {
  char *text = NULL;
  size_t len = 0;
  memset(out, 0, sizeof *out);
  ml_status st = ml_file_read(path, &text, &len, err);
  if (st != ML_OK) return st;
  st = ml_catalog_parse(text, len, default_schema, out, err);
  if (st != ML_OK) ml_err_prefix(err, "catalog %s", path);
  free(text);
  return st;
}

const ml_stream_def *ml_catalog_find(const ml_catalog *c, const char *ns, const char *name) {
  if (!c || !name) return NULL;
  if (ns && !*ns) ns = NULL;
  for (size_t i = 0; i < c->n_streams; i++) {
    const ml_stream_def *s = &c->streams[i];
    if (strcmp(s->name, name) != 0) continue;
    if (ns ? (s->ns && strcmp(s->ns, ns) == 0) : !s->ns) return s;
  }
  return NULL;
}
