/* segment/segment.h: the address space of small and medium objects.
 *
 * Owns: the arenas: address space claimed (not mapped) for 2 MiB segments of 512 pages of 4 KiB
 *   and their tables, mapped a segment at a time as the heap grows, so that address space
 *   follows the heap and the kernel's RLIMIT_AS applies; when an arena is full, or another
 *   mapping sits where it would grow, the next arena is claimed elsewhere (no ceiling but the
 *   address space).  Page runs inside segments; one page tag per page (so free(p) learns its
 *   class and owner shard with one load); the run descriptors; per-segment meta (free_bits,
 * purged_bits, idle_bits, idle_purged_bits, last_touch_epoch); per-owner segment sets that hand out
 * runs; the count of resident-unused pages, and the mechanics of purging them. Page states: free
 * (in no run), or in a run and then idle (no allocated object touches it: every object overlapping
 * it is free in central) or busy.  Free and idle pages are "unused"; an unused page is resident
 * unless purged (purged_bits / idle_purged_bits). Invariants: page_bins[page] ==
 * HZ3_TAG_BIN(tags[page]) for every page; purged_bits subset of free_bits; idle_bits disjoint from
 * free_bits; idle_purged_bits subset of idle_bits; unused_pages = popcount of resident-unused
 * pages, per segment and summed over the pool; a page's tag is nonzero iff the page lies in a live
 * run, and then names that run's class, owner and first page, except that a big class's run (one
 * object) tags its first page only: its object starts there, and its other pages read 0 like
 * free pages (labelling up to 512 pages both ways was most of a big block's malloc+free); a
 * pointer into them is no object's start; free_pages counts free_bits; a set's
 * segments all belong to its owner and are all committed. Threads: a set (and the runs of its
 * segments) is used under its owner's lock (central's shard lock); the pool's segment supply has
 * its own lock.  hz3_segment_tag() and hz3_segment_of() are lock-free on any pointer hz3 returned.
 * Callers: central (runs), packing and purge (read meta, purge free ranges), epoch, preload
 *   (the first arena's bounds and page bins on the free fast path: one range check, one load),
 *   tests.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define HZ3_SEG_SHIFT 21
#define HZ3_SEG_SIZE ((size_t)1 << HZ3_SEG_SHIFT)
#define HZ3_SEG_PAGES (HZ3_SEG_SIZE >> HZ3_PAGE_SHIFT) /* 512 */
#define HZ3_SEG_WORDS (HZ3_SEG_PAGES / 64)             /* 8 bitmap words */
#define HZ3_RUN_MAP_WORDS (HZ3_RUN_MAX_OBJS / 64)      /* 4 */

/* Page tag: bits 0-7 class + 1 (the tcache bin index; 0: page not in a run), bits 8-15 owner
 * shard + 1, bits 16-24 the run's descriptor slot within its segment.  A zero tag sends free()
 * to tcache bin 0, which never has room, hence to the slow path: no extra test. */
typedef uint32_t hz3_tag_t;
#define HZ3_TAG_BIN(t) ((t)&0xFFu)
#define HZ3_TAG_CLASS(t) (((t)&0xFFu) - 1u)
#define HZ3_TAG_OWNER_KEY(t) ((t)&0xFF00u)
#define HZ3_TAG_OWNER(t) ((((t) >> 8) & 0xFFu) - 1u)
#define HZ3_TAG_RUN_SLOT(t) ((t) >> 16)
#define HZ3_OWNER_KEY(owner) (((uint32_t)(owner) + 1u) << 8)
#define HZ3_MAKE_TAG(cls, owner, run_slot) \
  (((uint32_t)(cls) + 1u) | HZ3_OWNER_KEY(owner) | ((uint32_t)(run_slot) << 16))
#define HZ3_MAX_OWNERS 254u

/* A run of pages carved into objects of one class.  Descriptors live in slots of their
 * segment's descriptor array, lowest free slot first, so the pages of descriptors a segment
 * touches follow how many runs it holds, not how many pages.  Central owns free_map, nfree
 * and the list links. */
