/* ml_sdk's insides, for ml_sdk.c and ml_sdkschema.c only: the two files
 * behind the public API of mallard.h share one ctx and one way of reporting
 * an error, so that a schema() mistake fails the sync exactly as an
 * update() one does.  Nothing outside src/sdk/ml_sdk*.c includes this. */
#ifndef ML_SDK_INTERNAL_H
#define ML_SDK_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "../util/ml_buf.h"
#include "../util/ml_err.h"
#include "../warehouse/ml_commit.h"
#include "ml_sdk.h"
#include "ml_sdkschema.h"

/* Which connector function is running: each mallard_* call is allowed in
 * one of them only. */
typedef enum ml_sdk_phase {
  ML_SDK_PHASE_INIT,
  ML_SDK_PHASE_SCHEMA,
  ML_SDK_PHASE_UPDATE,
  ML_SDK_PHASE_DONE
} ml_sdk_phase;

struct ml_sdk_kv; /* a configuration or state entry, ml_sdk.c's own */

struct mallard_ctx {
  ml_sdk_hooks hooks;
  const volatile sig_atomic_t *stop;
  ml_sdk_phase phase;
  struct ml_sdk_kv *config;
  size_t n_config;
  struct ml_sdk_kv *state;
  size_t n_state, cap_state;
  ml_buf state_text;
  /* Checkpoints closer together than commit_interval_ms are held back (see
   * mallard_checkpoint): the state of the newest one waits here. */
  ml_buf held_state;
  long long commit_interval_ms, last_commit_ms;
  /* Every commit of the sync goes through it (created with the apply);
   * save_committed saves the newest state it acknowledged. */
  ml_commit *commits;
  ml_buf acked_state; /* newest state acknowledged and not saved yet */
  bool acked_unsaved;
  ml_sdkschema schema; /* what schema() declared, owned */
  ml_apply *apply;     /* borrowed */
  bool failed, aborted;
  ml_err fail; /* the first fatal error: the reason the sync fails */
  char last_error[1024];
};

/* A non-fatal error: the connector may handle it.  Sets the text
 * mallard_last_error returns and returns code. */
int ml_sdk_soft_error(mallard_ctx *ctx, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A fatal error: the sync fails with this reason, as status st (the first
 * one wins).  Also sets mallard_last_error's text; returns code. */
int ml_sdk_fatal(mallard_ctx *ctx, int code, ml_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ml_sdk_fatal for an allocation that failed: MALLARD_ERR_NOMEM, and the
 * sync fails with ML_ERR_NOMEM. */
int ml_sdk_fatal_nomem(mallard_ctx *ctx);

/* A NUL-terminated copy of n bytes of s (JSON strings carry their length),
 * owned by the caller; NULL when out of memory. */
char *ml_sdk_dup_n(const char *s, size_t n);

#endif
