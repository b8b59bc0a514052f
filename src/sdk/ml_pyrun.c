#include "ml_pyrun.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../json/ml_json.h"
#include "../util/ml_buf.h"
#include "ml_locate.h"
#include "ml_marshal.h"
#include "ml_sdk.h"

/* Operation codes and value tags of python/fivetran_connector_sdk/__init__.py. */
enum { OP_UPSERT = 1, OP_UPDATE, OP_DELETE, OP_TRUNCATE, OP_CHECKPOINT, OP_LOG, OP_FAIL };
enum { TAG_JSON = 1, TAG_NAIVE_DT, TAG_UTC_DT, TAG_DATE, TAG_TIME, TAG_DECIMAL };

/* The child's descriptors: it finds them in MALLARD_OPS_FD / MALLARD_INPUT_FD. */
#define CHILD_OPS_FD 3
#define CHILD_INPUT_FD 4
/* Capacity asked for the operations' pipe: what may be in flight between
 * the processes (the memory bound of the backpressure, with one frame in
 * mallard and one batch in Python). */
#define OPS_PIPE_BYTES (1 << 20)
/* A frame longer than this is refused rather than allocated. */
#define MAX_FRAME ((size_t)1 << 30)
/* How long mallard waits for a child that closed its pipe to exit. */
#define REAP_WAIT_MS 5000

static const char BOOT[] = "import sys; sys.path.insert(0, sys.argv[1]); "
                           "from fivetran_connector_sdk import _child; _child.main()";

typedef struct out_pipe {
  int fd;            /* -1 once closed */
  const char *label; /* "stdout", "stderr" */
  ml_buf line;       /* the line being received */
} out_pipe;

struct ml_pyrun {
  char dir[PATH_MAX];
  pid_t pid;
  bool reaped;
  int status; /* waitpid's, once reaped */
  int ops_fd;
  int control_fd; /* to the child: the input line, then "g" (ml_pyrun_go) */
  out_pipe out[2];
  const volatile sig_atomic_t *stop;
  ml_buf in;  /* bytes read from ops_fd; frames start at pos */
  size_t pos; /* the frame being read */
  bool ops_eof;
  ml_marshal_reader mr;
  mallard_record *rec;
  ml_buf table, name, text; /* NUL-terminated copies for the mallard_* calls */
};

/* ---- finding things ------------------------------------------------------------------ */

