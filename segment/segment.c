/* segment/segment.c: arena claims and growth, segment supply, page runs, tags, purge meta. */
#include "segment/segment.h"

#include <errno.h>
#include <string.h>

/* Bytes of one segment's run descriptors (a whole number of pages). */
#define HZ3_SEG_RUNS_BYTES (HZ3_SEG_PAGES * sizeof(hz3_run_t))
_Static_assert(HZ3_SEG_RUNS_BYTES % 4096 == 0, "run descriptors fill whole pages");
_Static_assert(HZ3_BIG_RUN_MAX_PAGES <= HZ3_SEG_PAGES, "the biggest class's run fits a segment");
_Static_assert(HZ3_NUM_CLASSES + 1 <= 0xFF, "a tag's bin byte holds every class + 1");

static size_t page_round(size_t bytes) {
  return (bytes + HZ3_PAGE_SIZE - 1) & ~(HZ3_PAGE_SIZE - 1);
}

static const hz3_arena_t *arena_of_seg(const hz3_segment_pool_t *pool, const hz3_segment_t *seg) {
  return &pool->arenas[seg->arena];
}

static void *seg_base(const hz3_segment_pool_t *pool, const hz3_segment_t *seg) {
  return (void *)(arena_of_seg(pool, seg)->base + ((size_t)seg->index << HZ3_SEG_SHIFT));
}

/* The tags and page bins of seg's pages. */
static hz3_tag_t *seg_tags(const hz3_segment_pool_t *pool, const hz3_segment_t *seg) {
  return &arena_of_seg(pool, seg)->tags[(size_t)seg->index * HZ3_SEG_PAGES];
}
static uint8_t *seg_page_bins(const hz3_segment_pool_t *pool, const hz3_segment_t *seg) {
  /* const in the arena so that readers cannot write it; this box is the one writer */
  return (uint8_t *)&arena_of_seg(pool, seg)->page_bins[(size_t)seg->index * HZ3_SEG_PAGES];
}

/* Pages of a run of class cls and npages that carry its tag: all of them, but only the first of
 * a big class's run, whose one object starts there (segment.h).  Every page labelled, a
 * malloc(1 MiB)+free cost 295 ns a pair, half of it in label_pages; the first alone, 150. */
static uint32_t tagged_pages(uint32_t cls, uint32_t npages) {
  return hz3_class_is_big(cls) ? 1 : npages;
}

/* Writes tag and its bin byte on n pages (tags[0..n), bins[0..n)).  Readers look both up
 * lock-free, so each store is atomic (relaxed); where aligned, a whole 8-byte word at a time:
 * an aligned 8-byte store reaches a reader of any element inside it whole (x86-64, AArch64).
 * One element a store, a big run's 256-512 pages cost most of a malloc(1 MiB)+free (650 ns a
 * pair, 87 % of it in this loop, both ways). */
typedef uint64_t __attribute__((may_alias)) page_word_t;
static void label_pages(hz3_tag_t *tags, uint8_t *bins, uint32_t n, hz3_tag_t tag) {
  _Static_assert(sizeof(hz3_tag_t) == 4, "two tags a word");
  uint32_t i = 0;
  for (; i < n && ((uintptr_t)&tags[i] & 7) != 0; i++)
    __atomic_store_n(&tags[i], tag, __ATOMIC_RELAXED);
  uint64_t two_tags = (uint64_t)tag << 32 | tag;
  for (; i + 2 <= n; i += 2) __atomic_store_n((page_word_t *)&tags[i], two_tags, __ATOMIC_RELAXED);
  for (; i < n; i++) __atomic_store_n(&tags[i], tag, __ATOMIC_RELAXED);
  uint8_t bin = (uint8_t)HZ3_TAG_BIN(tag);
  i = 0;
  for (; i < n && ((uintptr_t)&bins[i] & 7) != 0; i++)
    __atomic_store_n(&bins[i], bin, __ATOMIC_RELAXED);
  uint64_t eight_bins = 0x0101010101010101ull * bin;
  for (; i + 8 <= n; i += 8)
    __atomic_store_n((page_word_t *)&bins[i], eight_bins, __ATOMIC_RELAXED);
  for (; i < n; i++) __atomic_store_n(&bins[i], bin, __ATOMIC_RELAXED);
}

static bool bit_get(const uint64_t *bits, uint32_t i) { return (bits[i >> 6] >> (i & 63)) & 1; }

/* Sets (value 1) or clears bits [first, first + n). */
static void bits_fill(uint64_t *bits, uint32_t first, uint32_t n, int value) {
  while (n > 0) {
    uint32_t w = first >> 6, b = first & 63;
    uint32_t take = HZ3_MIN(64 - b, n);
    uint64_t mask = (take == 64 ? ~0ull : ((1ull << take) - 1)) << b;
    if (value)
      bits[w] |= mask;
    else
      bits[w] &= ~mask;
    first += take;
    n -= take;
  }
}

/* Mask of the bits of word w inside [first, first + n). */
static uint64_t range_mask(uint32_t w, uint32_t first, uint32_t n) {
  uint32_t lo = w * 64, hi = lo + 64, a = HZ3_MAX(lo, first), b = HZ3_MIN(hi, first + n);
  if (a >= b) return 0;
  uint32_t len = b - a;
  return (len == 64 ? ~0ull : ((1ull << len) - 1)) << (a - lo);
}

/* Adds delta to the resident-unused counts of seg, of its set (NULL: a spare segment, under
 * the pool lock) and of the pool. */
static void unused_add(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_segment_t *seg,
                       int64_t delta) {
  if (delta == 0) return;
  seg->unused_pages = (uint32_t)((int64_t)seg->unused_pages + delta);
  if (set)
    set->unused_pages += (uint64_t)delta;
  else
    __atomic_fetch_add(&pool->spare_unused_pages, (uint64_t)delta, __ATOMIC_RELAXED);
  __atomic_fetch_add(&pool->unused_pages, (uint64_t)delta, __ATOMIC_RELAXED);
}

static uint64_t unused_word(const hz3_segment_t *seg, uint32_t w) {
  return (seg->free_bits[w] & ~seg->purged_bits[w]) |
         (seg->idle_bits[w] & ~seg->idle_purged_bits[w]);
}

