/* mallard debug | init | reset: the connector SDK's local runner.
 *
 *   mallard debug [DIR] [--configuration F] [--state JSON|F] [--commit-interval-ms N]
 *   mallard init DIR [--template NAME]
 *   mallard reset [DIR] [--yes]
 *
 * docs/sdk.md describes them for users. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../sdk/ml_build.h"
#include "../sdk/ml_pyrun.h"
#include "../sdk/ml_runner.h"
#include "../sdk/ml_templates.h"
#include "../util/ml_file.h"
#include "../warehouse/ml_wh.h"
#include "ml_cli.h"


static int usage_error(const char *cmd, const char *fmt, const char *arg) {
  fprintf(stderr, "mallard %s: ", cmd);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(see 'mallard %s --help')\n", cmd);
  return ML_EXIT_USAGE;
}

/* ---- debug ------------------------------------------------------------------------- */

static void debug_help(FILE *f) {
  fprintf(f,
          "usage: mallard debug [DIR] [--configuration FILE] [--state JSON|FILE] [--commit-interval-ms N]\n"
          "                     [--python PATH]\n\n"
          "Runs the connector in DIR (default: the current directory): DIR/connector.py, a Python connector\n"
          "written for the Fivetran Connector SDK, in a child process with mallard's own\n"
          "fivetran_connector_sdk module; or a C connector, its .c files built and linked with the\n"
          "pkg-config packages listed in DIR/requirements.txt.  Its operations go to\n"
          "DIR/files/warehouse.db (DuckDB, schema tester); the state is saved to DIR/files/state.json at\n"
          "each checkpoint.\n\n"
          "  --configuration FILE  configuration (default DIR/configuration.json): a JSON object of strings\n"
          "  --state JSON|FILE     start from this state instead of DIR/files/state.json\n"
          "  --commit-interval-ms N  checkpoints within N ms of the last commit are committed together\n"
          "                        (default 1000; 0: every checkpoint commits on its own and returns only\n"
          "                        after its commit and state file)\n"
          "  --python PATH         the interpreter for connector.py (default: $VIRTUAL_ENV/bin/python when a\n"
          "                        virtual environment is active, else python3 on PATH)\n"
          "  --sdk-path            print the directory of mallard's fivetran_connector_sdk module and exit\n"
          "                        (PYTHONPATH=$(mallard debug --sdk-path) python3 connector.py)\n\n"
          "Exit status: 0 Sync SUCCEEDED, 1 Sync FAILED, 2 usage, 3 warehouse locked, 130/143 interrupted.\n");
}

int ml_cmd_debug(int argc, char **argv) {
  const char *dir = NULL, *config = NULL, *state = NULL, *interval = NULL, *python = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      debug_help(stdout);
      return ML_EXIT_OK;
    } else if (!strcmp(a, "--configuration") || !strcmp(a, "--state") || !strcmp(a, "--commit-interval-ms") ||
               !strcmp(a, "--python")) {
      if (i + 1 >= argc) return usage_error("debug", "%s needs a value", a);
      if (!strcmp(a, "--state")) state = argv[++i];
      else if (!strcmp(a, "--configuration")) config = argv[++i];
      else if (!strcmp(a, "--python")) python = argv[++i];
      else interval = argv[++i];
    } else if (!strcmp(a, "--sdk-path")) {
      char sdk[PATH_MAX];
      ml_err err;
      if (ml_pyrun_sdk_dir(sdk, sizeof sdk, &err) != ML_OK) {
        fprintf(stderr, "mallard debug: %s\n", err.msg);
        return ML_EXIT_FAILED;
      }
      printf("%s\n", sdk);
      return ML_EXIT_OK;
    } else if (!strncmp(a, "--python=", 9)) {
      python = a + 9;
    } else if (!strncmp(a, "--commit-interval-ms=", 21)) {
      interval = a + 21;
    } else if (!strncmp(a, "--configuration=", 16)) {
      config = a + 16;
    } else if (!strncmp(a, "--state=", 8)) {
      state = a + 8;
    } else if (a[0] == '-' && a[1]) {
      return usage_error("debug", "unknown option %s", a);
    } else if (!dir) {
      dir = a;
    } else {
      return usage_error("debug", "unexpected argument %s", a);
    }
  }
  long long interval_ms = -1;
  if (interval) {
    char *end = NULL;
    errno = 0;
    interval_ms = strtoll(interval, &end, 10);
    if (errno || end == interval || *end || interval_ms < 0)
      return usage_error("debug", "--commit-interval-ms needs a number of milliseconds >= 0, not '%s'", interval);
  }
  if (!dir) dir = ".";
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "mallard debug: %s is not a directory\n", dir);
    return ML_EXIT_USAGE;
  }
  const volatile sig_atomic_t *stop = ml_cli_catch_stop_signals();
  ml_cli_catch_crashes(dir);
  ml_runner_opts o = {dir,         config,     state,   stop, stdout, isatty(STDERR_FILENO) ? stderr : NULL,
                      interval_ms, python,     ml_cli_crash_state,  NULL};
  bool aborted = false;
  ml_err err;
  ml_err_clear(&err);
  ml_status rc = ml_runner_debug(&o, &aborted, &err);
  if (rc == ML_OK) return ML_EXIT_OK;
  if (aborted) return *stop == SIGTERM ? ML_EXIT_SIGTERM : ML_EXIT_SIGINT;
  if (rc == ML_ERR_LOCKED) return ML_EXIT_LOCKED;
  return ML_EXIT_FAILED;
}

