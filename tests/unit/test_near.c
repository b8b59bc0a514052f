/* Unit tests for util/ml_near: "did you mean" hints find the misspelling a
 * user makes (a letter missing, doubled, swapped or replaced, another case)
 * and stay silent when nothing is close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/ml_near.h"

static const char *const KEYS[] = {"destination_path", "schema", "local_root", "raw_tables", "commit_interval_ms",
                                   "memory_limit"};
#define N (sizeof KEYS / sizeof KEYS[0])

static void test_finds_the_misspelt_word(void **state) {
  (void)state;
  assert_string_equal(ml_near_match("destinaton_path", KEYS, N), "destination_path"); /* a letter missing */
  assert_string_equal(ml_near_match("schmea", KEYS, N), "schema");                    /* two swapped */
  assert_string_equal(ml_near_match("SCHEMA", KEYS, N), "schema");                    /* case */
  assert_string_equal(ml_near_match("memory_limits", KEYS, N), "memory_limit");       /* one added */
  assert_string_equal(ml_near_match("locl_rot", KEYS, N), "local_root");              /* two missing */
}

static void test_silent_when_nothing_is_close(void **state) {
  (void)state;
  assert_null(ml_near_match("password", KEYS, N));
  assert_null(ml_near_match("", KEYS, N));
  assert_null(ml_near_match("x", KEYS, N));
  static const char *const one[] = {"id"};
  assert_null(ml_near_match("name", one, 1));
  assert_string_equal(ml_near_match("Id", one, 1), "id");
  char longer[100];
  memset(longer, 'a', sizeof longer - 1);
  longer[sizeof longer - 1] = 0;
  assert_null(ml_near_match(longer, KEYS, N));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_finds_the_misspelt_word),
                                     cmocka_unit_test(test_silent_when_nothing_is_close)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
