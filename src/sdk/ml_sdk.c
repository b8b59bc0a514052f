#include "ml_sdk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../json/ml_json.h"
#include "../util/ml_array.h"
#include "../util/ml_buf.h"
#include "../warehouse/ml_commit.h"
#include "ml_sdk_internal.h"
#include "ml_sdkschema.h"

/* A configuration entry or a state entry. */
typedef struct ml_sdk_kv {
  char *key;
  char *json; /* state: the value's JSON text; config: NULL */
  char *str;  /* config value, or a state string's unescaped text (NULL for other JSON) */
} kv;

/* The plan of one commit (warehouse/ml_commit): the statements that apply a
 * checkpoint's operations when it commits behind the connector (NULL when
 * they were applied on this thread), and the state to save once the COMMIT
 * returned (none for the last commit of a sync without a held checkpoint). */
typedef struct sdk_plan {
  ml_apply_plan *stmts; /* owned */
  ml_buf state;
  bool has_state;
} sdk_plan;

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

mallard_ctx *ml_sdk_new(const ml_sdk_hooks *hooks, const volatile sig_atomic_t *stop) {
  mallard_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return NULL;
  ctx->hooks = *hooks;
  ctx->stop = stop;
  ctx->commit_interval_ms = ML_SDK_DEFAULT_COMMIT_INTERVAL_MS;
  ctx->last_commit_ms = mono_ms();
  return ctx;
}

void ml_sdk_set_commit_interval(mallard_ctx *ctx, long long ms) { ctx->commit_interval_ms = ms < 0 ? 0 : ms; }

static void kv_free(kv *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(v[i].key);
    free(v[i].json);
    free(v[i].str);
  }
  free(v);
}

void ml_sdk_free(mallard_ctx *ctx) {
  if (!ctx) return;
  kv_free(ctx->config, ctx->n_config);
  kv_free(ctx->state, ctx->n_state);
  ml_buf_free(&ctx->state_text);
  ml_buf_free(&ctx->held_state);
  /* the warehouse is closed by now: no loader job is left (ml_commit_free) */
  ml_commit_free(ctx->commits);
  ml_buf_free(&ctx->acked_state);
  ml_sdkschema_free(&ctx->schema);
  free(ctx);
}

bool ml_sdk_aborted(const mallard_ctx *ctx) { return ctx->aborted; }

/* ---- errors ---------------------------------------------------------------------- */

int ml_sdk_soft_error(mallard_ctx *ctx, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->last_error, sizeof ctx->last_error, fmt, ap);
  va_end(ap);
  return code;
}

int ml_sdk_fatal(mallard_ctx *ctx, int code, ml_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->last_error, sizeof ctx->last_error, fmt, ap);
  va_end(ap);
  if (!ctx->failed) {
    ctx->failed = true;
    ml_err_set(&ctx->fail, st, "%s", ctx->last_error);
  }
  return code;
}

int ml_sdk_fatal_nomem(mallard_ctx *ctx) { return ml_sdk_fatal(ctx, MALLARD_ERR_NOMEM, ML_ERR_NOMEM, "out of memory"); }

/* The connector may recover from these (the state is left as it was). */
static int soft_nomem(mallard_ctx *ctx) { return ml_sdk_soft_error(ctx, MALLARD_ERR_NOMEM, "out of memory"); }

static int from_status(ml_status st) {
  switch (st) {
  case ML_OK: return MALLARD_OK;
  case ML_ERR_NOMEM: return MALLARD_ERR_NOMEM;
  case ML_ERR_INPUT: return MALLARD_ERR_VALUE;
  case ML_ERR_CONFIG: return MALLARD_ERR_SCHEMA;
  default: return MALLARD_ERR_WAREHOUSE;
  }
}

/* Common entry check of operations: already failed or interrupted. */
static int op_guard(mallard_ctx *ctx, const char *what) {
  if (ctx->stop && *ctx->stop && !ctx->aborted) {
    ctx->aborted = true;
    int sig = (int)*ctx->stop;
    return ml_sdk_fatal(ctx, MALLARD_ERR_ABORTED, ML_ERR_CONNECTOR, "interrupted by %s",
                 sig == SIGINT ? "SIGINT (Ctrl-C)" : sig == SIGTERM ? "SIGTERM" : "a signal");
  }
  if (ctx->failed) {
    snprintf(ctx->last_error, sizeof ctx->last_error, "the sync has already failed: %.900s", ctx->fail.msg);
    return ctx->aborted ? MALLARD_ERR_ABORTED : MALLARD_ERR_FAILED;
  }
  if (ctx->phase != ML_SDK_PHASE_UPDATE)
    return ml_sdk_soft_error(ctx, MALLARD_ERR_STATE, "%s is only allowed inside update()", what);
  return MALLARD_OK;
}

