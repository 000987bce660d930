/* tcache/tcache.c: the slow paths of the per-thread cache: set-up, refill, flush, remote
 * stash, teardown. */
#include "tcache/tcache.h"

#include <errno.h>
#include <string.h>

/* Links of bin lists are stored XORed with the env's key (tcache_fast.h). */
static inline void *link_get(const hz3_tcache_t *tc, const void *p) {
  return (void *)(*(const uintptr_t *)p ^ tc->env->link_key);
}
static inline void link_set(const hz3_tcache_t *tc, void *p, void *next) {
  *(uintptr_t *)p = (uintptr_t)next ^ tc->env->link_key;
}

void hz3_tcache_double_free(void *p) {
  hz3_fatal(
      "free(): double free of %p (it is already the newest free object of its size in "
      "this thread's cache)",
      p);
}

/* Whether v is NULL or an object of the pool (the shape of a plain, unencoded link). */
static bool is_object_or_null(const hz3_segment_pool_t *pool, const void *v) {
  return v == NULL || hz3_segment_tag_or_zero(pool, v) != 0;
}

/* The object p links to next, which is not an object of the pool: reports it and aborts. */
static HZ3_NOINLINE HZ3_COLD void link_corrupt(const hz3_tcache_t *tc, const void *p,
                                               const void *next) {
  if (is_object_or_null(tc->env->pool, (const void *)(*(const uintptr_t *)p)))
    hz3_fatal(
        "free(): double free of %p (it is in this thread's cache twice; or a pointer was "
        "written into it after free)",
        p);
  hz3_fatal(
      "malloc: corrupted free list: the free object %p links to %p, not a free object "
      "(written to after free, or overrun by its neighbour)",
      p, next);
}

/* A decoded link must be NULL or an object of the pool in a run: anything else means the freed
 * object was written to after free (a use-after-free or an overflow into it), or it is in the
 * bin twice: a double free whose first copy a flush has already relinked with a plain
 * pointer, which is what the raw word then holds.  Returns next's page tag (0 for NULL). */
static HZ3_ALWAYS_INLINE hz3_tag_t check_link(const hz3_tcache_t *tc, const void *p,
                                              const void *next) {
  if (next == NULL) return 0;
  hz3_tag_t tag = hz3_segment_tag_or_zero(tc->env->pool, next);
  if (HZ3_UNLIKELY(tag == 0)) link_corrupt(tc, p, next);
  return tag;
}

/* check_link for a link from p, whose page tag is p_tag: a link to p's own page needs no lookup
 * (a run covers whole pages, so it is an object's address of the same run if any; central
 * checks that it starts an object), and most links of a bin are such (a bin refilled from a
 * run, or freed in address order, links neighbours). */
static HZ3_ALWAYS_INLINE hz3_tag_t check_link_from(const hz3_tcache_t *tc, const void *p,
                                                   hz3_tag_t p_tag, const void *next) {
  if (((uintptr_t)p ^ (uintptr_t)next) < HZ3_PAGE_SIZE) return p_tag;
  return check_link(tc, p, next);
}

/* The same where the tag is not wanted (walks to a cut). */
static HZ3_ALWAYS_INLINE void check_link_near(const hz3_tcache_t *tc, const void *p,
                                              const void *next) {
  if (((uintptr_t)p ^ (uintptr_t)next) >= HZ3_PAGE_SIZE) check_link(tc, p, next);
}

/* A bin may grow to this many bytes' worth of objects, and at least 4 and at most 2048
 * objects: small classes get long bins, 64 KiB objects short ones; a thread cycling batches
 * of 1 600 objects of one size keeps them all.  Bins start short (HZ3_BIN_START_LEN objects,
 * at most HZ3_BIN_START_BYTES) and double each time they run empty, so a thread that touches
 * a class once (a short-lived thread) takes a first batch of 4 and gives back 4 at exit, and
 * one that works a class gets a long bin within a few refills.  (Starting at 16, a thread
 * of 100 objects over 50 classes carved and freed 800: `churn 300 20` under callgrind,
 * 70.9 M instructions in all at 16, 35.6 M at 4.)  Growth beyond HZ3_TCACHE_GROW_BYTES in all (the
 * sum of the bins' max lengths in bytes) takes capacity from other bins, round robin: what a
 * thread's bins may hold stays bounded however many classes it works. */
#define HZ3_BIN_BYTES (4u << 20)
#define HZ3_BIN_MIN_LEN 4u
#define HZ3_BIN_MAX_LEN 2048u
#define HZ3_BIN_START_LEN 4u
#define HZ3_BIN_START_BYTES (16u << 10)
#define HZ3_TCACHE_GROW_BYTES ((uint64_t)16 << 20)
/* ... but that much a thread only while few threads work: the bins of every live cache share
 * env->shared_grow_bytes, each at least this much.  A thread's bins that random-walk (it
 * frees into a class about as often as it allocates from it, as every thread of a server
 * does) run empty now and then and grow each time, to several MiB a thread: `handoff 16`
 * held 50 MiB at its peak for 2 MiB of live blocks (tcmalloc 18 MiB), `handoff 4` 27 MiB. */
#define HZ3_TCACHE_GROW_MIN_BYTES ((uint64_t)1 << 20)
/* One refill brings at most this many bytes. */
#define HZ3_REFILL_BYTES (256u << 10)

/* A big class (one object a run) up to HZ3_BIG_BIN_MAX_SIZE keeps at most this many bytes in
 * its bin, and its bin opens only when the thread allocates the class (start max 0): a
 * thread that cycles a 100 KB buffer took its run from the segment and gave it back, each
 * under the shard lock, 470 ns a malloc+free (tcmalloc 7, mimalloc 20, glibc 31).  Larger big
 * objects always go home: a thread touches their pages for far longer than the way costs,
 * and each would hold a quarter to two MiB out of the release policy's sight. */
