/* preload/hz3_preload.h: the process-wide allocator, for preload's own files.
 *
 * Owns: the single instances of the boxes (segment pool, central, large, stats), their
 *   set-up on the first call, the calling thread's tcache (initial-exec TLS), thread exit and
 *   fork handling.  libc's names are defined in preload.c only.
 * Invariants: before set-up the pool's first arena is empty (base and grown bytes 0), so every
 *   free goes to a slow path, and every malloc finds its bin empty and sets up.
 * Threads: set-up runs once under a lock; everything else is the boxes' business.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "central/central.h"
#include "epoch/epoch.h"
#include "large/large.h"
#include "purge/purge.h"
#include "segment/segment.h"
#include "tcache/tcache.h"

typedef struct hz3_process {
  /* First: its first arena's base, grown bytes and page bins are the free fast path's. */
  hz3_segment_pool_t pool;
  int ready;
  hz3_central_t central;
  hz3_large_t large;
  hz3_purge_t purge;
  hz3_epoch_t epoch;
  hz3_stats_t stats;
  hz3_tcache_env_t env;
  hz3_tcache_orphans_t orphans; /* caches of exited threads, for the next new thread */
  hz3_batches_t batches;        /* env.batches: flushed bin halves for any thread's refill */
  /* Shard choice: live threads per shard, and the shard a thread left last.  A new thread takes
   * the shard its predecessor left (server threads come and go: the objects it inherits are
   * then its own, not remote), else the least used one of the first shards_used. */
  uint32_t shard_threads[HZ3_NUM_SHARDS];
  uint32_t last_vacated_shard; /* + 1; 0: none */
  uint32_t shards_used;        /* threads get shards 0..shards_used-1 (one per CPU, set once) */
  uint32_t live_caches;        /* env.live_caches: threads' caches sharing the growth budget */
} hz3_process_t;

extern hz3_process_t hz3_g HZ3_HIDDEN;
/* = hz3_g.env.link_key, set once at set-up (before any thread has a cache). */
extern uintptr_t hz3_link_key HZ3_HIDDEN;
extern __thread hz3_tcache_t hz3_t_tcache HZ3_TLS_IE;

/* Sets the process up if it is not; returns 0 or ENOMEM. */
int hz3_process_ensure(void);
/* mallopt(M_TRIM_THRESHOLD): the retain cap in bytes, from now on. */
void hz3_process_set_retain_bytes(size_t bytes);
/* Sets the calling thread's tcache up if it is fresh (after hz3_process_ensure). */
void hz3_thread_ensure(void);
/* Resizes p in place toward n bytes where it can (a big block to a big size: grown into free
 * pages after it, or cut), else leaves it; returns its usable size after (jemalloc's xallocx;
 * never in the check build). */
size_t hz3_resize_in_place(void *p, size_t n);