/* First page of the lowest run of n free pages, or -1. */
static int find_free_range(const uint64_t *free_bits, uint32_t n) {
  uint32_t run = 0, start = 0;
  for (uint32_t w = 0; w < HZ3_SEG_WORDS; w++) {
    uint64_t word = free_bits[w];
    if (word == 0) {
      run = 0;
      continue;
    }
    if (word == ~0ull) {
      if (run == 0) start = w * 64;
      run += 64;
      if (run >= n) return (int)start;
      continue;
    }
    for (uint32_t b = 0; b < 64; b++) {
      if ((word >> b) & 1) {
        if (run == 0) start = w * 64 + b;
        if (++run >= n) return (int)start;
      } else {
        run = 0;
      }
    }
  }
  return -1;
}

/* First page of the highest run of n free pages, or -1. */
static int find_free_range_high(const uint64_t *free_bits, uint32_t n) {
  uint32_t run = 0;
  for (int w = HZ3_SEG_WORDS - 1; w >= 0; w--) {
    uint64_t word = free_bits[w];
    if (word == 0) {
      run = 0;
      continue;
    }
    if (word == ~0ull) {
      run += 64;
      if (run >= n) return w * 64 + (int)(run - n); /* the top n pages of the free stretch */
      continue;
    }
    for (int b = 63; b >= 0; b--) {
      if ((word >> b) & 1) {
        if (++run >= n) return w * 64 + b;
      } else {
        run = 0;
      }
    }
  }
  return -1;
}

/* An arena's claim, laid out: run descriptors, headers, tags, page bins, then the segments,
 * each table long enough for every segment of the claim.  The page bins sit right below the
 * segments: the free fast path reads one with every free, and a bin close to its objects
 * shares their upper page-table levels.  Measured on SSOT (2-core VM, whose page walks are
 * two-dimensional): bins 1 TiB above the segments, or 256 MiB below them (1 TiB claims), ran
 * 5-10 % slower than bins 64-128 MiB below (256-512 GiB claims), which match the old layout. */
typedef struct arena_layout {
  size_t runs, metas, tags, page_bins, segments, total; /* offsets from the claim's start */
} arena_layout_t;

static arena_layout_t arena_layout(uint32_t max_segments) {
  size_t pages = (size_t)max_segments * HZ3_SEG_PAGES, bins_bytes = page_round(pages);
  arena_layout_t l;
  l.runs = 0;
  l.metas = l.runs + (size_t)max_segments * HZ3_SEG_RUNS_BYTES;
  l.tags = l.metas + page_round((size_t)max_segments * sizeof(hz3_segment_t));
  /* The segments start on a segment boundary; the bins end where they start. */
  size_t tables_end = l.tags + page_round(pages * sizeof(hz3_tag_t)) + bins_bytes;
  l.segments = (tables_end + HZ3_SEG_SIZE - 1) & ~(HZ3_SEG_SIZE - 1);
  l.page_bins = l.segments - bins_bytes;
  l.total = l.segments + ((size_t)max_segments << HZ3_SEG_SHIFT);
  return l;
}

/* Segments mapped in arena a (grown_bytes holds the count, as bytes for the fast path). */
static uint32_t arena_segments(const hz3_arena_t *a) {
  return (uint32_t)(__atomic_load_n(&a->grown_bytes, __ATOMIC_ACQUIRE) >> HZ3_SEG_SHIFT);
}

/* The four tables of an arena's claim: where each starts, and its bytes per segment. */
static void arena_tables(const hz3_arena_t *a, uintptr_t start[4], size_t per[4]) {
  start[0] = (uintptr_t)a->page_bins, per[0] = HZ3_SEG_PAGES;
  start[1] = (uintptr_t)a->tags, per[1] = HZ3_SEG_PAGES * sizeof(hz3_tag_t);
  start[2] = (uintptr_t)a->metas, per[2] = sizeof(hz3_segment_t);
  start[3] = (uintptr_t)a->runs, per[3] = HZ3_SEG_RUNS_BYTES;
}

/* Claims arena k (nothing mapped); 0 or ENOMEM. */
static int arena_claim(hz3_segment_pool_t *pool, uint32_t k) {
  uint32_t max_segments = (uint32_t)(pool->arena_bytes >> HZ3_SEG_SHIFT);
  arena_layout_t l = arena_layout(max_segments);
  void *claim = pool->os->claim(pool->os->ctx, l.total, HZ3_SEG_SIZE);
  if (claim == NULL) return ENOMEM;
  uintptr_t start = (uintptr_t)claim;
  hz3_arena_t *a = &pool->arenas[k];
  memset(a, 0, sizeof *a);
  a->base = start + l.segments;
  a->page_bins = (const uint8_t *)(start + l.page_bins);
  a->tags = (hz3_tag_t *)(start + l.tags);
  a->metas = (hz3_segment_t *)(start + l.metas);
  a->runs = (hz3_run_t *)(start + l.runs);
  a->max_segments = max_segments;
  __atomic_store_n(&pool->narenas, k + 1, __ATOMIC_RELEASE);
  return 0;
}

int hz3_segment_pool_init(hz3_segment_pool_t *pool, const hz3_os_ops_t *os, hz3_stats_t *stats,
                          size_t arena_bytes, uint32_t max_arenas) {
  memset(pool, 0, sizeof *pool);
  if (arena_bytes < HZ3_SEG_SIZE || (arena_bytes & (HZ3_SEG_SIZE - 1)) != 0 ||
      (arena_bytes >> HZ3_PAGE_SHIFT) > UINT32_MAX || max_arenas < 1 || max_arenas > HZ3_MAX_ARENAS)
    return EINVAL;
  pool->os = os;
  pool->stats = stats;
  pool->arena_bytes = arena_bytes;
  pool->max_arenas = max_arenas;
  hz3_lock_init(&pool->lock);
  return arena_claim(pool, 0);
}

void hz3_segment_pool_destroy(hz3_segment_pool_t *pool) {
  const hz3_os_ops_t *os = pool->os;
  for (uint32_t k = 0; k < pool->narenas; k++) {
    const hz3_arena_t *a = &pool->arenas[k];
    uintptr_t start[4];
    size_t per[4];
    arena_tables(a, start, per);
    if (a->grown_bytes) os->release(os->ctx, (void *)a->base, a->grown_bytes);
    for (int t = 0; t < 4 && a->tables_segments; t++)
      os->release(os->ctx, (void *)start[t], page_round((size_t)a->tables_segments * per[t]));
  }
  memset(pool, 0, sizeof *pool);
}

