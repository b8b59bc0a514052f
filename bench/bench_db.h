/* bench_db: how the baselines reach the database.  baseline_chunks and
 * baseline_insert talk to DuckDB's C API themselves (they measure DuckDB
 * without mallard's warehouse layer in between); baseline_feed and
 * baseline_unnest go through mallard's own ml_wh, opened as `mallard write`
 * opens it for appends (ml_dest_open), so that the two stay comparable. */
#ifndef BENCH_DB_H
#define BENCH_DB_H

#include <duckdb.h>
#include <stdio.h>

#include "util/ml_err.h"
#include "warehouse/ml_wh.h"

/* Runs q on con; on failure prints "<prog>: <q>: <DuckDB's error>" and
 * returns 1, else 0. */
static inline int bench_sql(const char *prog, duckdb_connection con, const char *q) {
  duckdb_result res;
  if (duckdb_query(con, q, &res) != DuckDBSuccess) {
    fprintf(stderr, "%s: %s: %s\n", prog, q, duckdb_result_error(&res));
    duckdb_destroy_result(&res);
    return 1;
  }
  duckdb_destroy_result(&res);
  return 0;
}

/* Opens path as mallard write does while appending (the background
 * loader, one DuckDB thread, the 64MB append bound, both liftable), runs
 * create_sql and begins the one transaction a baseline loads in.  On failure
 * prints "<prog>: open: <why>" or "<prog>: create: <why>" and returns NULL. */
static inline ml_wh *bench_open_wh(const char *prog, const char *path, const char *create_sql) {
  ml_wh_options opts = {.background_append = true,
                        .memory_limit = ML_WH_APPEND_MEMORY_LIMIT,
                        .memory_limit_liftable = true,
                        .threads = "1",
                        .threads_liftable = true,
                        .vacuum_after_deletes = true};
  ml_wh *wh = NULL;
  ml_err err;
  if (ml_wh_open(path, &opts, &wh, &err) != ML_OK) {
    fprintf(stderr, "%s: open: %s\n", prog, err.msg);
    return NULL;
  }
  if (ml_wh_exec(wh, create_sql, &err) != ML_OK || ml_wh_begin(wh, &err) != ML_OK) {
    fprintf(stderr, "%s: create: %s\n", prog, err.msg);
    return NULL; /* the process ends: nothing to close */
  }
  return wh;
}

#endif
