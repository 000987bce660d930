/* central/central.c: runs with free objects per shard x class, remote inboxes. */
#include "central/central.h"

#include <errno.h>
#include <string.h>

static inline void *obj_next(void *p) { return *(void **)p; }
static inline void obj_set_next(void *p, void *next) { *(void **)p = next; }

void hz3_central_init(hz3_central_t *c, hz3_segment_pool_t *pool, hz3_stats_t *stats) {
  memset(c, 0, sizeof *c);
  c->pool = pool;
  c->stats = stats;
  c->nshards = HZ3_NUM_SHARDS;
  c->transfer_mark = 0x7A3C5E1F9B2D4C68ull;
  c->spare_unused_max = HZ3_RETAIN_MAX_PAGES;
  for (uint32_t s = 0; s < c->nshards; s++) {
    hz3_lock_init(&c->shards[s].lock);
    hz3_segment_set_init(&c->shards[s].segments, s);
  }
}

static void list_push(hz3_run_t **head, hz3_run_t *run) {
  run->prev = NULL;
  run->next = *head;
  if (*head) (*head)->prev = run;
  *head = run;
  run->on_list = 1;
}

static void list_remove(hz3_run_t **head, hz3_run_t *run) {
  if (run->prev)
    run->prev->next = run->next;
  else
    *head = run->next;
  if (run->next) run->next->prev = run->prev;
  run->next = run->prev = NULL;
  run->on_list = 0;
}

/* A fresh run of cls with every object free, on the partial list; NULL + ENOMEM. */
static hz3_run_t *new_run(hz3_central_t *c, hz3_central_shard_t *sh, uint32_t cls) {
  hz3_run_t *run =
      hz3_segment_alloc_run(c->pool, &sh->segments, hz3_class_run_pages(cls), cls, sh->epoch);
  if (run == NULL) return NULL;
  uint32_t objs = hz3_class_run_objs(cls);
  for (uint32_t w = 0; w < HZ3_RUN_MAP_WORDS; w++) {
    uint32_t lo = w * 64;
    run->free_map[w] = objs >= lo + 64 ? ~0ull : objs > lo ? (1ull << (objs - lo)) - 1 : 0;
  }
  run->nfree = (uint16_t)objs;
  list_push(&sh->partial[cls], run);
  return run;
}

/* Whether objects lo..hi (inclusive) of run are all free. */
static bool objs_all_free(const hz3_run_t *run, uint32_t lo, uint32_t hi) {
  for (uint32_t w = lo >> 6; w <= hi >> 6; w++) {
    uint32_t a = w == (lo >> 6) ? (lo & 63) : 0, b = w == (hi >> 6) ? (hi & 63) : 63;
    uint64_t m = (b - a == 63 ? ~0ull : ((1ull << (b - a + 1)) - 1)) << a;
    if ((run->free_map[w] & m) != m) return false;
  }
  return true;
}

static bool obj_is_free(const hz3_run_t *run, uint32_t idx) {
  return (run->free_map[idx >> 6] >> (idx & 63)) & 1;
}

/* Objects lo..hi of run (some of them, at least) have just become free: marks idle the pages
 * they overlap whose objects are now all free (resident but unused: purge may drop them, and a
 * purged page comes back as zeroes).  Called once for each stretch of a freed list that stays
 * in one run (free_list_locked), not once per object: a page's test costs two divisions and a
 * free-map scan, and a page holds up to 256 objects.  Pages in the range that no object of the
 * stretch touches cost a test and nothing else: a page of a live run whose objects are all
 * free is idle already (a run starts idle; carving marks busy the pages it hands out). */
static HZ3_NOINLINE void note_idle_range(hz3_central_t *c, hz3_central_shard_t *sh, hz3_run_t *run,
                                         uint32_t lo_idx, uint32_t hi_idx) {
  uint32_t size = (uint32_t)hz3_class_to_size(run->cls), objs = hz3_class_run_objs(run->cls);
  uint32_t run_page = run->first_page % HZ3_SEG_PAGES;
  hz3_segment_t *seg = hz3_segment_of(c->pool, hz3_segment_run_start(c->pool, run));
  uint32_t idle_first = 0, idle_n = 0;
  uint32_t rp_last = (hi_idx * size + size - 1) >> HZ3_PAGE_SHIFT;
  for (uint32_t rp = (lo_idx * size) >> HZ3_PAGE_SHIFT; rp <= rp_last; rp++) {
    uint32_t lo_byte = rp << HZ3_PAGE_SHIFT;
    uint32_t lo = hz3_class_div(lo_byte, run->cls);
    uint32_t hi = HZ3_MIN(objs - 1, hz3_class_div(lo_byte + HZ3_PAGE_SIZE - 1, run->cls));
    if (!hz3_segment_page_is_idle(seg, run_page + rp) && objs_all_free(run, lo, hi)) {
      if (idle_n == 0) idle_first = run_page + rp;
      idle_n++;
      continue;
    }
    if (idle_n) hz3_segment_mark_idle(c->pool, &sh->segments, seg, idle_first, idle_n);
    idle_n = 0;
  }
  if (idle_n) hz3_segment_mark_idle(c->pool, &sh->segments, seg, idle_first, idle_n);
}