/* Segments the tables are mapped ahead by, so that most new segments cost one mmap: 8 make
 * whole pages of page bins and tags. */
#define HZ3_TABLE_STEP 8u

/* Maps the next segment of arena a and the table entries covering it; 0, ENOMEM at the
 * address-space limit, or another errno when something else sits in the claim (the arena
 * then grows no more).  Pool lock held. */
static int arena_grow(hz3_segment_pool_t *pool, hz3_arena_t *a) {
  const hz3_os_ops_t *os = pool->os;
  uint32_t i = arena_segments(a);
  if (a->tables_segments <= i) {
    uint32_t from = a->tables_segments;
    uint32_t to = HZ3_MIN((i / HZ3_TABLE_STEP + 1) * HZ3_TABLE_STEP, a->max_segments);
    uintptr_t start[4], lo[4], hi[4];
    size_t per[4];
    arena_tables(a, start, per);
    int err = 0, t;
    /* Entries [from, to) of each table; the page holding entry `from` is mapped already when
     * it also holds earlier entries (hence page_round of both ends). */
    for (t = 0; t < 4 && err == 0; t++) {
      lo[t] = start[t] + page_round((size_t)from * per[t]);
      hi[t] = start[t] + page_round((size_t)to * per[t]);
      if (hi[t] > lo[t]) err = os->map_at(os->ctx, (void *)lo[t], hi[t] - lo[t]);
    }
    if (err != 0) {
      /* Unmap what this step mapped (never the range that failed: it may be another's). */
      for (int done = 0; done < t - 1; done++)
        if (hi[done] > lo[done]) os->release(os->ctx, (void *)lo[done], hi[done] - lo[done]);
      return err;
    }
    a->tables_segments = to;
  }
  int err = os->map_at(os->ctx, (void *)(a->base + ((size_t)i << HZ3_SEG_SHIFT)), HZ3_SEG_SIZE);
  if (err != 0) return err;
  __atomic_store_n(&a->grown_bytes, (size_t)(i + 1) << HZ3_SEG_SHIFT, __ATOMIC_RELEASE);
  return 0;
}

/* A new segment from the last arena, claiming the next arena when that one is full or
 * blocked; NULL + ENOMEM at the address-space limit or with every arena claimed. Pool lock
 * held. */
static hz3_segment_t *grow_segment(hz3_segment_pool_t *pool) {
  for (;;) {
    uint32_t k = pool->narenas - 1;
    hz3_arena_t *a = &pool->arenas[k];
    if (!a->closed && arena_segments(a) < a->max_segments) {
      int err = arena_grow(pool, a);
      if (err == 0) {
        uint32_t index = arena_segments(a) - 1;
        hz3_segment_t *seg = &a->metas[index]; /* fresh mapping: all zero */
        seg->index = index;
        seg->arena = (uint8_t)k;
        seg->runs = &a->runs[(size_t)seg->index * HZ3_SEG_PAGES];
        return seg;
      }
      if (err == ENOMEM) break;
      a->closed = 1; /* taken by another mapping: go on in a new claim */
    }
    if (pool->narenas == pool->max_arenas || arena_claim(pool, pool->narenas) != 0) break;
  }
  errno = ENOMEM;
  return NULL;
}

const hz3_arena_t *hz3_segment_other_arena_of(const hz3_segment_pool_t *pool, const void *p) {
  uint32_t n = __atomic_load_n(&pool->narenas, __ATOMIC_ACQUIRE);
  for (uint32_t k = 1; k < n; k++) {
    const hz3_arena_t *a = &pool->arenas[k];
    if ((uintptr_t)p - a->base < __atomic_load_n(&a->grown_bytes, __ATOMIC_ACQUIRE)) return a;
  }
  return NULL;
}

void hz3_segment_pool_set_unused_hook(hz3_segment_pool_t *pool, hz3_segment_unused_fn fn,
                                      hz3_segment_retake_fn retake, void *ctx) {
  pool->unused_hook = fn;
  pool->retake_hook = retake;
  pool->unused_ctx = ctx;
}

void hz3_segment_set_init(hz3_segment_set_t *set, uint32_t owner) {
  memset(set, 0, sizeof *set);
  set->owner = owner;
}

/* A wholly free, committed segment from the spare list or the untouched arena; NULL + ENOMEM. */
static hz3_segment_t *pool_take_segment(hz3_segment_pool_t *pool) {
  hz3_lock_acquire(&pool->lock);
  /* Hot spares first (their pages are still resident), then cold ones (purged: they fault
   * back in as zeroes), then untouched arena. */
  hz3_segment_t **list = pool->spare != NULL ? &pool->spare : &pool->cold;
  hz3_segment_t *seg = *list;
  if (seg != NULL) {
    *list = seg->next;
    pool->nspare--;
    if (seg->cold) pool->ncold--;
    __atomic_fetch_sub(&pool->spare_unused_pages, seg->unused_pages, __ATOMIC_RELAXED);
    seg->spare = 0;
    seg->cold = 0;
    hz3_lock_release(&pool->lock);
    seg->next = seg->prev = NULL;
    return seg;
  }
  seg = grow_segment(pool);
  if (seg == NULL) {
    hz3_lock_release(&pool->lock);
    return NULL;
  }
  __atomic_store_n(&pool->used_segments, pool->used_segments + 1, __ATOMIC_RELAXED);
  hz3_lock_release(&pool->lock);
  bits_fill(seg->free_bits, 0, HZ3_SEG_PAGES, 1);
  seg->free_pages = HZ3_SEG_PAGES;
  hz3_segment_purge_init_meta(seg);
  HZ3_STAT_ADD(pool->stats, segments_reserved, 1);
  return seg;
}

/* Whether a comes before b in a set: by arena, then by address. */
static bool seg_before(const hz3_segment_t *a, const hz3_segment_t *b) {
  return a->arena != b->arena ? a->arena < b->arena : a->index < b->index;
}

