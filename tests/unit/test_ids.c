/* Unit tests for engine/ml_ids: UUIDv7-style _airbyte_raw_id values.
 *
 * Order is checked the way DuckDB compares UUIDs (its hugeint: signed upper,
 * then unsigned lower), and the text form against what DuckDB itself prints
 * for the same hugeint after a round trip through a UUID column. */
#include "test_helpers.h"

#include <time.h>

#include "warehouse/ml_batch.h"
#include "engine/ml_ids.h"

/* <0, 0, >0 as DuckDB orders two UUID hugeints. */
static int duck_cmp(uint64_t alo, int64_t ahi, uint64_t blo, int64_t bhi) {
  if (ahi != bhi) return ahi < bhi ? -1 : 1;
  if (alo != blo) return alo < blo ? -1 : 1;
  return 0;
}

static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

/* 8-4-4-4-12 lowercase hex. */
static void check_shape(const char *s) {
  assert_int_equal(strlen(s), 36);
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') fail_msg("'%s': expected '-' at %d", s, i);
    } else if (!is_hex(s[i])) {
      fail_msg("'%s': not lowercase hex at %d", s, i);
    }
  }
}

/* Version 7 and the RFC 4122/9562 variant (binary 10xx). */
static void check_v7(const char *s) {
  check_shape(s);
  if (s[14] != '7') fail_msg("'%s': version nibble is '%c'", s, s[14]);
  if (!strchr("89ab", s[19])) fail_msg("'%s': variant nibble is '%c'", s, s[19]);
}

static void check_increasing(ml_ids *ids, int n) {
  uint64_t plo;
  int64_t phi;
  ml_ids_next(ids, &plo, &phi);
  char text[37];
  ml_ids_format(plo, phi, text);
  check_v7(text);
  for (int i = 1; i < n; i++) {
    uint64_t lo;
    int64_t hi;
    ml_ids_next(ids, &lo, &hi);
    if (duck_cmp(plo, phi, lo, hi) >= 0)
      fail_msg("id %d not greater than the previous one: %016llx%016llx after %016llx%016llx", i,
               (unsigned long long)hi, (unsigned long long)lo, (unsigned long long)phi, (unsigned long long)plo);
    if ((i & 1023) == 0) {
      ml_ids_format(lo, hi, text);
      check_v7(text);
    }
    plo = lo;
    phi = hi;
  }
}

static void test_increasing_random_seed(void **state) {
  (void)state;
  ml_ids ids;
  ml_ids_init(&ids);
  check_increasing(&ids, 100000);
}

/* Seeds with all random bits set and all clear: the counter never carries
 * into (or is confused with) the random part. */
static void test_increasing_fixed_seeds(void **state) {
  (void)state;
  static const uint64_t seeds[] = {0, ~(uint64_t)0, 0x123456789ULL, 0x8000000000000000ULL};
  static const uint64_t times[] = {0, 1, 0x0123456789ABULL, 0xFFFFFFFFFFFFULL, 1700000000000ULL};
  for (size_t s = 0; s < TH_LEN(seeds); s++)
    for (size_t t = 0; t < TH_LEN(times); t++) {
      ml_ids ids;
      ml_ids_init_fixed(&ids, times[t], seeds[s]);
      check_increasing(&ids, 20000);
    }
}

/* The text layout: 48 bits of milliseconds, '7', 12 random bits, variant,
 * 22 random bits, 40-bit counter.  With all random bits clear or set the
 * expected text does not depend on which seed bits go where. */