/* note_idle_range after a stretch of run freed objects lo..hi, but not for a run of one page
 * that still holds an allocated object: its page is idle only once all its objects are free.
 * That is most small classes' runs, and a program freeing a large set in random order frees a
 * stretch of one object at a time: the page scan cost it more than the rest of the way home
 * (cachegrind, 1 M objects of 48-96 B freed shuffled: 130 of ~330 instructions an object). */
static HZ3_ALWAYS_INLINE void note_idle_after_free(hz3_central_t *c, hz3_central_shard_t *sh,
                                                   hz3_run_t *run, uint32_t lo, uint32_t hi) {
  if (run->npages == 1 && run->nfree != hz3_class_run_objs(run->cls)) return;
  note_idle_range(c, sh, run, lo, hi);
}

/* The two findings about an object on its way home, in every path that checks one. */
static HZ3_NOINLINE HZ3_COLD void report_interior(const void *p, uint32_t size, uintptr_t object) {
  hz3_fatal("free(): invalid pointer %p (inside an object of %u bytes at %p, not its start)", p,
            size, (void *)object);
}
static HZ3_NOINLINE HZ3_COLD void report_already_free(const void *p, uint32_t size) {
  hz3_fatal("free(): double free of %p (an object of %u bytes, already free)", p, size);
}

/* The index of p in a run of class cls whose first byte is start, once p is known to start
 * one of its objects: a pointer inside one is reported and aborts. */
static HZ3_ALWAYS_INLINE uint32_t obj_index_at(uint32_t cls, uintptr_t start, const void *p) {
  uint32_t size = (uint32_t)hz3_class_to_size(cls);
  uint32_t off = (uint32_t)((uintptr_t)p - start);
  uint32_t idx = hz3_class_div(off, cls);
  if (HZ3_UNLIKELY(off != idx * size || idx >= hz3_class_run_objs(cls)))
    report_interior(p, size, start + (uintptr_t)idx * size);
  return idx;
}

/* The index of p in run (whose first byte is start), once p is known to start one of its
 * objects and not to be free in it: anything else is reported and aborts (the checks every
 * object going home passes). */
static HZ3_ALWAYS_INLINE uint32_t obj_index_in(const hz3_run_t *run, uintptr_t start,
                                               const void *p) {
  uint32_t idx = obj_index_at(run->cls, start, p);
  if (HZ3_UNLIKELY(obj_is_free(run, idx)))
    report_already_free(p, (uint32_t)hz3_class_to_size(run->cls));
  return idx;
}

static HZ3_ALWAYS_INLINE uint32_t obj_index_checked(hz3_central_t *c, const hz3_run_t *run,
                                                    const void *p) {
  return obj_index_in(run, (uintptr_t)hz3_segment_run_start(c->pool, run), p);
}

/* Whether run, now wholly free, stays as its class's spare: when no other run of the class is
 * listed (so a class keeps at most one; runs listed later go in front of it).  A short-lived
 * thread's exit empties the runs its first batches came from, and the next thread's first refill of
 * each class would take a fresh run from the segment again (a range search, page states both ways):
 * `churn 300 20`, ~30 % of its allocator's instructions.  The spare's pages are idle like any free
 * object's, so purge may still drop them; what stays is the run's place in its segment, one per
 * class, until trim. */
static bool keep_as_spare(const hz3_central_t *c, const hz3_central_shard_t *sh,
                          const hz3_run_t *run) {
  /* Not a big class's run (one object): its place in the segment serves every other size once
   * it is free, and its pages come back under the release policy; kept, it would fence off up
   * to a segment per class and shard. */
  if (hz3_class_is_big(run->cls)) return false;
  const hz3_run_t *head = sh->partial[run->cls];
  if (head != NULL && (head != run || run->next != NULL)) return false;
  /* Not while unused pages pile up (a burst freed): those go back as before, whole runs and
   * segments, so that an idle process keeps no more than the release policy lets it. */
  uint32_t limit = __atomic_load_n(&c->spare_unused_max, __ATOMIC_RELAXED);
  return limit == 0 || __atomic_load_n(&c->pool->unused_pages, __ATOMIC_RELAXED) < limit;
}

void hz3_central_set_spare_limit(hz3_central_t *c, uint32_t unused_pages) {
  __atomic_store_n(&c->spare_unused_max, unused_pages, __ATOMIC_RELAXED);
}

/* Returns one object to its run (whose first byte is start) and its index in *idx; the run
 * goes back to its segment when all are free (unless it stays as its class's spare): then true.
 * Its pages' idle states are the caller's (note_idle_range).
 * Caller holds the shard lock.  This is where every freed small object ends up (thread caches
 * hand objects on unchecked: their fast path has no room for it), so a pointer that does not
 * start an object, or an object already free, is reported here in every build: late (a cache
 * may have handed such a pointer out again meanwhile) but before it corrupts the run. */
