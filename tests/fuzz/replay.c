/* replay: feeds inputs to a fuzz target's LLVMFuzzerTestOneInput without
 * libFuzzer, so the corpus runs as an ordinary test under gcc (and ASan).
 *
 *   fuzz_replay_<target> [--max-rss-mb N] PATH...
 *   fuzz_replay_<target> [--max-rss-mb N] --synthetic KIND [BYTES]
 *
 * Each PATH is a file (replayed as one input) or a directory (every regular
 * file in it, in name order, not recursing).  --synthetic builds one large
 * input in memory instead of committing it to the repository:
 *   deep         BYTES '[' (default 1,000,000): nesting far past any limit
 *   deep-object  {"a":{"a":... about BYTES long, never closed
 *   long-line    one valid RECORD message about BYTES long (default 100 MB)
 *                whose data holds one long string with escapes and UTF-8
 *   long-open    the same line without its closing quote and braces
 * --max-rss-mb fails the run when the process's peak resident size went over
 * N MiB (bounded memory).  Exits 0 when every input ran; a crash aborts the
 * process, which is the failure ctest sees. */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return 1;
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (!buf) break;
    if (len == cap) {
      uint8_t *grown = realloc(buf, cap * 2);
      if (!grown) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = grown;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    free(buf);
    return 1;
  }
  LLVMFuzzerTestOneInput(buf, len);
  free(buf);
  return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int replay_dir(const char *dir, size_t *count) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "replay: cannot open directory %s\n", dir);
    return 1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  int failed = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **grown = realloc(names, cap * sizeof *names);
      if (!grown) {
        failed = 1;
        break;
      }
      names = grown;
    }
    size_t need = strlen(dir) + strlen(e->d_name) + 2;
    names[n] = malloc(need);
    if (!names[n]) {
      failed = 1;
      break;
    }
    snprintf(names[n], need, "%s/%s", dir, e->d_name);
    n++;
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    struct stat sb;
    if (!failed && stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
      failed |= replay_file(names[i]);
      (*count)++;
    }
    free(names[i]);
  }
  free(names);
  return failed;
}

static void fill(uint8_t *p, size_t *len, const char *s) {
  size_t n = strlen(s);
  memcpy(p + *len, s, n);
  *len += n;
}

/* Builds and runs one synthetic input; 0 on success. */
static int replay_synthetic(const char *kind, size_t bytes) {
  static const char head[] = "{\"type\":\"RECORD\",\"record\":{\"stream\":\"big \\\"line\\\"\","
                             "\"emitted_at\":1700000000000,\"data\":{\"id\":1,\"text\":\"";
  static const char tail[] = "\"}}}";
  /* a repeating chunk: ASCII, an escape, a 2-, 3- and 4-byte UTF-8 character */
  static const char chunk[] = "abcdefgh\\n\\\"\xc3\xa9\xe2\x82\xac\xf0\x9f\xa6\x86 ";
  size_t cap = bytes + sizeof head + sizeof tail + sizeof chunk + 16;
  uint8_t *p = malloc(cap);
  if (!p) {
    fprintf(stderr, "replay: out of memory for %zu bytes\n", bytes);
    return 1;
  }
  size_t len = 0;
  if (!strcmp(kind, "deep")) {
    memset(p, '[', bytes);
    len = bytes;
  } else if (!strcmp(kind, "deep-object")) {
    while (len + 5 <= bytes) fill(p, &len, "{\"a\":");
  } else if (!strcmp(kind, "long-line") || !strcmp(kind, "long-open")) {
    fill(p, &len, head);
    while (len + sizeof chunk + sizeof tail < bytes) fill(p, &len, chunk);
    if (!strcmp(kind, "long-line")) fill(p, &len, tail);
  } else {
    fprintf(stderr, "replay: unknown synthetic input '%s' (deep, deep-object, long-line, long-open)\n", kind);
    free(p);
    return 1;
  }
  LLVMFuzzerTestOneInput(p, len);
  free(p);
  printf("replay: synthetic %s input of %zu bytes ran\n", kind, len);
  return 0;
}

int main(int argc, char **argv) {
  int i = 1;
  long max_rss_mb = 0;
  if (i + 1 < argc && !strcmp(argv[i], "--max-rss-mb")) {
    max_rss_mb = strtol(argv[i + 1], NULL, 10);
    i += 2;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: %s [--max-rss-mb N] FILE_OR_DIR... | --synthetic KIND [BYTES]\n", argv[0]);
    return 2;
  }
  size_t count = 0;
  int failed = 0;
  bool synthetic = false;
  if (!strcmp(argv[i], "--synthetic")) {
    synthetic = true;
    if (i + 1 >= argc) {
      fprintf(stderr, "replay: --synthetic needs a kind\n");
      return 2;
    }
    const char *kind = argv[i + 1];
    size_t bytes = !strcmp(kind, "deep") ? 1000000 : !strcmp(kind, "deep-object") ? 1000000 : 100u << 20;
    if (i + 2 < argc) bytes = (size_t)strtoull(argv[i + 2], NULL, 10);
    failed = replay_synthetic(kind, bytes);
    count = 1;
    i = argc;
  }
  for (; i < argc && !failed; i++) {
    struct stat sb;
    if (stat(argv[i], &sb) != 0) {
      fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
      failed = 1;
    } else if (S_ISDIR(sb.st_mode)) {
      failed = replay_dir(argv[i], &count);
    } else {
      failed = replay_file(argv[i]);
      count++;
    }
  }
  if (!failed && count == 0) {
    fprintf(stderr, "replay: no inputs found\n");
    failed = 1;
  }
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    long peak_mb = ru.ru_maxrss / 1024; /* ru_maxrss is in KiB on Linux */
    printf("replay: peak RSS %ld MiB\n", peak_mb);
    if (max_rss_mb > 0 && peak_mb > max_rss_mb) {
      fprintf(stderr, "replay: peak RSS %ld MiB is over the bound of %ld MiB\n", peak_mb, max_rss_mb);
      failed = 1;
    }
  }
  if (!failed && !synthetic) printf("replay: %zu inputs ran\n", count);
  return failed ? 1 : 0;
}
