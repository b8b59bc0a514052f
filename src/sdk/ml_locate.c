#include "ml_locate.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ml_status ml_locate_dir(const ml_locate_spec *spec, char *out, size_t out_size, ml_err *err) {
  const char *env = getenv(spec->env);
  if (env && *env) {
    if (!spec->holds(env)) return ml_err_set(err, ML_ERR_CONFIG, "%s=%s %s", spec->env, env, spec->env_lacks);
    snprintf(out, out_size, "%s", env);
    return ML_OK;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      char cand[PATH_MAX + 64];
      snprintf(cand, sizeof cand, "%s/%s", exe, spec->rel);
      char real[PATH_MAX];
      if (strlen(cand) < PATH_MAX && spec->holds(cand) && (!spec->canonical || realpath(cand, real))) {
        snprintf(out, out_size, "%s", spec->canonical ? real : cand);
        return ML_OK;
      }
    }
  }
  if (spec->source_dir && spec->holds(spec->source_dir)) {
    snprintf(out, out_size, "%s", spec->source_dir);
    return ML_OK;
  }
  return ml_err_set(err, ML_ERR_CONFIG, "%s", spec->not_found);
}