static bool executable(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

ml_status ml_pyrun_find_python(const char *given, char *out, size_t out_size, ml_err *err) {
  if (given) {
    if (strchr(given, '/')) {
      if (!executable(given)) return ml_err_set(err, ML_ERR_CONFIG, "--python %s: no executable file there", given);
      /* absolute: the child runs in the connector's directory */
      char abs[PATH_MAX];
      if (given[0] != '/' && realpath(given, abs)) given = abs;
      snprintf(out, out_size, "%s", given);
      return ML_OK;
    }
  }
  const char *venv = getenv("VIRTUAL_ENV");
  if (!given && venv && *venv) {
    snprintf(out, out_size, "%s/bin/python", venv);
    if (executable(out)) return ML_OK;
  }
  const char *name = given ? given : "python3";
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  for (const char *p = path; *p;) {
    const char *colon = strchr(p, ':');
    size_t n = colon ? (size_t)(colon - p) : strlen(p);
    if (n) {
      snprintf(out, out_size, "%.*s/%s", (int)n, p, name);
      if (executable(out)) return ML_OK;
    }
    p += n + (colon ? 1 : 0);
  }
  if (given) return ml_err_set(err, ML_ERR_CONFIG, "--python %s: not found on PATH", given);
  return ml_err_set(err, ML_ERR_CONFIG,
                    "connector.py needs a Python 3 interpreter and none was found (%sno python3 on PATH): install "
                    "one (apt-get install python3) or name it with --python PATH",
                    venv && *venv ? "$VIRTUAL_ENV/bin/python is missing, " : "");
}

static bool has_sdk(const char *dir) {
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/fivetran_connector_sdk/__init__.py", dir);
  return access(p, R_OK) == 0;
}

#ifdef MALLARD_SOURCE_PYTHON_DIR
#define SOURCE_PYTHON_DIR MALLARD_SOURCE_PYTHON_DIR
#else
#define SOURCE_PYTHON_DIR NULL
#endif

ml_status ml_pyrun_sdk_dir(char *out, size_t out_size, ml_err *err) {
  static const ml_locate_spec spec = {
      .env = "MALLARD_PYTHON_DIR",
      .rel = "../share/mallard/python",
      .source_dir = SOURCE_PYTHON_DIR,
      .holds = has_sdk,
      .canonical = false,
      .env_lacks = "holds no fivetran_connector_sdk/__init__.py",
      .not_found = "cannot find mallard's fivetran_connector_sdk module (looked in <mallard>/../share/mallard/python "
                   "and the source tree): reinstall mallard, or set MALLARD_PYTHON_DIR",
  };
  return ml_locate_dir(&spec, out, out_size, err);
}

/* ---- the child ------------------------------------------------------------------------- */

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static bool write_all(int fd, const char *s, size_t len) {
  while (len) {
    ssize_t w = write(fd, s, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    s += w;
    len -= (size_t)w;
  }
  return true;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child_exec(const char *dir, const char *python, const char *sdk_dir, char *const *envp, pid_t parent,
                       int ops_w, int in_r, int out_w, int err_w) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(126); /* mallard died before the line above */
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull >= 0) dup2(devnull, 0);
  /* move the pipes out of the way of 0-4 first, then into place; the
   * copies (and every other descriptor of mallard's) close at exec, so the
   * connector holds only 0-4 */
  int hi_ops = fcntl(ops_w, F_DUPFD_CLOEXEC, 10), hi_in = fcntl(in_r, F_DUPFD_CLOEXEC, 10);
  int hi_out = fcntl(out_w, F_DUPFD_CLOEXEC, 10), hi_err = fcntl(err_w, F_DUPFD_CLOEXEC, 10);
  if (hi_ops < 0 || hi_in < 0 || hi_out < 0 || hi_err < 0 || dup2(hi_out, 1) < 0 || dup2(hi_err, 2) < 0 ||
      dup2(hi_ops, CHILD_OPS_FD) < 0 || dup2(hi_in, CHILD_INPUT_FD) < 0)
    _exit(126);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (chdir(dir) != 0) _exit(126);
  char *argv[] = {(char *)python, "-c", (char *)BOOT, (char *)sdk_dir, NULL};
  execve(python, argv, envp);
  static const char msg[] = "mallard: cannot start the Python interpreter\n";
  ssize_t ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
  _exit(127);
}

/* Variables mallard sets for the child; any of the caller's own are
 * replaced. */
#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)
static const char *const CHILD_VARS[] = {"MALLARD_OPS_FD=" TEXT(CHILD_OPS_FD), "MALLARD_INPUT_FD=" TEXT(CHILD_INPUT_FD),
                                         "PYTHONUNBUFFERED=1"};
#define N_CHILD_VARS (sizeof CHILD_VARS / sizeof CHILD_VARS[0])

static void free_env(char **envp) {
  for (char **e = envp; e && *e; e++) free(*e);
  free(envp);
}

/* A copy of the environment with CHILD_VARS set (malloc'd strings). */
static char **child_env(void) {
  extern char **environ;
  size_t n = 0;
  while (environ && environ[n]) n++;
  char **envp = calloc(n + N_CHILD_VARS + 1, sizeof *envp);
  if (!envp) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    bool ours = false;
    for (size_t v = 0; v < N_CHILD_VARS && !ours; v++) {
      size_t name = (size_t)(strchr(CHILD_VARS[v], '=') - CHILD_VARS[v]) + 1;
      ours = !strncmp(environ[i], CHILD_VARS[v], name);
    }
    if (!ours && !(envp[k++] = strdup(environ[i]))) goto oom;
  }
  for (size_t v = 0; v < N_CHILD_VARS; v++)
    if (!(envp[k++] = strdup(CHILD_VARS[v]))) goto oom;
  return envp;
oom:
  free_env(envp);
  return NULL;
}

