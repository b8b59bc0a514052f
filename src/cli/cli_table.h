/* cli_table: rows of text laid out as an aligned table for a terminal, as
 * `mallard query` prints a result (docs/query.md): column widths from every
 * row, values shown on one line with control characters escaped, cut to
 * CLI_TABLE_MAX_WIDTH terminal columns, numbers aligned right. */
#ifndef CLI_TABLE_H
#define CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/ml_buf.h"
#include "../warehouse/ml_rows.h"

/* Widest a table column may get, in terminal columns; longer values are cut
 * and end with an ellipsis. */
#define CLI_TABLE_MAX_WIDTH 60

/* One cell: text[off..off+len) in cli_table.text, already escaped and cut to
 * CLI_TABLE_MAX_WIDTH; width in terminal columns. */
typedef struct cli_table_cell {
  size_t off;
  size_t len;
  size_t width;
} cli_table_cell;

/* A whole result kept for layout (column widths depend on every row).
 * Initialise with CLI_TABLE_INIT(ncols); free with cli_table_free. */
typedef struct cli_table {
  size_t ncols;
  size_t nrows;
  size_t cap_rows;
  cli_table_cell *cells; /* nrows * ncols, owned */
  ml_buf text;           /* owned */
  bool oom;              /* an allocation failed: the table is incomplete */
} cli_table;
#define CLI_TABLE_INIT(ncols) {(ncols), 0, 0, NULL, ML_BUF_INIT, false}

void cli_table_free(cli_table *t);
/* Adds the cell of row `row`, column `col` (rows are added in order). */
void cli_table_put(cli_table *t, size_t row, size_t col, const char *s, size_t n);
/* Appends header (the columns' names), separator, rows and "(N <noun>s)" to
 * out; numbers (by the columns' kinds) are aligned right. */
void cli_table_print(const cli_table *t, const ml_rows_col *cols, const char *noun, ml_buf *out);

#endif