#define HZ3_BIG_BIN_BYTES (512u << 10)
#define HZ3_BIG_BIN_MAX_SIZE (256u << 10)

static uint32_t bin_cap(const hz3_tcache_env_t *env, uint32_t cls) {
  uint32_t size = (uint32_t)hz3_class_to_size(cls), cap;
  if (hz3_class_is_big(cls)) {
    if (size > HZ3_BIG_BIN_MAX_SIZE) return 0; /* closed for good: see hz3_tcache_alloc_direct */
    cap = HZ3_MAX(1u, HZ3_BIG_BIN_BYTES / size);
  } else {
    cap = HZ3_MAX(HZ3_BIN_MIN_LEN, HZ3_MIN(HZ3_BIN_BYTES / size, HZ3_BIN_MAX_LEN));
  }
  return env->bin_max ? HZ3_MIN(cap, env->bin_max) : cap;
}

/* Class c's bin length before its first refill. */
static uint32_t start_max(const hz3_tcache_env_t *env, uint32_t c) {
  if (hz3_class_is_big(c)) return 0; /* opens when the thread allocates one */
  if (env->s58) return HZ3_MIN(bin_cap(env, c), env->s58_initial_max_len); /* the seed's S58 */
  uint32_t by_bytes = HZ3_BIN_START_BYTES / (uint32_t)hz3_class_to_size(c);
  return HZ3_MIN(bin_cap(env, c), HZ3_MAX(1u, HZ3_MIN(HZ3_BIN_START_LEN, by_bytes)));
}

/* Fills max[c + 1] with each class's first bin length; returns their bytes in all. */
static uint64_t fill_start_max(const hz3_tcache_env_t *env, uint32_t max[HZ3_NUM_BINS]) {
  uint64_t bytes = 0;
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) {
    max[c + 1] = start_max(env, c);
    bytes += (uint64_t)max[c + 1] * hz3_class_to_size(c);
  }
  return bytes;
}

hz3_tcache_env_t hz3_tcache_env_default(hz3_central_t *central, hz3_segment_pool_t *pool,
                                        void (*epoch_tick)(void)) {
  hz3_tcache_env_t env = {
      .central = central,
      .pool = pool,
      .epoch_tick = epoch_tick,
      .refill_batch = 0,
      .bin_max = 0,
      .stash_batch = 32,
      .link_key = 0, /* preload sets a random one */
      .max_bytes = HZ3_TCACHE_MAX_BYTES,
      .shared_grow_bytes = HZ3_TCACHE_SHARED_BYTES,
      .live_caches = NULL, /* preload points it at its counter */
      .s58 = HZ3_S58_TCACHE_DECAY,
      .s58_initial_max_len = HZ3_S58_INITIAL_MAX_LEN,
      .s58_max_overages = HZ3_S58_MAX_OVERAGES,
      .s58_reclaim_budget = HZ3_S58_RECLAIM_BUDGET,
  };
  env.start_bytes = fill_start_max(&env, env.start_max);
  env.start_ready = true;
  return env;
}

/* The bytes this thread's bins may grow into now: its share of what all live caches share. */
static uint64_t grow_limit(const hz3_tcache_env_t *env) {
  if (env->shared_grow_bytes == 0) return HZ3_TCACHE_GROW_BYTES;
  uint32_t live = env->live_caches ? __atomic_load_n(env->live_caches, __ATOMIC_RELAXED) : 1;
  uint64_t share = env->shared_grow_bytes / HZ3_MAX(live, 1u);
  return HZ3_MAX(HZ3_TCACHE_GROW_MIN_BYTES, HZ3_MIN(share, HZ3_TCACHE_GROW_BYTES));
}

/* Counts a cache in (+1) or out (-1) of those sharing the growth budget. */
static void count_live(const hz3_tcache_env_t *env, int delta) {
  if (env->live_caches) __atomic_fetch_add(env->live_caches, (uint32_t)delta, __ATOMIC_RELAXED);
}

static uint32_t refill_count(const hz3_tcache_env_t *env, uint32_t max, uint32_t cls) {
  uint32_t want = HZ3_MAX(1u, max / 2);
  if (env->refill_batch) want = HZ3_MIN(want, env->refill_batch);
  uint32_t by_bytes = HZ3_REFILL_BYTES / (uint32_t)hz3_class_to_size(cls);
  return HZ3_MAX(1u, HZ3_MIN(want, by_bytes));
}

/* Counts a slow-path event; every HZ3_EPOCH_INTERVAL of them ticks the epoch. */
static void tick(hz3_tcache_t *tc) {
  if (++tc->slow_events >= HZ3_EPOCH_INTERVAL) {
    tc->slow_events = 0;
    if (tc->env->epoch_tick) tc->env->epoch_tick();
  }
}

static size_t bin_obj_bytes(uint32_t bin) { return hz3_class_to_size(bin - 1); }

void hz3_tcache_setup(hz3_tcache_t *tc, const hz3_tcache_env_t *env, uint32_t shard) {
  memset(tc, 0, sizeof *tc);
  tc->env = env;
  tc->shard = shard;
  tc->steal_next = 1;
  if (env->start_ready && env->bin_max == 0 && !env->s58) {
    memcpy(tc->bins.max, env->start_max, sizeof tc->bins.max);
    tc->budget_used_bytes = env->start_bytes;
  } else {
    tc->budget_used_bytes = fill_start_max(env, tc->bins.max);
  }
  memcpy(tc->bins.room, tc->bins.max, sizeof tc->bins.room); /* empty: all of max is room */
  tc->state = HZ3_TCACHE_ACTIVE;
  count_live(env, +1);
}

