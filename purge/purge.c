/* purge/purge.c: S57-B2 scan, S60 queue, S61 hard purge, the retain cap, trim. */
#include "purge/purge.h"

#include <string.h>

hz3_purge_cfg_t hz3_purge_cfg_default(void) {
  hz3_purge_cfg_t cfg = {
      .s57 = HZ3_S57_PARTIAL_PURGE,
      .s60 = HZ3_S60_PURGE_RANGE_QUEUE,
      .s61 = HZ3_S61_DTOR_HARD_PURGE,
      .decay_epochs = HZ3_S57_PURGE_DECAY_EPOCHS,
      .budget_pages = HZ3_S57_PURGE_BUDGET_PAGES,
      .min_range_pages = HZ3_S57_PURGE_MIN_RANGE_PAGES,
      .queue_size = HZ3_S60_QUEUE_SIZE,
      .queue_budget_calls = HZ3_S60_BUDGET_CALLS,
      .queue_budget_pages = HZ3_S60_BUDGET_PAGES,
      .hard_max_pages = HZ3_S61_MAX_PAGES,
      .hard_max_calls = HZ3_S61_MAX_CALLS,
      .retain_max_pages = HZ3_RETAIN_MAX_PAGES,
      .retain_budget_calls = HZ3_RETAIN_BUDGET_CALLS,
  };
  return cfg;
}

/* A budget of calls and pages being spent. */
typedef struct {
  uint64_t pages_left;
  uint32_t calls_left;
  uint64_t pages_done;
} budget_t;

/* Purges the unused pages of seg inside [from, from + span) in ranges of at least min_pages,
 * while the budget lasts.  Returns false once the budget is spent. */
static bool purge_in_segment(hz3_purge_t *pg, hz3_segment_set_t *set, hz3_segment_t *seg,
                             uint32_t from, uint32_t span, uint32_t min_pages, budget_t *b) {
  uint32_t end = from + span, first, n;
  while (from < end && b->calls_left > 0 && b->pages_left > 0) {
    n = hz3_segment_next_unused(seg, from, HZ3_SEG_PAGES, &first);
    if (n == 0 || first >= end) break;
    n = HZ3_MIN(n, end - first);
    from = first + n;
    if (n < min_pages) continue;
    n = (uint32_t)HZ3_MIN((uint64_t)n, b->pages_left);
    if (hz3_segment_purge_range(pg->pool, set, seg, first, n) != 0) return false;
    b->calls_left--;
    b->pages_left -= n;
    b->pages_done += n;
  }
  return b->calls_left > 0 && b->pages_left > 0;
}

static void queue_push(hz3_purge_queue_t *q, uint32_t cap, hz3_segment_t *seg, uint32_t first,
                       uint32_t npages) {
  if (cap == 0) return;
  if (q->count == cap) { /* full: the oldest gives way */
    q->head = (q->head + 1) % cap;
    q->count--;
    q->dropped++;
  }
  hz3_purge_entry_t *e = &q->entries[(q->head + q->count) % cap];
  e->seg = seg;
  e->first = (uint16_t)first;
  e->npages = (uint16_t)npages;
  q->count++;
}

/* The retain cap: purge this set (the segment that just changed first, then the others, then
 * spare segments) until the process holds at most half the cap, within the call budget. */
static void retain_purge(hz3_purge_t *pg, hz3_segment_set_t *set, hz3_segment_t *hot) {
  uint64_t target = pg->cfg.retain_max_pages / 2;
  budget_t b = {UINT64_MAX, pg->cfg.retain_budget_calls, 0};
  if (hot != NULL && hot->unused_pages > 0)
    purge_in_segment(pg, set, hot, 0, HZ3_SEG_PAGES, 1, &b);
  for (hz3_segment_t *seg = set->head; seg != NULL && set->unused_pages > 0 && b.calls_left > 0;
       seg = seg->next) {
    if (hz3_segment_unused_pages(pg->pool) <= target) return;
    if (seg->unused_pages > 0) purge_in_segment(pg, set, seg, 0, HZ3_SEG_PAGES, 1, &b);
  }
  if (hz3_segment_unused_pages(pg->pool) > target &&
      __atomic_load_n(&pg->pool->spare_unused_pages, __ATOMIC_RELAXED) > 0)
    hz3_segment_purge_spare(pg->pool, UINT64_MAX, b.calls_left, NULL);
}

static void on_unused(void *ctx, hz3_segment_pool_t *pool, hz3_segment_set_t *set,
                      hz3_segment_t *seg, uint32_t first, uint32_t npages) {
  hz3_purge_t *pg = ctx;
  if (pg->cfg.s60) queue_push(&pg->queues[set->owner], pg->cfg.queue_size, seg, first, npages);
  if (pg->cfg.retain_max_pages != 0 && hz3_segment_unused_pages(pool) > pg->cfg.retain_max_pages)
    retain_purge(pg, set, seg);
}

