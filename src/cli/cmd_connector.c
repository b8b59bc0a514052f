/* mallard debug | init | reset: the connector SDK's local runner. */
#include <stdio.h>

#include "ml_cli.h"

static int not_yet(const char *name) {
  fprintf(stderr, "mallard %s: not available in this build yet\n", name);
  return ML_EXIT_USAGE;
}

int ml_cmd_debug(int argc, char **argv) { (void)argc; (void)argv; return not_yet("debug"); }
int ml_cmd_init(int argc, char **argv) { (void)argc; (void)argv; return not_yet("init"); }
int ml_cmd_reset(int argc, char **argv) { (void)argc; (void)argv; return not_yet("reset"); }
