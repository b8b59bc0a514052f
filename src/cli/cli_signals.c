/* The stop flag of the CLI: SIGINT and SIGTERM set it, the long-running
 * commands (write, debug) check it and stop at a clean point.  A signal
 * handler can only reach a global, so this is the program's one piece of
 * global mutable state (the library has none). */
#include <signal.h>
#include <string.h>

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
