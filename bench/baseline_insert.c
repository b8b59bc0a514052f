/* baseline_insert: one prepared INSERT per record, the way the original
 * Python destination wrote, for the benchmarks (bench/run.sh).
 *
 *   baseline_insert --db FILE --input MESSAGES.jsonl [--records N]
 *
 * Reads the Airbyte messages that mallard-gen writes (one stream), parses
 * each line with mallard's JSON reader, and executes one prepared
 *   INSERT INTO users VALUES (?, ?, ... ?)
 * per RECORD into an on-disk table with the column types of mallard's typed
 * table (UUID, TIMESTAMPTZ, JSON, BIGINT meta columns, then id BIGINT, name
 * VARCHAR, email VARCHAR, age BIGINT, score DOUBLE, active BOOLEAN,
 * updated_at TIMESTAMPTZ, tags JSON, address JSON).  Values are bound typed
 * (the UUID as text, which DuckDB casts); inserts between two STATE messages
 * share one transaction, committed at the STATE (kinder to this baseline than
 * autocommit per row).  Stops after N records (default: all), so that it can
 * be run on a prefix and extrapolated per record.
 *
 * Prints one line to stderr: records, seconds (open to close) and records/s. */
#include <duckdb.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ml_malloc.h"
#include "convert/ml_conv.h"
#include "engine/ml_ids.h"
#include "json/ml_json.h"

#include "bench_db.h"
#include "bench_util.h"

#define PROG "baseline_insert"

static const char CREATE_SQL[] =
    "CREATE TABLE users (_airbyte_raw_id UUID, _airbyte_extracted_at TIMESTAMPTZ, _airbyte_meta JSON, "
    "_airbyte_generation_id BIGINT, id BIGINT, name VARCHAR, email VARCHAR, age BIGINT, score DOUBLE, "
    "active BOOLEAN, updated_at TIMESTAMPTZ, tags JSON, address JSON)";
static const char INSERT_SQL[] = "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/* Binds member `key` of data to parameter p, as its column type wants; a
 * missing or JSON null member binds NULL. */
typedef enum kind { K_INT, K_STR, K_DOUBLE, K_BOOL, K_TS, K_JSON } kind;

static int bind(duckdb_prepared_statement st, idx_t p, const ml_json_val *data, const char *key, kind k) {
  const ml_json_val *v = ml_json_get(data, key);
  if (!v || v->type == ML_JSON_NULL) return duckdb_bind_null(st, p) == DuckDBSuccess ? 0 : 1;
  duckdb_state s = DuckDBError;
  switch (k) {
    case K_INT:
      if (v->type == ML_JSON_NUMBER && (v->flags & ML_JSON_NUM_INT)) s = duckdb_bind_int64(st, p, v->i);
      break;
    case K_STR:
      if (v->type == ML_JSON_STRING) s = duckdb_bind_varchar_length(st, p, v->u.str, v->len);
      break;
    case K_DOUBLE:
      if (v->type == ML_JSON_NUMBER) s = duckdb_bind_double(st, p, v->d);
      break;
    case K_BOOL:
      if (v->type == ML_JSON_TRUE || v->type == ML_JSON_FALSE) s = duckdb_bind_boolean(st, p, v->type == ML_JSON_TRUE);
      break;
    case K_TS: {
      int64_t us;
      bool has_offset;
      if (v->type == ML_JSON_STRING && ml_conv_timestamp(v->u.str, v->len, false, &us, &has_offset))
        s = duckdb_bind_timestamp_tz(st, p, (duckdb_timestamp){us});
      break;
    }
    case K_JSON:
      s = duckdb_bind_varchar_length(st, p, v->src, v->src_len);
      break;
  }
  if (s != DuckDBSuccess) fprintf(stderr, PROG ": cannot bind '%s'\n", key);
  return s == DuckDBSuccess ? 0 : 1;
}

static int usage(void) {
  fprintf(stderr, "usage: baseline_insert --db FILE --input MESSAGES.jsonl [--records N]\n");
  return 2;
}

