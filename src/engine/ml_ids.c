#include "ml_ids.h"

#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void ml_ids_init_fixed(ml_ids *ids, uint64_t ms, uint64_t random_bits) {
  uint64_t rand_a = random_bits & 0xFFF;
  uint64_t rand_b = (random_bits >> 12) & 0x3FFFFF; /* 22 bits */
  ids->hi = (ms & 0xFFFFFFFFFFFFULL) << 16 | 0x7000 | rand_a;
  ids->lo_base = (uint64_t)0x2 << 62 | rand_b << 40;
  ids->counter = 0;
}

void ml_ids_init(ml_ids *ids) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
    r = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid() << 17;
  ml_ids_init_fixed(ids, ms, r);
}

void ml_ids_next(ml_ids *ids, uint64_t *lower, int64_t *upper) {
  uint64_t lo = ids->lo_base | (ids->counter++ & 0xFFFFFFFFFFULL);
  *lower = lo;
  /* DuckDB keeps UUIDs as a hugeint whose sign bit is flipped, so that signed
   * comparison gives byte order. */
  *upper = (int64_t)(ids->hi ^ ((uint64_t)1 << 63));
}

void ml_ids_format(uint64_t lower, int64_t upper, char out[37]) {
  uint64_t hi = (uint64_t)upper ^ ((uint64_t)1 << 63);
  snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32), (unsigned)(hi >> 16) & 0xFFFF,
           (unsigned)hi & 0xFFFF, (unsigned)(lower >> 48), (unsigned long long)(lower & 0xFFFFFFFFFFFFULL));
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

void ml_ids_derive(uint64_t parent_lower, int64_t parent_upper, uint64_t path_hash, uint64_t index, uint64_t *lower,
                   int64_t *upper) {
  uint64_t in[4] = {parent_lower, (uint64_t)parent_upper, path_hash, index};
  /* two lanes with different seeds, each folding all four words */
  uint64_t a = 0x243F6A8885A308D3ULL, b = 0x13198A2E03707344ULL;
  for (int i = 0; i < 4; i++) {
    a = mix64(a ^ in[i]);
    b = mix64(b ^ in[i] ^ (a << 1));
  }
  uint64_t hi = (b & ~(uint64_t)0xF000) | 0x8000;          /* version 8 */
  uint64_t lo = (a & ~((uint64_t)3 << 62)) | (uint64_t)2 << 62; /* RFC 9562 variant */
  *lower = lo;
  *upper = (int64_t)(hi ^ ((uint64_t)1 << 63));
}