/* run's objects are all free now: it goes back to its segment (true), unless it stays as
 * its class's spare (keep_as_spare).  Caller holds the shard lock. */
static bool give_back_empty_run(hz3_central_t *c, hz3_central_shard_t *sh, hz3_run_t *run) {
  if (keep_as_spare(c, sh, run)) return false;
  if (run->on_list) list_remove(&sh->partial[run->cls], run);
  hz3_segment_free_run(c->pool, &sh->segments, run, sh->epoch);
  return true;
}

static HZ3_ALWAYS_INLINE bool free_to_run(hz3_central_t *c, hz3_central_shard_t *sh, hz3_run_t *run,
                                          uintptr_t start, void *p, uint32_t *idx_out) {
  uint32_t cls = run->cls;
  uint32_t idx = obj_index_in(run, start, p);
  *idx_out = idx;
  run->free_map[idx >> 6] |= 1ull << (idx & 63);
  run->nfree++;
  if (run->nfree == hz3_class_run_objs(cls) && give_back_empty_run(c, sh, run)) return true;
  if (!run->on_list) list_push(&sh->partial[cls], run);
  return false;
}

/* Where a walk freeing objects into their runs stands: the run of the previous object, so
 * that the next is asked against it first (a compare instead of a page-tag lookup), and the
 * objects of it this stretch freed, whose pages are tested for idleness once it ends.  Lists
 * cut from a bin hold stretches of neighbours (a bin refilled from one run gives them back
 * together). */
typedef struct free_walk {
  hz3_run_t *run;
  uintptr_t start, bytes; /* run's objects: [start, start + bytes); 0: none at hand */
  uint32_t lo, hi;        /* the objects this stretch freed lie in lo..hi */
} free_walk_t;

static HZ3_ALWAYS_INLINE void free_walk_init(free_walk_t *w) {
  w->run = NULL;
  w->start = w->bytes = 0;
  w->lo = UINT32_MAX, w->hi = 0;
}

/* Ends the stretch at hand and makes run (live, of sh) the walk's run. */
static HZ3_ALWAYS_INLINE void free_walk_switch(hz3_central_t *c, hz3_central_shard_t *sh,
                                               free_walk_t *w, hz3_run_t *run) {
  if (w->bytes != 0) note_idle_after_free(c, sh, w->run, w->lo, w->hi);
  HZ3_ASSERT(run->owner == sh->segments.owner);
  w->run = run;
  w->start = (uintptr_t)hz3_segment_run_start(c->pool, run);
  w->bytes = (uintptr_t)run->npages << HZ3_PAGE_SHIFT;
  w->lo = UINT32_MAX, w->hi = 0;
}

/* Frees p into w's run, which holds it.  Caller holds the shard lock. */
static HZ3_ALWAYS_INLINE void free_walk_free(hz3_central_t *c, hz3_central_shard_t *sh,
                                             free_walk_t *w, void *p) {
  uint32_t idx;
  if (free_to_run(c, sh, w->run, w->start, p, &idx)) {
    w->bytes = 0; /* the run went back with its pages: nothing to test, ask again */
    w->run = NULL;
  } else {
    w->lo = HZ3_MIN(w->lo, idx);
    w->hi = HZ3_MAX(w->hi, idx);
  }
}

/* Frees p (an object of sh) into its run.  Caller holds the shard lock. */
static HZ3_ALWAYS_INLINE void free_walk_step(hz3_central_t *c, hz3_central_shard_t *sh,
                                             free_walk_t *w, void *p) {
  if ((uintptr_t)p - w->start >= w->bytes) {
    hz3_run_t *run = hz3_segment_run_of(c->pool, p);
    if (HZ3_UNLIKELY(run == NULL))
      hz3_fatal("free(): double free of %p (its run was freed already)", p);
    free_walk_switch(c, sh, w, run);
  }
  free_walk_free(c, sh, w, p);
}

static HZ3_ALWAYS_INLINE void free_walk_end(hz3_central_t *c, hz3_central_shard_t *sh,
                                            free_walk_t *w) {
  if (w->bytes != 0) note_idle_after_free(c, sh, w->run, w->lo, w->hi);
}

/* Frees a list of objects of shard (any class). Caller holds the shard lock. */
static uint32_t free_list_locked(hz3_central_t *c, hz3_central_shard_t *sh, void *head) {
  uint32_t n = 0;
  free_walk_t w;
  free_walk_init(&w);
  while (head != NULL) {
    void *next = obj_next(head);
    free_walk_step(c, sh, &w, head);
    head = next;
    n++;
  }
  free_walk_end(c, sh, &w);
  return n;
}

static uint32_t drain_locked(hz3_central_t *c, hz3_central_shard_t *sh) {
  if (__atomic_load_n(&sh->inbox, __ATOMIC_RELAXED) == NULL) return 0;
  void *list = __atomic_exchange_n(&sh->inbox, NULL, __ATOMIC_ACQUIRE);
  return free_list_locked(c, sh, list);
}

/* The second word of an object on a transfer list. */
static inline uintptr_t *transfer_word(void *p) { return (uintptr_t *)p + 1; }