/* ---- init -------------------------------------------------------------------------- */

static void init_help(FILE *f) {
  fprintf(f, "usage: mallard init DIR [--template NAME]\n\nCreates a connector project in DIR (new or empty).\n\n"
             "templates:\n");
  for (size_t i = 0; i < ml_templates_count(); i++)
    fprintf(f, "  %-12s %s%s\n", ml_templates_at(i)->name, ml_templates_at(i)->summary, i == 0 ? " (default)" : "");
  fprintf(f, "\nThen: cd DIR && mallard debug\n");
}

static bool dir_is_empty(const char *dir) {
  struct stat st;
  if (stat(dir, &st) != 0) return errno == ENOENT;
  if (!S_ISDIR(st.st_mode)) return false;
  return rmdir(dir) == 0 && mkdir(dir, 0755) == 0; /* rmdir succeeds only on an empty directory */
}

int ml_cmd_init(int argc, char **argv) {
  const char *dir = NULL, *name = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      init_help(stdout);
      return ML_EXIT_OK;
    } else if (!strcmp(a, "--template")) {
      if (i + 1 >= argc) return usage_error("init", "%s needs a value", a);
      name = argv[++i];
    } else if (!strncmp(a, "--template=", 11)) {
      name = a + 11;
    } else if (a[0] == '-' && a[1]) {
      return usage_error("init", "unknown option %s", a);
    } else if (!dir) {
      dir = a;
    } else {
      return usage_error("init", "unexpected argument %s", a);
    }
  }
  if (!dir) return usage_error("init", "%s", "which directory? mallard init DIR");
  const ml_template *t = name ? ml_templates_find(name) : ml_templates_at(0);
  if (!t) {
    fprintf(stderr, "mallard init: unknown template '%s'; templates:", name);
    for (size_t i = 0; i < ml_templates_count(); i++) fprintf(stderr, " %s", ml_templates_at(i)->name);
    fprintf(stderr, "\n");
    return ML_EXIT_USAGE;
  }
  if (!dir_is_empty(dir)) {
    fprintf(stderr, "mallard init: %s already exists and is not empty; choose a new directory\n", dir);
    return ML_EXIT_FAILED;
  }
  ml_err err;
  ml_err_clear(&err);
  for (size_t i = 0; i < t->n_files; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, t->files[i].path);
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = '\0';
    if (ml_file_mkdirs(parent, &err) != ML_OK ||
        ml_file_write_atomic(path, t->files[i].text, t->files[i].len, &err) != ML_OK) {
      fprintf(stderr, "mallard init: %s\n", err.msg);
      return ML_EXIT_FAILED;
    }
  }
  printf("Created connector project %s (template %s):\n", dir, t->name);
  for (size_t i = 0; i < t->n_files; i++) printf("  %s/%s\n", dir, t->files[i].path);
  printf("\nNext: cd %s && mallard debug\n", dir);
  return ML_EXIT_OK;
}

/* ---- reset ------------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
  if (rc != 0) fprintf(stderr, "mallard reset: cannot remove %s: %s\n", path, strerror(errno));
  return rc;
}

/* Whether dir holds a connector: connector.py, or C sources (any *.c, as
 * mallard debug builds them). */
static bool is_connector_dir(const char *dir) {
  char p[PATH_MAX + 32];
  snprintf(p, sizeof p, "%s/connector.py", dir);
  return ml_file_exists(p) || ml_build_c_source(dir, NULL, 0);
}

/* What mallard debug makes under DIR/files, and nothing else: reset deletes
 * exactly these (and files/ itself when that leaves it empty). */
static const char *const MADE_BY_MALLARD[] = {"warehouse.db", "warehouse.db.wal", "state.json", ".build"};
#define N_MADE (sizeof MADE_BY_MALLARD / sizeof MADE_BY_MALLARD[0])

