/* baseline_chunks: the storage floor for the benchmarks (bench/run.sh).
 *
 *   baseline_chunks --db FILE [--records N] [--seed X] [--commit-every K]
 *
 * Appends the rows that `mallard-gen --records N --seed X` describes (one
 * stream) to a fresh on-disk DuckDB table with the column types of mallard's
 * typed table, through DuckDB's data-chunk appender, without parsing
 * anything: every value is computed in C straight into the chunk's vectors
 * (the same splitmix64 sequence and formulas as bench/gen.c, so the rows
 * hold the values mallard would load from that file).  What remains is what
 * any loader pays: building vectors, the appender, compression and writing
 * the file.
 *
 * By default everything is one transaction (committed at the end); with
 * --commit-every K the transaction is committed every K rows.  Prints one
 * line to stderr: records, seconds (open to close) and records/s. */
#include <duckdb.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ml_malloc.h"
#include "engine/ml_ids.h"

#include "bench_db.h"
#include "bench_util.h"

#define PROG "baseline_chunks"

enum { COLS = 13 };

static const char CREATE_SQL[] =
    "CREATE TABLE users (_airbyte_raw_id UUID, _airbyte_extracted_at TIMESTAMPTZ, _airbyte_meta JSON, "
    "_airbyte_generation_id BIGINT, id BIGINT, name VARCHAR, email VARCHAR, age BIGINT, score DOUBLE, "
    "active BOOLEAN, updated_at TIMESTAMPTZ, tags JSON, address JSON)";

static int usage(void) {
  fprintf(stderr, "usage: baseline_chunks --db FILE [--records N] [--seed X] [--commit-every K]\n");
  return 2;
}