static uint32_t release_list(hz3_tcache_t *tc, void *head);

/* Ends bin i's list after its first k objects (1 <= k <= len), checking each link it
 * passes, and returns what followed them (links keyed; NULL if nothing did).  The bin's head,
 * length and max are the caller's to set. */
static void *bin_split_after(hz3_tcache_t *tc, uint32_t i, uint32_t k) {
  void *last = tc->bins.head[i];
  for (uint32_t n = 1; n < k; n++) {
    void *next = link_get(tc, last);
    check_link_near(tc, last, next);
    last = next;
  }
  void *rest = link_get(tc, last);
  check_link(tc, last, rest);
  link_set(tc, last, NULL);
  return rest;
}

/* Cuts bin i down to its newest `keep` objects and returns the older ones, still linked with
 * the key (release_list decodes them); NULL if there is nothing beyond keep. */
static void *bin_cut(hz3_tcache_t *tc, uint32_t i, uint32_t keep) {
  hz3_bins_t *b = &tc->bins;
  if (hz3_bins_len(b, i) <= keep) return NULL;
  void *rest = b->head[i];
  if (keep == 0)
    b->head[i] = NULL;
  else
    rest = bin_split_after(tc, i, keep);
  hz3_bins_set_len(b, i, keep);
  return rest;
}

/* Cuts the newest n objects (1 <= n <= len) off bin i and returns them, links keyed and the
 * last one ending the list. */
static void *bin_take_newest(hz3_tcache_t *tc, uint32_t i, uint32_t n) {
  hz3_bins_t *b = &tc->bins;
  void *first = b->head[i];
  b->head[i] = bin_split_after(tc, i, n);
  hz3_bins_set_len(b, i, hz3_bins_len(b, i) - n);
  return first;
}

/* Where objects cut from bin i go (rest: n of them, links keyed, as bin_cut returns them):
 * whole into the shared batches while refills of the class ask for them, else home.  Returns
 * whether most of them are other shards' objects; a batch kept is judged by its first object
 * (walking it would touch every object, the cost keeping it whole saves). */
static bool send_cut(hz3_tcache_t *tc, uint32_t i, void *rest, uint32_t n) {
  if (rest == NULL) return false;
  hz3_batches_t *batches = tc->env->batches;
  if (batches != NULL && (uint64_t)n * bin_obj_bytes(i) <= HZ3_REFILL_BYTES &&
      !hz3_class_is_big(i - 1) && hz3_batches_put(batches, i - 1, rest, n))
    return HZ3_TAG_OWNER(hz3_segment_tag(tc->env->pool, rest)) != tc->shard;
  return 2 * release_list(tc, rest) > n;
}

/* Sets bin i's max length, keeping the byte budget's books and sending any excess home. */
static void set_bin_max(hz3_tcache_t *tc, uint32_t i, uint32_t max) {
  tc->budget_used_bytes = tc->budget_used_bytes - (uint64_t)tc->bins.max[i] * bin_obj_bytes(i) +
                          (uint64_t)max * bin_obj_bytes(i);
  uint32_t len = hz3_bins_len(&tc->bins, i);
  tc->bins.max[i] = max;
  hz3_bins_set_len(&tc->bins, i, len); /* over max for a moment: room wraps, cut below */
  send_cut(tc, i, bin_cut(tc, i, max), len > max ? len - max : 0);
}

/* Halves the max length of the next bin (round robin, not `except`) that has one; false when
 * no bin has anything to give.  only_idle: only a bin that holds no more than its new max
 * (halving it moves no object; one fuller would be cut, walking its list). */
static bool steal_one(hz3_tcache_t *tc, uint32_t except, bool only_idle) {
  for (uint32_t k = 0; k < HZ3_NUM_BINS - 1; k++) {
    uint32_t i = tc->steal_next;
    tc->steal_next = i + 1 < HZ3_NUM_BINS ? i + 1 : 1;
    if (i == except || tc->bins.max[i] == 0) continue;
    if (only_idle && hz3_bins_len(&tc->bins, i) > tc->bins.max[i] / 2) continue;
    set_bin_max(tc, i, tc->bins.max[i] / 2);
    return true;
  }
  return false;
}

/* Doubles bin i's max length (up to its cap) if the bins' total stays within limit bytes,
 * halving other bins round robin for room if may_steal. */
static void grow_bin(hz3_tcache_t *tc, uint32_t i, uint64_t limit, bool may_steal) {
  uint32_t max = tc->bins.max[i];
  uint32_t want = HZ3_MIN(bin_cap(tc->env, i - 1), max ? max * 2 : 1);
  if (want <= max) return;
  uint64_t more = (uint64_t)(want - max) * bin_obj_bytes(i);
  while (may_steal && tc->budget_used_bytes + more > limit && steal_one(tc, i, true)) {
  }
  if (tc->budget_used_bytes + more <= limit) set_bin_max(tc, i, want);
}

/* Frees keep overflowing bins with no refill between: the thread is emptying its working set,
 * the shape of a phase that ends in idleness.  Bring the bins' total max length back within
 * the byte budget, halving other bins round robin (their excess goes home).  From then on,
 * whatever the thread does short of allocating again, it holds at most max_bytes. */
