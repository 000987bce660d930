/* large/large.c: own mappings for large objects, their registry and a small cache. */
#include "large/large.h"

#include <errno.h>
#include <string.h>

#define INITIAL_CAPACITY 256

static size_t page_round(size_t n) { return (n + HZ3_PAGE_SIZE - 1) & ~(HZ3_PAGE_SIZE - 1); }

/* Home slot of ptr in a table of capacity slots.  Pointers are page-aligned: hash the page
 * number (Fibonacci hashing). */
static size_t home_slot(uintptr_t ptr, size_t capacity) {
  return (size_t)(((ptr >> HZ3_PAGE_SHIFT) * 0x9E3779B97F4A7C15ull) >> 20) & (capacity - 1);
}

static size_t slot_of(const hz3_large_t *lg, uintptr_t ptr) { return home_slot(ptr, lg->capacity); }

void hz3_large_init(hz3_large_t *lg, const hz3_os_ops_t *os, hz3_stats_t *stats) {
  memset(lg, 0, sizeof *lg);
  lg->os = os;
  lg->stats = stats;
  hz3_lock_init(&lg->lock);
}

static hz3_large_entry_t *find(const hz3_large_t *lg, uintptr_t ptr) {
  if (lg->capacity == 0) return NULL;
  for (size_t i = slot_of(lg, ptr);; i = (i + 1) & (lg->capacity - 1)) {
    if (lg->table[i].ptr == ptr) return &lg->table[i];
    if (lg->table[i].ptr == 0) return NULL;
  }
}

static void insert_into(hz3_large_entry_t *table, size_t capacity, hz3_large_entry_t e) {
  size_t mask = capacity - 1, i = home_slot(e.ptr, capacity);
  while (table[i].ptr != 0) i = (i + 1) & mask;
  table[i] = e;
}

/* Grows the table to keep it at most half full; the new table is a mapping (never malloc). */
static int ensure_room(hz3_large_t *lg) {
  if ((lg->count + 1) * 2 <= lg->capacity) return 0;
  size_t cap = lg->capacity ? lg->capacity * 2 : INITIAL_CAPACITY;
  size_t bytes = page_round(cap * sizeof(hz3_large_entry_t));
  hz3_large_entry_t *table = lg->os->map(lg->os->ctx, bytes, HZ3_PAGE_SIZE);
  if (table == NULL) return ENOMEM;
  for (size_t i = 0; i < lg->capacity; i++)
    if (lg->table[i].ptr != 0) insert_into(table, cap, lg->table[i]);
  if (lg->table)
    lg->os->release(lg->os->ctx, lg->table, page_round(lg->capacity * sizeof(hz3_large_entry_t)));
  lg->table = table;
  lg->capacity = cap;
  return 0;
}

/* Removes e with backward-shift deletion (no tombstones). */
static void erase(hz3_large_t *lg, hz3_large_entry_t *e) {
  size_t mask = lg->capacity - 1;
  size_t hole = (size_t)(e - lg->table);
  for (size_t j = (hole + 1) & mask; lg->table[j].ptr != 0; j = (j + 1) & mask) {
    size_t home = slot_of(lg, lg->table[j].ptr);
    /* Move j into the hole if its home is not in (hole, j] (cyclically). */
    bool between = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!between) {
      lg->table[hole] = lg->table[j];
      hole = j;
    }
  }
  lg->table[hole].ptr = 0;
  lg->count--;
}

size_t hz3_large_cache_bound(const hz3_large_t *lg) {
  size_t floor = HZ3_MAX(HZ3_LARGE_CACHE_FLOOR, lg->reuse_keep);
  return HZ3_MAX(floor, lg->mapped_bytes / HZ3_LARGE_CACHE_SHARE);
}

/* A large allocation of bytes, the cache served (hit) or not: a miss matches what frees
 * unmapped and no miss matched yet, and raises the reuse keep by as much (see large.h).
 * Lock held. */