int main(int argc, char **argv) {
  ml_malloc_tune_process(); /* as mallard itself runs */
  const char *db_path = NULL;
  uint64_t records = 1000000, seed = 42, commit_every = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) return usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--db")) db_path = v;
    else if (!strcmp(a, "--records")) records = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--commit-every")) commit_every = strtoull(v, NULL, 10);
    else return usage();
  }
  if (!db_path) return usage();

  double t0 = bench_now_s();
  duckdb_database db;
  duckdb_connection con;
  char *open_err = NULL;
  duckdb_config cfg;
  if (duckdb_create_config(&cfg) != DuckDBSuccess) return 1;
  if (duckdb_open_ext(db_path, &db, cfg, &open_err) != DuckDBSuccess) {
    fprintf(stderr, PROG ": cannot open %s: %s\n", db_path, open_err ? open_err : "?");
    duckdb_free(open_err);
    duckdb_destroy_config(&cfg);
    return 1;
  }
  duckdb_destroy_config(&cfg);
  if (duckdb_connect(db, &con) != DuckDBSuccess) return 1;
  if (bench_sql(PROG, con, CREATE_SQL) || bench_sql(PROG, con, "BEGIN")) return 1;

  duckdb_appender app;
  if (duckdb_appender_create(con, NULL, "users", &app) != DuckDBSuccess) {
    fprintf(stderr, PROG ": appender: %s\n", duckdb_appender_error(app));
    return 1;
  }
  if (duckdb_appender_column_count(app) != COLS) {
    fprintf(stderr, PROG ": unexpected column count\n");
    return 1;
  }
  /* The chunk takes the table's own column types (JSON is VARCHAR with an
   * alias), so the appender never casts. */
  duckdb_logical_type types[COLS];
  for (idx_t c = 0; c < COLS; c++) types[c] = duckdb_appender_column_type(app, c);
  duckdb_data_chunk chunk = duckdb_create_data_chunk(types, COLS);
  for (idx_t c = 0; c < COLS; c++) duckdb_destroy_logical_type(&types[c]);
  const idx_t cap = duckdb_vector_size();
  duckdb_vector vec[COLS];
  for (idx_t c = 0; c < COLS; c++) vec[c] = duckdb_data_chunk_get_vector(chunk, c);
  duckdb_hugeint *raw_id = duckdb_vector_get_data(vec[0]);
  int64_t *extracted = duckdb_vector_get_data(vec[1]);
  int64_t *gen_id = duckdb_vector_get_data(vec[3]);
  int64_t *id_col = duckdb_vector_get_data(vec[4]);
  int64_t *age = duckdb_vector_get_data(vec[7]);
  double *score = duckdb_vector_get_data(vec[8]);
  bool *active = duckdb_vector_get_data(vec[9]);
  int64_t *updated = duckdb_vector_get_data(vec[10]);

  static const char meta[] = "{\"sync_id\":1,\"changes\":[]}";
  const int64_t base_ms = 1700000000000LL;
  ml_ids ids;
  ml_ids_init(&ids);
  uint64_t rng = seed, since_commit = 0;
  idx_t row = 0;
  char buf[128];
  for (uint64_t n = 0; n < records; n++) {
    uint64_t r = bench_next_rand(&rng);
    uint64_t id = n + 1;
    const char *nm = bench_first_names[r % 8];
    uint64_t lo;
    int64_t hi;
    ml_ids_next(&ids, &lo, &hi);
    raw_id[row].lower = lo;
    raw_id[row].upper = hi;
    extracted[row] = (base_ms + (int64_t)n) * 1000;
    duckdb_vector_assign_string_element_len(vec[2], row, meta, sizeof meta - 1);
    gen_id[row] = 1;
    id_col[row] = (int64_t)id;
    int len = snprintf(buf, sizeof buf, "%s %" PRIu64, nm, id);
    duckdb_vector_assign_string_element_len(vec[5], row, buf, (idx_t)len);
    len = snprintf(buf, sizeof buf, "%s.%" PRIu64 "@example.com", nm, id);
    duckdb_vector_assign_string_element_len(vec[6], row, buf, (idx_t)len);
    age[row] = (int64_t)(18 + (r >> 8) % 70);
    /* integer / 100 is correctly rounded, as strtod("ddd.cc") is */
    score[row] = (double)((r >> 16) % 1000 * 100 + (r >> 24) % 100) / 100.0;
    active[row] = (r >> 32) & 1;
    updated[row] = (base_ms / 1000 + (int64_t)n) * 1000000;
    len = snprintf(buf, sizeof buf, "[\"%s\",\"%s\"]", bench_tags[(r >> 40) % 6], bench_tags[(r >> 44) % 6]);
    duckdb_vector_assign_string_element_len(vec[11], row, buf, (idx_t)len);
    len = snprintf(buf, sizeof buf, "{\"city\":\"%s\",\"zip\":\"%05" PRIu64 "\"}", bench_cities[(r >> 48) % 8],
                   (r >> 52) % 100000);
    duckdb_vector_assign_string_element_len(vec[12], row, buf, (idx_t)len);
    bool last = n + 1 == records;
    bool commit = commit_every && ++since_commit == commit_every;
    if (++row == cap || last || commit) {
      duckdb_data_chunk_set_size(chunk, row);
      if (duckdb_append_data_chunk(app, chunk) != DuckDBSuccess) {
        fprintf(stderr, PROG ": append: %s\n", duckdb_appender_error(app));
        return 1;
      }
      duckdb_data_chunk_reset(chunk);
      /* reset may hand out new buffers: fetch the pointers again */
      for (idx_t c = 0; c < COLS; c++) vec[c] = duckdb_data_chunk_get_vector(chunk, c);
      raw_id = duckdb_vector_get_data(vec[0]);
      extracted = duckdb_vector_get_data(vec[1]);
      gen_id = duckdb_vector_get_data(vec[3]);
      id_col = duckdb_vector_get_data(vec[4]);
      age = duckdb_vector_get_data(vec[7]);
      score = duckdb_vector_get_data(vec[8]);
      active = duckdb_vector_get_data(vec[9]);
      updated = duckdb_vector_get_data(vec[10]);
      row = 0;
    }
    if (commit) {
      since_commit = 0;
      if (duckdb_appender_flush(app) != DuckDBSuccess || bench_sql(PROG, con, "COMMIT") ||
          bench_sql(PROG, con, "BEGIN"))
        return 1;
    }
  }
  if (duckdb_appender_flush(app) != DuckDBSuccess) {
    fprintf(stderr, PROG ": flush: %s\n", duckdb_appender_error(app));
    return 1;
  }
  duckdb_appender_destroy(&app);
  duckdb_destroy_data_chunk(&chunk);
  if (bench_sql(PROG, con, "COMMIT")) return 1;
  duckdb_disconnect(&con);
  duckdb_close(&db);
  double secs = bench_now_s() - t0;
  bench_report(PROG, records, secs);
  return 0;
}
