/* The allocator's lock: a word that is 0 (free), 1 (held) or 2 (held, and a thread may sleep
 * on it), taken with one compare-and-swap and given back with one exchange, inline.  A thread
 * that finds it held spins a little (the holder is most likely running on another CPU and
 * about to let go: every section under it is a few dozen stores), then sleeps on a futex.
 * It replaced a pthread mutex (a call each way, and a waiter slept at once): callgrind,
 * `handoff 16` over 16..2048 B 98.9 -> 95.6 M instructions.  No allocation; works before main and
 * across fork when the preload's atfork handlers take every lock first.  Held only on slow paths;
 * never on the malloc/free fast path. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/hz3_compiler.h"

typedef struct hz3_lock {
  uint32_t state; /* 0 free, 1 held, 2 held and maybe waited on */
} hz3_lock_t;

#define HZ3_LOCK_INIT \
  { 0 }

/* The contended halves (base/hz3_lock.c). */
void hz3_lock_acquire_contended(hz3_lock_t *l);
void hz3_lock_wake_one(hz3_lock_t *l);

static inline void hz3_lock_init(hz3_lock_t *l) {
  __atomic_store_n(&l->state, 0, __ATOMIC_RELAXED);
}
/* Takes the lock if it is free; false if someone holds it. */
static inline bool hz3_lock_try(hz3_lock_t *l) {
  uint32_t free_state = 0;
  return __atomic_compare_exchange_n(&l->state, &free_state, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED);
}
static inline void hz3_lock_acquire(hz3_lock_t *l) {
  if (HZ3_UNLIKELY(!hz3_lock_try(l))) hz3_lock_acquire_contended(l);
}
static inline void hz3_lock_release(hz3_lock_t *l) {
  if (HZ3_UNLIKELY(__atomic_exchange_n(&l->state, 0, __ATOMIC_RELEASE) == 2)) hz3_lock_wake_one(l);
}
/* After fork in the child: the parent's holders are gone, start over unlocked. */
static inline void hz3_lock_reset(hz3_lock_t *l) { hz3_lock_init(l); }
