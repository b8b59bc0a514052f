/* ml_hash: 64-bit FNV-1a, the one small non-cryptographic hash mallard uses
 * for name suffixes, field maps and state identities.  It is stable across
 * versions and platforms (suffixes derived from it end up in table names). */
#ifndef ML_HASH_H
#define ML_HASH_H

#include <stddef.h>
#include <stdint.h>

#define ML_HASH_FNV_OFFSET 14695981039346656037ULL
#define ML_HASH_FNV_PRIME 1099511628211ULL

/* Continues hash h over n bytes; start with ML_HASH_FNV_OFFSET. */
static inline uint64_t ml_hash_fnv1a_more(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * ML_HASH_FNV_PRIME;
  return h;
}

static inline uint64_t ml_hash_fnv1a(const void *data, size_t n) {
  return ml_hash_fnv1a_more(ML_HASH_FNV_OFFSET, data, n);
}

#endif
