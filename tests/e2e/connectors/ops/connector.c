/* A test connector driven by its configuration, so that e2e tests can send
 * any sequence of operations without writing C.
 *
 * configuration.json:
 *   "schema": JSON schema for mallard_schema_json (optional)
 *   "script": operations separated by ';', words by spaces:
 *      upsert T col=val ...     update T col=val ...     delete T col=val ...
 *      truncate T               checkpoint               state KEY VALUE
 *      showstate  (logs "STATE <current state JSON>")
 *      fail REASON...           return N                 require KEY
 *      log LEVEL WORDS...       bulk T N   (N upserts: id, v = id*2, s = "row <id>", f = id/4.0)
 *      statefile  (logs "STATEFILE <files/state.json as it is now>")
 *      crash      (a segmentation fault)
 *      sleep MS   (a slow source: waits MS milliseconds)
 *   A value is typed by its spelling: 12 long, 1.5 double, true/false bool,
 *   null null, anything else a string; or explicitly col:TYPE=val with TYPE
 *   one of s l d b dec date time ndt utc bin json (use ~ for a space). */
#include <mallard.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int schema(mallard_ctx *ctx) {
  const char *s = mallard_config(ctx, "schema");
  return s ? mallard_schema_json(ctx, s) : MALLARD_OK;
}

static void unescape(char *s) {
  for (; *s; s++)
    if (*s == '~') *s = ' ';
}