const char *mallard_last_error(const mallard_ctx *ctx) { return ctx ? ctx->last_error : ""; }

int mallard_fail(mallard_ctx *ctx, const char *fmt, ...) {
  if (!ctx) return MALLARD_ERR_ARG;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt ? fmt : "(no reason given)", ap);
  va_end(ap);
  return ml_sdk_fatal(ctx, MALLARD_ERR_FAILED, ML_ERR_CONNECTOR, "%s", msg);
}

void mallard_log(mallard_ctx *ctx, mallard_level level, const char *fmt, ...) {
  if (!ctx || !fmt) return;
  char small[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    ctx->hooks.log(ctx->hooks.ud, level, small);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    ctx->hooks.log(ctx->hooks.ud, level, small); /* truncated rather than lost */
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  ctx->hooks.log(ctx->hooks.ud, level, big);
  free(big);
}

/* ---- configuration ------------------------------------------------------------------ */

char *ml_sdk_dup_n(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* The configuration and the state are JSON objects the user wrote or kept:
 * both are parsed into *doc (the caller's to free, even on failure), and
 * anything else is ML_ERR_CONFIG naming the file as "<label><source>" and
 * saying what the file must be. */
static ml_status parse_object(const char *json, size_t len, const char *label, const char *source, const char *must_be,
                              ml_json_doc **doc, const ml_json_val **root, ml_err *err) {
  if (!(*doc = ml_json_doc_new())) return ml_err_nomem(err);
  if (ml_json_parse(*doc, json, len, root, err) != ML_OK) {
    ml_json_err_locate(err);
    ml_err_prefix(err, "%s%s", label, source);
    if (err) err->code = ML_ERR_CONFIG;
    return ML_ERR_CONFIG;
  }
  if ((*root)->type != ML_JSON_OBJECT) return ml_err_set(err, ML_ERR_CONFIG, "%s%s: %s", label, source, must_be);
  return ML_OK;
}

ml_status ml_sdk_load_config(mallard_ctx *ctx, const char *json, size_t len, const char *source, ml_err *err) {
  ml_json_doc *doc;
  const ml_json_val *root;
  ml_status st = parse_object(json, len, "", source, "the configuration must be a JSON object of strings", &doc, &root,
                              err);
  if (st == ML_OK) {
    kv_free(ctx->config, ctx->n_config);
    ctx->n_config = 0;
    ctx->config = calloc(root->len ? root->len : 1, sizeof *ctx->config);
    if (!ctx->config) st = ml_err_nomem(err);
    for (size_t i = 0; st == ML_OK && i < root->len; i++) {
      const ml_json_val *k = ml_json_key(root, i), *v = ml_json_member(root, i);
      if (v->type != ML_JSON_STRING) {
        st = ml_err_set(err, ML_ERR_CONFIG,
                        "%s: the value of '%s' must be a string (configuration values are strings; write \"%.*s\")",
                        source, k->u.str, (int)(v->src_len > 40 ? 40 : v->src_len), v->src);
        break;
      }
      kv *e = &ctx->config[ctx->n_config];
      e->key = ml_sdk_dup_n(k->u.str, k->len);
      e->str = ml_sdk_dup_n(v->u.str, v->len);
      if (!e->key || !e->str) {
        free(e->key);
        free(e->str);
        st = ml_err_nomem(err);
        break;
      }
      ctx->n_config++;
    }
  }
  ml_json_doc_free(doc);
  return st;
}

const char *mallard_config(const mallard_ctx *ctx, const char *key) {
  if (!ctx || !key) return NULL;
  /* the last of duplicate keys wins, as in ml_json_get */
  for (size_t i = ctx->n_config; i-- > 0;)
    if (!strcmp(ctx->config[i].key, key)) return ctx->config[i].str;
  return NULL;
}

void ml_sdk_config_json(const mallard_ctx *ctx, ml_buf *out) {
  ml_buf_putc(out, '{');
  for (size_t i = 0; i < ctx->n_config; i++) {
    if (i) ml_buf_putc(out, ',');
    ml_json_quote(out, ctx->config[i].key, strlen(ctx->config[i].key));
    ml_buf_putc(out, ':');
    ml_json_quote(out, ctx->config[i].str, strlen(ctx->config[i].str));
  }
  ml_buf_putc(out, '}');
}

int mallard_config_require(mallard_ctx *ctx, const char *key, const char **value) {
  if (value) *value = NULL;
  if (!ctx) return MALLARD_ERR_ARG;
  const char *v = mallard_config(ctx, key);
  if (!v)
    return ml_sdk_fatal(ctx, MALLARD_ERR_MISSING, ML_ERR_CONNECTOR, "configuration key '%s' is missing",
                        key ? key : "(null)");
  if (value) *value = v;
  return MALLARD_OK;
}

/* ---- state --------------------------------------------------------------------------- */

static kv *state_find(const mallard_ctx *ctx, const char *key) {
  for (size_t i = 0; i < ctx->n_state; i++)
    if (!strcmp(ctx->state[i].key, key)) return &ctx->state[i];
  return NULL;
}

/* Sets key to a JSON value (text), with str its unescaped text when it is a
 * string.  Both are copied. */
static int state_put(mallard_ctx *ctx, const char *key, const char *json, size_t json_len, const char *str,
                     size_t str_len) {
  char *j = ml_sdk_dup_n(json, json_len);
  char *s = str ? ml_sdk_dup_n(str, str_len) : NULL;
  if (!j || (str && !s)) goto nomem;
  kv *e = state_find(ctx, key);
  if (!e) {
    if (!ml_array_reserve(&ctx->state, ctx->n_state + 1, &ctx->cap_state, sizeof *ctx->state, 8)) goto nomem;
    e = &ctx->state[ctx->n_state];
    memset(e, 0, sizeof *e);
    if (!(e->key = strdup(key))) goto nomem;
    ctx->n_state++;
  }
  free(e->json);
  free(e->str);
  e->json = j;
  e->str = s;
  return MALLARD_OK;
nomem:
  free(j);
  free(s);
  return soft_nomem(ctx);
}

static int state_put_val(mallard_ctx *ctx, const char *key, const ml_json_val *v) {
  ml_buf b = ML_BUF_INIT;
  ml_jw w;
  ml_jw_init(&w, &b);
  ml_jw_val(&w, v);
  int rc = ml_buf_ok(&b) ? state_put(ctx, key, b.data, b.len, v->type == ML_JSON_STRING ? v->u.str : NULL,
                                     v->type == ML_JSON_STRING ? v->len : 0)
                         : soft_nomem(ctx);
  ml_buf_free(&b);
  return rc;
}

ml_status ml_sdk_load_state(mallard_ctx *ctx, const char *json, size_t len, const char *source, ml_err *err) {
  ml_json_doc *doc;
  const ml_json_val *root;
  ml_status st = parse_object(json, len, "state ", source, "the state must be a JSON object", &doc, &root, err);
  if (st == ML_OK) {
    for (size_t i = 0; st == ML_OK && i < root->len; i++) {
      const ml_json_val *k = ml_json_key(root, i);
      char *key = ml_sdk_dup_n(k->u.str, k->len);
      if (!key || state_put_val(ctx, key, ml_json_member(root, i)) != MALLARD_OK)
        st = ml_err_nomem(err);
      free(key);
    }
  }
  ml_json_doc_free(doc);
  return st;
}

ml_status ml_sdk_replace_state(mallard_ctx *ctx, const char *json, size_t len, ml_err *err) {
  /* the new state is built aside; the old one stays when it is invalid */
  kv *old = ctx->state;
  size_t old_n = ctx->n_state, old_cap = ctx->cap_state;
  ctx->state = NULL;
  ctx->n_state = ctx->cap_state = 0;
  ml_status st = ml_sdk_load_state(ctx, json, len, "of the checkpoint", err);
  if (st != ML_OK) {
    kv_free(ctx->state, ctx->n_state);
    ctx->state = old;
    ctx->n_state = old_n;
    ctx->cap_state = old_cap;
    if (st == ML_ERR_CONFIG) err->code = st = ML_ERR_INPUT;
    return st;
  }
  kv_free(old, old_n);
  return ML_OK;
}

const char *mallard_state_json(mallard_ctx *ctx) {
  if (!ctx) return NULL;
  ml_buf *b = &ctx->state_text;
  ml_buf_reset(b);
  ml_buf_putc(b, '{');
  for (size_t i = 0; i < ctx->n_state; i++) {
    if (i) ml_buf_putc(b, ',');
    ml_json_quote(b, ctx->state[i].key, strlen(ctx->state[i].key));
    ml_buf_putc(b, ':');
    ml_buf_puts(b, ctx->state[i].json);
  }
  ml_buf_putc(b, '}');
  return ml_buf_ok(b) ? b->data : NULL;
}

const char *mallard_state_get(const mallard_ctx *ctx, const char *key) {
  if (!ctx || !key) return NULL;
  const kv *e = state_find(ctx, key);
  if (!e || !strcmp(e->json, "null")) return NULL;
  return e->str ? e->str : e->json;
}

int mallard_state_set(mallard_ctx *ctx, const char *key, const char *value) {
  if (!ctx) return MALLARD_ERR_ARG;
  if (!key || !*key) return ml_sdk_soft_error(ctx, MALLARD_ERR_ARG, "mallard_state_set: the key is NULL or empty");
  if (!value) return state_put(ctx, key, "null", 4, NULL, 0);
  ml_buf b = ML_BUF_INIT;
  ml_json_quote(&b, value, strlen(value));
  int rc = ml_buf_ok(&b) ? state_put(ctx, key, b.data, b.len, value, strlen(value))
                         : soft_nomem(ctx);
  ml_buf_free(&b);
  return rc;
}

int mallard_state_set_long(mallard_ctx *ctx, const char *key, int64_t value) {
  if (!ctx) return MALLARD_ERR_ARG;
  if (!key || !*key) return ml_sdk_soft_error(ctx, MALLARD_ERR_ARG, "mallard_state_set_long: the key is NULL or empty");
  char num[32];
  int n = snprintf(num, sizeof num, "%lld", (long long)value);
  return state_put(ctx, key, num, (size_t)n, NULL, 0);
}

int mallard_state_set_json(mallard_ctx *ctx, const char *key, const char *json) {
  if (!ctx) return MALLARD_ERR_ARG;
  if (!key || !*key || !json)
    return ml_sdk_soft_error(ctx, MALLARD_ERR_ARG, "mallard_state_set_json: the key or the JSON is NULL or empty");
  ml_json_doc *doc = ml_json_doc_new();
  if (!doc) return soft_nomem(ctx);
  const ml_json_val *v;
  ml_err err;
  int rc;
  if (ml_json_parse(doc, json, strlen(json), &v, &err) == ML_OK) {
    rc = state_put_val(ctx, key, v);
  } else {
    ml_json_err_locate(&err);
    rc = ml_sdk_soft_error(ctx, MALLARD_ERR_ARG, "mallard_state_set_json: state '%s': %s", key, err.msg);
  }
  ml_json_doc_free(doc);
  return rc;
}

/* ---- running ------------------------------------------------------------------------------ */

static ml_status result(mallard_ctx *ctx, int rc, const char *fn, ml_err *err) {
  if (ctx->failed) {
    if (err) *err = ctx->fail;
    return ctx->fail.code;
  }
  if (rc != MALLARD_OK) {
    if (ctx->last_error[0])
      return ml_err_set(err, ML_ERR_CONNECTOR, "%s() returned %d: %s", fn, rc, ctx->last_error);
    return ml_err_set(err, ML_ERR_CONNECTOR, "%s() returned %d", fn, rc);
  }
  return ML_OK;
}

static ml_status commit_held(mallard_ctx *ctx, ml_err *err);
static ml_status commit_held_hook(void *ud, ml_err *err) { return commit_held(ud, err); }

/* The C connector's functions behind the callbacks of the _with forms. */
typedef struct c_fns {
  mallard_schema_fn schema;
  mallard_update_fn update;
} c_fns;
static int call_c_schema(mallard_ctx *ctx, void *ud) {
  const c_fns *f = ud;
  return f->schema ? f->schema(ctx) : MALLARD_OK;
}
static int call_c_update(mallard_ctx *ctx, void *ud) { return ((const c_fns *)ud)->update(ctx); }

ml_status ml_sdk_run_schema(mallard_ctx *ctx, mallard_schema_fn fn, ml_apply *apply, ml_err *err) {
  c_fns f = {fn, NULL};
  return ml_sdk_run_schema_with(ctx, call_c_schema, &f, apply, err);
}

ml_status ml_sdk_run_schema_with(mallard_ctx *ctx, ml_sdk_call fn, void *ud, ml_apply *apply, ml_err *err) {
  ctx->apply = apply;
  if (!ctx->commits) {
    ml_status opened = ml_commit_open(ml_apply_wh(apply), 0, &ctx->commits, err);
    if (opened != ML_OK) return opened;
  }
  ml_apply_on_schema_change(apply, commit_held_hook, ctx);
  ctx->phase = ML_SDK_PHASE_SCHEMA;
  int rc = fn(ctx, ud);
  ctx->phase = ML_SDK_PHASE_INIT;
  ml_status st = result(ctx, rc, "schema", err);
  return st == ML_OK ? ml_sdkschema_declare(&ctx->schema, apply, err) : st;
}

ml_status ml_sdk_run_update(mallard_ctx *ctx, mallard_update_fn fn, ml_err *err) {
  c_fns f = {NULL, fn};
  return ml_sdk_run_update_with(ctx, call_c_update, &f, err);
}

int ml_sdk_interrupted(mallard_ctx *ctx) {
  if (!ctx->stop || !*ctx->stop) return MALLARD_OK;
  int rc = op_guard(ctx, "interrupt");
  return rc ? rc : MALLARD_ERR_ABORTED;
}

void ml_sdk_append_reason(mallard_ctx *ctx, const char *text) {
  if (!ctx->failed || ctx->aborted || !text) return;
  size_t n = strlen(ctx->fail.msg);
  snprintf(ctx->fail.msg + n, sizeof ctx->fail.msg - n, "%s", text);
}

ml_status ml_sdk_run_update_with(mallard_ctx *ctx, ml_sdk_call fn, void *ud, ml_err *err) {
  ctx->phase = ML_SDK_PHASE_UPDATE;
  int rc = fn(ctx, ud);
  ctx->phase = ML_SDK_PHASE_DONE;
  return result(ctx, rc, "update", err);
}

/* ---- operations --------------------------------------------------------------------------- */

static int op_result(mallard_ctx *ctx, ml_status st, ml_err *err) {
  if (ctx->hooks.progress) ctx->hooks.progress(ctx->hooks.ud);
  if (st == ML_OK) return MALLARD_OK;
  return ml_sdk_fatal(ctx, from_status(st), st, "%s", err->msg);
}

static ml_status apply_ahead(mallard_ctx *ctx, ml_err *err);

static int do_op(mallard_ctx *ctx, ml_apply_kind kind, const char *what, const char *table, const mallard_record *r) {
  if (!ctx) return MALLARD_ERR_ARG;
  int rc = op_guard(ctx, what);
  if (rc) return rc;
  ml_err err;
  ml_err_clear(&err);
  ml_status st = ml_apply_op(ctx->apply, kind, table, r, &err);
  if (st == ML_OK) st = apply_ahead(ctx, &err);
  return op_result(ctx, st, &err);
}

int mallard_upsert(mallard_ctx *ctx, const char *table, const mallard_record *row) {
  return do_op(ctx, ML_APPLY_UPSERT, "mallard_upsert", table, row);
}
int mallard_update(mallard_ctx *ctx, const char *table, const mallard_record *row) {
  return do_op(ctx, ML_APPLY_UPDATE, "mallard_update", table, row);
}
int mallard_delete(mallard_ctx *ctx, const char *table, const mallard_record *keys) {
  return do_op(ctx, ML_APPLY_DELETE, "mallard_delete", table, keys);
}

static ml_status write_state(mallard_ctx *ctx, const ml_buf *state, ml_err *err) {
  return ctx->hooks.save_state ? ctx->hooks.save_state(ctx->hooks.ud, state->data, state->len, err) : ML_OK;
}

static void sdk_plan_free(void *p) {
  sdk_plan *sp = p;
  ml_apply_plan_free(sp->stmts);
  ml_buf_free(&sp->state);
  free(sp);
}

/* ml_commit's run, on the loader thread: the checkpoint's statements. */
static ml_status run_sdk_plan(void *p, ml_wh *wh, ml_err *err) { return ml_apply_plan_run(((sdk_plan *)p)->stmts, wh, err); }

static ml_status run_stmts(void *p, ml_wh *wh, ml_err *err) { return ml_apply_plan_run(p, wh, err); }
static void free_stmts(void *p) { ml_apply_plan_free(p); }

/* Upserts are applied on the loader thread as they come, a piece of
 * APPLY_AHEAD_ROWS at a time, in the transaction of the next commit (see
 * ml_apply_plan_ahead): otherwise each commit applies everything staged
 * since the one before (up to commit_interval_ms of operations) and the
 * last one does so while the connector waits at the end of update().
 * About half a row group: pieces of a quarter and of a whole row group
 * timed the same within the VM's noise (docs/performance.md, session 9). */
#define APPLY_AHEAD_ROWS ((uint64_t)65536)

static ml_status apply_ahead(mallard_ctx *ctx, ml_err *err) {
  if (!ctx->commits || !ml_commit_can_submit(ctx->commits)) return ML_OK;
  ml_apply_plan *stmts;
  ml_status st = ml_apply_plan_ahead(ctx->apply, APPLY_AHEAD_ROWS, &stmts, err);
  if (st != ML_OK || !stmts) return st;
  return ml_commit_submit_work(ctx->commits, stmts, run_stmts, free_stmts, err);
}

/* A plan holding stmts (taken whatever the result) and a copy of state
 * (NULL: none). */
static ml_status new_plan(const ml_buf *state, ml_apply_plan *stmts, sdk_plan **out, ml_err *err) {
  sdk_plan *sp = calloc(1, sizeof *sp);
  if (!sp) {
    ml_apply_plan_free(stmts);
    return ml_err_nomem(err);
  }
  sp->stmts = stmts;
  if (state) {
    sp->has_state = true;
    ml_buf_append(&sp->state, state->data, state->len);
    if (!ml_buf_ok(&sp->state)) {
      sdk_plan_free(sp);
      return ml_err_nomem(err);
    }
  }
  *out = sp;
  return ML_OK;
}

/* ml_commit's acknowledgement: plans are acknowledged oldest first, so the
 * last state kept is the newest committed; save_committed writes only that
 * one (each state covers the ones before it). */
static void keep_state(void *ud, void *p) {
  mallard_ctx *ctx = ud;
  sdk_plan *sp = p;
  if (!sp->has_state) return;
  ml_buf older = ctx->acked_state; /* its buffer goes with the plan */
  ctx->acked_state = sp->state;
  sp->state = older;
  ctx->acked_unsaved = true;
}

/* Saves the newest state whose commit is done, if there is a new one. */
static ml_status save_committed(mallard_ctx *ctx, ml_err *err) {
  if (ctx->commits) ml_commit_drain(ctx->commits, keep_state, ctx);
  if (!ctx->acked_unsaved) return ML_OK;
  ctx->acked_unsaved = false;
  return write_state(ctx, &ctx->acked_state, err);
}

/* Commits on this thread what the caller applied (ml_apply_ready*), then
 * saves state (NULL: the newest committed before it, if not saved yet). */
static ml_status commit_here(mallard_ctx *ctx, const ml_buf *state, ml_err *err) {
  sdk_plan *sp;
  ml_status st = new_plan(state, NULL, &sp, err);
  if (st == ML_OK) st = ml_commit_here(ctx->commits, sp, NULL, sdk_plan_free, NULL, err);
  if (st != ML_OK) return st;
  ctx->last_commit_ms = mono_ms();
  return save_committed(ctx, err);
}

/* Commits everything staged; the state is saved once the commit is done
 * (at once, or by save_committed when the commit runs behind). */
static ml_status commit_now_or_behind(mallard_ctx *ctx, ml_err *err) {
  /* --commit-interval-ms 0: a checkpoint returns only after its commit and
   * its state file, as a connector that reads state.json expects */
  ml_apply_plan *stmts = NULL;
  ml_status st = ML_OK;
  if (ctx->commit_interval_ms > 0) {
    /* an earlier commit failed: say so now */
    if (ml_commit_failed(ctx->commits)) return ml_commit_wait(ctx->commits, err);
    st = ml_apply_plan_behind(ctx->apply, &stmts, err);
    if (st != ML_OK) return st;
  }
  if (!stmts) {
    st = ml_apply_ready(ctx->apply, err);
    if (st == ML_OK) st = commit_here(ctx, &ctx->state_text, err);
    if (st == ML_OK) ml_apply_checkpointed(ctx->apply);
    ctx->last_commit_ms = mono_ms();
    return st;
  }
  sdk_plan *sp;
  uint64_t seq;
  st = new_plan(&ctx->state_text, stmts, &sp, err);
  /* the state is written only once the data before it is durable */
  if (st == ML_OK) st = ml_commit_submit(ctx->commits, sp, run_sdk_plan, sdk_plan_free, &seq, err);
  if (st == ML_OK) ctx->last_commit_ms = mono_ms();
  return st;
}

/* Commits the operations before the held-back checkpoint, then saves its
 * state (nothing to do when none is held). */
static ml_status commit_held(mallard_ctx *ctx, ml_err *err) {
  if (!ml_apply_marked(ctx->apply)) return ML_OK;
  ml_status st = ml_apply_ready_mark(ctx->apply, err);
  return st == ML_OK ? commit_here(ctx, &ctx->held_state, err) : st;
}

int mallard_truncate(mallard_ctx *ctx, const char *table) {
  if (!ctx) return MALLARD_ERR_ARG;
  int rc = op_guard(ctx, "mallard_truncate");
  if (rc) return rc;
  ml_err err;
  ml_err_clear(&err);
  /* a truncate changes the tables at once: a held checkpoint goes first */
  ml_status st = commit_held(ctx, &err);
  if (st == ML_OK) st = ml_apply_truncate(ctx->apply, table, &err);
  return op_result(ctx, st, &err);
}

/* Each commit costs a MERGE per table and a WAL sync whatever its size, so
 * a connector checkpointing every few thousand rows would spend most of its
 * time committing.  A checkpoint within commit_interval_ms of the last commit
 * is therefore held back: its state is kept and the operations before it are
 * marked; the next checkpoint due, a truncate, the end of update() or a
 * failure commits them and only then saves that state.  So a saved state
 * always describes committed data, a failed sync still leaves the warehouse
 * and state.json as at its last checkpoint, and only a killed process
 * resumes from an older checkpoint (up to commit_interval_ms of work, sent
 * again by the connector). */
int mallard_checkpoint(mallard_ctx *ctx) {
  if (!ctx) return MALLARD_ERR_ARG;
  int rc = op_guard(ctx, "mallard_checkpoint");
  if (rc) return rc;
  ml_err err;
  ml_err_clear(&err);
  const char *state = mallard_state_json(ctx);
  if (!state) return ml_sdk_fatal_nomem(ctx);
  ml_status st = save_committed(ctx, &err);
  if (st == ML_OK && mono_ms() - ctx->last_commit_ms < ctx->commit_interval_ms) {
    ml_buf_reset(&ctx->held_state);
    ml_buf_append(&ctx->held_state, ctx->state_text.data, ctx->state_text.len);
    if (!ml_buf_ok(&ctx->held_state)) return ml_sdk_fatal_nomem(ctx);
    ml_apply_mark(ctx->apply);
    st = apply_ahead(ctx, &err);
  } else if (st == ML_OK) {
    st = commit_now_or_behind(ctx, &err);
  }
  return op_result(ctx, st, &err);
}

ml_status ml_sdk_finish(mallard_ctx *ctx, ml_err *err) {
  bool held = ml_apply_marked(ctx->apply);
  ml_status st = ml_apply_ready_finish(ctx->apply, err);
  /* the held checkpoint is newer than every commit behind */
  return st == ML_OK ? commit_here(ctx, held ? &ctx->held_state : NULL, err) : st;
}

void ml_sdk_commit_held(mallard_ctx *ctx) {
  /* without a pipeline (the run failed before it was made) nothing was committed */
  if (!ctx || !ctx->apply || !ctx->commits) return;
  ml_err err;
  ml_err_clear(&err);
  /* commits behind that succeeded keep their states; when the warehouse
   * itself failed, the held commit fails and nothing more is saved */
  ml_status st = ml_commit_wait(ctx->commits, &err);
  ml_err save_err;
  ml_status saved = save_committed(ctx, &save_err);
  if (st == ML_OK && saved != ML_OK) {
    st = saved;
    err = save_err;
  }
  if (st == ML_OK) st = commit_held(ctx, &err);
  if (st != ML_OK && ctx->hooks.log) {
    char msg[sizeof err.msg + 64];
    snprintf(msg, sizeof msg, "the last checkpoint could not be committed: %s", err.msg);
    ctx->hooks.log(ctx->hooks.ud, MALLARD_WARNING, msg);
  }
}
