/* ml_keyset: a set of 64-bit hashes (open addressing, linear probing) that
 * answers "seen before?" for staged keys.  Used to tell whether a batch of
 * staged operations repeats a key (ml_apply): a false "seen" (two keys with
 * the same hash) only costs the caller its slower, general path, so the set
 * stores hashes, not keys.
 *
 * Lifecycle: zero-initialise (ML_KEYSET_INIT) -> ml_keyset_add* ->
 * ml_keyset_clear (keeps the memory) ... -> ml_keyset_free. */
#ifndef ML_KEYSET_H
#define ML_KEYSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct ml_keyset {
  uint64_t *slots; /* owned; 0 marks an empty slot (hash 0 is stored as 1) */
  size_t cap;      /* power of two, or 0 before the first add */
  size_t n;
} ml_keyset;

#define ML_KEYSET_INIT {NULL, 0, 0}

/* Adds h.  Returns 1 when it was not in the set, 0 when it was, -1 when
 * growing the table failed (the set is unchanged). */
int ml_keyset_add(ml_keyset *s, uint64_t h);
/* Forgets every hash, keeping the table for reuse. */
void ml_keyset_clear(ml_keyset *s);
void ml_keyset_free(ml_keyset *s);

#endif