typedef struct hz3_run {
  uint64_t free_map[HZ3_RUN_MAP_WORDS]; /* central: bit i set = object i free in central */
  struct hz3_run *next, *prev;          /* central: partial-run list of its class */
  uint16_t nfree;                       /* central: bits set in free_map */
  uint16_t npages;                      /* pages in the run (0: descriptor unused) */
  uint8_t cls;
  uint8_t owner;
  uint8_t on_list;     /* central: linked in a partial list */
  uint8_t arena;       /* the arena holding it */
  uint32_t first_page; /* index of the first page within its arena */
} hz3_run_t;

typedef struct hz3_segment {
  uint64_t free_bits[HZ3_SEG_WORDS];        /* 1 = page in no run */
  uint64_t purged_bits[HZ3_SEG_WORDS];      /* 1 = free page returned to the OS */
  uint64_t idle_bits[HZ3_SEG_WORDS];        /* 1 = page of a run that holds no allocated object */
  uint64_t idle_purged_bits[HZ3_SEG_WORDS]; /* 1 = idle page returned to the OS */
  uint32_t free_pages;
  uint32_t unused_pages;     /* resident pages that are free or idle */
  uint32_t last_touch_epoch; /* epoch of the last alloc_run/free_run */
  uint32_t index;            /* position in its arena */
  uint8_t arena;             /* its arena's index in the pool */
  uint8_t owner;
  uint8_t in_set; /* linked in its owner's set */
  uint8_t spare;  /* on one of the pool's spare lists (under the pool lock) */
  uint8_t cold;   /* spare, every page purged and its descriptors and tags given back */
  struct hz3_segment *next, *prev;   /* owner's set, or the pool's spare list */
  uint64_t slot_used[HZ3_SEG_WORDS]; /* descriptor slots holding a live run */
  /* HZ3_SEG_PAGES descriptor slots, in their own pages apart from this header, so that a spare
   * segment can give them all back while its header stays. */
  hz3_run_t *runs;
} hz3_segment_t;

/* The segments of one owner (a central shard). Used under the owner's lock. */
typedef struct hz3_segment_set {
  hz3_segment_t *head; /* segments of this owner, each with at least one run or free page */
  hz3_segment_t *hint; /* where the last run was found */
  uint32_t owner;
  uint32_t nsegments;
  uint64_t unused_pages; /* resident-unused pages of these segments */
  uint64_t runs_taken;   /* runs alloc_run has handed out (the release policy's sign that the
                            owner is allocating, so what it frees now it will take again) */
} hz3_segment_set_t;

struct hz3_segment_pool;

/* Called, under the set owner's lock, when npages pages that were purged (or never touched)
 * are about to hold objects again, and so will fault in: the purge box's measure of pages it
 * gave back too early. */
typedef void (*hz3_segment_retake_fn)(void *ctx, uint32_t npages);

/* Called, under the set owner's lock, when pages [first, first + npages) of seg have just become
 * unused (a run freed, or pages of a run left idle).  The purge box installs it (S60 queue,
 * retain cap); it may purge pages of the set's segments but must not change the set. */
typedef void (*hz3_segment_unused_fn)(void *ctx, struct hz3_segment_pool *pool,
                                      hz3_segment_set_t *set, hz3_segment_t *seg, uint32_t first,
                                      uint32_t npages);

/* One claim of address space: the segments' tables (run descriptors, headers, tags, page bins,
 * each a dense array indexed by page or segment within the arena), then max_segments segments
 * from base.  Only the first grown_bytes of segments, and the table entries that cover them, are
 * mapped; the rest of the claim is address space nobody uses yet. */
typedef struct hz3_arena {
  uintptr_t base;           /* first segment (segment-aligned) */
  size_t grown_bytes;       /* bytes of segments mapped from base (a multiple of HZ3_SEG_SIZE;
                               grows under the pool lock, published last, read lock-free) */
  const uint8_t *page_bins; /* HZ3_TAG_BIN of each page's tag, one byte: the free fast path's
                               lookup, four times denser in cache than the tags */
  hz3_tag_t *tags;          /* one per page */
  hz3_segment_t *metas;     /* one header per segment */
  hz3_run_t *runs;          /* HZ3_SEG_PAGES descriptors per segment */
  uint32_t max_segments;    /* segments the claim holds */
  uint32_t tables_segments; /* segments the mapped table entries cover (>= those mapped) */
  uint32_t closed;          /* grows no more: another mapping sits where it would */
} hz3_arena_t;

