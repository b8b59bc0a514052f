/* ml_batch: rows on their way into one DuckDB table, collected column by
 * column in DuckDB data chunks and handed over a full chunk at a time (never
 * one INSERT per row): when the warehouse has a background loader, to a
 * streaming INSERT on the loader thread (ml_feed), with several chunks in
 * flight while the next one fills; otherwise to DuckDB's appender on the
 * caller's thread.
 *
 * Lifecycle: ml_batch_open -> for each row: ml_batch_put_* for the columns
 * that have a value (others stay NULL), ml_batch_end_row -> ml_batch_flush
 * (before a COMMIT, so everything is inside the transaction) -> ml_batch_close.
 * After the target table's columns change (ALTER TABLE) the batch must be
 * flushed, closed and opened again.
 *
 * Values are written straight into the chunk's vectors; strings and blobs are
 * copied by DuckDB, so the caller's buffers may be reused as soon as a put
 * returns. */
#ifndef ML_BATCH_H
#define ML_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_wh.h"

typedef struct ml_batch ml_batch;

/* Opens a batch into catalog.schema.table (catalog NULL: the database
 * itself, see ML_WH_TEMP_CATALOG): an ml_feed sink when the warehouse has a
 * loader, else an appender.  The table must have n columns (ML_ERR_STATE
 * otherwise); its own column types say how values are stored. */
ml_status ml_batch_open(ml_wh *wh, const char *catalog, const char *schema, const char *table, size_t n,
                        ml_batch **out, ml_err *err);
/* Destroys the batch.  Rows not flushed are dropped when no transaction is
 * open; inside a transaction, rows already handed over (every full chunk)
 * go into that transaction, so a caller that wants them gone rolls it back.  Call ml_batch_flush first to keep the rows.  NULL is fine. */
void ml_batch_close(ml_batch *b);

size_t ml_batch_columns(const ml_batch *b);
/* Rows appended since open (including rows still in the chunk). */
uint64_t ml_batch_rows(const ml_batch *b);
/* Data chunks the batch has created so far: 1 without a loader; with one,
 * more while DuckDB lags behind the producer (up to 64, see ml_batch.c). */
size_t ml_batch_chunks(const ml_batch *b);

/* Setters for the current row.  col must be < ml_batch_columns and the value
 * must match the column's physical type (the caller converts). */
void ml_batch_put_bool(ml_batch *b, size_t col, bool v);
void ml_batch_put_i16(ml_batch *b, size_t col, int16_t v);
void ml_batch_put_i32(ml_batch *b, size_t col, int32_t v); /* INTEGER and DATE */
void ml_batch_put_i64(ml_batch *b, size_t col, int64_t v); /* BIGINT, TIME, TIMESTAMP(TZ), DECIMAL width 10..18 */
void ml_batch_put_u64(ml_batch *b, size_t col, uint64_t v); /* TIMETZ bits */
void ml_batch_put_f32(ml_batch *b, size_t col, float v);
void ml_batch_put_f64(ml_batch *b, size_t col, double v);
void ml_batch_put_i128(ml_batch *b, size_t col, uint64_t lo, int64_t hi); /* UUID, DECIMAL width 19..38 */
/* DECIMAL of any width from its unscaled value (lo/hi as ml_conv_decimal gives). */
void ml_batch_put_decimal(ml_batch *b, size_t col, uint64_t lo, int64_t hi);
void ml_batch_put_str(ml_batch *b, size_t col, const char *s, size_t n); /* VARCHAR, JSON, BLOB */
void ml_batch_put_null(ml_batch *b, size_t col);

/* Finishes the current row; hands the chunk over when it is full. */
ml_status ml_batch_end_row(ml_batch *b, ml_err *err);
/* Hands the partial chunk over and waits until every row is in the
 * connection's current transaction. */
ml_status ml_batch_flush(ml_batch *b, ml_err *err);
/* The same, queued on the background loader behind the rows, without waiting
 * (without a loader it is ml_batch_flush): a job queued next sees the rows in
 * the transaction.  A failure surfaces at the next ml_wh call or
 * ml_batch_flush, which wait for the loader. */
ml_status ml_batch_flush_async(ml_batch *b, ml_err *err);

#endif
