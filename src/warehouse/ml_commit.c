#include "ml_commit.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../util/ml_array.h"
#include "ml_loader.h"

/* What became of a plan; written by the thread that commits it, read by the
 * owner's ml_commit_drain. */
enum { PLAN_QUEUED, PLAN_COMMITTED, PLAN_FAILED };

typedef struct entry {
  ml_commit *c; /* borrowed: the loader job reaches the pipeline through it */
  void *plan;   /* owned */
  ml_commit_run_fn run;
  ml_commit_free_fn free_plan;
  uint64_t seq;
  _Atomic int outcome;
} entry;

struct ml_commit {
  ml_wh *wh; /* borrowed */
  uint64_t kill_after_commit;
  uint64_t last_seq;     /* numbers given so far */
  _Atomic uint64_t done; /* highest seq committed */
  /* plans not acknowledged yet, oldest first; owned */
  entry **queue;
  size_t n, cap;
};

static void entry_free(entry *e) {
  if (e->free_plan) e->free_plan(e->plan);
  free(e);
}

/* Reserves room for one more entry, so that nothing can fail once a plan
 * has committed. */
static ml_status reserve(ml_commit *c, ml_err *err) {
  return ml_array_reserve(&c->queue, c->n + 1, &c->cap, sizeof *c->queue, 8) ? ML_OK : ml_err_nomem(err);
}

/* The plan's COMMIT returned: nothing may acknowledge it before this point,
 * which is where the crash tests kill the process. */
static void committed(ml_commit *c, entry *e) {
  if (c->kill_after_commit && e->seq == c->kill_after_commit) raise(SIGKILL);
  atomic_store(&c->done, e->seq);
  atomic_store(&e->outcome, PLAN_COMMITTED);
}

ml_status ml_commit_open(ml_wh *wh, uint64_t kill_after_commit, ml_commit **out, ml_err *err) {
  *out = calloc(1, sizeof **out);
  if (!*out) return ml_err_nomem(err);
  (*out)->wh = wh;
  (*out)->kill_after_commit = kill_after_commit;
  return ML_OK;
}

void ml_commit_free(ml_commit *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n; i++) entry_free(c->queue[i]);
  free(c->queue);
  free(c);
}

bool ml_commit_can_submit(const ml_commit *c) { return c->wh && ml_wh_loader(c->wh) != NULL; }

/* Loader thread: the plan's statements, then COMMIT and BEGIN (the owner
 * keeps seeing an open transaction while this runs behind it). */
static ml_status run_job(void *a, void *unused, ml_err *err) {
  (void)unused;
  entry *e = a;
  ml_wh *wh = e->c->wh;
  ml_status st = e->run ? e->run(e->plan, wh, err) : ML_OK;
  /* part of the plan may have run: that transaction must not commit */
  if (st != ML_OK) ml_wh_fail_tx(wh);
  bool done = false;
  if (st == ML_OK) st = ml_wh_commit_and_begin(wh, &done, err);
  /* when only the BEGIN after it failed, the plan did commit */
  if (done) committed(e->c, e);
  else atomic_store(&e->outcome, PLAN_FAILED);
  return st;
}

/* Loader thread, after an earlier job failed: this plan never runs. */
static ml_status cancel_job(void *a, void *unused, ml_err *err) {
  (void)unused;
  (void)err;
  atomic_store(&((entry *)a)->outcome, PLAN_FAILED);
  return ML_OK;
}

static entry *new_entry(ml_commit *c, void *plan, ml_commit_run_fn run, ml_commit_free_fn free_plan, ml_err *err) {
  entry *e = reserve(c, err) == ML_OK ? calloc(1, sizeof *e) : NULL;
  if (!e) {
    if (c->n < c->cap) ml_err_nomem(err);
    if (free_plan) free_plan(plan);
    return NULL;
  }
  *e = (entry){.c = c, .plan = plan, .run = run, .free_plan = free_plan, .seq = c->last_seq + 1};
  atomic_init(&e->outcome, PLAN_QUEUED);
  return e;
}

/* A plan that never reaches the loader belongs to the open transaction all
 * the same (its caller already counts it as done): after the loader's jobs,
 * the transaction is marked failed so that no later COMMIT stores the rest
 * without it. */
static void plan_lost(ml_commit *c) {
  if (!c->wh) return;
  ml_err ignored;
  ml_wh_sync(c->wh, &ignored);
  ml_wh_fail_tx(c->wh);
}

/* Whether a plan (what: for the message) can go to the loader thread now;
 * when not, frees it, marks the transaction failed (plan_lost) and says
 * why: no loader, or an earlier commit or append failed (said now, not at
 * the end). */
