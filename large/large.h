/* large/large.h: allocations above 2 MiB (HZ3_BIG_MAX), each in its own mapping.
 *
 * Owns: the mappings of large objects, a registry of them (so that free() can tell a large
 *   hz3 pointer from a pointer hz3 never returned), and a small bounded cache of freed
 *   mappings for reuse.
 * Invariants: every registered pointer is the start of a live mapping of `bytes` (a multiple of
 *   the page size) aligned to its alignment; cached mappings are not registered; the cache
 *   holds at most HZ3_LARGE_CACHE_ENTRIES mappings, and after each free at most
 *   hz3_large_cache_bound() bytes.
 * Threads: every function takes the box's lock; the OS calls of a fresh mapping happen outside it.
 * Callers: preload (malloc/free/realloc/aligned allocation of large sizes), epoch and trim
 *   (hz3_large_flush_cache), tests.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* The cache of freed mappings follows the program's use of large blocks, by amount and by
 * activity (no timer): it holds at most as many bytes as the live large objects, or
 * HZ3_LARGE_CACHE_FLOOR when fewer are live, so a program that keeps replacing blocks reuses
 * them instead of faulting fresh pages in; once it frees its large objects the bound falls
 * with them and the cache empties itself as they are freed; and once no large block has been
 * allocated for HZ3_LARGE_DECAY_QUIET_EPOCHS maintenance epochs, each further one gives half
 * of what is cached back (hz3_large_cache_decay).
 * A program that uses one big block at a time (a buffer freed, then another one allocated)
 * has none live when it frees, so the bound alone unmapped each and faulted the next in
 * afresh (`bigloop 2000 1 5 8`: 3 ms a step, glibc and tcmalloc 0.09).  The reuse keep
 * learns that: an allocation the cache cannot serve, after frees unmapped blocks that no such
 * allocation has matched yet, raises the bound by what it asked for (at most what went), up
 * to HZ3_LARGE_REUSE_KEEP_MAX; several buffers freed together and allocated again (four of 8
 * MiB) are learned in one round.  Frees of more than twice the bound with no large allocation
 * between (the program emptying its large objects) drop it; the quiet epochs and a flush drop
 * it and what it would learn from. */
#define HZ3_LARGE_CACHE_ENTRIES 16
#define HZ3_LARGE_CACHE_FLOOR ((size_t)4 << 20)
#define HZ3_LARGE_CACHE_SHARE 1 /* cache <= live bytes / this */
#define HZ3_LARGE_REUSE_KEEP_MAX ((size_t)32 << 20)
/* A reused mapping keeps its pages up to this many times the request (resident, ready for
 * a larger request next); pages beyond go back to the OS. */
#define HZ3_LARGE_REUSE_SLACK 2

/* How many recently freed large pointers are remembered, to name a double free. */
#define HZ3_LARGE_FREED_RING 32

typedef struct hz3_large_entry {
  uintptr_t ptr; /* 0: empty slot */
  size_t bytes;
  size_t align;
} hz3_large_entry_t;

typedef struct hz3_large {
  const hz3_os_ops_t *os;
  hz3_stats_t *stats;
  hz3_lock_t lock;
  hz3_large_entry_t *table; /* open addressing, linear probing, power-of-two capacity */
  size_t capacity, count;
  hz3_large_entry_t cache[HZ3_LARGE_CACHE_ENTRIES];
  size_t cache_bytes;
  uint64_t cache_seq[HZ3_LARGE_CACHE_ENTRIES]; /* when each was cached (cache_clock) */
  uint64_t cache_clock;                        /* mappings cached so far */
  size_t mapped_bytes;                         /* registered, i.e. in use */
  uintptr_t freed[HZ3_LARGE_FREED_RING]; /* starts of the last mappings freed (double frees) */
  uint32_t freed_next;
  uint64_t allocs;          /* large allocations so far */
  uint64_t allocs_at_decay; /* ... at the last hz3_large_cache_decay */
  uint32_t quiet_epochs;    /* hz3_large_cache_decay calls in a row with none allocated */
  size_t reuse_keep;        /* bytes the cache may hold whatever is live (see above) */
  size_t unmapped_recent;   /* bytes frees unmapped that no allocation has matched yet */
  size_t freed_since;       /* bytes freed since the last large allocation */
} hz3_large_t;

/* ---- lifecycle ---- */
void hz3_large_init(hz3_large_t *lg, const hz3_os_ops_t *os, hz3_stats_t *stats);
/* Unmaps everything, registered or cached (tests). */
void hz3_large_destroy(hz3_large_t *lg);

/* ---- operations ---- */
/* A mapping of at least n bytes aligned to align (a power of two); NULL + ENOMEM.  A cached
 * mapping is reused if it is large enough (the smallest that is; pages of it beyond
 * HZ3_LARGE_REUSE_SLACK times what is needed go back to the OS), else the biggest one of at
 * least half the size is grown into it (remap; page alignment only).  With zeroed, the first n
 * bytes read as zero (a reused mapping is cleared: cheaper than faulting fresh pages in). */
void *hz3_large_alloc(hz3_large_t *lg, size_t n, size_t align, bool zeroed);
/* Frees p if it is a registered large pointer and returns true; false if hz3 never returned it
 * (the caller then passes it on). */
bool hz3_large_free(hz3_large_t *lg, void *p);
/* Usable bytes of a registered pointer, or 0 if p is not one. */
size_t hz3_large_usable_size(hz3_large_t *lg, const void *p);
/* Resizes a registered pointer in place or by remapping (alignment <= page); returns the new
 * pointer, or NULL (p untouched, errno = ENOMEM) when that cannot be done. */
void *hz3_large_resize(hz3_large_t *lg, void *p, size_t n);

/* The most bytes the cache may hold with the live large objects and the reuse keep of now
 * (lock held or not: a hint). */
size_t hz3_large_cache_bound(const hz3_large_t *lg);

/* What p is to the large box, for a pointer it did not find registered (slow paths: a bad
 * free, malloc_usable_size of a foreign pointer). */
typedef enum {
  HZ3_LARGE_NOT_OURS = 0, /* never a large pointer of hz3's, as far as it can tell */
  HZ3_LARGE_INTERIOR = 1, /* inside a live large block, not its start (*start: the block) */
  HZ3_LARGE_FREED = 2,    /* the start of a large block freed already */
} hz3_large_kind_t;
hz3_large_kind_t hz3_large_classify(hz3_large_t *lg, const void *p, uintptr_t *start);

/* ---- maintenance ---- */
/* Unmaps every cached mapping and drops the reuse keep; returns the bytes given back. */
size_t hz3_large_flush_cache(hz3_large_t *lg);
/* Called once per maintenance epoch: once no large block has been allocated for
 * HZ3_LARGE_DECAY_QUIET_EPOCHS epochs in a row, unmaps the larger half (by bytes) of the cache
 * at each, biggest mappings first; returns the bytes given back.  A program that stopped
 * using large blocks is left with nothing cached a few epochs later; one that still
 * allocates them, however rarely next to its small objects, keeps its cache (within the
 * bound: the live large bytes, at least HZ3_LARGE_CACHE_FLOOR). */
#define HZ3_LARGE_DECAY_QUIET_EPOCHS 64
size_t hz3_large_cache_decay(hz3_large_t *lg);

/* ---- fork ---- */
void hz3_large_lock(hz3_large_t *lg);
void hz3_large_unlock(hz3_large_t *lg);

/* ---- check ---- */
bool hz3_large_check(hz3_large_t *lg, hz3_check_report_t *report);
