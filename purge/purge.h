/* purge/purge.h: giving unused pages back to the OS (madvise(MADV_DONTNEED)), within budgets.
 *
 * Owns: the policies that decide which resident-unused pages (free pages of segments, idle
 *   pages inside live runs: see segment.h) go back to the OS, and when:
 *   S57-B2  at the epoch tail, walk the pack pool's candidate segments and purge unused ranges
 *           of at least min_range pages that have been untouched for the decay, within a page
 *           budget;
 *   S60     a per-shard queue of ranges that just became unused, purged from the queue at the
 *           epoch without scanning, within call and page budgets;
 *   S61     at thread exit, hard-purge what the exiting thread's shard no longer uses;
 *   retain  amount, not time: when the process holds more resident-unused pages than the
 *           retain cap, the slow path that made pages unused releases spare segments whole,
 *           then long ranges of its shard, back to half the cap, within a per-call budget;
 *           fragments wait until the shard holds release_fragment_pages of them (works in a
 *           process that then goes idle, without a thread); a shard whose owner took new
 *           runs since the last release is cycling memory (it frees a round, then allocates
 *           the next): it keeps up to release_active_pages before anything goes (a pass
 *           over it, or over the paced keep, goes a sixteenth of it further down, and long
 *           ranges give only the pages over that), so a loop does not fault its pages back
 *           in every round; and pages given back that the
 *           process takes again within reuse_window_ms (a program that frees a round and
 *           allocates the next, whichever threads do it) raise a process-wide keep by what
 *           came back, up to reuse_keep_max_pages, dropped by a decision that finds nothing
 *           taken for a window or more than twice it made unused since the last take (a
 *           program that frees without reusing: winding down);
 *   trim    everything, no budget (malloc_trim).
 *   The mechanics (madvise, purged bits, counts) are the segment box's.
 * Invariants: only resident-unused pages are purged; no call exceeds its budget; every purge
 *   is counted (madvise calls and pages, in segment; scanned segments here).
 * Threads: every function runs under the lock of the set's owner (central's shard lock); the
 *   queues are per shard, so no other lock is needed.  Spare segments: under the pool lock.
 * Callers: the segment pool's unused hook (S60 queue, retain cap), epoch (S57, S60 drain,
 *   S61, trim), tests.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "packing/packing.h"
#include "segment/segment.h"

typedef struct hz3_purge_cfg {
  bool s57, s60, s61;
  uint32_t decay_epochs;    /* S57: epochs a segment must be untouched */
  uint32_t budget_pages;    /* S57: pages per tick */
  uint32_t min_range_pages; /* S57: smallest range worth a call */
  uint32_t queue_size;      /* S60: entries per shard (<= HZ3_S60_QUEUE_SIZE) */
  uint32_t queue_budget_calls, queue_budget_pages; /* S60: per drain */
  uint32_t hard_max_pages, hard_max_calls;         /* S61: per thread exit */
  uint32_t retain_max_pages;                       /* retain cap; 0 = off */
  uint32_t retain_budget_calls;                    /* madvise calls one retain purge may make */
  uint32_t release_range_pages;    /* above the cap, ranges this long go back first */
  uint32_t release_fragment_pages; /* shorter ranges wait until a set holds this many */
  uint32_t release_active_pages;   /* unused pages the process keeps while owners take runs */
  uint32_t reuse_window_ms;        /* paced keep: pages given back that come back within this
                                      are working memory (0: off) */
  uint32_t reuse_keep_max_pages;   /* paced keep: at most this many kept for it */
} hz3_purge_cfg_t;

/* Pages that must become unused in a set before a release pass above the cap looks at it
 * again (a pass that found only fragments would otherwise rescan on every free). */
#define HZ3_RELEASE_RESCAN_PAGES 32

typedef struct hz3_purge_entry {
  hz3_segment_t *seg;
  uint16_t first, npages;
} hz3_purge_entry_t;