#define HZ3_MAX_ARENAS 64

typedef struct hz3_segment_pool {
  /* First, away from the counters and the lock below: arenas[0]'s base, grown_bytes and
   * page_bins are read by every free. */
  hz3_arena_t arenas[HZ3_MAX_ARENAS];
  uint32_t narenas;    /* arenas claimed (published after the arena is set up: atomic) */
  uint32_t max_arenas; /* at most HZ3_MAX_ARENAS */
  size_t arena_bytes;  /* the address space one arena claims for segments */
  const hz3_os_ops_t *os;
  hz3_stats_t *stats;
  hz3_segment_unused_fn unused_hook; /* may be NULL; set by hz3_segment_pool_set_unused_hook */
  void *unused_ctx;
  hz3_segment_retake_fn retake_hook; /* may be NULL; set with the unused hook, same ctx */
  uint64_t unused_pages;             /* resident-unused pages of every segment (atomic) */
  uint64_t spare_unused_pages;       /* of which in spare segments (changed under the lock, read
                                        without it as a hint: atomic) */
  uint32_t pages_taken;   /* set (atomic) when pages go from unused, resident or purged, to
                             holding an object; the release policy clears it as it reads it.
                             A flag stored only when clear: threads carving at once share
                             its line read-only */
  uint32_t used_segments; /* segments mapped in every arena (under the lock; read as a gauge) */
  uint32_t purge_failed;  /* set for good (atomic) when an OS call to purge failed (mlocked
                             memory): purged bits no longer promise zeroes */
  hz3_segment_t *spare;   /* wholly free segments with resident pages (hot): taken first */
  hz3_segment_t *cold;    /* wholly free segments given back to the OS in full (purged) */
  uint32_t nspare;        /* segments on either list */
  uint32_t ncold;
  hz3_lock_t lock; /* guards the arenas' growth and the spare lists */
} hz3_segment_pool_t;

/* ---- lifecycle ---- */
/* Claims the first arena: arena_bytes (a multiple of HZ3_SEG_SIZE) of address space for
 * segments plus their tables; nothing is mapped yet.  Up to max_arenas (1..HZ3_MAX_ARENAS)
 * arenas are claimed as the heap grows.  0 or an errno value. */
int hz3_segment_pool_init(hz3_segment_pool_t *pool, const hz3_os_ops_t *os, hz3_stats_t *stats,
                          size_t arena_bytes, uint32_t max_arenas);
/* Unmaps everything the arenas mapped (tests). Every run must have been freed. */
void hz3_segment_pool_destroy(hz3_segment_pool_t *pool);
void hz3_segment_set_init(hz3_segment_set_t *set, uint32_t owner);
/* Names the one function told when pages become unused (the release policy, in purge), and the
 * one told when purged pages are taken again, before the pool is shared; NULL: nobody. */
void hz3_segment_pool_set_unused_hook(hz3_segment_pool_t *pool, hz3_segment_unused_fn fn,
                                      hz3_segment_retake_fn retake, void *ctx);

/* ---- runs (caller holds the set owner's lock) ---- */
/* A run of npages for class cls, tagged for set->owner; takes a new segment from the pool when
 * the set has no room.  NULL with errno = ENOMEM when the arena or the OS is exhausted. */
hz3_run_t *hz3_segment_alloc_run(hz3_segment_pool_t *pool, hz3_segment_set_t *set, uint32_t npages,
                                 uint32_t cls, uint32_t epoch);
/* The same for a block expected to grow (a realloc that moved it to grow it): placed at the
 * start of a free stretch of npages + room pages (lowest first, in a new segment if none of
 * the set's has one), so that hz3_segment_grow_run finds the pages after it free; as
 * hz3_segment_alloc_run when npages + room exceeds a segment. */
hz3_run_t *hz3_segment_alloc_run_with_room(hz3_segment_pool_t *pool, hz3_segment_set_t *set,
                                           uint32_t npages, uint32_t room, uint32_t cls,
                                           uint32_t epoch);