static int is_int(const char *s) {
  if (*s == '-') s++;
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

static int is_num(const char *s) {
  char *end;
  strtod(s, &end);
  return *s && !*end;
}

static int set_value(mallard_record *r, char *assign) {
  char *eq = strchr(assign, '=');
  if (!eq) return mallard_set_null(r, assign);
  *eq = '\0';
  char *name = assign, *val = eq + 1, *type = strchr(name, ':');
  if (type) *type++ = '\0';
  unescape(val);
  if (!type) {
    if (!strcmp(val, "null")) return mallard_set_null(r, name);
    if (!strcmp(val, "true") || !strcmp(val, "false")) return mallard_set_bool(r, name, !strcmp(val, "true"));
    if (is_int(val)) return mallard_set_long(r, name, strtoll(val, NULL, 10));
    if (is_num(val)) return mallard_set_double(r, name, strtod(val, NULL));
    return mallard_set_string(r, name, val);
  }
  if (!strcmp(type, "s")) return mallard_set_string(r, name, val);
  if (!strcmp(type, "l")) return mallard_set_long(r, name, strtoll(val, NULL, 10));
  if (!strcmp(type, "d")) return mallard_set_double(r, name, strtod(val, NULL));
  if (!strcmp(type, "b")) return mallard_set_bool(r, name, !strcmp(val, "true"));
  if (!strcmp(type, "dec")) return mallard_set_decimal(r, name, val);
  if (!strcmp(type, "date")) return mallard_set_date(r, name, val);
  if (!strcmp(type, "time")) return mallard_set_time(r, name, val);
  if (!strcmp(type, "ndt")) return mallard_set_naive_datetime(r, name, val);
  if (!strcmp(type, "utc")) return mallard_set_utc_datetime(r, name, val);
  if (!strcmp(type, "bin")) return mallard_set_binary(r, name, val, strlen(val));
  if (!strcmp(type, "json")) return mallard_set_json(r, name, val);
  return MALLARD_ERR_ARG;
}

static int run_op(mallard_ctx *ctx, mallard_record *r, char **w, int n) {
  const char *verb = w[0];
  if (!strcmp(verb, "upsert") || !strcmp(verb, "update") || !strcmp(verb, "delete")) {
    if (n < 2) return mallard_fail(ctx, "script: %s needs a table", verb);
    mallard_record_clear(r);
    for (int i = 2; i < n; i++) set_value(r, w[i]);
    if (!strcmp(verb, "upsert")) return mallard_upsert(ctx, w[1], r);
    if (!strcmp(verb, "update")) return mallard_update(ctx, w[1], r);
    return mallard_delete(ctx, w[1], r);
  }
  if (!strcmp(verb, "truncate")) return mallard_truncate(ctx, n > 1 ? w[1] : "");
  if (!strcmp(verb, "checkpoint")) return mallard_checkpoint(ctx);
  if (!strcmp(verb, "showstate")) {
    mallard_log(ctx, MALLARD_INFO, "STATE %s", mallard_state_json(ctx));
    return MALLARD_OK;
  }
  if (!strcmp(verb, "state") && n == 3) {
    unescape(w[2]);
    return mallard_state_set(ctx, w[1], w[2]);
  }
  if (!strcmp(verb, "require") && n == 2) {
    const char *v;
    return mallard_config_require(ctx, w[1], &v);
  }
  if (!strcmp(verb, "return") && n == 2) return atoi(w[1]) ? atoi(w[1]) : 1000;
  if (!strcmp(verb, "sleep") && n == 2) {
    long ms = atol(w[1]);
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
    return MALLARD_OK;
  }
  if (!strcmp(verb, "fail") || !strcmp(verb, "log")) {
    char msg[512] = "";
    for (int i = verb[0] == 'f' ? 1 : 2; i < n; i++) {
      if (msg[0]) strncat(msg, " ", sizeof msg - strlen(msg) - 1);
      strncat(msg, w[i], sizeof msg - strlen(msg) - 1);
    }
    if (verb[0] == 'f') return mallard_fail(ctx, "%s", msg);
    mallard_level lv = MALLARD_INFO;
    if (n > 1 && !strcmp(w[1], "FINE")) lv = MALLARD_FINE;
    if (n > 1 && !strcmp(w[1], "WARNING")) lv = MALLARD_WARNING;
    if (n > 1 && !strcmp(w[1], "SEVERE")) lv = MALLARD_SEVERE;
    mallard_log(ctx, lv, "%s", msg);
    return MALLARD_OK;
  }
  if (!strcmp(verb, "statefile")) {
    char text[512] = "(none)";
    FILE *f = fopen("files/state.json", "r");
    if (f) {
      size_t got = fread(text, 1, sizeof text - 1, f);
      text[got] = '\0';
      fclose(f);
    }
    mallard_log(ctx, MALLARD_INFO, "STATEFILE %s", text);
    return MALLARD_OK;
  }
  if (!strcmp(verb, "crash")) {
    volatile int *nowhere = NULL;
    *nowhere = 1;
    return MALLARD_OK;
  }
  if (!strcmp(verb, "bulk") && n == 3) {
    long long rows = atoll(w[2]);
    int rc = MALLARD_OK;
    char s[64];
    for (long long i = 0; i < rows && rc == MALLARD_OK; i++) {
      mallard_record_clear(r);
      mallard_set_long(r, "id", i);
      mallard_set_long(r, "v", i * 2);
      snprintf(s, sizeof s, "row %lld", i);
      mallard_set_string(r, "s", s);
      mallard_set_double(r, "f", (double)i / 4.0);
      rc = mallard_upsert(ctx, w[1], r);
    }
    return rc;
  }
  return mallard_fail(ctx, "script: cannot read '%s'", verb);
}

static int update(mallard_ctx *ctx) {
  const char *script = mallard_config(ctx, "script");
  if (!script) return MALLARD_OK;
  char *copy = strdup(script);
  mallard_record *r = mallard_record_new();
  if (!copy || !r) {
    free(copy);
    mallard_record_free(r);
    return mallard_fail(ctx, "out of memory");
  }
  int rc = MALLARD_OK;
  char *save_op;
  for (char *op = strtok_r(copy, ";", &save_op); op && rc == MALLARD_OK; op = strtok_r(NULL, ";", &save_op)) {
    char *w[64];
    int n = 0;
    char *save_w;
    for (char *t = strtok_r(op, " \n\t", &save_w); t && n < 64; t = strtok_r(NULL, " \n\t", &save_w)) w[n++] = t;
    if (n) rc = run_op(ctx, r, w, n);
  }
  mallard_record_free(r);
  free(copy);
  return rc;
}

MALLARD_CONNECTOR(schema, update)
