/* The mallard command line: one function per sub-command.  Each takes the
 * arguments after the sub-command name (argv[0] is the sub-command itself)
 * and returns the process exit code.  Exit codes are documented in README.md:
 *   0 success, 1 the job failed (bad input, database error, connector
 *   failure), 2 usage error (unknown option, missing argument),
 *   3 the database file is locked by another process, 130/143 stopped by
 *   SIGINT/SIGTERM. */
#ifndef ML_CLI_H
#define ML_CLI_H

enum {
  ML_EXIT_OK = 0,
  ML_EXIT_FAILED = 1,
  ML_EXIT_USAGE = 2,
  ML_EXIT_LOCKED = 3,
  ML_EXIT_SIGINT = 130,
  ML_EXIT_SIGTERM = 143
};

#include <signal.h>

/* Installs the SIGINT/SIGTERM handlers (and ignores SIGPIPE); returns the
 * flag they set to the signal number.  Valid for the life of the process. */
const volatile sig_atomic_t *ml_cli_catch_stop_signals(void);

/* For mallard debug: a crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) of
 * a C connector, which runs inside mallard, prints "Sync FAILED: the
 * connector crashed (SIGSEGV)", what files/state.json holds and how to debug
 * the connector in dir (copied), then ends the process by that signal.
 * ml_cli_crash_state keeps the text of the last state saved for that report
 * (an ml_runner_opts.on_state_saved hook; ud unused). */
#include <stddef.h>
void ml_cli_catch_crashes(const char *dir);
void ml_cli_crash_state(void *ud, const char *json, size_t len);

int ml_cmd_spec(int argc, char **argv);
int ml_cmd_check(int argc, char **argv);
int ml_cmd_write(int argc, char **argv);
int ml_cmd_query(int argc, char **argv);
int ml_cmd_debug(int argc, char **argv);
int ml_cmd_init(int argc, char **argv);
int ml_cmd_reset(int argc, char **argv);
int ml_cmd_state(int argc, char **argv);

#endif
