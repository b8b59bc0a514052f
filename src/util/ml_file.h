/* ml_file: small file-system helpers with errors that name the file. */
#ifndef ML_FILE_H
#define ML_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "ml_err.h"

/* Reads the whole file into a malloc'd buffer with a NUL after the data
 * (*len excludes it); the caller frees *data.  ML_ERR_IO naming the file. */
ml_status ml_file_read(const char *path, char **data, size_t *len, ml_err *err);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory.  After a crash the file
 * holds either the old or the new content, never a mix. */
ml_status ml_file_write_atomic(const char *path, const void *data, size_t len, ml_err *err);

/* Creates the directory and its parents (mode 0755); existing ones are fine. */
ml_status ml_file_mkdirs(const char *path, ml_err *err);

bool ml_file_exists(const char *path);

#endif