static void enforce_budget(hz3_tcache_t *tc, uint32_t i, bool close_empty) {
  /* close_empty (a consumer of other threads' objects): all its empty bins first, as it has
   * no use for their room, and closing them leaves the budget to the bins it frees into,
   * which grow into it (a refill opens them again).  Closing only until under the budget
   * left the room to grow in to chance: bins start at 4, and a consumer's bins stuck at 16
   * sent batches of 9, half of what transfer lists took before.  A thread emptying its own
   * working set halves them all alike, which leaves it holding less when it goes idle. */
  if (close_empty && tc->budget_used_bytes > tc->env->max_bytes)
    for (uint32_t k = 1; k < HZ3_NUM_BINS; k++)
      if (k != i && tc->bins.head[k] == NULL && tc->bins.max[k] != 0) set_bin_max(tc, k, 0);
  while (tc->budget_used_bytes > tc->env->max_bytes && steal_one(tc, i, false)) {
  }
  while (tc->budget_used_bytes > tc->env->max_bytes && tc->bins.max[i] > 0)
    set_bin_max(tc, i, tc->bins.max[i] / 2);
}

void *hz3_tcache_refill(hz3_tcache_t *tc, uint32_t cls) {
  HZ3_ASSERT(tc->state == HZ3_TCACHE_ACTIVE || tc->state == HZ3_TCACHE_DEAD);
  const hz3_tcache_env_t *env = tc->env;
  void *head = NULL;
  if (tc->state == HZ3_TCACHE_DEAD) {
    /* After this thread's teardown: one object at a time, nothing cached. */
    return hz3_central_alloc_batch(env->central, tc->shard, cls, 1, &head) ? head : NULL;
  }
  tick(tc);
  uint32_t i = cls + 1;
  HZ3_ASSERT(tc->bins.head[i] == NULL &&
             hz3_bins_len(&tc->bins, i) == 0); /* only empty bins refill */
  tc->drain_streak = 0;
  /* Ran empty: the thread allocates more than it frees here, so let it hold more.  Free of
   * the byte budget: a thread that allocates is working, and SSOT-like loops need their cache. */
  grow_bin(tc, i, grow_limit(env), true);
  hz3_batch_t batch;
  uint32_t n;
  /* Up to twice the bin's length, which then grows to fit it: a batch is half a bin of the
   * thread that flushed it, and bins differ (growth and steals halve and double them); with
   * only batches that fit as they are, a third of those left waiting went stale unused
   * (handoff 16).  No batch is beyond a bin's cap: it was half of one. */
  if (env->batches != NULL && hz3_batches_take(env->batches, cls, 2 * tc->bins.max[i], &batch)) {
    /* Half a bin, flushed by some thread: it becomes this bin as it is, its first
     * link checked (central's carved lists are fresh; this one was a bin's). */
    if (batch.n > tc->bins.max[i]) set_bin_max(tc, i, batch.n);
    head = batch.head;
    n = batch.n;
    check_link(tc, head, link_get(tc, head));
    HZ3_STAT_ADD(env->central->stats, batch_refills, 1);
  } else {
    n = hz3_central_alloc_batch_linked(env->central, tc->shard, cls,
                                       refill_count(env, tc->bins.max[i], cls), env->link_key,
                                       &head);
    if (n == 0) return NULL; /* errno = ENOMEM from central */
  }
  tc->bins.head[i] = link_get(tc, head);
  hz3_bins_set_len(&tc->bins, i, n - 1);
  return head;
}

/* Puts p in front of the plain list l (head, tail and count). */
static inline void list_push_front(hz3_stash_t *l, void *p) {
  *(void **)p = l->head;
  l->head = p;
  if (l->tail == NULL) l->tail = p;
  l->n++;
}

static void stash_push(hz3_tcache_t *tc, uint32_t owner, void *p) {
  hz3_stash_t *st = &tc->stash[owner];
  list_push_front(st, p);
  tc->stashed++;
  if (st->n >= tc->env->stash_batch) {
    hz3_central_free_remote(tc->env->central, owner, st->head, st->tail);
    tc->stashed -= st->n;
    st->head = st->tail = NULL;
    st->n = 0;
  }
}

/* A flushed bin's objects of other shards, by owner (plain links). */
typedef struct remote_lists {
  uint64_t owners; /* bit s: lists[s] is not empty */
  hz3_stash_t lists[HZ3_NUM_SHARDS];
} remote_lists_t;

/* A flush's share of one owner: HZ3_TRANSFER_MIN_OBJS or more go to the owner's transfer
 * list for the class (its next refill takes them whole), fewer wait in the stash for more. */
#define HZ3_TRANSFER_MIN_OBJS 8u
static void send_remote(hz3_tcache_t *tc, uint32_t owner, uint32_t cls, hz3_stash_t *l) {
  if (l->n >= HZ3_MIN(HZ3_TRANSFER_MIN_OBJS, tc->env->stash_batch)) {
    hz3_central_free_remote_class(tc->env->central, owner, cls, l->head, l->tail, l->n);
    return;
  }
  for (void *p = l->head, *next; p != NULL; p = next) {
    next = *(void **)p;
    stash_push(tc, owner, p);
  }
}

static uint32_t release_into(hz3_tcache_t *tc, void **headp, uint32_t limit, void **mine_out);

/* Sends a list of objects cut from a bin (links keyed; one class) home: this shard's to
 * central in one locked call, the others' by owner (send_remote).  Returns how many were
 * other shards'. */
static uint32_t release_list(hz3_tcache_t *tc, void *head) {
  return release_into(tc, &head, UINT32_MAX, NULL);
}

