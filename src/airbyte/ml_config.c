/* ml_config: the destination's config file and its SPEC (see ml_catalog.h). */
#include "ml_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../json/ml_json.h"
#include "../util/ml_file.h"
#include "../util/ml_near.h"

#ifndef MALLARD_DOCUMENTATION_URL
#error "MALLARD_DOCUMENTATION_URL is not defined: build with CMake (it passes the URL of docs/airbyte.md)"
#endif

#define SCHEMA_PATTERN "^[A-Za-z0-9_]*$"
#define DEFAULT_COMMIT_INTERVAL_MS 1000

void ml_dest_config_free(ml_dest_config *c) {
  if (!c) return;
  free(c->destination_path);
  free(c->schema);
  free(c->local_root);
  free(c->memory_limit);
  memset(c, 0, sizeof *c);
}

/* ---- typed member access ---- */

static bool is_null(const ml_json_val *v) { return !v || v->type == ML_JSON_NULL; }

/* A string member: NULL (not an error) when absent or null. */
static ml_status get_str(const ml_json_val *root, const char *key, const ml_json_val **out, ml_err *err) {
  const ml_json_val *v = ml_json_get(root, key);
  *out = NULL;
  if (is_null(v)) return ML_OK;
  if (v->type != ML_JSON_STRING) return ml_err_set(err, ML_ERR_CONFIG, "config key \"%s\" must be a string", key);
  /* The value becomes a C string (a path, a schema name). */
  if (memchr(v->u.str, '\0', v->len))
    return ml_err_set(err, ML_ERR_CONFIG, "config key \"%s\" contains a NUL character", key);
  *out = v;
  return ML_OK;
}

