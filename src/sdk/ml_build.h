/* ml_build: compiles a connector directory into a shared object that the
 * runner loads with dlopen.
 *
 *   cc -shared -fPIC -O2 -g -std=c11 -D_DEFAULT_SOURCE -I<mallard include> -I<dir>
 *      -o <out_dir>/connector.so <dir>/[*].c $(pkg-config --cflags --libs <requirements.txt>) -lm
 *
 * The compiler is $CC when set (it may carry arguments, e.g. "ccache gcc"),
 * else cc.  The object is rebuilt only when it is missing or older than one
 * of <dir>/[*].c, <dir>/[*].h, <dir>/requirements.txt or mallard.h, or when
 * `force` is set; it is written to a temporary name and renamed, so a failed
 * build leaves the previous one in place.  The compiler's messages go to
 * stderr as they are. */
#ifndef ML_BUILD_H
#define ML_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/ml_err.h"

typedef struct ml_build_opts {
  const char *dir;         /* connector sources */
  const char *out_dir;     /* created if missing */
  const char *include_dir; /* holds mallard.h */
  bool force;
} ml_build_opts;

/* On success *so_path is malloc'd (caller frees) and *rebuilt says whether
 * the compiler ran; cmd (may be NULL) receives the compiler command line as
 * text for the log (truncated to cmd_size).  ML_ERR_INPUT when the
 * directory has no .c file, ML_ERR_CONFIG when pkg-config does not know a
 * requirement, ML_ERR_CONNECTOR when the compiler fails. */
ml_status ml_build_connector(const ml_build_opts *o, char **so_path, bool *rebuilt, char *cmd, size_t cmd_size,
                             ml_err *err);

/* Whether dir holds a C source (a *.c file: what ml_build_connector
 * compiles); name (may be NULL) receives the first one's file name. */
bool ml_build_c_source(const char *dir, char *name, size_t name_size);

/* The directory holding mallard.h: $MALLARD_INCLUDE_DIR, else <exe>/../include
 * (an installed tree, or a build directory inside the source tree), else the
 * source tree mallard was built from.  out receives it (out_size bytes). */
ml_status ml_build_include_dir(char *out, size_t out_size, ml_err *err);

#endif
