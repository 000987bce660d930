// epoch: the order of maintenance over the real boxes on the fake OS: S58 reclaim feeds purge,
// thread exit (S61), trim over every shard and the spare segments, one epoch at a time.
#include <gtest/gtest.h>
#include <string.h>

#include <vector>

#include "tests/fakes/fake_os.h"

extern "C" {
#include "epoch/epoch.h"
#include "tcache/tcache_fast.h"
}

namespace {

class EpochTest : public ::testing::Test {
 protected:
  FakeOs os_;
  hz3_stats_t stats_;
  hz3_segment_pool_t pool_;
  hz3_central_t central_;
  hz3_purge_t* purge_ = new hz3_purge_t;
  hz3_purge_cfg_t cfg_ = hz3_purge_cfg_default();
  hz3_epoch_t epoch_;
  hz3_tcache_env_t env_;
  hz3_tcache_t a_, b_;

  void SetUp() override {
    hz3_stats_reset(&stats_);
    ASSERT_EQ(hz3_segment_pool_init(&pool_, os_.ops(), &stats_, 64 * HZ3_SEG_SIZE, 1), 0);
    hz3_central_init(&central_, &pool_, &stats_);
    cfg_.s57 = cfg_.s60 = cfg_.s61 = false;
    cfg_.retain_max_pages = 0;
    env_ = hz3_tcache_env_default(&central_, &pool_, nullptr);
    env_.s58 = false;
    env_.max_bytes = 0;
    memset(&a_, 0, sizeof a_);
    memset(&b_, 0, sizeof b_);
  }
  void Start() {
    hz3_purge_init(purge_, &pool_, &stats_, &cfg_);
    hz3_epoch_init(&epoch_, &central_, purge_, &stats_);
    hz3_tcache_setup(&a_, &env_, 1);
    hz3_tcache_setup(&b_, &env_, 3);
  }
  void TearDown() override {
    FreeKept();
    hz3_tcache_teardown(&a_);
    hz3_tcache_teardown(&b_);
    for (uint32_t s = 0; s < central_.nshards; s++) hz3_central_drain_inbox(&central_, s);
    Check();
    // Each class may keep one wholly free run as its spare; trim (and this) sends them back.
    for (uint32_t s = 0; s < central_.nshards; s++) hz3_central_release_spares(&central_, s);
    for (uint32_t s = 0; s < central_.nshards; s++)
      EXPECT_EQ(central_.shards[s].segments.head, nullptr) << "shard " << s;
    hz3_segment_pool_destroy(&pool_);
    delete purge_;
  }
  void Check() {
    hz3_check_report_t r;
    ASSERT_TRUE(hz3_central_check(&central_, &r)) << r.message;
    ASSERT_TRUE(hz3_purge_check(purge_, &r)) << r.message;
    ASSERT_TRUE(hz3_tcache_check(&a_, &r)) << r.message;
    ASSERT_TRUE(hz3_tcache_check(&b_, &r)) << r.message;
  }
  static void* Malloc(hz3_tcache_t* tc, size_t n) {
    uint32_t cls = hz3_size_to_class(n);
    void* p = hz3_tcache_pop(tc, cls);
    return p ? p : hz3_tcache_refill(tc, cls);
  }
  void Free(hz3_tcache_t* tc, void* p) {
    hz3_tag_t tag = hz3_segment_tag(&pool_, p);
    if (!hz3_tcache_push(tc, p, HZ3_TAG_BIN(tag))) hz3_tcache_free_slow(tc, p, tag);
  }
  // A burst: n objects of `sizes` different sizes in 256..4096 B, written, then all freed but
  // every keep_every-th (0: none kept), which stays in `kept_`.
  std::vector<std::pair<hz3_tcache_t*, void*>> kept_;
  void Burst(hz3_tcache_t* tc, int n, int sizes = 3841, int keep_every = 0) {
    std::vector<void*> v;
    for (int i = 0; i < n; i++) {
      size_t size = 256 + (i * 997) % sizes;
      v.push_back(Malloc(tc, size));
      ASSERT_NE(v.back(), nullptr);
      memset(v.back(), 0x33, size);
    }
    for (int i = 0; i < n; i++) {
      if (keep_every && i % keep_every == 0)
        kept_.push_back({tc, v[i]});
      else
        Free(tc, v[i]);
    }
  }
  void FreeKept() {
    for (auto& k : kept_) Free(k.first, k.second);
    kept_.clear();
  }
};

TEST_F(EpochTest, S58ReclaimThenS57PurgeEmptiesTheShard) {
  cfg_.s57 = true;
  cfg_.budget_pages = 256;
  env_.s58 = true;
  env_.s58_reclaim_budget = 64;
  Start();
  Burst(&a_, 20000, /*sizes=*/4);  // few classes: their bins overflow again and again
  uint64_t unused_before = hz3_segment_unused_pages(&pool_);
  EXPECT_GT(unused_before, 0u);
  uint64_t cached_before = hz3_tcache_cached_bytes(&a_);
  uint64_t pages = 0;
  for (int i = 0; i < 200; i++) {
    uint64_t got = hz3_epoch_run(&epoch_, &a_);
    EXPECT_LE(got, 256u);  // the S57 page budget per epoch (S60 is off)
    pages += got;
    Check();
  }
  EXPECT_EQ(hz3_epoch_current(&epoch_), 200u);
  EXPECT_LT(hz3_tcache_cached_bytes(&a_), cached_before);  // S58 gave the overage back
  // S57 scans the shard's segments; a segment left wholly free is the pool's (spare), not
  // the shard's, and waits for trim or the retain cap.
  uint64_t spare = pool_.spare_unused_pages;
  EXPECT_GE(pages + spare, unused_before);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), spare);
  EXPECT_EQ(os_.dontneed_pages(), pages);
}