/* The same for the first limit objects of the list *headp (all of it if shorter), leaving
 * *headp at the rest; with mine_out, this shard's objects are put in front of *mine_out (plain
 * links) for the caller to free in one locked call with other bins' (thread exit). */
static uint32_t release_into(hz3_tcache_t *tc, void **headp, uint32_t limit, void **mine_out) {
  void *head = *headp;
  if (head == NULL || limit == 0) return 0;
  const hz3_tcache_env_t *env = tc->env;
  hz3_stash_t mine = {NULL, NULL, 0};
  remote_lists_t remote;
  remote.owners = 0;
  /* head was checked as the link to it (bin_cut), or is a bin's head (free put it there);
   * each next's tag comes with its check. */
  hz3_tag_t tag = hz3_segment_tag(env->pool, head);
  const uint32_t cls = HZ3_TAG_CLASS(tag);
  uintptr_t fetched_page = 0; /* the page whose run descriptor was asked for last */
  for (uint32_t n = 0; head != NULL && n < limit; n++) {
    void *next = link_get(tc, head);
    hz3_tag_t next_tag = check_link_from(tc, head, tag, next);
    uint32_t owner = HZ3_TAG_OWNER(tag);
    if (owner == tc->shard) {
      /* Its run's descriptor, asked for now, is there when central frees the list: objects
       * freed far apart miss on theirs one after another otherwise.  Neighbours share it. */
      if (((uintptr_t)head >> HZ3_PAGE_SHIFT) != fetched_page) {
        fetched_page = (uintptr_t)head >> HZ3_PAGE_SHIFT;
        hz3_segment_prefetch_run(env->pool, head, tag);
      }
      list_push_front(&mine, head);
    } else {
      hz3_stash_t *l = &remote.lists[owner];
      if (!(remote.owners >> owner & 1)) {
        remote.owners |= 1ull << owner;
        l->head = l->tail = NULL;
        l->n = 0;
      }
      list_push_front(l, head);
    }
    head = next;
    tag = next_tag;
  }
  *headp = head; /* the rest, links still keyed */
  if (mine_out != NULL && mine.head != NULL) {
    *(void **)mine.tail = *mine_out;
    *mine_out = mine.head;
  } else {
    hz3_central_free_list(env->central, tc->shard, mine.head);
  }
  uint32_t others = 0;
  for (uint64_t o = remote.owners; o != 0; o &= o - 1) {
    uint32_t owner = (uint32_t)__builtin_ctzll(o);
    others += remote.lists[owner].n;
    HZ3_STAT_ADD(env->central->stats, remote_frees, remote.lists[owner].n);
    send_remote(tc, owner, cls, &remote.lists[owner]);
  }
  return others;
}

/* The bin is full: half its max stays, the rest goes on, whole into the shared batches while
 * refills ask for them, else home.  Which half stays depends on what the thread does:
 * - working (it refilled since its last overflow): the newest, the objects likeliest in
 *   cache for its next allocations (SSOT medium lost 3 % keeping the older half), at the
 *   price of walking them to find the cut;
 * - freeing without allocating (HZ3_DRAIN_STREAK overflows in a row, as when a program drops
 *   its records): the older, and the newest go home sorted in the walk that cuts them off, so a
 *   flush walks only what it sends (`dict_churn.py` spent a third of its flushes'
 *   instructions walking what it kept).
 * Returns whether most of what went were other shards' objects. */
static bool flush_bin(hz3_tcache_t *tc, uint32_t i) {
  hz3_bins_t *b = &tc->bins;
  uint32_t keep = b->max[i] / 2, sent = hz3_bins_len(b, i) - keep;
  if (tc->drain_streak < HZ3_DRAIN_STREAK) return send_cut(tc, i, bin_cut(tc, i, keep), sent);
  if (tc->env->batches != NULL && hz3_batches_may_keep(tc->env->batches, i - 1))
    return send_cut(tc, i, bin_take_newest(tc, i, sent), sent);
  uint32_t others = release_into(tc, &b->head[i], sent, NULL);
  hz3_bins_set_len(b, i, keep);
  return 2 * others > sent;
}

void *hz3_tcache_alloc_direct(hz3_tcache_t *tc, uint32_t cls, bool *zeroed) {
  HZ3_ASSERT(tc->state == HZ3_TCACHE_ACTIVE || tc->state == HZ3_TCACHE_DEAD);
  if (tc->state == HZ3_TCACHE_ACTIVE) {
    tick(tc);
    /* The bin ran empty (or is not open yet): as a refill, the thread works, and its bin may
     * hold one more of what it allocates (up to bin_cap; never at other bins' cost). */
    tc->drain_streak = 0;
    if (tc->bins.head[cls + 1] == NULL) grow_bin(tc, cls + 1, grow_limit(tc->env), false);
  }
  return hz3_central_alloc_big(tc->env->central, tc->shard, cls, zeroed);
}

void hz3_tcache_free_home(hz3_tcache_t *tc, void *p, hz3_tag_t tag) {
  HZ3_ASSERT(tag != 0 && tc->state != HZ3_TCACHE_FRESH);
  if (tc->state == HZ3_TCACHE_ACTIVE) tick(tc);
  uint32_t owner = HZ3_TAG_OWNER(tag);
  *(void **)p = NULL;
  if (owner == tc->shard)
    hz3_central_free_list(tc->env->central, owner, p);
  else
    hz3_central_free_remote(tc->env->central, owner, p, p);
}

static void send_homeward(hz3_tcache_t *tc) {
  hz3_central_free_array(tc->env->central, tc->shard, tc->homeward, tc->nhomeward);
  tc->nhomeward = 0;
  tc->homeward_bytes = 0;
}

