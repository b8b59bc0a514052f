/* ml_commit: where a commit is made, and where it is acknowledged.
 *
 * Both front ends promise that what they acknowledge is committed: `mallard
 * write` (airbyte/ml_dest) echoes a STATE message only after the COMMIT that
 * stored its records, `mallard debug` (sdk/ml_sdk) writes a checkpoint's
 * state to state.json only after the COMMIT of the operations before it.
 * This module is the one place that pairs the two, so that neither front end
 * can acknowledge work that is not durable.
 *
 * A plan is the caller's description of one commit: an object it allocates,
 * a run function (the statements that belong to the commit, run in the open
 * transaction just before COMMIT; NULL when there are none) and a free
 * function.  The caller keeps in the plan what it acknowledges (states).
 *
 * Where a commit is MADE:
 *   - ml_commit_submit: on the warehouse's loader thread (ml_loader), as a
 *     job queued behind the data jobs it covers; run(plan), then
 *     ml_wh_commit_and_begin.  The caller goes on at once.
 *   - ml_commit_here: on the caller's thread, after every plan submitted
 *     before it has run; run(plan), then ml_wh_commit.
 * Both number their plans 1, 2, ... in the order they were given, and
 * commits happen in that order (one loader thread; ml_commit_here waits for
 * it first).
 *
 * Where a commit is ACKNOWLEDGED: only in ml_commit_drain, on the owner's
 * thread, which calls ack(plan) for each plan whose COMMIT returned, oldest
 * first, then frees it.  A plan whose job failed (or was skipped after an
 * earlier loader job failed) is freed there without ack, and the failure is
 * reported by the next call that waits for the loader (ml_commit_wait,
 * ml_commit_here, ml_commit_submit, or any ml_wh call that reaches DuckDB).
 *
 * A commit that acknowledges nothing (creating tables before the first
 * record, dropping staging tables) is made directly with ml_wh_commit and
 * does not take a number.
 *
 * Fault injection for the crash tests (docs/reliability.md): with
 * kill_after_commit = N > 0 the process kills itself with SIGKILL right after
 * the COMMIT of plan N returned and before anything can acknowledge it.
 *
 * Threads: every function is for the owner's thread except ml_commit_done.
 * Lifecycle: ml_commit_open -> (submit | here | drain | wait)* -> ml_commit_free. */
#ifndef ML_COMMIT_H
#define ML_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/ml_err.h"
#include "ml_wh.h"

typedef struct ml_commit ml_commit;

/* The statements of a plan, in the open transaction, before its COMMIT: on
 * the loader thread (ml_commit_submit) or the owner's (ml_commit_here).  A
 * failure leaves the transaction marked failed (ml_wh_fail_tx): nothing of
 * it is committed. */
typedef ml_status (*ml_commit_run_fn)(void *plan, ml_wh *wh, ml_err *err);
/* Acknowledges a committed plan (echo a STATE, keep a state to save); the
 * plan is still the caller's object and is freed right after. */
typedef void (*ml_commit_ack_fn)(void *ud, void *plan);
/* Frees a plan: after its ack, or when it is never acknowledged. */
typedef void (*ml_commit_free_fn)(void *plan);

/* wh is borrowed and must outlive every call but ml_commit_free (NULL is
 * allowed for a pipeline that never commits).  kill_after_commit: see above,
 * 0 for none. */
ml_status ml_commit_open(ml_wh *wh, uint64_t kill_after_commit, ml_commit **out, ml_err *err);
/* Frees the plans not acknowledged, without ack.  The loader must have no
 * job of this pipeline left: call it after ml_commit_wait, or after the
 * warehouse was closed (which runs or cancels every queued job).  Does not
 * touch the warehouse.  NULL is fine. */
void ml_commit_free(ml_commit *c);

/* True when the warehouse has a loader thread, i.e. ml_commit_submit can
 * commit behind the caller. */
bool ml_commit_can_submit(const ml_commit *c);

/* Queues plan on the loader thread (see above) and takes ownership of it
 * whatever the result; *seq is its number (0 on failure).  When an earlier
 * loader job failed, that failure is returned now and plan is freed.  A plan
 * that could not be queued leaves the open transaction marked failed: its
 * caller already counts its work as done. */
ml_status ml_commit_submit(ml_commit *c, void *plan, ml_commit_run_fn run, ml_commit_free_fn free_plan, uint64_t *seq,
                           ml_err *err);

/* Queues work for the next commit on the loader thread: run(plan) in the
 * open transaction, behind the jobs queued before it, with no COMMIT of its
 * own (the next ml_commit_submit or ml_commit_here commits what it did).  A
 * failure marks the transaction failed (ml_wh_fail_tx), so that no later
 * COMMIT stores part of it, and is reported like a failed commit behind;
 * so does a failure to queue it (the transaction then lacks it).
 * Takes ownership of plan whatever the result and frees it on the loader
 * thread once it ran or was skipped after an earlier failure; it takes no
 * number and nothing acknowledges it. */
ml_status ml_commit_submit_work(ml_commit *c, void *plan, ml_commit_run_fn run, ml_commit_free_fn free_plan,
                                ml_err *err);
/* Commits on this thread (see above); takes ownership of plan whatever the
 * result.  On failure nothing of the plan is acknowledged and the caller
 * rolls back; an earlier plan's failure is reported first.  *seq may be
 * NULL. */
ml_status ml_commit_here(ml_commit *c, void *plan, ml_commit_run_fn run, ml_commit_free_fn free_plan, uint64_t *seq,
                         ml_err *err);

/* The highest plan number whose COMMIT returned; any thread. */
uint64_t ml_commit_done(const ml_commit *c);

/* Acknowledges the committed plans not acknowledged yet, oldest first (see
 * above); stops at the first plan still queued.  Returns how many were
 * acknowledged. */
size_t ml_commit_drain(ml_commit *c, ml_commit_ack_fn ack, void *ud);

/* Plans given and neither acknowledged nor freed yet. */
size_t ml_commit_waiting(const ml_commit *c);

/* True when a loader job failed and no call has reported it yet: lets a
 * caller say so before it prepares the next plan. */
bool ml_commit_failed(const ml_commit *c);

/* Waits until every submitted plan has run; returns the first failure of a
 * loader job (once), as ml_wh_sync does. */
ml_status ml_commit_wait(ml_commit *c, ml_err *err);

#endif
