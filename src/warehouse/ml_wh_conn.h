/* ml_wh_conn: the DuckDB connection behind an ml_wh, for the warehouse
 * layer's own modules (ml_batch, ml_rows) and the unit tests.  Kept out of
 * ml_wh.h so that the layers above include no DuckDB header: anything they
 * need from DuckDB is a function of ml_wh (tests/layers.sh checks that no
 * file outside src/warehouse includes a header that pulls duckdb.h in). */
#ifndef ML_WH_CONN_H
#define ML_WH_CONN_H

#include <duckdb.h>

#include "ml_wh.h"

/* Borrowed; valid until ml_wh_close.  With background_append, call
 * ml_wh_sync before using the connection directly. */
duckdb_connection ml_wh_conn(ml_wh *wh);

#endif
