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
      .release_range_pages = HZ3_RELEASE_RANGE_PAGES,
      .release_fragment_pages = HZ3_RELEASE_FRAGMENT_PAGES,
      .release_active_pages = HZ3_RELEASE_ACTIVE_PAGES,
      .reuse_window_ms = HZ3_RELEASE_REUSE_WINDOW_MS,
      .reuse_keep_max_pages = HZ3_RELEASE_REUSE_KEEP_MAX_PAGES,
  };
  return cfg;
}

/* A budget of ranges (madvise calls before batching) and pages being spent, and the batch
 * the ranges wait in until the pass ends. */
typedef struct {
  uint64_t pages_left;
  uint32_t calls_left;
  uint64_t pages_done;
  uint64_t kept; /* unused pages a release pass leaves (its target; 0: not a release pass) */
  hz3_release_batch_t batch;
} budget_t;

static budget_t budget(uint64_t pages, uint32_t calls) {
  budget_t b;
  b.pages_left = pages;
  b.calls_left = calls;
  b.pages_done = 0;
  b.kept = 0;
  b.batch.n = 0;
  b.batch.calls = 0;
  return b;
}

static uint64_t now_ns(const hz3_purge_t *pg) { return pg->pool->os->now_ns(pg->pool->os->ctx); }
static uint64_t reuse_window_ns(const hz3_purge_t *pg) {
  return (uint64_t)pg->cfg.reuse_window_ms * 1000000u;
}

/* Pages just went back to the OS by a pass that left `kept` unused pages resident: if the
 * process takes pages again soon, these were working memory (on_retake). */
static void note_released(hz3_purge_t *pg, uint64_t pages, uint64_t kept) {
  uint64_t now = now_ns(pg);
  hz3_lock_acquire(&pg->paced_lock);
  bool chained = now - pg->paced_ns <= reuse_window_ns(pg);
  uint64_t recent = chained ? pg->released_recent : 0;
  __atomic_store_n(&pg->released_recent, recent + pages, __ATOMIC_RELAXED);
  pg->kept_at_release = chained ? HZ3_MAX(pg->kept_at_release, kept) : kept;
  pg->paced_ns = now;
  hz3_lock_release(&pg->paced_lock);
}

/* Ends a pass: what waits in the batch goes to the OS (before the caller's lock drops). */
static uint64_t budget_done(hz3_purge_t *pg, budget_t *b) {
  hz3_segment_release_flush(pg->pool, &b->batch);
  if (b->pages_done > 0 && pg->cfg.reuse_window_ms > 0) note_released(pg, b->pages_done, b->kept);
  return b->pages_done;
}

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
    /* A budget that ends inside the range takes its top: short runs are carved from the
     * bottom of a free stretch, so its lower pages are the first to be used again. */
    if (n > b->pages_left) first += n - (uint32_t)b->pages_left, n = (uint32_t)b->pages_left;
    hz3_segment_release_range(pg->pool, set, seg, first, n, &b->batch);
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

/* The release policy, run when the process holds more resident-unused pages than the retain
 * cap.  Each madvise costs a TLB shootdown on every core the process runs on, whatever its
 * length, so pages go back in long ranges: first whole spare segments (one call each, plus
 * their meta), then ranges of at least release_range_pages in this set's segments.  Shorter
 * ranges (fragments: the pages between live objects, or the edge of a wave of frees that
 * will soon join a long range) wait until this set holds more than release_fragment_pages of
 * unused pages; then they go too, down to half that.  Long ranges give only the pages over
 * target: one segment's ranges can hold far more than that (a round of a loop freed in one
 * stretch went back whole while the keep wanted most of it). */
