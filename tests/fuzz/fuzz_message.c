/* fuzz_message: one Airbyte message line, as `mallard write` reads it, up to
 * where a database would be needed.
 *
 * The line is parsed with ml_json_parse and walked like src/airbyte/ml_dest.c
 * does (type, record.stream/namespace/data/emitted_at, state, trace).  Then
 * every object in the document, at any depth (no recursion), is treated as a
 * record's data: each key is normalised (ml_name_normalize) and the keys
 * together get distinct column names (ml_names_assign, with the metadata
 * columns reserved), and each value's type is inferred (ml_value_infer) and
 * folded with ml_type_widen.  Names with control characters, quotes, NUL
 * (from \u0000) and any UTF-8 go through this path.
 *
 * Checks: normalised names are [a-z0-9_]+ without a leading digit; assigned
 * names are distinct, avoid the reserved ones, and equal the plain
 * normalisation when nothing collides; ml_value_json_text of any value parses
 * back to an equal value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airbyte/ml_catalog.h"
#include "engine/ml_types.h"
#include "engine/ml_value.h"
#include "json/ml_json.h"

#include "fuzz_check.h"

#define MAX_OBJECTS 256 /* objects examined per input */
#define MAX_KEYS 512    /* keys per object given to ml_names_assign */

static const char *const reserved[] = {"_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta",
                                       "_airbyte_generation_id"};

static void check_normalised(const char *s, size_t n) {
  FUZZ_CHECK(n > 0);
  FUZZ_CHECK(!(s[0] >= '0' && s[0] <= '9'));
  for (size_t i = 0; i < n; i++)
    FUZZ_CHECK((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_');
}

static void check_json_text(ml_json_doc *doc, const ml_json_val *v, ml_buf *scratch) {
  ml_value_json_text(v, scratch);
  if (!ml_buf_ok(scratch)) return;
  const ml_json_val *again = NULL;
  FUZZ_CHECK(ml_json_parse(doc, scratch->data, scratch->len, &again, NULL) == ML_OK);
  FUZZ_CHECK(ml_json_equal(v, again));
}

/* One object as a record's data object. */
static void as_data(const ml_json_val *obj, ml_json_doc *scratch_doc, ml_buf *scratch) {
  size_t n = obj->len < MAX_KEYS ? obj->len : MAX_KEYS;
  const char **names = calloc(n ? n : 1, sizeof *names);
  char **out = calloc(n ? n : 1, sizeof *out);
  char **plain = calloc(n ? n : 1, sizeof *plain);
  if (!names || !out || !plain) goto done;
  ml_type seen = ml_type_of(ML_TYPE_NULL);
  bool any_empty = false;
  for (size_t i = 0; i < n; i++) {
    const ml_json_val *k = ml_json_key(obj, i), *v = ml_json_member(obj, i);
    names[i] = k->u.str; /* stops at an embedded NUL, as C-string users see it */
    ml_buf norm = ML_BUF_INIT;
    bool ok = ml_name_normalize(k->u.str, k->len, &norm);
    FUZZ_CHECK(ok == (k->len > 0));
    if (ok && ml_buf_ok(&norm)) check_normalised(norm.data, norm.len);
    ml_buf_free(&norm);
    ml_buf cnorm = ML_BUF_INIT;
    size_t clen = strlen(k->u.str);
    if (clen == 0) any_empty = true;
    if (clen > 0 && ml_name_normalize(k->u.str, clen, &cnorm) && ml_buf_ok(&cnorm)) plain[i] = ml_buf_steal(&cnorm);
    ml_buf_free(&cnorm);

    ml_type t = ml_value_infer(v);
    FUZZ_CHECK(t.id < ML_TYPE_COUNT_);
    if (v->type == ML_JSON_NULL) FUZZ_CHECK(t.id == ML_TYPE_NULL);
    seen = ml_type_widen(seen, t);
    FUZZ_CHECK(seen.id < ML_TYPE_COUNT_);
    if (i < 8 && v->src_len < 65536) check_json_text(scratch_doc, v, scratch);
  }
  ml_err err;
  ml_err_clear(&err);
  ml_status st = ml_names_assign(names, n, reserved, sizeof reserved / sizeof reserved[0], out, &err);
  if (st != ML_OK) {
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(out[i] == NULL);
    FUZZ_CHECK(err.msg[0] != '\0');
    goto done;
  }
  FUZZ_CHECK(!any_empty);
  for (size_t i = 0; i < n; i++) {
    FUZZ_CHECK(out[i] != NULL);
    check_normalised(out[i], strlen(out[i]));
    for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++) FUZZ_CHECK(strcmp(out[i], reserved[r]) != 0);
    /* names must be distinct (quadratic: bounded by MAX_KEYS) */
    for (size_t j = 0; j < i; j++) FUZZ_CHECK(strcmp(out[i], out[j]) != 0);
    /* no collision with anyone: the plain normalised form */
    if (plain[i]) {
      bool collides = false;
      for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++)
        if (!strcmp(plain[i], reserved[r])) collides = true;
      for (size_t j = 0; j < n && !collides; j++)
        if (j != i && plain[j] && !strcmp(plain[i], plain[j])) collides = true;
      if (!collides) FUZZ_CHECK(strcmp(out[i], plain[i]) == 0);
    }
  }
done:
  if (out)
    for (size_t i = 0; i < n; i++) free(out[i]);
  if (plain)
    for (size_t i = 0; i < n; i++) free(plain[i]);
  free(names);
  free(out);
  free(plain);
}

