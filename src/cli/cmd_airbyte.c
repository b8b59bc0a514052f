/* mallard spec | check | write: the Airbyte destination commands. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "airbyte/ml_catalog.h"
#include "airbyte/ml_dest.h"
#include "airbyte/ml_proto.h"
#include "ml_cli.h"
#include "util/ml_file.h"
#include "warehouse/ml_wh.h"


/* "--flag=VALUE" when arg is that flag in its one-word form. */
static const char *inline_value(const char *arg, const char *flag) {
  size_t n = strlen(flag);
  return !strncmp(arg, flag, n) && arg[n] == '=' ? arg + n + 1 : NULL;
}

/* The value of --flag VALUE or --flag=VALUE (the last one given). */
static const char *flag_value(int argc, char **argv, const char *flag) {
  const char *v = NULL;
  for (int i = 1; i < argc; i++) {
    const char *in = inline_value(argv[i], flag);
    if (in) v = in;
    else if (!strcmp(argv[i], flag) && i + 1 < argc) v = argv[++i];
  }
  return v;
}

/* Checks that every argument is a known flag with a value (--flag VALUE or
 * --flag=VALUE); anything else, an extra word included, is a usage error. */
static bool args_ok(int argc, char **argv, const char *const *flags, ml_proto *p) {
  for (int i = 1; i < argc; i++) {
    bool known = false, inline_form = false;
    for (const char *const *f = flags; *f; f++) {
      if (!strcmp(argv[i], *f)) known = true;
      else if (inline_value(argv[i], *f)) known = inline_form = true;
    }
    if (!known || (!inline_form && i + 1 >= argc)) {
      char msg[512];
      snprintf(msg, sizeof msg, "mallard %s: %s '%.200s' (see 'mallard %s --help')", argv[0],
               known ? "missing value after" : argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i],
               argv[0]);
      ml_proto_trace_error(p, "config_error", msg, NULL);
      fprintf(stderr, "%s\n", msg);
      return false;
    }
    if (!inline_form) i++;
  }
  return true;
}

/* The start of spec, check and write: their output is protocol messages,
 * so a usage error too is reported as a TRACE on p (initialised here, freed
 * again when the arguments are wrong). */
static bool start_proto(int argc, char **argv, const char *const *flags, ml_proto *p) {
  ml_proto_init(p, stdout);
  if (args_ok(argc, argv, flags, p)) return true;
  ml_proto_free(p);
  return false;
}

static bool wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
  return false;
}

/* The config keys and the path rule, for the help of check and write. */
static void config_help(FILE *f) {
  fprintf(f,
          "Config (a JSON object; any other key is an error):\n"
          "  destination_path    (required) the DuckDB file; a relative path or one under /local goes under the\n"
          "                      local root (local_root, else $MALLARD_LOCAL_ROOT, else /local when it exists,\n"
          "                      else /tmp/airbyte_local); docs/types.md has the full rule\n"
          "  schema              schema for streams without a namespace (default main)\n"
          "  local_root          the directory /local stands for\n"
          "  raw_tables          also write _airbyte_raw_<stream> tables (default false)\n"
          "  commit_interval_ms  commit at most this often (default 1000; 0: at every STATE)\n"
          "  memory_limit        DuckDB's memory limit, e.g. \"2GB\" (default: 64MB while appending)\n"
          "  unnest_depth        0 (default): nested values stay JSON; N: objects also into columns <field>__<sub>,\n"
          "                      arrays into child tables <table>__<field>, N levels (docs/types.md section 4)\n");
}

int ml_cmd_spec(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    printf("usage: mallard spec\nPrints the destination's SPEC message (the config's JSON schema).\n");
    return ML_EXIT_OK;
  }
  static const char *const no_flags[] = {NULL};
  ml_proto p;
  if (!start_proto(argc, argv, no_flags, &p)) return ML_EXIT_USAGE;
  ml_proto_spec(&p);
  int rc = ml_proto_flush(&p, NULL) == ML_OK ? ML_EXIT_OK : ML_EXIT_FAILED;
  ml_proto_free(&p);
  return rc;
}

/* The config file read in the environment mallard runs in (MALLARD_LOCAL_ROOT,
 * MALLARD_CONTAINER or whether /local is a mount point). */
static ml_status load_config(const char *path, ml_dest_config *cfg, ml_err *err) {
  ml_dest_env env;
  ml_status st = ml_dest_env_detect(&env, err);
  if (st != ML_OK) return st;
  return ml_dest_config_load_env(path, &env, cfg, err);
}

#define CHECK_MAX_DIRS 64