static char *dup_n(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (p) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

/* ---- destination_path ---- */

typedef struct seg {
  const char *p;
  size_t n;
} seg;

/* Maps destination_path into local_root the way Airbyte's DuckDB destination
 * does inside its container, but lexically (no file system access, so a
 * symlink cannot change the answer and the file need not exist yet):
 * "/local/x" and "x" both mean <local_root>/x; ".." may not climb out of
 * /local.  Another absolute path is the user's own outside a container, and
 * an error inside one (the reference destination rejects it: only /local
 * outlives the container). */
static ml_status resolve_destination(const char *dest, const char *root, bool in_container, char **out,
                                     ml_err *err) {
  size_t dn = strlen(dest);
  bool under_local = strncmp(dest, "/local", 6) == 0 && (dest[6] == '/' || dest[6] == '\0');
  ml_buf virt = ML_BUF_INIT;
  ml_buf res = ML_BUF_INIT;
  seg *segs = NULL;
  ml_status st = ML_OK;

  if (dest[dn - 1] == '/') {
    return ml_err_set(err, ML_ERR_CONFIG,
                      "destination_path \"%s\" ends with '/': it names a directory, not a database file", dest);
  }
  if (dest[0] == '/' && !under_local) {
    if (in_container)
      return ml_err_set(err, ML_ERR_CONFIG,
                        "destination_path \"%s\" is not under /local: in the container only /local is kept (the "
                        "platform mounts it from the host's /tmp/airbyte_local); use a path such as "
                        "/local/destination.duckdb",
                        dest);
    if (!(*out = strdup(dest))) return ml_err_nomem(err);
    return ML_OK;
  }
  /* The path as it would read inside the container. */
  if (!under_local) ml_buf_puts(&virt, "/local/");
  ml_buf_puts(&virt, dest);
  segs = malloc((virt.len / 2 + 2) * sizeof *segs);
  if (!ml_buf_ok(&virt) || !segs) goto nomem;

  size_t depth = 0;
  for (const char *p = virt.data; *p;) {
    while (*p == '/') p++;
    const char *q = p;
    while (*q && *q != '/') q++;
    size_t n = (size_t)(q - p);
    if (n == 0 || (n == 1 && p[0] == '.')) {
      /* nothing: "//" or "." */
    } else if (n == 2 && p[0] == '.' && p[1] == '.') {
      if (depth) depth--; /* ".." at the root stays at the root, as in POSIX */
    } else {
      segs[depth].p = p;
      segs[depth].n = n;
      depth++;
    }
    p = q;
  }
  if (depth == 0 || segs[0].n != 5 || memcmp(segs[0].p, "local", 5) != 0) {
    st = ml_err_set(err, ML_ERR_CONFIG, "destination_path \"%s\" escapes /local", dest);
    goto done;
  }
  if (depth == 1) {
    st = ml_err_set(err, ML_ERR_CONFIG,
                    "destination_path \"%s\" is the /local directory itself; name a database file in it, "
                    "e.g. /local/destination.duckdb",
                    dest);
    goto done;
  }

  size_t rn = strlen(root);
  while (rn > 1 && root[rn - 1] == '/') rn--;
  if (!(rn == 1 && root[0] == '/')) ml_buf_append(&res, root, rn); /* "/" + "/x" would give "//x" */
  for (size_t i = 1; i < depth; i++) {
    ml_buf_putc(&res, '/');
    ml_buf_append(&res, segs[i].p, segs[i].n);
  }
  if (!(*out = ml_buf_steal(&res))) goto nomem;
  goto done;

nomem:
  st = ml_err_nomem(err);
done:
  free(segs);
  ml_buf_free(&virt);
  ml_buf_free(&res);
  return st;
}

static bool is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* "64MB", "1.5 GiB": what DuckDB's memory_limit accepts, checked here so a
 * typo is a config error rather than a failure to open the database. */
static bool is_memory_size(const char *s) {
  const char *p = s;
  if (!(*p >= '0' && *p <= '9')) return false;
  while (*p >= '0' && *p <= '9') p++;
  if (*p == '.') {
    p++;
    if (!(*p >= '0' && *p <= '9')) return false;
    while (*p >= '0' && *p <= '9') p++;
  }
  while (*p == ' ') p++;
  static const char *const units[] = {"B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB"};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (!strcasecmp(p, units[i])) return true;
  return false;
}

/* Every key the config may have (the spec's properties).  The reference
 * destination's spec has additionalProperties: false; so does mallard's,
 * so that a misspelt key is an error instead of a default silently used. */
static const char *const KNOWN_KEYS[] = {"destination_path", "schema",       "local_root",   "raw_tables",
                                         "commit_interval_ms", "memory_limit", "unnest_depth", "motherduck_api_key"};

static ml_status check_known_keys(const ml_json_val *root, ml_err *err) {
  size_t n_known = sizeof KNOWN_KEYS / sizeof KNOWN_KEYS[0];
  for (size_t i = 0; i < root->len; i++) {
    const char *key = ml_json_key(root, i)->u.str;
    bool known = false;
    for (size_t k = 0; k < n_known && !known; k++) known = !strcmp(key, KNOWN_KEYS[k]);
    if (known) {
      /* the reference's MotherDuck token: only an empty one means a local file */
      const ml_json_val *v = ml_json_member(root, i);
      if (!strcmp(key, "motherduck_api_key") && !is_null(v) && !(v->type == ML_JSON_STRING && v->len == 0))
        return ml_err_set(err, ML_ERR_CONFIG,
                          "config key \"motherduck_api_key\": MotherDuck is not supported; mallard writes a local "
                          "DuckDB file (remove the key)");
      continue;
    }
    const char *near = ml_near_match(key, KNOWN_KEYS, n_known);
    if (near) return ml_err_set(err, ML_ERR_CONFIG, "config has an unknown key \"%.100s\": did you mean \"%s\"?", key, near);
    /* a file that is not a config at all (a catalog given as --config) is
     * better told by the missing destination_path */
    if (!ml_json_get(root, "destination_path")) continue;
    return ml_err_set(err, ML_ERR_CONFIG,
                      "config has an unknown key \"%.100s\" (the keys are destination_path, schema, local_root, "
                      "raw_tables, commit_interval_ms, memory_limit and unnest_depth)",
                      key);
  }
  return ML_OK;
}

/* ---- where mallard runs ---- */

/* Whether /local is a mount point in this process's mount namespace.  Field 5
 * of a /proc/self/mountinfo line is the mount point, relative to the
 * process's root (so under chroot too), with ' ', '\t', '\n' and '\\' written
 * as octal escapes; "/local" has none.  Without /proc: whether /local is on
 * another device than / (true of a volume, not of a bind mount from the same
 * file system). */
static bool local_is_mount_point(void) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  if (f) {
    char line[4096];
    bool found = false, line_start = true;
    while (!found && fgets(line, sizeof line, f)) {
      bool starts = line_start;
      line_start = strchr(line, '\n') != NULL; /* a longer line comes in pieces: only its first counts */
      if (!starts) continue;
      char *p = line;
      for (int field = 1; field < 5 && p; field++) { /* skip fields 1-4 */
        p = strchr(p, ' ');
        if (p) p++;
      }
      if (!p) continue;
      found = strncmp(p, "/local ", 7) == 0;
    }
    fclose(f);
    return found;
  }
  struct stat root, local;
  return stat("/", &root) == 0 && stat("/local", &local) == 0 && S_ISDIR(local.st_mode) && root.st_dev != local.st_dev;
}