/* Grows run, a big class's run whose one object is allocated, in place to npages for big
 * class cls when the pages after it in its segment are free: they join it busy (purged ones
 * fault back in as zeroes), its first page is tagged anew.  false, run unchanged, if not. */
bool hz3_segment_grow_run(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_run_t *run,
                          uint32_t npages, uint32_t cls, uint32_t epoch);
/* Shrinks run, a big class's run whose one object is allocated, in place to npages for big
 * class cls: its tail pages are free (resident and unused: the release policy hears of them),
 * its first page is tagged anew. */
void hz3_segment_shrink_run(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_run_t *run,
                            uint32_t npages, uint32_t cls, uint32_t epoch);
/* Frees the run's pages and tags; a segment left wholly free goes back to the pool: to its hot
 * spare list (its pages stay resident until a purge of the spare segments), or, when none of
 * its pages is resident any more, to the cold list at once, its descriptors and tags given
 * back with it (one OS call). */
void hz3_segment_free_run(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_run_t *run,
                          uint32_t epoch);

/* ---- lookups (lock-free) ---- */
/* The arena holding p other than the first, or NULL: a walk over the arenas. */
const hz3_arena_t *hz3_segment_other_arena_of(const hz3_segment_pool_t *pool, const void *p);
/* The arena whose mapped segments hold p, or NULL (p is not in any of hz3's segments). */
static inline const hz3_arena_t *hz3_segment_arena_of(const hz3_segment_pool_t *pool,
                                                      const void *p) {
  const hz3_arena_t *a = &pool->arenas[0];
  if (HZ3_LIKELY((uintptr_t)p - a->base < __atomic_load_n(&a->grown_bytes, __ATOMIC_ACQUIRE)))
    return a;
  return hz3_segment_other_arena_of(pool, p);
}
static inline bool hz3_segment_pool_contains(const hz3_segment_pool_t *pool, const void *p) {
  return hz3_segment_arena_of(pool, p) != NULL;
}
/* Whether p lies in address space an arena claimed (its segments and tables, mapped or not
 * yet): a pointer there that is in no segment was never a block of anybody's (messages, slow
 * paths only). */
bool hz3_segment_pool_claims(const hz3_segment_pool_t *pool, const void *p);
/* The tag of the page holding p; p must be in one of the pool's segments. */
static inline hz3_tag_t hz3_segment_tag(const hz3_segment_pool_t *pool, const void *p) {
  const hz3_arena_t *a = hz3_segment_arena_of(pool, p);
  return __atomic_load_n(&a->tags[((uintptr_t)p - a->base) >> HZ3_PAGE_SHIFT], __ATOMIC_RELAXED);
}
/* The same for any p: 0 when p is in no arena's segments (checks of untrusted links). */
static inline hz3_tag_t hz3_segment_tag_or_zero(const hz3_segment_pool_t *pool, const void *p) {
  const hz3_arena_t *a = hz3_segment_arena_of(pool, p);
  if (a == NULL) return 0;
  return __atomic_load_n(&a->tags[((uintptr_t)p - a->base) >> HZ3_PAGE_SHIFT], __ATOMIC_RELAXED);
}
/* The big run (hz3_class_is_big) whose object p points inside of, past its first page, or
 * NULL: a walk back over the tags of p's segment, unlocked, for the message about a pointer
 * whose page reads no tag (slow paths about to abort only). */
const hz3_run_t *hz3_segment_big_run_around(const hz3_segment_pool_t *pool, const void *p);
/* The tcache bin (class + 1, or 0: no run) of the page holding p; p in one of the segments. */
static inline uint32_t hz3_segment_page_bin(const hz3_segment_pool_t *pool, const void *p) {
  const hz3_arena_t *a = hz3_segment_arena_of(pool, p);
  return __atomic_load_n(&a->page_bins[((uintptr_t)p - a->base) >> HZ3_PAGE_SHIFT],
                         __ATOMIC_RELAXED);
}
/* The segment holding p (in one of the segments), in O(1) for the first arena. */
static inline hz3_segment_t *hz3_segment_of(const hz3_segment_pool_t *pool, const void *p) {
  const hz3_arena_t *a = hz3_segment_arena_of(pool, p);
  return &a->metas[((uintptr_t)p - a->base) >> HZ3_SEG_SHIFT];
}
/* The descriptor a page tag (nonzero) names, for the page at offset off of an arena whose
 * run descriptors start at runs (HZ3_SEG_PAGES a segment): no segment header read. */
