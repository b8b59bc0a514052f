/* bench_util: what the programs under bench/ share.  The baselines
 * recompute the rows mallard-gen writes, so they must draw the very numbers
 * gen.c draws: one next_rand for all of them keeps that true by
 * construction.  They also time and report alike, so that bench/run.sh reads
 * every baseline's line the same way.  Header-only and plain C: mallard-gen
 * links nothing else. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* splitmix64: tiny, fast and good enough for test data.  *s is the state,
 * seeded with --seed. */
static inline uint64_t bench_next_rand(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* The words mallard-gen's records are made of (names, address cities,
 * tags).  Which bits of a record's random number pick each word is written
 * out at each use: gen.c's records and the baselines' rows must agree. */
static const char *const bench_first_names[8] = {"Ada", "Grace", "Linus", "Barbara",
                                                 "Ken", "Dennis", "Margaret", "Edsger"};
static const char *const bench_cities[8] = {"Lisbon", "Zürich", "Kraków", "São Paulo",
                                            "Oslo", "Nairobi", "Kyoto", "Austin"};
static const char *const bench_tags[6] = {"new", "vip", "churn-risk", "beta", "trial", "partner"};

/* Seconds on the monotonic clock (only differences mean anything). */
static inline double bench_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The result line on stderr: "<prog>: N records in S s, R records/s". */
static inline void bench_report(const char *prog, uint64_t records, double secs) {
  fprintf(stderr, "%s: %" PRIu64 " records in %.3f s, %.0f records/s\n", prog, records, secs,
          secs > 0 ? (double)records / secs : 0.0);
}

/* Prints "<prog>: <what>: <msg>" on stderr; returns the exit code 1. */
static inline int bench_fail(const char *prog, const char *what, const char *msg) {
  fprintf(stderr, "%s: %s: %s\n", prog, what, msg);
  return 1;
}

#endif
