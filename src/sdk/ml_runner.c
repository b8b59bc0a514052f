#include "ml_runner.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/ml_file.h"
#include "../warehouse/ml_loader.h"
#include "../warehouse/ml_wh.h"
#include "mallard.h"
#include "ml_apply.h"
#include "ml_build.h"
#include "ml_pyrun.h"
#include "ml_sdk.h"

#define SCHEMA "tester"
#define DESCRIPTOR "mallard_connector_descriptor"

typedef struct run {
  const ml_runner_opts *o;
  char dir[PATH_MAX]; /* absolute */
  char files[PATH_MAX + 16];
  char db[PATH_MAX + 32];
  char state_path[PATH_MAX + 32];
  ml_apply *apply;
  mallard_ctx *ctx;
  double started;
  double last_progress;
  bool progress_shown;
  unsigned ops_since_check;
  bool updating; /* update() was started: the summary's counts mean something */
} run;

static void summary(struct run *r, bool ok, const ml_err *err);

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void clear_progress(run *r) {
  if (r->progress_shown && r->o->progress) {
    fputs("\r\033[K", r->o->progress);
    fflush(r->o->progress);
    r->progress_shown = false;
  }
}

static const char *level_name(int level) {
  switch (level) {
  case MALLARD_FINE: return "FINE";
  case MALLARD_WARNING: return "WARNING";
  case MALLARD_SEVERE: return "SEVERE";
  default: return "INFO";
  }
}

/* "HH:MM:SS.mmm LEVEL message", local time as `fivetran debug` shows it;
 * every line of a multi-line message (a traceback) carries time and level,
 * so that a filter on the level keeps all of it. */
