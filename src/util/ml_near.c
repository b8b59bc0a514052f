#include "ml_near.h"

#include <ctype.h>
#include <string.h>

/* Longer words are never compared: a hint for them is not worth the work. */
#define MAX_WORD 64

static size_t dist(const char *a, size_t na, const char *b, size_t nb) {
  /* optimal string alignment distance, three rows */
  size_t rows[3][MAX_WORD + 1];
  size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
  for (size_t j = 0; j <= nb; j++) prev[j] = j;
  for (size_t i = 1; i <= na; i++) {
    cur[0] = i;
    for (size_t j = 1; j <= nb; j++) {
      int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
      size_t d = prev[j - 1] + !same;
      if (prev[j] + 1 < d) d = prev[j] + 1;
      if (cur[j - 1] + 1 < d) d = cur[j - 1] + 1;
      if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) && prev2[j - 2] + 1 < d)
        d = prev2[j - 2] + 1;
      cur[j] = d;
    }
    size_t *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[nb];
}

const char *ml_near_match(const char *word, const char *const *cands, size_t n) {
  size_t nw = strlen(word);
  if (!nw || nw > MAX_WORD) return NULL;
  size_t limit = nw / 3;
  if (limit < 1) limit = 1;
  if (limit > 3) limit = 3;
  const char *best = NULL;
  size_t best_d = limit + 1;
  for (size_t i = 0; i < n; i++) {
    size_t nc = strlen(cands[i]);
    if (nc > MAX_WORD) continue;
    size_t d = dist(word, nw, cands[i], nc);
    if (d < best_d) {
      best = cands[i];
      best_d = d;
    }
  }
  return best;
}
