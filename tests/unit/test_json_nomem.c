/* The JSON reader and writer when allocations fail (ml_failalloc.h): each
 * allocation a parse or a write makes is failed in turn, and every such run
 * must end in an error (ML_ERR_NOMEM or another status, with a message),
 * leak nothing (ASan, valgrind) and leave the doc reusable; the run where no
 * allocation fails must produce the same value as without the hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/ml_json.h"
#include "ml_failalloc.h"

/* Writes root compactly into *out; ML_ERR_NOMEM with a message when the
 * writer could not finish. */
static ml_status write_compact(const ml_json_val *root, ml_buf *out, ml_err *err) {
  ml_jw w;
  ml_jw_init(&w, out);
  ml_jw_val(&w, root);
  if (!ml_jw_done(&w)) return ml_err_set(err, ML_ERR_NOMEM, "out of memory writing JSON");
  return ML_OK;
}

typedef struct parse_case {
  const char *text;
  const char *compact; /* what ml_jw_val writes back */
} parse_case;

/* A new doc parses text and writes it back; anything else is an error. */
static ml_status op_parse(void *ud, ml_err *err) {
  const parse_case *c = ud;
  ml_json_doc *doc = ml_json_doc_new();
  if (!doc) return ml_err_set(err, ML_ERR_NOMEM, "out of memory creating a JSON doc");
  ml_buf out = ML_BUF_INIT;
  const ml_json_val *root = NULL;
  ml_status st = ml_json_parse(doc, c->text, strlen(c->text), &root, err);
  if (st == ML_OK) st = write_compact(root, &out, err);
  if (st == ML_OK && strcmp(out.data, c->compact) != 0)
    st = ml_err_set(err, ML_ERR_STATE, "wrote %s, expected %s", out.data, c->compact);
  ml_buf_free(&out);
  ml_json_doc_free(doc);
  return st;
}

/* Text of a document with n nested arrays around a string: deeper than the
 * parser's and writer's built-in stacks, so both have to grow them. */
static char *nested(size_t n) {
  char *s = malloc(2 * n + 4);
  assert_non_null(s);
  memset(s, '[', n);
  memcpy(s + n, "\"x\"", 3);
  memset(s + n + 3, ']', n);
  s[2 * n + 3] = '\0';
  return s;
}

/* Text of an object with n members "k<i>": i (sorted in the arena, more
 * values than one arena block holds). */
static char *wide(size_t n, bool compact) {
  ml_buf b = ML_BUF_INIT;
  ml_buf_putc(&b, '{');
  for (size_t i = 0; i < n; i++) ml_buf_printf(&b, "%s\"k%zu\":%s%zu", i ? (compact ? "," : ", ") : "", i, compact ? "" : " ", i);
  ml_buf_putc(&b, '}');
  char *s = ml_buf_steal(&b);
  assert_non_null(s);
  return s;
}

static void test_parse(void **state) {
  (void)state;
  parse_case cases[] = {
      {"null", "null"},
      {"  \"plain\"  ", "\"plain\""},
      {"{\"a\": [1, -2.5e3, true, false, null], \"b\": {\"c\": \"d\"}, \"e\": []}",
       "{\"a\":[1,-2.5e3,true,false,null],\"b\":{\"c\":\"d\"},\"e\":[]}"},
      /* escapes make the reader build strings in scratch space */
      {"[\"tab\\there\", \"\\u00e9\\ud83d\\ude00\", \"q\\\"b\\\\s\\/\", \"nul\\u0000in\"]",
       "[\"tab\\there\",\"\xc3\xa9\xf0\x9f\x98\x80\",\"q\\\"b\\\\s/\",\"nul\\u0000in\"]"},
      {"{\"dup\": 1, \"dup\": 2}", "{\"dup\":1,\"dup\":2}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "parse case %zu", i);
    ml_fa_check(what, op_parse, &cases[i]);
  }
  char *deep = nested(300);
  parse_case d = {deep, deep};
  ml_fa_check("parse 300 nested arrays", op_parse, &d);
  free(deep);
  char *w = wide(2000, false), *wc = wide(2000, true);
  parse_case wd = {w, wc};
  ml_fa_check("parse an object of 2000 members", op_parse, &wd);
  free(w);
  free(wc);
}

/* One doc parses several documents in turn: a failure in one parse leaves
 * the doc usable for the next, which then succeeds or fails on its own. */
static ml_status op_reuse(void *ud, ml_err *err) {
  (void)ud;
  static const char *const texts[] = {"[1, 2, 3]", "{\"long string to copy\\n\": \"\\u0041bc\"}", "[[[[[[[[[[[]]]]]]]]]]]",
                                      "[1, 2, 3]"};
  static const char *const want[] = {"[1,2,3]", "{\"long string to copy\\n\":\"Abc\"}", "[[[[[[[[[[[]]]]]]]]]]]",
                                     "[1,2,3]"};
  ml_json_doc *doc = ml_json_doc_new();
  if (!doc) return ml_err_set(err, ML_ERR_NOMEM, "out of memory creating a JSON doc");
  ml_status first = ML_OK;
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    const ml_json_val *root = NULL;
    ml_err e;
    ml_err_clear(&e);
    ml_buf out = ML_BUF_INIT;
    ml_status st = ml_json_parse(doc, texts[i], strlen(texts[i]), &root, &e);
    if (st == ML_OK) st = write_compact(root, &out, &e);
    if (st == ML_OK && strcmp(out.data, want[i]) != 0)
      st = ml_err_set(&e, ML_ERR_STATE, "document %zu: wrote %s, expected %s", i, out.data, want[i]);
    ml_buf_free(&out);
    if (st != ML_OK && first == ML_OK) {
      first = st;
      *err = e;
    }
  }
  ml_json_doc_free(doc);
  return first;
}

