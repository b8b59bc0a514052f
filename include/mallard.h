/* mallard.h: the connector SDK for C.
 *
 * A connector is one C file with two functions and one registration line:
 *
 *     #include <mallard.h>
 *
 *     static int schema(mallard_ctx *ctx) {
 *       mallard_table(ctx, "hello", "id");               // primary key "id"
 *       return mallard_column(ctx, "hello", "id", MALLARD_LONG);
 *     }
 *
 *     static int update(mallard_ctx *ctx) {
 *       mallard_record *r = mallard_record_new();
 *       mallard_set_long(r, "id", 1);
 *       mallard_set_string(r, "message", "hello, world");  // inferred: STRING
 *       int rc = mallard_upsert(ctx, "hello", r);
 *       mallard_record_free(r);
 *       if (rc == MALLARD_OK) rc = mallard_checkpoint(ctx);
 *       return rc;
 *     }
 *
 *     MALLARD_CONNECTOR(schema, update)
 *
 * `mallard debug` compiles it into a shared object, loads it, calls schema()
 * then update(), and applies every operation to files/warehouse.db (schema
 * `tester`).  docs/sdk.md is the guide; this header is the reference.
 *
 * Conventions, the same for every function below:
 *  - Errors are returned, never thrown and never fatal to the process:
 *    functions return MALLARD_OK (0) or a negative mallard_status, and
 *    mallard_last_error(ctx) gives the message of the latest failure on ctx.
 *    Record setters, which have no ctx, keep their first error inside the
 *    record (mallard_record_error); the operation that receives such a record
 *    fails with that message.
 *  - A failed operation (upsert ... checkpoint), mallard_fail and a failed
 *    mallard_config_require end the sync as failed even when the connector
 *    ignores the return value: nothing after the last checkpoint is kept.
 *  - Ownership: strings passed in are borrowed for the duration of the call
 *    (mallard copies what it keeps).  Strings returned are owned by mallard
 *    and stay valid as long as stated at each function.
 *  - No global state: everything lives in the mallard_ctx the runner passes
 *    to schema() and update(), or in records the connector creates.  One
 *    ctx is used by one thread at a time.
 *  - A crash inside the connector (SIGSEGV, abort) ends the mallard process;
 *    the warehouse stays as at the last committed checkpoint because every
 *    write is transactional.
 */
#ifndef MALLARD_H
#define MALLARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#define MALLARD_EXTERN_C extern "C"
#else
#define MALLARD_EXTERN_C
#endif

/* Functions the runner exports to connectors; connectors use it too, for
 * their descriptor, so that it stays visible under -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define MALLARD_API __attribute__((visibility("default")))
#define MALLARD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MALLARD_API
#define MALLARD_PRINTF(f, a)
#endif

/* Version of the connector <-> runner interface.  The runner refuses a
 * connector built against another version (rebuilding it is enough). */
#define MALLARD_ABI_VERSION 1

/* ---- status codes ------------------------------------------------------ */
typedef enum mallard_status {
  MALLARD_OK = 0,
  MALLARD_ERR_NOMEM = -1,     /* out of memory */
  MALLARD_ERR_ARG = -2,       /* invalid argument: NULL, empty name, unparsable date, invalid JSON ... */
  MALLARD_ERR_SCHEMA = -3,    /* invalid schema declaration (unknown type, table declared twice ...) */
  MALLARD_ERR_MISSING = -4,   /* a required configuration key is missing */
  MALLARD_ERR_VALUE = -5,     /* a value does not fit its column, or a primary key value is missing */
  MALLARD_ERR_WAREHOUSE = -6, /* the DuckDB file could not be written */
  MALLARD_ERR_FAILED = -7,    /* the sync was failed by mallard_fail or by an earlier error */
  MALLARD_ERR_ABORTED = -8,   /* the run was interrupted (Ctrl-C / SIGTERM): return at once */
  MALLARD_ERR_STATE = -9      /* call at the wrong time (an operation inside schema()) */
} mallard_status;

