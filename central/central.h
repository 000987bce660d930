/* central/central.h: the free objects shared by the threads of a shard.
 *
 * Owns: per shard, per class, the runs that have free objects (a free map per run, kept in the
 *   run descriptor, outside the objects' memory); the shard's segment set; the shard's remote
 *   inbox of objects freed by threads of other shards, and its transfer lists (the same, kept
 *   by class for the owner's next refill).
 * Invariants: a run's nfree equals the bits set in its free_map; a run is on its class's partial
 *   list iff nfree > 0; a run whose objects are all free goes back to its segment at once (the
 *   original hz3 never did, and its purge found nothing to purge), unless it is its class's
 *   only listed run: that one stays listed as the class's spare (its pages idle, purgeable)
 *   for the next refill, until trim (hz3_central_release_spares); at most one a class.
 * Threads: everything but hz3_central_remote_push() runs under the shard's lock, which the
 *   functions take themselves.  remote_push is lock-free (a CAS onto the inbox); free_remote
 *   only try-locks.
 * Callers: tcache (refill, flush, remote frees), epoch and preload (drain, trim), tests.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "segment/segment.h"

/* Objects of one class that threads of other shards freed, kept whole for this shard's next
 * refill of the class: a transfer list (tcmalloc's transfer cache, in spirit).  They skip their
 * runs' free maps both ways, the cost of producer/consumer traffic.  Only as much as the
 * owner's last refill of the class asked for (wanted), at most HZ3_TRANSFER_MAX_BYTES, and
 * only until the shard's next drain (its epochs, a thread leaving it, trim): what an owner
 * that stops allocating can leave waiting is one refill's worth per class. */
#define HZ3_TRANSFER_MAX_BYTES (256u << 10)
typedef struct hz3_central_transfer {
  void *head, *tail; /* linked through the first word, plain */
  uint32_t n;
  uint32_t wanted; /* objects the owner's last refill asked for; 0: not taking */
} hz3_central_transfer_t;

typedef struct hz3_central_shard {
  hz3_lock_t lock;
  hz3_segment_set_t segments;
  hz3_run_t *partial[HZ3_NUM_CLASSES]; /* runs with some free objects */
  void *inbox;                         /* remote frees: a stack linked through each object */
  uint32_t epoch;                      /* stamped on segments as they change */
  hz3_central_transfer_t transfer[HZ3_NUM_CLASSES];
} HZ3_CACHE_ALIGNED hz3_central_shard_t;

typedef struct hz3_central {
  hz3_segment_pool_t *pool;
  hz3_stats_t *stats;
  /* Objects on a transfer list hold transfer_mark ^ their address in their second word, so
   * that one freed again while it waits is recognised (init sets a constant; preload a
   * per-process random value). */
  uintptr_t transfer_mark;
  /* A wholly free run stays as its class's spare only while the pool holds fewer
   * resident-unused pages than this (0: always).  Preload keeps it at the retain cap, so
   * spares use the allowance the release policy keeps anyway and never hold a burst's worth. */
  uint32_t spare_unused_max;
  uint32_t nshards;
  hz3_central_shard_t shards[HZ3_NUM_SHARDS];
} hz3_central_t;

/* ---- lifecycle ---- */
void hz3_central_init(hz3_central_t *c, hz3_segment_pool_t *pool, hz3_stats_t *stats);

/* ---- operations (take the shard lock) ---- */
/* Pops up to want objects of class cls for a thread of shard, linked through their first
 * word; *head gets the list.  Returns how many (0 with errno = ENOMEM when out of memory). */
uint32_t hz3_central_alloc_batch(hz3_central_t *c, uint32_t shard, uint32_t cls, uint32_t want,
                                 void **head);
/* The same, each link stored XORed with key (a tcache bin's encoding; NULL ends as key). */
uint32_t hz3_central_alloc_batch_linked(hz3_central_t *c, uint32_t shard, uint32_t cls,
                                        uint32_t want, uintptr_t key, void **head);
/* One object of big class cls (a run of its own) for a thread of shard; NULL with errno =
 * ENOMEM when out of memory.  *zeroed tells whether all of it reads as zero (its pages were
 * purged or never touched), so that calloc need not clear it. */
void *hz3_central_alloc_big(hz3_central_t *c, uint32_t shard, uint32_t cls, bool *zeroed);
/* The same for a block expected to grow (realloc moving it to grow it): placed with
 * room_pages free pages after it where a segment has them (hz3_segment_alloc_run_with_room),
 * so that hz3_central_resize_big can grow it in place.  NULL with errno = ENOMEM. */
