/* Unit tests for util/ml_malloc: after ml_malloc_tune_process, memory a load
 * frees and allocates again stays in the heap (no fresh mapping, no trim
 * back to the kernel), which is what spares the load its page faults. */
#include "test_helpers.h"

#include <malloc.h>

#include "util/ml_malloc.h"

static size_t mapped_blocks(void) { return mallinfo2().hblks; }

static void test_freed_memory_stays_in_the_heap(void **state) {
  (void)state;
  /* glibc's defaults map a 4 MB block of its own; an allocator that does
   * not (a sanitizer's, valgrind's) has nothing for these settings to do */
  size_t before = mapped_blocks();
  void *probe = malloc(4u << 20);
  assert_non_null(probe);
  bool glibc_maps = mapped_blocks() == before + 1;
  free(probe);
  if (!glibc_maps) skip();

  ml_malloc_tune_process();
  /* 16 MB: above what glibc's adaptive threshold reached after the probe
   * (4 MB), below the fixed one */
  before = mapped_blocks();
  char *big = malloc(16u << 20);
  assert_non_null(big);
  memset(big, 1, 16u << 20);
  assert_int_equal(mapped_blocks(), before);
  size_t heap = mallinfo2().arena;
  free(big);
  /* freed at the top of the heap and kept there (adaptive trimming would
   * have given it back: its threshold was 8 MB) */
  assert_true(mallinfo2().arena >= heap);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_freed_memory_stays_in_the_heap)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
