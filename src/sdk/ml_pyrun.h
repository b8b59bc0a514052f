/* ml_pyrun: runs a Python connector written for the Fivetran Connector SDK
 * (DIR/connector.py) in a child process, and plays its schema() and
 * update() for ml_sdk, so that its operations reach the warehouse through
 * the same mallard_* calls as a C connector's.
 *
 * The child is `PYTHON -c <boot> SDK_DIR` in DIR, with mallard's
 * fivetran_connector_sdk module (python/ in the source tree,
 * share/mallard/python when installed) first on its module path.  It reads
 * the configuration and state from one pipe and writes frames to another:
 *   u32 little-endian length of what follows, u8 kind, payload
 *   'S' schema() as JSON; 'O' a batch of operations (marshal, ml_marshal.h);
 *   'D' update() returned; 'E' a failure (JSON: phase, summary, traceback,
 *   where, hint).
 * Its stdout and stderr are shown as log lines marked as such.  It runs in a
 * process group of its own (Ctrl-C reaches mallard, which stops it) and
 * dies with mallard (PR_SET_PDEATHSIG).  A pipe holds at most 64 KB, so a
 * connector that produces faster than the warehouse stores waits in its
 * write: memory stays bounded on both sides.
 *
 * Lifecycle: ml_pyrun_start (before any thread exists: it forks) ->
 * ml_sdk_run_schema_with(ml_pyrun_schema) -> ml_pyrun_go ->
 * ml_sdk_run_update_with(ml_pyrun_update) -> ml_pyrun_free (stops the child
 * and its process group if it still runs). */
#ifndef ML_PYRUN_H
#define ML_PYRUN_H

#include <signal.h>
#include <stddef.h>

#include "../util/ml_err.h"
#include "mallard.h"

typedef struct ml_pyrun ml_pyrun;

typedef struct ml_pyrun_opts {
  const char *dir;         /* the connector's directory (absolute) */
  const char *python;      /* the interpreter; NULL: ml_pyrun_find_python */
  const char *sdk_dir;     /* holds fivetran_connector_sdk/ */
  const char *input_json;  /* {"configuration": {...}, "state": {...}}, copied */
  const volatile sig_atomic_t *stop; /* may be NULL */
} ml_pyrun_opts;

/* The interpreter: `given` when not NULL (it must be executable), else
 * $VIRTUAL_ENV/bin/python, else python3 on PATH.  out gets its path.
 * ML_ERR_CONFIG, naming what was tried, when there is none. */
ml_status ml_pyrun_find_python(const char *given, char *out, size_t out_size, ml_err *err);

/* The directory holding mallard's fivetran_connector_sdk module:
 * $MALLARD_PYTHON_DIR, else <exe>/../share/mallard/python (installed), else
 * the source tree's python/ that mallard was built from. */
ml_status ml_pyrun_sdk_dir(char *out, size_t out_size, ml_err *err);

/* Starts the child.  *out is owned by the caller (ml_pyrun_free). */
ml_status ml_pyrun_start(const ml_pyrun_opts *o, ml_pyrun **out, ml_err *err);

/* Lets the child go on from schema() to update(): called once mallard has
 * declared the schema and opened the warehouse, so that a run that fails
 * before never starts the connector's update (and its side effects). */
void ml_pyrun_go(ml_pyrun *p);

/* ml_sdk_call functions (ud: the ml_pyrun).  schema reads frames up to the
 * schema and declares it (mallard_schema_json); update applies every
 * operation up to 'D'.  A failure of the connector (exception, sys.exit,
 * op.error, a signal, an exit without finishing) fails the run with its
 * reason, after logging its traceback. */
int ml_pyrun_schema(mallard_ctx *ctx, void *ud);
int ml_pyrun_update(mallard_ctx *ctx, void *ud);

/* Kills the child if it still runs (SIGKILL: nothing it does afterwards
 * can matter, the run is over), reaps it and frees everything.  NULL is
 * fine. */
void ml_pyrun_free(ml_pyrun *p);

#endif