/* Links seg into set in address order, so that alloc_run's walk fills the lowest segments
 * first and the highest drain.  Newest first, the segments a peak of big runs opened took the
 * next small runs, and long-lived objects spread over all of them (rounds 8 ended some runs
 * with 50-57 segments in use instead of 23-33; bench/RESULTS.md).  A walk at a segment's
 * arrival: a few hundred at most. */
static void set_link(hz3_segment_set_t *set, hz3_segment_t *seg) {
  set->unused_pages += seg->unused_pages;
  seg->owner = (uint8_t)set->owner;
  seg->in_set = 1;
  hz3_segment_t *prev = NULL, *next = set->head;
  while (next != NULL && seg_before(next, seg)) prev = next, next = next->next;
  seg->prev = prev;
  seg->next = next;
  if (next) next->prev = seg;
  if (prev)
    prev->next = seg;
  else
    set->head = seg;
  set->nsegments++;
}

static void set_unlink(hz3_segment_set_t *set, hz3_segment_t *seg) {
  if (seg->prev)
    seg->prev->next = seg->next;
  else
    set->head = seg->next;
  if (seg->next) seg->next->prev = seg->prev;
  if (set->hint == seg) set->hint = set->head;
  seg->next = seg->prev = NULL;
  seg->in_set = 0;
  set->nsegments--;
  set->unused_pages -= seg->unused_pages;
}

/* Queues [addr, addr + bytes) for the OS in batch, sent at once when the batch is full (or
 * one by one with --define release_batch=0). */
static void queue_range(hz3_segment_pool_t *pool, hz3_release_batch_t *batch, void *addr,
                        size_t bytes) {
  if (batch->n == HZ3_RELEASE_BATCH) hz3_segment_release_flush(pool, batch);
  batch->ranges[batch->n].addr = addr;
  batch->ranges[batch->n].bytes = bytes;
  batch->n++;
  HZ3_STAT_ADD_IF(HZ3_S57_PURGE_STATS, pool->stats, purge_ranges, 1);
  if (!HZ3_RELEASE_BATCHING) hz3_segment_release_flush(pool, batch);
}

/* A spare segment going cold (returns the ranges it queued): its run descriptors and page tags
 * hold nothing, so their pages go back too (1.6% of the arena, too much to keep for every segment a
 * burst once used; the header stays).  They read back as zero, which is what an unused descriptor
 * and a free page's tag are.  Caller holds the pool lock, which also keeps the buddy segment
 * (sharing the tag page) from being taken meanwhile. */
static uint32_t release_meta(hz3_segment_pool_t *pool, hz3_segment_t *seg,
                             hz3_release_batch_t *batch) {
  queue_range(pool, batch, seg->runs, HZ3_SEG_RUNS_BYTES);
  /* The tag page covers this segment and its buddy. */
  const hz3_arena_t *a = arena_of_seg(pool, seg);
  size_t per_page = HZ3_PAGE_SIZE / (HZ3_SEG_PAGES * sizeof(hz3_tag_t));
  uint32_t lo = seg->index - seg->index % (uint32_t)per_page;
  for (uint32_t i = lo; i < lo + per_page; i++)
    if (i < arena_segments(a) && i != seg->index && !a->metas[i].spare) return 1;
  queue_range(pool, batch, &a->tags[(size_t)lo * HZ3_SEG_PAGES], HZ3_PAGE_SIZE);
  return 2;
}

/* A spare segment with no resident page left goes cold: its meta's ranges queued in batch
 * (returns how many), onto the cold list.  Caller holds the pool lock and has taken seg off
 * the hot list, or never put it there. */
static uint32_t make_cold(hz3_segment_pool_t *pool, hz3_segment_t *seg,
                          hz3_release_batch_t *batch) {
  HZ3_ASSERT(seg->spare && seg->unused_pages == 0);
  uint32_t ranges = release_meta(pool, seg, batch);
  HZ3_STAT_ADD_IF(HZ3_S57_PURGE_STATS, pool->stats, segments_released, 1);
  seg->next = pool->cold;
  pool->cold = seg;
  seg->cold = 1;
  pool->ncold++;
  return ranges;
}

/* Pages [first, first + n) of seg, free, join a run: idle (no object handed out yet); purged
 * ones stay out of memory as purged idle pages, so the resident-unused count does not change. */
static void pages_free_to_idle(hz3_segment_t *seg, uint32_t first, uint32_t n) {
  for (uint32_t w = first >> 6; w <= (first + n - 1) >> 6; w++) {
    uint64_t m = range_mask(w, first, n);
    seg->idle_bits[w] |= m;
    seg->idle_purged_bits[w] = (seg->idle_purged_bits[w] & ~m) | (seg->purged_bits[w] & m);
    seg->purged_bits[w] &= ~m;
    seg->free_bits[w] &= ~m;
  }
  seg->free_pages -= n;
}

/* Pages [first, first + n) of seg leave their run and are free: idle ones stay out of memory
 * if they were purged; busy ones (a run freed with objects out, a big run's tail) join the
 * resident-unused count.  The caller tells the unused hook. */
static void pages_run_to_free(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_segment_t *seg,
                              uint32_t first, uint32_t n) {
  int64_t newly_unused = 0;
  for (uint32_t w = first >> 6; w <= (first + n - 1) >> 6; w++) {
    uint64_t m = range_mask(w, first, n);
    newly_unused += hz3_popcount64(m & ~seg->idle_bits[w]);
    seg->purged_bits[w] |= seg->idle_purged_bits[w] & m;
    seg->free_bits[w] |= m;
    seg->idle_bits[w] &= ~m;
    seg->idle_purged_bits[w] &= ~m;
  }
  unused_add(pool, set, seg, newly_unused);
  seg->free_pages += n;
}

/* Pages [first, first + npages) of seg, free, become a run of cls for set->owner. */
static hz3_run_t *take_run(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_segment_t *seg,
                           uint32_t first, uint32_t npages, uint32_t cls, uint32_t epoch) {
  pages_free_to_idle(seg, first, npages);
  seg->last_touch_epoch = epoch;
  uint32_t slot = 0;
  while (seg->slot_used[slot >> 6] == ~0ull) slot += 64; /* a run per page at most: one is free */
  slot += (uint32_t)__builtin_ctzll(~seg->slot_used[slot >> 6]);
  seg->slot_used[slot >> 6] |= 1ull << (slot & 63);
  hz3_run_t *run = &seg->runs[slot];
  memset(run, 0, sizeof *run);
  run->npages = (uint16_t)npages;
  run->cls = (uint8_t)cls;
  run->owner = (uint8_t)set->owner;
  run->arena = seg->arena;
  run->first_page = seg->index * HZ3_SEG_PAGES + first;
  hz3_tag_t tag = HZ3_MAKE_TAG(cls, set->owner, slot);
  label_pages(seg_tags(pool, seg) + first, seg_page_bins(pool, seg) + first,
              tagged_pages(cls, npages), tag);
  set->runs_taken++;
  HZ3_STAT_ADD(pool->stats, runs_allocated, 1);
  return run;
}