static void test_fixed_layout(void **state) {
  (void)state;
  ml_ids ids;
  uint64_t lo;
  int64_t hi;
  char text[37];

  ml_ids_init_fixed(&ids, 0x0123456789ABULL, 0);
  ml_ids_next(&ids, &lo, &hi);
  ml_ids_format(lo, hi, text);
  assert_string_equal(text, "01234567-89ab-7000-8000-000000000000");
  ml_ids_next(&ids, &lo, &hi);
  ml_ids_format(lo, hi, text);
  assert_string_equal(text, "01234567-89ab-7000-8000-000000000001");
  for (int i = 0; i < 300; i++) ml_ids_next(&ids, &lo, &hi);
  ml_ids_format(lo, hi, text);
  assert_string_equal(text, "01234567-89ab-7000-8000-00000000012d"); /* counter 301 = 0x12d */

  ml_ids_init_fixed(&ids, 0x0123456789ABULL, ~(uint64_t)0);
  ml_ids_next(&ids, &lo, &hi);
  ml_ids_format(lo, hi, text);
  assert_string_equal(text, "01234567-89ab-7fff-bfff-ff0000000000");

  /* time 1700000000000 ms = 0x018bcfe56800 */
  ml_ids_init_fixed(&ids, 1700000000000ULL, 0);
  ml_ids_next(&ids, &lo, &hi);
  ml_ids_format(lo, hi, text);
  assert_string_equal(text, "018bcfe5-6800-7000-8000-000000000000");
}

static void test_fixed_deterministic(void **state) {
  (void)state;
  ml_ids a, b, c;
  ml_ids_init_fixed(&a, 1700000000123ULL, 0xDEADBEEFCAFEULL);
  ml_ids_init_fixed(&b, 1700000000123ULL, 0xDEADBEEFCAFEULL);
  ml_ids_init_fixed(&c, 1700000000123ULL, 0);
  for (int i = 0; i < 1000; i++) {
    uint64_t alo, blo, clo;
    int64_t ahi, bhi, chi;
    ml_ids_next(&a, &alo, &ahi);
    ml_ids_next(&b, &blo, &bhi);
    ml_ids_next(&c, &clo, &chi);
    assert_int_equal(alo, blo);
    assert_int_equal(ahi, bhi);
    /* other random bits: another id (same time, same counter) */
    assert_true(alo != clo || ahi != chi);
    char ta[37], tc[37];
    ml_ids_format(alo, ahi, ta);
    ml_ids_format(clo, chi, tc);
    check_v7(ta);
    /* the millisecond prefix is the same */
    assert_memory_equal(ta, tc, 13);
  }
}

/* ml_ids_init: the time prefix is now, and two generators differ. */
static void test_init_clock_and_prefix(void **state) {
  (void)state;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t before = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
  ml_ids a, b;
  ml_ids_init(&a);
  ml_ids_init(&b);
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t after = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;

  uint64_t alo, blo;
  int64_t ahi, bhi;
  ml_ids_next(&a, &alo, &ahi);
  ml_ids_next(&b, &blo, &bhi);
  char ta[37], tb[37];
  ml_ids_format(alo, ahi, ta);
  ml_ids_format(blo, bhi, tb);
  check_v7(ta);
  check_v7(tb);
  /* first 48 bits of the text are the milliseconds */
  char hex[13];
  memcpy(hex, ta, 8);
  memcpy(hex + 8, ta + 9, 4);
  hex[12] = '\0';
  uint64_t ms = strtoull(hex, NULL, 16);
  assert_true(ms >= before);
  assert_true(ms <= after);
  /* same counter position, different runs: the prefixes (everything but the
   * counter) differ */
  assert_true(ahi != bhi || (alo >> 40) != (blo >> 40));
  assert_string_not_equal(ta, tb);
}

/* The counter occupies the low 40 bits: ids of one run differ only there. */
static void test_counter_bits(void **state) {
  (void)state;
  ml_ids ids;
  ml_ids_init(&ids);
  uint64_t lo0, lo;
  int64_t hi0, hi;
  ml_ids_next(&ids, &lo0, &hi0);
  for (uint64_t i = 1; i < 5000; i++) {
    ml_ids_next(&ids, &lo, &hi);
    assert_int_equal(hi, hi0);
    assert_int_equal(lo >> 40, lo0 >> 40);
    assert_int_equal((lo & 0xFFFFFFFFFFULL) - (lo0 & 0xFFFFFFFFFFULL), i);
  }
}

/* ---- against DuckDB ------------------------------------------------------------ */

/* Appends (id, n) rows through ml_batch and checks that DuckDB prints each id
 * exactly as ml_ids_format does, parses the text back to the same value, and
 * sorts the ids in generation order. */