static void release_pass(hz3_purge_t *pg, hz3_segment_set_t *set, uint64_t target,
                         uint64_t fragment_limit, uint64_t spare_pages) {
  const hz3_purge_cfg_t *cfg = &pg->cfg;
  pg->runs_seen_before[set->owner] = pg->runs_seen[set->owner];
  pg->runs_seen[set->owner] = set->runs_taken;
  budget_t b = budget(UINT64_MAX, cfg->retain_budget_calls);
  b.kept = target;
  if (spare_pages > 0 && __atomic_load_n(&pg->pool->spare_unused_pages, __ATOMIC_RELAXED) > 0)
    b.pages_done += hz3_segment_release_spare(pg->pool, spare_pages, b.calls_left, &b.batch);
  /* Long ranges: only what is over the target (a segment's ranges may hold far more). */
  uint64_t unused = hz3_segment_unused_pages(pg->pool);
  b.pages_left = unused > target ? unused - target : 0;
  for (hz3_segment_t *seg = set->head; seg != NULL && b.calls_left > 0; seg = seg->next) {
    if (b.pages_left == 0) break;
    if (seg->unused_pages >= cfg->release_range_pages)
      purge_in_segment(pg, set, seg, 0, HZ3_SEG_PAGES, cfg->release_range_pages, &b);
  }
  b.pages_left = UINT64_MAX;
  if (set->unused_pages > fragment_limit) {
    for (hz3_segment_t *seg = set->head; seg != NULL && b.calls_left > 0; seg = seg->next) {
      if (set->unused_pages <= fragment_limit / 2) break;
      if (seg->unused_pages > 0) purge_in_segment(pg, set, seg, 0, HZ3_SEG_PAGES, 1, &b);
    }
  }
  budget_done(pg, &b);
}

/* Whether set's owner took runs since the pass before the last one released from it: it
 * cycles memory (frees a round, then takes the next), so what it frees now it will take
 * again.  Not since the last pass only: a round's end often takes two passes, and the second
 * found the owner winding down (no run taken since the first) and gave the rest of the round
 * back, to be faulted in by the next one (`rounds 2 50 25`). */
static bool set_is_cycling(const hz3_purge_t *pg, const hz3_segment_set_t *set) {
  return set->runs_taken != pg->runs_seen_before[set->owner];
}

/* The paced keep: unused pages the process keeps over the retain cap because it has shown
 * that it takes back what it gives.  A program that frees a round and allocates the next
 * (threads that exit and new ones that start, a loop's phases) would otherwise give each
 * round's pages back at its end and fault them in again at the next one's start.
 *
 * Grows: purged pages taken again (the pool's retake hook: they are about to fault) raise the
 * keep by as many, at most what passes gave back and reuse_keep_max_pages in all, as long as
 * gives and takes follow each other with no gap of a window (reuse_window_ms): a round's
 * allocations, which fault back in what the round before gave, are such a chain however long
 * they last.  The keep grows from at least what those passes left resident: a round that a
 * pass cut at the owner's allowance needed that much and what came back (growing from the
 * keep alone, `rounds 2 50 25` gave back and faulted in again some 2 600 pages over a run).
 * Only pages that fault count, and only after a give-back, so a program that grows, or whose
 * phases are further apart than the window (a burst, then idle for a while, then another),
 * keeps nothing.
 * Goes: at a decision of the release policy that finds no page taken (pool->pages_taken) for a
 * window, or while more than twice the keep became unused: a program that frees without
 * allocating for that long, or that much, is winding down (emptying its working set, as before
 * it goes idle), and gives the keep back as it frees.
 * What an idle process can be left holding is the keep of its last rounds (malloc_trim takes
 * it all). */
static void on_retake(void *ctx, uint32_t npages) {
  hz3_purge_t *pg = ctx;
  if (__atomic_load_n(&pg->released_recent, __ATOMIC_RELAXED) == 0) return; /* no clock */
  /* Many threads may be faulting pages in at once (a round starting): one counts at a time,
   * and the others' pages go uncounted rather than queue on a process-wide lock. */
  if (!hz3_lock_try(&pg->paced_lock)) return;
  uint64_t now = now_ns(pg);
  if (now - pg->paced_ns <= reuse_window_ns(pg)) {
    uint64_t back = HZ3_MIN((uint64_t)npages, pg->released_recent);
    __atomic_store_n(&pg->released_recent, pg->released_recent - back, __ATOMIC_RELAXED);
    /* What the passes left was not enough by what comes back: the keep grows to both. */
    uint64_t base = HZ3_MAX(pg->keep_pages, pg->kept_at_release);
    uint64_t keep = HZ3_MIN(base + back, (uint64_t)pg->cfg.reuse_keep_max_pages);
    __atomic_store_n(&pg->keep_pages, keep, __ATOMIC_RELAXED);
    pg->paced_ns = now;
  } else {
    __atomic_store_n(&pg->released_recent, 0, __ATOMIC_RELAXED);
  }
  hz3_lock_release(&pg->paced_lock);
}

