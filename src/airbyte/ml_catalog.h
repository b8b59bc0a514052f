/* ml_catalog: the destination's inputs other than messages: the config file,
 * the configured catalog, the SPEC, and the rules that turn Airbyte stream,
 * namespace and field names into DuckDB schema, table and column names.
 *
 * Ownership: everything an ml_catalog / ml_dest_config holds is owned by it
 * and released by its _free function; pointers into it stay valid until then. */
#ifndef ML_CATALOG_H
#define ML_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/ml_types.h"
#include "../util/ml_buf.h"
#include "../util/ml_err.h"
#include "ml_shape.h"

/* ---- names ---- */

/* Airbyte SQL-destination normalisation: lower-case ASCII letters, every other
 * character outside [a-z0-9_] (each UTF-8 character, not each byte) becomes
 * '_', and a leading digit gets a '_' prefix.  A byte that is not valid UTF-8
 * counts as one character.  A name of only such characters is still a name
 * ("-" -> "_").  Appends to out.  Returns false for an empty name (the caller
 * reports it). */
bool ml_name_normalize(const char *name, size_t len, ml_buf *out);

/* Gives each of n source names a distinct normalised name.  A name that no
 * other name collides with keeps its plain normalised form; among names that
 * normalise to the same text, the one equal to the normalised text (or else
 * the byte-wise smallest source name) keeps it, the others get "_" plus the
 * first 8 hex digits of a 64-bit FNV-1a hash of the source name (still
 * colliding: further hex digits).  The result does not depend on the order of
 * the names.  Names in `reserved` (may be NULL/0) are treated as already
 * taken by someone else (e.g. the _airbyte_* metadata columns).
 * out[i] receives a malloc'd string the caller frees.  Fails on an empty
 * name or a name given twice (ML_ERR_CONFIG naming it) or on out of memory;
 * on failure every out[i] is NULL. */
ml_status ml_names_assign(const char *const *names, size_t n, const char *const *reserved, size_t n_reserved,
                          char **out, ml_err *err);

/* ---- config ---- */

typedef struct ml_dest_config {
  char *destination_path; /* resolved file system path of the DuckDB file */
  char *schema;           /* default schema for streams without namespace ("main"), normalised like a namespace */
  char *local_root;       /* the directory that "/local" stands for */
  bool raw_tables;        /* also write legacy _airbyte_raw_<stream> tables */
  int64_t commit_interval_ms; /* group STATE commits at most this often (default 1000; 0 = commit at every STATE) */
  char *memory_limit; /* DuckDB memory_limit ("64MB", "2GB"), NULL = DuckDB's default (80% of RAM) */
  unsigned unnest_depth; /* 0: nested values stay JSON; N: flatten objects, N levels of child tables (ml_unnest.h) */
} ml_dest_config;

/* The deepest unnest_depth accepted (child tables of child tables ...). */
#define ML_UNNEST_MAX_DEPTH 8

/* Where the config is read: the two facts from outside the file that
 * destination_path depends on (ml_dest_env_detect fills them in). */
typedef struct ml_dest_env {
  const char *local_root; /* the MALLARD_LOCAL_ROOT environment variable, or NULL */
  bool in_container;      /* /local is the platform's mount: only paths under it are kept */
} ml_dest_env;

/* Reads the environment a CLI command runs in: local_root from
 * MALLARD_LOCAL_ROOT; in_container from MALLARD_CONTAINER when it is set
 * ("1"/"true"/"yes" or "0"/"false"/"no"; anything else is ML_ERR_CONFIG naming
 * the variable), else true exactly when /local is a mount point of this
 * process's mount namespace (/proc/self/mountinfo; where that cannot be read,
 * /local on another device than /).  `out` points into the environment. */
ml_status ml_dest_env_detect(ml_dest_env *out, ml_err *err);

/* Reads and validates a destination config (JSON object). Keys:
 *  destination_path (required string): as in Airbyte's DuckDB destination, a
 *    relative path or a path under /local lives under /local, and "/local" is
 *    replaced by local_root; ".." that escapes /local is an error.  Any other
 *    absolute path is used as given outside a container, and is an error
 *    when env->in_container (as in the reference destination, which keeps
 *    only /local).  "md:" (MotherDuck) paths are rejected with a clear message.
 *  schema (string, default "main", ^[A-Za-z0-9_]*$, empty means main; stored
 *    normalised: "Analytics" -> "analytics", "2024" -> "_2024")
 *  local_root (string): default: the MALLARD_LOCAL_ROOT environment variable if
 *    set, else "/local" when that directory exists (inside Airbyte's
 *    container), else "/tmp/airbyte_local" (what Airbyte mounts as /local).
 *  raw_tables (bool, default false), commit_interval_ms (integer >= 0),
 *  memory_limit (string: a number and a unit B, KB, MB, GB, TB, KiB, MiB,
 *    GiB or TiB; handed to DuckDB), unnest_depth (integer 0..ML_UNNEST_MAX_DEPTH).
 *  Unknown keys are errors naming the nearest known key (the SPEC says additionalProperties: false).  `env` (NULL: no
 *  MALLARD_LOCAL_ROOT, not in a container) is passed in so the function is pure.
 * Errors are ML_ERR_CONFIG with a message naming the key and the problem. */
ml_status ml_dest_config_parse_env(const char *text, size_t len, const ml_dest_env *env, ml_dest_config *out,
                                   ml_err *err);