ml_status ml_dest_env_detect(ml_dest_env *out, ml_err *err) {
  out->local_root = getenv("MALLARD_LOCAL_ROOT");
  const char *c = getenv("MALLARD_CONTAINER");
  if (!c || !*c) {
    out->in_container = local_is_mount_point();
    return ML_OK;
  }
  if (!strcmp(c, "1") || !strcasecmp(c, "true") || !strcasecmp(c, "yes")) {
    out->in_container = true;
  } else if (!strcmp(c, "0") || !strcasecmp(c, "false") || !strcasecmp(c, "no")) {
    out->in_container = false;
  } else {
    return ml_err_set(err, ML_ERR_CONFIG,
                      "environment variable MALLARD_CONTAINER must be 1 (in a container: destination_path must be "
                      "under /local) or 0 (not in one), or unset to detect it (got \"%.100s\")",
                      c);
  }
  return ML_OK;
}

ml_status ml_dest_config_parse(const char *text, size_t len, const char *env_local_root, ml_dest_config *out,
                               ml_err *err) {
  ml_dest_env env = {.local_root = env_local_root, .in_container = false};
  return ml_dest_config_parse_env(text, len, &env, out, err);
}

ml_status ml_dest_config_parse_env(const char *text, size_t len, const ml_dest_env *env, ml_dest_config *out,
                                   ml_err *err) {
  static const ml_dest_env no_env = {NULL, false};
  if (!env) env = &no_env;
  const char *env_local_root = env->local_root;
  memset(out, 0, sizeof *out);
  out->commit_interval_ms = DEFAULT_COMMIT_INTERVAL_MS;
  ml_json_doc *doc = ml_json_doc_new();
  if (!doc) return ml_err_nomem(err);
  const ml_json_val *root = NULL, *v = NULL;
  ml_status st = ml_json_parse(doc, text, len, &root, err);
  if (st != ML_OK) {
    if (st != ML_ERR_NOMEM) {
      ml_json_err_locate(err);
      ml_err_prefix(err, "config is not valid JSON");
      if (err) err->code = ML_ERR_CONFIG;
      st = ML_ERR_CONFIG;
    }
    goto done;
  }
  if (root->type != ML_JSON_OBJECT) {
    st = ml_err_set(err, ML_ERR_CONFIG, "config must be a JSON object");
    goto done;
  }
  if ((st = check_known_keys(root, err)) != ML_OK) goto done;

  /* local_root first: destination_path is resolved against it. */
  if ((st = get_str(root, "local_root", &v, err)) != ML_OK) goto done;
  if (v && v->len == 0) {
    st = ml_err_set(err, ML_ERR_CONFIG, "config key \"local_root\" must not be empty");
    goto done;
  }
  if (v)
    out->local_root = dup_n(v->u.str, v->len);
  else if (env_local_root && *env_local_root)
    out->local_root = strdup(env_local_root);
  else
    out->local_root = strdup(is_dir("/local") ? "/local" : "/tmp/airbyte_local");
  if (!out->local_root) goto nomem;

  if ((st = get_str(root, "destination_path", &v, err)) != ML_OK) goto done;
  if (!v) {
    st = ml_err_set(err, ML_ERR_CONFIG, "config is missing required key \"destination_path\"");
    goto done;
  }
  if (v->len == 0) {
    st = ml_err_set(err, ML_ERR_CONFIG, "config key \"destination_path\" must not be empty");
    goto done;
  }
  /* Not echoed: a MotherDuck path may carry a token. */
  if (v->len >= 3 && memcmp(v->u.str, "md:", 3) == 0) {
    st = ml_err_set(err, ML_ERR_CONFIG,
                    "config key \"destination_path\": MotherDuck (md:) databases are not supported; "
                    "give a local file path such as /local/destination.duckdb");
    goto done;
  }
  if ((st = resolve_destination(v->u.str, out->local_root, env->in_container, &out->destination_path, err)) != ML_OK)
    goto done;

  if ((st = get_str(root, "schema", &v, err)) != ML_OK) goto done;
  if (v && v->len) {
    for (size_t i = 0; i < v->len; i++) {
      char c = v->u.str[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
        st = ml_err_set(err, ML_ERR_CONFIG, "config key \"schema\" must match %s (got \"%.200s\")", SCHEMA_PATTERN,
                        v->u.str);
        goto done;
      }
    }
    /* Stored normalised, like a namespace: lower case (DuckDB matches names
     * case-insensitively anyway) and "_" before a leading digit. */
    ml_buf b = ML_BUF_INIT;
    ml_name_normalize(v->u.str, v->len, &b);
    if (!(out->schema = ml_buf_steal(&b))) goto nomem;
  } else if (!(out->schema = strdup("main"))) {
    goto nomem;
  }

  v = ml_json_get(root, "raw_tables");
  if (!is_null(v)) {
    if (v->type != ML_JSON_TRUE && v->type != ML_JSON_FALSE) {
      st = ml_err_set(err, ML_ERR_CONFIG, "config key \"raw_tables\" must be a boolean");
      goto done;
    }
    out->raw_tables = v->type == ML_JSON_TRUE;
  }

  v = ml_json_get(root, "commit_interval_ms");
  if (!is_null(v)) {
    if (v->type != ML_JSON_NUMBER || !(v->flags & ML_JSON_NUM_INT)) {
      st = ml_err_set(err, ML_ERR_CONFIG, "config key \"commit_interval_ms\" must be an integer");
      goto done;
    }
    if (v->i < 0) {
      st = ml_err_set(err, ML_ERR_CONFIG, "config key \"commit_interval_ms\" must be >= 0 (got %lld)",
                      (long long)v->i);
      goto done;
    }
    out->commit_interval_ms = v->i;
  }

  v = ml_json_get(root, "memory_limit");
  if (!is_null(v)) {
    if (v->type != ML_JSON_STRING || !is_memory_size(v->u.str)) {
      st = ml_err_set(err, ML_ERR_CONFIG,
                      "config key \"memory_limit\" must be a size such as \"256MB\" or \"2GB\" (a number and one "
                      "of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)");
      goto done;
    }
    if (!(out->memory_limit = strdup(v->u.str))) goto nomem;
  }

  v = ml_json_get(root, "unnest_depth");
  if (!is_null(v)) {
    if (v->type != ML_JSON_NUMBER || !(v->flags & ML_JSON_NUM_INT) || v->i < 0 || v->i > ML_UNNEST_MAX_DEPTH) {
      st = ml_err_set(err, ML_ERR_CONFIG,
                      "config key \"unnest_depth\" must be an integer from 0 (off) to %d (levels of child tables)",
                      ML_UNNEST_MAX_DEPTH);
      goto done;
    }
    out->unnest_depth = (unsigned)v->i;
  }
  goto done;

nomem:
  st = ml_err_nomem(err);
done:
  ml_json_doc_free(doc);
  if (st != ML_OK) ml_dest_config_free(out);
  return st;
}