/* A document that is not JSON is ML_ERR_INPUT with its position whether or
 * not an allocation failed on the way to the bad byte (then: an error too). */
static ml_status op_syntax_error(void *ud, ml_err *err) {
  (void)ud;
  const char *text = "{\"a\": [\"s\\n\", 1, 2], \"b\": x}";
  ml_json_doc *doc = ml_json_doc_new();
  if (!doc) return ml_err_set(err, ML_ERR_NOMEM, "out of memory creating a JSON doc");
  const ml_json_val *root = NULL;
  ml_status st = ml_json_parse(doc, text, strlen(text), &root, err);
  ml_json_doc_free(doc);
  if (st == ML_ERR_INPUT && err->line == 1 && err->column == 27) {
    ml_err_clear(err);
    return ML_OK; /* the expected outcome */
  }
  return st == ML_OK ? ml_err_set(err, ML_ERR_STATE, "invalid JSON parsed") : st;
}

/* The writer: every value kind, escaped and invalid-UTF-8 strings, a copied
 * parsed value; an allocation failure anywhere is reported by ml_jw_done. */
static ml_status op_writer(void *ud, ml_err *err) {
  (void)ud;
  ml_buf out = ML_BUF_INIT;
  ml_jw w;
  ml_jw_init(&w, &out);
  ml_jw_arr_begin(&w);
  for (int i = 0; i < 200; i++) ml_jw_int(&w, (int64_t)i * 1000003);
  ml_jw_uint(&w, UINT64_MAX);
  ml_jw_obj_begin(&w);
  ml_jw_key(&w, "d");
  ml_jw_double(&w, 0.1);
  ml_jw_keyn(&w, "s\"k", 3);
  ml_jw_strn(&w, "bad \xff utf8\n", 11);
  ml_jw_key(&w, "b");
  ml_jw_bool(&w, true);
  ml_jw_key(&w, "n");
  ml_jw_null(&w);
  ml_jw_key(&w, "raw");
  ml_jw_raw(&w, "{\"r\":1}", 7);
  ml_jw_obj_end(&w);
  ml_jw_arr_end(&w);
  ml_status st = ml_jw_done(&w) ? ML_OK : ml_err_set(err, ML_ERR_NOMEM, "out of memory writing JSON");
  if (st == ML_OK && (strncmp(out.data, "[0,1000003,", 11) != 0 ||
                      !strstr(out.data, ",{\"d\":0.1,\"s\\\"k\":\"bad \xef\xbf\xbd utf8\\n\",\"b\":true,\"n\":null,"
                                        "\"raw\":{\"r\":1}}]")))
    st = ml_err_set(err, ML_ERR_STATE, "unexpected output %s", out.data);
  ml_buf_free(&out);
  return st;
}

/* The hook reaches the library's allocations and only the armed one fails. */
static void test_hook(void **state) {
  (void)state;
  ml_fa_arm(1, false);
  ml_json_doc *doc = ml_json_doc_new();
  ml_fa_disarm();
  assert_null(doc);
  assert_int_equal(ml_fa_failed(), 1);
  ml_fa_arm(2, false);
  /* volatile: the compiler may not drop allocations it sees unused */
  void *volatile a = malloc(8), *volatile b = malloc(8), *volatile c = malloc(8);
  ml_fa_disarm();
  assert_non_null(a);
  assert_null(b);
  assert_non_null(c);
  assert_int_equal(ml_fa_count(), 3);
  free(a);
  free(c);
  ml_fa_arm(2, true);
  a = malloc(8), b = malloc(8), c = malloc(8);
  ml_fa_disarm();
  assert_non_null(a);
  assert_null(b);
  assert_null(c);
  assert_int_equal(ml_fa_failed(), 2);
  free(a);
}

int main(void) {
  ml_fa_case reuse = {"one doc, several parses", op_reuse, NULL};
  ml_fa_case syntax = {"a syntax error", op_syntax_error, NULL};
  ml_fa_case writer = {"the writer", op_writer, NULL};
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hook), cmocka_unit_test(test_parse), ML_FA_TEST(reuse), ML_FA_TEST(syntax),
      ML_FA_TEST(writer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