/* ---- column types (the Fivetran SDK's names) --------------------------- */
typedef enum mallard_type {
  MALLARD_BOOLEAN = 1,    /* BOOLEAN */
  MALLARD_SHORT,          /* SMALLINT */
  MALLARD_INT,            /* INTEGER */
  MALLARD_LONG,           /* BIGINT */
  MALLARD_DECIMAL,        /* DECIMAL(p,s): declare with mallard_column_decimal */
  MALLARD_FLOAT,          /* FLOAT (4 bytes) */
  MALLARD_DOUBLE,         /* DOUBLE */
  MALLARD_NAIVE_DATE,     /* DATE */
  MALLARD_NAIVE_TIME,     /* TIME */
  MALLARD_NAIVE_DATETIME, /* TIMESTAMP (wall clock, no zone) */
  MALLARD_UTC_DATETIME,   /* TIMESTAMPTZ (an instant) */
  MALLARD_BINARY,         /* BLOB */
  MALLARD_XML,            /* VARCHAR */
  MALLARD_STRING,         /* VARCHAR */
  MALLARD_JSON            /* JSON */
} mallard_type;

typedef enum mallard_level {
  MALLARD_FINE = 0, /* shown by `mallard debug` only */
  MALLARD_INFO,
  MALLARD_WARNING,
  MALLARD_SEVERE
} mallard_level;

/* The run: configuration, state, the operations' destination.  Created by
 * the runner, passed to schema() and update(), valid only during the call. */
typedef struct mallard_ctx mallard_ctx;

/* One row of values by column name, built by the connector. */
typedef struct mallard_record mallard_record;

/* ---- registration ------------------------------------------------------ */
typedef int (*mallard_schema_fn)(mallard_ctx *ctx);
typedef int (*mallard_update_fn)(mallard_ctx *ctx);

typedef struct mallard_connector {
  uint32_t abi_version;      /* MALLARD_ABI_VERSION */
  uint32_t size;             /* sizeof(mallard_connector) */
  mallard_schema_fn schema;  /* may be NULL: no declared tables */
  mallard_update_fn update;  /* required */
} mallard_connector;

/* Defines the exported descriptor the runner looks up (dlsym) by the name
 * mallard_connector_descriptor.  Use once per connector, at file scope.
 * Both functions return MALLARD_OK or a negative value to fail the sync. */
#define MALLARD_CONNECTOR(schema_fn, update_fn)                                                     \
  MALLARD_EXTERN_C MALLARD_API const mallard_connector mallard_connector_descriptor = {            \
      MALLARD_ABI_VERSION, (uint32_t)sizeof(mallard_connector), (schema_fn), (update_fn)};

/* ---- errors and logs ----------------------------------------------------- */

/* Message of the latest failed call on ctx ("" when none).  Owned by ctx,
 * valid until the next mallard_* call on ctx. */
MALLARD_API const char *mallard_last_error(const mallard_ctx *ctx);

/* Fails the sync with a reason (printf format).  Returns MALLARD_ERR_FAILED
 * so that `return mallard_fail(ctx, "...")` ends update().  Nothing written
 * after the last checkpoint is kept. */
MALLARD_API int mallard_fail(mallard_ctx *ctx, const char *fmt, ...) MALLARD_PRINTF(2, 3);

/* Prints a log line "<LEVEL> <message>" (printf format).  Never fails. */
MALLARD_API void mallard_log(mallard_ctx *ctx, mallard_level level, const char *fmt, ...) MALLARD_PRINTF(3, 4);

/* ---- configuration (configuration.json: a flat object of strings) ------- */

/* The value of key, or NULL when the configuration has no such key.  Owned
 * by ctx, valid for the whole call of schema() / update(). */
MALLARD_API const char *mallard_config(const mallard_ctx *ctx, const char *key);

/* Like mallard_config, but a missing key is an error: *value = NULL, the
 * sync is failed ("configuration key 'KEY' is missing") and
 * MALLARD_ERR_MISSING is returned for the connector to pass on. */
MALLARD_API int mallard_config_require(mallard_ctx *ctx, const char *key, const char **value);