/* Checks an object joining a transfer list as free_to_run checks one reaching its run, plus
 * that it is not on a transfer list already, and marks it as on one. */
static void transfer_admit(hz3_central_t *c, uint32_t cls, void *p) {
  hz3_run_t *run = hz3_segment_run_of(c->pool, p);
  if (HZ3_UNLIKELY(run == NULL || run->cls != cls))
    hz3_fatal("free(): double free of %p (its run was freed already)", p);
  obj_index_checked(c, run, p);
  uintptr_t mark = c->transfer_mark ^ (uintptr_t)p;
  if (HZ3_UNLIKELY(*transfer_word(p) == mark))
    report_already_free(p, (uint32_t)hz3_class_to_size(cls));
  *transfer_word(p) = mark;
}

/* Appends head..tail (n objects of cls) to the shard's transfer list of cls if its owner's
 * last refill asked for that many and the bytes allow; false otherwise. */
static bool transfer_put_locked(hz3_central_t *c, hz3_central_shard_t *sh, uint32_t cls, void *head,
                                void *tail, uint32_t n) {
  hz3_central_transfer_t *t = &sh->transfer[cls];
  if (t->n + n > t->wanted || (t->n + n) * hz3_class_to_size(cls) > HZ3_TRANSFER_MAX_BYTES)
    return false;
  for (void *p = head; p != tail; p = obj_next(p)) transfer_admit(c, cls, p);
  transfer_admit(c, cls, tail);
  obj_set_next(tail, NULL);
  if (t->tail != NULL)
    obj_set_next(t->tail, head);
  else
    t->head = head;
  t->tail = tail;
  t->n += n;
  return true;
}

/* Every transfer list of the shard into its runs, and closed until the next refill. */
static uint32_t transfer_drain_locked(hz3_central_t *c, hz3_central_shard_t *sh) {
  uint32_t n = 0;
  for (uint32_t cls = 0; cls < HZ3_NUM_CLASSES; cls++) {
    hz3_central_transfer_t *t = &sh->transfer[cls];
    t->wanted = 0;
    if (t->head == NULL) continue;
    for (void *p = t->head; p != NULL; p = obj_next(p)) *transfer_word(p) = 0;
    n += free_list_locked(c, sh, t->head);
    t->head = t->tail = NULL;
    t->n = 0;
  }
  return n;
}

/* Appends p to the list first..last, its link stored XORed with key. */
static inline void chain_keyed(void **first, void **last, void *p, uintptr_t key) {
  if (*last)
    obj_set_next(*last, (void *)((uintptr_t)p ^ key));
  else
    *first = p;
  *last = p;
}

/* alloc_batch_linked, and in *zero_pages how many of the pages it made busy read as zero. */
static uint32_t alloc_batch(hz3_central_t *c, uint32_t shard, uint32_t cls, uint32_t want,
                            uintptr_t key, void **head, uint32_t *zero_pages) {
  hz3_central_shard_t *sh = &c->shards[shard];
  size_t size = hz3_class_to_size(cls);
  void *first = NULL, *last = NULL;
  uint32_t n = 0;
  hz3_lock_acquire(&sh->lock);
  drain_locked(c, sh);
  /* First what other shards' threads left for this class, oldest first. */
  hz3_central_transfer_t *t = &sh->transfer[cls];
  while (n < want && t->head != NULL) {
    void *p = t->head;
    t->head = obj_next(p);
    *transfer_word(p) = 0; /* off the list: a later free of it is a free, not a double one */
    chain_keyed(&first, &last, p, key);
    n++;
  }
  if (n > 0) {
    t->n -= n;
    if (t->head == NULL) t->tail = NULL;
    HZ3_STAT_ADD(c->stats, transfer_objects, n);
  }
  t->wanted = want; /* the owner works this class: take that many for its next refill */
  while (n < want) {
    hz3_run_t *run = sh->partial[cls];
    if (run == NULL && (run = new_run(c, sh, cls)) == NULL) break;
    uintptr_t start = (uintptr_t)hz3_segment_run_start(c->pool, run);
    hz3_segment_t *seg = hz3_segment_of(c->pool, (void *)start);
    uint32_t run_page = run->first_page % HZ3_SEG_PAGES;
    uint32_t busy_end = 0; /* run bytes below this (whole pages) are busy already */
    /* Lowest free objects first, handed out in address order. */
    for (uint32_t w = 0; w < HZ3_RUN_MAP_WORDS && n < want; w++) {
      uint64_t bits = run->free_map[w];
      while (bits != 0 && n < want) {
        uint32_t b = (uint32_t)__builtin_ctzll(bits);
        bits &= bits - 1;
        uint32_t off = (w * 64 + b) * (uint32_t)size;
        if (off + size > busy_end) { /* the object's pages hold an allocated object from now on */
          uint32_t from = HZ3_MAX(off, busy_end) >> HZ3_PAGE_SHIFT;
          uint32_t to = (off + (uint32_t)size - 1) >> HZ3_PAGE_SHIFT;
          *zero_pages +=
              hz3_segment_mark_busy(c->pool, &sh->segments, seg, run_page + from, to + 1 - from);
          busy_end = (to + 1) << HZ3_PAGE_SHIFT;
        }
        chain_keyed(&first, &last, (void *)(start + off), key);
        n++;
        run->nfree--;
      }
      run->free_map[w] = bits;
    }
    if (run->nfree == 0) list_remove(&sh->partial[cls], run);
  }
  hz3_lock_release(&sh->lock);
  if (last) obj_set_next(last, (void *)key); /* NULL, keyed */
  *head = first;
  HZ3_STAT_ADD(c->stats, central_refills, 1);
  if (n == 0) errno = ENOMEM;
  return n;
}

