/* FUZZ_CHECK(cond): a property every fuzz target asserts; a failure names the
 * file, line and condition and aborts, which libFuzzer and replay.c report
 * as a crash with the input that caused it. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
      abort();                                                                    \
    }                                                                             \
  } while (0)

#endif
