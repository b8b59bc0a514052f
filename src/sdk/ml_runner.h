/* ml_runner: `mallard debug` -- build a connector directory, load it, run
 * schema() and update() against DIR/files/warehouse.db (schema `tester`),
 * save DIR/files/state.json at each checkpoint, print the connector's log
 * lines and the summary.
 *
 * Layout of a connector directory:
 *   DIR/connector.py (a Python connector for the Fivetran SDK, run by
 *   ml_pyrun) or DIR/connector.c (any *.c), DIR/requirements.txt (pip
 *   packages for Python, pkg-config names for C),
 *   DIR/configuration.json (flat object of strings),
 *   DIR/files/warehouse.db, DIR/files/state.json, DIR/files/.build/connector.so */
#ifndef ML_RUNNER_H
#define ML_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "../util/ml_err.h"

typedef struct ml_runner_opts {
  const char *dir;         /* the connector directory */
  const char *config_path; /* NULL: DIR/configuration.json when it exists, else {} */
  const char *state_arg;   /* NULL: DIR/files/state.json when it exists; JSON text ('{'...) or a file */
  const volatile sig_atomic_t *stop; /* set by a signal handler; may be NULL */
  FILE *out;               /* log lines, summary, result line */
  FILE *progress;          /* a terminal for the live progress line, or NULL */
  long long commit_interval_ms; /* < 0: the default (ml_sdk_set_commit_interval) */
  const char *python;      /* interpreter for connector.py; NULL: see ml_pyrun_find_python */
  /* called after each state file write with the state saved; may be NULL */
  void (*on_state_saved)(void *ud, const char *json, size_t len);
  void *on_state_saved_ud;
} ml_runner_opts;

/* Runs the sync.  Prints "Sync SUCCEEDED" or "Sync FAILED: <reason>" on out
 * and returns ML_OK or the failure's status (ML_ERR_LOCKED when the
 * warehouse is held by another process); err gets the reason.  *aborted
 * (may be NULL) tells whether the stop flag ended the run. */
ml_status ml_runner_debug(const ml_runner_opts *o, bool *aborted, ml_err *err);

#endif
