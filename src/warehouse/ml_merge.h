/* ml_merge: the SQL pieces of a staged merge, where rows staged per key
 * replace the target table's rows of the same key.  Shared by append_dedup
 * (ml_astream's merge_staged) and the SDK's apply (ml_apply's upsert_only
 * and MERGE), so that both spell keys, key matches and "each key's latest
 * staged row" the same way.
 *
 * Every function appends to q (an ml_buf: check ml_buf_ok once before
 * running the SQL).  keys are n unquoted column names, quoted here. */
#ifndef ML_MERGE_H
#define ML_MERGE_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/ml_buf.h"

/* "<qual>k1<sep><qual>k2 ...", e.g. "s.id, s.region" */
void ml_merge_keys(ml_buf *q, const char *const *keys, size_t n, const char *qual, const char *sep);

/* "a.k1 = b.k1 AND a.k2 = b.k2": "=" lets DuckDB skip the target's row
 * groups whose key range no staged key falls into.  null_safe matches NULL
 * keys to each other (IS NOT DISTINCT FROM) instead, for staged rows whose
 * key is NULL (one key, as a MERGE sees it). */
void ml_merge_match(ml_buf *q, const char *const *keys, size_t n, const char *a, const char *b, bool null_safe);

/* "row_number() OVER (PARTITION BY k1, k2 ORDER BY <order_by>)": 1 for each
 * key's first row in that order (NULL keys are one partition). */
void ml_merge_rank(ml_buf *q, const char *const *keys, size_t n, const char *order_by);

/* " QUALIFY row_number() OVER (PARTITION BY k1, k2 ORDER BY <order_by>) = 1":
 * after a SELECT from the staging table, each key's latest row. */
void ml_merge_latest(ml_buf *q, const char *const *keys, size_t n, const char *order_by);

#endif
