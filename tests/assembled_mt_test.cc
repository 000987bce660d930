// assembled_mt_test: the boxes assembled as preload assembles them (segment pool, central,
// purge with every policy on, epoch, one tcache per thread), driven by real threads through
// the same fast and slow paths malloc/free use, without LD_PRELOAD, so that the tsan config
// can watch the whole allocator for races (tsan cannot run under a preloaded malloc).
// Objects move between threads; epochs, trims and thread exits run concurrently.
#include <gtest/gtest.h>
#include <string.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

extern "C" {
#include "epoch/epoch.h"
#include "tcache/tcache_fast.h"
}

namespace {

hz3_segment_pool_t g_pool;
hz3_central_t g_central;
hz3_purge_t g_purge;
hz3_epoch_t g_epoch;
hz3_stats_t g_stats;
hz3_tcache_env_t g_env;
hz3_batches_t g_batches;
thread_local hz3_tcache_t t_tc;

void EpochTick() { hz3_epoch_run(&g_epoch, &t_tc); }

void* Malloc(size_t n) {
  uint32_t cls = hz3_size_to_class(n);
  void* p = hz3_tcache_pop(&t_tc, cls);
  return p ? p : hz3_tcache_refill(&t_tc, cls);
}

void Free(void* p) {
  if (hz3_tcache_push(&t_tc, p, hz3_segment_page_bin(&g_pool, p))) return;
  hz3_tcache_free_slow(&t_tc, p, hz3_segment_tag(&g_pool, p));
}

TEST(AssembledMtTest, ThreadsEpochsAndTrimsTogether) {
  hz3_stats_reset(&g_stats);
  ASSERT_EQ(hz3_segment_pool_init(&g_pool, hz3_os_default(), &g_stats, 256 * HZ3_SEG_SIZE, 1), 0);
  hz3_central_init(&g_central, &g_pool, &g_stats);
  hz3_purge_cfg_t cfg = hz3_purge_cfg_default();
  cfg.s57 = cfg.s60 = cfg.s61 = true;
  cfg.retain_max_pages = 64;
  hz3_purge_init(&g_purge, &g_pool, &g_stats, &cfg);
  hz3_epoch_init(&g_epoch, &g_central, &g_purge, &g_stats);
  g_env = hz3_tcache_env_default(&g_central, &g_pool, &EpochTick);
  g_env.s58 = true;
  g_env.max_bytes = 64 * 1024;
  hz3_batches_init(&g_batches, 256 * 1024);  // small: puts are refused as well as kept
  g_env.batches = &g_batches;

  constexpr int kThreads = 6, kRounds = 3, kSteps = 20000, kSlots = 512;
  std::vector<std::atomic<void*>> shared(kSlots);
  for (auto& s : shared) s.store(nullptr);
  std::atomic<int> bad{0};
  auto worker = [&](int id, int shard) {
    hz3_tcache_setup(&t_tc, &g_env, shard);
    std::mt19937 rng(id * 7919 + 1);
    std::vector<std::pair<void*, size_t>> mine;
    for (int i = 0; i < kSteps; i++) {
      int op = rng() % 10;
      if (op < 5 || mine.empty()) {
        size_t n = 16 + rng() % 8000;
        void* p = Malloc(n);
        if (p == nullptr) continue;
        memset(p, static_cast<int>(n & 0xFF), n);
        mine.push_back({p, n});
      } else if (op < 8) {
        auto [p, n] = mine.back();
        mine.pop_back();
        if (static_cast<unsigned char*>(p)[n - 1] != (n & 0xFF)) bad++;
        Free(p);
      } else if (op == 8) {  // hand an object to whoever takes the slot next
        auto [p, n] = mine.back();
        mine.pop_back();
        memset(p, 0x77, 16);
        void* old = shared[rng() % kSlots].exchange(p);
        if (old != nullptr) {
          if (static_cast<unsigned char*>(old)[15] != 0x77) bad++;
          Free(old);
        }
      } else if (i % 1000 == 999) {
        if (id % 2) {  // as malloc_trim: the shared batches too
          hz3_tcache_send_batches(&t_tc, &g_env, true);
          hz3_epoch_trim(&g_epoch, &t_tc);
        } else {
          hz3_epoch_run(&g_epoch, &t_tc);
        }
      }
    }
    for (auto [p, n] : mine) Free(p);
    hz3_epoch_thread_exit(&g_epoch, &t_tc);
  };
  for (int r = 0; r < kRounds; r++) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) threads.emplace_back(worker, r * kThreads + t, t % 4);
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(bad.load(), 0);
  // Drain: the last objects, every inbox, then everything is back and consistent.
  std::thread([&] {
    hz3_tcache_setup(&t_tc, &g_env, 0);
    for (auto& s : shared)
      if (void* p = s.exchange(nullptr)) Free(p);
    hz3_tcache_send_batches(&t_tc, &g_env, true);
    hz3_epoch_thread_exit(&g_epoch, &t_tc);
  }).join();
  for (uint32_t s = 0; s < g_central.nshards; s++) hz3_central_drain_inbox(&g_central, s);
  hz3_check_report_t rep;
  EXPECT_TRUE(hz3_batches_check(&g_batches, &rep)) << rep.message;
  EXPECT_EQ(hz3_batches_bytes(&g_batches), 0u);
  EXPECT_TRUE(hz3_central_check(&g_central, &rep)) << rep.message;
  EXPECT_TRUE(hz3_purge_check(&g_purge, &rep)) << rep.message;
  // Each class may keep one wholly free run as its spare; trim (and this) sends them back.
  for (uint32_t s = 0; s < g_central.nshards; s++) hz3_central_release_spares(&g_central, s);
  for (uint32_t s = 0; s < g_central.nshards; s++)
    EXPECT_EQ(g_central.shards[s].segments.head, nullptr) << "shard " << s;
  hz3_segment_pool_destroy(&g_pool);
}

}  // namespace
