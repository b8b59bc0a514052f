#include "ml_malloc.h"

#include <stdlib.h> /* defines __GLIBC__ under glibc */
#ifdef __GLIBC__
#include <malloc.h>
#endif

void ml_malloc_tune_process(void) {
#ifdef __GLIBC__
  /* a failure leaves glibc's defaults: slower, never wrong */
  (void)mallopt(M_MMAP_THRESHOLD, ML_MALLOC_MMAP_THRESHOLD);
  (void)mallopt(M_TRIM_THRESHOLD, ML_MALLOC_TRIM_THRESHOLD);
#endif
}