/* What check made to prove the database can be written, so that it can
 * remove it again: the file (when it did not exist) and the directories
 * above it that did not exist, outermost first. */
typedef struct check_made {
  bool file;
  int ndirs;
  char *dirs[CHECK_MAX_DIRS];
} check_made;

/* Creates the missing parent directories of path, recording each in made. */
static ml_status check_make_dirs(const char *path, check_made *made, ml_err *err) {
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
    return ml_err_set(err, ML_ERR_CONFIG, "database path %s is too long", path);
  char *missing[CHECK_MAX_DIRS];
  int n = 0;
  for (;;) { /* from the parent upwards, until a directory that exists */
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) break;
    *slash = '\0';
    struct stat sb;
    if (stat(dir, &sb) == 0) {
      if (S_ISDIR(sb.st_mode)) break;
      ml_err_set(err, ML_ERR_IO, "cannot create directory %s: %s is not a directory", n ? missing[0] : dir, dir);
      for (int i = 0; i < n; i++) free(missing[i]);
      return ML_ERR_IO;
    }
    if (errno != ENOENT && errno != ENOTDIR) {
      ml_err_set(err, ML_ERR_IO, "cannot look at directory %s: %s", dir, strerror(errno));
      for (int i = 0; i < n; i++) free(missing[i]);
      return ML_ERR_IO;
    }
    if (n == CHECK_MAX_DIRS) {
      for (int i = 0; i < n; i++) free(missing[i]);
      return ml_err_set(err, ML_ERR_IO, "more than %d missing directories above %s", CHECK_MAX_DIRS, path);
    }
    if (!(missing[n++] = strdup(dir))) {
      for (int i = 0; i < n - 1; i++) free(missing[i]);
      return ml_err_nomem(err);
    }
  }
  ml_status st = ML_OK;
  for (int i = n - 1; i >= 0; i--) { /* outermost first */
    if (st == ML_OK && mkdir(missing[i], 0755) != 0)
      st = ml_err_set(err, ML_ERR_IO, "cannot create directory %s: %s", missing[i], strerror(errno));
    if (st == ML_OK)
      made->dirs[made->ndirs++] = missing[i];
    else
      free(missing[i]);
  }
  return st;
}

/* Removes what check made, innermost first; the first failure is reported. */
static ml_status check_remove_made(const char *path, check_made *made, ml_err *err) {
  ml_status st = ML_OK;
  if (made->file) {
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s.wal", path);
    if (unlink(path) != 0 && errno != ENOENT)
      st = ml_err_set(err, ML_ERR_IO, "cannot remove the database file %s that check created: %s", path,
                      strerror(errno));
    if (unlink(wal) != 0 && errno != ENOENT && st == ML_OK)
      st = ml_err_set(err, ML_ERR_IO, "cannot remove %s that check created: %s", wal, strerror(errno));
  }
  for (int i = made->ndirs - 1; i >= 0; i--) {
    if (rmdir(made->dirs[i]) != 0 && st == ML_OK)
      st = ml_err_set(err, ML_ERR_IO, "cannot remove the directory %s that check created: %s", made->dirs[i],
                      strerror(errno));
    free(made->dirs[i]);
  }
  made->ndirs = 0;
  made->file = false;
  return st;
}

int ml_cmd_check(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    printf("usage: mallard check --config FILE\n\n"
           "Validates the config and that the database file can be opened and written.\n"
           "Leaves no trace: a database file or directories it had to create are removed.\n"
           "Prints one CONNECTION_STATUS message; exits 0 whether it SUCCEEDED or FAILED (2 on a usage error).\n\n");
    config_help(stdout);
    return ML_EXIT_OK;
  }
  static const char *const flags[] = {"--config", NULL};
  ml_proto p;
  if (!start_proto(argc, argv, flags, &p)) return ML_EXIT_USAGE;
  const char *config_path = flag_value(argc, argv, "--config");
  ml_err err;
  ml_err_clear(&err);
  ml_dest_config cfg = {0};
  ml_wh *wh = NULL;
  check_made made = {0};
  ml_status st = config_path ? load_config(config_path, &cfg, &err)
                             : ml_err_set(&err, ML_ERR_CONFIG, "no config given: use --config FILE");
  bool existed = st == ML_OK && ml_file_exists(cfg.destination_path);
  if (st == ML_OK && !existed) st = check_make_dirs(cfg.destination_path, &made, &err);
  if (st == ML_OK) {
    made.file = !existed;
    st = ml_wh_open(cfg.destination_path, NULL, &wh, &err);
  }
  /* prove we can write: a small table committed (so the write really reaches
   * the disk: a full disk fails here) and dropped again; the schema is left
   * for write to create */
  if (st == ML_OK)
    st = ml_wh_exec(wh,
                    "CREATE OR REPLACE TABLE main._mallard_check AS SELECT range AS x, repeat('x', 100) AS pad "
                    "FROM range(1000); CHECKPOINT",
                    &err);
  if (wh) ml_wh_exec(wh, "DROP TABLE IF EXISTS main._mallard_check; CHECKPOINT", NULL);
  ml_wh_close(wh);
  ml_err rm_err;
  ml_err_clear(&rm_err);
  if (check_remove_made(cfg.destination_path, &made, &rm_err) != ML_OK && st == ML_OK) {
    err = rm_err;
    st = ML_ERR_IO;
  }
  if (st == ML_OK) {
    char msg[1200];
    snprintf(msg, sizeof msg, "database file %s is writable%s", cfg.destination_path,
             existed ? "" : " (check created it to find out, and removed it)");
    ml_proto_connection_status(&p, true, msg);
  } else {
    ml_proto_connection_status(&p, false, err.msg);
  }
  ml_dest_config_free(&cfg);
  int rc = ml_proto_flush(&p, NULL) == ML_OK ? ML_EXIT_OK : ML_EXIT_FAILED;
  ml_proto_free(&p);
  return rc;
}