static bool is_made_by_mallard(const char *name) {
  for (size_t i = 0; i < N_MADE; i++)
    if (!strcmp(name, MADE_BY_MALLARD[i])) return true;
  /* a state file being written when a run was killed (ml_file_write_atomic) */
  return !strncmp(name, "state.json.tmp-", 15);
}

int ml_cmd_reset(int argc, char **argv) {
  const char *dir = NULL;
  bool yes = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: mallard reset [DIR] [--yes]\n\n"
             "Deletes what 'mallard debug' made in DIR/files -- warehouse.db and its WAL, state.json and the\n"
             "C build folder .build -- so that the next run starts from scratch.  Anything else in files/ is\n"
             "kept.  DIR (default: the current directory) must hold a connector (connector.py or .c files).\n"
             "Asks first, listing what it deletes; --yes skips the question.\n\n"
             "Exit status: 0 deleted (or nothing to delete), 1 cancelled or failed, 2 usage (also: not a\n"
             "connector directory, or no terminal to ask on and no --yes), 3 the warehouse is in use.\n");
      return ML_EXIT_OK;
    } else if (!strcmp(a, "--yes") || !strcmp(a, "-y")) {
      yes = true;
    } else if (a[0] == '-' && a[1]) {
      return usage_error("reset", "unknown option %s", a);
    } else if (!dir) {
      dir = a;
    } else {
      return usage_error("reset", "unexpected argument %s", a);
    }
  }
  if (!dir) dir = ".";
  if (!is_connector_dir(dir)) {
    fprintf(stderr,
            "mallard reset: %s holds no connector (connector.py or a .c file): refusing to delete anything in "
            "it\n",
            dir);
    return ML_EXIT_USAGE;
  }
  char files[PATH_MAX], db[PATH_MAX + 16];
  snprintf(files, sizeof files, "%s/files", dir);
  snprintf(db, sizeof db, "%s/warehouse.db", files);
  /* the list of what is there to delete */
  char *found[64];
  size_t n_found = 0;
  DIR *d = opendir(files);
  if (d) {
    for (struct dirent *e; (e = readdir(d)) && n_found < sizeof found / sizeof found[0];) {
      if (!is_made_by_mallard(e->d_name)) continue;
      if (!(found[n_found] = strdup(e->d_name))) break;
      n_found++;
    }
    closedir(d);
  }
  if (!n_found) {
    printf("Nothing to reset: %s holds nothing mallard made.\n", files);
    return ML_EXIT_OK;
  }
  int rc = ML_EXIT_OK;
  if (!yes) {
    if (!isatty(STDIN_FILENO)) {
      fprintf(stderr, "mallard reset: this deletes in %s:", files);
      for (size_t i = 0; i < n_found; i++) fprintf(stderr, " %s", found[i]);
      fprintf(stderr, "; confirm with --yes (no terminal to ask on)\n");
      rc = ML_EXIT_USAGE;
      goto done;
    }
    fprintf(stderr, "Delete from %s:", files);
    for (size_t i = 0; i < n_found; i++) fprintf(stderr, " %s", found[i]);
    fprintf(stderr, "? [y/N] ");
    fflush(stderr);
    char answer[16] = {0};
    if (!fgets(answer, sizeof answer, stdin) || (answer[0] != 'y' && answer[0] != 'Y')) {
      fprintf(stderr, "Reset cancelled; nothing was deleted.\n");
      rc = ML_EXIT_FAILED;
      goto done;
    }
  }
  /* never pull the file from under a running sync */
  if (ml_file_exists(db)) {
    ml_wh *wh = NULL;
    ml_err err;
    ml_err_clear(&err);
    ml_wh_options wo = {0};
    ml_status st = ml_wh_open(db, &wo, &wh, &err);
    ml_wh_close(wh);
    if (st == ML_ERR_LOCKED) {
      fprintf(stderr, "mallard reset: %s\n", err.msg);
      rc = ML_EXIT_LOCKED;
      goto done;
    }
  }
  for (size_t i = 0; i < n_found; i++) {
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", files, found[i]);
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) rc = ML_EXIT_FAILED;
  }
  if (rmdir(files) == 0) printf("Deleted %s.\n", files);
  else if (rc == ML_EXIT_OK) {
    printf("Deleted from %s:", files);
    for (size_t i = 0; i < n_found; i++) printf(" %s", found[i]);
    printf(" (the rest of it is kept)\n");
  }
done:
  for (size_t i = 0; i < n_found; i++) free(found[i]);
  return rc;
}
