#include "ml_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml_feed.h"
#include "ml_wh_conn.h"
#include "ml_loader.h"

/* With a background loader, full chunks go to an INSERT on the loader
 * thread (ml_feed) while the next one fills: chunks circulate between the
 * two, created as they are needed.  DuckDB compresses each row group
 * (122,880 rows, 60 chunks) in one burst; with at most 16 chunks (32,768
 * rows) in flight the parser stopped during every burst and the two threads
 * took turns instead of working at once (docs/performance.md has the
 * timings).  So a batch may grow to CHUNKS_MAX, taking the
 * chunks beyond CHUNKS_MIN from the loader's shared grant (at most
 * ML_LOADER_EXTRA_CHUNKS for all tables together) and only while the string
 * data of its chunks in flight stays under GROW_BYTES_MAX, so that wide rows
 * or many tables do not multiply the memory. */
#define CHUNKS_MIN 16
#define CHUNKS_MAX (CHUNKS_MIN + ML_LOADER_EXTRA_CHUNKS)
#define GROW_BYTES_MAX ((size_t)32 << 20)
_Static_assert(CHUNKS_MAX <= ML_FEED_SLOTS, "a feed must queue every chunk a batch can have in flight");
/* Strings up to this length live inside the vector (duckdb_string_t). */
#define INLINED_STRING_MAX 12

typedef struct batch_col {
  uint8_t dec_width; /* DECIMAL columns: the width, which sets the storage */
  duckdb_vector vec;
  void *data;
  uint64_t *validity;
} batch_col;

struct ml_batch {
  ml_wh *wh; /* borrowed */
  duckdb_appender app; /* without a loader: rows go through DuckDB's appender */
  ml_feed_sink sink;   /* with a loader: rows go through ml_feed */
  bool has_sink;
  duckdb_logical_type *lts; /* the table's column types (the sink's) */
  duckdb_data_chunk chunk; /* the one being filled: pool[cur] */
  ml_loader *loader;       /* borrowed from the warehouse; NULL: append inline */
  duckdb_data_chunk pool[CHUNKS_MAX]; /* the first n_pool exist */
  size_t n_pool, cur;
  unsigned extra; /* chunks of pool taken from the loader's grant */
  size_t chunk_bytes; /* string bytes outside the vectors in the chunk being filled */
  /* guarded by the loader's lock: */
  bool pool_free[CHUNKS_MAX];
  size_t pool_bytes[CHUNKS_MAX]; /* chunk_bytes of each chunk in flight */
  size_t inflight_bytes;         /* their sum */
  size_t n_cols;
  batch_col *cols;
  idx_t row;      /* current row within the chunk */
  idx_t capacity; /* rows per chunk (duckdb_vector_size) */
  uint64_t total;
  char *table; /* for error messages */
};

static void give_back(void *ud, duckdb_data_chunk chunk);

/* After a chunk reset DuckDB may hand out new buffers, so pointers are taken
 * again, and every row starts invalid (NULL): setters mark what they fill. */
static void chunk_prepare(ml_batch *b) {
  for (size_t c = 0; c < b->n_cols; c++) {
    batch_col *col = &b->cols[c];
    col->vec = duckdb_data_chunk_get_vector(b->chunk, c);
    duckdb_vector_ensure_validity_writable(col->vec);
    col->validity = duckdb_vector_get_validity(col->vec);
    col->data = duckdb_vector_get_data(col->vec);
    memset(col->validity, 0, (b->capacity + 63) / 64 * sizeof(uint64_t));
  }
  b->row = 0;
}

