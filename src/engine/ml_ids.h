/* ml_ids: the _airbyte_raw_id values of one run.
 *
 * UUID version 7 layout with a fixed prefix per run and a counter: the 48-bit
 * millisecond time of the run's start, 12 random bits, the variant, 22 more
 * random bits, then a 40-bit counter.  Ids of one run are therefore unique,
 * increasing in DuckDB's UUID order (so "rows of this run after id X" is a
 * range), and distinct from other runs' ids with overwhelming probability. */
#ifndef ML_IDS_H
#define ML_IDS_H

#include <stdint.h>

typedef struct ml_ids {
  uint64_t hi;      /* bytes 0..7 (time, version, rand_a) */
  uint64_t lo_base; /* bytes 8..15 without the counter */
  uint64_t counter;
} ml_ids;

/* Seeds from the clock and the OS random source. */
void ml_ids_init(ml_ids *ids);
/* Deterministic, for tests. */
void ml_ids_init_fixed(ml_ids *ids, uint64_t ms, uint64_t random_bits);
/* Next id as DuckDB's UUID hugeint (lower, upper with the top bit flipped). */
void ml_ids_next(ml_ids *ids, uint64_t *lower, int64_t *upper);
/* The id of an unnested array item (its _mallard_id): a UUID version 8
 * derived from the parent row's id, a hash of the array's path and the item's
 * index, so the same record always gives its items the same ids.  The
 * mixing is a non-cryptographic 128-bit hash: distinct inputs collide with
 * negligible probability, but a source could construct a collision on
 * purpose (ids only label rows; nothing is deleted or merged by them). */
void ml_ids_derive(uint64_t parent_lower, int64_t parent_upper, uint64_t path_hash, uint64_t index, uint64_t *lower,
                   int64_t *upper);
/* Text form of an id given as DuckDB hugeint parts, into out[37]. */
void ml_ids_format(uint64_t lower, int64_t upper, char out[37]);

#endif