ml_status ml_pyrun_start(const ml_pyrun_opts *o, ml_pyrun **out, ml_err *err) {
  *out = NULL;
  ml_pyrun *p = calloc(1, sizeof *p);
  if (!p) return ml_err_nomem(err);
  p->pid = -1;
  p->ops_fd = p->control_fd = p->out[0].fd = p->out[1].fd = -1;
  p->out[0].label = "stdout";
  p->out[1].label = "stderr";
  p->stop = o->stop;
  snprintf(p->dir, sizeof p->dir, "%s", o->dir);
  if (!(p->rec = mallard_record_new())) {
    ml_pyrun_free(p);
    return ml_err_nomem(err);
  }
  int ops[2] = {-1, -1}, in[2] = {-1, -1}, so[2] = {-1, -1}, se[2] = {-1, -1};
  if (pipe2(ops, O_CLOEXEC) || pipe2(in, O_CLOEXEC) || pipe2(so, O_CLOEXEC) || pipe2(se, O_CLOEXEC)) {
    ml_status st = ml_err_set(err, ML_ERR_IO, "cannot create pipes for the Python connector: %s", strerror(errno));
    int all[] = {ops[0], ops[1], in[0], in[1], so[0], so[1], se[0], se[1]};
    for (size_t i = 0; i < 8; i++)
      if (all[i] >= 0) close(all[i]);
    ml_pyrun_free(p);
    return st;
  }
  /* A bigger pipe lets the connector and mallard each run on for longer
   * before one waits for the other (with 64 KB they took turns at every
   * batch); best effort: the system's pipe-max-size may be lower. */
  (void)fcntl(ops[1], F_SETPIPE_SZ, OPS_PIPE_BYTES);
  /* the child's environment: mallard's own, plus where its pipes are and
   * unbuffered output (print() reaches the log when it happens); built
   * before fork, so that the child only calls async-signal-safe functions */
  char **envp = child_env();
  if (!envp) {
    int all[] = {ops[0], ops[1], in[0], in[1], so[0], so[1], se[0], se[1]};
    for (size_t i = 0; i < 8; i++) close(all[i]);
    ml_pyrun_free(p);
    return ml_err_nomem(err);
  }
  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) child_exec(o->dir, o->python, o->sdk_dir, envp, parent, ops[1], in[0], so[1], se[1]);
  int fork_errno = errno;
  free_env(envp);
  close(ops[1]);
  close(in[0]);
  close(so[1]);
  close(se[1]);
  p->ops_fd = ops[0];
  p->out[0].fd = so[0];
  p->out[1].fd = se[0];
  if (pid < 0) {
    close(in[1]);
    ml_pyrun_free(p);
    return ml_err_set(err, ML_ERR_IO, "cannot start the Python connector: %s", strerror(fork_errno));
  }
  p->pid = pid;
  /* The input line: the child reads all of it before it writes anything,
   * so writing it whole here cannot deadlock.  A child that died early
   * makes this fail (EPIPE; the CLI ignores SIGPIPE), and the frames' end of
   * file reports why.  The pipe stays open for ml_pyrun_go. */
  p->control_fd = in[1];
  write_all(in[1], o->input_json, strlen(o->input_json));
  write_all(in[1], "\n", 1);
  *out = p;
  return ML_OK;
}

void ml_pyrun_go(ml_pyrun *p) {
  /* a write that fails finds the child gone: its frames' end of file says how */
  if (p->control_fd >= 0) write_all(p->control_fd, "g", 1);
  close_fd(&p->control_fd);
}

static void reap(ml_pyrun *p, int wait_ms, bool kill_after) {
  if (p->pid <= 0 || p->reaped) return;
  for (int waited = 0;; waited += 10) {
    pid_t r = waitpid(p->pid, &p->status, WNOHANG);
    if (r == p->pid || (r < 0 && errno != EINTR)) {
      p->reaped = true;
      return;
    }
    if (waited >= wait_ms) break;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (!kill_after) return;
  kill(-p->pid, SIGKILL); /* its process group: what it started goes too */
  while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR) {
  }
  p->reaped = true;
}