ml_status ml_batch_open(ml_wh *wh, const char *catalog, const char *schema, const char *table, size_t n,
                        ml_batch **out, ml_err *err) {
  *out = NULL;
  /* The appender below reads the table on the connection: not while a job of
   * the loader (a commit behind, a merge) may be running a statement there,
   * whose tasks DuckDB may interleave with it (ml_wh.c, run_prepared). */
  ml_status synced = ml_wh_sync(wh, err);
  if (synced != ML_OK) return synced;
  ml_batch *b = calloc(1, sizeof *b);
  if (!b) return ml_err_nomem(err);
  b->cols = calloc(n ? n : 1, sizeof *b->cols);
  size_t tl = (catalog ? strlen(catalog) + 1 : 0) + strlen(schema) + strlen(table) + 2;
  b->table = malloc(tl);
  if (!b->cols || !b->table) {
    ml_batch_close(b);
    return ml_err_nomem(err);
  }
  snprintf(b->table, tl, "%s%s%s.%s", catalog ? catalog : "", catalog ? "." : "", schema, table);
  b->wh = wh;
  b->n_cols = n;
  b->capacity = duckdb_vector_size();
  if (duckdb_appender_create_ext(ml_wh_conn(wh), catalog, schema, table, &b->app) != DuckDBSuccess) {
    duckdb_error_data ed = duckdb_appender_error_data(b->app);
    ml_err_set(err, ML_ERR_DB, "cannot append to %s: %s", b->table, ed ? duckdb_error_data_message(ed) : "?");
    if (ed) duckdb_destroy_error_data(&ed);
    ml_batch_close(b);
    return ML_ERR_DB;
  }
  if (duckdb_appender_column_count(b->app) != n) {
    ml_err_set(err, ML_ERR_STATE, "table %s has %llu columns, expected %zu", b->table,
               (unsigned long long)duckdb_appender_column_count(b->app), n);
    ml_batch_close(b);
    return ML_ERR_STATE;
  }
  duckdb_logical_type *lts = b->lts = calloc(n ? n : 1, sizeof *lts);
  if (!lts) {
    ml_batch_close(b);
    return ml_err_nomem(err);
  }
  /* The appender's own column types are used for the chunk so that aliases
   * such as JSON match exactly what the table declares. */
  for (size_t c = 0; c < n; c++) {
    lts[c] = duckdb_appender_column_type(b->app, c);
    if (duckdb_get_type_id(lts[c]) == DUCKDB_TYPE_DECIMAL) b->cols[c].dec_width = duckdb_decimal_width(lts[c]);
  }
  b->loader = ml_wh_loader(wh);
  b->chunk = b->pool[0] = duckdb_create_data_chunk(lts, n);
  b->n_pool = 1;
  if (!b->chunk) {
    ml_batch_close(b);
    return ml_err_set(err, ML_ERR_NOMEM, "out of memory creating a data chunk");
  }
  if (b->loader) {
    /* the appender only told the column types: it never holds rows here */
    duckdb_appender_destroy(&b->app);
    ml_buf target = ML_BUF_INIT;
    ml_sql_qualified_in(&target, catalog, schema, table);
    ml_status st = ml_buf_ok(&target) ? ml_feed_sink_init(&b->sink, b->loader, wh, target.data, b->table, lts, n, give_back, b, err)
                                      : ml_err_nomem(err);
    ml_buf_free(&target);
    b->has_sink = st == ML_OK;
    if (st != ML_OK) {
      ml_batch_close(b);
      return st;
    }
  }
  chunk_prepare(b);
  *out = b;
  return ML_OK;
}

void ml_batch_close(ml_batch *b) {
  if (!b) return;
  /* Chunks still queued refer to this batch.  Outside a transaction the
   * INSERT reading them would commit them on its own when it ends, so it is
   * made to fail instead. */
  if (b->has_sink && !ml_wh_in_transaction(b->wh)) ml_feed_discard(&b->sink);
  if (b->loader) {
    ml_loader_wait(b->loader, NULL);
    ml_loader_lock(b->loader);
    ml_loader_return_extra(b->loader, b->extra);
    ml_loader_unlock(b->loader);
  }
  for (size_t i = 0; i < b->n_pool; i++)
    if (b->pool[i]) duckdb_destroy_data_chunk(&b->pool[i]);
  if (b->has_sink) ml_feed_sink_free(&b->sink);
  if (b->lts) {
    for (size_t c = 0; c < b->n_cols; c++)
      if (b->lts[c]) duckdb_destroy_logical_type(&b->lts[c]);
    free(b->lts);
  }
  if (b->app) {
    /* Destroying an appender flushes the rows it holds (DuckDB 1.4 has no
     * way to drop them).  Outside a transaction that would commit them on
     * their own, so they are flushed into one that is rolled back. */
    bool discard = !ml_wh_in_transaction(b->wh) && ml_wh_begin(b->wh, NULL) == ML_OK;
    duckdb_appender_destroy(&b->app);
    if (discard) ml_wh_rollback(b->wh);
  }
  free(b->cols);
  free(b->table);
  free(b);
}