static void note_alloc(hz3_large_t *lg, size_t bytes, bool hit) {
  if (!hit && lg->unmapped_recent > 0) {
    size_t back = HZ3_MIN(bytes, lg->unmapped_recent);
    lg->unmapped_recent -= back;
    lg->reuse_keep = HZ3_MIN(lg->reuse_keep + back, HZ3_LARGE_REUSE_KEEP_MAX);
  }
  lg->freed_since = 0;
}

/* Takes entry e out of the cache: its mapping, and its bytes in *got; NULL if e is NULL. */
static void *cache_remove(hz3_large_t *lg, hz3_large_entry_t *e, size_t *got) {
  if (e == NULL) return NULL;
  void *p = (void *)e->ptr;
  *got = e->bytes;
  lg->cache_bytes -= e->bytes;
  e->ptr = 0;
  return p;
}

/* The smallest cached mapping of at least bytes, aligned to align; NULL if none. */
static void *cache_take(hz3_large_t *lg, size_t bytes, size_t align, size_t *got) {
  hz3_large_entry_t *best = NULL;
  for (int i = 0; i < HZ3_LARGE_CACHE_ENTRIES; i++) {
    hz3_large_entry_t *c = &lg->cache[i];
    if (c->ptr != 0 && c->bytes >= bytes && (c->ptr & (align - 1)) == 0 &&
        (best == NULL || c->bytes < best->bytes))
      best = c;
  }
  return cache_remove(lg, best, got);
}

/* The biggest cached mapping smaller than bytes but at least half of it, to be grown (page
 * alignment only); NULL if none. */
static void *cache_take_to_grow(hz3_large_t *lg, size_t bytes, size_t *got) {
  hz3_large_entry_t *best = NULL;
  for (int i = 0; i < HZ3_LARGE_CACHE_ENTRIES; i++) {
    hz3_large_entry_t *c = &lg->cache[i];
    if (c->ptr != 0 && c->bytes < bytes && c->bytes >= bytes / 2 && c->align <= HZ3_PAGE_SIZE &&
        (best == NULL || c->bytes > best->bytes))
      best = c;
  }
  return cache_remove(lg, best, got);
}

void *hz3_large_alloc(hz3_large_t *lg, size_t n, size_t align, bool zeroed) {
  if (align < HZ3_PAGE_SIZE) align = HZ3_PAGE_SIZE;
  size_t bytes = page_round(n);
  if (bytes < n || bytes > ((size_t)1 << 62)) {
    errno = ENOMEM;
    return NULL;
  }
  hz3_lock_acquire(&lg->lock);
  size_t got = 0, grown_from = 0;
  void *p = cache_take(lg, bytes, align, &got);
  /* None fits: a program whose blocks grow (a table that doubles) never finds one.  A cached
   * mapping of at least half the size grows into it instead (mremap: its resident pages move
   * with it, only the rest faults in), so the growth faults half the pages it did. */
  if (p == NULL && align <= HZ3_PAGE_SIZE) p = cache_take_to_grow(lg, bytes, &grown_from);
  note_alloc(lg, bytes, p != NULL);
  size_t reuse_keep = lg->reuse_keep;
  hz3_lock_release(&lg->lock);
  if (grown_from != 0) {
    void *q = lg->os->remap(lg->os->ctx, p, grown_from, bytes);
    if (q != NULL) {
      HZ3_STAT_ADD(lg->stats, large_cache_hits, 1);
      if (zeroed) memset(q, 0, HZ3_MIN(n, grown_from)); /* the grown tail reads as zero */
    } else {
      lg->os->release(lg->os->ctx, p, grown_from); /* and map afresh below */
    }
    p = q;
  } else if (p != NULL) {
    HZ3_STAT_ADD(lg->stats, large_cache_hits, 1);
    /* Pages well past what was asked for go back (they fault in as zeroes if used), unless
     * the program showed it reuses that much (the reuse keep). */
    size_t keep = HZ3_MAX(page_round(bytes * HZ3_LARGE_REUSE_SLACK), reuse_keep);
    if (got > keep) lg->os->dontneed(lg->os->ctx, (char *)p + keep, got - keep);
    /* A recycled mapping holds old data: clearing it costs less than faulting fresh pages. */
    if (zeroed) memset(p, 0, n);
    bytes = got;
  }
  if (p == NULL) {
    p = lg->os->map(lg->os->ctx, bytes, align);
    if (p == NULL) {
      errno = ENOMEM;
      return NULL;
    }
  }
  hz3_lock_acquire(&lg->lock);
  if (ensure_room(lg) != 0) {
    hz3_lock_release(&lg->lock);
    lg->os->release(lg->os->ctx, p, bytes);
    errno = ENOMEM;
    return NULL;
  }
  hz3_large_entry_t e = {(uintptr_t)p, bytes, align};
  insert_into(lg->table, lg->capacity, e);
  lg->count++;
  lg->mapped_bytes += bytes;
  lg->allocs++;
  hz3_lock_release(&lg->lock);
  HZ3_STAT_ADD(lg->stats, large_allocs, 1);
  return p;
}