static inline hz3_run_t *hz3_segment_tagged_run(hz3_run_t *runs, uintptr_t off, hz3_tag_t tag) {
  return &runs[(off >> HZ3_SEG_SHIFT) * HZ3_SEG_PAGES + HZ3_TAG_RUN_SLOT(tag)];
}
/* The run holding p, or NULL if p's page is in no run. */
static inline hz3_run_t *hz3_segment_run_of(const hz3_segment_pool_t *pool, const void *p) {
  const hz3_arena_t *a = hz3_segment_arena_of(pool, p);
  uintptr_t off = (uintptr_t)p - a->base;
  hz3_tag_t tag = __atomic_load_n(&a->tags[off >> HZ3_PAGE_SHIFT], __ATOMIC_RELAXED);
  if (tag == 0) return NULL;
  return hz3_segment_tagged_run(a->runs, off, tag);
}
/* Many look-ups in a row (a chunk of objects going home): the first arena's bounds and
 * tables read once, not once a pointer. */
typedef struct hz3_segment_lookup {
  uintptr_t base;
  size_t bytes;
  const hz3_tag_t *tags;
  hz3_run_t *runs;
} hz3_segment_lookup_t;
static inline void hz3_segment_lookup_init(const hz3_segment_pool_t *pool,
                                           hz3_segment_lookup_t *l) {
  const hz3_arena_t *a = &pool->arenas[0];
  l->base = a->base;
  l->bytes = __atomic_load_n(&a->grown_bytes, __ATOMIC_ACQUIRE);
  l->tags = a->tags;
  l->runs = a->runs;
}
/* hz3_segment_run_of(pool, p) for p in one of the pool's segments, and p's page tag in *tag
 * (0 with NULL). */
static inline hz3_run_t *hz3_segment_lookup_run(const hz3_segment_pool_t *pool,
                                                const hz3_segment_lookup_t *l, const void *p,
                                                hz3_tag_t *tag) {
  const hz3_segment_lookup_t *in = l;
  hz3_segment_lookup_t other;
  uintptr_t off = (uintptr_t)p - l->base;
  if (HZ3_UNLIKELY(off >= l->bytes)) { /* another arena's, or the first's grown since */
    const hz3_arena_t *a = hz3_segment_arena_of(pool, p);
    other = (hz3_segment_lookup_t){a->base, 0, a->tags, a->runs};
    in = &other;
    off = (uintptr_t)p - a->base;
  }
  *tag = __atomic_load_n(&in->tags[off >> HZ3_PAGE_SHIFT], __ATOMIC_RELAXED);
  if (*tag == 0) return NULL;
  return hz3_segment_tagged_run(in->runs, off, *tag);
}
/* Asks the CPU to fetch the descriptor of the run holding p, whose tag (nonzero) is at hand,
 * without waiting for it: a walk that will free many objects into their runs issues these
 * first, so that the descriptors' misses overlap instead of following one another. */
static inline void hz3_segment_prefetch_run(const hz3_segment_pool_t *pool, const void *p,
                                            hz3_tag_t tag) {
  const hz3_arena_t *a = hz3_segment_arena_of(pool, p);
  uintptr_t seg = ((uintptr_t)p - a->base) >> HZ3_SEG_SHIFT;
  __builtin_prefetch(&a->runs[seg * HZ3_SEG_PAGES + HZ3_TAG_RUN_SLOT(tag)], 1, 3);
}
/* First byte of a run / of a segment's page. */
static inline void *hz3_segment_run_start(const hz3_segment_pool_t *pool, const hz3_run_t *run) {
  return (void *)(pool->arenas[run->arena].base + ((uintptr_t)run->first_page << HZ3_PAGE_SHIFT));
}
void *hz3_segment_page_addr(const hz3_segment_pool_t *pool, const hz3_segment_t *seg,
                            uint32_t page);

