/* The allocator's lock: a plain mutex (no allocation, works before main and across fork when
 * the preload's atfork handlers take every lock first).  Held only on slow paths, over short
 * sections; never on the malloc/free fast path. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

typedef struct hz3_lock {
  pthread_mutex_t mutex;
} hz3_lock_t;

#define HZ3_LOCK_INIT \
  { PTHREAD_MUTEX_INITIALIZER }

static inline void hz3_lock_init(hz3_lock_t *l) { pthread_mutex_init(&l->mutex, NULL); }
static inline void hz3_lock_acquire(hz3_lock_t *l) { pthread_mutex_lock(&l->mutex); }
static inline void hz3_lock_release(hz3_lock_t *l) { pthread_mutex_unlock(&l->mutex); }
/* Takes the lock if it is free; false if someone holds it. */
static inline bool hz3_lock_try(hz3_lock_t *l) { return pthread_mutex_trylock(&l->mutex) == 0; }
/* After fork in the child: the parent's holders are gone, start over unlocked. */
static inline void hz3_lock_reset(hz3_lock_t *l) { pthread_mutex_init(&l->mutex, NULL); }
