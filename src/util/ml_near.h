/* ml_near: the nearest of a few known words to one a user typed, for "did
 * you mean" hints in error messages (a misspelt config key, a primary key
 * that is not a field, a namespace that differs). */
#ifndef ML_NEAR_H
#define ML_NEAR_H

#include <stddef.h>

/* The candidate closest to word by edit distance (insertions, deletions,
 * substitutions, and transpositions of neighbours; letter case ignored), or
 * NULL when none is close: within a third of the word's length, at least 1,
 * at most 3 edits.  Returns one of cands (borrowed). */
const char *ml_near_match(const char *word, const char *const *cands, size_t n);

#endif