uint32_t hz3_central_alloc_batch(hz3_central_t *c, uint32_t shard, uint32_t cls, uint32_t want,
                                 void **head) {
  return hz3_central_alloc_batch_linked(c, shard, cls, want, 0, head);
}

uint32_t hz3_central_alloc_batch_linked(hz3_central_t *c, uint32_t shard, uint32_t cls,
                                        uint32_t want, uintptr_t key, void **head) {
  uint32_t zero_pages = 0;
  return alloc_batch(c, shard, cls, want, key, head, &zero_pages);
}

void *hz3_central_alloc_big(hz3_central_t *c, uint32_t shard, uint32_t cls, bool *zeroed) {
  HZ3_ASSERT(hz3_class_is_big(cls));
  void *p = NULL;
  uint32_t zero_pages = 0;
  alloc_batch(c, shard, cls, 1, 0, &p, &zero_pages);
  /* The whole run was made busy now (a big object has it to itself): every page or not. */
  *zeroed = p != NULL && zero_pages == hz3_class_run_pages(cls);
  return p;
}

void *hz3_central_alloc_big_with_room(hz3_central_t *c, uint32_t shard, uint32_t cls,
                                      uint32_t room_pages) {
  HZ3_ASSERT(hz3_class_is_big(cls));
  hz3_central_shard_t *sh = &c->shards[shard];
  uint32_t npages = hz3_class_run_pages(cls);
  void *p = NULL;
  hz3_lock_acquire(&sh->lock);
  hz3_run_t *run =
      hz3_segment_alloc_run_with_room(c->pool, &sh->segments, npages, room_pages, cls, sh->epoch);
  if (run != NULL) {
    /* Handed out at once, as alloc_batch hands out a big run: no free object, on no list. */
    p = hz3_segment_run_start(c->pool, run);
    hz3_segment_mark_busy(c->pool, &sh->segments, hz3_segment_of(c->pool, p),
                          run->first_page % HZ3_SEG_PAGES, npages);
  }
  hz3_lock_release(&sh->lock);
  if (p == NULL) errno = ENOMEM;
  return p;
}

bool hz3_central_resize_big(hz3_central_t *c, void *p, uint32_t cls) {
  HZ3_ASSERT(hz3_class_is_big(cls));
  hz3_tag_t tag = hz3_segment_tag(c->pool, p);
  if (tag == 0 || !hz3_class_is_big(HZ3_TAG_CLASS(tag))) return false;
  uint32_t owner = HZ3_TAG_OWNER(tag);
  hz3_central_shard_t *sh = &c->shards[owner];
  hz3_lock_acquire(&sh->lock);
  hz3_run_t *run = hz3_segment_run_of(c->pool, p);
  uint32_t npages = hz3_class_run_pages(cls);
  bool resized = false;
  /* Still p's run (a free of p by another thread meanwhile is a bug, seen here as no run or
   * another's), its object allocated. */
  if (run != NULL && run->owner == owner && hz3_class_is_big(run->cls) &&
      hz3_segment_run_start(c->pool, run) == p && run->nfree == 0) {
    if (npages > run->npages) {
      resized = hz3_segment_grow_run(c->pool, &sh->segments, run, npages, cls, sh->epoch);
    } else if (npages < run->npages) {
      hz3_segment_shrink_run(c->pool, &sh->segments, run, npages, cls, sh->epoch);
      resized = true;
    }
  }
  hz3_lock_release(&sh->lock);
  return resized;
}

void hz3_central_free_list(hz3_central_t *c, uint32_t shard, void *head) {
  if (head == NULL) return;
  hz3_central_shard_t *sh = &c->shards[shard];
  hz3_lock_acquire(&sh->lock);
  free_list_locked(c, sh, head);
  hz3_lock_release(&sh->lock);
  HZ3_STAT_ADD(c->stats, central_flushes, 1);
}

/* Objects hz3_central_free_array looks up ahead of freeing them: their descriptors' misses
 * overlap.  The tcache's homeward slots fill one such chunk. */
#define FREE_ARRAY_CHUNK 64
/* In the chunk's index array: an object of a run of several pages, freed by the walk. */
#define FREE_ARRAY_WALK UINT16_MAX

/* An object of a one-page run made the run wholly free (free_array_one_page's rare case): back
 * to its segment, or kept as its class's spare, whose page is then idle. */