bool hz3_large_free(hz3_large_t *lg, void *p) {
  hz3_lock_acquire(&lg->lock);
  hz3_large_entry_t *e = find(lg, (uintptr_t)p);
  if (e == NULL) {
    hz3_lock_release(&lg->lock);
    return false;
  }
  hz3_large_entry_t gone = *e;
  erase(lg, e);
  lg->freed[lg->freed_next++ % HZ3_LARGE_FREED_RING] = gone.ptr;
  lg->mapped_bytes -= gone.bytes;
  /* Freeing more than twice the bound with no large allocation: the program empties its
   * large objects, and what it kept for reuse goes with them. */
  lg->freed_since += gone.bytes;
  if (lg->freed_since > 2 * HZ3_MAX(lg->reuse_keep, HZ3_LARGE_CACHE_FLOOR)) lg->reuse_keep = 0;
  /* Keep it for reuse within the bound, which fell with it: older entries make room or go
   * (unmapped outside the lock), so the cache empties as the program's large objects do. */
  hz3_large_entry_t evicted[HZ3_LARGE_CACHE_ENTRIES + 1];
  int nevicted = 0;
  size_t bound = hz3_large_cache_bound(lg);
  bool cache_it = gone.bytes <= bound;
  /* Oldest first: what the program freed last is what it is about to ask for again (a phase
   * of 8 MiB buffers evicted one of its own, not the 3 MiB ones its last phase left). */
  int free_slot;
  for (;;) {
    int oldest = -1;
    free_slot = -1;
    for (int i = 0; i < HZ3_LARGE_CACHE_ENTRIES; i++) {
      if (lg->cache[i].ptr == 0)
        free_slot = free_slot < 0 ? i : free_slot;
      else if (oldest < 0 || lg->cache_seq[i] < lg->cache_seq[oldest])
        oldest = i;
    }
    bool room = lg->cache_bytes + (cache_it ? gone.bytes : 0) <= bound;
    if (oldest < 0 || (room && (!cache_it || free_slot >= 0))) break;
    evicted[nevicted++] = lg->cache[oldest];
    lg->cache_bytes -= lg->cache[oldest].bytes;
    lg->cache[oldest].ptr = 0;
  }
  if (cache_it && free_slot >= 0) {
    lg->cache[free_slot] = gone;
    lg->cache_seq[free_slot] = ++lg->cache_clock;
    lg->cache_bytes += gone.bytes;
  } else {
    evicted[nevicted++] = gone;
  }
  for (int i = 0; i < nevicted; i++) lg->unmapped_recent += evicted[i].bytes;
  hz3_lock_release(&lg->lock);
  for (int i = 0; i < nevicted; i++)
    lg->os->release(lg->os->ctx, (void *)evicted[i].ptr, evicted[i].bytes);
  HZ3_STAT_ADD(lg->stats, large_frees, 1);
  return true;
}