void ml_pyrun_free(ml_pyrun *p) {
  if (!p) return;
  if (p->pid > 0) kill(-p->pid, SIGKILL); /* the child, if it runs, and what it started */
  if (p->pid > 0 && !p->reaped) reap(p, 1000, true);
  close_fd(&p->ops_fd);
  close_fd(&p->control_fd);
  for (int i = 0; i < 2; i++) {
    close_fd(&p->out[i].fd);
    ml_buf_free(&p->out[i].line);
  }
  ml_buf_free(&p->in);
  ml_marshal_free(&p->mr);
  mallard_record_free(p->rec);
  ml_buf_free(&p->table);
  ml_buf_free(&p->name);
  ml_buf_free(&p->text);
  free(p);
}

/* ---- reading ----------------------------------------------------------------------------- */

static void emit_line(mallard_ctx *ctx, out_pipe *o) {
  size_t n = o->line.len;
  if (n && o->line.data[n - 1] == '\r') n--;
  /* control characters (a NUL would cut the line short) are shown as '?' */
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)o->line.data[i] < 0x20 && o->line.data[i] != '\t') o->line.data[i] = '?';
  mallard_log(ctx, MALLARD_INFO, "[connector %s] %.*s", o->label, (int)n, o->line.data ? o->line.data : "");
  ml_buf_reset(&o->line);
}

/* What the connector printed: shown line by line, marked. */
static void relay(mallard_ctx *ctx, out_pipe *o) {
  char buf[8192];
  ssize_t n = read(o->fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    if (o->line.len) emit_line(ctx, o);
    close_fd(&o->fd);
    return;
  }
  for (ssize_t i = 0; i < n; i++) {
    if (buf[i] == '\n' || o->line.len >= 65536) {
      emit_line(ctx, o);
      if (buf[i] == '\n') continue;
    }
    ml_buf_putc(&o->line, buf[i]);
  }
}

/* Waits for the child's output (at most 200 ms, so that a stop request is
 * seen while the connector hangs) and takes what came.  Returns a mallard
 * status: MALLARD_OK, or MALLARD_ERR_ABORTED when the run was stopped. */
static int pump(ml_pyrun *p, mallard_ctx *ctx, bool want_ops) {
  int rc = ml_sdk_interrupted(ctx);
  if (rc) return rc;
  struct pollfd fds[3];
  int n = 0, which[3];
  if (want_ops && !p->ops_eof) {
    fds[n] = (struct pollfd){p->ops_fd, POLLIN, 0};
    which[n++] = -1;
  }
  for (int i = 0; i < 2; i++)
    if (p->out[i].fd >= 0) {
      fds[n] = (struct pollfd){p->out[i].fd, POLLIN, 0};
      which[n++] = i;
    }
  if (!n) return MALLARD_OK;
  int r = poll(fds, (nfds_t)n, 200);
  if (r < 0 && errno != EINTR) return mallard_fail(ctx, "cannot wait for the Python connector: %s", strerror(errno));
  if (r == 0 && want_ops && !p->reaped && p->pid > 0) {
    /* nothing to read and the child has exited: a process it started may
     * hold the pipe open, so its end of file may never come */
    pid_t w = waitpid(p->pid, &p->status, WNOHANG);
    if (w == p->pid) {
      p->reaped = true;
      p->ops_eof = true;
    }
  }
  if (r <= 0) return ml_sdk_interrupted(ctx);
  for (int i = 0; i < n; i++) {
    if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    if (which[i] >= 0) {
      relay(ctx, &p->out[which[i]]);
      continue;
    }
    /* room for what the pipe holds, and for the whole frame being read */
    size_t want = 1 << 16;
    if (!ml_buf_reserve(&p->in, want)) return mallard_fail(ctx, "out of memory");
    ssize_t got = read(p->ops_fd, p->in.data + p->in.len, p->in.cap - p->in.len - 1);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) p->ops_eof = true;
    else p->in.len += (size_t)got;
  }
  return MALLARD_OK;
}

static const char *signal_name(int sig) {
  const char *s = sigabbrev_np(sig);
  static const char *const unknown = "an unknown signal";
  return s ? s : unknown;
}


/* Shows what the child still prints until it closes stdout and stderr,
 * for at most ms (a process it started may hold them open). */