static void log_line(void *ud, int level, const char *msg) {
  run *r = ud;
  clear_progress(r);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  localtime_r(&ts.tv_sec, &tm);
  char stamp[32];
  snprintf(stamp, sizeof stamp, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
  const char *name = level_name(level);
  for (const char *p = msg;;) {
    const char *nl = strchr(p, '\n');
    int n = nl ? (int)(nl - p) : (int)strlen(p);
    fprintf(r->o->out, "%s %s %.*s\n", stamp, name, n, p);
    if (!nl) break;
    p = nl + 1;
  }
  fflush(r->o->out);
}

static void logf_(run *r, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(run *r, int level, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  log_line(r, level, msg);
}

static void apply_log(void *ud, int level, const char *msg) { log_line(ud, level, msg); }

static ml_status save_state(void *ud, const char *json, size_t len, ml_err *err) {
  run *r = ud;
  ml_status st = ml_file_write_atomic(r->state_path, json, len, err);
  if (st == ML_OK) logf_(r, MALLARD_FINE, "checkpoint: state saved to %s: %.200s", r->state_path, json);
  if (st == ML_OK && r->o->on_state_saved) r->o->on_state_saved(r->o->on_state_saved_ud, json, len);
  return st;
}

/* The live line: operations and operations per second of each table, at
 * most five times a second, only on a terminal. */
static void progress(void *ud) {
  run *r = ud;
  if (!r->o->progress || !r->apply) return;
  if (++r->ops_since_check < 256 && r->progress_shown) return;
  r->ops_since_check = 0;
  double t = now_s();
  if (t - r->last_progress < 0.2) return;
  r->last_progress = t;
  double el = t - r->started > 1e-3 ? t - r->started : 1e-3;
  char line[512];
  size_t n = 0;
  for (size_t i = 0; i < ml_apply_tables(r->apply) && n < sizeof line - 64; i++) {
    uint64_t ops = ml_apply_table_ops(r->apply, i);
    int w = snprintf(line + n, sizeof line - n, "%s%.30s: %llu ops, %.0f/s", i ? " | " : "",
                     ml_apply_table_name(r->apply, i), (unsigned long long)ops, (double)ops / el);
    if (w < 0) break;
    n += (size_t)w < sizeof line - n ? (size_t)w : sizeof line - n - 1;
  }
  fprintf(r->o->progress, "\r\033[K%.150s", line);
  fflush(r->o->progress);
  r->progress_shown = true;
}

static ml_status read_json_file(const char *path, char **text, size_t *len, ml_err *err) {
  return ml_file_read(path, text, len, err);
}

static ml_status load_inputs(run *r, ml_err *err) {
  const ml_runner_opts *o = r->o;
  char path[PATH_MAX + 32];
  char *text = NULL;
  size_t len = 0;
  ml_status st = ML_OK;
  const char *cfg = o->config_path;
  if (!cfg) {
    snprintf(path, sizeof path, "%s/configuration.json", r->dir);
    if (ml_file_exists(path)) cfg = path;
  }
  if (cfg) {
    st = read_json_file(cfg, &text, &len, err);
    if (st == ML_OK) st = ml_sdk_load_config(r->ctx, text, len, cfg, err);
    if (st == ML_ERR_IO) err->code = st = ML_ERR_CONFIG;
    free(text);
    text = NULL;
    if (st != ML_OK) return st;
  }
  const char *state = o->state_arg;
  if (state) {
    const char *p = state;
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    if (*p == '{') return ml_sdk_load_state(r->ctx, state, strlen(state), "given with --state", err);
    st = read_json_file(state, &text, &len, err);
    if (st == ML_OK) st = ml_sdk_load_state(r->ctx, text, len, state, err);
  } else if (ml_file_exists(r->state_path)) {
    st = read_json_file(r->state_path, &text, &len, err);
    if (st == ML_OK) st = ml_sdk_load_state(r->ctx, text, len, r->state_path, err);
  }
  free(text);
  return st;
}

/* Builds (when needed) and loads the connector.  The handle is never
 * closed: libraries a connector pulls in (OpenSSL's libcrypto, for one)
 * register exit handlers, which must stay mapped until the process ends. */
static ml_status load_connector(run *r, const mallard_connector **out, ml_err *err) {
  char inc[PATH_MAX];
  ml_status st = ml_build_include_dir(inc, sizeof inc, err);
  if (st != ML_OK) return st;
  char out_dir[PATH_MAX + 32];
  snprintf(out_dir, sizeof out_dir, "%s/.build", r->files);
  for (int attempt = 0; attempt < 2; attempt++) {
    ml_build_opts bo = {r->dir, out_dir, inc, attempt > 0};
    char *so = NULL;
    bool rebuilt = false;
    char cmd[2048];
    if (!attempt) logf_(r, MALLARD_FINE, "checking the connector build in %s", out_dir);
    st = ml_build_connector(&bo, &so, &rebuilt, cmd, sizeof cmd, err);
    if (st != ML_OK) return st;
    if (rebuilt) logf_(r, MALLARD_INFO, "built the connector: %s", cmd);
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char *why = dlerror();
      bool undefined = why && strstr(why, "undefined symbol");
      st = ml_err_set(err, ML_ERR_CONNECTOR, "cannot load %s: %s%s", so, why ? why : "unknown error",
                      undefined ? " (the connector calls a function that no library it is linked with has: add the "
                                  "library's pkg-config name to requirements.txt, e.g. libcrypto for OpenSSL)"
                                : "");
      free(so);
      return st;
    }
    const mallard_connector *c = dlsym(h, DESCRIPTOR);
    if (!c) {
      st = ml_err_set(err, ML_ERR_CONNECTOR,
                      "%s has no connector: add the line MALLARD_CONNECTOR(schema, update) to connector.c", so);
      free(so);
      return st;
    }
    free(so);
    if (c->abi_version == MALLARD_ABI_VERSION && c->size >= sizeof(mallard_connector)) {
      if (!c->update) return ml_err_set(err, ML_ERR_CONNECTOR, "MALLARD_CONNECTOR: the update function is NULL");
      *out = c;
      return ML_OK;
    }
    if (rebuilt)
      return ml_err_set(err, ML_ERR_CONNECTOR, "the connector declares SDK version %u, this mallard speaks %d",
                        c->abi_version, MALLARD_ABI_VERSION);
    /* built by another mallard: rebuild once against this header */
  }
  return ml_err_set(err, ML_ERR_CONNECTOR, "cannot load the connector");
}

/* Which kind of connector DIR holds: connector.py, or C sources.  Both is
 * an error: mallard would have to guess which one the user means. */
static ml_status connector_kind(run *r, bool *python, ml_err *err) {
  char py[PATH_MAX + 16];
  snprintf(py, sizeof py, "%s/connector.py", r->dir);
  *python = ml_file_exists(py);
  if (!*python) return ML_OK;
  char c_file[256] = "";
  ml_build_c_source(r->dir, c_file, sizeof c_file);
  if (c_file[0])
    return ml_err_set(err, ML_ERR_CONFIG,
                      "%s holds both a Python connector (connector.py) and a C connector (%s): keep one of them "
                      "in the directory",
                      r->dir, c_file);
  return ML_OK;
}

/* Starts connector.py in its child process, handing it the configuration
 * and the state loaded by load_inputs. */
static ml_status start_python(run *r, ml_pyrun **out, ml_err *err) {
  char python[PATH_MAX], sdk[PATH_MAX];
  ml_status st = ml_pyrun_find_python(r->o->python, python, sizeof python, err);
  if (st == ML_OK) st = ml_pyrun_sdk_dir(sdk, sizeof sdk, err);
  if (st != ML_OK) return st;
  ml_buf input = ML_BUF_INIT;
  ml_buf_puts(&input, "{\"configuration\":");
  ml_sdk_config_json(r->ctx, &input);
  const char *state = mallard_state_json(r->ctx);
  ml_buf_puts(&input, ",\"state\":");
  ml_buf_puts(&input, state ? state : "{}");
  ml_buf_putc(&input, '}');
  if (!ml_buf_ok(&input) || !state) st = ml_err_nomem(err);
  if (st == ML_OK) {
    logf_(r, MALLARD_FINE, "running connector.py with %s (SDK module from %s)", python, sdk);
    ml_pyrun_opts po = {r->dir, python, sdk, input.data, r->o->stop};
    st = ml_pyrun_start(&po, out, err);
  }
  ml_buf_free(&input);
  return st;
}

static void summary(run *r, bool ok, const ml_err *err) {
  clear_progress(r);
  FILE *out = r->o->out;
  ml_apply_counts c = {0};
  if (r->apply) c = ml_apply_totals(r->apply);
  /* a run that failed before update() has no counts to show */
  if (r->updating || ok)
    fprintf(out,
          "\nOperation       | Calls\n"
          "----------------+------\n"
          "Upserts         | %llu\nUpdates         | %llu\nDeletes         | %llu\n"
          "Truncates       | %llu\nSchema changes  | %llu\nCheckpoints     | %llu\n",
          (unsigned long long)c.upserts, (unsigned long long)c.updates, (unsigned long long)c.deletes,
          (unsigned long long)c.truncates, (unsigned long long)c.schema_changes, (unsigned long long)c.checkpoints);
  if (ok) fprintf(out, "Sync SUCCEEDED\n");
  else fprintf(out, "Sync FAILED: %s\n", err->msg);
  fflush(out);
}

/* Where the sync's time went (as `mallard write`'s summary says it): this
 * thread runs the connector (a C connector's code and mallard's handling of
 * its operations, or for a Python connector the decoding of what its process
 * sends), the warehouse's loader thread stores.  secs: the sync's wall time. */
static void log_time_split(run *r, ml_wh *wh, double secs) {
  ml_loader *loader = ml_wh_loader(wh);
  if (!loader) return;
  ml_loader_times t;
  ml_loader_times_get(loader, &t);
  logf_(r, MALLARD_INFO,
        "time (%.2f s): connector side %.2f s CPU, waited %.2f s for storage; storage thread %.2f s CPU, waited "
        "%.2f s for operations; bound by %s",
        secs, t.caller_cpu_s, t.owner_wait_s, t.loader_cpu_s, t.loader_idle_s,
        t.owner_wait_s > t.loader_idle_s ? "storage" : "the connector");
}

ml_status ml_runner_debug(const ml_runner_opts *o, bool *aborted, ml_err *err) {
  if (aborted) *aborted = false;
  run r;
  memset(&r, 0, sizeof r);
  r.o = o;
  r.started = now_s();
  if (!realpath(o->dir, r.dir)) {
    ml_err_set(err, ML_ERR_INPUT, "cannot use the connector directory %s: %s", o->dir, strerror(errno));
    summary(&r, false, err);
    return err->code;
  }
  snprintf(r.files, sizeof r.files, "%s/files", r.dir);
  snprintf(r.db, sizeof r.db, "%s/warehouse.db", r.files);
  snprintf(r.state_path, sizeof r.state_path, "%s/state.json", r.files);
  ml_sdk_hooks hooks = {&r, log_line, save_state, progress};
  r.ctx = ml_sdk_new(&hooks, o->stop);
  ml_status st = r.ctx ? ML_OK : ml_err_nomem(err);
  if (st == ML_OK && o->commit_interval_ms >= 0) ml_sdk_set_commit_interval(r.ctx, o->commit_interval_ms);
  if (st == ML_OK) st = load_inputs(&r, err);
  /* what files/state.json holds before this run saves anything */
  if (st == ML_OK && o->on_state_saved && ml_file_exists(r.state_path)) {
    char *text = NULL;
    size_t len = 0;
    ml_err ignored;
    if (ml_file_read(r.state_path, &text, &len, &ignored) == ML_OK) o->on_state_saved(o->on_state_saved_ud, text, len);
    free(text);
  }
  const mallard_connector *conn = NULL;
  ml_pyrun *py = NULL;
  bool python = false;
  if (st == ML_OK) st = connector_kind(&r, &python, err);
  /* before the warehouse starts its threads: the Python child is forked */
  if (st == ML_OK) st = python ? start_python(&r, &py, err) : load_connector(&r, &conn, err);
  ml_wh *wh = NULL;
  if (st == ML_OK) {
    /* staging appends on one DuckDB thread (the loader), the set-wise
     * apply statements with all of them (see ml_dest_open); the first
     * apply of a transaction lifts the bound until its commit, so with
     * upserts applied ahead (ml_apply_plan_ahead) the appends after it
     * may take the second thread too.  No append
     * memory bound here: it made the C path 8-10% slower without lowering
     * its peak (docs/performance.md, issue 16) */
    ml_wh_options wo = {.create_dirs = true,
                        .background_append = true,
                        .threads = "1",
                        .threads_liftable = true,
                        .vacuum_after_deletes = true};
    st = ml_wh_open(r.db, &wo, &wh, err);
  }
  if (st == ML_OK) st = ml_apply_open(wh, SCHEMA, apply_log, &r, &r.apply, err);
  /* The connector runs in its directory, so that it can open its own files
   * by relative names; the caller's directory is restored afterwards. */
  int cwd = -1;
  if (st == ML_OK) {
    cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cwd < 0 || chdir(r.dir) != 0)
      st = ml_err_set(err, ML_ERR_IO, "cannot change to the connector directory %s: %s", r.dir, strerror(errno));
  }
  if (st == ML_OK) {
    logf_(&r, MALLARD_INFO, "sync started: warehouse %s, schema %s", r.db, SCHEMA);
    st = py ? ml_sdk_run_schema_with(r.ctx, ml_pyrun_schema, py, r.apply, err)
            : ml_sdk_run_schema(r.ctx, conn->schema, r.apply, err);
  }
  if (st == ML_OK) st = ml_apply_start(r.apply, err);
  if (st == ML_OK && py) ml_pyrun_go(py);
  if (st == ML_OK) {
    r.started = now_s();
    r.updating = true;
    st = py ? ml_sdk_run_update_with(r.ctx, ml_pyrun_update, py, err) : ml_sdk_run_update(r.ctx, conn->update, err);
  }
  /* a connector that failed may still run: it is stopped before the
   * warehouse settles on its last checkpoint */
  ml_pyrun_free(py);
  if (cwd >= 0) {
    if (fchdir(cwd) != 0 && st == ML_OK)
      st = ml_err_set(err, ML_ERR_IO, "cannot return to the working directory: %s", strerror(errno));
    close(cwd);
  }
  if (st == ML_OK) st = ml_sdk_finish(r.ctx, err);
  if (st != ML_OK && r.apply) {
    ml_sdk_commit_held(r.ctx);
    ml_apply_abort(r.apply);
  }
  if (aborted && r.ctx) *aborted = ml_sdk_aborted(r.ctx);
  if (st == ML_OK) {
    double el = now_s() - r.started;
    ml_apply_counts c = ml_apply_totals(r.apply);
    uint64_t ops = c.upserts + c.updates + c.deletes;
    logf_(&r, MALLARD_INFO, "sync finished: %llu operations in %.2f s (%.0f/s)", (unsigned long long)ops, el,
          el > 0 ? (double)ops / el : 0.0);
    log_time_split(&r, wh, el);
  }
  summary(&r, st == ML_OK, err);
  ml_apply_free(r.apply);
  ml_wh_close(wh);
  ml_sdk_free(r.ctx);
  return st;
}
