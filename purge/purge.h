/* purge/purge.h: giving free pages back to the OS (madvise(MADV_DONTNEED)), within budgets.
 *
 * Owns: S57-B2 (partial subrelease: at the epoch tail, free-and-not-purged ranges of pack-pool
 *   segments, after a decay in epochs, within a page budget), S60 (a queue of ranges freed by
 *   free_run, purged without scanning), S61 (hard purge of a shard's free pages at thread
 *   exit), and their counters.
 * Invariants: only free pages are purged; purged_bits stays a subset of free_bits; no call
 *   exceeds its budget of calls and pages; every purged page is counted.
 * Threads: called with the owning shard's lock held (hz3_purge_tick takes it per shard).
 * Callers: epoch (tick), preload (thread exit), tests.
 * Status: contract only; the memory-return issue implements it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "packing/packing.h"
#include "segment/segment.h"

typedef struct hz3_purge_cfg {
  uint32_t decay_epochs;    /* S57: epochs a page must stay free */
  uint32_t budget_pages;    /* S57: pages per tick */
  uint32_t min_range_pages; /* S57: smallest range worth a call */
  uint32_t queue_size;      /* S60 */
  uint32_t queue_budget_calls, queue_budget_pages;
  uint32_t hard_max_pages, hard_max_calls; /* S61 */
} hz3_purge_cfg_t;

typedef struct hz3_purge_stats {
  uint64_t madvise_calls, purged_pages, scanned_segments;
} hz3_purge_stats_t;

/* The knob defaults (config/knobs.bzl). */
hz3_purge_cfg_t hz3_purge_cfg_default(void);

/* S57-B2 over one segment set at epoch `epoch`; returns pages purged. */
uint32_t hz3_purge_tick(hz3_segment_pool_t *pool, hz3_segment_set_t *set,
                        const hz3_purge_cfg_t *cfg, uint32_t epoch, hz3_purge_stats_t *stats);

/* Counters so far. */
void hz3_purge_stats(hz3_purge_stats_t *out);