size_t hz3_large_usable_size(hz3_large_t *lg, const void *p) {
  hz3_lock_acquire(&lg->lock);
  hz3_large_entry_t *e = find(lg, (uintptr_t)p);
  size_t n = e ? e->bytes : 0;
  hz3_lock_release(&lg->lock);
  return n;
}

void *hz3_large_resize(hz3_large_t *lg, void *p, size_t n) {
  size_t bytes = page_round(n);
  if (bytes < n) {
    errno = ENOMEM;
    return NULL;
  }
  hz3_lock_acquire(&lg->lock);
  hz3_large_entry_t *e = find(lg, (uintptr_t)p);
  if (e == NULL || e->align > HZ3_PAGE_SIZE) {
    hz3_lock_release(&lg->lock);
    errno = ENOMEM;
    return NULL;
  }
  if (bytes == e->bytes) {
    hz3_lock_release(&lg->lock);
    return p;
  }
  hz3_large_entry_t old = *e;
  /* mremap shrinks in place, or grows by moving pages without copying them. */
  void *q = lg->os->remap(lg->os->ctx, p, old.bytes, bytes);
  if (q == NULL) {
    hz3_lock_release(&lg->lock);
    errno = ENOMEM;
    return NULL;
  }
  erase(lg, e);
  hz3_large_entry_t ne = {(uintptr_t)q, bytes, old.align};
  insert_into(lg->table, lg->capacity, ne);
  lg->count++;
  lg->mapped_bytes = lg->mapped_bytes - old.bytes + bytes;
  hz3_lock_release(&lg->lock);
  return q;
}

hz3_large_kind_t hz3_large_classify(hz3_large_t *lg, const void *p, uintptr_t *start) {
  uintptr_t a = (uintptr_t)p;
  hz3_large_kind_t kind = HZ3_LARGE_NOT_OURS;
  hz3_lock_acquire(&lg->lock);
  for (size_t i = 0; i < lg->capacity && kind == HZ3_LARGE_NOT_OURS; i++) {
    const hz3_large_entry_t *e = &lg->table[i];
    if (e->ptr != 0 && a > e->ptr && a < e->ptr + e->bytes)
      kind = HZ3_LARGE_INTERIOR, *start = e->ptr;
  }
  for (int i = 0; i < HZ3_LARGE_CACHE_ENTRIES && kind == HZ3_LARGE_NOT_OURS; i++)
    if (lg->cache[i].ptr == a) kind = HZ3_LARGE_FREED, *start = a;
  for (int i = 0; i < HZ3_LARGE_FREED_RING && kind == HZ3_LARGE_NOT_OURS; i++)
    if (lg->freed[i] == a && find(lg, a) == NULL) kind = HZ3_LARGE_FREED, *start = a;
  hz3_lock_release(&lg->lock);
  return kind;
}

/* Takes cached mappings out, biggest first, until at least 1/share of the cached bytes are out
 * (share 1: all of them), and unmaps them outside the lock; returns the bytes given back.
 * With only_if_idle, nothing goes until no large block has been allocated for
 * HZ3_LARGE_DECAY_QUIET_EPOCHS such calls in a row. */
