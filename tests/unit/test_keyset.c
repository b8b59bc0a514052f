/* Unit tests for util/ml_keyset: the set of key hashes ml_apply uses to tell
 * whether staged operations repeat a key. */
#include "test_helpers.h"

#include "util/ml_keyset.h"

/* Every hash is new once and seen after, across many growths; clear forgets
 * them all and the set works again after it. */
static void test_add_and_clear(void **state) {
  (void)state;
  ml_keyset s = ML_KEYSET_INIT;
  for (int round = 0; round < 2; round++) {
    /* sequential values: what FNV of nearby integer keys looks like to the table */
    for (uint64_t k = 0; k < 100000; k++) assert_int_equal(ml_keyset_add(&s, k * 1099511628211ULL), 1);
    assert_int_equal(s.n, 100000);
    for (uint64_t k = 0; k < 100000; k += 7) assert_int_equal(ml_keyset_add(&s, k * 1099511628211ULL), 0);
    assert_int_equal(s.n, 100000);
    assert_true(s.cap >= 2 * s.n);
    ml_keyset_clear(&s);
    assert_int_equal(s.n, 0);
    assert_int_equal(ml_keyset_add(&s, 5 * 1099511628211ULL), 1);
    ml_keyset_clear(&s);
  }
  ml_keyset_free(&s);
  assert_null(s.slots);
}

/* 0 is a hash like any other (stored as 1, so 0 and 1 are one key: a false
 * "seen", which callers accept). */
static void test_zero_hash(void **state) {
  (void)state;
  ml_keyset s = ML_KEYSET_INIT;
  assert_int_equal(ml_keyset_add(&s, 0), 1);
  assert_int_equal(ml_keyset_add(&s, 0), 0);
  assert_int_equal(ml_keyset_add(&s, 1), 0);
  assert_int_equal(ml_keyset_add(&s, UINT64_MAX), 1);
  assert_int_equal(ml_keyset_add(&s, UINT64_MAX), 0);
  ml_keyset_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_and_clear),
      cmocka_unit_test(test_zero_hash),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