static int drain(ml_pyrun *p, mallard_ctx *ctx, int ms) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (p->out[0].fd >= 0 || p->out[1].fd >= 0) {
    int rc = pump(p, ctx, false);
    if (rc) return rc;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms) break;
  }
  return MALLARD_OK;
}

/* The operations' pipe ended without 'D' or 'E': say how the child ended. */
static int ended(ml_pyrun *p, mallard_ctx *ctx, const char *phase) {
  /* what it printed last often says why; read before waiting, so that a
   * child blocked on a full stderr pipe can finish */
  int rc = drain(p, ctx, 2000);
  if (rc) return rc;
  reap(p, REAP_WAIT_MS, true);
  int s = p->status;
  if (WIFSIGNALED(s)) {
    int sig = WTERMSIG(s);
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT || sig == SIGILL || sig == SIGFPE)
      return mallard_fail(ctx,
                          "the Python connector crashed (SIG%s) during %s(); run it under `python3 -X faulthandler` "
                          "to see where",
                          signal_name(sig), phase);
    return mallard_fail(ctx, "the Python connector was killed by SIG%s during %s()", signal_name(sig), phase);
  }
  if (WIFEXITED(s) && WEXITSTATUS(s) == 127)
    return mallard_fail(ctx, "the Python interpreter could not be started (see the message above)");
  return mallard_fail(ctx, "the Python connector exited with status %d during %s() without finishing it",
                      WIFEXITED(s) ? WEXITSTATUS(s) : -1, phase);
}

