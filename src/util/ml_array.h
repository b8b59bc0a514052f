/* ml_array: growing a plain C array (a pointer, a count kept by the caller
 * and a capacity).  Every list mallard builds grows the same way, doubling
 * from a first capacity and keeping the old array when realloc fails; this
 * is the one copy of that code. */
#ifndef ML_ARRAY_H
#define ML_ARRAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for `need` elements of `size` bytes in the array whose pointer
 * is at arrayp (a T **, for any object type T) and whose capacity is *cap:
 * nothing when *cap >= need, else the capacity doubles (starting at first)
 * until it holds need and the array is reallocated.  Returns false when out
 * of memory, with the array and *cap as they were (the caller still owns and
 * frees the array either way). */
static inline bool ml_array_reserve(void *arrayp, size_t need, size_t *cap, size_t size, size_t first) {
  if (need <= *cap) return true;
  size_t c = *cap ? *cap * 2 : first;
  while (c < need) c *= 2;
  if (c > SIZE_MAX / size) return false;
  /* the T * is read and written through memcpy: a T ** is not a void ** */
  void *old;
  memcpy(&old, arrayp, sizeof old);
  void *grown = realloc(old, c * size);
  if (!grown) return false;
  memcpy(arrayp, &grown, sizeof grown);
  *cap = c;
  return true;
}

#endif