typedef struct hz3_purge_queue {
  uint32_t head, count;
  uint64_t dropped; /* entries pushed out by newer ones (S57's scan still finds those pages) */
  hz3_purge_entry_t entries[HZ3_S60_QUEUE_SIZE];
} hz3_purge_queue_t;

typedef struct hz3_purge {
  hz3_purge_cfg_t cfg;
  hz3_segment_pool_t *pool;
  hz3_stats_t *stats;
  hz3_purge_queue_t queues[HZ3_NUM_SHARDS];
  uint64_t fresh_pages[HZ3_NUM_SHARDS];      /* made unused per set since its last release pass */
  uint64_t runs_seen[HZ3_NUM_SHARDS];        /* set->runs_taken when a pass last released */
  uint64_t runs_seen_before[HZ3_NUM_SHARDS]; /* and at the pass before that one */
  /* The paced keep (see paced_keep in purge.c): process-wide, changed under paced_lock by
   * whichever thread's decision gets it (a decision that finds it taken uses keep_pages as
   * it is). */
  hz3_lock_t paced_lock;
  uint64_t keep_pages;      /* unused pages kept over the cap: what came back within the window */
  uint64_t paced_ns;        /* when a pass last gave pages back or on_retake last counted */
  uint64_t released_recent; /* pages passes gave back, in a chain of gives and takes with no gap
                               of a window, that no take has matched yet */
  uint64_t kept_at_release; /* the most unused pages those passes left resident (the keep
                               grows from at least that) */
  uint64_t taken_ns;        /* the last decision that found pages taken since the one before */
  uint64_t made_unused;     /* pages made unused while there is a keep (atomic) */
  uint64_t made_at_take;    /* made_unused at that decision */
} hz3_purge_t;

/* ---- lifecycle ---- */
/* The knob defaults (config/knobs.bzl). */
hz3_purge_cfg_t hz3_purge_cfg_default(void);
/* Sets up the policies and installs the pool's unused hook (S60 queue, retain cap). */
void hz3_purge_init(hz3_purge_t *pg, hz3_segment_pool_t *pool, hz3_stats_t *stats,
                    const hz3_purge_cfg_t *cfg);

/* Sets the retain cap while threads run (mallopt(M_TRIM_THRESHOLD)); 0 turns the cap off. */
void hz3_purge_set_retain_max_pages(hz3_purge_t *pg, uint32_t pages);

/* ---- policies (caller holds the set owner's lock) ---- */
/* S57-B2 over set at epoch `epoch`; returns pages purged. */
uint32_t hz3_purge_tick(hz3_purge_t *pg, hz3_segment_set_t *set, uint32_t epoch);
/* S60: purges the ranges queued for set's owner, within the queue budgets; returns pages. */
uint32_t hz3_purge_queue_drain(hz3_purge_t *pg, hz3_segment_set_t *set);
/* Purges every resident-unused page of set, at most max_pages in max_calls (trim). */
uint64_t hz3_purge_set_all(hz3_purge_t *pg, hz3_segment_set_t *set, uint64_t max_pages,
                           uint32_t max_calls);
/* The retain policy when set's owner thread leaves (exit; its cache may wait for the next
 * thread): if the set took no run since its last release (the thread was winding down),
 * nobody will reuse its fragments soon, so they go too, above the retain cap, within the pass
 * budget.  Nothing when the retain cap is off or the set is still cycling memory. */
void hz3_purge_owner_left(hz3_purge_t *pg, hz3_segment_set_t *set);
/* S61: what set no longer uses, then the spare segments (where a thread's wholly freed
 * segments went when its cache came home), at most max_pages in max_calls in all. */
uint64_t hz3_purge_hard(hz3_purge_t *pg, hz3_segment_set_t *set, uint64_t max_pages,
                        uint32_t max_calls);
/* Trim's last step: every resident page of the pool's spare segments (takes the pool lock). */
uint64_t hz3_purge_spare(hz3_purge_t *pg);

/* ---- check ---- */
/* Queue entries lie inside segments and queue counts are in range. */
bool hz3_purge_check(const hz3_purge_t *pg, hz3_check_report_t *report);