static void test_format_matches_duckdb(void **state) {
  (void)state;
  ml_wh *wh = th_open_mem();
  th_exec(wh, "CREATE TABLE ids (id UUID, n BIGINT)");
  ml_batch *b = NULL;
  ml_err err;
  assert_int_equal(ml_batch_open(wh, NULL, "main", "ids", 2, &b, &err), ML_OK);

  /* Hand-made hugeints over the whole range (sign of upper and top bit of
   * lower both ways), then 3000 generated ids (more than one chunk). */
  static const struct {
    uint64_t lo;
    int64_t hi;
    const char *text;
  } fixed[] = {
      {0, INT64_MIN, "00000000-0000-0000-0000-000000000000"},
      {~(uint64_t)0, INT64_MAX, "ffffffff-ffff-ffff-ffff-ffffffffffff"},
      {0, 0, "80000000-0000-0000-0000-000000000000"},
      {~(uint64_t)0, -1, "7fffffff-ffff-ffff-ffff-ffffffffffff"},
      {0x8899aabbccddeeffULL, (int64_t)(0x0011223344556677ULL ^ 0x8000000000000000ULL),
       "00112233-4455-6677-8899-aabbccddeeff"},
      {0x0123456789abcdefULL, (int64_t)(0xfedcba9876543210ULL ^ 0x8000000000000000ULL),
       "fedcba98-7654-3210-0123-456789abcdef"},
  };
  enum { N_GEN = 3000 };
  size_t n_fixed = TH_LEN(fixed);
  size_t total = n_fixed + N_GEN;
  uint64_t *los = calloc(total, sizeof *los);
  int64_t *his = calloc(total, sizeof *his);
  assert_non_null(los);
  assert_non_null(his);
  ml_ids ids;
  ml_ids_init(&ids);
  for (size_t i = 0; i < total; i++) {
    if (i < n_fixed) {
      los[i] = fixed[i].lo;
      his[i] = fixed[i].hi;
      char text[37];
      ml_ids_format(los[i], his[i], text);
      assert_string_equal(text, fixed[i].text);
    } else {
      ml_ids_next(&ids, &los[i], &his[i]);
    }
    ml_batch_put_i128(b, 0, los[i], his[i]);
    ml_batch_put_i64(b, 1, (int64_t)i);
    assert_int_equal(ml_batch_end_row(b, &err), ML_OK);
  }
  assert_int_equal(ml_batch_flush(b, &err), ML_OK);
  ml_batch_close(b);

  assert_int_equal(th_query_i64(wh, "SELECT count(*) FROM ids"), (int64_t)total);
  /* every id's text, in one string, compared with ours */
  ml_buf want = ML_BUF_INIT;
  for (size_t i = 0; i < total; i++) {
    char text[37];
    ml_ids_format(los[i], his[i], text);
    ml_buf_printf(&want, "%s%s", i ? "," : "", text);
  }
  th_expect(wh, "SELECT string_agg(CAST(id AS VARCHAR), ',' ORDER BY n) FROM ids", want.data);
  ml_buf_free(&want);
  /* DuckDB reads our text back as the same UUID */
  for (size_t i = 0; i < total; i += 97) {
    char text[37];
    ml_ids_format(los[i], his[i], text);
    th_expectf(wh, "1", "SELECT count(*) FROM ids WHERE id = CAST('%s' AS UUID) AND n = %zu", text, i);
  }
  /* generated ids sort in generation order in DuckDB */
  th_expectf(wh, "0",
             "SELECT count(*) FROM (SELECT n, row_number() OVER (ORDER BY id) AS r FROM ids WHERE n >= %zu) "
             "WHERE r <> n - %zu + 1",
             n_fixed, n_fixed);
  /* and the hand-made ones in the order of their text */
  th_expect(wh, "SELECT string_agg(CAST(n AS VARCHAR), ',' ORDER BY id) FROM ids WHERE n < 6", "0,4,3,2,5,1");
  free(los);
  free(his);
  ml_wh_close(wh);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_increasing_random_seed), cmocka_unit_test(test_increasing_fixed_seeds),
      cmocka_unit_test(test_fixed_layout),           cmocka_unit_test(test_fixed_deterministic),
      cmocka_unit_test(test_init_clock_and_prefix),  cmocka_unit_test(test_counter_bits),
      cmocka_unit_test(test_format_matches_duckdb),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