/* ---- state (a JSON object saved at each checkpoint) ---------------------- */

/* The current state: at the start of update() the state saved by the last
 * checkpoint of the previous run (or given with --state), "{}" on the first
 * run; afterwards including mallard_state_set* changes.  Owned by ctx, valid
 * until the next mallard_state_* or mallard_checkpoint call. */
MALLARD_API const char *mallard_state_json(mallard_ctx *ctx);

/* A top-level member of the current state: a string's text (unescaped), or
 * the JSON text of any other value ("42", "true", "{...}"); NULL when the
 * state has no such member or it is null.  Owned by ctx, valid until the
 * next mallard_state_set* call. */
MALLARD_API const char *mallard_state_get(const mallard_ctx *ctx, const char *key);

/* Sets a top-level member of the state to a string (NULL: JSON null), an
 * integer, or a JSON value given as text (checked; MALLARD_ERR_ARG when it
 * is not valid JSON).  Takes effect in the state saved by the next
 * mallard_checkpoint. */
MALLARD_API int mallard_state_set(mallard_ctx *ctx, const char *key, const char *value);
MALLARD_API int mallard_state_set_long(mallard_ctx *ctx, const char *key, int64_t value);
MALLARD_API int mallard_state_set_json(mallard_ctx *ctx, const char *key, const char *json);

/* ---- schema (inside schema()) -------------------------------------------- */

/* Declares a table.  primary_key: column names separated by commas
 * ("id" or "org_id,user_id"); NULL or "" for none, in which case mallard
 * adds `_fivetran_id` (a hash of the row's values) as the primary key.
 * Declaring a table twice is MALLARD_ERR_SCHEMA. */
MALLARD_API int mallard_table(mallard_ctx *ctx, const char *table, const char *primary_key);

/* Declares a column of a declared table.  Columns not declared are created
 * from the values the connector sends (see docs/sdk.md, "Types").  Use
 * mallard_column_decimal for DECIMAL (MALLARD_DECIMAL here is an error,
 * because it needs precision and scale). */
MALLARD_API int mallard_column(mallard_ctx *ctx, const char *table, const char *column, mallard_type type);
/* DECIMAL(precision, scale): 1 <= precision <= 38, 0 <= scale <= precision. */
MALLARD_API int mallard_column_decimal(mallard_ctx *ctx, const char *table, const char *column, int precision,
                                       int scale);

/* The whole schema as JSON, the Fivetran SDK's shape:
 *   [{"table": "t", "primary_key": ["id"],
 *     "columns": {"id": "LONG", "amount": {"type": "DECIMAL", "precision": 10, "scale": 2}}}]
 * Unknown keys or types, DECIMAL without precision/scale, or a table
 * declared twice are MALLARD_ERR_SCHEMA with a message naming them. */
MALLARD_API int mallard_schema_json(mallard_ctx *ctx, const char *json);

/* ---- records --------------------------------------------------------------- */

/* A new empty record, or NULL when out of memory.  Owned by the caller:
 * free it with mallard_record_free.  Operations copy what they need, so a
 * record may be cleared and reused right after an operation returns. */
MALLARD_API mallard_record *mallard_record_new(void);
MALLARD_API void mallard_record_free(mallard_record *r); /* NULL is fine */
/* Removes every value (and a remembered error), keeping the memory. */
MALLARD_API void mallard_record_clear(mallard_record *r);
/* The first error of a setter on r since it was created or cleared, or NULL.
 * Owned by r. */
MALLARD_API const char *mallard_record_error(const mallard_record *r);

/* Setters: each sets one column's value, replacing an earlier value of the
 * same column.  Names and values are copied.  They return MALLARD_OK, or
 * MALLARD_ERR_ARG / MALLARD_ERR_NOMEM (also remembered in the record). */