static size_t cache_give_back(hz3_large_t *lg, size_t share, bool only_if_idle) {
  hz3_large_entry_t gone[HZ3_LARGE_CACHE_ENTRIES];
  size_t ngone = 0, total = 0;
  hz3_lock_acquire(&lg->lock);
  size_t target = (lg->cache_bytes + share - 1) / share;
  if (!only_if_idle) lg->reuse_keep = lg->unmapped_recent = 0; /* malloc_trim: none for later */
  if (only_if_idle) {
    /* Epochs come with every thread's slow-path traffic: a program that allocates a large
     * block every few dozen of them (bench/rounds: one per ~11 epochs at 8 threads) would
     * see its cache halved between two blocks at every quiet epoch, and map each afresh. */
    lg->quiet_epochs = lg->allocs != lg->allocs_at_decay ? 0 : lg->quiet_epochs + 1;
    lg->allocs_at_decay = lg->allocs;
    if (lg->quiet_epochs < HZ3_LARGE_DECAY_QUIET_EPOCHS)
      target = 0;
    else
      lg->reuse_keep = lg->unmapped_recent = 0; /* not in use now: the live bytes bound it */
  }
  while (total < target) {
    hz3_large_entry_t *big = NULL;
    for (int i = 0; i < HZ3_LARGE_CACHE_ENTRIES; i++)
      if (lg->cache[i].ptr != 0 && (big == NULL || lg->cache[i].bytes > big->bytes))
        big = &lg->cache[i];
    if (big == NULL) break;
    gone[ngone++] = *big;
    total += big->bytes;
    lg->cache_bytes -= big->bytes;
    big->ptr = 0;
  }
  hz3_lock_release(&lg->lock);
  for (size_t i = 0; i < ngone; i++)
    lg->os->release(lg->os->ctx, (void *)gone[i].ptr, gone[i].bytes);
  return total;
}

size_t hz3_large_flush_cache(hz3_large_t *lg) { return cache_give_back(lg, 1, false); }

size_t hz3_large_cache_decay(hz3_large_t *lg) { return cache_give_back(lg, 2, true); }

void hz3_large_destroy(hz3_large_t *lg) {
  hz3_large_flush_cache(lg);
  for (size_t i = 0; i < lg->capacity; i++)
    if (lg->table[i].ptr != 0)
      lg->os->release(lg->os->ctx, (void *)lg->table[i].ptr, lg->table[i].bytes);
  if (lg->table)
    lg->os->release(lg->os->ctx, lg->table, page_round(lg->capacity * sizeof(hz3_large_entry_t)));
  memset(lg, 0, sizeof *lg);
}

void hz3_large_lock(hz3_large_t *lg) { hz3_lock_acquire(&lg->lock); }
void hz3_large_unlock(hz3_large_t *lg) { hz3_lock_release(&lg->lock); }

bool hz3_large_check(hz3_large_t *lg, hz3_check_report_t *report) {
  hz3_lock_acquire(&lg->lock);
  size_t n = 0, bytes = 0, cbytes = 0;
  bool ok = true;
  for (size_t i = 0; i < lg->capacity && ok; i++) {
    const hz3_large_entry_t *e = &lg->table[i];
    if (e->ptr == 0) continue;
    n++;
    bytes += e->bytes;
    if ((e->ptr & (e->align - 1)) != 0 || (e->bytes & (HZ3_PAGE_SIZE - 1)) != 0)
      ok = hz3_check_fail(report, "large %p: bytes %zu align %zu", (void *)e->ptr, e->bytes,
                          e->align);
    else if (find(lg, e->ptr) != e)
      ok = hz3_check_fail(report, "large %p: not reachable from its slot", (void *)e->ptr);
  }
  for (int i = 0; i < HZ3_LARGE_CACHE_ENTRIES; i++)
    if (lg->cache[i].ptr != 0) cbytes += lg->cache[i].bytes;
  if (ok && n != lg->count)
    ok = hz3_check_fail(report, "large: %zu entries, count %zu", n, lg->count);
  if (ok && bytes != lg->mapped_bytes)
    ok = hz3_check_fail(report, "large: %zu bytes registered, mapped_bytes %zu", bytes,
                        lg->mapped_bytes);
  if (ok && cbytes != lg->cache_bytes)
    ok = hz3_check_fail(report, "large cache: %zu bytes, says %zu", cbytes, lg->cache_bytes);
  hz3_lock_release(&lg->lock);
  return ok;
}
