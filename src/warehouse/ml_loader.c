#include "ml_loader.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* jobs waiting (feed INSERTs, commits); a full queue makes the caller wait */
#define QUEUE_SLOTS 256

typedef struct job {
  ml_loader_fn fn, cancel;
  void *a, *b;
} job;

struct ml_loader {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t has_work;  /* queue became non-empty or stopping */
  pthread_cond_t progress;  /* a job finished or a slot freed */
  job queue[QUEUE_SLOTS];
  size_t head, count;
  bool busy, stopping, failed;
  unsigned extra_out; /* chunks granted by ml_loader_take_extra */
  ml_err first_error;
  /* the streaming job running or queued (see ml_loader_submit_stream) */
  void (*stream_stop)(void *ud);
  void *stream_ud;
  /* ml_loader_times, in ns; guarded by mu */
  long long loader_idle_ns, owner_wait_ns;
  unsigned input_waiters;      /* threads in ml_loader_wait_for_input */
  long long input_wait_since;  /* when the first of them began to wait */
};

static long long mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* pthread_cond_wait that adds the time it waited to *sum (lock held). */
static void timed_wait(pthread_cond_t *cond, pthread_mutex_t *mu, long long *sum) {
  long long t0 = mono_ns();
  pthread_cond_wait(cond, mu);
  *sum += mono_ns() - t0;
}

/* Lock held.  A streaming job would wait for input forever once the caller
 * moves on to other work: tell it to finish first. */
static void stop_stream(ml_loader *l) {
  if (!l->stream_stop) return;
  void (*stop)(void *) = l->stream_stop;
  l->stream_stop = NULL;
  stop(l->stream_ud);
}

static void *loader_main(void *arg) {
  ml_loader *l = arg;
  pthread_mutex_lock(&l->mu);
  for (;;) {
    while (l->count == 0 && !l->stopping) timed_wait(&l->has_work, &l->mu, &l->loader_idle_ns);
    if (l->count == 0 && l->stopping) break;
    job j = l->queue[l->head];
    l->head = (l->head + 1) % QUEUE_SLOTS;
    l->count--;
    l->busy = true;
    bool skip = l->failed;
    pthread_mutex_unlock(&l->mu);
    ml_err err;
    ml_err_clear(&err);
    ml_status st = ML_OK;
    if (skip) {
      if (j.cancel) j.cancel(j.a, j.b, &err);
    } else {
      st = j.fn(j.a, j.b, &err);
    }
    pthread_mutex_lock(&l->mu);
    if (st != ML_OK && !l->failed) {
      l->failed = true;
      l->first_error = err;
    }
    l->busy = false;
    pthread_cond_broadcast(&l->progress);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

ml_status ml_loader_start(ml_loader **out, ml_err *err) {
  *out = NULL;
  ml_loader *l = calloc(1, sizeof *l);
  if (!l) return ml_err_nomem(err);
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->has_work, NULL);
  pthread_cond_init(&l->progress, NULL);
  if (pthread_create(&l->thread, NULL, loader_main, l) != 0) {
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->has_work);
    pthread_cond_destroy(&l->progress);
    free(l);
    return ml_err_set(err, ML_ERR_NOMEM, "cannot start the loader thread");
  }
  *out = l;
  return ML_OK;
}

void ml_loader_stop(ml_loader *l) {
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  stop_stream(l);
  l->stopping = true;
  pthread_cond_signal(&l->has_work);
  pthread_mutex_unlock(&l->mu);
  pthread_join(l->thread, NULL);
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->has_work);
  pthread_cond_destroy(&l->progress);
  free(l);
}

/* Lock held: ends the open stream, waits for room, queues j. */
static void enqueue(ml_loader *l, job j) {
  stop_stream(l);
  while (l->count == QUEUE_SLOTS) timed_wait(&l->progress, &l->mu, &l->owner_wait_ns);
  l->queue[(l->head + l->count) % QUEUE_SLOTS] = j;
  l->count++;
  pthread_cond_signal(&l->has_work);
}

void ml_loader_submit(ml_loader *l, ml_loader_fn fn, ml_loader_fn cancel, void *a, void *b) {
  pthread_mutex_lock(&l->mu);
  enqueue(l, (job){fn, cancel, a, b});
  pthread_mutex_unlock(&l->mu);
}

void ml_loader_submit_stream(ml_loader *l, ml_loader_fn fn, ml_loader_fn cancel, void *a, void (*stop)(void *a)) {
  pthread_mutex_lock(&l->mu);
  enqueue(l, (job){fn, cancel, a, NULL});
  l->stream_stop = stop;
  l->stream_ud = a;
  pthread_mutex_unlock(&l->mu);
}

ml_status ml_loader_wait(ml_loader *l, ml_err *err) {
  pthread_mutex_lock(&l->mu);
  stop_stream(l);
  while (l->count > 0 || l->busy) timed_wait(&l->progress, &l->mu, &l->owner_wait_ns);
  ml_status st = ML_OK;
  if (l->failed) {
    st = l->first_error.code ? l->first_error.code : ML_ERR_DB;
    if (err) *err = l->first_error;
    l->failed = false;
    ml_err_clear(&l->first_error);
  }
  pthread_mutex_unlock(&l->mu);
  return st;
}

bool ml_loader_failed(ml_loader *l) {
  pthread_mutex_lock(&l->mu);
  bool failed = l->failed;
  pthread_mutex_unlock(&l->mu);
  return failed;
}

bool ml_loader_on_thread(const ml_loader *l) { return pthread_equal(pthread_self(), l->thread) != 0; }

void ml_loader_lock(ml_loader *l) { pthread_mutex_lock(&l->mu); }
void ml_loader_unlock(ml_loader *l) { pthread_mutex_unlock(&l->mu); }
void ml_loader_wait_progress(ml_loader *l) { timed_wait(&l->progress, &l->mu, &l->owner_wait_ns); }
void ml_loader_wait_for_input(ml_loader *l) {
  /* Several DuckDB threads may wait here at once (with more than one
   * thread): the time counts once, while any of them waits. */
  if (l->input_waiters++ == 0) l->input_wait_since = mono_ns();
  pthread_cond_wait(&l->progress, &l->mu);
  if (--l->input_waiters == 0) l->loader_idle_ns += mono_ns() - l->input_wait_since;
}

void ml_loader_times_get(ml_loader *l, ml_loader_times *out) {
  memset(out, 0, sizeof *out);
  clockid_t cpu;
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
    out->caller_cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  if (pthread_getcpuclockid(l->thread, &cpu) == 0 && clock_gettime(cpu, &ts) == 0)
    out->loader_cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  pthread_mutex_lock(&l->mu);
  out->loader_idle_s = (double)l->loader_idle_ns / 1e9;
  out->owner_wait_s = (double)l->owner_wait_ns / 1e9;
  pthread_mutex_unlock(&l->mu);
}
void ml_loader_broadcast(ml_loader *l) { pthread_cond_broadcast(&l->progress); }

bool ml_loader_take_extra(ml_loader *l) {
  if (l->extra_out >= ML_LOADER_EXTRA_CHUNKS) return false;
  l->extra_out++;
  return true;
}

void ml_loader_return_extra(ml_loader *l, unsigned n) { l->extra_out -= n <= l->extra_out ? n : l->extra_out; }

void ml_loader_clear_stream(ml_loader *l, void *ud) {
  if (l->stream_stop && l->stream_ud == ud) l->stream_stop = NULL;
}
