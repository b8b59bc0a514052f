#include "ml_keyset.h"

#include <stdlib.h>
#include <string.h>

/* FNV-style hashes of small keys differ mostly in their high bits; the
 * finaliser of splitmix64 spreads them over the low bits the table uses. */
static uint64_t mix(uint64_t h) {
  h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
  h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
  return h ^ (h >> 31);
}

/* Inserts h (non-zero) into slots; the table has a free slot. */
static int put(uint64_t *slots, size_t cap, uint64_t h) {
  size_t i = (size_t)mix(h) & (cap - 1);
  while (slots[i]) {
    if (slots[i] == h) return 0;
    i = (i + 1) & (cap - 1);
  }
  slots[i] = h;
  return 1;
}

int ml_keyset_add(ml_keyset *s, uint64_t h) {
  if (h == 0) h = 1;
  /* grow at 50% load: probes stay short */
  if ((s->n + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < s->cap; i++)
      if (s->slots[i]) put(slots, cap, s->slots[i]);
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
  }
  int added = put(s->slots, s->cap, h);
  s->n += (size_t)added;
  return added;
}

void ml_keyset_clear(ml_keyset *s) {
  if (s->slots && s->n) memset(s->slots, 0, s->cap * sizeof *s->slots);
  s->n = 0;
}

void ml_keyset_free(ml_keyset *s) {
  free(s->slots);
  *s = (ml_keyset)ML_KEYSET_INIT;
}