void hz3_purge_init(hz3_purge_t *pg, hz3_segment_pool_t *pool, hz3_stats_t *stats,
                    const hz3_purge_cfg_t *cfg) {
  memset(pg, 0, sizeof *pg);
  pg->cfg = *cfg;
  if (pg->cfg.queue_size > HZ3_S60_QUEUE_SIZE) pg->cfg.queue_size = HZ3_S60_QUEUE_SIZE;
  pg->pool = pool;
  pg->stats = stats;
  if (pg->cfg.s60 || pg->cfg.retain_max_pages != 0) {
    pool->unused_ctx = pg;
    pool->unused_hook = on_unused;
  }
}

typedef struct {
  hz3_purge_t *pg;
  hz3_segment_set_t *set;
  uint32_t epoch;
  budget_t b;
} tick_arg_t;

static bool tick_visit(hz3_segment_t *seg, void *arg) {
  tick_arg_t *t = arg;
  HZ3_STAT_ADD_IF(HZ3_S57_PURGE_STATS, t->pg->stats, purge_scanned_segments, 1);
  if (seg->unused_pages == 0) return true;
  if (t->epoch - seg->last_touch_epoch < t->pg->cfg.decay_epochs) return true; /* not decayed */
  return purge_in_segment(t->pg, t->set, seg, 0, HZ3_SEG_PAGES, t->pg->cfg.min_range_pages, &t->b);
}

uint32_t hz3_purge_tick(hz3_purge_t *pg, hz3_segment_set_t *set, uint32_t epoch) {
  if (set->unused_pages == 0) return 0;
  tick_arg_t t = {pg, set, epoch, {pg->cfg.budget_pages, UINT32_MAX, 0}};
  /* Segments with free pages first (the pack pool's order); then idle pages of full ones. */
  hz3_pack_iterate(set, 0, tick_visit, &t);
  return (uint32_t)t.b.pages_done;
}

uint32_t hz3_purge_queue_drain(hz3_purge_t *pg, hz3_segment_set_t *set) {
  hz3_purge_queue_t *q = &pg->queues[set->owner];
  budget_t b = {pg->cfg.queue_budget_pages, pg->cfg.queue_budget_calls, 0};
  while (q->count > 0 && b.calls_left > 0 && b.pages_left > 0) {
    hz3_purge_entry_t e = q->entries[q->head];
    q->head = (q->head + 1) % pg->cfg.queue_size;
    q->count--;
    /* The segment may have left the set (wholly free, now spare) or gone to another owner. */
    if (!e.seg->in_set || e.seg->owner != set->owner) continue;
    purge_in_segment(pg, set, e.seg, e.first, e.npages, 1, &b);
  }
  return (uint32_t)b.pages_done;
}

/* Every resident-unused page of set, while the budget lasts. */
static void purge_whole_set(hz3_purge_t *pg, hz3_segment_set_t *set, budget_t *b) {
  for (hz3_segment_t *seg = set->head; seg != NULL && set->unused_pages > 0; seg = seg->next) {
    if (seg->unused_pages > 0 && !purge_in_segment(pg, set, seg, 0, HZ3_SEG_PAGES, 1, b)) break;
  }
  /* Drop the queue: what it named is purged now. */
  if (set->unused_pages == 0) pg->queues[set->owner].count = 0;
}

uint64_t hz3_purge_set_all(hz3_purge_t *pg, hz3_segment_set_t *set, uint64_t max_pages,
                           uint32_t max_calls) {
  budget_t b = {max_pages, max_calls, 0};
  purge_whole_set(pg, set, &b);
  return b.pages_done;
}

uint64_t hz3_purge_hard(hz3_purge_t *pg, hz3_segment_set_t *set, uint64_t max_pages,
                        uint32_t max_calls) {
  budget_t b = {max_pages, max_calls, 0};
  purge_whole_set(pg, set, &b);
  uint64_t pages = b.pages_done;
  if (b.calls_left > 0 && b.pages_left > 0)
    pages += hz3_segment_purge_spare(pg->pool, b.pages_left, b.calls_left, NULL);
  return pages;
}

uint64_t hz3_purge_spare(hz3_purge_t *pg) {
  return hz3_segment_purge_spare(pg->pool, UINT64_MAX, UINT32_MAX, NULL);
}

bool hz3_purge_check(const hz3_purge_t *pg, hz3_check_report_t *report) {
  for (uint32_t s = 0; s < HZ3_NUM_SHARDS; s++) {
    const hz3_purge_queue_t *q = &pg->queues[s];
    if (q->count > pg->cfg.queue_size || (pg->cfg.queue_size && q->head >= pg->cfg.queue_size))
      return hz3_check_fail(report, "purge queue %u: count %u head %u size %u", s, q->count,
                            q->head, pg->cfg.queue_size);
    for (uint32_t i = 0; i < q->count; i++) {
      const hz3_purge_entry_t *e = &q->entries[(q->head + i) % pg->cfg.queue_size];
      if (e->npages == 0 || e->first + e->npages > HZ3_SEG_PAGES)
        return hz3_check_fail(report, "purge queue %u: entry [%u, +%u)", s, e->first, e->npages);
    }
  }
  return true;
}