hz3_run_t *hz3_segment_alloc_run(hz3_segment_pool_t *pool, hz3_segment_set_t *set, uint32_t npages,
                                 uint32_t cls, uint32_t epoch) {
  HZ3_ASSERT(npages >= 1 && npages <= HZ3_SEG_PAGES);
  /* A run longer than any class's run of many objects (HZ3_RUN_MAX_PAGES: so a big object's
   * above 128 KiB; those of 72-128 KiB go with the small runs) comes from the top of a
   * segment, the others from the bottom: first fit would cut a freed long run's hole up for
   * the next small runs, and the next long run would take another segment. */
  bool big = npages > HZ3_RUN_MAX_PAGES;
  int (*find)(const uint64_t *, uint32_t) = big ? find_free_range_high : find_free_range;
  hz3_segment_t *seg = NULL;
  int first = -1;
  /* The hint is where the last short run went; long runs neither use nor move it. */
  if (!big && set->hint != NULL && set->hint->free_pages >= npages)
    first = find(set->hint->free_bits, npages), seg = set->hint;
  if (first < 0) {
    for (seg = set->head; seg != NULL; seg = seg->next) {
      if (seg->free_pages >= npages && (first = find(seg->free_bits, npages)) >= 0) break;
    }
  }
  if (first < 0) {
    seg = pool_take_segment(pool);
    if (seg == NULL) return NULL;
    set_link(set, seg);
    first = find(seg->free_bits, npages); /* wholly free */
  }
  if (!big) set->hint = seg;
  return take_run(pool, set, seg, (uint32_t)first, npages, cls, epoch);
}

hz3_run_t *hz3_segment_alloc_run_with_room(hz3_segment_pool_t *pool, hz3_segment_set_t *set,
                                           uint32_t npages, uint32_t room, uint32_t cls,
                                           uint32_t epoch) {
  uint32_t want = npages + room;
  if (want > HZ3_SEG_PAGES) return hz3_segment_alloc_run(pool, set, npages, cls, epoch);
  for (hz3_segment_t *seg = set->head; seg != NULL; seg = seg->next) {
    int first = seg->free_pages >= want ? find_free_range(seg->free_bits, want) : -1;
    if (first >= 0) return take_run(pool, set, seg, (uint32_t)first, npages, cls, epoch);
  }
  /* A new segment rather than a place without room: its pages that nobody touches cost no
   * memory, and a block placed against a neighbour moves (is copied) at its next growth. */
  hz3_segment_t *seg = pool_take_segment(pool);
  if (seg == NULL) return NULL;
  set_link(set, seg);
  return take_run(pool, set, seg, 0, npages, cls, epoch);
}

/* The segment holding run. */
static hz3_segment_t *run_segment(hz3_segment_pool_t *pool, const hz3_run_t *run) {
  return &pool->arenas[run->arena].metas[run->first_page / HZ3_SEG_PAGES];
}

/* A big run of seg resized in place: its length and class, and the tag of its first page (its
 * only tagged one). */
static void set_big_run_class(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_segment_t *seg,
                              hz3_run_t *run, uint32_t npages, uint32_t cls) {
  uint32_t first = run->first_page % HZ3_SEG_PAGES, slot = (uint32_t)(run - seg->runs);
  run->npages = (uint16_t)npages;
  run->cls = (uint8_t)cls;
  label_pages(seg_tags(pool, seg) + first, seg_page_bins(pool, seg) + first, 1,
              HZ3_MAKE_TAG(cls, set->owner, slot));
}

bool hz3_segment_grow_run(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_run_t *run,
                          uint32_t npages, uint32_t cls, uint32_t epoch) {
  HZ3_ASSERT(hz3_class_is_big(run->cls) && hz3_class_is_big(cls) && npages > run->npages);
  hz3_segment_t *seg = run_segment(pool, run);
  uint32_t first = run->first_page % HZ3_SEG_PAGES, from = first + run->npages;
  uint32_t add = npages - run->npages;
  if (from + add > HZ3_SEG_PAGES) return false;
  for (uint32_t w = from >> 6; w <= (from + add - 1) >> 6; w++) {
    uint64_t m = range_mask(w, from, add);
    if ((seg->free_bits[w] & m) != m) return false;
  }
  /* As a new run's pages, then busy at once: the object spans them. */
  pages_free_to_idle(seg, from, add);
  seg->last_touch_epoch = epoch;
  hz3_segment_mark_busy(pool, set, seg, from, add);
  set_big_run_class(pool, set, seg, run, npages, cls);
  return true;
}

void hz3_segment_shrink_run(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_run_t *run,
                            uint32_t npages, uint32_t cls, uint32_t epoch) {
  HZ3_ASSERT(hz3_class_is_big(run->cls) && hz3_class_is_big(cls) && npages < run->npages);
  hz3_segment_t *seg = run_segment(pool, run);
  uint32_t first = run->first_page % HZ3_SEG_PAGES, tail = first + npages;
  uint32_t cut = run->npages - npages;
  set_big_run_class(pool, set, seg, run, npages, cls);
  pages_run_to_free(pool, set, seg, tail, cut);
  seg->last_touch_epoch = epoch;
  if (pool->unused_hook) pool->unused_hook(pool->unused_ctx, pool, set, seg, tail, cut);
}

