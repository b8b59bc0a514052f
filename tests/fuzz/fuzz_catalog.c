/* fuzz_catalog: the configured catalog and the destination config parsers.
 *
 * Whatever the input, both parsers return (no crash, no leak: everything is
 * freed).  When a catalog parses: every stream has a schema and a table whose
 * names are normalised ([a-z0-9_], no leading digit), tables are distinct
 * within a schema, columns are distinct within a stream and never take a
 * metadata column's name, and ml_catalog_find finds each stream.  When a
 * config parses: the path and schema are set and the schema is normalised. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airbyte/ml_catalog.h"

#include "fuzz_check.h"

static void check_normalised(const char *s) {
  FUZZ_CHECK(s != NULL && s[0] != '\0');
  FUZZ_CHECK(!(s[0] >= '0' && s[0] <= '9'));
  for (const char *p = s; *p; p++)
    FUZZ_CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
}

static void check_catalog(const ml_catalog *c) {
  static const char *const meta[] = {"_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta",
                                     "_airbyte_generation_id"};
  for (size_t i = 0; i < c->n_streams; i++) {
    const ml_stream_def *s = &c->streams[i];
    FUZZ_CHECK(s->name != NULL);
    check_normalised(s->schema);
    check_normalised(s->table);
    FUZZ_CHECK(ml_catalog_find(c, s->ns, s->name) == s);
    for (size_t j = 0; j < i; j++)
      FUZZ_CHECK(strcmp(c->streams[j].schema, s->schema) != 0 || strcmp(c->streams[j].table, s->table) != 0);
    for (size_t f = 0; f < s->n_fields; f++) {
      FUZZ_CHECK(s->fields[f].source != NULL);
      check_normalised(s->fields[f].column);
      for (size_t m = 0; m < sizeof meta / sizeof meta[0]; m++) FUZZ_CHECK(strcmp(s->fields[f].column, meta[m]) != 0);
      for (size_t g = 0; g < f; g++) FUZZ_CHECK(strcmp(s->fields[g].column, s->fields[f].column) != 0);
    }
    for (size_t k = 0; k < s->n_primary_key; k++) FUZZ_CHECK(s->primary_key[k].n > 0);
    FUZZ_CHECK(ml_sync_mode_name(s->mode) != NULL);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  ml_err err;

  ml_catalog cat;
  memset(&cat, 0, sizeof cat);
  ml_err_clear(&err);
  ml_status st = ml_catalog_parse(text, size, "main", &cat, &err);
  if (st == ML_OK) {
    check_catalog(&cat);
    ml_catalog_free(&cat);
  } else {
    FUZZ_CHECK(err.msg[0] != '\0');
    FUZZ_CHECK(cat.n_streams == 0);
  }

  ml_dest_config cfg;
  memset(&cfg, 0, sizeof cfg);
  ml_err_clear(&err);
  st = ml_dest_config_parse(text, size, "/tmp/mallard-fuzz-local", &cfg, &err);
  if (st == ML_OK) {
    FUZZ_CHECK(cfg.destination_path != NULL && cfg.destination_path[0] != '\0');
    check_normalised(cfg.schema);
    FUZZ_CHECK(cfg.commit_interval_ms >= 0);
    /* the default schema of a catalog can be any parsed config's schema */
    memset(&cat, 0, sizeof cat);
    if (size < 4096 && ml_catalog_parse(text, size, cfg.schema, &cat, NULL) == ML_OK) ml_catalog_free(&cat);
    ml_dest_config_free(&cfg);
  } else {
    FUZZ_CHECK(err.msg[0] != '\0');
    ml_dest_config_free(&cfg); /* must be harmless on a failed parse */
  }
  return 0;
}
