/* tcache/batches.h: whole batches of free objects, shared by the caches of all threads.
 *
 * Owns: per class, a short stack of lists of free objects exactly as a thread's bin cut them
 *   (links still encoded with the bins' key: this box never reads or writes an object), each
 *   with its count.
 * Why: a full bin sends half its objects away.  Going home, those objects are sorted by owner
 *   and each goes into its run's free map under its shard's lock; the next refill of the class
 *   carves them out again, writing a link into every one.  Threads that pass objects to one
 *   another (a server's requests, a producer and its consumer) pay both ways on every batch.
 *   Kept here, the half-bin is taken whole by the next refill of the class in any thread: one
 *   short lock each way, and no object touched (tcmalloc's transfer cache, in spirit).
 * Bounds, so that what waits here is what threads are about to take: a class keeps a batch
 *   only while refills ask for one (each refill adds one to the class's demand, each batch
 *   kept takes one away, so a program that stops allocating stops filling it), at most
 *   HZ3_BATCHES_SLOTS a class and max_bytes in all; batches no refill took between two sweeps
 *   (the epochs) leave; hz3_batches_take_all empties a class and closes its demand (a thread
 *   emptying its working set, trim).  Whoever takes batches out sends their objects home,
 *   where central checks each (no check runs while they wait: nothing reads them).
 * Threads: one lock per class, held over a few stores; no other lock is taken under it.
 * Callers: tcache (refill, flush, sweep and drain), preload (set-up, fork), tests.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"

#define HZ3_BATCHES_SLOTS 8

typedef struct hz3_batch {
  void *head; /* a bin's list: links encoded, the last one encodes NULL */
  uint32_t n;
} hz3_batch_t;

typedef struct hz3_batches_class {
  hz3_lock_t lock;
  uint32_t count;  /* batches in slot[0..count), oldest first */
  uint32_t demand; /* refills not yet answered by a batch kept (about HZ3_BATCHES_SLOTS at
                      most; atomic: refills add to it without the lock) */
  uint32_t stale;  /* slot[0..stale) were here at the last sweep and no refill has taken them */
  hz3_batch_t slot[HZ3_BATCHES_SLOTS];
} HZ3_CACHE_ALIGNED hz3_batches_class_t;

typedef struct hz3_batches {
  uint64_t max_bytes; /* what all classes may hold together (0: nothing is kept) */
  uint64_t bytes;     /* held now (atomic) */
  hz3_batches_class_t cls[HZ3_NUM_CLASSES];
} hz3_batches_t;

/* ---- lifecycle ---- */
void hz3_batches_init(hz3_batches_t *b, uint64_t max_bytes);

/* ---- the two ends ---- */
/* Keeps the list head (n objects of class cls) if the class's demand, its slots and the byte
 * cap allow; false otherwise (the caller sends the objects home). */
bool hz3_batches_put(hz3_batches_t *b, uint32_t cls, void *head, uint32_t n);
/* hz3_batches_take's part under the lock (call that one). */
bool hz3_batches_take_slow(hz3_batches_t *b, uint32_t cls, uint32_t max_n, hz3_batch_t *out);
/* A refill of cls: adds one to the class's demand and takes its newest batch of at most
 * max_n objects into *out; false if none.  Demand and the empty case need no lock: a
 * short-lived thread's first refills of ~50 classes find nothing here, and a lock (and a
 * call) each time cost `churn 300 20` 4 % more instructions.  Racing refills may push demand
 * a few over the slots; harmless. */
static inline bool hz3_batches_take(hz3_batches_t *b, uint32_t cls, uint32_t max_n,
                                    hz3_batch_t *out) {
  hz3_batches_class_t *k = &b->cls[cls];
  if (__atomic_load_n(&k->demand, __ATOMIC_RELAXED) < HZ3_BATCHES_SLOTS)
    __atomic_fetch_add(&k->demand, 1, __ATOMIC_RELAXED);
  if (__atomic_load_n(&k->count, __ATOMIC_RELAXED) == 0) return false;
  return hz3_batches_take_slow(b, cls, max_n, out);
}

/* ---- emptying (the caller sends what comes out home) ---- */
/* Takes class cls's batches that were here at the previous sweep of the class and no refill
 * took since, into out; returns how many.  Each epoch sweeps every class. */
uint32_t hz3_batches_sweep(hz3_batches_t *b, uint32_t cls, hz3_batch_t out[HZ3_BATCHES_SLOTS]);
/* Takes all of class cls's batches into out and sets its demand to 0: until refills ask again,
 * puts keep nothing.  Returns how many. */
uint32_t hz3_batches_take_all(hz3_batches_t *b, uint32_t cls, hz3_batch_t out[HZ3_BATCHES_SLOTS]);
/* Whether a put of class cls may be kept now: refills ask for one and the cap has room (a
 * hint read without the lock; the put decides). */
static inline bool hz3_batches_may_keep(const hz3_batches_t *b, uint32_t cls) {
  return __atomic_load_n(&b->cls[cls].demand, __ATOMIC_RELAXED) != 0 &&
         __atomic_load_n(&b->bytes, __ATOMIC_RELAXED) < b->max_bytes;
}
/* Whether class cls may hold a batch now (a hint read without the lock). */
static inline bool hz3_batches_any(const hz3_batches_t *b, uint32_t cls) {
  return __atomic_load_n(&b->cls[cls].count, __ATOMIC_RELAXED) != 0;
}

/* Bytes held now, all classes. */
static inline uint64_t hz3_batches_bytes(const hz3_batches_t *b) {
  return __atomic_load_n(&b->bytes, __ATOMIC_RELAXED);
}

/* ---- fork (preload's atfork handlers) ---- */
void hz3_batches_lock_all(hz3_batches_t *b);
void hz3_batches_unlock_all(hz3_batches_t *b);
void hz3_batches_reset_locks_in_child(hz3_batches_t *b);

/* ---- check ---- */
/* Counts within bounds, no empty batch, and the bytes' books equal to the batches' (call it
 * while no thread puts or takes). */
bool hz3_batches_check(hz3_batches_t *b, hz3_check_report_t *report);