/* A homeward send counts as this many overflows in the drain streak: the flushes of a
 * draining thread's small bins it stands for (an overflow sends half a bin, and the byte
 * budget keeps a draining thread's bins short: 14 objects on average in rounds 8). */
#define HZ3_HOMEWARD_OVERFLOWS (HZ3_HOMEWARD_SLOTS / 8)

/* After `overflows` overflows of full bins, the last of bin i (or a homeward send, their
 * counterpart while the thread drains): the drain bookkeeping. */
static void after_overflow(hz3_tcache_t *tc, uint32_t i, bool mostly_remote, uint32_t overflows) {
  if (tc->env->max_bytes == 0) return;
  uint32_t before = tc->drain_streak;
  tc->drain_streak = before + overflows;
  if (tc->drain_streak >= HZ3_DRAIN_STREAK) {
    /* Past HZ3_DRAIN_BATCHES_STREAK the thread surely empties its working set, and other
     * threads may be doing the same (a phase ending): what waits in the shared batches
     * goes home, and they keep nothing more until refills ask again.  Once a streak: a
     * consumer's never ends. */
    if (before < HZ3_DRAIN_BATCHES_STREAK && tc->drain_streak >= HZ3_DRAIN_BATCHES_STREAK &&
        tc->env->batches != NULL)
      hz3_tcache_send_batches(tc, tc->env, true);
    enforce_budget(tc, i, mostly_remote);
    /* A thread that frees other threads' objects here without allocating (a consumer)
     * flushes max / 2 at a time: let the bin grow into room the budget has left, without
     * taking other bins', so that its batches are large (the owners' transfer lists take
     * them whole) while what the thread may hold stays within max_bytes.  A thread emptying
     * its own working set (going idle) keeps its small bins. */
    if (mostly_remote) grow_bin(tc, i, tc->env->max_bytes, false);
  }
}

void hz3_tcache_homeward_full(hz3_tcache_t *tc, uint32_t i) {
  tick(tc); /* one event a send, as a flush is one: the epochs keep their pace */
  send_homeward(tc);
  after_overflow(tc, i, false, HZ3_HOMEWARD_OVERFLOWS);
}

/* free_slow's other cases: a dead cache, a big class, a bin with room, or a full bin's
 * overflow. */
static HZ3_NOINLINE void free_slow_bin(hz3_tcache_t *tc, void *p, hz3_tag_t tag) {
  if (tc->state == HZ3_TCACHE_DEAD ||
      (hz3_class_is_big(HZ3_TAG_CLASS(tag)) && tc->bins.max[HZ3_TAG_BIN(tag)] == 0)) {
    hz3_tcache_free_home(tc, p, tag); /* a big class's closed bin: not allocated here */
    return;
  }
  HZ3_ASSERT(tc->state == HZ3_TCACHE_ACTIVE);
  tick(tc);
  uint32_t i = HZ3_TAG_BIN(tag);
  hz3_bins_t *b = &tc->bins;
  link_set(tc, p, b->head[i]);
  b->head[i] = p;
  uint32_t len = hz3_bins_len(b, i) + 1;
  hz3_bins_set_len(b, i, len);
  if (len > b->max[i]) {
    if (tc->overflows[i] < UINT16_MAX) tc->overflows[i]++;
    uint32_t sent = len - b->max[i] / 2, weight = 1;
    if (tc->drain_streak != 0) weight = HZ3_MAX(1u, sent / HZ3_DRAIN_OVERFLOW_OBJECTS);
    after_overflow(tc, i, flush_bin(tc, i), weight);
  }
}

/* The homeward case first, with nothing else in its way: while a thread drains, every free of
 * its own objects lands here (or in hz3_tcache_free_homeward from preload). */
void hz3_tcache_free_slow(hz3_tcache_t *tc, void *p, hz3_tag_t tag) {
  HZ3_ASSERT(tag != 0);
  if (hz3_tcache_free_homeward(tc, p, tag)) return;
  uint32_t i = HZ3_TAG_BIN(tag);
  if (HZ3_UNLIKELY(p == tc->bins.head[i])) hz3_tcache_double_free(p);
  free_slow_bin(tc, p, tag);
}

uint32_t hz3_tcache_reclaim(hz3_tcache_t *tc) {
  const hz3_tcache_env_t *env = tc->env;
  if (tc->state != HZ3_TCACHE_ACTIVE || !env->s58) return 0;
  uint32_t reclaimed = 0;
  for (uint32_t i = 1; i < HZ3_NUM_BINS && reclaimed < env->s58_reclaim_budget; i++) {
    if (tc->overflows[i] < env->s58_max_overages) continue;
    tc->overflows[i] = 0;
    uint32_t len = hz3_bins_len(&tc->bins, i), max = tc->bins.max[i];
    uint32_t new_max = max / 2;
    /* Within the budget: shrink no further than the budget lets this epoch reclaim. */
    uint32_t excess = len > new_max ? len - new_max : 0;
    uint32_t room = env->s58_reclaim_budget - reclaimed;
    if (excess > room) new_max = len - room, excess = room;
    set_bin_max(tc, i, HZ3_MIN(new_max, max));
    reclaimed += excess;
    HZ3_STAT_ADD_IF(HZ3_S58_STATS, env->central->stats, s58_shrinks, 1);
  }
  HZ3_STAT_ADD_IF(HZ3_S58_STATS, env->central->stats, s58_reclaimed_objects, reclaimed);
  return reclaimed;
}

uint64_t hz3_tcache_cached_bytes(const hz3_tcache_t *tc) {
  uint64_t bytes = 0;
  for (uint32_t i = 1; i < HZ3_NUM_BINS; i++)
    bytes += (uint64_t)hz3_bins_len(&tc->bins, i) * bin_obj_bytes(i);
  return bytes;
}

