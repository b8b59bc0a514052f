/* baseline_feed: mallard's own storage path without parsing, for
 * bench/run.sh (information: where mallard write's time goes).
 *
 *   baseline_feed --db FILE [--records N] [--seed X]
 *
 * The rows of `mallard-gen --records N --seed X` (one stream), computed in C
 * as baseline_chunks does, go through the same code mallard write uses:
 * ml_batch with the background loader, i.e. data chunks filled on this
 * thread and streamed by ml_feed into an INSERT on the loader thread, with
 * the settings of ml_dest_open (one DuckDB thread and a 64MB memory bound for
 * appends), one transaction.  The difference to baseline_chunks is the
 * appender (and its single thread); the difference to mallard write is JSON
 * parsing and the protocol.  Prints two lines to stderr: records, seconds
 * (open to close) and records/s; then the storage thread's CPU time and
 * waits, as mallard write's "time:" line gives them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ml_malloc.h"
#include "warehouse/ml_batch.h"
#include "warehouse/ml_loader.h"
#include "engine/ml_ids.h"
#include "warehouse/ml_wh.h"

#include "bench_db.h"
#include "bench_util.h"

#define PROG "baseline_feed"

enum { COLS = 13 };

int main(int argc, char **argv) {
  ml_malloc_tune_process(); /* as mallard itself runs */
  const char *db_path = NULL;
  uint64_t records = 1000000, seed = 42;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--db")) db_path = argv[i + 1];
    else if (!strcmp(argv[i], "--records")) records = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
  }
  if (!db_path || argc % 2 == 0) {
    fprintf(stderr, "usage: baseline_feed --db FILE [--records N] [--seed X]\n");
    return 2;
  }
  double t0 = bench_now_s();
  ml_wh *wh = bench_open_wh(PROG, db_path,
                            "CREATE TABLE users (_airbyte_raw_id UUID, _airbyte_extracted_at TIMESTAMPTZ, "
                            "_airbyte_meta JSON, _airbyte_generation_id BIGINT, id BIGINT, name VARCHAR, email "
                            "VARCHAR, age BIGINT, score DOUBLE, active BOOLEAN, updated_at TIMESTAMPTZ, tags JSON, "
                            "address JSON)");
  if (!wh) return 1;
  ml_err err;
  ml_err_clear(&err);
  ml_batch *b = NULL;
  if (ml_batch_open(wh, NULL, "main", "users", COLS, &b, &err) != ML_OK) return bench_fail(PROG, "batch", err.msg);

  static const char meta[] = "{\"sync_id\":1,\"changes\":[]}";
  const int64_t base_ms = 1700000000000LL;
  ml_ids ids;
  ml_ids_init(&ids);
  uint64_t rng = seed;
  char buf[128];
  for (uint64_t n = 0; n < records; n++) {
    uint64_t r = bench_next_rand(&rng), id = n + 1;
    const char *nm = bench_first_names[r % 8];
    uint64_t lo;
    int64_t hi;
    ml_ids_next(&ids, &lo, &hi);
    ml_batch_put_i128(b, 0, lo, hi);
    ml_batch_put_i64(b, 1, (base_ms + (int64_t)n) * 1000);
    ml_batch_put_str(b, 2, meta, sizeof meta - 1);
    ml_batch_put_i64(b, 3, 1);
    ml_batch_put_i64(b, 4, (int64_t)id);
    int len = snprintf(buf, sizeof buf, "%s %" PRIu64, nm, id);
    ml_batch_put_str(b, 5, buf, (size_t)len);
    len = snprintf(buf, sizeof buf, "%s.%" PRIu64 "@example.com", nm, id);
    ml_batch_put_str(b, 6, buf, (size_t)len);
    ml_batch_put_i64(b, 7, (int64_t)(18 + (r >> 8) % 70));
    ml_batch_put_f64(b, 8, (double)((r >> 16) % 1000 * 100 + (r >> 24) % 100) / 100.0);
    ml_batch_put_bool(b, 9, (r >> 32) & 1);
    ml_batch_put_i64(b, 10, (base_ms / 1000 + (int64_t)n) * 1000000);
    len = snprintf(buf, sizeof buf, "[\"%s\",\"%s\"]", bench_tags[(r >> 40) % 6], bench_tags[(r >> 44) % 6]);
    ml_batch_put_str(b, 11, buf, (size_t)len);
    len = snprintf(buf, sizeof buf, "{\"city\":\"%s\",\"zip\":\"%05" PRIu64 "\"}", bench_cities[(r >> 48) % 8],
                   (r >> 52) % 100000);
    ml_batch_put_str(b, 12, buf, (size_t)len);
    if (ml_batch_end_row(b, &err) != ML_OK) return bench_fail(PROG, "append", err.msg);
  }
  if (ml_batch_flush(b, &err) != ML_OK || ml_wh_commit(wh, &err) != ML_OK) return bench_fail(PROG, "commit", err.msg);
  ml_batch_close(b);
  ml_loader_times t;
  ml_loader_times_get(ml_wh_loader(wh), &t);
  ml_wh_close(wh);
  double secs = bench_now_s() - t0;
  bench_report(PROG, records, secs);
  /* the same split as mallard write's "time:" line, for bench/run.sh */
  fprintf(stderr,
          "%s: time (%.2f s): producing thread waited %.2f s for storage; storage thread %.2f s CPU, waited %.2f s "
          "for rows\n",
          PROG, secs, t.owner_wait_s, t.loader_cpu_s, t.loader_idle_s);
  return 0;
}
