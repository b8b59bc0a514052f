#include "ml_types.h"

#include <stdio.h>
#include <string.h>

bool ml_type_equal(ml_type a, ml_type b) {
  if (a.id != b.id) return false;
  return a.id != ML_TYPE_DECIMAL || (a.width == b.width && a.scale == b.scale);
}

static const char *const type_sql[ML_TYPE_COUNT_] = {
    [ML_TYPE_NULL] = "NULL",          [ML_TYPE_BOOLEAN] = "BOOLEAN",     [ML_TYPE_SMALLINT] = "SMALLINT",
    [ML_TYPE_INTEGER] = "INTEGER",    [ML_TYPE_BIGINT] = "BIGINT",       [ML_TYPE_FLOAT] = "FLOAT",
    [ML_TYPE_DOUBLE] = "DOUBLE",      [ML_TYPE_DECIMAL] = "DECIMAL",     [ML_TYPE_VARCHAR] = "VARCHAR",
    [ML_TYPE_JSON] = "JSON",          [ML_TYPE_BLOB] = "BLOB",           [ML_TYPE_DATE] = "DATE",
    [ML_TYPE_TIME] = "TIME",          [ML_TYPE_TIMETZ] = "TIMETZ",       [ML_TYPE_TIMESTAMP] = "TIMESTAMP",
    [ML_TYPE_TIMESTAMPTZ] = "TIMESTAMPTZ", [ML_TYPE_UUID] = "UUID",
};

const char *ml_type_sql(ml_type t, char buf[32]) {
  if (t.id == ML_TYPE_DECIMAL) {
    snprintf(buf, 32, "DECIMAL(%u,%u)", t.width, t.scale);
    return buf;
  }
  return (unsigned)t.id < ML_TYPE_COUNT_ ? type_sql[t.id] : "VARCHAR";
}

bool ml_type_parse(const char *sql, ml_type *out) {
  unsigned width, scale;
  if (sscanf(sql, "DECIMAL(%u,%u)", &width, &scale) == 2 && width >= 1 && width <= 38 && scale <= width) {
    /* exactly as ml_type_sql spells it, nothing before or after */
    ml_type t = ml_type_decimal((uint8_t)width, (uint8_t)scale);
    char buf[32];
    if (strcmp(ml_type_sql(t, buf), sql) != 0) return false;
    *out = t;
    return true;
  }
  /* from 1: ML_TYPE_NULL is never a column's type */
  for (int id = 1; id < ML_TYPE_COUNT_; id++)
    if (id != ML_TYPE_DECIMAL && !strcmp(sql, type_sql[id])) {
      *out = ml_type_of((ml_type_id)id);
      return true;
    }
  return false;
}

static int int_rank(ml_type_id id) {
  return id == ML_TYPE_SMALLINT ? 1 : id == ML_TYPE_INTEGER ? 2 : id == ML_TYPE_BIGINT ? 3 : 0;
}

ml_type ml_type_widen(ml_type seen, ml_type value) {
  /* A lattice: NULL < BOOLEAN, BIGINT < DOUBLE < ... < JSON < VARCHAR.
   * VARCHAR holds anything as text (objects as their JSON text); JSON holds
   * any JSON value, so numbers and booleans that mix become JSON; existing
   * text is not necessarily JSON, so VARCHAR never becomes JSON. */
  if (seen.id == ML_TYPE_NULL) return value;
  if (value.id == ML_TYPE_NULL || ml_type_equal(seen, value)) return seen;
  if (seen.id == ML_TYPE_VARCHAR || value.id == ML_TYPE_VARCHAR) return ml_type_of(ML_TYPE_VARCHAR);
  /* integers widen to the larger integer, any float makes a DOUBLE */
  int seen_int = int_rank(seen.id), value_int = int_rank(value.id);
  if (seen_int && value_int) return seen_int > value_int ? seen : value;
  bool seen_num = seen_int || seen.id == ML_TYPE_FLOAT || seen.id == ML_TYPE_DOUBLE;
  bool value_num = value_int || value.id == ML_TYPE_FLOAT || value.id == ML_TYPE_DOUBLE;
  if (seen_num && value_num) return ml_type_of(ML_TYPE_DOUBLE);
  bool seen_json_ok = seen_num || seen.id == ML_TYPE_BOOLEAN || seen.id == ML_TYPE_JSON;
  bool value_json_ok = value_num || value.id == ML_TYPE_BOOLEAN || value.id == ML_TYPE_JSON;
  return ml_type_of(seen_json_ok && value_json_ok ? ML_TYPE_JSON : ML_TYPE_VARCHAR);
}
