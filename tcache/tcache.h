/* tcache/tcache.h: the per-thread caches and the malloc/free fast path.
 *
 * Owns: one hz3_tcache_t per thread (zero-initialised initial-exec TLS in preload's build, any
 *   instance in tests): per-class bins of free objects linked through their first word, with a
 *   length cap; the remote stash (objects of other shards on their way home, sent in batches);
 *   the homeward slots (objects of its own shard a draining thread freed into full bins,
 *   kept as pointers until they go home together); the thread's shard.
 * Invariants: bin c + 1 holds class c (bin 0 stays empty with max 0, the target of zero tags);
 *   every link of a bin list is stored XORed with env->link_key (the list ends in NULL ^ key);
 *   a bin's len counts its list and len <= max; a bin may hold objects of any shard (a free
 *   pushes without asking the owner: tcmalloc's choice; a flushed half goes whole to the shared
 *   batches (env->batches) while refills ask for them, else it is sorted out, own ones to
 *   central, others through the stash to their owner's inbox); stashed objects belong to
 *   other shards; homeward objects to the thread's shard, at most HZ3_HOMEWARD_SLOTS of them,
 *   and under HZ3_HOMEWARD_MAX_BYTES once a free has added to them.
 * Threads: a tcache is touched only by its own thread.
 * Callers: preload (fast path via tcache_fast.h, thread exit, trim), epoch (reclaim, stale
 *   batches), tests.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "central/central.h"
#include "segment/segment.h"
#include "tcache/batches.h"

#define HZ3_NUM_BINS (HZ3_NUM_CLASSES + 1)

/* The bins as three arrays, not an array of structs: the fast paths index head[] (x8) and
 * room[]/max[] (x4) with the bin number straight from the size or the page-bin byte, from the
 * one TLS base register, with no multiply by a struct size (2 instructions a pair). */
typedef struct hz3_bins {
  void *head[HZ3_NUM_BINS]; /* first, so that malloc's head load needs no displacement */
  /* max - len: what free may still push.  Counting room rather than length lets free test and
   * count in one decrement (a borrow means full); malloc adds one back. */
  uint32_t room[HZ3_NUM_BINS];
  uint32_t max[HZ3_NUM_BINS]; /* 0 until the thread is set up: the first free goes slow */
} hz3_bins_t;

/* Objects in bin i.  Modulo 2^32, so it stays right while a slow path holds one object over
 * max (room wrapped) before it flushes. */
static inline uint32_t hz3_bins_len(const hz3_bins_t *b, uint32_t i) {
  return b->max[i] - b->room[i];
}
static inline void hz3_bins_set_len(hz3_bins_t *b, uint32_t i, uint32_t len) {
  b->room[i] = b->max[i] - len;
}

typedef struct hz3_stash {
  void *head, *tail;
  uint32_t n;
} hz3_stash_t;

enum { HZ3_TCACHE_FRESH = 0, HZ3_TCACHE_ACTIVE = 1, HZ3_TCACHE_DEAD = 2 };

/* Overflowing frees in a row, with no refill between them (a big flush counting for several:
 * HZ3_DRAIN_OVERFLOW_OBJECTS), after which the byte budget is
 * enforced and a flush keeps a bin's older half (flush_bin).  A loop that allocates as much as it
 * frees (SSOT) refills between overflows and keeps its cache; a thread freeing its working set
 * reaches this within a few hundred frees. */
#define HZ3_DRAIN_STREAK 16
/* An overflow that is not the first of its streak counts one per this many objects its flush
 * sends (at least one): the streak stands for frees without a refill, and a bin that a long
 * allocation phase grew to 2048 objects sends a thousand a flush.  Counted one each, such
 * bins took 16 overflows, some 16 000 frees, to be seen draining, each flush walking the
 * whole bin (`bench/shuffle 100000`: a third of the run in those walks).  The first overflow
 * after a refill counts one: a thread cycling a batch of one size (bench/batch) overflows
 * once and allocates again (32 objects a count cost it 11 %). */
#define HZ3_DRAIN_OVERFLOW_OBJECTS 64
/* ... and after this many the shared batches go home (tcache_send_batches): a thread whose
 * bins random-walk (a server's) reaches 16 now and then (handoff 16: ~30 times a run), and
 * each drain left every class's next refills to central; 32 it reached 2-4 times, and a
 * thread emptying its working set passes 64 within a few hundred frees. */
