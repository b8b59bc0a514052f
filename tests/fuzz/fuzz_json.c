/* fuzz_json: the JSON reader and writer.
 *
 * Whatever the input, ml_json_parse returns (no crash, no leak).  When it
 * parses: ml_jw_val's output is valid JSON that parses back to an equal value
 * (ml_json_equal), writing that again gives the same bytes, a value equals
 * itself, ml_json_getn on every key of the top-level object finds the last
 * member with that key, and every error carries a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/ml_json.h"

#include "fuzz_check.h"

static void check_last_key_wins(const ml_json_val *obj) {
  size_t n = obj->len < 64 ? obj->len : 64; /* quadratic: keep it bounded */
  for (size_t i = 0; i < n; i++) {
    const ml_json_val *k = ml_json_key(obj, i);
    FUZZ_CHECK(k->type == ML_JSON_STRING);
    size_t last = i;
    for (size_t j = i + 1; j < obj->len; j++) {
      const ml_json_val *kj = ml_json_key(obj, j);
      if (kj->len == k->len && memcmp(kj->u.str, k->u.str, k->len) == 0) last = j;
    }
    FUZZ_CHECK(ml_json_getn(obj, k->u.str, k->len) == ml_json_member(obj, last));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ml_json_doc *doc = ml_json_doc_new();
  ml_json_doc *doc2 = ml_json_doc_new();
  if (!doc || !doc2) {
    ml_json_doc_free(doc);
    ml_json_doc_free(doc2);
    return 0;
  }
  const char *text = (const char *)data;
  const ml_json_val *root = NULL;
  ml_err err;
  ml_err_clear(&err);
  ml_status st = ml_json_parse(doc, text, size, &root, &err);
  if (st != ML_OK) {
    FUZZ_CHECK(st == ML_ERR_INPUT || st == ML_ERR_LIMIT || st == ML_ERR_NOMEM);
    FUZZ_CHECK(err.msg[0] != '\0');
    FUZZ_CHECK(err.offset <= size);
  } else {
    FUZZ_CHECK(root != NULL);
    FUZZ_CHECK(root->src >= text && root->src + root->src_len <= text + size);
    FUZZ_CHECK(ml_utf8_valid(text, size, NULL));
    FUZZ_CHECK(ml_json_equal(root, root));
    if (root->type == ML_JSON_OBJECT) check_last_key_wins(root);

    ml_buf out = ML_BUF_INIT;
    ml_jw w;
    ml_jw_init(&w, &out);
    ml_jw_val(&w, root);
    if (ml_buf_ok(&out)) {
      FUZZ_CHECK(ml_jw_done(&w));
      FUZZ_CHECK(ml_utf8_valid(out.data, out.len, NULL));
      const ml_json_val *again = NULL;
      ml_err err2;
      ml_err_clear(&err2);
      ml_status st2 = ml_json_parse(doc2, out.data, out.len, &again, &err2);
      if (st2 != ML_OK) fprintf(stderr, "writer output does not parse: %s\n", err2.msg);
      FUZZ_CHECK(st2 == ML_OK);
      FUZZ_CHECK(ml_json_equal(root, again));
      FUZZ_CHECK(ml_json_equal(again, root));
      /* compact output is a fixed point */
      ml_buf out2 = ML_BUF_INIT;
      ml_jw w2;
      ml_jw_init(&w2, &out2);
      ml_jw_val(&w2, again);
      if (ml_buf_ok(&out2)) FUZZ_CHECK(out2.len == out.len && memcmp(out2.data, out.data, out.len) == 0);
      ml_buf_free(&out2);
    }
    ml_buf_free(&out);
  }

  /* quoting arbitrary bytes always gives one valid JSON string */
  if (size <= 4096) {
    ml_buf q = ML_BUF_INIT;
    ml_json_quote(&q, text, size);
    if (ml_buf_ok(&q)) {
      const ml_json_val *s = NULL;
      FUZZ_CHECK(ml_json_parse(doc2, q.data, q.len, &s, NULL) == ML_OK);
      FUZZ_CHECK(s->type == ML_JSON_STRING);
      if (ml_utf8_valid(text, size, NULL)) FUZZ_CHECK(s->len == size && memcmp(s->u.str, text, size) == 0);
    }
    ml_buf_free(&q);
  }

  ml_json_doc_free(doc);
  ml_json_doc_free(doc2);
  return 0;
}
