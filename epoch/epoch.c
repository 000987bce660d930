/* epoch/epoch.c: the order of maintenance. */
#include "epoch/epoch.h"

#include <string.h>

void hz3_epoch_init(hz3_epoch_t *e, hz3_central_t *central, hz3_purge_t *purge,
                    hz3_stats_t *stats) {
  memset(e, 0, sizeof *e);
  e->central = central;
  e->purge = purge;
  e->stats = stats;
  hz3_lock_init(&e->run_lock);
}

uint32_t hz3_epoch_current(const hz3_epoch_t *e) {
  return __atomic_load_n(&e->epoch, __ATOMIC_RELAXED);
}

/* Purge of one shard under its lock: the queue first (no scan), then the S57 scan. */
static uint64_t purge_shard(hz3_epoch_t *e, uint32_t shard, uint32_t epoch) {
  const hz3_purge_cfg_t *cfg = &e->purge->cfg;
  uint64_t pages = 0;
  hz3_central_lock_shard(e->central, shard);
  hz3_central_set_epoch(e->central, shard, epoch);
  hz3_segment_set_t *set = hz3_central_segments(e->central, shard);
  if (cfg->s60) pages += hz3_purge_queue_drain(e->purge, set);
  if (cfg->s57) pages += hz3_purge_tick(e->purge, set, epoch);
  hz3_central_unlock_shard(e->central, shard);
  return pages;
}

uint64_t hz3_epoch_run(hz3_epoch_t *e, hz3_tcache_t *tc) {
  if (!hz3_lock_try(&e->run_lock)) return 0;
  uint32_t epoch = __atomic_add_fetch(&e->epoch, 1, __ATOMIC_RELAXED);
  HZ3_STAT_ADD(e->stats, epoch_count, 1);
  /* S58 first: what the thread's bins no longer need flows to central (and empty runs on to
   * their segments), so that purge finds it. */
  hz3_tcache_reclaim(tc);
  /* Batches no refill took since the last epoch go home too: threads stopped asking. */
  if (tc->env != NULL) hz3_tcache_send_batches(tc, tc->env, false);
  hz3_tcache_send_stash(tc);
  uint32_t shard = tc->state == HZ3_TCACHE_FRESH ? 0 : tc->shard;
  hz3_central_drain_inbox(e->central, shard);
  uint64_t pages = purge_shard(e, shard, epoch);
  hz3_lock_release(&e->run_lock);
  return pages;
}

void hz3_epoch_owner_left(hz3_epoch_t *e, uint32_t shard) {
  /* What waits for the shard's refills (inbox, transfer lists) goes to its runs now: the
   * thread that asked may be this one. */
  hz3_central_drain_inbox(e->central, shard);
  hz3_central_lock_shard(e->central, shard);
  hz3_purge_owner_left(e->purge, hz3_central_segments(e->central, shard));
  hz3_central_unlock_shard(e->central, shard);
}

void hz3_epoch_thread_exit(hz3_epoch_t *e, hz3_tcache_t *tc) {
  bool was_active = tc->state == HZ3_TCACHE_ACTIVE;
  hz3_tcache_teardown(tc);
  if (!was_active) return;
  HZ3_STAT_ADD(e->stats, thread_exits, 1);
  hz3_epoch_owner_left(e, tc->shard);
  const hz3_purge_cfg_t *cfg = &e->purge->cfg;
  if (!cfg->s61) return;
  hz3_central_drain_inbox(e->central, tc->shard);
  hz3_central_lock_shard(e->central, tc->shard);
  hz3_purge_hard(e->purge, hz3_central_segments(e->central, tc->shard), cfg->hard_max_pages,
                 cfg->hard_max_calls);
  hz3_central_unlock_shard(e->central, tc->shard);
}

uint64_t hz3_epoch_trim(hz3_epoch_t *e, hz3_tcache_t *tc) {
  hz3_tcache_flush_all(tc);
  HZ3_STAT_ADD(e->stats, epoch_count, 1);
  uint32_t epoch = __atomic_add_fetch(&e->epoch, 1, __ATOMIC_RELAXED);
  uint64_t pages = 0;
  for (uint32_t s = 0; s < e->central->nshards; s++) {
    hz3_central_drain_inbox(e->central, s);
    hz3_central_release_spares(e->central, s);
    hz3_central_lock_shard(e->central, s);
    hz3_central_set_epoch(e->central, s, epoch);
    pages +=
        hz3_purge_set_all(e->purge, hz3_central_segments(e->central, s), UINT64_MAX, UINT32_MAX);
    hz3_central_unlock_shard(e->central, s);
  }
  return pages + hz3_purge_spare(e->purge);
}
