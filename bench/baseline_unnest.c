/* baseline_unnest: the storage floor of the unnesting benchmark
 * (bench/unnest.sh): the rows `mallard write` stores for mallard-gen
 * --nested, computed in C (no JSON parsing, no protocol) and stored through
 * mallard's own path (ml_batch with the background loader, one DuckDB
 * thread, the 64MB append bound, as baseline_feed), one transaction.
 *
 *   baseline_unnest --db FILE [--records N] [--depth 0|2]
 *
 * --depth 0: the table of unnest_depth 0 (4 metadata columns, id,
 * updated_at, lines and customer as JSON).  --depth 2: that table plus the
 * three flattened customer columns, and the child table users__lines (five
 * rows per record: the six child metadata columns, sku, qty, price).
 * Prints records, seconds (open to close) and rows to stderr. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ml_malloc.h"
#include "engine/ml_ids.h"
#include "warehouse/ml_batch.h"
#include "warehouse/ml_wh.h"

#include "bench_db.h"
#include "bench_util.h"

#define PROG "baseline_unnest"

int main(int argc, char **argv) {
  ml_malloc_tune_process(); /* as mallard itself runs */
  const char *db_path = NULL;
  uint64_t records = 1000000;
  int depth = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--db")) db_path = argv[i + 1];
    else if (!strcmp(argv[i], "--records")) records = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--depth")) depth = atoi(argv[i + 1]);
  }
  if (!db_path || argc % 2 == 0 || (depth != 0 && depth != 2)) {
    fprintf(stderr, "usage: baseline_unnest --db FILE [--records N] [--depth 0|2]\n");
    return 2;
  }
  size_t root_cols = depth ? 11 : 8;
  double t0 = bench_now_s();
  ml_wh *wh = bench_open_wh(
      PROG, db_path,
      depth ? "CREATE TABLE users (_airbyte_raw_id UUID, _airbyte_extracted_at TIMESTAMPTZ, _airbyte_meta "
              "JSON, _airbyte_generation_id BIGINT, id BIGINT, updated_at TIMESTAMPTZ, lines JSON, "
              "customer JSON, customer__name VARCHAR, customer__city VARCHAR, customer__zip VARCHAR); "
              "CREATE TABLE users__lines (_airbyte_raw_id UUID, _mallard_parent_id UUID, _mallard_id UUID, "
              "_mallard_list_idx BIGINT, _airbyte_extracted_at TIMESTAMPTZ, _airbyte_generation_id BIGINT, "
              "sku VARCHAR, qty BIGINT, price DOUBLE)"
            : "CREATE TABLE users (_airbyte_raw_id UUID, _airbyte_extracted_at TIMESTAMPTZ, _airbyte_meta "
              "JSON, _airbyte_generation_id BIGINT, id BIGINT, updated_at TIMESTAMPTZ, lines JSON, "
              "customer JSON)");
  if (!wh) return 1;
  ml_err err;
  ml_err_clear(&err);
  ml_batch *b = NULL, *c = NULL;
  if (ml_batch_open(wh, NULL, "main", "users", root_cols, &b, &err) != ML_OK) return bench_fail(PROG, "batch", err.msg);
  if (depth && ml_batch_open(wh, NULL, "main", "users__lines", 9, &c, &err) != ML_OK)
    return bench_fail(PROG, "batch", err.msg);

  static const char meta[] = "{\"sync_id\":0,\"changes\":[]}";
  const int64_t base_ms = 1700000000000LL;
  const uint64_t path_hash = 0x1234; /* one array path */
  ml_ids ids;
  ml_ids_init(&ids);
  uint64_t rng = 42, child_rows = 0;
  char lines[512], cust[128], name[64], sku[5][16];
  for (uint64_t n = 0; n < records; n++) {
    uint64_t r = bench_next_rand(&rng), id = n + 1;
    uint64_t lo;
    int64_t hi;
    ml_ids_next(&ids, &lo, &hi);
    int64_t us = (base_ms + (int64_t)n) * 1000;
    size_t ll = (size_t)snprintf(lines, sizeof lines, "[");
    uint64_t qty[5];
    double price[5];
    for (int l = 0; l < 5; l++) {
      snprintf(sku[l], sizeof sku[l], "SKU-%05" PRIu64, (r >> (8 * l)) % 100000);
      qty[l] = 1 + (r >> (4 * l)) % 9;
      price[l] = (double)((r >> (6 * l)) % 500) + (double)((r >> (3 * l)) % 100) / 100.0;
      ll += (size_t)snprintf(lines + ll, sizeof lines - ll, "%s{\"sku\":\"%s\",\"qty\":%" PRIu64 ",\"price\":%.2f}",
                             l ? "," : "", sku[l], qty[l], price[l]);
    }
    ll += (size_t)snprintf(lines + ll, sizeof lines - ll, "]");
    int nl = snprintf(name, sizeof name, "%s %" PRIu64, bench_first_names[r % 8], id);
    char zip[8];
    snprintf(zip, sizeof zip, "%05" PRIu64, (r >> 52) % 100000);
    const char *ct = bench_cities[(r >> 48) % 8];
    int cl = snprintf(cust, sizeof cust, "{\"name\":\"%s\",\"city\":\"%s\",\"zip\":\"%s\"}", name, ct, zip);
    for (int l = 0; depth && l < 5; l++) {
      uint64_t clo;
      int64_t chi;
      ml_ids_derive(lo, hi, path_hash, (uint64_t)l, &clo, &chi);
      ml_batch_put_i128(c, 0, lo, hi);
      ml_batch_put_i128(c, 1, lo, hi);
      ml_batch_put_i128(c, 2, clo, chi);
      ml_batch_put_i64(c, 3, l);
      ml_batch_put_i64(c, 4, us);
      ml_batch_put_i64(c, 5, 0);
      ml_batch_put_str(c, 6, sku[l], strlen(sku[l]));
      ml_batch_put_i64(c, 7, (int64_t)qty[l]);
      ml_batch_put_f64(c, 8, price[l]);
      if (ml_batch_end_row(c, &err) != ML_OK) return bench_fail(PROG, "append", err.msg);
      child_rows++;
    }
    ml_batch_put_i128(b, 0, lo, hi);
    ml_batch_put_i64(b, 1, us);
    ml_batch_put_str(b, 2, meta, sizeof meta - 1);
    ml_batch_put_i64(b, 3, 0);
    ml_batch_put_i64(b, 4, (int64_t)id);
    ml_batch_put_i64(b, 5, (base_ms / 1000 + (int64_t)n) * 1000000);
    ml_batch_put_str(b, 6, lines, ll);
    ml_batch_put_str(b, 7, cust, (size_t)cl);
    if (depth) {
      ml_batch_put_str(b, 8, name, (size_t)nl);
      ml_batch_put_str(b, 9, ct, strlen(ct));
      ml_batch_put_str(b, 10, zip, 5);
    }
    if (ml_batch_end_row(b, &err) != ML_OK) return bench_fail(PROG, "append", err.msg);
  }
  if (ml_batch_flush(b, &err) != ML_OK || (c && ml_batch_flush(c, &err) != ML_OK) || ml_wh_commit(wh, &err) != ML_OK)
    return bench_fail(PROG, "commit", err.msg);
  ml_batch_close(b);
  ml_batch_close(c);
  ml_wh_close(wh);
  double secs = bench_now_s() - t0;
  fprintf(stderr, PROG ": depth %d: %" PRIu64 " records and %" PRIu64 " child rows in %.3f s\n", depth,
          records, child_rows, secs);
  return 0;
}