void hz3_tcache_send_stash(hz3_tcache_t *tc) {
  if (tc->nhomeward != 0) send_homeward(tc);
  if (tc->stashed == 0) return;
  for (uint32_t s = 0; s < HZ3_NUM_SHARDS; s++) {
    hz3_stash_t *st = &tc->stash[s];
    if (st->n == 0) continue;
    hz3_central_free_remote(tc->env->central, s, st->head, st->tail);
    st->head = st->tail = NULL;
    st->n = 0;
  }
  tc->stashed = 0;
}

uint64_t hz3_tcache_send_batches(hz3_tcache_t *tc, const hz3_tcache_env_t *env, bool all) {
  hz3_batches_t *batches = env->batches;
  if (batches == NULL) return 0;
  hz3_tcache_t quiet; /* stands in for a cache not set up: only its shard and stash are used */
  if (tc->state != HZ3_TCACHE_ACTIVE && tc->state != HZ3_TCACHE_DEAD) {
    memset(&quiet, 0, sizeof quiet);
    quiet.env = env;
    quiet.state = HZ3_TCACHE_DEAD;
    tc = &quiet;
  }
  uint64_t objects = 0;
  hz3_batch_t out[HZ3_BATCHES_SLOTS];
  for (uint32_t cls = 0; cls < HZ3_NUM_CLASSES; cls++) {
    if (!all && !hz3_batches_any(batches, cls)) continue;
    uint32_t k =
        all ? hz3_batches_take_all(batches, cls, out) : hz3_batches_sweep(batches, cls, out);
    for (uint32_t j = 0; j < k; j++) {
      release_list(tc, out[j].head);
      objects += out[j].n;
    }
  }
  hz3_tcache_send_stash(tc);
  return objects;
}

void hz3_tcache_flush_all(hz3_tcache_t *tc) {
  if (tc->state != HZ3_TCACHE_ACTIVE) return;
  /* This shard's objects of every bin go to central in one locked call, not one per bin (a
   * short-lived thread exits with dozens of small bins, and its shard's lock is shared). */
  void *mine = NULL;
  for (uint32_t i = 1; i < HZ3_NUM_BINS; i++) {
    if (hz3_bins_len(&tc->bins, i) == 0) continue;
    void *head = tc->bins.head[i];
    tc->bins.head[i] = NULL;
    hz3_bins_set_len(&tc->bins, i, 0);
    release_into(tc, &head, UINT32_MAX, &mine);
  }
  hz3_central_free_list(tc->env->central, tc->shard, mine);
  hz3_tcache_send_stash(tc);
}

void hz3_tcache_teardown(hz3_tcache_t *tc) {
  if (tc->state == HZ3_TCACHE_ACTIVE) count_live(tc->env, -1);
  hz3_tcache_flush_all(tc);
  tc->state = HZ3_TCACHE_DEAD;
  memset(tc->bins.max, 0, sizeof tc->bins.max); /* no room: every free goes slow */
  memset(tc->bins.room, 0, sizeof tc->bins.room);
  tc->budget_used_bytes = 0;
}

void hz3_tcache_orphans_init(hz3_tcache_orphans_t *o) {
  memset(o, 0, sizeof *o);
  hz3_lock_init(&o->lock);
}

/* Sends objects home, halving the fullest bins first, until the bins hold at most bytes
 * (their max lengths stay: the next thread may grow into them again). */
static void shrink_to(hz3_tcache_t *tc, uint64_t bytes) {
  uint64_t held = hz3_tcache_cached_bytes(tc);
  while (held > bytes) {
    uint32_t fullest = 0;
    uint64_t most = 0;
    for (uint32_t i = 1; i < HZ3_NUM_BINS; i++) {
      uint64_t b = (uint64_t)hz3_bins_len(&tc->bins, i) * bin_obj_bytes(i);
      if (b > most) most = b, fullest = i;
    }
    uint32_t len = hz3_bins_len(&tc->bins, fullest), keep = len / 2;
    held -= (uint64_t)(len - keep) * bin_obj_bytes(fullest);
    release_list(tc, bin_cut(tc, fullest, keep));
  }
}

bool hz3_tcache_orphan_park(hz3_tcache_orphans_t *o, hz3_tcache_t *tc) {
  if (tc->state != HZ3_TCACHE_ACTIVE) return false;
  if (__atomic_load_n(&o->parked, __ATOMIC_RELAXED) >= HZ3_ORPHAN_SLOTS) return false;
  hz3_tcache_send_stash(tc);
  shrink_to(tc, HZ3_ORPHAN_MAX_BYTES);
  hz3_lock_acquire(&o->lock);
  hz3_tcache_orphan_t *slot = NULL;
  for (uint32_t i = 0; i < HZ3_ORPHAN_SLOTS && slot == NULL; i++)
    if (!o->slots[i].used) slot = &o->slots[i];
  if (slot != NULL) {
    slot->used = 1;
    slot->shard = tc->shard;
    slot->budget_used_bytes = tc->budget_used_bytes;
    slot->bins = tc->bins;
    o->parked++;
  }
  hz3_lock_release(&o->lock);
  if (slot == NULL) return false;
  count_live(tc->env, -1);
  tc->state = HZ3_TCACHE_DEAD;
  memset(&tc->bins, 0, sizeof tc->bins);
  tc->budget_used_bytes = 0;
  return true;
}

