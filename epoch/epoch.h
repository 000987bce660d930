/* epoch/epoch.h: the single maintenance boundary.
 *
 * Owns: the epoch counter and the order of maintenance: S58 reclaim (tcache -> central ->
 *   segment) first, the shared batches no refill took since the last epoch, then the inbox
 *   of remote frees, then purge (S60 queue, S57-B2 scan) of the calling thread's shard,
 *   within the purge budgets; the thread-exit sequence (tcache returned, then S61 hard
 *   purge); trim (everything, every shard, no budget).
 * Invariants: never runs on the malloc/free fast path; one budgeted epoch at a time (a
 *   try-lock: a thread that finds one running skips its own); the caller holds no lock.
 * Triggers: every HZ3_EPOCH_INTERVAL slow-path events of a thread (tcache's epoch_tick),
 *   thread exit, malloc_trim, hz3_epoch_force().
 * Arrows: segment, tcache, purge (design.md), and central for the shard lock it purges under.
 * Callers: preload, tests.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "central/central.h"
#include "purge/purge.h"
#include "segment/segment.h"
#include "tcache/tcache.h"

typedef struct hz3_epoch {
  hz3_central_t *central;
  hz3_purge_t *purge;
  hz3_stats_t *stats;
  uint32_t epoch;
  hz3_lock_t run_lock;
} hz3_epoch_t;

/* ---- lifecycle ---- */
void hz3_epoch_init(hz3_epoch_t *e, hz3_central_t *central, hz3_purge_t *purge, hz3_stats_t *stats);

/* ---- the boundary ---- */
/* One budgeted epoch for the calling thread's tcache tc (which may be fresh or dead: then only
 * its shard's purge runs, shard 0 for a fresh one).  Returns pages purged (0 if skipped). */
uint64_t hz3_epoch_run(hz3_epoch_t *e, hz3_tcache_t *tc);
/* Thread exit: tc's contents go home (teardown), then the retain policy releases what the
 * shard's departing owner left (fragments too), then S61 purges its shard within limits. */
void hz3_epoch_thread_exit(hz3_epoch_t *e, hz3_tcache_t *tc);
/* Thread exit with the cache parked for the next thread (an orphan): only the release of
 * what the departing owner left in its shard. */
void hz3_epoch_owner_left(hz3_epoch_t *e, uint32_t shard);
/* malloc_trim: tc flushed, then every shard's inbox drained and every resident-unused page of
 * every shard and of the spare segments purged, without budget.  Returns pages purged. */
uint64_t hz3_epoch_trim(hz3_epoch_t *e, hz3_tcache_t *tc);

/* Epochs run so far. */
uint32_t hz3_epoch_current(const hz3_epoch_t *e);
