#include "ml_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ml_status ml_file_read(const char *path, char **data, size_t *len, ml_err *err) {
  *data = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return ml_err_set(err, ML_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  if (!buf) {
    fclose(f);
    return ml_err_set(err, ML_ERR_NOMEM, "out of memory reading %s", path);
  }
  for (;;) {
    if (n + 1 >= cap) {
      char *bigger = realloc(buf, cap * 2);
      if (!bigger) {
        free(buf);
        fclose(f);
        return ml_err_set(err, ML_ERR_NOMEM, "out of memory reading %s", path);
      }
      buf = bigger;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    int e = errno;
    free(buf);
    fclose(f);
    return ml_err_set(err, ML_ERR_IO, "cannot read %s: %s", path, strerror(e));
  }
  fclose(f);
  buf[n] = '\0';
  *data = buf;
  *len = n;
  return ML_OK;
}

static ml_status fsync_dir_of(const char *path, ml_err *err) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == dir) dir[1] = '\0';
  else *slash = '\0';
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return ml_err_set(err, ML_ERR_IO, "cannot open directory %s: %s", dir, strerror(errno));
  int rc = fsync(fd);
  int e = errno;
  close(fd);
  if (rc != 0 && e != EINVAL) return ml_err_set(err, ML_ERR_IO, "cannot sync directory %s: %s", dir, strerror(e));
  return ML_OK;
}

ml_status ml_file_write_atomic(const char *path, const void *data, size_t len, ml_err *err) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return ml_err_set(err, ML_ERR_IO, "path too long: %s", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ml_err_set(err, ML_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      unlink(tmp);
      return ml_err_set(err, ML_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0) {
    int e = errno;
    close(fd);
    unlink(tmp);
    return ml_err_set(err, ML_ERR_IO, "cannot sync %s: %s", tmp, strerror(e));
  }
  if (close(fd) != 0) {
    int e = errno;
    unlink(tmp);
    return ml_err_set(err, ML_ERR_IO, "cannot close %s: %s", tmp, strerror(e));
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return ml_err_set(err, ML_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
  }
  return fsync_dir_of(path, err);
}

ml_status ml_file_mkdirs(const char *path, ml_err *err) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return ml_err_set(err, ML_ERR_IO, "path too long: %s", path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return ml_err_set(err, ML_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
      *p = c;
      if (c == '\0') break;
    }
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    return ml_err_set(err, ML_ERR_IO, "%s exists and is not a directory", path);
  return ML_OK;
}

bool ml_file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}