ml_status ml_dest_config_load(const char *path, const char *env_local_root, ml_dest_config *out, ml_err *err) {
  ml_dest_env env = {.local_root = env_local_root, .in_container = false};
  return ml_dest_config_load_env(path, &env, out, err);
}

ml_status ml_dest_config_load_env(const char *path, const ml_dest_env *env, ml_dest_config *out, ml_err *err) {
  char *text = NULL;
  size_t len = 0;
  memset(out, 0, sizeof *out);
  ml_status st = ml_file_read(path, &text, &len, err);
  if (st != ML_OK) return st;
  st = ml_dest_config_parse_env(text, len, env, out, err);
  if (st != ML_OK) ml_err_prefix(err, "config %s", path);
  free(text);
  return st;
}

/* ---- SPEC ---- */

static void spec_prop_head(ml_jw *w, const char *key, const char *type, const char *title, const char *desc,
                           int order) {
  ml_jw_key(w, key);
  ml_jw_obj_begin(w);
  ml_jw_key(w, "type");
  ml_jw_str(w, type);
  ml_jw_key(w, "title");
  ml_jw_str(w, title);
  ml_jw_key(w, "description");
  ml_jw_str(w, desc);
  ml_jw_key(w, "order");
  ml_jw_int(w, order);
}

static void spec_str_examples(ml_jw *w, const char *a, const char *b) {
  ml_jw_key(w, "examples");
  ml_jw_arr_begin(w);
  ml_jw_str(w, a);
  if (b) ml_jw_str(w, b);
  ml_jw_arr_end(w);
}