TEST_F(EpochTest, S60DrainsItsQueueAtTheEpoch) {
  cfg_.s60 = true;
  Start();
  Burst(&a_, 2000, 3841, /*keep_every=*/10);  // survivors keep the segments in the set
  hz3_tcache_flush_all(&a_);
  ASSERT_GT(purge_->queues[1].count, 0u);
  size_t calls = os_.dontneed_calls();
  hz3_epoch_run(&epoch_, &a_);
  EXPECT_LE(os_.dontneed_calls() - calls, cfg_.queue_budget_calls);
  EXPECT_GT(os_.dontneed_calls(), calls);
  Check();
  FreeKept();
}

TEST_F(EpochTest, ThreadExitHardPurgesItsShard) {
  cfg_.s61 = true;
  Start();
  Burst(&a_, 2000);
  hz3_epoch_thread_exit(&epoch_, &a_);
  EXPECT_EQ(a_.state, static_cast<uint32_t>(HZ3_TCACHE_DEAD));
  EXPECT_EQ(hz3_central_segments(&central_, 1)->unused_pages, 0u);
  Check();
}

TEST_F(EpochTest, TrimReachesEveryShardButNotAParkedThreadsBins) {
  Start();
  Burst(&a_, 2000);
  Burst(&b_, 2000);  // b_ stays "parked": its bins keep what they hold
  uint64_t b_cached = hz3_tcache_cached_bytes(&b_);
  EXPECT_GT(b_cached, 0u);
  uint64_t pages = hz3_epoch_trim(&epoch_, &a_);
  EXPECT_GT(pages, 0u);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 0u);
  EXPECT_EQ(hz3_tcache_cached_bytes(&a_), 0u);
  EXPECT_EQ(hz3_tcache_cached_bytes(&b_), b_cached);
  Check();
}

TEST_F(EpochTest, OneEpochAtATime) {
  Start();
  hz3_lock_acquire(&epoch_.run_lock);  // as if another thread were inside an epoch
  EXPECT_EQ(hz3_epoch_run(&epoch_, &a_), 0u);
  EXPECT_EQ(hz3_epoch_current(&epoch_), 0u);
  hz3_lock_release(&epoch_.run_lock);
  hz3_epoch_run(&epoch_, &a_);
  EXPECT_EQ(hz3_epoch_current(&epoch_), 1u);
}

}  // namespace
