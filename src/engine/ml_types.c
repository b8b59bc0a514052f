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

duckdb_logical_type ml_type_logical(ml_type t) {
  duckdb_type base;
  switch (t.id) {
  case ML_TYPE_BOOLEAN: base = DUCKDB_TYPE_BOOLEAN; break;
  case ML_TYPE_SMALLINT: base = DUCKDB_TYPE_SMALLINT; break;
  case ML_TYPE_INTEGER: base = DUCKDB_TYPE_INTEGER; break;
  case ML_TYPE_BIGINT: base = DUCKDB_TYPE_BIGINT; break;
  case ML_TYPE_FLOAT: base = DUCKDB_TYPE_FLOAT; break;
  case ML_TYPE_DOUBLE: base = DUCKDB_TYPE_DOUBLE; break;
  case ML_TYPE_DECIMAL: return duckdb_create_decimal_type(t.width, t.scale);
  case ML_TYPE_JSON: {
    duckdb_logical_type lt = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    duckdb_logical_type_set_alias(lt, "JSON");
    return lt;
  }
  case ML_TYPE_BLOB: base = DUCKDB_TYPE_BLOB; break;
  case ML_TYPE_DATE: base = DUCKDB_TYPE_DATE; break;
  case ML_TYPE_TIME: base = DUCKDB_TYPE_TIME; break;
  case ML_TYPE_TIMETZ: base = DUCKDB_TYPE_TIME_TZ; break;
  case ML_TYPE_TIMESTAMP: base = DUCKDB_TYPE_TIMESTAMP; break;
  case ML_TYPE_TIMESTAMPTZ: base = DUCKDB_TYPE_TIMESTAMP_TZ; break;
  case ML_TYPE_UUID: base = DUCKDB_TYPE_UUID; break;
  case ML_TYPE_VARCHAR:
  default: base = DUCKDB_TYPE_VARCHAR; break;
  }
  return duckdb_create_logical_type(base);
}

bool ml_type_from_logical(duckdb_logical_type lt, ml_type *out) {
  char *alias = duckdb_logical_type_get_alias(lt);
  bool is_json = alias && !strcmp(alias, "JSON");
  duckdb_free(alias);
  if (is_json) {
    *out = ml_type_of(ML_TYPE_JSON);
    return true;
  }
  switch (duckdb_get_type_id(lt)) {
  case DUCKDB_TYPE_BOOLEAN: *out = ml_type_of(ML_TYPE_BOOLEAN); return true;
  case DUCKDB_TYPE_SMALLINT: *out = ml_type_of(ML_TYPE_SMALLINT); return true;
  case DUCKDB_TYPE_INTEGER: *out = ml_type_of(ML_TYPE_INTEGER); return true;
  case DUCKDB_TYPE_BIGINT: *out = ml_type_of(ML_TYPE_BIGINT); return true;
  case DUCKDB_TYPE_FLOAT: *out = ml_type_of(ML_TYPE_FLOAT); return true;
  case DUCKDB_TYPE_DOUBLE: *out = ml_type_of(ML_TYPE_DOUBLE); return true;
  case DUCKDB_TYPE_DECIMAL:
    *out = ml_type_decimal(duckdb_decimal_width(lt), duckdb_decimal_scale(lt));
    return true;
  case DUCKDB_TYPE_VARCHAR: *out = ml_type_of(ML_TYPE_VARCHAR); return true;
  case DUCKDB_TYPE_BLOB: *out = ml_type_of(ML_TYPE_BLOB); return true;
  case DUCKDB_TYPE_DATE: *out = ml_type_of(ML_TYPE_DATE); return true;
  case DUCKDB_TYPE_TIME: *out = ml_type_of(ML_TYPE_TIME); return true;
  case DUCKDB_TYPE_TIME_TZ: *out = ml_type_of(ML_TYPE_TIMETZ); return true;
  case DUCKDB_TYPE_TIMESTAMP: *out = ml_type_of(ML_TYPE_TIMESTAMP); return true;
  case DUCKDB_TYPE_TIMESTAMP_TZ: *out = ml_type_of(ML_TYPE_TIMESTAMPTZ); return true;
  case DUCKDB_TYPE_UUID: *out = ml_type_of(ML_TYPE_UUID); return true;
  default: return false;
  }
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