void hz3_segment_free_run(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_run_t *run,
                          uint32_t epoch) {
  uint32_t npages = run->npages;
  HZ3_ASSERT(npages >= 1);
  hz3_segment_t *seg = run_segment(pool, run);
  uint32_t first = run->first_page % HZ3_SEG_PAGES;
  label_pages(seg_tags(pool, seg) + first, seg_page_bins(pool, seg) + first,
              tagged_pages(run->cls, npages), 0);
  pages_run_to_free(pool, set, seg, first, npages);
  seg->last_touch_epoch = epoch;
  run->npages = 0;
  uint32_t slot = (uint32_t)(run - seg->runs);
  seg->slot_used[slot >> 6] &= ~(1ull << (slot & 63));
  HZ3_STAT_ADD(pool->stats, runs_freed, 1);
  if (pool->unused_hook) pool->unused_hook(pool->unused_ctx, pool, set, seg, first, npages);
  if (seg->free_pages == HZ3_SEG_PAGES) {
    /* Wholly free: any owner may use it next. */
    set_unlink(set, seg);
    hz3_lock_acquire(&pool->lock);
    seg->spare = 1;
    pool->nspare++;
    if (seg->unused_pages == 0) {
      /* Every page went back already (purged while its last runs lived): its descriptors and
       * tags follow now.  The release policy frees spare segments only while resident-unused
       * pages exceed its cap, and counts pages, not meta: such a segment would keep its meta
       * for good (tests/growth_test: 30 MiB after a second 4 GiB burst freed). */
      hz3_release_batch_t batch = {0};
      make_cold(pool, seg, &batch);
      hz3_segment_release_flush(pool, &batch);
    } else {
      seg->next = pool->spare;
      pool->spare = seg;
      __atomic_fetch_add(&pool->spare_unused_pages, seg->unused_pages, __ATOMIC_RELAXED);
    }
    hz3_lock_release(&pool->lock);
  }
}

uint32_t hz3_segment_mark_busy(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_segment_t *seg,
                               uint32_t first, uint32_t npages) {
  int64_t resident = 0, purged = 0;
  for (uint32_t w = first >> 6; w <= (first + npages - 1) >> 6; w++) {
    uint64_t m = range_mask(w, first, npages) & seg->idle_bits[w];
    if (m == 0) continue;
    HZ3_ASSERT((m & seg->free_bits[w]) == 0);
    uint64_t gone = m & seg->idle_purged_bits[w]; /* they fault back in as zeroes */
    resident += hz3_popcount64(m & ~gone);
    if (gone) purged += hz3_popcount64(gone);
    seg->idle_bits[w] &= ~m;
    seg->idle_purged_bits[w] &= ~m;
  }
  if (resident == 0 && purged == 0) return 0;
  unused_add(pool, set, seg, -resident);
  if (!__atomic_load_n(&pool->pages_taken, __ATOMIC_RELAXED))
    __atomic_store_n(&pool->pages_taken, 1, __ATOMIC_RELAXED);
  if (purged > 0 && pool->retake_hook) pool->retake_hook(pool->unused_ctx, (uint32_t)purged);
  return __atomic_load_n(&pool->purge_failed, __ATOMIC_RELAXED) ? 0 : (uint32_t)purged;
}

void hz3_segment_mark_idle(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_segment_t *seg,
                           uint32_t first, uint32_t npages) {
  int64_t newly = 0;
  for (uint32_t w = first >> 6; w <= (first + npages - 1) >> 6; w++) {
    uint64_t m = range_mask(w, first, npages) & ~seg->idle_bits[w];
    HZ3_ASSERT((m & seg->free_bits[w]) == 0);
    seg->idle_bits[w] |= m;
    newly += hz3_popcount64(m);
  }
  if (newly == 0) return;
  unused_add(pool, set, seg, newly);
  if (pool->unused_hook) pool->unused_hook(pool->unused_ctx, pool, set, seg, first, npages);
}

void *hz3_segment_page_addr(const hz3_segment_pool_t *pool, const hz3_segment_t *seg,
                            uint32_t page) {
  return (char *)seg_base(pool, seg) + ((size_t)page << HZ3_PAGE_SHIFT);
}

void hz3_segment_purge_init_meta(hz3_segment_t *seg) {
  memcpy(seg->purged_bits, seg->free_bits, sizeof seg->purged_bits);
  memset(seg->idle_bits, 0, sizeof seg->idle_bits);
  memset(seg->idle_purged_bits, 0, sizeof seg->idle_purged_bits);
  memset(seg->slot_used, 0, sizeof seg->slot_used);
  seg->unused_pages = 0;
}

uint32_t hz3_segment_next_unused(const hz3_segment_t *seg, uint32_t from, uint32_t max_pages,
                                 uint32_t *first) {
  if (seg->unused_pages == 0) return 0;
  for (uint32_t w = from >> 6; w < HZ3_SEG_WORDS; w++) {
    uint64_t bits = unused_word(seg, w);
    if (w == from >> 6) bits &= ~0ull << (from & 63);
    if (bits == 0) continue;
    uint32_t start = w * 64 + (uint32_t)__builtin_ctzll(bits);
    uint32_t end = start;
    /* Extend across words while the pages stay unused. */
    for (;;) {
      uint32_t ew = end >> 6;
      if (ew >= HZ3_SEG_WORDS || end - start >= max_pages) break;
      uint64_t rest = ~unused_word(seg, ew) & (~0ull << (end & 63));
      if (rest == 0) {
        end = (ew + 1) * 64;
        continue;
      }
      end = ew * 64 + (uint32_t)__builtin_ctzll(rest);
      break;
    }
    *first = start;
    return HZ3_MIN(end - start, max_pages);
  }
  return 0;
}

void hz3_segment_release_range(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_segment_t *seg,
                               uint32_t first, uint32_t npages, hz3_release_batch_t *batch) {
  for (uint32_t w = first >> 6; w <= (first + npages - 1) >> 6; w++) {
    uint64_t m = range_mask(w, first, npages);
    HZ3_ASSERT((unused_word(seg, w) & m) == m); /* only resident-unused pages */
    seg->purged_bits[w] |= m & seg->free_bits[w];
    seg->idle_purged_bits[w] |= m & seg->idle_bits[w];
  }
  unused_add(pool, set, seg, -(int64_t)npages);
  HZ3_STAT_ADD_IF(HZ3_S57_PURGE_STATS, pool->stats, purge_pages, npages);
  queue_range(pool, batch, hz3_segment_page_addr(pool, seg, first),
              (size_t)npages << HZ3_PAGE_SHIFT);
}