static HZ3_NOINLINE void one_page_run_empty(hz3_central_t *c, hz3_central_shard_t *sh,
                                            hz3_run_t *run) {
  if (give_back_empty_run(c, sh, run)) return;
  if (!run->on_list) list_push(&sh->partial[run->cls], run);
  note_idle_range(c, sh, run, 0, hz3_class_run_objs(run->cls) - 1);
}

/* Frees object idx (checked to start an object) into run, a run of one page.  Its page turns
 * idle only when every object is free, so there is no stretch to note (free_walk's), and the
 * index was computed from the object's address alone. */
static HZ3_ALWAYS_INLINE void free_array_one_page(hz3_central_t *c, hz3_central_shard_t *sh,
                                                  hz3_run_t *run, uint32_t idx, const void *p) {
  uint64_t *word = &run->free_map[idx >> 6], bit = 1ull << (idx & 63);
  if (HZ3_UNLIKELY(*word & bit)) report_already_free(p, (uint32_t)hz3_class_to_size(run->cls));
  *word |= bit;
  if (HZ3_UNLIKELY(++run->nfree == hz3_class_run_objs(run->cls))) {
    one_page_run_empty(c, sh, run);
    return;
  }
  if (HZ3_UNLIKELY(!run->on_list)) list_push(&sh->partial[run->cls], run);
}

void hz3_central_free_array(hz3_central_t *c, uint32_t shard, void *const *objs, uint32_t n) {
  if (n == 0) return;
  hz3_central_shard_t *sh = &c->shards[shard];
  free_walk_t w;
  free_walk_init(&w);
  hz3_run_t *runs[FREE_ARRAY_CHUNK];
  uint16_t idxs[FREE_ARRAY_CHUNK];
  bool locked = false;
  for (uint32_t base = 0; base < n; base += FREE_ARRAY_CHUNK) {
    uint32_t m = HZ3_MIN(n - base, FREE_ARRAY_CHUNK);
    /* Every descriptor of the chunk is asked for before the first is needed (the objects
     * themselves are never read: a list would be walked through them), and each object's run
     * kept.  Most small classes' runs are one page: there the object's index follows from
     * its address and its class (in its page tag), and is checked here, out of the lock and
     * while the descriptors come.  The first chunk is looked up before the lock: tags are
     * lock-free to read, and a run cannot go while an object of it is still allocated. */
    hz3_segment_lookup_t lookup;
    hz3_segment_lookup_init(c->pool, &lookup);
    for (uint32_t k = 0; k < m; k++) {
      const void *p = objs[base + k];
      hz3_tag_t tag;
      hz3_run_t *run = hz3_segment_lookup_run(c->pool, &lookup, p, &tag);
      if (HZ3_UNLIKELY(run == NULL))
        hz3_fatal("free(): double free of %p (its run was freed already)", p);
      __builtin_prefetch(run, 1, 3);
      runs[k] = run;
      uint32_t cls = HZ3_TAG_CLASS(tag);
      idxs[k] = FREE_ARRAY_WALK;
      if (hz3_class_run_pages(cls) == 1)
        idxs[k] = (uint16_t)obj_index_at(cls, (uintptr_t)p & ~(uintptr_t)(HZ3_PAGE_SIZE - 1), p);
    }
    if (!locked) hz3_lock_acquire(&sh->lock), locked = true;
    const uint32_t owner = sh->segments.owner;
    for (uint32_t k = 0; k < m; k++) {
      hz3_run_t *run = runs[k];
      /* A run this walk freed is gone, and so is a run that went after the look-up (its
       * object freed twice, the second time by another thread): either reads as unused now,
       * or as another owner's. */
      if (HZ3_UNLIKELY(run->npages == 0 || run->owner != owner))
        hz3_fatal("free(): double free of %p (its run was freed already)", objs[base + k]);
      if (idxs[k] != FREE_ARRAY_WALK) {
        free_array_one_page(c, sh, run, idxs[k], objs[base + k]);
        continue;
      }
      if (run != w.run) free_walk_switch(c, sh, &w, run);
      free_walk_free(c, sh, &w, objs[base + k]);
    }
  }
  free_walk_end(c, sh, &w);
  hz3_lock_release(&sh->lock);
  HZ3_STAT_ADD(c->stats, central_flushes, 1);
}

