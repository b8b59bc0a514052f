/* ml_locate: where mallard finds a directory it ships beside its binary
 * (mallard.h's for C connectors, the fivetran_connector_sdk module's for
 * Python ones), looked up the same way for each: an environment variable
 * that names it, else a path relative to the running binary (an installed
 * tree, or a build directory inside the source tree), else the source tree
 * mallard was built from. */
#ifndef ML_LOCATE_H
#define ML_LOCATE_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/ml_err.h"

typedef struct ml_locate_spec {
  const char *env;                /* the variable that names the directory ("MALLARD_INCLUDE_DIR") */
  const char *rel;                /* the directory relative to the binary's ("../include") */
  const char *source_dir;         /* the source tree's, or NULL */
  bool (*holds)(const char *dir); /* whether dir is the one: it holds the file looked for */
  /* The binary-relative directory as realpath gives it (mallard.h's, which
   * the compiler's command line shows), or as found (the SDK module's,
   * "<bin>/../share/mallard/python", which `mallard debug --sdk-path`
   * prints). */
  bool canonical;
  const char *env_lacks; /* the error's words when the variable's directory is not the one ("has no mallard.h") */
  const char *not_found; /* the error when no directory is */
} ml_locate_spec;

/* The first directory of spec's three that `holds` accepts, into out
 * (out_size bytes).  ML_ERR_CONFIG with spec's words when the variable is
 * set (not empty) and names a directory that is not the one (the others
 * are not tried then), or when none is. */
ml_status ml_locate_dir(const ml_locate_spec *spec, char *out, size_t out_size, ml_err *err);

#endif