#define HZ3_DRAIN_BATCHES_STREAK (4 * HZ3_DRAIN_STREAK)

/* A draining thread's frees of its own shard's objects into full bins wait as pointers, at
 * most this many and HZ3_HOMEWARD_MAX_BYTES, and go home in one locked call.  Pushed into the
 * bin instead, each object's link is written (a store: its line, cold in a large set freed in
 * random order, is fetched without stalling) and then read back by the flush that walks the
 * list, right after: each read waits for its line, one object after another.  As pointers the
 * objects are never read and their runs' descriptors are fetched together: `bench/shuffle`
 * 1 M objects of 48-96 B freed in random order.  A thread that works (refills) never waits
 * here: its overflows flush half a bin, whose links it wrote long enough ago. */
#define HZ3_HOMEWARD_SLOTS 64
#define HZ3_HOMEWARD_MAX_BYTES (32u << 10)

struct hz3_tcache_env;

typedef struct hz3_tcache {
  hz3_bins_t bins; /* bin c + 1 holds class c; first member (see hz3_bins_t) */
  uint32_t shard;
  uint32_t state;
  uint32_t slow_events; /* refills and flushes since the last epoch tick */
  uint32_t stashed;     /* objects in stash[] */
  const struct hz3_tcache_env *env;
  /* Sum over bins of max * object size: what the bins may hold.  With a byte budget
   * (env->max_bytes) it is brought back under the budget when frees keep overflowing bins
   * with no refill in between (a thread emptying its working set, as before going idle). */
  uint64_t budget_used_bytes;
  uint32_t steal_next;   /* where the next steal looks for a victim bin */
  uint32_t drain_streak; /* overflows since the last refill: the thread is freeing, not working */
  uint16_t overflows[HZ3_NUM_BINS]; /* S58: flushes of each bin since the last reclaim */
  hz3_stash_t stash[HZ3_NUM_SHARDS];
  /* Objects of this shard freed into full bins while the thread drains (hz3_tcache_free_slow),
   * waiting as pointers to go home together (hz3_central_free_array). */
  uint32_t nhomeward;
  uint32_t homeward_bytes;
  void *homeward[HZ3_HOMEWARD_SLOTS];
} hz3_tcache_t;

/* What a tcache works against: the central lists, and the epoch to tick. */
typedef struct hz3_tcache_env {
  hz3_central_t *central;
  hz3_segment_pool_t *pool;
  void (*epoch_tick)(void); /* called every HZ3_EPOCH_INTERVAL slow-path events; may be NULL */
  uint32_t refill_batch;    /* objects fetched per refill (upper bound; 0: by size only) */
  uint32_t bin_max;         /* cap of a bin's length (0: by size only) */
  uint32_t stash_batch;     /* stashed remote objects that trigger a send */
  uintptr_t link_key;       /* bins' links are stored XORed with it (0: plain; preload: a
                               per-process random value with the top bit set) */
  uint64_t max_bytes;       /* most bytes a tcache holds once it has been freeing without
                               allocating for HZ3_DRAIN_STREAK overflows (0: count caps only) */
  /* What the bins of all live caches may grow into together: each cache's share is this
   * divided by *live_caches, within HZ3_TCACHE_GROW_MIN_BYTES..HZ3_TCACHE_GROW_BYTES (0: each
   * HZ3_TCACHE_GROW_BYTES).  live_caches is the caller's counter of caches set up and not yet
   * torn down or parked, kept by this box (atomically); NULL counts as one. */
  uint64_t shared_grow_bytes;
  uint32_t *live_caches;
  /* Whole batches all caches share (batches.h): half of a full bin waits there for the
   * next refill of its class in any thread, instead of going home; NULL: every flush goes
   * home.  The caller owns it; tcache sends what leaves it home. */
  hz3_batches_t *batches;
  bool s58; /* S58 decay: bins that keep overflowing shrink at reclaim */
  uint32_t s58_initial_max_len, s58_max_overages, s58_reclaim_budget;
  /* The bins' first max lengths and their bytes, computed by hz3_tcache_env_default for its
   * knobs, so that a thread's set-up copies them (a short-lived thread pays set-up each
   * time); an env built otherwise, or with bin_max set or S58 on, has them computed at each
   * set-up. */
  bool start_ready;
  uint64_t start_bytes;
  uint32_t start_max[HZ3_NUM_BINS];
} hz3_tcache_env_t;

