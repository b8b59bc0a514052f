/* A mallard connector: schema() declares the tables, update() sends rows.
 * Run it with `mallard debug` in this directory; the rows land in
 * files/warehouse.db (schema tester).  The SDK reference is mallard.h. */
#include <mallard.h>
#include <stdio.h>
#include <stdlib.h>

/* Tables and their primary keys.  Columns not declared here are created
 * from the values sent (LONG, DOUBLE, STRING, ...). */
static int schema(mallard_ctx *ctx) {
  int rc = mallard_table(ctx, "greetings", "id");
  if (rc == MALLARD_OK) rc = mallard_column(ctx, "greetings", "id", MALLARD_LONG);
  if (rc == MALLARD_OK) rc = mallard_column(ctx, "greetings", "sent_at", MALLARD_UTC_DATETIME);
  return rc;
}

static int update(mallard_ctx *ctx) {
  const char *name = mallard_config(ctx, "name");  /* from configuration.json */
  if (!name) name = "world";
  /* The state saved by the last checkpoint: here, how many greetings were sent. */
  const char *sent = mallard_state_get(ctx, "sent");
  long long next = sent ? atoll(sent) : 0;
  mallard_log(ctx, MALLARD_INFO, "sending 3 greetings, starting at id %lld", next);

  mallard_record *r = mallard_record_new();
  if (!r) return mallard_fail(ctx, "out of memory");
  int rc = MALLARD_OK;
  for (int i = 0; i < 3 && rc == MALLARD_OK; i++) {
    char text[128];
    snprintf(text, sizeof text, "hello, %s (#%lld)", name, next);
    mallard_record_clear(r);
    mallard_set_long(r, "id", next);
    mallard_set_string(r, "message", text);
    mallard_set_utc_datetime(r, "sent_at", "2024-01-01T00:00:00Z");
    rc = mallard_upsert(ctx, "greetings", r);
    next++;
  }
  mallard_record_free(r);
  /* Checkpoint: the rows above are committed, then the state is saved. */
  if (rc == MALLARD_OK) rc = mallard_state_set_long(ctx, "sent", next);
  if (rc == MALLARD_OK) rc = mallard_checkpoint(ctx);
  return rc;
}

MALLARD_CONNECTOR(schema, update)