/* Takes a parked cache out of its slot into out (used = 1 on success). */
static bool orphan_take(hz3_tcache_orphans_t *o, uint32_t shard, hz3_tcache_orphan_t *out) {
  out->used = 0;
  if (__atomic_load_n(&o->parked, __ATOMIC_RELAXED) == 0) return false;
  hz3_lock_acquire(&o->lock);
  for (uint32_t i = 0; i < HZ3_ORPHAN_SLOTS; i++) {
    if (!o->slots[i].used || (shard != HZ3_ORPHAN_ANY_SHARD && o->slots[i].shard != shard))
      continue;
    *out = o->slots[i];
    o->slots[i].used = 0;
    o->parked--;
    break;
  }
  hz3_lock_release(&o->lock);
  return out->used != 0;
}

/* Sets tc up for the slot's shard with the slot's bins and their books. */
static void setup_from_slot(hz3_tcache_t *tc, const hz3_tcache_env_t *env,
                            const hz3_tcache_orphan_t *slot) {
  hz3_tcache_setup(tc, env, slot->shard);
  tc->bins = slot->bins;
  tc->budget_used_bytes = slot->budget_used_bytes;
}

bool hz3_tcache_orphan_adopt(hz3_tcache_orphans_t *o, hz3_tcache_t *tc, const hz3_tcache_env_t *env,
                             uint32_t shard) {
  HZ3_ASSERT(tc->state == HZ3_TCACHE_FRESH);
  hz3_tcache_orphan_t slot;
  if (!orphan_take(o, shard, &slot)) return false;
  setup_from_slot(tc, env, &slot);
  return true;
}

uint64_t hz3_tcache_orphans_flush(hz3_tcache_orphans_t *o, const hz3_tcache_env_t *env) {
  uint64_t objects = 0;
  hz3_tcache_orphan_t slot;
  while (orphan_take(o, HZ3_ORPHAN_ANY_SHARD, &slot)) {
    hz3_tcache_t tmp; /* a cache for the slot's shard, only to send its objects home */
    setup_from_slot(&tmp, env, &slot);
    for (uint32_t i = 1; i < HZ3_NUM_BINS; i++) objects += hz3_bins_len(&tmp.bins, i);
    hz3_tcache_teardown(&tmp);
  }
  return objects;
}

bool hz3_tcache_check(const hz3_tcache_t *tc, hz3_check_report_t *report) {
  if (tc->state != HZ3_TCACHE_ACTIVE) return true;
  const hz3_segment_pool_t *pool = tc->env->pool;
  if (tc->bins.head[0] != NULL || tc->bins.max[0] != 0)
    return hz3_check_fail(report, "bin 0 (zero tags) is not empty and closed");
  for (uint32_t i = 1; i < HZ3_NUM_BINS; i++) {
    const hz3_bins_t *b = &tc->bins;
    uint32_t n = 0, len = hz3_bins_len(b, i);
    if (b->room[i] > b->max[i])
      return hz3_check_fail(report, "bin %u: room %u > max %u", i, b->room[i], b->max[i]);
    for (void *p = b->head[i]; p != NULL && n <= len; p = link_get(tc, p), n++) {
      if (!hz3_segment_pool_contains(pool, p))
        return hz3_check_fail(report, "bin %u: link to %p, outside the arena", i, p);
      hz3_tag_t tag = hz3_segment_tag(pool, p);
      if (HZ3_TAG_BIN(tag) != i)
        return hz3_check_fail(report, "bin %u: object %p tagged for bin %u", i, p,
                              HZ3_TAG_BIN(tag));
    }
    if (n != len) return hz3_check_fail(report, "bin %u: len %u, list %u", i, len, n);
  }
  uint64_t used = 0;
  for (uint32_t i = 1; i < HZ3_NUM_BINS; i++) used += (uint64_t)tc->bins.max[i] * bin_obj_bytes(i);
  if (used != tc->budget_used_bytes)
    return hz3_check_fail(report, "budget: bins allow %llu bytes, books say %llu",
                          (unsigned long long)used, (unsigned long long)tc->budget_used_bytes);
  uint32_t stashed = 0;
  for (uint32_t s = 0; s < HZ3_NUM_SHARDS; s++) {
    uint32_t n = 0;
    for (void *p = tc->stash[s].head; p != NULL; p = *(void **)p, n++) {
      if (HZ3_TAG_OWNER(hz3_segment_tag(pool, p)) != s || s == tc->shard)
        return hz3_check_fail(report, "stash %u: object %p of another owner", s, p);
    }
    if (n != tc->stash[s].n)
      return hz3_check_fail(report, "stash %u: n %u, list %u", s, tc->stash[s].n, n);
    stashed += n;
  }
  if (stashed != tc->stashed)
    return hz3_check_fail(report, "stashed %u, lists %u", tc->stashed, stashed);
  uint64_t homeward_bytes = 0;
  for (uint32_t k = 0; k < tc->nhomeward; k++) {
    void *p = tc->homeward[k];
    hz3_tag_t tag = hz3_segment_tag_or_zero(pool, p);
    if (tag == 0 || HZ3_TAG_OWNER(tag) != tc->shard)
      return hz3_check_fail(report, "homeward %u: %p is not an object of shard %u", k, p,
                            tc->shard);
    homeward_bytes += bin_obj_bytes(HZ3_TAG_BIN(tag));
  }
  if (tc->nhomeward > HZ3_HOMEWARD_SLOTS || homeward_bytes != tc->homeward_bytes)
    return hz3_check_fail(report, "homeward: %u objects, %llu bytes, books say %u", tc->nhomeward,
                          (unsigned long long)homeward_bytes, tc->homeward_bytes);
  return true;
}