/* The message walk of ml_dest_line, without the database. */
static void walk_message(const ml_json_val *msg) {
  if (msg->type != ML_JSON_OBJECT) return;
  const char *type = ml_json_get_str(msg, "type");
  if (!type) return;
  if (!strcmp(type, "RECORD")) {
    const ml_json_val *rec = ml_json_get(msg, "record");
    if (!rec || rec->type != ML_JSON_OBJECT) return;
    const char *name = ml_json_get_str(rec, "stream");
    const ml_json_val *ns = ml_json_get(rec, "namespace");
    const ml_json_val *data = ml_json_get(rec, "data");
    const ml_json_val *at = ml_json_get(rec, "emitted_at");
    if (name) {
      char key[512]; /* as note_ignored builds its key */
      const char *nss = ns && ns->type == ML_JSON_STRING && ns->len ? ns->u.str : NULL;
      snprintf(key, sizeof key, "%s%s%s", nss ? nss : "", nss ? "." : "", name);
      ml_buf b = ML_BUF_INIT;
      if (*name) (void)ml_name_normalize(name, strlen(name), &b);
      ml_buf_free(&b);
    }
    if (at && at->type == ML_JSON_NUMBER) {
      volatile int64_t emitted = at->flags & ML_JSON_NUM_INT ? at->i : 0;
      (void)emitted;
    }
    (void)data;
  } else if (!strcmp(type, "STATE")) {
    const ml_json_val *state = ml_json_get(msg, "state");
    const char *stype = ml_json_get_str(state, "type");
    const ml_json_val *s = ml_json_get(state, "stream");
    const ml_json_val *desc = s ? ml_json_get(s, "stream_descriptor") : NULL;
    (void)stype;
    (void)ml_json_get_str(desc, "name");
    (void)ml_json_get_str(desc, "namespace");
  } else if (!strcmp(type, "TRACE")) {
    const ml_json_val *trace = ml_json_get(msg, "trace");
    const char *ttype = trace ? ml_json_get_str(trace, "type") : NULL;
    const ml_json_val *ss = ml_json_get(trace, "stream_status");
    const ml_json_val *desc = ss ? ml_json_get(ss, "stream_descriptor") : NULL;
    (void)ttype;
    (void)ml_json_get_str(desc, "name");
    (void)ml_json_get_str(ss, "status");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ml_json_doc *doc = ml_json_doc_new();
  ml_json_doc *scratch_doc = ml_json_doc_new();
  ml_buf scratch = ML_BUF_INIT;
  const ml_json_val **stack = NULL;
  if (!doc || !scratch_doc) goto done;
  const ml_json_val *root = NULL;
  if (ml_json_parse(doc, (const char *)data, size, &root, NULL) != ML_OK) goto done;
  walk_message(root);
  FUZZ_CHECK(ml_value_infer(root).id < ML_TYPE_COUNT_);

  /* every object, depth first, without recursion */
  size_t cap = 64, top = 0, objects = 0;
  stack = malloc(cap * sizeof *stack);
  if (!stack) goto done;
  stack[top++] = root;
  while (top && objects < MAX_OBJECTS) {
    const ml_json_val *v = stack[--top];
    if (v->type == ML_JSON_OBJECT) {
      as_data(v, scratch_doc, &scratch);
      objects++;
    }
    if (v->type != ML_JSON_OBJECT && v->type != ML_JSON_ARRAY) continue;
    for (size_t i = 0; i < v->len; i++) {
      const ml_json_val *child = v->type == ML_JSON_OBJECT ? ml_json_member(v, i) : &v->u.items[i];
      if (child->type != ML_JSON_OBJECT && child->type != ML_JSON_ARRAY) continue;
      if (top == cap) {
        const ml_json_val **grown = realloc(stack, cap * 2 * sizeof *stack);
        if (!grown) goto done;
        stack = grown;
        cap *= 2;
      }
      stack[top++] = child;
    }
  }
done:
  free(stack);
  ml_buf_free(&scratch);
  ml_json_doc_free(doc);
  ml_json_doc_free(scratch_doc);
  return 0;
}
