/* mallard-gen: a deterministic generator of Airbyte message streams, for the
 * demo, the benchmarks and the crash tests.
 *
 *   mallard-gen --records N [--streams S] [--state-every K] [--seed X]
 *               [--mode append|overwrite|append_dedup] [--key-space M]
 *               [--catalog FILE] [--namespace NS] [--stream-status]
 *               [--start I] [--sync-id N]   (sync_id 0 by default: not a platform sync)
 *               [--state-kind global|stream] [--starts I0,I1,...] [--nested]
 *
 * --state-kind stream emits one STREAM state per stream after every K of its
 * own records ({"position": records of that stream so far}); --starts gives
 * each stream's resume position (the tail of each stream from there on).
 *
 * Writes RECORD and STATE messages to stdout (and the configured catalog to
 * FILE).  Records are spread round-robin over S streams named users, orders,
 * events, stream_3...; each record has: id (integer), name and email
 * (strings), age (integer), score (number), active (boolean), updated_at
 * (date-time string), tags (array of strings) and address (nested object).
 * With --key-space M the ids repeat modulo M (for append_dedup); updated_at
 * grows with the record number, so the last record of a key wins.
 * --nested gives records of another shape instead, for the unnesting
 * benchmark: id, updated_at, lines (an array of 5 objects: sku, qty,
 * price) and customer (an object: name, city, zip).
 * The same arguments always give the same bytes, and --start I gives exactly
 * the tail of the full stream from record I on (what a source resumes with
 * after the STATE at position I). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

typedef struct gen_opts {
  uint64_t records, streams, state_every, seed, key_space, start, sync_id;
  const char *mode, *catalog, *ns;
  bool stream_status, per_stream, nested;
  uint64_t starts[64]; /* per-stream resume positions (--starts) */
} gen_opts;

static const char *stream_name(uint64_t i, char *buf, size_t n) {
  static const char *const names[] = {"users", "orders", "events"};
  if (i < 3) return names[i];
  snprintf(buf, n, "stream_%" PRIu64, i);
  return buf;
}

/* Written to a temporary name and renamed into place, so that a reader that
 * opens the file while the generator runs (mallard write at the other end of
 * the pipe) finds a whole catalog, never a half-written one. */
