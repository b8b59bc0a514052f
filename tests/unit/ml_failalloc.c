#include "ml_failalloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <execinfo.h>
#include <unistd.h>

/* The real allocators, provided by the linker for --wrap=SYMBOL. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static atomic_size_t fa_count;  /* allocations since arm */
static atomic_size_t fa_failed; /* failed since arm */
static atomic_size_t fa_target; /* 0: disarmed */
static atomic_bool fa_persistent;
static atomic_size_t fa_trace; /* ML_FAILALLOC_TRACE=n: print where allocation n is, when armed with n */

void ml_fa_arm(size_t n, bool persistent) {
  atomic_store(&fa_target, 0);
  atomic_store(&fa_count, 0);
  atomic_store(&fa_failed, 0);
  atomic_store(&fa_persistent, persistent);
  atomic_store(&fa_target, n);
}

void ml_fa_disarm(void) { atomic_store(&fa_target, 0); }
size_t ml_fa_count(void) { return atomic_load(&fa_count); }
size_t ml_fa_failed(void) { return atomic_load(&fa_failed); }

/* true when this allocation is to fail */
static bool fa_fail_now(void) {
  size_t i = atomic_fetch_add(&fa_count, 1) + 1;
  size_t target = atomic_load(&fa_target);
  if (target == 0) return false;
  if (i == target || (i > target && atomic_load(&fa_persistent))) {
    atomic_fetch_add(&fa_failed, 1);
    if (i == target && i == atomic_load(&fa_trace)) { /* where the failure starts: for finding a bug the loop reported */
      void *frames[32];
      int n = backtrace(frames, 32);
      backtrace_symbols_fd(frames, n, STDERR_FILENO);
    }
    return true;
  }
  return false;
}

void *__wrap_malloc(size_t n) { return fa_fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return fa_fail_now() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return fa_fail_now() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fa_fail_now() ? NULL : __real_strdup(s); }

/* ml_fa_each; with nomem_only, a failed allocation must give ML_ERR_NOMEM. */
static size_t fa_loop(const char *what, ml_fa_op op, void *ud, bool persistent, bool nomem_only) {
  const char *trace = getenv("ML_FAILALLOC_TRACE");
  atomic_store(&fa_trace, trace ? (size_t)strtoull(trace, NULL, 10) : 0);
  /* ML_FAILALLOC_EVERY=k fails allocation 1, 1+k, 1+2k, ... only: a sample
   * for runs too slow to fail every one (valgrind) */
  const char *every = getenv("ML_FAILALLOC_EVERY");
  size_t step = every && strtoull(every, NULL, 10) > 0 ? (size_t)strtoull(every, NULL, 10) : 1;
  /* The bound only stops a runaway loop: an operation making this many
   * allocations is not a unit test's. */
  for (size_t n = 1; n < 1000000; n += step) {
    ml_err err;
    ml_err_clear(&err);
    ml_fa_arm(n, persistent);
    ml_status st = op(ud, &err);
    size_t made = ml_fa_count(), failed = ml_fa_failed();
    ml_fa_disarm();
    if (failed == 0) {
      if (st != ML_OK) fail_msg("%s: fails with no allocation failed (n = %zu): %d %s", what, n, (int)st, err.msg);
      return made;
    }
    if (nomem_only && st != ML_ERR_NOMEM)
      fail_msg("%s: allocation %zu failed%s: status %d, not ML_ERR_NOMEM: %s", what, n,
               persistent ? " (and every later one)" : "", (int)st, st == ML_OK ? "(no error)" : err.msg);
    /* ML_OK although an allocation failed: the code fell back on a path
     * that needs no memory (a lookup hint, a set of seen keys), and the op
     * has checked that the result is still right. */
    if (st == ML_OK) continue;
    if (err.msg[0] == '\0')
      fail_msg("%s: allocation %zu failed%s: status %d without a message", what, n,
               persistent ? " (and every later one)" : "", (int)st);
  }
  fail_msg("%s: still failing after a million allocations", what);
  return 0;
}

size_t ml_fa_each(const char *what, ml_fa_op op, void *ud, bool persistent) {
  return fa_loop(what, op, ud, persistent, false);
}

void ml_fa_test(void **state) {
  const ml_fa_case *c = *state;
  ml_fa_check(c->what, c->op, c->ud);
}

void ml_fa_test_nomem(void **state) {
  const ml_fa_case *c = *state;
  ml_fa_check_nomem(c->what, c->op, c->ud);
}

static void fa_check(const char *what, ml_fa_op op, void *ud, bool nomem_only) {
  /* an operation that allocates nothing tests nothing here: say so */
  if (fa_loop(what, op, ud, false, nomem_only) == 0) fail_msg("%s: makes no allocation the hook sees", what);
  fa_loop(what, op, ud, true, nomem_only);
}

void ml_fa_check(const char *what, ml_fa_op op, void *ud) { fa_check(what, op, ud, false); }

void ml_fa_check_nomem(const char *what, ml_fa_op op, void *ud) { fa_check(what, op, ud, true); }
