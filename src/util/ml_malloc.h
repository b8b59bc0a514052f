/* ml_malloc: glibc malloc settings for mallard's own programs.
 *
 * Why: with glibc's defaults a load keeps handing memory back to the kernel
 * and faulting it in again: DuckDB's per-chunk string heaps and per-row-group
 * compression buffers are freed and reallocated thousands of times, above
 * the (adaptive) mmap threshold or at the top of the heap past the trim
 * threshold.  Every such page comes back through a page fault, and every
 * page returned flushes the TLB of the other thread's core (an
 * inter-processor interrupt): the parsing thread and DuckDB's storage thread
 * slow each other down.  Fixed thresholds keep that memory in the heap for
 * reuse: 1M records through `mallard write` take ~34k page faults instead of
 * ~50k and ~5% less time, at the same peak RSS (docs/performance.md,
 * "Page faults between the two threads").
 *
 * Process-wide: only programs call it (mallard's main, the bench
 * baselines), first thing in main; the library never does, since a C
 * connector's host process keeps its own malloc settings. */
#ifndef ML_MALLOC_H
#define ML_MALLOC_H

/* Memory freed below this size stays in the heap instead of being mmapped
 * and unmapped (glibc's largest allowed value on 64-bit). */
#define ML_MALLOC_MMAP_THRESHOLD ((int)(32u << 20))
/* Free memory at the top of the heap is given back only beyond this. */
#define ML_MALLOC_TRIM_THRESHOLD ((int)(64u << 20))

/* Sets both thresholds (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD); setting either
 * one alone turns off glibc's adaptive thresholds and makes matters worse.
 * Without glibc it does nothing. */
void ml_malloc_tune_process(void);

#endif