static int write_catalog(const gen_opts *o) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o->catalog, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) {
    perror(tmp);
    return 1;
  }
  fprintf(f, "{\"streams\":[\n");
  for (uint64_t s = 0; s < o->streams; s++) {
    char buf[32];
    static const char nested[] =
        "\"id\":{\"type\":\"integer\"},\"updated_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
        "\"lines\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"sku\":{\"type\":\"string\"},"
        "\"qty\":{\"type\":\"integer\"},\"price\":{\"type\":\"number\"}}}},"
        "\"customer\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
        "\"city\":{\"type\":\"string\"},\"zip\":{\"type\":\"string\"}}}}},";
    fprintf(f, "%s{\"stream\":{\"name\":\"%s\",%s%s%s\"json_schema\":{\"type\":\"object\",\"properties\":{%s",
            s ? "," : "", stream_name(s, buf, sizeof buf), o->ns ? "\"namespace\":\"" : "", o->ns ? o->ns : "",
            o->ns ? "\"," : "", o->nested ? nested : "");
    if (!o->nested)
      fprintf(f,
            "\"id\":{\"type\":\"integer\"},\"name\":{\"type\":\"string\"},\"email\":{\"type\":[\"null\",\"string\"]},"
            "\"age\":{\"type\":\"integer\"},\"score\":{\"type\":\"number\"},\"active\":{\"type\":\"boolean\"},"
            "\"updated_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
            "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
            "\"address\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"zip\":{\"type\":\"string\"}}}}},");
    fprintf(f, "\"supported_sync_modes\":[\"full_refresh\",\"incremental\"]},"
            "\"sync_mode\":\"incremental\",\"destination_sync_mode\":\"%s\","
            "\"primary_key\":[[\"id\"]],\"cursor_field\":[\"updated_at\"],"
            "\"generation_id\":1,\"minimum_generation_id\":0,\"sync_id\":%" PRIu64 "}\n",
            o->mode, o->sync_id);
  }
  fprintf(f, "]}\n");
  if (fclose(f) != 0 || rename(tmp, o->catalog) != 0) {
    perror(o->catalog);
    remove(tmp);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  gen_opts o = {.records = 1000, .streams = 1, .state_every = 10000, .seed = 42, .mode = "append", .sync_id = 0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--stream-status")) {
      o.stream_status = true;
      continue;
    }
    if (!strcmp(a, "--nested")) {
      o.nested = true;
      continue;
    }
    if (!v) {
      fprintf(stderr, "mallard-gen: %s needs a value (see the comment at the top of bench/gen.c)\n", a);
      return 2;
    }
    i++;
    if (!strcmp(a, "--records")) o.records = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--streams")) o.streams = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--state-every")) o.state_every = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--key-space")) o.key_space = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--mode")) o.mode = v;
    else if (!strcmp(a, "--start")) o.start = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--state-kind")) o.per_stream = !strcmp(v, "stream");
    else if (!strcmp(a, "--starts")) {
      char *p = (char *)v;
      for (int k = 0; k < 64 && *p; k++) {
        o.starts[k] = strtoull(p, &p, 10);
        if (*p == ',') p++;
      }
    }
    else if (!strcmp(a, "--sync-id")) o.sync_id = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--catalog")) o.catalog = v;
    else if (!strcmp(a, "--namespace")) o.ns = v;
    else {
      fprintf(stderr, "mallard-gen: unknown option %s\n", a);
      return 2;
    }
  }
  if (o.streams == 0) o.streams = 1;
  if (o.streams > 64 && o.per_stream) {
    fprintf(stderr, "mallard-gen: --state-kind stream supports at most 64 streams\n");
    return 2;
  }
  if (o.catalog && write_catalog(&o) != 0) return 1;
  static char out[1 << 16];
  setvbuf(stdout, out, _IOFBF, sizeof out);
  uint64_t rng = o.seed;
  const int64_t base_ms = 1700000000000LL;
  char buf[32];
  for (uint64_t n = 0; n < o.start && n < o.records; n++) bench_next_rand(&rng);
  for (uint64_t n = o.start; n < o.records; n++) {
    uint64_t s = n % o.streams;
    uint64_t own = n / o.streams; /* this record's index within its stream */
    if (o.per_stream && own < o.starts[s]) {
      bench_next_rand(&rng); /* keep every record's content the same as in the full stream */
      continue;
    }
    uint64_t id = o.key_space ? (n / o.streams) % o.key_space + 1 : n / o.streams + 1;
    uint64_t r = bench_next_rand(&rng);
    int64_t ts = base_ms / 1000 + (int64_t)n;
    int64_t days = ts / 86400, secs = ts % 86400;
    /* civil date from days since epoch (2023-11-14 + n seconds) */
    int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    const char *nm = bench_first_names[r % 8];
    if (o.nested) {
      printf("{\"type\":\"RECORD\",\"record\":{\"stream\":\"%s\",%s%s%s\"emitted_at\":%" PRId64 ",\"data\":{"
             "\"id\":%" PRIu64 ",\"updated_at\":\"%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64
             ":%02" PRId64 "Z\",\"lines\":[",
             stream_name(s, buf, sizeof buf), o.ns ? "\"namespace\":\"" : "", o.ns ? o.ns : "", o.ns ? "\"," : "",
             base_ms + (int64_t)n, id, y, m, d, secs / 3600, secs / 60 % 60, secs % 60);
      for (int l = 0; l < 5; l++)
        printf("%s{\"sku\":\"SKU-%05" PRIu64 "\",\"qty\":%" PRIu64 ",\"price\":%" PRIu64 ".%02" PRIu64 "}", l ? "," : "",
               (r >> (8 * l)) % 100000, 1 + (r >> (4 * l)) % 9, (r >> (6 * l)) % 500, (r >> (3 * l)) % 100);
      printf("],\"customer\":{\"name\":\"%s %" PRIu64 "\",\"city\":\"%s\",\"zip\":\"%05" PRIu64 "\"}}}}\n", nm,
             id, bench_cities[(r >> 48) % 8], (r >> 52) % 100000);
    } else
    printf("{\"type\":\"RECORD\",\"record\":{\"stream\":\"%s\",%s%s%s\"emitted_at\":%" PRId64 ",\"data\":{"
           "\"id\":%" PRIu64 ",\"name\":\"%s %" PRIu64 "\",\"email\":\"%s.%" PRIu64 "@example.com\",\"age\":%" PRIu64
           ",\"score\":%" PRIu64 ".%02" PRIu64 ",\"active\":%s,"
           "\"updated_at\":\"%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64 ":%02" PRId64 "Z\","
           "\"tags\":[\"%s\",\"%s\"],\"address\":{\"city\":\"%s\",\"zip\":\"%05" PRIu64 "\"}}}}\n",
           stream_name(s, buf, sizeof buf), o.ns ? "\"namespace\":\"" : "", o.ns ? o.ns : "", o.ns ? "\"," : "",
           base_ms + (int64_t)n, id, nm, id, nm, id, 18 + (r >> 8) % 70, (r >> 16) % 1000, (r >> 24) % 100,
           (r >> 32) & 1 ? "true" : "false", y, m, d, secs / 3600, secs / 60 % 60, secs % 60, bench_tags[(r >> 40) % 6],
           bench_tags[(r >> 44) % 6], bench_cities[(r >> 48) % 8], (r >> 52) % 100000);
    if (o.per_stream) {
      if (o.state_every && (own + 1) % o.state_every == 0)
        printf("{\"type\":\"STATE\",\"state\":{\"type\":\"STREAM\",\"stream\":{\"stream_descriptor\":{\"name\":\"%s\"%s%s%s},"
               "\"stream_state\":{\"position\":%" PRIu64 "}}}}\n",
               stream_name(s, buf, sizeof buf), o.ns ? ",\"namespace\":\"" : "", o.ns ? o.ns : "", o.ns ? "\"" : "",
               own + 1);
    } else if (o.state_every && (n + 1) % o.state_every == 0) {
      printf("{\"type\":\"STATE\",\"state\":{\"type\":\"GLOBAL\",\"global\":{\"shared_state\":{\"position\":%" PRIu64
             "}}}}\n",
             n + 1);
    }
  }
  if (o.stream_status)
    for (uint64_t s = 0; s < o.streams; s++)
      printf("{\"type\":\"TRACE\",\"trace\":{\"type\":\"STREAM_STATUS\",\"emitted_at\":%" PRId64
             ",\"stream_status\":{\"stream_descriptor\":{\"name\":\"%s\"%s%s%s},\"status\":\"COMPLETE\"}}}\n",
             base_ms, stream_name(s, buf, sizeof buf), o.ns ? ",\"namespace\":\"" : "", o.ns ? o.ns : "",
             o.ns ? "\"" : "");
  if (o.per_stream) {
    for (uint64_t st = 0; o.state_every && st < o.streams; st++) {
      uint64_t total = o.records / o.streams + (st < o.records % o.streams);
      if (total % o.state_every != 0 && o.starts[st] < total)
        printf("{\"type\":\"STATE\",\"state\":{\"type\":\"STREAM\",\"stream\":{\"stream_descriptor\":{\"name\":\"%s\"%s%s%s},"
               "\"stream_state\":{\"position\":%" PRIu64 "}}}}\n",
               stream_name(st, buf, sizeof buf), o.ns ? ",\"namespace\":\"" : "", o.ns ? o.ns : "", o.ns ? "\"" : "",
               total);
    }
  } else if (o.state_every && o.records % o.state_every != 0 && o.start < o.records)
    printf("{\"type\":\"STATE\",\"state\":{\"type\":\"GLOBAL\",\"global\":{\"shared_state\":{\"position\":%" PRIu64
           "}}}}\n",
           o.records);
  return fflush(stdout) == 0 ? 0 : 1;
}