/* ---- page states (central calls these; caller holds the owner's lock) ---- */
/* Pages [first, first + npages) of seg now hold an allocated object: no longer idle.  Returns
 * how many of them read as zero: purged, or never touched since the OS mapped them (0 for all
 * once a purge has failed, when the purged bits may name pages that kept their data). */
uint32_t hz3_segment_mark_busy(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_segment_t *seg,
                               uint32_t first, uint32_t npages);
/* Pages [first, first + npages) of a live run of seg hold no allocated object any more. */
void hz3_segment_mark_idle(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_segment_t *seg,
                           uint32_t first, uint32_t npages);
static inline bool hz3_segment_page_is_idle(const hz3_segment_t *seg, uint32_t page) {
  return (seg->idle_bits[page >> 6] >> (page & 63)) & 1;
}

/* ---- purge mechanics (the purge box decides when; caller holds the owner's lock) ---- */
/* A fresh segment: its pages were never touched, so they hold no memory; mark them purged
 * (purged_bits = free_bits) so that purge does not spend calls on them. */
void hz3_segment_purge_init_meta(hz3_segment_t *seg);
/* The first run of resident-unused pages at or after page `from` (at most max_pages long):
 * returns its length and sets *first, or returns 0 if there is none. */
uint32_t hz3_segment_next_unused(const hz3_segment_t *seg, uint32_t from, uint32_t max_pages,
                                 uint32_t *first);
/* Ranges on their way back to the OS, collected under a lock and sent in one call (the OS
 * layer's dontneed_many), because each call costs a TLB shootdown however little it returns.
 * The caller flushes before it drops the lock. */
#define HZ3_RELEASE_BATCH 64
typedef struct hz3_release_batch {
  uint32_t n;
  uint32_t calls; /* OS calls flushes made */
  hz3_os_range_t ranges[HZ3_RELEASE_BATCH];
} hz3_release_batch_t;

/* Marks [first, first + npages) purged, which must all be resident-unused pages, and queues
 * their madvise(DONTNEED) in batch (sent at once when the batch is full). */
void hz3_segment_release_range(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_segment_t *seg,
                               uint32_t first, uint32_t npages, hz3_release_batch_t *batch);
/* Sends the batch's ranges to the OS; 0 or the OS's errno (the pages stay marked purged: they
 * are unused either way, and nothing relies on a purged page reading zero). */
int hz3_segment_release_flush(hz3_segment_pool_t *pool, hz3_release_batch_t *batch);
/* release_range + flush of one range. */
int hz3_segment_purge_range(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_segment_t *seg,
                            uint32_t first, uint32_t npages);
/* Purges resident pages of the pool's hot spare (wholly free) segments, newest first, at most
 * max_pages in max_calls calls (*calls, if given, grows by the calls made); returns pages
 * purged.  A segment left with no resident page also gives back its run descriptors and tags
 * and moves to the cold list: a whole segment goes back in one call, plus its meta.  Takes
 * the pool lock. */
uint64_t hz3_segment_purge_spare(hz3_segment_pool_t *pool, uint64_t max_pages, uint32_t max_calls,
                                 uint32_t *calls);
/* The same, its ranges queued in the caller's batch (flushed before the pool lock drops). */
uint64_t hz3_segment_release_spare(hz3_segment_pool_t *pool, uint64_t max_pages,
                                   uint32_t max_ranges, hz3_release_batch_t *batch);
/* The process-wide count of resident-unused pages. */
static inline uint64_t hz3_segment_unused_pages(const hz3_segment_pool_t *pool) {
  return __atomic_load_n(&pool->unused_pages, __ATOMIC_RELAXED);
}

/* ---- accounting (lock-free reads of live state: a snapshot, exact when nothing moves) ---- */
typedef struct hz3_segment_pages {
  uint64_t segments; /* mapped segments */
  uint64_t busy;     /* pages of runs holding at least one allocated object */
  uint64_t resident; /* pages not given back to the OS */
} hz3_segment_pages_t;
hz3_segment_pages_t hz3_segment_count_pages(const hz3_segment_pool_t *pool);

/* ---- check ---- */
/* Walks every handed-out segment: bit/tag/run agreement, purged within free, counts. */
bool hz3_segment_check(const hz3_segment_pool_t *pool, hz3_check_report_t *report);