/* The paced keep at a decision of the release policy (above the retain cap), decayed if the
 * process has taken nothing for a while. */
static uint64_t paced_keep(hz3_purge_t *pg) {
  uint64_t keep = __atomic_load_n(&pg->keep_pages, __ATOMIC_RELAXED);
  if (keep == 0 || !hz3_lock_try(&pg->paced_lock)) return keep;
  uint64_t now = now_ns(pg);
  uint64_t made = __atomic_load_n(&pg->made_unused, __ATOMIC_RELAXED);
  if (__atomic_load_n(&pg->pool->pages_taken, __ATOMIC_RELAXED)) {
    __atomic_store_n(&pg->pool->pages_taken, 0, __ATOMIC_RELAXED);
    pg->taken_ns = now;
    pg->made_at_take = made;
  } else if (now - pg->taken_ns > reuse_window_ns(pg) || made - pg->made_at_take > 2 * keep) {
    keep = 0;
    __atomic_store_n(&pg->keep_pages, keep, __ATOMIC_RELAXED);
  }
  hz3_lock_release(&pg->paced_lock);
  return keep;
}

/* The retain cap now (mallopt(M_TRIM_THRESHOLD) may change it while threads run). */
static inline uint64_t retain_cap(const hz3_purge_t *pg) {
  return __atomic_load_n(&pg->cfg.retain_max_pages, __ATOMIC_RELAXED);
}

void hz3_purge_set_retain_max_pages(hz3_purge_t *pg, uint32_t pages) {
  __atomic_store_n(&pg->cfg.retain_max_pages, pages, __ATOMIC_RELAXED);
}

/* A release pass over set (release_pass: long ranges down to target, fragments above
 * fragment_limit) unless the process holds no more than keep unused pages (0: nothing kept);
 * with a keep, spare segments go only for what is over target. */
static void release_over_keep(hz3_purge_t *pg, hz3_segment_set_t *set, uint64_t keep,
                              uint64_t target, uint64_t fragment_limit) {
  uint64_t pool_unused = hz3_segment_unused_pages(pg->pool);
  if (keep > 0 && pool_unused <= keep) return;
  uint64_t spare = keep == 0 ? UINT64_MAX : pool_unused > target ? pool_unused - target : 0;
  release_pass(pg, set, target, fragment_limit, spare);
}

/* A pass over the paced keep goes this share of it further down, so that the next pass waits
 * until as many pages have become unused again.  With the keep itself as the target, a loop
 * whose working set is a little over the keep gave back a range at a time, one call each, as
 * its runs and segments emptied (`shuffle 1000000 10 fifo`: 13 091 madvise calls for 30 326
 * pages; a sixteenth below: 243 calls for 35 910 pages, and 3-6 % faster). */
#define HZ3_KEEP_SLACK_SHARE 16

/* The pool's unused hook: pages [first, first + npages) of seg (in set) just became unused. */
static void on_unused(void *ctx, hz3_segment_pool_t *pool, hz3_segment_set_t *set,
                      hz3_segment_t *seg, uint32_t first, uint32_t npages) {
  hz3_purge_t *pg = ctx;
  if (pg->cfg.s60) queue_push(&pg->queues[set->owner], pg->cfg.queue_size, seg, first, npages);
  uint64_t cap = retain_cap(pg);
  if (cap == 0) return;
  pg->fresh_pages[set->owner] += npages;
  if (__atomic_load_n(&pg->keep_pages, __ATOMIC_RELAXED) != 0) /* only then is it read */
    __atomic_fetch_add(&pg->made_unused, npages, __ATOMIC_RELAXED);
  if (hz3_segment_unused_pages(pool) <= cap) return;
  /* Above the cap.  A pass looks at this set again only once enough new pages became unused
   * here for a long range to have formed, or a spare segment waits, or fragments pile up. */
  if (pg->fresh_pages[set->owner] < HZ3_RELEASE_RESCAN_PAGES &&
      __atomic_load_n(&pool->spare_unused_pages, __ATOMIC_RELAXED) == 0 &&
      set->unused_pages <= pg->cfg.release_fragment_pages)
    return;
  pg->fresh_pages[set->owner] = 0;
  /* What the process keeps: the paced keep, and while this set's owner is cycling (see
   * set_is_cycling) up to release_active_pages in the whole process (not per shard: threads
   * that move between shards must not multiply it).  A pass over either goes a sixteenth of
   * it further down (half the allowance went before, and came back the next round). */
  uint64_t paced = paced_keep(pg),
           active = set_is_cycling(pg, set) ? pg->cfg.release_active_pages : 0;
  uint64_t keep = HZ3_MAX(paced, active);
  release_over_keep(pg, set, keep, HZ3_MAX(cap / 2, keep - keep / HZ3_KEEP_SLACK_SHARE),
                    HZ3_MAX((uint64_t)pg->cfg.release_fragment_pages, keep));
}