/* The knob defaults for an env (central, pool and epoch_tick are the caller's). */
hz3_tcache_env_t hz3_tcache_env_default(hz3_central_t *central, hz3_segment_pool_t *pool,
                                        void (*epoch_tick)(void));

/* ---- lifecycle ---- */
/* Sets up a fresh tcache for shard (the thread's first slow path). */
void hz3_tcache_setup(hz3_tcache_t *tc, const hz3_tcache_env_t *env, uint32_t shard);
/* Returns everything the tcache holds to central and marks it dead: later calls on it work
 * without caching (malloc/free in other TLS destructors after this thread's teardown). */
void hz3_tcache_teardown(hz3_tcache_t *tc);

/* ---- slow paths (noinline; the fast path's exits) ---- */
/* free() of the object already at the head of its bin: one line on stderr, abort. */
HZ3_NORETURN HZ3_COLD void hz3_tcache_double_free(void *p);
void *hz3_tcache_refill(hz3_tcache_t *tc, uint32_t cls);
/* An object of a big class (hz3_class_is_big), straight from central for tc's shard, when its
 * bin has none: big objects are a run each, so their bins stay closed until the thread
 * allocates one, then hold a few (at most 512 KiB; none above 256 KiB: tcache.c); NULL with
 * errno = ENOMEM.  *zeroed: it reads as zero (hz3_central_alloc_big).  tc set up (active or
 * dead). */
void *hz3_tcache_alloc_direct(hz3_tcache_t *tc, uint32_t cls, bool *zeroed);
/* Frees p (page tag tag) when its bin is full or closed (a big class's closed bin: p goes
 * straight home) or the tcache is fresh or dead.  While the thread drains, an object of its
 * shard whose bin is full waits in the homeward slots instead of overflowing the bin. */
void hz3_tcache_free_slow(hz3_tcache_t *tc, void *p, hz3_tag_t tag);
/* The homeward slots are full: sends them home (a slow-path event, and HZ3_HOMEWARD_SLOTS / 8
 * overflows of the drain streak).  Called by hz3_tcache_free_homeward only. */
void hz3_tcache_homeward_full(hz3_tcache_t *tc, uint32_t bin);
/* free_slow's first case, inline for preload's slow path (it spares a call and a long
 * function's prologue on every free of a draining thread): while tc drains, p (page tag tag,
 * of tc's shard) whose bin is full is kept in the homeward slots; true if it was.  A free of
 * the object at its bin's head aborts, as in free_slow. */
static inline bool hz3_tcache_free_homeward(hz3_tcache_t *tc, void *p, hz3_tag_t tag) {
  uint32_t i = HZ3_TAG_BIN(tag);
  if (tc->drain_streak < HZ3_DRAIN_STREAK || tc->state != HZ3_TCACHE_ACTIVE ||
      HZ3_TAG_OWNER(tag) != tc->shard || hz3_class_is_big(i - 1) ||
      hz3_bins_len(&tc->bins, i) < tc->bins.max[i])
    return false;
  if (tc->env->batches != NULL && hz3_batches_may_keep(tc->env->batches, i - 1)) return false;
  if (HZ3_UNLIKELY(p == tc->bins.head[i])) hz3_tcache_double_free(p);
  tc->homeward[tc->nhomeward++] = p;
  tc->homeward_bytes += (uint32_t)hz3_class_to_size(i - 1);
  if (tc->nhomeward == HZ3_HOMEWARD_SLOTS || tc->homeward_bytes >= HZ3_HOMEWARD_MAX_BYTES)
    hz3_tcache_homeward_full(tc, i);
  return true;
}
/* Sends p (page tag tag) to its run's shard at once, bypassing the bins: central's list if
 * it is tc's shard, else the owner's inbox.  For objects a bin must not hold (big classes, a
 * dead cache), and for the first object a new thread frees: one its creator handed it, whose
 * neighbours the creator or other threads are still writing.  A bin would give it back to
 * the thread's next malloc of that size, and every write to it would contend for the
 * neighbours' cache line (passive false sharing: bench/falseshare.c).  tc set up. */
