/* mallard: entry point and sub-command dispatch. */
#include <stdio.h>
#include <string.h>

#include "../util/ml_malloc.h"
#include "../warehouse/ml_wh.h"
#include "ml_cli.h"
#include "ml_version.h" /* MALLARD_GIT_COMMIT, generated at build time */

/* MALLARD_VERSION comes from CMake's project(VERSION): the one place it lives. */
#ifndef MALLARD_VERSION
#error "MALLARD_VERSION is not defined: build with CMake (it passes the project version)"
#endif

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"spec", ml_cmd_spec, "print the destination's connector specification (Airbyte SPEC)"},
    {"check", ml_cmd_check, "check a destination config: --config FILE"},
    {"write", ml_cmd_write, "load Airbyte messages from stdin: --config FILE --catalog FILE"},
    {"query", ml_cmd_query, "list tables of a DuckDB file or run SQL on it: DB [SQL] [--json]"},
    {"debug", ml_cmd_debug, "run a connector (connector.py for the Fivetran SDK, or C) into files/warehouse.db: [DIR]"},
    {"init", ml_cmd_init, "create a new connector project: DIR [--template NAME]"},
    {"reset", ml_cmd_reset, "delete a connector project's warehouse and state: [DIR] [--yes]"},
    {"state", ml_cmd_state, "the last committed state of a destination file or a connector: DB|DIR [--json]"},
};

static void usage(FILE *out) {
  fprintf(out, "usage: mallard COMMAND [OPTIONS]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-7s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "  %-7s %s\n", "--version", "print mallard's version, DuckDB's version and the git commit");
  fprintf(out, "\n'mallard COMMAND --help' (or 'mallard help COMMAND') describes a command's options, config and exit\n"
               "codes.  README.md and docs/ have the details.\n");
}

int main(int argc, char **argv) {
  ml_malloc_tune_process();
  if (argc < 2) {
    usage(stderr);
    return ML_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
    /* mallard help COMMAND: that command's --help */
    if (argc > 3) {
      fprintf(stderr, "mallard help: unexpected argument '%s'\n", argv[3]);
      return ML_EXIT_USAGE;
    }
    for (size_t i = 0; argc > 2 && i < sizeof commands / sizeof commands[0]; i++)
      if (!strcmp(argv[2], commands[i].name)) {
        char *help_argv[] = {argv[2], "--help", NULL};
        return commands[i].run(2, help_argv);
      }
    if (argc > 2) {
      fprintf(stderr, "mallard help: unknown command '%s'\n\n", argv[2]);
      usage(stderr);
      return ML_EXIT_USAGE;
    }
    usage(stdout);
    return ML_EXIT_OK;
  }
  if (!strcmp(name, "--version") || !strcmp(name, "version")) {
    printf("mallard %s (DuckDB %s, commit %s)\n", MALLARD_VERSION, ml_wh_duckdb_version(), MALLARD_GIT_COMMIT);
    return ML_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(name, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "mallard: unknown command '%s'\n\n", name);
  usage(stderr);
  return ML_EXIT_USAGE;
}