void ml_dest_spec_json(ml_buf *out) {
  ml_jw w;
  ml_jw_init(&w, out);
  ml_jw_obj_begin(&w);
  /* Where the platform's UI links to: set by CMake (MALLARD_DOCUMENTATION_URL),
   * by default docs/airbyte.md as installed with mallard. */
  ml_jw_key(&w, "documentationUrl");
  ml_jw_str(&w, MALLARD_DOCUMENTATION_URL);
  ml_jw_key(&w, "connectionSpecification");
  ml_jw_obj_begin(&w);
  ml_jw_key(&w, "$schema"); /* an identifier, never fetched */
  ml_jw_str(&w, "http://json-schema.org/draft-07/schema#");
  ml_jw_key(&w, "title");
  ml_jw_str(&w, "DuckDB Destination Spec (mallard)");
  ml_jw_key(&w, "type");
  ml_jw_str(&w, "object");
  ml_jw_key(&w, "required");
  ml_jw_arr_begin(&w);
  ml_jw_str(&w, "destination_path");
  ml_jw_arr_end(&w);
  ml_jw_key(&w, "additionalProperties"); /* as the reference's: any other key is an error */
  ml_jw_bool(&w, false);
  ml_jw_key(&w, "properties");
  ml_jw_obj_begin(&w);

  spec_prop_head(&w, "destination_path", "string", "Destination DB",
                 "Path to the DuckDB database file, under /local, which Airbyte mounts from /tmp/airbyte_local "
                 "on the host (see local_root). A relative path is placed under /local, and a path whose '..' "
                 "climbs out of /local is rejected. In the container any other absolute path is an error (only "
                 "/local outlives it); outside a container it is used as given. MotherDuck (md:) paths are not "
                 "supported.",
                 0);
  spec_str_examples(&w, "/local/destination.duckdb", "destination.duckdb");
  ml_jw_obj_end(&w);

  spec_prop_head(&w, "schema", "string", "Destination Schema",
                 "Database schema for streams that have no namespace (streams with a namespace go to a schema "
                 "named after it). Letters, digits and '_'; stored in lower case. Empty means main.",
                 1);
  ml_jw_key(&w, "default");
  ml_jw_str(&w, "main");
  ml_jw_key(&w, "pattern");
  ml_jw_str(&w, SCHEMA_PATTERN);
  spec_str_examples(&w, "main", "airbyte");
  ml_jw_obj_end(&w);

  spec_prop_head(&w, "local_root", "string", "Local root",
                 "The directory on this machine that /local stands for. Default: the MALLARD_LOCAL_ROOT "
                 "environment variable if set, else /local if that directory exists (inside Airbyte's "
                 "container), else /tmp/airbyte_local. A relative path is relative to the working directory.",
                 2);
  spec_str_examples(&w, "/tmp/airbyte_local", "/data/duckdb");
  ml_jw_obj_end(&w);

  spec_prop_head(&w, "raw_tables", "boolean", "Write raw tables",
                 "Also write the legacy _airbyte_raw_<stream> tables (_airbyte_ab_id, _airbyte_emitted_at, "
                 "_airbyte_data) that the original Python DuckDB destination wrote.",
                 3);
  ml_jw_key(&w, "default");
  ml_jw_bool(&w, false);
  ml_jw_key(&w, "examples");
  ml_jw_arr_begin(&w);
  ml_jw_bool(&w, false);
  ml_jw_arr_end(&w);
  ml_jw_obj_end(&w);

  spec_prop_head(&w, "commit_interval_ms", "integer", "Commit interval (ms)",
                 "Group the commits that STATE messages ask for to at most one per this many milliseconds; a "
                 "STATE is echoed only after its commit. 0 commits at every STATE.",
                 4);
  ml_jw_key(&w, "default");
  ml_jw_int(&w, DEFAULT_COMMIT_INTERVAL_MS);
  ml_jw_key(&w, "minimum");
  ml_jw_int(&w, 0);
  ml_jw_key(&w, "examples");
  ml_jw_arr_begin(&w);
  ml_jw_int(&w, DEFAULT_COMMIT_INTERVAL_MS);
  ml_jw_int(&w, 0);
  ml_jw_arr_end(&w);
  ml_jw_obj_end(&w);

  spec_prop_head(&w, "memory_limit", "string", "Memory limit",
                 "DuckDB's memory limit for the whole load, a number and a unit (B, KB, MB, GB, TB, KiB, MiB, "
                 "GiB, TiB, in any letter case), e.g. \"64MB\" or \"2GB\". Unset: 64MB while appending, "
                 "DuckDB's default (80% of RAM) for append_dedup merges and once a line over 4 MB arrives. Set, "
                 "it applies to merges too, which fail with DuckDB's out-of-memory error when it is too small.",
                 5);
  ml_jw_key(&w, "pattern");
  ml_jw_str(&w, "^[0-9]+(\\.[0-9]+)? *([KkMmGgTt][Ii]?[Bb]|[Bb])$");
  spec_str_examples(&w, "64MB", "2GB");
  ml_jw_obj_end(&w);

  spec_prop_head(&w, "unnest_depth", "integer", "Unnest depth",
                 "Unnest nested data: 0 (default) keeps objects and arrays as JSON columns. N >= 1 also "
                 "writes the declared properties of nested objects into columns <field>__<sub>, and arrays "
                 "into child tables <table>__<field> (N levels of them), kept in step with their records in "
                 "every sync mode. The JSON columns stay.",
                 6);
  ml_jw_key(&w, "default");
  ml_jw_int(&w, 0);
  ml_jw_key(&w, "minimum");
  ml_jw_int(&w, 0);
  ml_jw_key(&w, "maximum");
  ml_jw_int(&w, ML_UNNEST_MAX_DEPTH);
  ml_jw_key(&w, "examples");
  ml_jw_arr_begin(&w);
  ml_jw_int(&w, 0);
  ml_jw_int(&w, 2);
  ml_jw_arr_end(&w);
  ml_jw_obj_end(&w);

  ml_jw_obj_end(&w); /* properties */
  ml_jw_obj_end(&w); /* connectionSpecification */

  ml_jw_key(&w, "supportsIncremental");
  ml_jw_bool(&w, true);
  ml_jw_key(&w, "supportsNormalization");
  ml_jw_bool(&w, false);
  ml_jw_key(&w, "supportsDBT");
  ml_jw_bool(&w, false);
  ml_jw_key(&w, "supported_destination_sync_modes");
  ml_jw_arr_begin(&w);
  ml_jw_str(&w, "overwrite");
  ml_jw_str(&w, "append");
  ml_jw_str(&w, "append_dedup");
  ml_jw_arr_end(&w);
  ml_jw_obj_end(&w);
}