static ml_status can_queue(ml_commit *c, const char *what, void *plan, ml_commit_free_fn free_plan, ml_err *err) {
  ml_status st = ML_OK;
  if (!ml_commit_can_submit(c)) st = ml_err_set(err, ML_ERR_STATE, "%s needs the warehouse's loader thread", what);
  else if (ml_commit_failed(c)) st = ml_commit_wait(c, err);
  if (st != ML_OK) {
    if (free_plan) free_plan(plan);
    plan_lost(c);
  }
  return st;
}

ml_status ml_commit_submit(ml_commit *c, void *plan, ml_commit_run_fn run, ml_commit_free_fn free_plan, uint64_t *seq,
                           ml_err *err) {
  *seq = 0;
  ml_status st = can_queue(c, "a commit behind", plan, free_plan, err);
  if (st != ML_OK) return st;
  ml_loader *loader = ml_wh_loader(c->wh);
  entry *e = new_entry(c, plan, run, free_plan, err);
  if (!e) {
    plan_lost(c);
    return ML_ERR_NOMEM;
  }
  c->queue[c->n++] = e;
  *seq = ++c->last_seq;
  ml_loader_submit(loader, run_job, cancel_job, e, NULL);
  return ML_OK;
}

/* Work queued by ml_commit_submit_work; owns its plan. */
typedef struct work {
  ml_wh *wh;
  void *plan;
  ml_commit_run_fn run;
  ml_commit_free_fn free_plan;
} work;

static void work_free(work *w) {
  if (w->free_plan) w->free_plan(w->plan);
  free(w);
}

static ml_status run_work(void *a, void *unused, ml_err *err) {
  (void)unused;
  work *w = a;
  ml_status st = w->run(w->plan, w->wh, err);
  /* part of it may have run: that transaction must not commit */
  if (st != ML_OK) ml_wh_fail_tx(w->wh);
  work_free(w);
  return st;
}

static ml_status cancel_work(void *a, void *unused, ml_err *err) {
  (void)unused;
  (void)err;
  work_free(a);
  return ML_OK;
}

ml_status ml_commit_submit_work(ml_commit *c, void *plan, ml_commit_run_fn run, ml_commit_free_fn free_plan,
                                ml_err *err) {
  ml_status st = can_queue(c, "work behind", plan, free_plan, err);
  if (st != ML_OK) return st;
  work *w = malloc(sizeof *w);
  if (!w) {
    if (free_plan) free_plan(plan);
    plan_lost(c);
    return ml_err_nomem(err);
  }
  *w = (work){.wh = c->wh, .plan = plan, .run = run, .free_plan = free_plan};
  ml_loader_submit(ml_wh_loader(c->wh), run_work, cancel_work, w, NULL);
  return ML_OK;
}

ml_status ml_commit_here(ml_commit *c, void *plan, ml_commit_run_fn run, ml_commit_free_fn free_plan, uint64_t *seq,
                         ml_err *err) {
  if (seq) *seq = 0;
  entry *e = new_entry(c, plan, run, free_plan, err);
  if (!e) return ML_ERR_NOMEM;
  /* older plans commit first, and their failure is the one to report */
  ml_status st = ml_commit_wait(c, err);
  if (st == ML_OK && run) {
    st = run(plan, c->wh, err);
    if (st != ML_OK) ml_wh_fail_tx(c->wh);
  }
  if (st == ML_OK) st = ml_wh_commit(c->wh, err);
  if (st != ML_OK) {
    entry_free(e);
    return st;
  }
  c->queue[c->n++] = e;
  c->last_seq++;
  if (seq) *seq = e->seq;
  committed(c, e);
  return ML_OK;
}

uint64_t ml_commit_done(const ml_commit *c) { return atomic_load(&((ml_commit *)c)->done); }

size_t ml_commit_drain(ml_commit *c, ml_commit_ack_fn ack, void *ud) {
  size_t k = 0, acked = 0;
  for (; k < c->n; k++) {
    entry *e = c->queue[k];
    int outcome = atomic_load(&e->outcome);
    if (outcome == PLAN_QUEUED) break;
    if (outcome == PLAN_COMMITTED) {
      if (ack) ack(ud, e->plan);
      acked++;
    }
    entry_free(e);
  }
  for (size_t i = k; i < c->n; i++) c->queue[i - k] = c->queue[i];
  c->n -= k;
  return acked;
}

size_t ml_commit_waiting(const ml_commit *c) { return c->n; }

bool ml_commit_failed(const ml_commit *c) {
  ml_loader *loader = c->wh ? ml_wh_loader(c->wh) : NULL;
  return loader && ml_loader_failed(loader);
}

ml_status ml_commit_wait(ml_commit *c, ml_err *err) { return c->wh ? ml_wh_sync(c->wh, err) : ML_OK; }