/* Reads stdin in large blocks and hands complete lines to the destination;
 * while no input is waiting it lets the destination commit grouped states. */
/* The first bytes of input, read before the destination is opened:
 * input without any message must change nothing, not even create the
 * database file.  Reads until a byte that is not white space arrives (it
 * and what came with it are in buf[0, *len)), or end of input (*len = 0).
 * buf has cap bytes. */
static ml_status first_input(char *buf, size_t cap, size_t *len, const volatile sig_atomic_t *stop, ml_err *err) {
  *len = 0;
  for (;;) {
    ssize_t got = read(STDIN_FILENO, buf, cap);
    if (got < 0 && errno == EINTR && !*stop) continue;
    if (got < 0) return *stop ? ML_OK : ml_err_set(err, ML_ERR_IO, "cannot read standard input: %s", strerror(errno));
    if (got == 0) return ML_OK;
    for (ssize_t i = 0; i < got; i++)
      if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n') {
        memmove(buf, buf + i, (size_t)(got - i));
        *len = (size_t)(got - i);
        return ML_OK;
      }
  }
}

/* Hands the whole lines at the start of buf[0, *len) to the destination and
 * keeps the rest (a line still arriving) at the start of buf. */
static ml_status whole_lines(ml_dest *d, char *buf, size_t *len, size_t *lineno, const volatile sig_atomic_t *stop,
                             ml_err *err) {
  ml_status st = ML_OK;
  size_t start = 0;
  for (;;) {
    char *nl = memchr(buf + start, '\n', *len - start);
    if (!nl) break;
    (*lineno)++;
    st = ml_dest_line(d, buf + start, (size_t)(nl - (buf + start)), *lineno, err);
    start = (size_t)(nl - buf) + 1;
    if (st != ML_OK || *stop) break;
  }
  memmove(buf, buf + start, *len - start);
  *len -= start;
  return st;
}

/* buf (cap bytes, len of them read already by first_input) is the caller's
 * and freed here. */
