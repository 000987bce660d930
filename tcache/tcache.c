/* tcache/tcache.c: the slow paths of the per-thread cache: set-up, refill, flush, remote
 * stash, teardown. */
#include "tcache/tcache.h"

#include <errno.h>
#include <string.h>

/* A bin holds at most this many bytes' worth of objects, and at least 4 and at most 128
 * objects: small classes get long bins, 64 KiB objects short ones. */
#define HZ3_BIN_BYTES (1u << 20)
#define HZ3_BIN_MIN_LEN 4u
#define HZ3_BIN_MAX_LEN 128u
/* One refill brings at most this many bytes. */
#define HZ3_REFILL_BYTES (256u << 10)

static uint32_t bin_cap(const hz3_tcache_env_t *env, uint32_t cls) {
  uint32_t by_bytes = HZ3_BIN_BYTES / (uint32_t)hz3_class_to_size(cls);
  uint32_t cap = HZ3_MAX(HZ3_BIN_MIN_LEN, HZ3_MIN(by_bytes, HZ3_BIN_MAX_LEN));
  return env->bin_max ? HZ3_MIN(cap, env->bin_max) : cap;
}

static uint32_t refill_count(const hz3_tcache_env_t *env, const hz3_bin_t *b, uint32_t cls) {
  uint32_t want = HZ3_MAX(1u, b->max / 2);
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

void hz3_tcache_setup(hz3_tcache_t *tc, const hz3_tcache_env_t *env, uint32_t shard) {
  memset(tc, 0, sizeof *tc);
  tc->env = env;
  tc->shard = shard;
  tc->owner_key = HZ3_OWNER_KEY(shard);
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) tc->bins[c].max = bin_cap(env, c);
  tc->state = HZ3_TCACHE_ACTIVE;
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
  hz3_bin_t *b = &tc->bins[cls];
  HZ3_ASSERT(b->head == NULL && b->len == 0); /* only an empty bin is refilled */
  uint32_t n = hz3_central_alloc_batch(env->central, tc->shard, cls, refill_count(env, b, cls),
                                       &head);
  if (n == 0) return NULL; /* errno = ENOMEM from central */
  b->head = *(void **)head;
  b->len += n - 1;
  return head;
}

static void stash_push(hz3_tcache_t *tc, uint32_t owner, void *p) {
  hz3_stash_t *st = &tc->stash[owner];
  *(void **)p = st->head;
  st->head = p;
  if (st->tail == NULL) st->tail = p;
  st->n++;
  tc->stashed++;
  if (st->n >= tc->env->stash_batch) {
    hz3_central_remote_push(tc->env->central, owner, st->head, st->tail);
    tc->stashed -= st->n;
    st->head = st->tail = NULL;
    st->n = 0;
  }
}

/* The bin is full: keep the newest half, give the older half back to central. */
static void flush_bin(hz3_tcache_t *tc, uint32_t cls) {
  hz3_bin_t *b = &tc->bins[cls];
  uint32_t keep = b->max / 2;
  void *cut = b->head;
  for (uint32_t i = 1; i < keep; i++) cut = *(void **)cut;
  void *rest = keep ? *(void **)cut : b->head;
  uint32_t n = b->len - keep;
  if (keep) *(void **)cut = NULL;
  else b->head = NULL;
  b->len = keep;
  hz3_central_free_batch(tc->env->central, tc->shard, cls, rest, n);
}

void hz3_tcache_free_slow(hz3_tcache_t *tc, void *p, hz3_tag_t tag) {
  HZ3_ASSERT(tag != 0);
  const hz3_tcache_env_t *env = tc->env;
  uint32_t owner = HZ3_TAG_OWNER(tag), cls = HZ3_TAG_CLASS(tag);
  if (tc->state == HZ3_TCACHE_DEAD) {
    *(void **)p = NULL;
    if (owner == tc->shard) hz3_central_free_list(env->central, owner, p);
    else hz3_central_remote_push(env->central, owner, p, p);
    return;
  }
  tick(tc);
  if (owner != tc->shard) {
    HZ3_STAT_ADD(env->central->stats, remote_frees, 1);
    stash_push(tc, owner, p);
    return;
  }
  hz3_bin_t *b = &tc->bins[cls];
  *(void **)p = b->head;
  b->head = p;
  b->len++;
  if (b->len > b->max) flush_bin(tc, cls);
}

void hz3_tcache_send_stash(hz3_tcache_t *tc) {
  if (tc->stashed == 0) return;
  for (uint32_t s = 0; s < HZ3_NUM_SHARDS; s++) {
    hz3_stash_t *st = &tc->stash[s];
    if (st->n == 0) continue;
    hz3_central_remote_push(tc->env->central, s, st->head, st->tail);
    st->head = st->tail = NULL;
    st->n = 0;
  }
  tc->stashed = 0;
}

void hz3_tcache_flush_all(hz3_tcache_t *tc) {
  if (tc->state != HZ3_TCACHE_ACTIVE) return;
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) {
    hz3_bin_t *b = &tc->bins[c];
    if (b->len == 0) continue;
    hz3_central_free_batch(tc->env->central, tc->shard, c, b->head, b->len);
    b->head = NULL;
    b->len = 0;
  }
  hz3_tcache_send_stash(tc);
}

void hz3_tcache_teardown(hz3_tcache_t *tc) {
  hz3_tcache_flush_all(tc);
  tc->state = HZ3_TCACHE_DEAD;
  tc->owner_key = 0; /* every later free takes the slow path */
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) tc->bins[c].max = 0;
}

bool hz3_tcache_check(const hz3_tcache_t *tc, hz3_check_report_t *report) {
  if (tc->state != HZ3_TCACHE_ACTIVE) return true;
  const hz3_segment_pool_t *pool = tc->env->pool;
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) {
    const hz3_bin_t *b = &tc->bins[c];
    uint32_t n = 0;
    for (void *p = b->head; p != NULL; p = *(void **)p, n++) {
      if (n > b->len) break;
      hz3_tag_t tag = hz3_segment_tag(pool, p);
      if (HZ3_TAG_CLASS(tag) != c || HZ3_TAG_OWNER_KEY(tag) != tc->owner_key)
        return hz3_check_fail(report, "bin %u: object %p tagged class %u owner key %x", c, p,
                              HZ3_TAG_CLASS(tag), HZ3_TAG_OWNER_KEY(tag));
    }
    if (n != b->len) return hz3_check_fail(report, "bin %u: len %u, list %u", c, b->len, n);
    if (b->len > b->max) return hz3_check_fail(report, "bin %u: len %u > max %u", c, b->len, b->max);
  }
  uint32_t stashed = 0;
  for (uint32_t s = 0; s < HZ3_NUM_SHARDS; s++) {
    uint32_t n = 0;
    for (void *p = tc->stash[s].head; p != NULL; p = *(void **)p, n++) {
      if (HZ3_TAG_OWNER(hz3_segment_tag(pool, p)) != s || s == tc->shard)
        return hz3_check_fail(report, "stash %u: object %p of another owner", s, p);
    }
    if (n != tc->stash[s].n) return hz3_check_fail(report, "stash %u: n %u, list %u", s, tc->stash[s].n, n);
    stashed += n;
  }
  if (stashed != tc->stashed) return hz3_check_fail(report, "stashed %u, lists %u", tc->stashed, stashed);
  return true;
}
