/* ml_sdkschema: the tables a connector declares in schema(), through
 * mallard_table, mallard_column, mallard_column_decimal or
 * mallard_schema_json (mallard.h).  Each declaration is checked as it
 * arrives, so the connector's author reads which table and column is wrong
 * and why; the declarations are kept in the ctx until ml_sdk_run_schema
 * hands them to the ml_apply with ml_sdkschema_declare. */
#ifndef ML_SDKSCHEMA_H
#define ML_SDKSCHEMA_H

#include <stddef.h>

#include "../util/ml_err.h"
#include "ml_apply.h"

struct ml_sdkschema_table; /* one declared table, ml_sdkschema.c's own */

/* The tables declared so far, in declaration order; zero-initialised is
 * empty.  Owned by the ctx that declared them (ml_sdkschema_free). */
typedef struct ml_sdkschema {
  struct ml_sdkschema_table *tables;
  size_t n, cap;
} ml_sdkschema;

/* Declares every table of s into apply (borrowed), in order; stops at the
 * first error ml_apply_declare reports. */
ml_status ml_sdkschema_declare(const ml_sdkschema *s, ml_apply *apply, ml_err *err);

/* Frees what s holds and leaves it empty; s itself is the caller's. */
void ml_sdkschema_free(ml_sdkschema *s);

#endif
