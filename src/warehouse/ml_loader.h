/* ml_loader: a background thread that appends finished data chunks to DuckDB
 * while the caller parses the next records, so that parsing and DuckDB's
 * own work overlap on two cores.
 *
 * Protocol: only the loader thread touches the connection between
 * ml_loader_submit calls; everything else that uses the connection (SQL,
 * appender flush, commit) first calls ml_loader_wait, which returns when the
 * queue is empty and the thread idle.  ml_wh does this itself in every call
 * that reaches DuckDB, so users of ml_wh need not think about it.  One
 * thread, the owner, submits and waits; jobs never submit jobs.
 *
 * Lifecycle: ml_loader_start -> submit / wait ... -> ml_loader_stop. */
#ifndef ML_LOADER_H
#define ML_LOADER_H

#include <stdbool.h>

#include "../util/ml_err.h"

typedef struct ml_loader ml_loader;

/* A job runs on the loader thread; it returns ML_OK or an error it fills. */
typedef ml_status (*ml_loader_fn)(void *a, void *b, ml_err *err);

ml_status ml_loader_start(ml_loader **out, ml_err *err);
/* Waits for queued jobs, then joins the thread.  NULL is fine. */
void ml_loader_stop(ml_loader *l);

/* Queues fn(a, b); blocks while the queue is full.  After a job failed, new
 * jobs are not run (their `cancel` is called instead, may be NULL) and the
 * error is reported by the next ml_loader_wait. */
void ml_loader_submit(ml_loader *l, ml_loader_fn fn, ml_loader_fn cancel, void *a, void *b);
/* Waits until every queued job ran; returns (and clears) the first error. */
ml_status ml_loader_wait(ml_loader *l, ml_err *err);

/* True when a job failed and ml_loader_wait has not reported it yet: lets a
 * caller that does not otherwise wait stop early. */
bool ml_loader_failed(ml_loader *l);
/* True when called from a job, i.e. on the loader thread itself (where
 * waiting for the loader would wait forever). */
bool ml_loader_on_thread(const ml_loader *l);

/* A mutex/condition pair callers use to hand objects back and forth with
 * jobs (the loader's own lock, so one lock orders everything). */
void ml_loader_lock(ml_loader *l);
void ml_loader_unlock(ml_loader *l);
/* Waits on the loader's "something finished" condition; lock must be held.
 * The first is for producers waiting for the loader (a chunk to come back),
 * the second for a job waiting for its producer (the next chunk): the same
 * wait, counted on different sides of ml_loader_times. */
void ml_loader_wait_progress(ml_loader *l);
void ml_loader_wait_for_input(ml_loader *l);
/* Wakes every ml_loader_wait_progress; lock must be held. */
void ml_loader_broadcast(ml_loader *l);

/* Extra chunks: how many data chunks producers may keep in flight beyond
 * their own minimum, shared by every producer of this loader (lock held for
 * both).  DuckDB compresses a row group (122,880 rows) in one burst; a
 * producer that can run ahead by more than that keeps parsing meanwhile
 * instead of waiting (see ml_batch), and the grant keeps the memory that
 * costs bounded however many tables are loaded at once.
 * ml_loader_take_extra returns false when all ML_LOADER_EXTRA_CHUNKS are out;
 * each chunk taken is given back with ml_loader_return_extra. */
#define ML_LOADER_EXTRA_CHUNKS 48
bool ml_loader_take_extra(ml_loader *l);
void ml_loader_return_extra(ml_loader *l, unsigned n);

/* Where the two sides' time went, for the summary a load prints: whether the
 * producer (parsing) or the loader (DuckDB's storage work, run by the loader
 * thread itself while appends use one DuckDB thread) bounded it.  Seconds
 * since ml_loader_start. */
typedef struct ml_loader_times {
  double caller_cpu_s;  /* CPU time the calling (producer) thread used */
  double loader_cpu_s;  /* CPU time the loader thread used */
  double loader_idle_s; /* the loader thread waiting for jobs or, inside one, for input */
  double owner_wait_s;  /* other threads blocked on the loader: a full queue, ml_loader_wait,
                           ml_loader_wait_progress */
} ml_loader_times;
/* Call from a producer thread (not from a job), before ml_loader_stop. */
void ml_loader_times_get(ml_loader *l, ml_loader_times *out);

/* Streaming jobs (ml_feed): a job that keeps taking input handed to it
 * outside the queue until told to stop.  ml_loader_submit_stream queues
 * fn(a) like ml_loader_submit and registers it as the stream in the same
 * step; while it is registered, every ml_loader_submit, ml_loader_wait and
 * ml_loader_stop first calls stop(a) (lock held, once), so that the stream
 * ends before anything else runs. */
void ml_loader_submit_stream(ml_loader *l, ml_loader_fn fn, ml_loader_fn cancel, void *a, void (*stop)(void *a));
/* Forgets the stream registered with ud, if it still is; lock held. */
void ml_loader_clear_stream(ml_loader *l, void *ud);

#endif
