#include "ml_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/ml_array.h"
#include "../util/ml_buf.h"
#include "../util/ml_file.h"
#include "ml_locate.h"

extern char **environ;

/* A NULL-terminated argv whose strings it owns. */
typedef struct argv_vec {
  char **v;
  size_t n, cap;
  bool oom;
} argv_vec;

static void av_push(argv_vec *a, const char *s, size_t n) {
  if (a->oom) return;
  if (!ml_array_reserve(&a->v, a->n + 2, &a->cap, sizeof *a->v, 32)) {
    a->oom = true;
    return;
  }
  char *copy = malloc(n + 1);
  if (!copy) {
    a->oom = true;
    return;
  }
  memcpy(copy, s, n);
  copy[n] = '\0';
  a->v[a->n++] = copy;
  a->v[a->n] = NULL;
}
static void av_add(argv_vec *a, const char *s) { av_push(a, s, strlen(s)); }

/* Splits on ASCII whitespace (pkg-config output, $CC). */
static void av_split(argv_vec *a, const char *s) {
  while (*s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    const char *e = s;
    while (*e && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r') e++;
    if (e > s) av_push(a, s, (size_t)(e - s));
    s = e;
  }
}

static void av_free(argv_vec *a) {
  for (size_t i = 0; i < a->n; i++) free(a->v[i]);
  free(a->v);
}

/* Runs argv; with capture set its stdout is collected, else it goes to our
 * stderr (so that our stdout keeps only log lines).  *status is the exit
 * status (-1 when it could not start or died of a signal). */
static ml_status run(char **argv, ml_buf *capture, ml_buf *capture_err, int *status, ml_err *err) {
  int out[2] = {-1, -1}, errp[2] = {-1, -1};
  if ((capture && pipe(out) != 0) || (capture_err && pipe(errp) != 0)) {
    if (out[0] >= 0) close(out[0]), close(out[1]);
    return ml_err_set(err, ML_ERR_IO, "cannot create a pipe: %s", strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (capture) {
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, out[0]);
  } else {
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
  }
  if (capture_err) {
    posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&fa, errp[0]);
  }
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (capture) close(out[1]);
  if (capture_err) close(errp[1]);
  if (rc != 0) {
    if (capture) close(out[0]);
    if (capture_err) close(errp[0]);
    return ml_err_set(err, ML_ERR_IO, "cannot run %s: %s", argv[0], strerror(rc));
  }
  /* pkg-config's outputs are small: read stdout, then stderr */
  char chunk[4096];
  ssize_t n;
  if (capture) {
    while ((n = read(out[0], chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
      if (n > 0) ml_buf_append(capture, chunk, (size_t)n);
    close(out[0]);
  }
  if (capture_err) {
    while ((n = read(errp[0], chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
      if (n > 0) ml_buf_append(capture_err, chunk, (size_t)n);
    close(errp[0]);
  }
  int ws;
  while (waitpid(pid, &ws, 0) < 0)
    if (errno != EINTR) return ml_err_set(err, ML_ERR_IO, "waiting for %s: %s", argv[0], strerror(errno));
  *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
  return ML_OK;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool newer(const struct stat *a, const struct stat *b) {
  return a->st_mtim.tv_sec > b->st_mtim.tv_sec ||
         (a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec >= b->st_mtim.tv_nsec);
}

/* pkg-config names from requirements.txt (one per line, # comments). */
static ml_status read_requirements(const char *dir, argv_vec *pkgs, ml_err *err) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/requirements.txt", dir);
  if (!ml_file_exists(path)) return ML_OK;
  char *text;
  size_t len;
  ml_status st = ml_file_read(path, &text, &len, err);
  if (st != ML_OK) return st;
  for (char *line = text; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    av_split(pkgs, line);
    line = nl ? nl + 1 : NULL;
  }
  free(text);
  return pkgs->oom ? ml_err_nomem(err) : ML_OK;
}

bool ml_build_c_source(const char *dir, char *name, size_t name_size) {
  DIR *d = opendir(dir);
  if (!d) return false;
  bool found = false;
  for (struct dirent *e; !found && (e = readdir(d));) {
    if (!ends_with(e->d_name, ".c")) continue;
    found = true;
    if (name && name_size) snprintf(name, name_size, "%s", e->d_name);
  }
  closedir(d);
  return found;
}

ml_status ml_build_connector(const ml_build_opts *o, char **so_path, bool *rebuilt, char *cmd, size_t cmd_size,
                             ml_err *err) {
  *so_path = NULL;
  *rebuilt = false;
  if (cmd && cmd_size) cmd[0] = '\0';
  DIR *d = opendir(o->dir);
  if (!d) return ml_err_set(err, ML_ERR_IO, "cannot open connector directory %s: %s", o->dir, strerror(errno));
  argv_vec srcs = {0};
  char path[PATH_MAX];
  char so[PATH_MAX];
  snprintf(so, sizeof so, "%s/connector.so", o->out_dir);
  struct stat so_st;
  bool stale = o->force || stat(so, &so_st) != 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    bool c = ends_with(e->d_name, ".c"), h = ends_with(e->d_name, ".h");
    if (!c && !h && strcmp(e->d_name, "requirements.txt")) continue;
    snprintf(path, sizeof path, "%s/%s", o->dir, e->d_name);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (!stale && newer(&st, &so_st)) stale = true;
    if (c) av_add(&srcs, path);
  }
  closedir(d);
  ml_status rc = ML_OK;
  if (srcs.oom) rc = ml_err_nomem(err);
  else if (srcs.n == 0)
    rc = ml_err_set(err, ML_ERR_INPUT, "no .c file in %s: a connector is a directory with connector.c (mallard init DIR "
                                       "creates one)",
                    o->dir);
  if (rc == ML_OK && !stale) {
    snprintf(path, sizeof path, "%s/mallard.h", o->include_dir);
    struct stat st;
    if (stat(path, &st) == 0 && newer(&st, &so_st)) stale = true;
  }
  if (rc == ML_OK && !stale) {
    *so_path = strdup(so);
    av_free(&srcs);
    return *so_path ? ML_OK : ml_err_nomem(err);
  }
  if (rc == ML_OK) rc = ml_file_mkdirs(o->out_dir, err);
  argv_vec pkgs = {0}, av = {0};
  ml_buf flags = ML_BUF_INIT, perr = ML_BUF_INIT;
  if (rc == ML_OK) rc = read_requirements(o->dir, &pkgs, err);
  if (rc == ML_OK && pkgs.n) {
    argv_vec pc = {0};
    av_add(&pc, "pkg-config");
    av_add(&pc, "--cflags");
    av_add(&pc, "--libs");
    for (size_t i = 0; i < pkgs.n; i++) av_add(&pc, pkgs.v[i]);
    int status = -1;
    rc = pc.oom ? ml_err_nomem(err) : run(pc.v, &flags, &perr, &status, err);
    if (rc == ML_OK && status != 0) {
      /* keep pkg-config's own words: they name the missing package */
      while (perr.len && (perr.data[perr.len - 1] == '\n' || perr.data[perr.len - 1] == '\r')) perr.data[--perr.len] = 0;
      rc = ml_err_set(err, ML_ERR_CONFIG,
                      "requirements.txt: pkg-config cannot find a package (%s); install its -dev package, e.g. "
                      "libssl-dev for libcrypto",
                      perr.data ? perr.data : "no details");
    }
    av_free(&pc);
  }
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s/connector.so.tmp", o->out_dir);
  if (rc == ML_OK) {
    const char *cc = getenv("CC");
    av_split(&av, cc && *cc ? cc : "cc");
    const char *fixed[] = {"-shared", "-fPIC", "-O2", "-g", "-std=c11", "-D_DEFAULT_SOURCE", "-Wall",
                           "-Werror=implicit-function-declaration"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) av_add(&av, fixed[i]);
    av_add(&av, "-I");
    av_add(&av, o->include_dir);
    av_add(&av, "-I");
    av_add(&av, o->dir);
    av_add(&av, "-o");
    av_add(&av, tmp);
    qsort(srcs.v, srcs.n, sizeof *srcs.v, cmp_str);
    for (size_t i = 0; i < srcs.n; i++) av_add(&av, srcs.v[i]);
    if (flags.data) av_split(&av, flags.data);
    av_add(&av, "-lm");
    if (av.oom) rc = ml_err_nomem(err);
  }
  if (rc == ML_OK && cmd && cmd_size) {
    ml_buf line = ML_BUF_INIT;
    for (size_t i = 0; i < av.n; i++) {
      if (i) ml_buf_putc(&line, ' ');
      ml_buf_puts(&line, av.v[i]);
    }
    snprintf(cmd, cmd_size, "%s", line.data ? line.data : "");
    ml_buf_free(&line);
  }
  if (rc == ML_OK) {
    int status = -1;
    rc = run(av.v, NULL, NULL, &status, err);
    if (rc == ML_OK && status != 0) {
      unlink(tmp);
      rc = ml_err_set(err, ML_ERR_CONNECTOR, "the connector did not compile (%s exited with %d; its messages are above)",
                      av.v[0], status);
    }
  }
  if (rc == ML_OK && rename(tmp, so) != 0)
    rc = ml_err_set(err, ML_ERR_IO, "cannot rename %s to %s: %s", tmp, so, strerror(errno));
  if (rc == ML_OK) {
    *rebuilt = true;
    if (!(*so_path = strdup(so))) rc = ml_err_nomem(err);
  }
  av_free(&srcs);
  av_free(&pkgs);
  av_free(&av);
  ml_buf_free(&flags);
  ml_buf_free(&perr);
  return rc;
}

static bool has_header(const char *dir) {
  char p[PATH_MAX + 16];
  snprintf(p, sizeof p, "%s/mallard.h", dir);
  return ml_file_exists(p);
}

#ifdef MALLARD_SOURCE_INCLUDE_DIR
#define SOURCE_INCLUDE_DIR MALLARD_SOURCE_INCLUDE_DIR
#else
#define SOURCE_INCLUDE_DIR NULL
#endif

ml_status ml_build_include_dir(char *out, size_t out_size, ml_err *err) {
  static const ml_locate_spec spec = {
      .env = "MALLARD_INCLUDE_DIR",
      .rel = "../include",
      .source_dir = SOURCE_INCLUDE_DIR,
      .holds = has_header,
      .canonical = true,
      .env_lacks = "has no mallard.h",
      .not_found = "cannot find mallard.h (looked in <mallard binary>/../include); set MALLARD_INCLUDE_DIR to the "
                   "directory that holds it",
  };
  return ml_locate_dir(&spec, out, out_size, err);
}
