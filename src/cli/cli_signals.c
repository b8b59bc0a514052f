/* The signal handlers of the CLI.  The stop flag: SIGINT and SIGTERM set
 * it, the long-running commands (write, debug) check it and stop at a clean
 * point.  The crash report of mallard debug (below).  A signal handler can
 * only reach globals, so these are the program's only pieces of global
 * mutable state (the library has none). */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "ml_cli.h"

static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig) { stop_signal = sig; }

const volatile sig_atomic_t *ml_cli_catch_stop_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  /* a reader that went away is reported as a write error, not a silent death */
  signal(SIGPIPE, SIG_IGN);
  return &stop_signal;
}

/* ---- a C connector that crashes -------------------------------------------------
 * A C connector runs inside the mallard process, so its crash (SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGABRT) ends mallard.  The handler says so on
 * stdout, where the run's result goes, with what files/state.json holds and
 * how to debug, then dies of the same signal (exit status 128+N).  It may
 * only use async-signal-safe calls: the text it prints is assembled from
 * buffers prepared before the crash. */

static char crash_dir[1024];
static char crash_state[600]; /* the state of the last checkpoint saved, NUL-terminated */
static volatile sig_atomic_t crash_state_ready = 0;
static char crash_stack[1 << 16];

static size_t put(char *buf, size_t n, size_t cap, const char *s) {
  while (*s && n + 1 < cap) buf[n++] = *s++;
  buf[n] = 0;
  return n;
}

static void on_crash(int sig) {
  static char msg[2400];
  const char *name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGILL ? "SIGILL"
                     : sig == SIGFPE ? "SIGFPE" : "SIGABRT";
  size_t n = put(msg, 0, sizeof msg, "\nSync FAILED: the connector crashed (");
  n = put(msg, n, sizeof msg, name);
  n = put(msg, n, sizeof msg, "). ");
  if (crash_state_ready) {
    n = put(msg, n, sizeof msg, "files/state.json holds the last checkpoint saved, ");
    n = put(msg, n, sizeof msg, crash_state);
    n = put(msg, n, sizeof msg,
            "; the warehouse holds that checkpoint or the next one committed after it, and the next run starts "
            "from state.json (operations sent again give the same tables).");
  } else {
    n = put(msg, n, sizeof msg, "No checkpoint was saved: the warehouse holds what earlier runs committed, and the "
                                "next run starts from the beginning.");
  }
  n = put(msg, n, sizeof msg, " To see where it crashed: gdb -batch -ex run -ex bt --args mallard debug ");
  n = put(msg, n, sizeof msg, crash_dir);
  n = put(msg, n, sizeof msg, "   (or: valgrind mallard debug ");
  n = put(msg, n, sizeof msg, crash_dir);
  n = put(msg, n, sizeof msg, ")\n");
  ssize_t ignored = write(STDOUT_FILENO, msg, n);
  (void)ignored;
  signal(sig, SIG_DFL);
  raise(sig);
}

void ml_cli_catch_crashes(const char *dir) {
  size_t n = put(crash_dir, 0, sizeof crash_dir, dir);
  (void)n;
  stack_t ss = {.ss_sp = crash_stack, .ss_size = sizeof crash_stack, .ss_flags = 0};
  sigaltstack(&ss, NULL); /* a stack overflow leaves no stack for the handler */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_crash;
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}

void ml_cli_crash_state(void *ud, const char *json, size_t len) {
  (void)ud;
  crash_state_ready = 0;
  size_t n = len < sizeof crash_state - 4 ? len : sizeof crash_state - 4;
  memcpy(crash_state, json, n);
  if (n < len) memcpy(crash_state + n, "...", 3), n += 3;
  crash_state[n] = 0;
  crash_state_ready = 1;
}
