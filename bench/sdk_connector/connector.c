/* The SDK path of the benchmarks (bench/run.sh): a connector that upserts the
 * rows `mallard-gen --records N --seed X` describes (one stream), into table
 * `users` with primary key id, checkpointing every K rows (as the generated
 * file has a STATE every K records).  Values are computed in C with the same
 * splitmix64 sequence and formulas as bench/gen.c, then passed through the
 * public SDK (record setters, mallard_upsert, mallard_checkpoint), so the
 * runner does the work a real connector's rows would cost it.
 *
 * configuration.json (all optional, strings):
 *   {"records": "1000000", "seed": "42", "checkpoint_every": "10000"}
 *
 *   mallard debug bench/sdk_connector      (run.sh runs a copy in a temp dir) */
#include <mallard.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t next_rand(uint64_t *s) {
  /* splitmix64, as in bench/gen.c */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static uint64_t config_u64(mallard_ctx *ctx, const char *key, uint64_t dflt) {
  const char *v = mallard_config(ctx, key);
  return v && *v ? strtoull(v, NULL, 10) : dflt;
}

static int schema(mallard_ctx *ctx) {
  static const struct {
    const char *name;
    mallard_type type;
  } cols[] = {{"id", MALLARD_LONG},      {"name", MALLARD_STRING},          {"email", MALLARD_STRING},
              {"age", MALLARD_LONG},     {"score", MALLARD_DOUBLE},         {"active", MALLARD_BOOLEAN},
              {"updated_at", MALLARD_UTC_DATETIME}, {"tags", MALLARD_JSON}, {"address", MALLARD_JSON}};
  int rc = mallard_table(ctx, "users", "id");
  for (size_t i = 0; rc == MALLARD_OK && i < sizeof cols / sizeof cols[0]; i++)
    rc = mallard_column(ctx, "users", cols[i].name, cols[i].type);
  return rc;
}

static int update(mallard_ctx *ctx) {
  static const char *const first[] = {"Ada", "Grace", "Linus", "Barbara", "Ken", "Dennis", "Margaret", "Edsger"};
  static const char *const city[] = {"Lisbon", "Zürich", "Kraków", "São Paulo", "Oslo", "Nairobi", "Kyoto", "Austin"};
  static const char *const tag[] = {"new", "vip", "churn-risk", "beta", "trial", "partner"};
  const uint64_t records = config_u64(ctx, "records", 1000000);
  const uint64_t every = config_u64(ctx, "checkpoint_every", 10000);
  uint64_t rng = config_u64(ctx, "seed", 42);
  const int64_t base_s = 1700000000;
  mallard_record *r = mallard_record_new();
  if (!r) return mallard_fail(ctx, "out of memory");
  int rc = MALLARD_OK;
  char buf[128];
  for (uint64_t n = 0; n < records && rc == MALLARD_OK; n++) {
    uint64_t x = next_rand(&rng), id = n + 1;
    const char *nm = first[x % 8];
    mallard_record_clear(r);
    mallard_set_long(r, "id", (int64_t)id);
    snprintf(buf, sizeof buf, "%s %" PRIu64, nm, id);
    mallard_set_string(r, "name", buf);
    snprintf(buf, sizeof buf, "%s.%" PRIu64 "@example.com", nm, id);
    mallard_set_string(r, "email", buf);
    mallard_set_long(r, "age", (int64_t)(18 + (x >> 8) % 70));
    mallard_set_double(r, "score", (double)((x >> 16) % 1000 * 100 + (x >> 24) % 100) / 100.0);
    mallard_set_bool(r, "active", (int)((x >> 32) & 1));
    mallard_set_utc_micros(r, "updated_at", (base_s + (int64_t)n) * 1000000);
    snprintf(buf, sizeof buf, "[\"%s\",\"%s\"]", tag[(x >> 40) % 6], tag[(x >> 44) % 6]);
    mallard_set_json(r, "tags", buf);
    snprintf(buf, sizeof buf, "{\"city\":\"%s\",\"zip\":\"%05" PRIu64 "\"}", city[(x >> 48) % 8], (x >> 52) % 100000);
    mallard_set_json(r, "address", buf);
    rc = mallard_upsert(ctx, "users", r);
    if (rc == MALLARD_OK && ((every && (n + 1) % every == 0) || n + 1 == records)) {
      rc = mallard_state_set_long(ctx, "position", (int64_t)(n + 1));
      if (rc == MALLARD_OK) rc = mallard_checkpoint(ctx);
    }
  }
  mallard_record_free(r);
  return rc;
}

MALLARD_CONNECTOR(schema, update)