size_t ml_batch_columns(const ml_batch *b) { return b->n_cols; }
uint64_t ml_batch_rows(const ml_batch *b) { return b->total; }
size_t ml_batch_chunks(const ml_batch *b) { return b->n_pool; }

static inline void mark_valid(batch_col *col, idx_t row) { col->validity[row >> 6] |= (uint64_t)1 << (row & 63); }

#define DEFINE_PUT(name, ctype)                                    \
  void ml_batch_put_##name(ml_batch *b, size_t col, ctype v) {     \
    batch_col *c = &b->cols[col];                                  \
    ((ctype *)c->data)[b->row] = v;                                \
    mark_valid(c, b->row);                                         \
  }
DEFINE_PUT(bool, bool)
DEFINE_PUT(i16, int16_t)
DEFINE_PUT(i32, int32_t)
DEFINE_PUT(i64, int64_t)
DEFINE_PUT(u64, uint64_t)
DEFINE_PUT(f32, float)
DEFINE_PUT(f64, double)
#undef DEFINE_PUT

void ml_batch_put_i128(ml_batch *b, size_t col, uint64_t lo, int64_t hi) {
  batch_col *c = &b->cols[col];
  duckdb_hugeint *h = &((duckdb_hugeint *)c->data)[b->row];
  h->lower = lo;
  h->upper = hi;
  mark_valid(c, b->row);
}

void ml_batch_put_decimal(ml_batch *b, size_t col, uint64_t lo, int64_t hi) {
  batch_col *c = &b->cols[col];
  uint8_t w = c->dec_width;
  /* DuckDB stores DECIMAL in the smallest integer that holds `width` digits. */
  if (w <= 4) ((int16_t *)c->data)[b->row] = (int16_t)(int64_t)lo;
  else if (w <= 9) ((int32_t *)c->data)[b->row] = (int32_t)(int64_t)lo;
  else if (w <= 18) ((int64_t *)c->data)[b->row] = (int64_t)lo;
  else {
    ml_batch_put_i128(b, col, lo, hi);
    return;
  }
  mark_valid(c, b->row);
}

void ml_batch_put_str(ml_batch *b, size_t col, const char *s, size_t n) {
  batch_col *c = &b->cols[col];
  duckdb_vector_assign_string_element_len(c->vec, b->row, s, n);
  if (n > INLINED_STRING_MAX) b->chunk_bytes += n;
  mark_valid(c, b->row);
}

void ml_batch_put_null(ml_batch *b, size_t col) {
  batch_col *c = &b->cols[col];
  c->validity[b->row >> 6] &= ~((uint64_t)1 << (b->row & 63));
}

static size_t pool_index(const ml_batch *b, duckdb_data_chunk chunk) {
  size_t i = 0;
  while (i < b->n_pool - 1 && b->pool[i] != chunk) i++;
  return i;
}

/* ml_feed hands a chunk back (loader lock held) once DuckDB is done with it. */
static void give_back(void *ud, duckdb_data_chunk chunk) {
  ml_batch *b = ud;
  duckdb_data_chunk_reset(chunk);
  size_t i = pool_index(b, chunk);
  b->pool_free[i] = true;
  b->inflight_bytes -= b->pool_bytes[i];
  b->pool_bytes[i] = 0;
}

/* Loader lock held: the chunk to fill next, a free one or a new one (see
 * CHUNKS_MIN), waiting for DuckDB to give one back when neither may be had.
 * Returns CHUNKS_MAX when a new chunk could not be created. */