void hz3_purge_init(hz3_purge_t *pg, hz3_segment_pool_t *pool, hz3_stats_t *stats,
                    const hz3_purge_cfg_t *cfg) {
  memset(pg, 0, sizeof *pg);
  pg->cfg = *cfg;
  if (pg->cfg.queue_size > HZ3_S60_QUEUE_SIZE) pg->cfg.queue_size = HZ3_S60_QUEUE_SIZE;
  pg->pool = pool;
  pg->stats = stats;
  /* Always: the retain cap may be set at run time (mallopt) in a build that starts without. */
  hz3_segment_pool_set_unused_hook(pool, on_unused, on_retake, pg);
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
  tick_arg_t t = {pg, set, epoch, budget(pg->cfg.budget_pages, UINT32_MAX)};
  /* Segments with free pages first (the pack pool's order); then idle pages of full ones. */
  hz3_pack_iterate(set, 0, tick_visit, &t);
  return (uint32_t)budget_done(pg, &t.b);
}

uint32_t hz3_purge_queue_drain(hz3_purge_t *pg, hz3_segment_set_t *set) {
  hz3_purge_queue_t *q = &pg->queues[set->owner];
  budget_t b = budget(pg->cfg.queue_budget_pages, pg->cfg.queue_budget_calls);
  while (q->count > 0 && b.calls_left > 0 && b.pages_left > 0) {
    hz3_purge_entry_t e = q->entries[q->head];
    q->head = (q->head + 1) % pg->cfg.queue_size;
    q->count--;
    /* The segment may have left the set (wholly free, now spare) or gone to another owner. */
    if (!e.seg->in_set || e.seg->owner != set->owner) continue;
    purge_in_segment(pg, set, e.seg, e.first, e.npages, 1, &b);
  }
  return (uint32_t)budget_done(pg, &b);
}

/* Every resident-unused page of set, while the budget lasts. */
static void purge_whole_set(hz3_purge_t *pg, hz3_segment_set_t *set, budget_t *b) {
  for (hz3_segment_t *seg = set->head; seg != NULL && set->unused_pages > 0; seg = seg->next) {
    if (seg->unused_pages > 0 && !purge_in_segment(pg, set, seg, 0, HZ3_SEG_PAGES, 1, b)) break;
  }
  /* Drop the queue: what it named is purged now. */
  if (set->unused_pages == 0) pg->queues[set->owner].count = 0;
}

void hz3_purge_owner_left(hz3_purge_t *pg, hz3_segment_set_t *set) {
  uint64_t cap = retain_cap(pg);
  if (cap == 0 || hz3_segment_unused_pages(pg->pool) <= cap) return;
  /* A shard still cycling memory: its next thread will take it again; leave it to the usual
   * passes. */
  if (set_is_cycling(pg, set)) return;
  uint64_t paced = paced_keep(pg);
  release_over_keep(pg, set, paced, HZ3_MAX(cap / 2, paced), paced);
}

uint64_t hz3_purge_set_all(hz3_purge_t *pg, hz3_segment_set_t *set, uint64_t max_pages,
                           uint32_t max_calls) {
  budget_t b = budget(max_pages, max_calls);
  purge_whole_set(pg, set, &b);
  return budget_done(pg, &b);
}

uint64_t hz3_purge_hard(hz3_purge_t *pg, hz3_segment_set_t *set, uint64_t max_pages,
                        uint32_t max_calls) {
  budget_t b = budget(max_pages, max_calls);
  purge_whole_set(pg, set, &b);
  uint64_t pages = budget_done(pg, &b);
  if (b.calls_left > 0 && b.pages_left > 0)
    pages += hz3_segment_release_spare(pg->pool, b.pages_left, b.calls_left, &b.batch);
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
