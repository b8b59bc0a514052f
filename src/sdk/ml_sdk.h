/* ml_sdk: the mallard_ctx behind the public API of mallard.h -- the
 * configuration, the state, logs, and the operations, which it hands to an
 * ml_apply.  The schema declarations (mallard_table, mallard_column*,
 * mallard_schema_json) are ml_sdkschema's, on the same ctx
 * (ml_sdk_internal.h).
 *
 * Lifecycle (what ml_runner does):
 *   ml_sdk_new -> ml_sdk_load_config / ml_sdk_load_state ->
 *   ml_sdk_run_schema (declares the tables into the ml_apply) ->
 *   ml_apply_start -> ml_sdk_run_update -> ml_sdk_finish (or, when anything
 *   failed, ml_sdk_commit_held and ml_apply_abort) -> ml_sdk_free.
 * A ctx belongs to one run and one thread. */
#ifndef ML_SDK_H
#define ML_SDK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "../util/ml_buf.h"
#include "../util/ml_err.h"
#include "mallard.h"
#include "ml_apply.h"

typedef struct ml_sdk_hooks {
  void *ud;
  /* prints one log line of the connector (level: mallard_level); required */
  void (*log)(void *ud, int level, const char *msg);
  /* called by mallard_checkpoint after the warehouse COMMIT returned, with
   * the state to save (JSON object text); NULL: nothing is saved */
  ml_status (*save_state)(void *ud, const char *state_json, size_t len, ml_err *err);
  /* called after every operation, for progress display; may be NULL */
  void (*progress)(void *ud);
} ml_sdk_hooks;

/* hooks is copied.  stop (may be NULL) is a flag a signal handler sets: the
 * next SDK call then returns MALLARD_ERR_ABORTED and the run fails.
 * Returns NULL when out of memory. */
mallard_ctx *ml_sdk_new(const ml_sdk_hooks *hooks, const volatile sig_atomic_t *stop);
void ml_sdk_free(mallard_ctx *ctx); /* NULL is fine */

/* The configuration: a JSON object whose values are all strings.  `source`
 * names it in error messages (a file name).  ML_ERR_CONFIG when invalid. */
ml_status ml_sdk_load_config(mallard_ctx *ctx, const char *json, size_t len, const char *source, ml_err *err);
/* The previous state: a JSON object.  ML_ERR_CONFIG when invalid. */
ml_status ml_sdk_load_state(mallard_ctx *ctx, const char *json, size_t len, const char *source, ml_err *err);

/* Calls schema(ctx) (fn may be NULL) and declares the result into apply
 * (borrowed, kept by the ctx for update).  Fails (ML_ERR_CONNECTOR with the
 * reason) when fn returns non-zero or a declaration was invalid. */
ml_status ml_sdk_run_schema(mallard_ctx *ctx, mallard_schema_fn fn, ml_apply *apply, ml_err *err);

/* Calls update(ctx).  Fails with the reason when update returns non-zero,
 * an operation failed, mallard_fail was called, or a required configuration
 * key was missing (ML_ERR_CONNECTOR, or the warehouse error as it was). */
ml_status ml_sdk_run_update(mallard_ctx *ctx, mallard_update_fn fn, ml_err *err);

/* The same for a connector that is not a pair of C functions (a Python
 * connector, ml_pyrun): fn(ctx, ud) plays schema() or update(). */
typedef int (*ml_sdk_call)(mallard_ctx *ctx, void *ud);
ml_status ml_sdk_run_schema_with(mallard_ctx *ctx, ml_sdk_call fn, void *ud, ml_apply *apply, ml_err *err);
ml_status ml_sdk_run_update_with(mallard_ctx *ctx, ml_sdk_call fn, void *ud, ml_err *err);

/* Whether the stop flag is set; if so, fails the run as interrupted (as
 * the next operation would) and returns MALLARD_ERR_ABORTED, else 0.  For
 * a runner that waits on something other than SDK calls. */
int ml_sdk_interrupted(mallard_ctx *ctx);

/* Appends text to the reason of a failed run (where the failing operation
 * came from); nothing when the run has not failed or was interrupted. */
void ml_sdk_append_reason(mallard_ctx *ctx, const char *text);

/* The configuration as a JSON object of strings, appended to out. */
void ml_sdk_config_json(const mallard_ctx *ctx, ml_buf *out);

/* Replaces the whole current state with a JSON object (a Python
 * connector's checkpoint(state) gives the whole state, where C connectors
 * set members).  ML_ERR_INPUT when it is not a JSON object. */
ml_status ml_sdk_replace_state(mallard_ctx *ctx, const char *json, size_t len, ml_err *err);

/* Checkpoints within this many ms of the last commit are held back and
 * committed together (see mallard_checkpoint in ml_sdk.c); 0 commits every
 * checkpoint on its own.  Default ML_SDK_DEFAULT_COMMIT_INTERVAL_MS. */
#define ML_SDK_DEFAULT_COMMIT_INTERVAL_MS 1000
void ml_sdk_set_commit_interval(mallard_ctx *ctx, long long ms);

/* After a successful update(): applies everything (ml_apply_ready_finish)
 * and commits it (warehouse/ml_commit), then saves the newest state
 * committed: a held-back checkpoint's, or the last one committed behind. */
ml_status ml_sdk_finish(mallard_ctx *ctx, ml_err *err);
/* After a failure, before ml_apply_abort: commits the operations before a
 * held-back checkpoint and saves its state (best effort: not when the
 * warehouse itself failed; a warning is logged then).  NULL is fine. */
void ml_sdk_commit_held(mallard_ctx *ctx);

/* Whether the run was stopped by the stop flag. */
bool ml_sdk_aborted(const mallard_ctx *ctx);

#endif
