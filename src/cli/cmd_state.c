/* mallard state DB|DIR [--json]: the last committed state, without knowing
 * where mallard keeps it -- per stream for an Airbyte destination file
 * (table main._mallard_airbyte_state), or a connector project's
 * files/state.json. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json/ml_json.h"
#include "ml_cli.h"
#include "util/ml_buf.h"
#include "util/ml_file.h"
#include "warehouse/ml_wh.h"

static void state_help(FILE *f) {
  fprintf(f, "usage: mallard state DB|DIR [--json]\n\n"
             "Prints the last committed state:\n"
             "  DB   an Airbyte destination file (mallard write): one line per stream, GLOBAL or LEGACY state,\n"
             "       with when it was committed\n"
             "  DIR  a connector project (mallard debug): its files/state.json (also given its files/warehouse.db)\n"
             "--json prints one JSON object per line instead.\n\n"
             "Exit status: 0 printed (or nothing saved yet), 1 cannot read it, 2 usage, 3 the file is locked.\n");
}

static int print_connector_state(const char *path, bool json) {
  char *text = NULL;
  size_t len = 0;
  ml_err err;
  if (!ml_file_exists(path)) {
    if (json) printf("{\"state\":null}\n");
    else printf("no state saved yet (%s does not exist: no checkpoint has completed)\n", path);
    return ML_EXIT_OK;
  }
  if (ml_file_read(path, &text, &len, &err) != ML_OK) {
    fprintf(stderr, "mallard state: %s\n", err.msg);
    return ML_EXIT_FAILED;
  }
  while (len && (text[len - 1] == '\n' || text[len - 1] == ' ')) len--;
  if (json) {
    ml_buf q = ML_BUF_INIT;
    ml_json_quote(&q, path, strlen(path));
    printf("{\"state_file\":%s,\"state\":%.*s}\n", q.data ? q.data : "\"\"", (int)len, text);
    ml_buf_free(&q);
  } else {
    printf("connector state (%s): %.*s\n", path, (int)len, text);
  }
  free(text);
  return ML_EXIT_OK;
}

int ml_cmd_state(int argc, char **argv) {
  const char *target = NULL;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      state_help(stdout);
      return ML_EXIT_OK;
    } else if (!strcmp(argv[i], "--json")) {
      json = true;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "mallard state: unknown option %s (see 'mallard state --help')\n", argv[i]);
      return ML_EXIT_USAGE;
    } else if (!target) {
      target = argv[i];
    } else {
      fprintf(stderr, "mallard state: unexpected argument %s (see 'mallard state --help')\n", argv[i]);
      return ML_EXIT_USAGE;
    }
  }
  if (!target) {
    fprintf(stderr, "mallard state: which database or connector directory? mallard state DB|DIR\n");
    return ML_EXIT_USAGE;
  }
  struct stat st;
  if (stat(target, &st) != 0) {
    fprintf(stderr, "mallard state: %s: %s\n", target, strerror(errno));
    return ML_EXIT_FAILED;
  }
  char path[PATH_MAX + 32];
  if (S_ISDIR(st.st_mode)) {
    snprintf(path, sizeof path, "%s/files/state.json", target);
    return print_connector_state(path, json);
  }
  ml_wh *wh = NULL;
  ml_err err;
  ml_err_clear(&err);
  ml_wh_options wo = {.read_only = true};
  ml_status s = ml_wh_open(target, &wo, &wh, &err);
  bool has_table = false;
  if (s == ML_OK) s = ml_wh_table_exists(wh, NULL, "main", "_mallard_airbyte_state", &has_table, &err);
  char *rows = NULL;
  if (s == ML_OK && has_table)
    s = ml_wh_query_text(
        wh,
        json ? "SELECT coalesce(string_agg(json_object('kind', kind, 'namespace', namespace, 'name', name, 'state', "
               "state, 'committed_at', strftime(committed_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'))::VARCHAR, "
               "chr(10) ORDER BY kind, namespace NULLS FIRST, name), '') FROM main._mallard_airbyte_state"
             : "SELECT coalesce(string_agg(CASE kind WHEN 'STREAM' THEN 'stream ' || coalesce(namespace || '.', '') "
               "|| name ELSE kind END || ': ' || state::VARCHAR || ' (committed ' || strftime(committed_at AT TIME "
               "ZONE 'UTC', '%Y-%m-%d %H:%M:%S UTC') || ')', chr(10) ORDER BY kind, namespace NULLS FIRST, name), "
               "'') FROM main._mallard_airbyte_state",
        &rows, &err);
  ml_wh_close(wh);
  if (s != ML_OK) {
    fprintf(stderr, "mallard state: %s\n", err.msg);
    return s == ML_ERR_LOCKED ? ML_EXIT_LOCKED : ML_EXIT_FAILED;
  }
  if (has_table) {
    if (rows && *rows) printf("%s\n", rows);
    else if (!json) printf("no state committed yet in %s\n", target);
    free(rows);
    return ML_EXIT_OK;
  }
  /* a connector's warehouse: its state is the file beside it */
  const char *slash = strrchr(target, '/');
  snprintf(path, sizeof path, "%.*sstate.json", slash ? (int)(slash - target + 1) : 0, target);
  if (ml_file_exists(path)) return print_connector_state(path, json);
  fprintf(stderr,
          "mallard state: %s holds no Airbyte state (it was not written by mallard write) and has no state.json "
          "beside it\n",
          target);
  return ML_EXIT_FAILED;
}