void hz3_central_remote_push(hz3_central_t *c, uint32_t shard, void *head, void *tail) {
  hz3_central_shard_t *sh = &c->shards[shard];
  void *old = __atomic_load_n(&sh->inbox, __ATOMIC_RELAXED);
  do {
    obj_set_next(tail, old);
  } while (!__atomic_compare_exchange_n(&sh->inbox, &old, head, true, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
}

/* free_remote, and for a list of one class (n > 0) its transfer list first. */
static void free_remote(hz3_central_t *c, uint32_t shard, uint32_t cls, void *head, void *tail,
                        uint32_t n) {
  hz3_central_shard_t *sh = &c->shards[shard];
  if (!HZ3_REMOTE_DIRECT) {
    hz3_central_remote_push(c, shard, head, tail);
    return;
  }
  if (hz3_lock_try(&sh->lock)) {
    if (n > 0 && transfer_put_locked(c, sh, cls, head, tail, n)) {
      drain_locked(c, sh); /* what waits in the inbox goes to the runs, as below */
      hz3_lock_release(&sh->lock);
      return;
    }
    obj_set_next(tail, NULL);
    drain_locked(c, sh);
    free_list_locked(c, sh, head);
    hz3_lock_release(&sh->lock);
    return;
  }
  hz3_central_remote_push(c, shard, head, tail);
  /* The holder may have drained before this push landed: if the lock is free now, take what
   * waits, so that it does not sit in the inbox of an owner that sleeps. */
  if (hz3_lock_try(&sh->lock)) {
    drain_locked(c, sh);
    hz3_lock_release(&sh->lock);
  }
}

void hz3_central_free_remote(hz3_central_t *c, uint32_t shard, void *head, void *tail) {
  free_remote(c, shard, 0, head, tail, 0);
}

void hz3_central_free_remote_class(hz3_central_t *c, uint32_t shard, uint32_t cls, void *head,
                                   void *tail, uint32_t n) {
  free_remote(c, shard, cls, head, tail, n);
}

uint32_t hz3_central_drain_inbox(hz3_central_t *c, uint32_t shard) {
  hz3_central_shard_t *sh = &c->shards[shard];
  hz3_lock_acquire(&sh->lock);
  uint32_t n = drain_locked(c, sh) + transfer_drain_locked(c, sh);
  hz3_lock_release(&sh->lock);
  return n;
}

uint32_t hz3_central_release_spares(hz3_central_t *c, uint32_t shard) {
  hz3_central_shard_t *sh = &c->shards[shard];
  uint32_t n = 0;
  hz3_lock_acquire(&sh->lock);
  for (uint32_t cls = 0; cls < HZ3_NUM_CLASSES; cls++) {
    for (hz3_run_t *run = sh->partial[cls], *next; run != NULL; run = next) {
      next = run->next;
      if (run->nfree != hz3_class_run_objs(cls)) continue;
      list_remove(&sh->partial[cls], run);
      hz3_segment_free_run(c->pool, &sh->segments, run, sh->epoch);
      n++;
    }
  }
  hz3_lock_release(&sh->lock);
  return n;
}

void hz3_central_lock_all(hz3_central_t *c) {
  for (uint32_t s = 0; s < c->nshards; s++) hz3_lock_acquire(&c->shards[s].lock);
}

void hz3_central_unlock_all(hz3_central_t *c) {
  for (uint32_t s = c->nshards; s-- > 0;) hz3_lock_release(&c->shards[s].lock);
}

void hz3_central_reset_locks_in_child(hz3_central_t *c) {
  for (uint32_t s = 0; s < c->nshards; s++) hz3_lock_reset(&c->shards[s].lock);
}

static bool check_shard(hz3_central_t *c, uint32_t s, hz3_check_report_t *r) {
  hz3_central_shard_t *sh = &c->shards[s];
  uint32_t listed = 0;
  for (uint32_t cls = 0; cls < HZ3_NUM_CLASSES; cls++) {
    hz3_run_t *prev = NULL;
    uint32_t spares = 0;
    for (hz3_run_t *run = sh->partial[cls]; run != NULL; prev = run, run = run->next) {
      uint32_t bits = 0;
      for (uint32_t w = 0; w < HZ3_RUN_MAP_WORDS; w++)
        bits += (uint32_t)__builtin_popcountll(run->free_map[w]);
      if (run->prev != prev || !run->on_list)
        return hz3_check_fail(r, "shard %u class %u: broken partial list", s, cls);
      if (run->cls != cls || run->owner != s || run->npages == 0)
        return hz3_check_fail(r, "shard %u class %u: run of class %u owner %u on list", s, cls,
                              run->cls, run->owner);
      if (bits != run->nfree || run->nfree == 0 || run->nfree > hz3_class_run_objs(cls))
        return hz3_check_fail(r, "shard %u class %u: run nfree %u, %u bits, %u objects", s, cls,
                              run->nfree, bits, hz3_class_run_objs(cls));
      if (run->nfree == hz3_class_run_objs(cls) && ++spares > 1)
        return hz3_check_fail(r, "shard %u class %u: two wholly free runs kept", s, cls);
      listed++;
    }
  }
  /* Transfer lists: objects of their class and shard, allocated as far as their runs know. */
  for (uint32_t cls = 0; cls < HZ3_NUM_CLASSES; cls++) {
    const hz3_central_transfer_t *t = &sh->transfer[cls];
    uint32_t n = 0;
    void *last = NULL;
    for (void *p = t->head; p != NULL && n <= t->n; last = p, p = obj_next(p), n++) {
      hz3_run_t *run = hz3_segment_run_of(c->pool, p);
      if (run == NULL || run->cls != cls || run->owner != s)
        return hz3_check_fail(r, "shard %u class %u: transfer list holds %p of another run", s, cls,
                              p);
      uint32_t idx = (uint32_t)(((uintptr_t)p - (uintptr_t)hz3_segment_run_start(c->pool, run)) /
                                hz3_class_to_size(cls));
      if (obj_is_free(run, idx))
        return hz3_check_fail(r, "shard %u class %u: %p is on a transfer list and free in its run",
                              s, cls, p);
      if (*transfer_word(p) != (c->transfer_mark ^ (uintptr_t)p))
        return hz3_check_fail(r, "shard %u class %u: %p on a transfer list lost its mark", s, cls,
                              p);
    }
    if (n != t->n || last != t->tail)
      return hz3_check_fail(r, "shard %u class %u: transfer list n %u, list %u", s, cls, t->n, n);
    if ((uint64_t)t->n * hz3_class_to_size(cls) > HZ3_TRANSFER_MAX_BYTES)
      return hz3_check_fail(r, "shard %u class %u: transfer list over its bytes", s, cls);
  }
  /* Every partly or wholly free run of the shard's segments is listed (a wholly free one only
   * as its class's spare, at most one a class: checked above). */
  uint32_t partly_free = 0;
  for (hz3_segment_t *seg = sh->segments.head; seg != NULL; seg = seg->next) {
    for (uint32_t slot = 0; slot < HZ3_SEG_PAGES; slot++) {
      if (!((seg->slot_used[slot >> 6] >> (slot & 63)) & 1)) continue;
      hz3_run_t *run = &seg->runs[slot];
      uint32_t pg = run->first_page % HZ3_SEG_PAGES;
      if (run->nfree == hz3_class_run_objs(run->cls) && !run->on_list)
        return hz3_check_fail(r, "shard %u: wholly free run kept at page %u", s, run->first_page);
      /* A page is idle iff every object overlapping it is free in central. */
      size_t size = hz3_class_to_size(run->cls);
      uint32_t objs = hz3_class_run_objs(run->cls);
      for (uint32_t i = 0; i < run->npages; i++) {
        size_t lo_byte = (size_t)i << HZ3_PAGE_SHIFT;
        uint32_t lo = (uint32_t)(lo_byte / size);
        uint32_t hi = HZ3_MIN(objs - 1, (uint32_t)((lo_byte + HZ3_PAGE_SIZE - 1) / size));
        if (hz3_segment_page_is_idle(seg, pg + i) != objs_all_free(run, lo, hi))
          return hz3_check_fail(r, "shard %u: page %u of run at %u idle=%d but objects free=%d", s,
                                i, run->first_page, hz3_segment_page_is_idle(seg, pg + i),
                                objs_all_free(run, lo, hi));
      }
      if (run->nfree > 0) {
        if (!run->on_list)
          return hz3_check_fail(r, "shard %u: partly free run not listed (page %u)", s,
                                run->first_page);
        partly_free++;
      }
    }
  }
  if (partly_free != listed)
    return hz3_check_fail(r, "shard %u: %u runs listed, %u partly free", s, listed, partly_free);
  return true;
}

bool hz3_central_check(hz3_central_t *c, hz3_check_report_t *report) {
  for (uint32_t s = 0; s < c->nshards; s++) {
    hz3_lock_acquire(&c->shards[s].lock);
    bool ok = check_shard(c, s, report);
    hz3_lock_release(&c->shards[s].lock);
    if (!ok) return false;
  }
  return hz3_segment_check(c->pool, report);
}

uint64_t hz3_central_free_objects(hz3_central_t *c, uint32_t shard) {
  hz3_central_shard_t *sh = &c->shards[shard];
  uint64_t n = 0;
  hz3_lock_acquire(&sh->lock);
  for (uint32_t cls = 0; cls < HZ3_NUM_CLASSES; cls++)
    for (hz3_run_t *run = sh->partial[cls]; run != NULL; run = run->next) n += run->nfree;
  hz3_lock_release(&sh->lock);
  return n;
}

uint32_t hz3_central_transferring(hz3_central_t *c, uint32_t shard) {
  hz3_central_shard_t *sh = &c->shards[shard];
  uint32_t n = 0;
  hz3_lock_acquire(&sh->lock);
  for (uint32_t cls = 0; cls < HZ3_NUM_CLASSES; cls++) n += sh->transfer[cls].n;
  hz3_lock_release(&sh->lock);
  return n;
}

uint64_t hz3_central_bytes_out(hz3_central_t *c) {
  uint64_t bytes = 0;
  for (uint32_t s = 0; s < c->nshards; s++) {
    hz3_central_shard_t *sh = &c->shards[s];
    hz3_lock_acquire(&sh->lock);
    for (hz3_segment_t *seg = sh->segments.head; seg != NULL; seg = seg->next) {
      for (uint32_t w = 0; w < HZ3_SEG_WORDS; w++) {
        for (uint64_t used = seg->slot_used[w]; used != 0; used &= used - 1) {
          const hz3_run_t *run = &seg->runs[w * 64 + (uint32_t)__builtin_ctzll(used)];
          bytes +=
              (uint64_t)(hz3_class_run_objs(run->cls) - run->nfree) * hz3_class_to_size(run->cls);
        }
      }
    }
    hz3_lock_release(&sh->lock);
  }
  return bytes;
}