static uint32_t rd_u32(const unsigned char *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* The next frame: *kind, and its payload (valid until the next call). */
static int next_frame(ml_pyrun *p, mallard_ctx *ctx, const char *phase, int *kind, const char **payload,
                      size_t *len) {
  for (;;) {
    size_t avail = p->in.len - p->pos;
    if (avail >= 5) {
      const unsigned char *h = (const unsigned char *)p->in.data + p->pos;
      size_t n = rd_u32(h);
      if (n == 0 || n > MAX_FRAME)
        return mallard_fail(ctx, "the Python connector sent a malformed frame (length %zu)", n);
      if (avail >= 4 + n) {
        *kind = h[4];
        *payload = (const char *)h + 5;
        *len = n - 1;
        p->pos += 4 + n;
        return MALLARD_OK;
      }
      if (!ml_buf_reserve(&p->in, 4 + n - avail)) return mallard_fail(ctx, "out of memory");
    }
    if (p->ops_eof) return ended(p, ctx, phase);
    if (p->pos) { /* keep the partial frame at the start */
      memmove(p->in.data, p->in.data + p->pos, avail);
      p->in.len = avail;
      p->pos = 0;
    }
    int rc = pump(p, ctx, true);
    if (rc) return rc;
  }
}

/* ---- frames --------------------------------------------------------------------------------- */

static const char *cstr(ml_buf *b, const char *s, size_t n) {
  ml_buf_reset(b);
  ml_buf_append(b, s, n);
  ml_buf_putc(b, 0); /* keeps data non-NULL for n == 0 */
  return ml_buf_ok(b) ? b->data : NULL;
}

/* "connector.py line 12" for an operation's origin. */
static void origin(const ml_pyrun *p, const ml_marshal_val *file, int64_t line, char *out, size_t n) {
  size_t dl = strlen(p->dir);
  const char *f = file->s;
  size_t fl = file->len;
  if (fl > dl + 1 && !memcmp(f, p->dir, dl) && f[dl] == '/') {
    f += dl + 1;
    fl -= dl + 1;
  }
  snprintf(out, n, "%.*s line %lld", (int)(fl > 200 ? 200 : fl), f, (long long)line);
}

static int read_next(ml_pyrun *p, mallard_ctx *ctx, ml_marshal_val *v) {
  ml_err err;
  if (ml_marshal_next(&p->mr, v, &err) != ML_OK) return mallard_fail(ctx, "%s", err.msg);
  return MALLARD_OK;
}

/* Skips what a container value holds (nothing for a scalar). */
static int skip_values(ml_pyrun *p, mallard_ctx *ctx, const ml_marshal_val *v) {
  if (v->kind != ML_MARSHAL_TUPLE && v->kind != ML_MARSHAL_LIST && v->kind != ML_MARSHAL_DICT) return MALLARD_OK;
  ml_err err;
  if (ml_marshal_skip(&p->mr, v, &err) != ML_OK) return mallard_fail(ctx, "%s", err.msg);
  return MALLARD_OK;
}

/* One value of a row into the record under name; reads all of v. */
static int put_value(ml_pyrun *p, mallard_ctx *ctx, const char *name, const ml_marshal_val *v) {
  mallard_record *r = p->rec;
  switch (v->kind) {
  case ML_MARSHAL_NONE: return mallard_set_null(r, name);
  case ML_MARSHAL_BOOL: return mallard_set_bool(r, name, (int)v->i);
  case ML_MARSHAL_INT: return mallard_set_long(r, name, v->i);
  case ML_MARSHAL_FLOAT: return mallard_set_double(r, name, v->d);
  case ML_MARSHAL_STR: return mallard_set_stringn(r, name, v->s, v->len);
  case ML_MARSHAL_BYTES: return mallard_set_binary(r, name, v->s, v->len);
  case ML_MARSHAL_BIGINT: {
    ml_buf_reset(&p->text);
    ml_marshal_bigint_text(v, &p->text);
    if (!ml_buf_ok(&p->text)) return mallard_fail(ctx, "out of memory");
    return mallard_set_decimal(r, name, p->text.data);
  }
  case ML_MARSHAL_TUPLE: {
    /* a tagged value: (tag, text); read whole whatever its shape, so that
     * the reader stays on the row's next key */
    ml_marshal_val tag = {0}, text = {0};
    int rc;
    if ((rc = read_next(p, ctx, &tag))) return rc;
    if (v->len >= 2 && (rc = read_next(p, ctx, &text))) return rc;
    if ((rc = skip_values(p, ctx, &tag)) || (v->len >= 2 && (rc = skip_values(p, ctx, &text)))) return rc;
    for (size_t k = 2; k < v->len; k++) {
      ml_marshal_val extra;
      if ((rc = read_next(p, ctx, &extra)) || (rc = skip_values(p, ctx, &extra))) return rc;
    }
    if (v->len != 2 || tag.kind != ML_MARSHAL_INT || text.kind != ML_MARSHAL_STR) break;
    const char *t = cstr(&p->text, text.s, text.len);
    if (!t) return mallard_fail(ctx, "out of memory");
    switch (tag.i) {
    case TAG_JSON: return mallard_set_json(r, name, t);
    case TAG_NAIVE_DT: return mallard_set_naive_datetime(r, name, t);
    case TAG_UTC_DT: return mallard_set_utc_datetime(r, name, t);
    case TAG_DATE: return mallard_set_date(r, name, t);
    case TAG_TIME: return mallard_set_time(r, name, t);
    case TAG_DECIMAL: return mallard_set_decimal(r, name, t);
    default: break;
    }
    break;
  }
  default: {
    int rc = skip_values(p, ctx, v); /* a list or dict: never sent, but read whole */
    if (rc) return rc;
    break;
  }
  }
  return mallard_fail(ctx, "the Python connector sent a value mallard cannot read (column '%s')", name);
}

/* The row dict of an upsert, update or delete into p->rec. */
static int read_row(ml_pyrun *p, mallard_ctx *ctx, const char *table) {
  mallard_record_clear(p->rec);
  for (;;) {
    ml_marshal_val k, v;
    int rc = read_next(p, ctx, &k);
    if (rc) return rc;
    if (k.kind == ML_MARSHAL_END) return MALLARD_OK;
    if (k.kind != ML_MARSHAL_STR)
      return mallard_fail(ctx, "table '%s': the Python connector sent a column name that is not a str", table);
    const char *name = cstr(&p->name, k.s, k.len);
    if (!name) return mallard_fail(ctx, "out of memory");
    if ((rc = read_next(p, ctx, &v))) return rc;
    /* a setter's error stays in the record and fails the operation, which
     * names table and column; put_value has read all of v either way */
    if (put_value(p, ctx, name, &v) == MALLARD_OK || mallard_record_error(p->rec)) continue;
    return MALLARD_ERR_FAILED;
  }
}

static int malformed(mallard_ctx *ctx, const char *what) {
  return mallard_fail(ctx, "the Python connector sent a malformed operation: %s", what);
}

/* Logs a text of n bytes (the runner shows each of its lines with time
 * and level). */
static void log_text(mallard_ctx *ctx, int level, const char *s, size_t n) {
  while (n && s[n - 1] == '\n') n--;
  mallard_log(ctx, (mallard_level)level, "%.*s", (int)(n > INT_MAX ? INT_MAX : n), s);
}

static int one_op(ml_pyrun *p, mallard_ctx *ctx) {
  ml_marshal_val op, code, a, b, file, line;
  int rc;
  if ((rc = read_next(p, ctx, &op))) return rc;
  if (op.kind != ML_MARSHAL_TUPLE || op.len != 5) return malformed(ctx, "not a 5-tuple");
  if ((rc = read_next(p, ctx, &code)) || (rc = read_next(p, ctx, &a))) return rc;
  if (code.kind != ML_MARSHAL_INT) return malformed(ctx, "no operation code");
  const char *table = NULL;
  if (a.kind == ML_MARSHAL_STR && !(table = cstr(&p->table, a.s, a.len))) return mallard_fail(ctx, "out of memory");
  if ((rc = read_next(p, ctx, &b))) return rc;
  switch (code.i) {
  case OP_UPSERT:
  case OP_UPDATE:
  case OP_DELETE:
    if (!table || b.kind != ML_MARSHAL_DICT) return malformed(ctx, "a row without table or dict");
    rc = read_row(p, ctx, table);
    break;
  case OP_TRUNCATE:
    if (!table) return malformed(ctx, "truncate without a table");
    if (b.kind != ML_MARSHAL_NONE) return malformed(ctx, "truncate with data");
    break;
  case OP_CHECKPOINT:
  case OP_LOG:
  case OP_FAIL:
    if (b.kind != ML_MARSHAL_STR) return malformed(ctx, "a text operation without its text");
    break;
  default: return malformed(ctx, "an unknown operation code");
  }
  if (rc) return rc;
  /* the origin is read before acting: an operation's error names it */
  const char *bs = b.s;
  size_t blen = b.len;
  if ((rc = read_next(p, ctx, &file)) || (rc = read_next(p, ctx, &line))) return rc;
  if (file.kind != ML_MARSHAL_STR || line.kind != ML_MARSHAL_INT) return malformed(ctx, "no origin");
  char where[320];
  switch (code.i) {
  case OP_UPSERT: rc = mallard_upsert(ctx, table, p->rec); break;
  case OP_UPDATE: rc = mallard_update(ctx, table, p->rec); break;
  case OP_DELETE: rc = mallard_delete(ctx, table, p->rec); break;
  case OP_TRUNCATE: rc = mallard_truncate(ctx, table); break;
  case OP_CHECKPOINT: {
    ml_err err;
    if (ml_sdk_replace_state(ctx, bs, blen, &err) != ML_OK) rc = mallard_fail(ctx, "checkpoint: %s", err.msg);
    else rc = mallard_checkpoint(ctx);
    break;
  }
  case OP_LOG: {
    int level = a.kind == ML_MARSHAL_INT && a.i >= MALLARD_FINE && a.i <= MALLARD_SEVERE ? (int)a.i : MALLARD_INFO;
    log_text(ctx, level, bs, blen);
    return MALLARD_OK;
  }
  case OP_FAIL: {
    origin(p, &file, line.i, where, sizeof where);
    log_text(ctx, MALLARD_SEVERE, bs, blen);
    const char *nl = memchr(bs, '\n', blen);
    size_t first = nl ? (size_t)(nl - bs) : blen;
    return mallard_fail(ctx, "the connector called op.error() at %s: %.*s", where, (int)(first > 600 ? 600 : first),
                        bs);
  }
  }
  if (rc) {
    origin(p, &file, line.i, where, sizeof where);
    char note[360];
    snprintf(note, sizeof note, " (sent by %s)", where);
    ml_sdk_append_reason(ctx, note);
    if (rc == MALLARD_ERR_STATE) return mallard_fail(ctx, "%s (at %s)", mallard_last_error(ctx), where);
  }
  return rc;
}

static int ops_frame(ml_pyrun *p, mallard_ctx *ctx, const char *data, size_t len) {
  ml_marshal_reset(&p->mr, data, len);
  ml_marshal_val list;
  int rc = read_next(p, ctx, &list);
  if (rc) return rc;
  if (list.kind != ML_MARSHAL_LIST) return malformed(ctx, "a batch that is not a list");
  for (size_t i = 0; i < list.len; i++)
    if ((rc = one_op(p, ctx))) return rc;
  if (!ml_marshal_done(&p->mr)) return malformed(ctx, "bytes after the batch");
  return MALLARD_OK;
}

/* 'E': the connector failed.  Logs the traceback, fails the run with the
 * exception's last line and where it was raised. */
static int error_frame(ml_pyrun *p, mallard_ctx *ctx, const char *data, size_t len) {
  ml_json_doc *doc = ml_json_doc_new();
  const ml_json_val *root = NULL;
  ml_err err;
  if (!doc || ml_json_parse(doc, data, len, &root, &err) != ML_OK || root->type != ML_JSON_OBJECT) {
    ml_json_doc_free(doc);
    return mallard_fail(ctx, "the Python connector failed (its report is unreadable)");
  }
  const ml_json_val *phase = ml_json_get(root, "phase"), *summary = ml_json_get(root, "summary"),
                    *tb = ml_json_get(root, "traceback"), *where = ml_json_get(root, "where"),
                    *hint = ml_json_get(root, "hint");
#define S(v) ((v) && (v)->type == ML_JSON_STRING ? (v)->u.str : "")
  drain(p, ctx, 2000); /* what it printed before it failed comes first */
  if (*S(tb)) log_text(ctx, MALLARD_SEVERE, S(tb), strlen(S(tb)));
  const char *ph = S(phase);
  char at[300] = "";
  if (*S(where)) snprintf(at, sizeof at, " at %s", S(where));
  int rc;
  if (!strcmp(ph, "load"))
    rc = mallard_fail(ctx, "connector.py could not be loaded: %s%s%s%s", S(summary), at, *S(hint) ? "; " : "",
                      S(hint));
  else
    rc = mallard_fail(ctx, "%s() failed: %s%s%s%s", ph, S(summary), at, *S(hint) ? "; " : "", S(hint));
#undef S
  ml_json_doc_free(doc);
  reap(p, REAP_WAIT_MS, true);
  return rc;
}

/* Applies operation frames until the frame `until` ('S' in schema(), 'D' in
 * update()), which it leaves in *data / *len; an error frame or any other
 * kind ends the phase as failed. */
static int frames_until(ml_pyrun *p, mallard_ctx *ctx, const char *phase, int until, const char **data,
                        size_t *len) {
  for (;;) {
    int kind = 0;
    int rc = next_frame(p, ctx, phase, &kind, data, len);
    if (rc) return rc;
    if (kind == until) return MALLARD_OK;
    if (kind == 'O') {
      if ((rc = ops_frame(p, ctx, *data, *len))) return rc;
    } else if (kind == 'E') {
      return error_frame(p, ctx, *data, *len);
    } else {
      return mallard_fail(ctx, "the Python connector sent an unexpected frame '%c' during %s()", kind, phase);
    }
  }
}

int ml_pyrun_schema(mallard_ctx *ctx, void *ud) {
  ml_pyrun *p = ud;
  const char *data = NULL;
  size_t len = 0;
  int rc = frames_until(p, ctx, "schema", 'S', &data, &len);
  if (rc) return rc;
  const char *json = cstr(&p->text, data, len);
  return json ? mallard_schema_json(ctx, json) : mallard_fail(ctx, "out of memory");
}

int ml_pyrun_update(mallard_ctx *ctx, void *ud) {
  ml_pyrun *p = ud;
  const char *data = NULL;
  size_t len = 0;
  int rc = frames_until(p, ctx, "update", 'D', &data, &len);
  if (rc) return rc;
  /* what it prints on its way out is still shown */
  if ((rc = drain(p, ctx, REAP_WAIT_MS))) return rc;
  reap(p, REAP_WAIT_MS, true);
  return MALLARD_OK;
}