int hz3_segment_release_flush(hz3_segment_pool_t *pool, hz3_release_batch_t *batch) {
  if (batch->n == 0) return 0;
  int err = pool->os->dontneed_many(pool->os->ctx, batch->ranges, batch->n);
  /* Before the caller's lock drops, so no run of these pages is handed out trusting them. */
  if (err != 0) __atomic_store_n(&pool->purge_failed, 1, __ATOMIC_RELAXED);
  batch->n = 0;
  batch->calls++;
  HZ3_STAT_ADD_IF(HZ3_S57_PURGE_STATS, pool->stats, purge_madvise_calls, 1);
  return err;
}

int hz3_segment_purge_range(hz3_segment_pool_t *pool, hz3_segment_set_t *set, hz3_segment_t *seg,
                            uint32_t first, uint32_t npages) {
  hz3_release_batch_t batch = {0};
  hz3_segment_release_range(pool, set, seg, first, npages, &batch);
  return hz3_segment_release_flush(pool, &batch);
}

uint64_t hz3_segment_release_spare(hz3_segment_pool_t *pool, uint64_t max_pages,
                                   uint32_t max_ranges, hz3_release_batch_t *batch) {
  uint64_t pages = 0;
  uint32_t ranges = 0;
  hz3_lock_acquire(&pool->lock);
  /* Newest first: a hot segment went on the list when its last run was freed. */
  while (pool->spare != NULL && ranges < max_ranges && pages < max_pages) {
    hz3_segment_t *seg = pool->spare;
    uint32_t first, n, from = 0;
    while (ranges < max_ranges && pages < max_pages &&
           (n = hz3_segment_next_unused(seg, from, HZ3_SEG_PAGES, &first))) {
      n = (uint32_t)HZ3_MIN((uint64_t)n, max_pages - pages);
      hz3_segment_release_range(pool, NULL, seg, first, n, batch);
      pages += n;
      ranges++;
      from = first + n;
    }
    if (seg->unused_pages != 0) break; /* budget spent */
    pool->spare = seg->next;
    ranges += make_cold(pool, seg, batch);
  }
  hz3_segment_release_flush(pool, batch);
  hz3_lock_release(&pool->lock);
  return pages;
}

uint64_t hz3_segment_purge_spare(hz3_segment_pool_t *pool, uint64_t max_pages, uint32_t max_calls,
                                 uint32_t *calls) {
  hz3_release_batch_t batch = {0};
  uint64_t pages = hz3_segment_release_spare(pool, max_pages, max_calls, &batch);
  if (calls) *calls += batch.calls;
  return pages;
}

bool hz3_segment_pool_claims(const hz3_segment_pool_t *pool, const void *p) {
  uint32_t n = __atomic_load_n(&pool->narenas, __ATOMIC_ACQUIRE);
  for (uint32_t k = 0; k < n; k++) {
    const hz3_arena_t *a = &pool->arenas[k];
    arena_layout_t l = arena_layout(a->max_segments);
    if ((uintptr_t)p - (a->base - l.segments) < l.total) return true;
  }
  return false;
}

const hz3_run_t *hz3_segment_big_run_around(const hz3_segment_pool_t *pool, const void *p) {
  const hz3_arena_t *a = hz3_segment_arena_of(pool, p);
  if (a == NULL) return NULL;
  uintptr_t off = (uintptr_t)p - a->base;
  size_t page = off >> HZ3_PAGE_SHIFT, seg_first = (off >> HZ3_SEG_SHIFT) * HZ3_SEG_PAGES;
  for (size_t pg = page + 1; pg-- > seg_first;) {
    hz3_tag_t tag = __atomic_load_n(&a->tags[pg], __ATOMIC_RELAXED);
    if (tag == 0) continue;
    /* The nearest tagged page at or below p's: every page of other runs is tagged, so only a
     * big run's first page can have p's page beyond it. */
    if (pg == page || !hz3_class_is_big(HZ3_TAG_CLASS(tag))) return NULL;
    const hz3_run_t *run = hz3_segment_tagged_run(a->runs, pg << HZ3_PAGE_SHIFT, tag);
    return page < pg + run->npages ? run : NULL;
  }
  return NULL;
}

hz3_segment_pages_t hz3_segment_count_pages(const hz3_segment_pool_t *pool) {
  hz3_segment_pages_t n = {0, 0, 0};
  uint32_t narenas = __atomic_load_n(&pool->narenas, __ATOMIC_ACQUIRE);
  for (uint32_t k = 0; k < narenas; k++) {
    const hz3_arena_t *a = &pool->arenas[k];
    for (uint32_t i = 0, segments = arena_segments(a); i < segments; i++) {
      const hz3_segment_t *seg = &a->metas[i];
      uint32_t idle = 0, purged = 0;
      for (uint32_t w = 0; w < HZ3_SEG_WORDS; w++) {
        idle += (uint32_t)__builtin_popcountll(seg->idle_bits[w]);
        purged += (uint32_t)__builtin_popcountll(seg->purged_bits[w] | seg->idle_purged_bits[w]);
      }
      n.busy += HZ3_SEG_PAGES - seg->free_pages - idle;
      n.resident += HZ3_SEG_PAGES - purged;
      n.segments++;
    }
  }
  return n;
}

