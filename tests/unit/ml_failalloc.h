/* ml_failalloc: allocation-failure testing, as SQLite does it.
 *
 * A test binary linked with ML_FAILALLOC_WRAP (tests/CMakeLists.txt) has
 * every malloc, calloc, realloc and strdup of mallard's own objects and of
 * the test's objects routed through this file; libc's and libduckdb.so's
 * internal allocations are not (they are not linked with --wrap), which is
 * what we want: we test how mallard handles a NULL, not DuckDB.
 *
 * Disarmed (the start state), the hooks only count.  Armed with n, the n-th
 * allocation from then on returns NULL (and with `persistent`, every one
 * after it too, which also exercises the allocations that error paths make).
 *
 * ml_fa_each runs an operation with allocation 1, 2, 3, ... failing in turn
 * until a run completes without reaching the armed allocation.  A run where
 * an allocation failed must return an error with a message, or ML_OK when
 * the code fell back on a path that needs no memory (a lookup hint, a set of
 * seen keys: SQLite's "benign" failures); so every op checks its result
 * against what a run without the hook gives, and a failure swallowed into a
 * wrong result shows as the op's error.  Crashes and leaks of the error paths
 * are for ASan / valgrind to report: run the *_nomem tests in the ASan build
 * and under valgrind (docs/reliability.md).
 *
 * To see where a reported allocation n is: ML_FAILALLOC_TRACE=n in the
 * environment prints a backtrace when allocation n fails (addresses:
 * `addr2line -f -e <test binary> <addr>` names the functions).
 * ML_FAILALLOC_EVERY=k fails only allocations 1, 1+k, 1+2k, ...: a sample
 * for valgrind, where failing every allocation of the SDK test takes hours. 
 *
 * The state is global (test code only) and atomic: allocations on a
 * warehouse's loader thread count too. */
#ifndef ML_FAILALLOC_H
#define ML_FAILALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include "util/ml_err.h"

/* Fails the n-th allocation counted from now (n >= 1); with persistent, also
 * every later one.  Resets the counters. */
void ml_fa_arm(size_t n, bool persistent);
/* Lets every allocation through again. */
void ml_fa_disarm(void);
/* Allocations attempted since the last arm (or since start). */
size_t ml_fa_count(void);
/* Allocations failed since the last arm. */
size_t ml_fa_failed(void);

/* One operation under test: builds what it needs, runs the code under test,
 * frees everything whatever happened, and returns the first status that was
 * not ML_OK (a function that reports failure otherwise, e.g. an ml_buf's
 * oom flag, is turned into ML_ERR_NOMEM by the op). */
typedef ml_status (*ml_fa_op)(void *ud, ml_err *err);

/* Runs op with each allocation failing in turn (persistent or not, see
 * ml_fa_arm) until a run makes no allocation fail; that run must return
 * ML_OK, every earlier one ML_OK (a benign failure, see above) or an error
 * with a message.  Fails the cmocka test otherwise, naming `what` and n.
 * Returns how many allocations the complete run made. */
size_t ml_fa_each(const char *what, ml_fa_op op, void *ud, bool persistent);

/* Both modes: the one-shot failure of each allocation, then the persistent
 * one; fails the test too when op makes no allocation at all (it would test
 * nothing). */
void ml_fa_check(const char *what, ml_fa_op op, void *ud);

/* ml_fa_check, stricter: every run where an allocation failed must return
 * ML_ERR_NOMEM, for code with no benign failure whose callers tell "out of
 * memory" from a bad input by the status (a conversion must not blame the
 * value it could not convert for want of memory). */
void ml_fa_check_nomem(const char *what, ml_fa_op op, void *ud);

/* One ml_fa_check as a cmocka test: a case, and the test that runs the case
 * it is given as its state (ML_FA_TEST(c) in a CMUnitTest array, c an
 * ml_fa_case that outlives the run); ML_FA_TEST_NOMEM(c) runs
 * ml_fa_check_nomem. */
typedef struct ml_fa_case {
  const char *what;
  ml_fa_op op;
  void *ud;
} ml_fa_case;
void ml_fa_test(void **state);
void ml_fa_test_nomem(void **state);
#define ML_FA_TEST(c) {(c).what, ml_fa_test, NULL, NULL, (void *)&(c)}
#define ML_FA_TEST_NOMEM(c) {(c).what, ml_fa_test_nomem, NULL, NULL, (void *)&(c)}

#endif