/* Same, reading the file at path (errors name the file; ML_ERR_IO if unreadable). */
ml_status ml_dest_config_load_env(const char *path, const ml_dest_env *env, ml_dest_config *out, ml_err *err);
/* The two above outside a container, with MALLARD_LOCAL_ROOT = env_local_root (may be NULL). */
ml_status ml_dest_config_parse(const char *text, size_t len, const char *env_local_root, ml_dest_config *out,
                               ml_err *err);
ml_status ml_dest_config_load(const char *path, const char *env_local_root, ml_dest_config *out, ml_err *err);
void ml_dest_config_free(ml_dest_config *c);

/* The SPEC message body: {"documentationUrl": MALLARD_DOCUMENTATION_URL (set by CMake),
 * "connectionSpecification": {"$schema": draft-07's identifier, the JSON schema of the config above},
 * "supportsIncremental": true, "supportsNormalization": false, "supportsDBT": false,
 * "supported_destination_sync_modes": ["overwrite","append","append_dedup"]}.
 * Appended to out as one compact JSON object (the caller wraps it in a message). */
void ml_dest_spec_json(ml_buf *out);

/* ---- catalog ---- */

/* The column type the mapping below gives a property schema (DECIMAL(38,0)
 * for big_integer); *base64 tells a base64 string decoded into BLOB. */
ml_type ml_catalog_schema_type(const ml_json_val *schema, bool *base64);

typedef enum ml_sync_mode {
  ML_MODE_APPEND = 0,
  ML_MODE_OVERWRITE,
  ML_MODE_APPEND_DEDUP /* also "update"; "soft_delete" is refused (ml_catalog.c) */
} ml_sync_mode;

const char *ml_sync_mode_name(ml_sync_mode m);
/* Where a stream's rows are appended, before the table name: "" (append),
 * "_mallard_tmp_" (overwrite), "_mallard_stage_" (append_dedup). */
const char *ml_sync_mode_load_prefix(ml_sync_mode m);

typedef struct ml_path {
  char **parts; /* e.g. ["id"] or ["user","id"] */
  size_t n;
} ml_path;

typedef struct ml_field {
  char *source;  /* property name in the JSON schema */
  char *column;  /* distinct normalised column name */
  ml_type type;
  bool base64;     /* contentEncoding: base64: decode into BLOB */
  ml_shape shape;  /* what the property's schema declares inside (for unnesting) */
} ml_field;

typedef struct ml_stream_def {
  char *name;       /* as in the catalog */
  char *ns;         /* namespace, NULL when absent */
  char *schema;     /* DuckDB schema: normalised namespace, or the (normalised) default schema */
  char *table;      /* distinct normalised table name within the schema */
  ml_sync_mode mode;
  ml_field *fields; /* declared properties in catalog order */
  size_t n_fields;
  ml_path *primary_key; /* may be empty (NULL, 0) */
  size_t n_primary_key;
  ml_path cursor;       /* n == 0 when none */
  int64_t generation_id;
  int64_t minimum_generation_id;
  int64_t sync_id;
} ml_stream_def;

typedef struct ml_catalog {
  ml_stream_def *streams;
  size_t n_streams;
} ml_catalog;

/* Parses a configured catalog.  Type mapping (docs/types.md documents it):
 *  string VARCHAR; string+format date DATE; string+format date-time (or
 *  "datetime", "timestamp") TIMESTAMPTZ, or TIMESTAMP with airbyte_type
 *  timestamp_without_timezone; string+format time TIMETZ, or TIME with
 *  airbyte_type time_without_timezone; integer or airbyte_type integer/big_integer BIGINT;
 *  number DOUBLE; boolean BOOLEAN; object, array, oneOf/anyOf/allOf, several
 *  non-null types, or no type JSON; ["null", X] is X; string+contentEncoding
 *  base64 BLOB; v1 {"$ref": "WellKnownTypes.json#/definitions/T"} (with or
 *  without '/' after '#') for T in String, BinaryData(BLOB), Boolean, Date,
 *  TimestampWithTimezone, TimestampWithoutTimezone, TimeWithTimezone,
 *  TimeWithoutTimezone, Number, Integer; another $ref JSON.  A schema of
 *  `true` or {} is JSON; an airbyte_type without "type" is honoured.
 * Stream schema/table names are normalised and made distinct (per schema;
 * the default schema is normalised too, so "Main" and namespace "main" are one
 * schema).  The table suffix hashes the stream name, or "<namespace>.<name>"
 * when namespaces that normalise alike bring the same name into one schema.
 * Field columns are made distinct per stream and never take the names of the
 * metadata columns (_airbyte_raw_id, _airbyte_extracted_at, _airbyte_meta,
 * _airbyte_generation_id).  A property key given twice is one field (the last
 * definition).  An empty primary_key / cursor_field falls back to the stream's
 * source_defined_primary_key / default_cursor_field.  Unknown keys are
 * ignored.  Errors (ML_ERR_CONFIG, naming the stream): not JSON, no "streams",
 * a stream without name or json_schema, an empty property name, an unknown
 * destination_sync_mode, append_dedup without primary_key, malformed
 * primary_key/cursor_field/generation ids, the same (namespace, name) twice.
 * On failure *out is empty (nothing to free). */
ml_status ml_catalog_parse(const char *text, size_t len, const char *default_schema, ml_catalog *out, ml_err *err);
ml_status ml_catalog_load(const char *path, const char *default_schema, ml_catalog *out, ml_err *err);
void ml_catalog_free(ml_catalog *c);

/* The stream with this namespace (NULL = none) and name, or NULL. */
const ml_stream_def *ml_catalog_find(const ml_catalog *c, const char *ns, const char *name);

#endif