static bool check_segment(const hz3_segment_pool_t *pool, const hz3_segment_t *seg,
                          hz3_check_report_t *r) {
  uint32_t free_count = 0, unused_count = 0;
  for (uint32_t w = 0; w < HZ3_SEG_WORDS; w++) {
    if (seg->purged_bits[w] & ~seg->free_bits[w])
      return hz3_check_fail(r, "segment %u: purged page not free (word %u)", seg->index, w);
    if (seg->idle_bits[w] & seg->free_bits[w])
      return hz3_check_fail(r, "segment %u: idle page is free (word %u)", seg->index, w);
    if (seg->idle_purged_bits[w] & ~seg->idle_bits[w])
      return hz3_check_fail(r, "segment %u: idle-purged page not idle (word %u)", seg->index, w);
    free_count += (uint32_t)__builtin_popcountll(seg->free_bits[w]);
    unused_count += (uint32_t)__builtin_popcountll(unused_word(seg, w));
  }
  if (unused_count != seg->unused_pages)
    return hz3_check_fail(r, "segment %u: unused_pages %u but %u resident-unused pages", seg->index,
                          seg->unused_pages, unused_count);
  if (free_count != seg->free_pages)
    return hz3_check_fail(r, "segment %u: free_pages %u but %u free bits", seg->index,
                          seg->free_pages, free_count);
  const hz3_tag_t *tags = seg_tags(pool, seg);
  const uint8_t *bins = seg_page_bins(pool, seg);
  for (uint32_t pg = 0; pg < HZ3_SEG_PAGES; pg++)
    if (bins[pg] != HZ3_TAG_BIN(tags[pg]))
      return hz3_check_fail(r, "segment %u page %u: page bin %u, tag says %u", seg->index, pg,
                            bins[pg], HZ3_TAG_BIN(tags[pg]));
  uint32_t runs_found = 0, slots_used = 0;
  for (uint32_t w = 0; w < HZ3_SEG_WORDS; w++)
    slots_used += (uint32_t)__builtin_popcountll(seg->slot_used[w]);
  for (uint32_t pg = 0; pg < HZ3_SEG_PAGES;) {
    if (bit_get(seg->free_bits, pg)) {
      if (tags[pg] != 0)
        return hz3_check_fail(r, "segment %u page %u: free but tagged", seg->index, pg);
      pg++;
      continue;
    }
    uint32_t slot = HZ3_TAG_RUN_SLOT(tags[pg]);
    const hz3_run_t *run = &seg->runs[slot];
    if (tags[pg] == 0 || !bit_get(seg->slot_used, slot) || run->npages == 0 ||
        run->first_page != seg->index * HZ3_SEG_PAGES + pg || run->arena != seg->arena)
      return hz3_check_fail(r, "segment %u page %u: in use but starts no run", seg->index, pg);
    runs_found++;
    if (run->cls >= HZ3_NUM_CLASSES || run->npages != hz3_class_run_pages(run->cls))
      return hz3_check_fail(r, "segment %u page %u: run class %u with %u pages", seg->index, pg,
                            run->cls, run->npages);
    hz3_tag_t want = HZ3_MAKE_TAG(run->cls, run->owner, slot);
    uint32_t tagged = tagged_pages(run->cls, run->npages);
    for (uint32_t i = 0; i < run->npages; i++) {
      if (pg + i >= HZ3_SEG_PAGES || bit_get(seg->free_bits, pg + i) ||
          tags[pg + i] != (i < tagged ? want : 0))
        return hz3_check_fail(r, "segment %u page %u: tag/bits disagree with run at %u", seg->index,
                              pg + i, pg);
    }
    if (run->owner != seg->owner)
      return hz3_check_fail(r, "segment %u: run at %u owned by %u, segment by %u", seg->index, pg,
                            run->owner, seg->owner);
    pg += run->npages;
  }
  if (runs_found != slots_used)
    return hz3_check_fail(r, "segment %u: %u runs but %u descriptor slots used", seg->index,
                          runs_found, slots_used);
  return true;
}

/* Walks one spare list (under the pool lock): wholly free segments, hot or cold as the list
 * says; counts them and their resident-unused pages. */
static bool check_spare_list(const hz3_segment_t *s, bool cold, uint32_t *seen, uint64_t *unused,
                             hz3_check_report_t *report) {
  for (; s != NULL; s = s->next) {
    (*seen)++;
    *unused += s->unused_pages;
    if (s->free_pages != HZ3_SEG_PAGES || !s->spare)
      return hz3_check_fail(report, "spare segment %u has %u free pages", s->index, s->free_pages);
    if (s->cold != cold || (cold && s->unused_pages != 0))
      return hz3_check_fail(report,
                            "spare segment %u: cold=%u with %u resident pages on the %s list",
                            s->index, s->cold, s->unused_pages, cold ? "cold" : "hot");
  }
  return true;
}

bool hz3_segment_check(const hz3_segment_pool_t *pool, hz3_check_report_t *report) {
  hz3_lock_acquire((hz3_lock_t *)&pool->lock);
  uint32_t spare_seen = 0, cold_seen = 0;
  uint64_t spare_unused = 0;
  bool ok = check_spare_list(pool->spare, false, &spare_seen, &spare_unused, report) &&
            check_spare_list(pool->cold, true, &cold_seen, &spare_unused, report);
  uint64_t counted_unused = pool->spare_unused_pages;
  uint32_t nspare = pool->nspare, ncold = pool->ncold;
  hz3_lock_release((hz3_lock_t *)&pool->lock);
  if (!ok) return false;
  if (spare_unused != counted_unused)
    return hz3_check_fail(report, "spare segments hold %llu unused pages, count says %llu",
                          (unsigned long long)spare_unused, (unsigned long long)counted_unused);
  if (spare_seen + cold_seen != nspare || cold_seen != ncold)
    return hz3_check_fail(report, "spare lists hold %u hot + %u cold, counts say %u, %u cold",
                          spare_seen, cold_seen, nspare, ncold);
  uint64_t unused = 0;
  uint32_t segments = 0;
  for (uint32_t k = 0; k < pool->narenas; k++) {
    const hz3_arena_t *a = &pool->arenas[k];
    uint32_t mapped = arena_segments(a);
    if (a->grown_bytes % HZ3_SEG_SIZE != 0 || mapped > a->max_segments ||
        a->tables_segments < mapped)
      return hz3_check_fail(report, "arena %u: %zu bytes grown, %u segments at most, tables for %u",
                            k, a->grown_bytes, a->max_segments, a->tables_segments);
    for (uint32_t i = 0; i < mapped; i++, segments++) {
      if (a->metas[i].index != i || a->metas[i].arena != k)
        return hz3_check_fail(report, "arena %u segment %u: header says segment %u of arena %u", k,
                              i, a->metas[i].index, a->metas[i].arena);
      if (!check_segment(pool, &a->metas[i], report)) return false;
      unused += a->metas[i].unused_pages;
    }
  }
  if (segments != pool->used_segments)
    return hz3_check_fail(report, "arenas hold %u segments, the pool counts %u", segments,
                          pool->used_segments);
  if (unused != hz3_segment_unused_pages(pool))
    return hz3_check_fail(report, "pool: unused_pages %llu but segments hold %llu",
                          (unsigned long long)hz3_segment_unused_pages(pool),
                          (unsigned long long)unused);
  return true;
}