void *hz3_central_alloc_big_with_room(hz3_central_t *c, uint32_t shard, uint32_t cls,
                                      uint32_t room_pages);
/* Resizes p, an allocated object of a big class (any shard's), in place to big class cls:
 * larger when the pages after its run are free, smaller always (the pages past it go back to
 * its segment).  false (p unchanged) if not possible, if cls is p's class, or if p is no
 * such object. */
bool hz3_central_resize_big(hz3_central_t *c, void *p, uint32_t cls);
/* Frees a list of objects of any class owned by shard (class read from the page tags). */
void hz3_central_free_list(hz3_central_t *c, uint32_t shard, void *head);
/* Frees n objects of any class owned by shard, given as an array: their memory is not
 * touched (a list's links are), only their runs' descriptors, fetched all at once first. */
void hz3_central_free_array(hz3_central_t *c, uint32_t shard, void *const *objs, uint32_t n);
/* Lock-free: pushes the list head..tail (objects owned by shard) onto its inbox. */
void hz3_central_remote_push(hz3_central_t *c, uint32_t shard, void *head, void *tail);
/* Frees the list head..tail (objects owned by shard) from a thread of another shard: straight
 * into their runs if the shard's lock is free (taking whatever waits in the inbox too), else
 * onto the inbox.  So remote frees reach their runs, and the release policy, while the owner
 * sleeps or is gone, without a background thread and without waiting on a busy lock. */
void hz3_central_free_remote(hz3_central_t *c, uint32_t shard, void *head, void *tail);
/* The same for n objects of one class cls (a flushed bin's share for shard): into the
 * shard's transfer list of cls while its owner takes them, else as hz3_central_free_remote. */
void hz3_central_free_remote_class(hz3_central_t *c, uint32_t shard, uint32_t cls, void *head,
                                   void *tail, uint32_t n);
/* Moves the shard's inbox and transfer lists into its runs (and closes the transfer lists
 * until the next refill of each class); returns the number of objects. */
uint32_t hz3_central_drain_inbox(hz3_central_t *c, uint32_t shard);

/* ---- maintenance (epoch): a shard's segments under its lock ---- */
static inline void hz3_central_lock_shard(hz3_central_t *c, uint32_t shard) {
  hz3_lock_acquire(&c->shards[shard].lock);
}
static inline void hz3_central_unlock_shard(hz3_central_t *c, uint32_t shard) {
  hz3_lock_release(&c->shards[shard].lock);
}
/* The shard's segment set; use it only between lock_shard and unlock_shard. */
static inline hz3_segment_set_t *hz3_central_segments(hz3_central_t *c, uint32_t shard) {
  return &c->shards[shard].segments;
}
/* Stamps the epoch that segments changed from now on record (caller holds the shard lock). */
static inline void hz3_central_set_epoch(hz3_central_t *c, uint32_t shard, uint32_t epoch) {
  c->shards[shard].epoch = epoch;
}

/* Sets spare_unused_max (see hz3_central_t); any thread, any time. */
void hz3_central_set_spare_limit(hz3_central_t *c, uint32_t unused_pages);
/* Sends the shard's spare runs (wholly free, kept one per class for the next refill) back to
 * their segments (trim, tests' teardown); returns how many. */
uint32_t hz3_central_release_spares(hz3_central_t *c, uint32_t shard);

/* ---- fork (preload's atfork handlers) ---- */
void hz3_central_lock_all(hz3_central_t *c);
void hz3_central_unlock_all(hz3_central_t *c);
void hz3_central_reset_locks_in_child(hz3_central_t *c);

/* ---- check ---- */
/* Walks every shard: list membership, free-map counts, tags of listed runs. */
bool hz3_central_check(hz3_central_t *c, hz3_check_report_t *report);
/* Bytes of the objects central has handed out and not had back, all shards (objects in
 * thread caches count as handed out).  Takes each shard's lock in turn: for stats calls. */
uint64_t hz3_central_bytes_out(hz3_central_t *c);
/* Objects free in central (on runs) for shard, all classes; for tests and stats. */
uint64_t hz3_central_free_objects(hz3_central_t *c, uint32_t shard);
/* Objects waiting on shard's transfer lists, all classes; for tests and stats. */
uint32_t hz3_central_transferring(hz3_central_t *c, uint32_t shard);
