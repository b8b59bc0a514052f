/* bench/python.sh: the rows of connector.py beside it, from C: `rows`
 * upserts of 4 columns into table `items`, a checkpoint every
 * `checkpoint_every`.  Built by bench/python.sh into a directory of its own
 * (a directory holds one connector). */
#include <mallard.h>
#include <stdio.h>
#include <stdlib.h>

static int schema(mallard_ctx *ctx) {
  return mallard_schema_json(ctx, "[{\"table\": \"items\", \"primary_key\": [\"id\"], \"columns\": {\"id\": \"LONG\", "
                                  "\"name\": \"STRING\", \"amount\": \"DOUBLE\", \"active\": \"BOOLEAN\"}}]");
}

static int update(mallard_ctx *ctx) {
  const char *r = mallard_config(ctx, "rows"), *e = mallard_config(ctx, "checkpoint_every");
  long long rows = r ? atoll(r) : 0, every = e ? atoll(e) : 100000;
  mallard_record *rec = mallard_record_new();
  if (!rec) return mallard_fail(ctx, "out of memory");
  char name[32];
  int rc = MALLARD_OK;
  for (long long i = 0; i < rows && rc == MALLARD_OK; i++) {
    mallard_record_clear(rec);
    snprintf(name, sizeof name, "item %lld", i);
    mallard_set_long(rec, "id", i);
    mallard_set_string(rec, "name", name);
    mallard_set_double(rec, "amount", (double)i * 0.25);
    mallard_set_bool(rec, "active", i % 3 == 0);
    rc = mallard_upsert(ctx, "items", rec);
    if (rc == MALLARD_OK && (i + 1) % every == 0) {
      rc = mallard_state_set_long(ctx, "done", i + 1);
      if (rc == MALLARD_OK) rc = mallard_checkpoint(ctx);
    }
  }
  if (rc == MALLARD_OK) rc = mallard_state_set_long(ctx, "done", rows);
  if (rc == MALLARD_OK) rc = mallard_checkpoint(ctx);
  mallard_record_free(rec);
  return rc;
}

MALLARD_CONNECTOR(schema, update)