static size_t next_chunk(ml_batch *b) {
  for (;;) {
    for (size_t i = 0; i < b->n_pool; i++)
      if (b->pool_free[i]) return i;
    bool grow = b->n_pool < CHUNKS_MIN;
    if (!grow && b->n_pool < CHUNKS_MAX && b->inflight_bytes < GROW_BYTES_MAX && ml_loader_take_extra(b->loader)) {
      grow = true;
      b->extra++;
    }
    if (grow) {
      duckdb_data_chunk c = duckdb_create_data_chunk(b->lts, b->n_cols);
      if (!c) return CHUNKS_MAX;
      b->pool[b->n_pool] = c;
      b->pool_free[b->n_pool] = true;
      return b->n_pool++;
    }
    ml_loader_wait_progress(b->loader);
  }
}

static ml_status append_chunk(ml_batch *b, ml_err *err) {
  if (b->row == 0) return ML_OK;
  duckdb_data_chunk_set_size(b->chunk, b->row);
  if (b->loader) {
    /* accounted before the push: DuckDB may give the chunk back at once */
    ml_loader_lock(b->loader);
    b->pool_bytes[b->cur] = b->chunk_bytes;
    b->inflight_bytes += b->chunk_bytes;
    ml_loader_unlock(b->loader);
    b->chunk_bytes = 0;
    ml_status st = ml_feed_push(&b->sink, b->chunk, err);
    if (st != ML_OK) return st;
    ml_loader_lock(b->loader);
    size_t next = next_chunk(b);
    if (next < CHUNKS_MAX) b->pool_free[next] = false;
    ml_loader_unlock(b->loader);
    if (next == CHUNKS_MAX) return ml_err_set(err, ML_ERR_NOMEM, "out of memory creating a data chunk for %s", b->table);
    b->cur = next;
    b->chunk = b->pool[next];
    chunk_prepare(b);
    return ML_OK;
  }
  if (duckdb_append_data_chunk(b->app, b->chunk) != DuckDBSuccess) {
    duckdb_error_data ed = duckdb_appender_error_data(b->app);
    ml_err_set(err, ML_ERR_DB, "cannot append rows to %s: %s", b->table, ed ? duckdb_error_data_message(ed) : "?");
    if (ed) duckdb_destroy_error_data(&ed);
    return ML_ERR_DB;
  }
  duckdb_data_chunk_reset(b->chunk);
  b->chunk_bytes = 0;
  chunk_prepare(b);
  return ML_OK;
}

ml_status ml_batch_end_row(ml_batch *b, ml_err *err) {
  b->row++;
  b->total++;
  if (b->row >= b->capacity) return append_chunk(b, err);
  return ML_OK;
}

/* Moves the rows the appender holds into the transaction. */
static ml_status appender_flush(ml_batch *b, ml_err *err) {
  if (duckdb_appender_flush(b->app) != DuckDBSuccess) {
    duckdb_error_data ed = duckdb_appender_error_data(b->app);
    const char *msg = ed ? duckdb_error_data_message(ed) : "?";
    ml_status code = (strstr(msg, "No space left") || strstr(msg, "Permission denied")) ? ML_ERR_IO : ML_ERR_DB;
    ml_err_set(err, code, "cannot write rows to %s: %s", b->table, msg);
    if (ed) duckdb_destroy_error_data(&ed);
    return code;
  }
  return ML_OK;
}

ml_status ml_batch_flush(ml_batch *b, ml_err *err) {
  ml_status st = append_chunk(b, err);
  /* waiting ends the INSERT, which puts the rows in the transaction */
  if (b->loader) return st == ML_OK ? ml_loader_wait(b->loader, err) : st;
  return st == ML_OK ? appender_flush(b, err) : st;
}

ml_status ml_batch_flush_async(ml_batch *b, ml_err *err) {
  /* the next job queued ends the INSERT before it runs */
  return b->loader ? append_chunk(b, err) : ml_batch_flush(b, err);
}