void hz3_tcache_free_home(hz3_tcache_t *tc, void *p, hz3_tag_t tag);

/* ---- maintenance ---- */
/* Returns the bins' contents and the stash to central (thread exit, malloc_trim, tests). */
void hz3_tcache_flush_all(hz3_tcache_t *tc);
/* Sends what waits to leave the cache: the remote stash to the owners' inboxes, the homeward
 * objects to central (thread exit, trim, epoch). */
void hz3_tcache_send_stash(hz3_tcache_t *tc);
/* S58 (epoch, own thread): bins that overflowed s58_max_overages times since the last call
 * halve their max length, and their overage (at most s58_reclaim_budget objects in all) goes
 * home to central.  Returns the objects reclaimed. */
uint32_t hz3_tcache_reclaim(hz3_tcache_t *tc);
/* Sends env's shared batches home through tc (its shard, its stash; a quiet cache of shard 0
 * standing in when tc is not set up): all of them, closing their demand (a thread emptying its
 * working set, trim), or those no refill took since the previous sweep (the epoch).
 * Returns the objects sent. */
uint64_t hz3_tcache_send_batches(hz3_tcache_t *tc, const hz3_tcache_env_t *env, bool all);
/* Bytes the bins hold now (walks every bin: slow path, tests, stats). */
uint64_t hz3_tcache_cached_bytes(const hz3_tcache_t *tc);

/* ---- orphan caches (knob orphan_caches, off by default): a short-lived thread's cache,
 * handed whole to the next new thread of its shard.  Measured: sequential thread churn gains
 * little once bins start small, and where a successor starts before its predecessor exits
 * (Larson) the parked objects pin runs all over their shard: 10x the RSS, 3x slower. ----
 * A thread that exits parks its bins (objects, lengths and grown max lengths) with its shard
 * in a free slot; the next thread set up adopts them and the shard, so neither start nor exit
 * costs a trip to central per class.  What waits is bounded: a parked cache is first cut to
 * HZ3_ORPHAN_MAX_BYTES, at most HZ3_ORPHAN_SLOTS wait, and trim sends them all home. */
#define HZ3_ORPHAN_SLOTS 4
#define HZ3_ORPHAN_MAX_BYTES (32u << 10)

typedef struct hz3_tcache_orphan {
  uint32_t used;
  uint32_t shard;
  uint64_t budget_used_bytes;
  hz3_bins_t bins;
} hz3_tcache_orphan_t;

typedef struct hz3_tcache_orphans {
  hz3_lock_t lock;
  uint32_t parked; /* slots in use (read without the lock as a hint) */
  hz3_tcache_orphan_t slots[HZ3_ORPHAN_SLOTS];
} hz3_tcache_orphans_t;

void hz3_tcache_orphans_init(hz3_tcache_orphans_t *o);
/* Thread exit: parks tc's bins (the stash goes home first) and marks tc dead, as teardown
 * would; false if every slot is taken (the caller then tears tc down as usual). */
bool hz3_tcache_orphan_park(hz3_tcache_orphans_t *o, hz3_tcache_t *tc);
/* Thread set-up: sets the fresh tc up with a cache parked by a thread of shard (the shard the
 * new thread was given; HZ3_ORPHAN_ANY_SHARD: any) and that shard; false if none waits.  A
 * cache goes only to a thread of its own shard, so adopting never crowds a shard. */
#define HZ3_ORPHAN_ANY_SHARD UINT32_MAX
bool hz3_tcache_orphan_adopt(hz3_tcache_orphans_t *o, hz3_tcache_t *tc, const hz3_tcache_env_t *env,
                             uint32_t shard);
/* Sends every parked cache home to central (trim); returns the objects sent. */
uint64_t hz3_tcache_orphans_flush(hz3_tcache_orphans_t *o, const hz3_tcache_env_t *env);

/* ---- check ---- */
bool hz3_tcache_check(const hz3_tcache_t *tc, hz3_check_report_t *report);