MALLARD_API int mallard_set_null(mallard_record *r, const char *column);
MALLARD_API int mallard_set_string(mallard_record *r, const char *column, const char *value); /* NULL: null */
MALLARD_API int mallard_set_stringn(mallard_record *r, const char *column, const char *value, size_t len);
MALLARD_API int mallard_set_long(mallard_record *r, const char *column, int64_t value);
MALLARD_API int mallard_set_double(mallard_record *r, const char *column, double value);
MALLARD_API int mallard_set_bool(mallard_record *r, const char *column, int value); /* 0 false, else true */
/* Decimal text: "-12.345", "1e3".  Exact into DECIMAL columns. */
MALLARD_API int mallard_set_decimal(mallard_record *r, const char *column, const char *text);
/* "YYYY-MM-DD" */
MALLARD_API int mallard_set_date(mallard_record *r, const char *column, const char *text);
/* "HH:MM[:SS[.ffffff]]" */
MALLARD_API int mallard_set_time(mallard_record *r, const char *column, const char *text);
/* "YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]]": wall-clock time; an offset, if
 * written, is ignored. */
MALLARD_API int mallard_set_naive_datetime(mallard_record *r, const char *column, const char *text);
/* "YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z|+HH:MM]": an instant; without an
 * offset the time is UTC. */
MALLARD_API int mallard_set_utc_datetime(mallard_record *r, const char *column, const char *text);
/* An instant as microseconds since 1970-01-01T00:00:00Z. */
MALLARD_API int mallard_set_utc_micros(mallard_record *r, const char *column, int64_t micros);
MALLARD_API int mallard_set_binary(mallard_record *r, const char *column, const void *data, size_t len);
/* Any JSON value as text (checked: MALLARD_ERR_ARG when invalid). */
MALLARD_API int mallard_set_json(mallard_record *r, const char *column, const char *json);

/* Sets one value per member of a JSON object (text of len bytes): strings
 * as strings, integers as longs, other numbers as doubles (their exact text
 * is kept for DECIMAL and STRING columns), true/false as booleans, null as
 * null, objects and arrays as JSON.  MALLARD_ERR_ARG when not an object. */
MALLARD_API int mallard_set_from_json(mallard_record *r, const char *json, size_t len);

/* Removes a column's value (absent, not null).  Absent is fine. */
MALLARD_API void mallard_unset(mallard_record *r, const char *column);
/* Whether the record has a value (possibly null) for column. */
MALLARD_API int mallard_has(const mallard_record *r, const char *column);
/* A value as text: strings as they are, numbers and dates in their usual
 * text, booleans "true"/"false", JSON as its text, binary as base64; NULL
 * when absent or null.  Owned by r, valid until r changes or the next
 * mallard_get_text call on r. */
MALLARD_API const char *mallard_get_text(const mallard_record *r, const char *column);

/* ---- operations (inside update()) ---------------------------------------- */

/* Inserts the row, or replaces the whole row with the same primary key
 * (columns not in row become NULL) and revives it if it was deleted. */
MALLARD_API int mallard_upsert(mallard_ctx *ctx, const char *table, const mallard_record *row);
/* Changes only the columns in row of the row with that primary key; no such
 * row: nothing happens. */
MALLARD_API int mallard_update(mallard_ctx *ctx, const char *table, const mallard_record *row);
/* Soft-deletes (_fivetran_deleted = true) the row whose primary key is in
 * keys (other columns are ignored); no such row: nothing happens. */
MALLARD_API int mallard_delete(mallard_ctx *ctx, const char *table, const mallard_record *keys);
/* Soft-deletes every row of the table written before this call; rows
 * upserted after it stay. */
MALLARD_API int mallard_truncate(mallard_ctx *ctx, const char *table);
/* Makes everything before it durable (one DuckDB commit), then saves the
 * current state (mallard_state_json) to files/state.json atomically.  The
 * next run starts from that state.  Checkpoints closer together than the
 * runner's commit interval (mallard debug --commit-interval-ms, default
 * 1000) are committed together: the state of such a checkpoint is saved
 * when the next commit (or a failure, truncate or schema change) has made
 * everything before it durable; only a killed process can then restart
 * from an earlier checkpoint (docs/sdk.md, "Grouped checkpoints"). */
MALLARD_API int mallard_checkpoint(mallard_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
