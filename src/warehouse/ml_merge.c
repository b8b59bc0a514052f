#include "ml_merge.h"

#include "ml_wh.h"

void ml_merge_keys(ml_buf *q, const char *const *keys, size_t n, const char *qual, const char *sep) {
  for (size_t i = 0; i < n; i++) {
    if (i) ml_buf_puts(q, sep);
    ml_buf_puts(q, qual);
    ml_sql_ident(q, keys[i]);
  }
}

void ml_merge_match(ml_buf *q, const char *const *keys, size_t n, const char *a, const char *b, bool null_safe) {
  for (size_t i = 0; i < n; i++) {
    if (i) ml_buf_puts(q, " AND ");
    ml_buf_printf(q, "%s.", a);
    ml_sql_ident(q, keys[i]);
    ml_buf_printf(q, null_safe ? " IS NOT DISTINCT FROM %s." : " = %s.", b);
    ml_sql_ident(q, keys[i]);
  }
}

void ml_merge_rank(ml_buf *q, const char *const *keys, size_t n, const char *order_by) {
  ml_buf_puts(q, "row_number() OVER (PARTITION BY ");
  ml_merge_keys(q, keys, n, "", ", ");
  ml_buf_printf(q, " ORDER BY %s)", order_by);
}

void ml_merge_latest(ml_buf *q, const char *const *keys, size_t n, const char *order_by) {
  ml_buf_puts(q, " QUALIFY ");
  ml_merge_rank(q, keys, n, order_by);
  ml_buf_puts(q, " = 1");
}
