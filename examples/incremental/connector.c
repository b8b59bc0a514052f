/* An incremental connector over a paginated source, several tables.
 *
 * The source emulates a REST API over JSON-lines files in `source_dir`
 * (configuration.json): fetch_page(stream, since, page) returns the records
 * of source/<stream>.jsonl updated after `since`, oldest first, page_size at
 * a time -- what GET /<stream>?updated_since=...&page=N would return.
 *
 *   customers     upsert; a record with "deleted": true becomes a delete
 *   orders        upsert (amount declared DECIMAL(10,2))
 *   order_events  status changes of orders: update(orders, {id, status})
 *   currencies    a full snapshot each run: truncate, then upsert every row,
 *                 so codes that left the source end up _fivetran_deleted
 *
 * The state holds one cursor per stream (the last updated_at synced) and
 * is checkpointed after every page, so an interrupted run resumes there and
 * the next run fetches only rows updated since. */
#include <mallard.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct line {
  char *text;
  char *updated_at;
  size_t order; /* position in the file: ties keep it */
} line;

static int by_cursor(const void *a, const void *b) {
  const line *x = a, *y = b;
  int c = strcmp(x->updated_at, y->updated_at);
  return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* One page of `stream` updated after `since` (NULL: everything), oldest
 * first.  *lines (malloc'd, free with free_page) gets up to page_size
 * records; *more says whether another page follows.  Returns 0, or -1 with
 * mallard_fail called. */
static int fetch_page(mallard_ctx *ctx, const char *dir, const char *stream, const char *since, int page,
                      int page_size, line **lines, int *n, int *more) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.jsonl", dir, stream);
  *lines = NULL;
  *n = 0;
  *more = 0;
  FILE *f = fopen(path, "r");
  if (!f) return mallard_fail(ctx, "cannot open %s (source_dir in configuration.json)", path), -1;
  line *all = NULL;
  size_t n_all = 0, cap = 0, lineno = 0;
  char *buf = NULL;
  size_t bufcap = 0;
  ssize_t len;
  mallard_record *probe = mallard_record_new();
  int rc = probe ? 0 : -1;
  while (rc == 0 && (len = getline(&buf, &bufcap, f)) > 0) {
    lineno++;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = '\0';
    if (!len) continue;
    mallard_record_clear(probe);
    const char *at = NULL;
    if (mallard_set_from_json(probe, buf, (size_t)len) != MALLARD_OK || !(at = mallard_get_text(probe, "updated_at")))
      at = ""; /* snapshot streams have no cursor */
    if (mallard_record_error(probe)) {
      mallard_fail(ctx, "%s line %zu: %s", path, lineno, mallard_record_error(probe));
      rc = -1;
      break;
    }
    if (since && strcmp(at, since) <= 0) continue;
    if (n_all == cap) {
      cap = cap ? cap * 2 : 64;
      line *grown = realloc(all, cap * sizeof *all);
      if (!grown) {
        rc = -1;
        break;
      }
      all = grown;
    }
    all[n_all].text = strdup(buf);
    all[n_all].updated_at = strdup(at);
    all[n_all].order = lineno;
    n_all++;
  }
  free(buf);
  fclose(f);
  mallard_record_free(probe);
  if (rc == 0) {
    qsort(all, n_all, sizeof *all, by_cursor);
    size_t from = (size_t)page * (size_t)page_size;
    for (size_t i = 0; i < n_all; i++) {
      if (i >= from && i < from + (size_t)page_size) continue;
      free(all[i].text);
      free(all[i].updated_at);
    }
    if (from < n_all) {
      size_t k = n_all - from < (size_t)page_size ? n_all - from : (size_t)page_size;
      memmove(all, all + from, k * sizeof *all);
      *n = (int)k;
      *more = from + k < n_all;
    }
    *lines = all;
  } else {
    for (size_t i = 0; i < n_all; i++) free(all[i].text), free(all[i].updated_at);
    free(all);
    if (!mallard_last_error(ctx)[0]) mallard_fail(ctx, "out of memory reading %s", path);
  }
  return rc;
}

static void free_page(line *lines, int n) {
  for (int i = 0; i < n; i++) free(lines[i].text), free(lines[i].updated_at);
  free(lines);
}

/* What to do with one record of a stream. */
typedef int (*handler)(mallard_ctx *ctx, mallard_record *r);

static int customer(mallard_ctx *ctx, mallard_record *r) {
  const char *deleted = mallard_get_text(r, "deleted");
  if (deleted && !strcmp(deleted, "true")) return mallard_delete(ctx, "customers", r);
  mallard_unset(r, "deleted");
  return mallard_upsert(ctx, "customers", r);
}

static int order(mallard_ctx *ctx, mallard_record *r) {
  /* "amount" arrives as a string; the DECIMAL column takes its exact digits */
  return mallard_upsert(ctx, "orders", r);
}

static int order_event(mallard_ctx *ctx, mallard_record *r) {
  /* an event changes only the status (and updated_at) of its order */
  const char *id = mallard_get_text(r, "order_id");
  if (!id) return mallard_fail(ctx, "an order event without order_id");
  mallard_set_long(r, "id", strtoll(id, NULL, 10));
  mallard_unset(r, "order_id");
  return mallard_update(ctx, "orders", r);
}

/* Syncs one incremental stream page by page from its cursor. */
static int sync_stream(mallard_ctx *ctx, const char *dir, int page_size, const char *stream, handler h) {
  char cursor[64] = "";
  const char *saved = mallard_state_get(ctx, stream);
  if (saved) snprintf(cursor, sizeof cursor, "%s", saved);
  mallard_log(ctx, MALLARD_INFO, "%s: fetching records updated after %s", stream, cursor[0] ? cursor : "the beginning");
  mallard_record *r = mallard_record_new();
  if (!r) return mallard_fail(ctx, "out of memory");
  int rc = MALLARD_OK, more = 1, total = 0;
  /* the cursor moves only at checkpoints, so pages are counted from the
   * cursor the run started with */
  const char *since = cursor[0] ? strdup(cursor) : NULL;
  for (int page = 0; more && rc == MALLARD_OK; page++) {
    line *lines;
    int n;
    if (fetch_page(ctx, dir, stream, since, page, page_size, &lines, &n, &more) != 0) {
      rc = MALLARD_ERR_FAILED;
      break;
    }
    for (int i = 0; i < n && rc == MALLARD_OK; i++) {
      mallard_record_clear(r);
      rc = mallard_set_from_json(r, lines[i].text, strlen(lines[i].text));
      if (rc == MALLARD_OK) rc = h(ctx, r);
      if (rc == MALLARD_OK) snprintf(cursor, sizeof cursor, "%s", lines[i].updated_at);
    }
    total += n;
    free_page(lines, n);
    if (rc == MALLARD_OK && n) {
      mallard_log(ctx, MALLARD_FINE, "%s: page %d: %d records, cursor %s", stream, page + 1, n, cursor);
      rc = mallard_state_set(ctx, stream, cursor);
      if (rc == MALLARD_OK) rc = mallard_checkpoint(ctx);
    }
  }
  free((void *)since);
  mallard_record_free(r);
  if (rc == MALLARD_OK) mallard_log(ctx, MALLARD_INFO, "%s: %d new records", stream, total);
  return rc;
}

/* The snapshot stream: everything each time, after a truncate. */
static int sync_currencies(mallard_ctx *ctx, const char *dir, int page_size) {
  int rc = mallard_truncate(ctx, "currencies");
  mallard_record *r = mallard_record_new();
  if (!r) return mallard_fail(ctx, "out of memory");
  int more = 1, total = 0;
  for (int page = 0; more && rc == MALLARD_OK; page++) {
    line *lines;
    int n;
    if (fetch_page(ctx, dir, "currencies", NULL, page, page_size, &lines, &n, &more) != 0) {
      rc = MALLARD_ERR_FAILED;
      break;
    }
    for (int i = 0; i < n && rc == MALLARD_OK; i++) {
      mallard_record_clear(r);
      rc = mallard_set_from_json(r, lines[i].text, strlen(lines[i].text));
      if (rc == MALLARD_OK) rc = mallard_upsert(ctx, "currencies", r);
    }
    total += n;
    free_page(lines, n);
  }
  mallard_record_free(r);
  if (rc == MALLARD_OK) mallard_log(ctx, MALLARD_INFO, "currencies: snapshot of %d rows", total);
  return rc == MALLARD_OK ? mallard_checkpoint(ctx) : rc;
}

static int schema(mallard_ctx *ctx) {
  return mallard_schema_json(ctx,
                             "["
                             "{\"table\": \"customers\", \"primary_key\": [\"id\"],"
                             " \"columns\": {\"id\": \"LONG\", \"name\": \"STRING\", \"email\": \"STRING\","
                             "               \"updated_at\": \"UTC_DATETIME\"}},"
                             "{\"table\": \"orders\", \"primary_key\": [\"id\"],"
                             " \"columns\": {\"id\": \"LONG\", \"customer_id\": \"LONG\","
                             "               \"amount\": {\"type\": \"DECIMAL\", \"precision\": 10, \"scale\": 2},"
                             "               \"status\": \"STRING\", \"updated_at\": \"UTC_DATETIME\"}},"
                             "{\"table\": \"currencies\", \"primary_key\": [\"code\"],"
                             " \"columns\": {\"code\": \"STRING\", \"rate\": \"DOUBLE\"}}"
                             "]");
}

static int update(mallard_ctx *ctx) {
  const char *dir, *size_text;
  int rc = mallard_config_require(ctx, "source_dir", &dir);
  if (rc != MALLARD_OK) return rc;
  size_text = mallard_config(ctx, "page_size");
  int page_size = size_text ? atoi(size_text) : 100;
  if (page_size < 1) return mallard_fail(ctx, "page_size must be a positive number, not '%s'", size_text);
  rc = sync_stream(ctx, dir, page_size, "customers", customer);
  if (rc == MALLARD_OK) rc = sync_stream(ctx, dir, page_size, "orders", order);
  if (rc == MALLARD_OK) rc = sync_stream(ctx, dir, page_size, "order_events", order_event);
  if (rc == MALLARD_OK) rc = sync_currencies(ctx, dir, page_size);
  return rc;
}

MALLARD_CONNECTOR(schema, update)