int main(int argc, char **argv) {
  ml_malloc_tune_process(); /* as mallard itself runs */
  const char *db_path = NULL, *input = NULL;
  uint64_t limit = UINT64_MAX;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) return usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--db")) db_path = v;
    else if (!strcmp(a, "--input")) input = v;
    else if (!strcmp(a, "--records")) limit = strtoull(v, NULL, 10);
    else return usage();
  }
  if (!db_path || !input) return usage();
  FILE *in = fopen(input, "r");
  if (!in) {
    perror(input);
    return 1;
  }

  double t0 = bench_now_s();
  duckdb_database db;
  duckdb_connection con;
  if (duckdb_open(db_path, &db) != DuckDBSuccess) {
    fprintf(stderr, PROG ": cannot open %s\n", db_path);
    return 1;
  }
  if (duckdb_connect(db, &con) != DuckDBSuccess) return 1;
  if (bench_sql(PROG, con, CREATE_SQL)) return 1;
  duckdb_prepared_statement st;
  if (duckdb_prepare(con, INSERT_SQL, &st) != DuckDBSuccess) {
    fprintf(stderr, PROG ": prepare: %s\n", duckdb_prepare_error(st));
    return 1;
  }
  if (bench_sql(PROG, con, "BEGIN")) return 1;

  ml_json_doc *doc = ml_json_doc_new();
  if (!doc) return 1;
  ml_ids ids;
  ml_ids_init(&ids);
  char *line = NULL;
  size_t line_cap = 0;
  ssize_t len;
  uint64_t records = 0, line_no = 0;
  int rc = 0;
  while (records < limit && (len = getline(&line, &line_cap, in)) > 0) {
    line_no++;
    const ml_json_val *msg;
    ml_err err;
    if (ml_json_parse(doc, line, (size_t)len, &msg, &err) != ML_OK) {
      fprintf(stderr, PROG ": %s line %" PRIu64 ": %s\n", input, line_no, err.msg);
      rc = 1;
      break;
    }
    const char *type = ml_json_get_str(msg, "type");
    if (type && !strcmp(type, "STATE")) {
      if (bench_sql(PROG, con, "COMMIT") || bench_sql(PROG, con, "BEGIN")) {
        rc = 1;
        break;
      }
      continue;
    }
    if (!type || strcmp(type, "RECORD")) continue;
    const ml_json_val *rec = ml_json_get(msg, "record");
    const ml_json_val *data = ml_json_get(rec, "data");
    const ml_json_val *emitted = ml_json_get(rec, "emitted_at");
    if (!data || data->type != ML_JSON_OBJECT || !emitted || !(emitted->flags & ML_JSON_NUM_INT)) {
      fprintf(stderr, PROG ": %s line %" PRIu64 ": not a record of the expected shape\n", input, line_no);
      rc = 1;
      break;
    }
    uint64_t lo;
    int64_t hi;
    char uuid[37];
    ml_ids_next(&ids, &lo, &hi);
    ml_ids_format(lo, hi, uuid);
    int bad = duckdb_bind_varchar_length(st, 1, uuid, 36) != DuckDBSuccess;
    bad |= duckdb_bind_timestamp_tz(st, 2, (duckdb_timestamp){emitted->i * 1000}) != DuckDBSuccess;
    bad |= duckdb_bind_varchar(st, 3, "{\"sync_id\":1,\"changes\":[]}") != DuckDBSuccess;
    bad |= duckdb_bind_int64(st, 4, 1) != DuckDBSuccess;
    bad |= bind(st, 5, data, "id", K_INT);
    bad |= bind(st, 6, data, "name", K_STR);
    bad |= bind(st, 7, data, "email", K_STR);
    bad |= bind(st, 8, data, "age", K_INT);
    bad |= bind(st, 9, data, "score", K_DOUBLE);
    bad |= bind(st, 10, data, "active", K_BOOL);
    bad |= bind(st, 11, data, "updated_at", K_TS);
    bad |= bind(st, 12, data, "tags", K_JSON);
    bad |= bind(st, 13, data, "address", K_JSON);
    duckdb_result res;
    if (bad || duckdb_execute_prepared(st, &res) != DuckDBSuccess) {
      fprintf(stderr, PROG ": %s line %" PRIu64 ": insert failed: %s\n", input, line_no,
              bad ? "bind" : duckdb_result_error(&res));
      if (!bad) duckdb_destroy_result(&res);
      rc = 1;
      break;
    }
    duckdb_destroy_result(&res);
    records++;
  }
  free(line);
  fclose(in);
  ml_json_doc_free(doc);
  duckdb_destroy_prepare(&st);
  if (bench_sql(PROG, con, rc ? "ROLLBACK" : "COMMIT")) rc = 1;
  duckdb_disconnect(&con);
  duckdb_close(&db);
  double secs = bench_now_s() - t0;
  if (rc == 0)
    bench_report(PROG, records, secs);
  return rc;
}