static ml_status pump_input(ml_dest *d, char *buf, size_t cap, size_t len, const volatile sig_atomic_t *stop,
                            ml_err *err) {
  size_t lineno = 0;
  bool eof = false;
  /* first_input may have read several lines already */
  ml_status st = whole_lines(d, buf, &len, &lineno, stop, err);
  while (st == ML_OK && !eof) {
    if (*stop) break;
    int wait_ms = -1;
    st = ml_dest_tick(d, &wait_ms, err);
    if (st != ML_OK) break;
    struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int pr = poll(&pfd, 1, wait_ms < 0 ? 10000 : wait_ms);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ml_dest_input_waited(d, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (pr < 0 && errno != EINTR) {
      st = ml_err_set(err, ML_ERR_IO, "cannot wait for standard input: %s", strerror(errno));
      break;
    }
    if (pr <= 0) continue;
    if (len == cap) {
      char *grown = realloc(buf, cap * 2);
      if (!grown) {
        st = ml_err_set(err, ML_ERR_NOMEM, "out of memory: an input line is longer than %zu bytes", cap);
        break;
      }
      buf = grown;
      cap *= 2;
    }
    ssize_t got = read(STDIN_FILENO, buf + len, cap - len);
    if (got < 0) {
      if (errno == EINTR) continue;
      st = ml_err_set(err, ML_ERR_IO, "cannot read standard input: %s", strerror(errno));
      break;
    }
    if (got == 0) eof = true;
    else len += (size_t)got;
    st = whole_lines(d, buf, &len, &lineno, stop, err);
    if (eof && st == ML_OK && !*stop && len > 0) { /* a last line without newline */
      lineno++;
      st = ml_dest_line(d, buf, len, lineno, err);
      if (st != ML_OK && err && err->code == ML_ERR_INPUT) ml_err_prefix(err, "input ended in the middle of a line");
      len = 0;
    }
  }
  free(buf);
  return st;
}

int ml_cmd_write(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    printf("usage: mallard write --config FILE --catalog FILE < messages.jsonl\n\n"
           "Loads Airbyte messages (one JSON object per line) from standard input into the DuckDB file of the\n"
           "config, with the configured catalog's streams and sync modes; echoes each STATE on stdout once the\n"
           "records before it are committed.  --config=FILE and --catalog=FILE work too.\n\n");
    config_help(stdout);
    printf("\nExit status: 0 done, 1 failed (bad input, database error; a TRACE message says why), 2 usage,\n"
           "3 the database file is locked by another process, 130/143 stopped by SIGINT/SIGTERM.\n");
    return ML_EXIT_OK;
  }
  static const char *const flags[] = {"--config", "--catalog", NULL};
  ml_proto p;
  if (!start_proto(argc, argv, flags, &p)) return ML_EXIT_USAGE;
  const char *config_path = flag_value(argc, argv, "--config");
  const char *catalog_path = flag_value(argc, argv, "--catalog");
  ml_err err;
  ml_err_clear(&err);
  ml_dest_config cfg = {0};
  ml_catalog cat = {0};
  ml_dest *d = NULL;
  int rc = ML_EXIT_OK;
  ml_status st = ML_OK;
  if (!config_path || !catalog_path)
    st = ml_err_set(&err, ML_ERR_CONFIG, "the write command needs --config FILE and --catalog FILE");
  if (st == ML_OK) st = load_config(config_path, &cfg, &err);
  if (st == ML_OK) st = ml_catalog_load(catalog_path, cfg.schema, &cat, &err);
  /* an unreadable config or catalog is the user's to fix, like an invalid one */
  if (st == ML_ERR_IO) st = ML_ERR_CONFIG;
  const volatile sig_atomic_t *stop = ml_cli_catch_stop_signals();
  size_t cap = 1 << 20, len = 0;
  char *buf = st == ML_OK ? malloc(cap) : NULL;
  if (st == ML_OK && !buf) st = ml_err_nomem(&err);
  if (st == ML_OK) st = first_input(buf, cap, &len, stop, &err);
  if (st == ML_OK && len == 0 && !*stop)
    st = ml_err_set(&err, ML_ERR_INPUT,
                    "standard input held no message: nothing was changed (mallard write reads Airbyte messages, one "
                    "JSON object per line, e.g. cat messages.jsonl | mallard write --config ... --catalog ...)");
  if (st == ML_OK && !*stop) st = ml_dest_open(&cfg, &cat, &p, &d, &err);
  if (st == ML_OK) {
    if (d) st = pump_input(d, buf, cap, len, stop, &err);
    if (d) buf = NULL;
    if (st == ML_OK && *stop) {
      if (d) ml_dest_abort(d);
      char msg[256];
      snprintf(msg, sizeof msg,
               "stopped by %s: records after the last echoed STATE were not committed and must be sent again",
               *stop == SIGINT ? "SIGINT" : "SIGTERM");
      ml_proto_trace_error(&p, "transient_error", msg, NULL);
      fprintf(stderr, "mallard write: %s\n", msg);
      rc = *stop == SIGINT ? ML_EXIT_SIGINT : ML_EXIT_SIGTERM;
    } else if (st == ML_OK) {
      st = ml_dest_finish(d, &err);
    }
  }
  if (st != ML_OK) {
    if (d) ml_dest_abort(d);
    const char *type = st == ML_ERR_CONFIG ? "config_error" : st == ML_ERR_LOCKED ? "transient_error" : "system_error";
    ml_proto_trace_error(&p, type, err.msg, NULL);
    ml_proto_flush(&p, NULL);
    fprintf(stderr, "mallard write: %s\n", err.msg);
    rc = st == ML_ERR_LOCKED ? ML_EXIT_LOCKED : ML_EXIT_FAILED;
  }
  free(buf);
  ml_dest_free(d);
  ml_catalog_free(&cat);
  ml_dest_config_free(&cfg);
  ml_proto_free(&p);
  return rc;
}
