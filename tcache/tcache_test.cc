// tcache: the fast path's exits, refill, flush of a full bin, the remote stash, the epoch tick,
// teardown and use after teardown, on central + segment over the fake OS.
#include <gtest/gtest.h>
#include <string.h>

#include <random>
#include <set>
#include <vector>

#include "tests/fakes/fake_os.h"

extern "C" {
#include "tcache/tcache_fast.h"
}

namespace {

int g_ticks = 0;
void CountTick() { g_ticks++; }

class TcacheTest : public ::testing::Test {
 protected:
  FakeOs os_;
  hz3_stats_t stats_;
  hz3_segment_pool_t pool_;
  hz3_central_t central_;
  hz3_tcache_env_t env_;
  hz3_tcache_t tc_;        // zero-initialised, like the TLS one
  hz3_batches_t batches_;  // env_.batches in the tests that set it

  void SetUp() override {
    hz3_stats_reset(&stats_);
    ASSERT_EQ(hz3_segment_pool_init(&pool_, os_.ops(), &stats_, 64 * HZ3_SEG_SIZE, 1), 0);
    hz3_central_init(&central_, &pool_, &stats_);
    env_ = hz3_tcache_env_t{&central_, &pool_, &CountTick, 0, 0, 8};
    memset(&tc_, 0, sizeof tc_);
    g_ticks = 0;
  }
  void TearDown() override {
    Check();
    if (env_.batches != nullptr) {  // what waits there goes home with everything else
      hz3_check_report_t r;
      ASSERT_TRUE(hz3_batches_check(env_.batches, &r)) << r.message;
      hz3_tcache_send_batches(&tc_, &env_, true);
      EXPECT_EQ(hz3_batches_bytes(env_.batches), 0u);
    }
    hz3_tcache_teardown(&tc_);
    for (uint32_t s = 0; s < central_.nshards; s++) hz3_central_drain_inbox(&central_, s);
    hz3_check_report_t r;
    ASSERT_TRUE(hz3_central_check(&central_, &r)) << r.message;
    // Each class may keep one wholly free run as its spare; trim (and this) sends them back.
    for (uint32_t s = 0; s < central_.nshards; s++) hz3_central_release_spares(&central_, s);
    for (uint32_t s = 0; s < central_.nshards; s++)
      EXPECT_EQ(central_.shards[s].segments.head, nullptr) << "shard " << s << " kept memory";
    hz3_segment_pool_destroy(&pool_);
  }
  void Check() {
    hz3_check_report_t r;
    ASSERT_TRUE(hz3_tcache_check(&tc_, &r)) << r.message;
  }
  void* Malloc(size_t n) {
    uint32_t cls = hz3_size_to_class(n);
    void* p = hz3_tcache_pop(&tc_, cls);
    return p ? p : hz3_tcache_refill(&tc_, cls);
  }
  void Free(void* p) {
    hz3_tag_t tag = hz3_segment_tag(&pool_, p);
    if (!hz3_tcache_push(&tc_, p, HZ3_TAG_BIN(tag))) hz3_tcache_free_slow(&tc_, p, tag);
  }
};

TEST_F(TcacheTest, FreshTcacheTakesSlowPathsOnly) {
  EXPECT_EQ(hz3_tcache_pop(&tc_, 0), nullptr);
  hz3_tcache_setup(&tc_, &env_, 0);
  void* p = Malloc(24);
  ASSERT_NE(p, nullptr);
  hz3_tcache_t fresh;
  memset(&fresh, 0, sizeof fresh);
  EXPECT_FALSE(hz3_tcache_push(&fresh, p, hz3_segment_page_bin(&pool_, p)));
  EXPECT_FALSE(hz3_tcache_push(&fresh, p, 0));  // untagged page: never the fast path
  // A refused push leaves no trace: no room was taken (the x86 form borrows, then undoes).
  for (uint32_t i = 0; i < HZ3_NUM_BINS; i++) ASSERT_EQ(fresh.bins.room[i], 0u) << i;
  EXPECT_EQ(fresh.bins.head[hz3_segment_page_bin(&pool_, p)], nullptr);
  Free(p);
}

// Big objects up to 256 KiB: their bin opens when the thread allocates one, and grows by one
// room a time its bin is found empty (up to 512 KiB of them), so a thread that cycles a big
// buffer reuses it from its bin; what a full bin cannot take goes home at once.
TEST_F(TcacheTest, ABigObjectTheThreadCyclesWaitsInItsBin) {
  hz3_tcache_setup(&tc_, &env_, 0);
  uint32_t cls = hz3_big_size_to_class(100000);
  ASSERT_TRUE(hz3_class_is_big(cls));
  const uint32_t size = (uint32_t)hz3_class_to_size(cls), cap = (512u << 10) / size;
  ASSERT_GE(cap, 2u);
  EXPECT_EQ(tc_.bins.max[cls + 1], 0u);  // closed until the thread allocates one
  bool zeroed = false;
  void* p = hz3_tcache_alloc_direct(&tc_, cls, &zeroed);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(tc_.bins.max[cls + 1], 1u);
  Free(p);
  EXPECT_EQ(hz3_bins_len(&tc_.bins, cls + 1), 1u);
  EXPECT_EQ(hz3_tcache_pop(&tc_, cls), p);  // the same buffer again, no central
  // Each allocation that finds the bin empty opens one more room, up to the cap.
  std::vector<void*> v{p};
  for (uint32_t i = 1; i < cap + 2; i++) {
    v.push_back(hz3_tcache_alloc_direct(&tc_, cls, &zeroed));
    ASSERT_NE(v.back(), nullptr);
  }
  EXPECT_EQ(tc_.bins.max[cls + 1], cap);
  uint64_t unused = hz3_segment_unused_pages(&pool_);
  for (void* q : v) Free(q);
  // The bin keeps at most cap; the rest went home (their runs' pages unused now).
  EXPECT_LE(hz3_bins_len(&tc_.bins, cls + 1), cap);
  EXPECT_GE(hz3_segment_unused_pages(&pool_) - unused, 2u * hz3_class_run_pages(cls));
  Check();
}

// Big classes above 256 KiB (one object a run) never wait in a bin: their bins are closed from
// set-up on, alloc_direct takes the object from central and free_slow sends it straight home,
// where its run goes back to the segment (the pages' release policy sees them at once).
TEST_F(TcacheTest, BigObjectsBypassTheBins) {
  hz3_tcache_setup(&tc_, &env_, 0);
  uint32_t cls = hz3_big_size_to_class(300000);
  ASSERT_TRUE(hz3_class_is_big(cls));
  EXPECT_EQ(tc_.bins.max[cls + 1], 0u);
  std::vector<void*> v;
  bool zeroed = false;
  for (int i = 0; i < 4; i++) {
    void* p = hz3_tcache_alloc_direct(&tc_, cls, &zeroed);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(HZ3_TAG_CLASS(hz3_segment_tag(&pool_, p)), cls);
    memset(p, 0x77, hz3_class_to_size(cls));
    v.push_back(p);
  }
  uint64_t unused = hz3_segment_unused_pages(&pool_);
  for (void* p : v) Free(p);
  EXPECT_EQ(hz3_bins_len(&tc_.bins, cls + 1), 0u);
  EXPECT_EQ(tc_.bins.max[cls + 1], 0u);
  // Home at once: every page of the four runs is unused now (free, or idle in the spare run).
  EXPECT_EQ(hz3_segment_unused_pages(&pool_) - unused, 4u * hz3_class_run_pages(cls));
  // A thread of another shard frees one: it goes to the owner's inbox or runs, not a bin.
  void* p = hz3_tcache_alloc_direct(&tc_, cls, &zeroed);
  ASSERT_NE(p, nullptr);
  hz3_tcache_t other;
  memset(&other, 0, sizeof other);
  hz3_tcache_setup(&other, &env_, 1 % central_.nshards);
  hz3_tag_t tag = hz3_segment_tag(&pool_, p);
  EXPECT_FALSE(hz3_tcache_push(&other, p, HZ3_TAG_BIN(tag)));
  hz3_tcache_free_slow(&other, p, tag);
  EXPECT_EQ(hz3_bins_len(&other.bins, cls + 1), 0u);
  hz3_tcache_teardown(&other);
}

// free_home passes the bins by: an object of the cache's own shard goes to central's lists,
// one of another shard to its owner's inbox, and neither waits in a bin or the stash (the
// teardown's drain finds every run home, so neither was lost).
TEST_F(TcacheTest, FreeHomeSendsAnObjectPastTheBins) {
  hz3_tcache_setup(&tc_, &env_, 0);
  void* p = Malloc(8);
  void* q = Malloc(8);
  ASSERT_NE(p, nullptr);
  ASSERT_NE(q, nullptr);
  hz3_tag_t tag = hz3_segment_tag(&pool_, p);
  uint32_t bin = HZ3_TAG_BIN(tag);
  uint32_t len = hz3_bins_len(&tc_.bins, bin);
  hz3_tcache_free_home(&tc_, p, tag);
  EXPECT_EQ(hz3_bins_len(&tc_.bins, bin), len);
  void* r = Malloc(8);
  EXPECT_NE(r, p);  // the bin's next object, not the one sent home
  Free(r);
  hz3_tcache_t other;
  memset(&other, 0, sizeof other);
  hz3_tcache_setup(&other, &env_, 1 % central_.nshards);
  hz3_tcache_free_home(&other, q, hz3_segment_tag(&pool_, q));
  EXPECT_EQ(hz3_bins_len(&other.bins, bin), 0u);
  EXPECT_EQ(other.stashed, 0u);
  hz3_tcache_teardown(&other);
}

TEST_F(TcacheTest, SetUpFromTheDefaultEnvsTableEqualsTheComputedOne) {
  // hz3_tcache_env_default computes the first bin lengths once (preload's threads copy
  // them); an env without the table, the same knobs otherwise, computes them per set-up.
  hz3_tcache_env_t with_table = hz3_tcache_env_default(&central_, &pool_, nullptr);
  hz3_tcache_env_t computed = with_table;
  computed.start_ready = false;
  memset(computed.start_max, 0, sizeof computed.start_max);
  computed.start_bytes = 0;
  hz3_tcache_t a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  hz3_tcache_setup(&a, &with_table, 1);
  hz3_tcache_setup(&b, &computed, 1);
  EXPECT_GT(a.budget_used_bytes, 0u);
  EXPECT_EQ(a.budget_used_bytes, b.budget_used_bytes);
  for (uint32_t i = 0; i < HZ3_NUM_BINS; i++) {
    EXPECT_EQ(a.bins.max[i], b.bins.max[i]) << "bin " << i;
    EXPECT_EQ(a.bins.room[i], a.bins.max[i]) << "bin " << i;  // empty: all room
  }
  EXPECT_EQ(a.bins.max[0], 0u);  // bin 0 never takes an object
  if (!with_table.s58) {
    EXPECT_EQ(a.bins.max[hz3_size_to_class(64) + 1], 4u);  // bins start at 4 objects
  }
  hz3_tcache_teardown(&a);
  hz3_tcache_teardown(&b);
}

TEST_F(TcacheTest, PushTakesRoomUntilTheBinIsFullThenRefuses) {
  hz3_tcache_setup(&tc_, &env_, 0);
  uint32_t cls = hz3_size_to_class(48);
  std::vector<void*> v;
  for (int i = 0; i < 3000; i++) v.push_back(Malloc(48));
  while (void* p = hz3_tcache_pop(&tc_, cls)) v.push_back(p);  // empty the bin: all room
  const uint32_t bin = cls + 1, max = tc_.bins.max[bin];
  ASSERT_EQ(tc_.bins.room[bin], max);
  ASSERT_GT(v.size(), size_t{max});
  uint32_t pushed = 0;
  for (void* p : v) {
    if (!hz3_tcache_push(&tc_, p, bin)) break;
    pushed++;
    ASSERT_EQ(hz3_bins_len(&tc_.bins, bin), pushed);
  }
  EXPECT_EQ(pushed, max);  // exactly max fit
  EXPECT_EQ(tc_.bins.room[bin], 0u);
  EXPECT_FALSE(hz3_tcache_push(&tc_, v[max], bin));
  EXPECT_EQ(tc_.bins.room[bin], 0u);  // the refusal took nothing
  for (size_t i = max; i < v.size(); i++) Free(v[i]);
  Check();
}

TEST_F(TcacheTest, RefillFillsTheBinAndPopsInOrder) {
  hz3_tcache_setup(&tc_, &env_, 1);
  uint32_t cls = hz3_size_to_class(64);
  void* first = Malloc(64);
  ASSERT_NE(first, nullptr);
  uint32_t got = hz3_bins_len(&tc_.bins, cls + 1);
  EXPECT_GT(got, 0u);
  std::set<void*> seen{first};
  for (uint32_t i = 0; i < got; i++) EXPECT_TRUE(seen.insert(hz3_tcache_pop(&tc_, cls)).second);
  EXPECT_EQ(hz3_tcache_pop(&tc_, cls), nullptr);
  Check();
  for (void* p : seen) Free(p);
  Check();
}

TEST_F(TcacheTest, FullBinFlushesHalfToCentral) {
  hz3_tcache_setup(&tc_, &env_, 0);
  uint32_t cls = hz3_size_to_class(4096);
  const uint32_t bin_i = cls + 1;
  std::vector<void*> v;
  for (uint32_t i = 0; i < 3000; i++) v.push_back(Malloc(4096));  // refills grow the bin
  uint32_t max = tc_.bins.max[bin_i];                             // frees do not grow it
  EXPECT_GT(max, 4u);
  uint32_t flushes = 0;
  for (void* p : v) {
    uint32_t before = hz3_bins_len(&tc_.bins, bin_i);
    Free(p);
    ASSERT_LE(hz3_bins_len(&tc_.bins, bin_i), max);
    if (hz3_bins_len(&tc_.bins, bin_i) < before) {
      EXPECT_EQ(before, max);  // only a full bin flushes
      EXPECT_EQ(hz3_bins_len(&tc_.bins, bin_i), max / 2);
      flushes++;
    }
  }
  EXPECT_GE(flushes, 1u);
  Check();
}

// A full bin keeps half its max.  A thread that works (refills between overflows) keeps the
// newest half, the objects likeliest in cache.  One that keeps freeing without allocating (as
// a program dropping its records) leaves its full bins alone from HZ3_DRAIN_STREAK overflows in
// a row on: what it frees of its shard waits as pointers (homeward) and goes home together,
// so that no object is read back after its link was written.
TEST_F(TcacheTest, AWorkingThreadKeepsTheNewestHalfADrainingOneSendsFreesHomeAsPointers) {
  env_.max_bytes = (uint64_t)1 << 30;  // a budget, so that overflows in a row are counted
  hz3_tcache_setup(&tc_, &env_, 0);
  uint32_t cls = hz3_size_to_class(256);
  const uint32_t bin_i = cls + 1;
  std::vector<void*> v;
  uint32_t max;
  for (;;) {  // hold objects enough for the streak with the bin empty (only refills grow it)
    v.push_back(Malloc(256));
    while (hz3_bins_len(&tc_.bins, bin_i) > 0) v.push_back(Malloc(256));
    max = tc_.bins.max[bin_i];
    if (v.size() >= (size_t)(HZ3_DRAIN_STREAK + 2) * max + HZ3_HOMEWARD_SLOTS) break;
  }
  ASSERT_GE(max, 4u);
  ASSERT_EQ(tc_.drain_streak, 0u);  // the last allocation refilled
  // The first overflow: the thread has just been allocating, so the newest half stays.
  size_t next = 0;
  for (; next <= max; next++) Free(v[next]);
  ASSERT_EQ(hz3_bins_len(&tc_.bins, bin_i), max / 2);
  EXPECT_EQ(tc_.drain_streak, 1u);
  std::set<void*> bin_now, newest(v.begin() + (max + 1 - max / 2), v.begin() + max + 1);
  for (void* p = tc_.bins.head[bin_i]; p != nullptr; p = (void*)(*(uintptr_t*)p ^ env_.link_key))
    bin_now.insert(p);
  EXPECT_EQ(bin_now, newest);
  // Frees go on with no allocation: once the streak is reached, a full bin stays as it is.
  while (tc_.drain_streak < HZ3_DRAIN_STREAK) Free(v[next++]);
  while (hz3_bins_len(&tc_.bins, bin_i) < max) Free(v[next++]);
  std::set<void*> before;
  for (void* p = tc_.bins.head[bin_i]; p != nullptr; p = (void*)(*(uintptr_t*)p ^ env_.link_key))
    before.insert(p);
  const uint64_t out = hz3_central_bytes_out(&central_);
  Free(v[next++]);  // into the full bin: it waits, and nothing goes home yet
  ASSERT_EQ(hz3_bins_len(&tc_.bins, bin_i), max);
  bin_now.clear();
  for (void* p = tc_.bins.head[bin_i]; p != nullptr; p = (void*)(*(uintptr_t*)p ^ env_.link_key))
    bin_now.insert(p);
  EXPECT_EQ(bin_now, before);
  ASSERT_EQ(tc_.nhomeward, 1u);
  EXPECT_EQ(tc_.homeward[0], v[next - 1]);
  EXPECT_EQ(hz3_central_bytes_out(&central_), out);
  Check();
  // The slots filled (256 B objects: the byte bound is further), all go home in one call.
  while (tc_.nhomeward < HZ3_HOMEWARD_SLOTS - 1) Free(v[next++]);
  EXPECT_EQ(hz3_central_bytes_out(&central_), out);
  Free(v[next++]);
  EXPECT_EQ(tc_.nhomeward, 0u);
  EXPECT_EQ(hz3_central_bytes_out(&central_), out - 256u * HZ3_HOMEWARD_SLOTS);
  for (; next < v.size(); next++) Free(v[next]);
  Check();
  // What still waits goes home with the bins at thread exit and trim.
  ASSERT_GT(tc_.nhomeward, 0u);
  hz3_tcache_flush_all(&tc_);
  EXPECT_EQ(tc_.nhomeward, 0u);
  EXPECT_EQ(hz3_central_bytes_out(&central_), 0u);
}

// A bin that a long allocation phase grew to its cap sends a thousand objects a flush: the
// second overflow in a row already shows a thread emptying its working set (it counts one per
// HZ3_DRAIN_OVERFLOW_OBJECTS objects sent), so the frees after it wait as pointers instead of
// more flushes walking the bin.  The first overflow after a refill counts one.
TEST_F(TcacheTest, ABigBinsSecondOverflowInARowShowsTheThreadDraining) {
  env_.max_bytes = (uint64_t)1 << 30;
  hz3_tcache_setup(&tc_, &env_, 0);
  const uint32_t bin_i = hz3_size_to_class(16) + 1;
  std::vector<void*> v;
  uint32_t max;
  for (;;) {  // refills until the bin has grown to its cap, holding all it handed out
    v.push_back(Malloc(16));
    while (hz3_bins_len(&tc_.bins, bin_i) > 0) v.push_back(Malloc(16));
    max = tc_.bins.max[bin_i];
    if (max >= 2048 && v.size() >= 2u * max) break;
    ASSERT_LT(v.size(), 1000000u) << "the bin stopped growing at " << max;
  }
  ASSERT_EQ(tc_.drain_streak, 0u);
  size_t next = 0;
  for (; next <= max; next++) Free(v[next]);  // the first overflow
  EXPECT_EQ(tc_.drain_streak, 1u);
  while (hz3_bins_len(&tc_.bins, bin_i) < max) Free(v[next++]);
  Free(v[next++]);  // the second: max / 2 objects go
  EXPECT_EQ(tc_.drain_streak, 1u + (max / 2) / HZ3_DRAIN_OVERFLOW_OBJECTS);
  ASSERT_GE(tc_.drain_streak, (uint32_t)HZ3_DRAIN_STREAK);
  while (hz3_bins_len(&tc_.bins, bin_i) < max) Free(v[next++]);
  Free(v[next++]);  // the bin is left alone: the object waits to go home
  EXPECT_EQ(hz3_bins_len(&tc_.bins, bin_i), max);
  EXPECT_EQ(tc_.nhomeward, 1u);
  for (; next < v.size(); next++) Free(v[next]);
  Check();
}

TEST_F(TcacheTest, OtherShardsObjectsRideInBinsAndGoHomeInBatches) {
  hz3_tcache_t other;
  memset(&other, 0, sizeof other);
  hz3_tcache_setup(&other, &env_, 5);
  hz3_tcache_setup(&tc_, &env_, 2);
  uint32_t cls = hz3_size_to_class(200);
  // Bins start short; each refill of an empty one doubles it.  Grow shard 2's bin well past
  // the stash batch, so that the overflow below sends batches, and give its objects back.
  std::vector<void*> own;
  while (tc_.bins.max[cls + 1] < 4 * env_.stash_batch) {
    for (void* p = hz3_tcache_refill(&tc_, cls); p != nullptr; p = hz3_tcache_pop(&tc_, cls))
      own.push_back(p);
  }
  for (size_t i = 0; i < own.size(); i++)
    *static_cast<void**>(own[i]) = i + 1 < own.size() ? own[i + 1] : nullptr;
  hz3_central_free_list(&central_, 2, own[0]);
  uint32_t max = tc_.bins.max[cls + 1];
  std::vector<void*> v;
  for (uint32_t i = 0; i < max + 20; i++) {
    void* p = hz3_tcache_pop(&other, cls);
    v.push_back(p ? p : hz3_tcache_refill(&other, cls));
  }
  // Freed by shard 2's thread: into its own bin, no owner check on the fast path.
  for (uint32_t i = 0; i < max; i++)
    ASSERT_TRUE(hz3_tcache_push(&tc_, v[i], hz3_segment_page_bin(&pool_, v[i])));
  EXPECT_EQ(tc_.stashed, 0u);
  Check();
  // The next one overflows the bin: the older half goes home, through the stash (batch 8).
  // Shard 5's lock is busy (its owner is refilling): the batches wait in its inbox.
  hz3_central_lock_shard(&central_, 5);
  Free(v[max]);
  EXPECT_EQ(hz3_bins_len(&tc_.bins, cls + 1), max / 2);
  EXPECT_LT(tc_.stashed, env_.stash_batch);
  EXPECT_NE(central_.shards[5].inbox, nullptr);
  hz3_central_unlock_shard(&central_, 5);
  Check();
  // The lock is free again: the next batch goes to shard 5 directly, and takes what waited
  // in the inbox with it into its runs, though shard 5's thread never comes back.  Shard 5's
  // thread refilled this class: up to what that refill asked for waits whole in the class's
  // transfer list for its next refill; the rest goes into the runs.
  for (uint32_t i = max + 1; i < v.size(); i++) Free(v[i]);
  hz3_tcache_flush_all(&tc_);  // everything else, and the stash
  EXPECT_EQ(tc_.stashed, 0u);
  if (HZ3_REMOTE_DIRECT) {
    EXPECT_EQ(central_.shards[5].inbox, nullptr);
    const hz3_central_transfer_t& t = central_.shards[5].transfer[cls];
    EXPECT_GT(t.n, 0u);
    EXPECT_LE(t.n, t.wanted);
    EXPECT_EQ(hz3_central_transferring(&central_, 5), t.n);
    hz3_check_report_t r;
    ASSERT_TRUE(hz3_central_check(&central_, &r)) << r.message;
    // Shard 5's thread leaves (the epoch drains its shard then): the list goes to the runs.
    uint32_t waiting = t.n;
    hz3_tcache_teardown(&other);
    EXPECT_EQ(hz3_central_drain_inbox(&central_, 5), waiting);
    EXPECT_EQ(hz3_central_transferring(&central_, 5), 0u);
    EXPECT_EQ(t.wanted, 0u);  // closed until a refill of the class asks again
  } else {  // --define remote_direct=0: everything waits in the inbox for its owner
    EXPECT_NE(central_.shards[5].inbox, nullptr);
    hz3_tcache_teardown(&other);
    EXPECT_GT(hz3_central_drain_inbox(&central_, 5), 0u);
  }
  // Every object is back in its run: the class keeps one run as its spare, and trim's step
  // sends that back too.
  EXPECT_EQ(hz3_central_free_objects(&central_, 5), hz3_class_run_objs(cls));
  EXPECT_EQ(hz3_central_release_spares(&central_, 5), 1u);
  EXPECT_EQ(central_.shards[5].segments.head, nullptr);  // every run went back to its segment
}

TEST_F(TcacheTest, EpochTicksEveryIntervalOfSlowEvents) {
  hz3_tcache_setup(&tc_, &env_, 0);
  // Each refill of an emptied 16 B bin is one slow event.
  std::vector<void*> held;
  uint32_t events = 0;
  for (; events < HZ3_EPOCH_INTERVAL && events < 4096; events++) {
    while (void* p = hz3_tcache_pop(&tc_, 0)) held.push_back(p);
    void* p = hz3_tcache_refill(&tc_, 0);
    ASSERT_NE(p, nullptr);
    held.push_back(p);
  }
  EXPECT_EQ(g_ticks, events >= HZ3_EPOCH_INTERVAL ? 1 : 0);
  for (void* p : held) Free(p);
}

TEST_F(TcacheTest, ByteBudgetBoundsWhatAFreeingThreadHolds) {
  env_.max_bytes = 64 * 1024;
  env_.bin_max = 128;  // short bins: the frees below overflow them again and again
  hz3_tcache_setup(&tc_, &env_, 0);
  std::vector<void*> v;
  uint64_t s = 5;
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < 3000; i++) {  // four classes, enough to overflow their bins
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      v.push_back(Malloc(256u << ((s >> 33) % 4)));
      ASSERT_NE(v.back(), nullptr);
    }
    // Freeing: once frees have overflowed bins HZ3_DRAIN_STREAK times in a row, the bins'
    // total stays within the budget.
    bool overflowed = false;
    for (void* p : v) {
      Free(p);
      if (tc_.drain_streak >= HZ3_DRAIN_STREAK) overflowed = true;
      if (overflowed) {
        ASSERT_LE(tc_.budget_used_bytes, env_.max_bytes);
        ASSERT_LE(hz3_tcache_cached_bytes(&tc_), env_.max_bytes);
      }
    }
    EXPECT_TRUE(overflowed);
    v.clear();
    Check();  // also checks the budget books
  }
}

// A consumer (its thread frees other shards' objects and allocates nothing) keeps its byte
// budget too, but spends it on the bins it frees into: its empty bins close, and a bin whose
// flushes are mostly other shards' objects grows, so its batches get large.  A thread
// freeing its own objects halves its bins alike and closes none.
TEST_F(TcacheTest, AConsumerOfSeveralSizesGrowsEveryBinItFreesInto) {
  // A producer/consumer of 16..256 B objects (bench/xthread's shape): the consumer's budget
  // goes to the 16 bins it frees into, each long enough that its flushes send batches the
  // producer's transfer lists take whole.  (Closing empty bins only until under the budget
  // left these bins stuck at 16, batches of 9.)
  env_.max_bytes = 256 * 1024;  // the default build's budget
  hz3_tcache_t producer;
  memset(&producer, 0, sizeof producer);
  hz3_tcache_setup(&producer, &env_, 5);
  hz3_tcache_setup(&tc_, &env_, 2);
  std::vector<void*> v;
  std::mt19937 rng(7);
  for (int i = 0; i < 40000; i++) {
    uint32_t cls = hz3_size_to_class(16 * (1 + rng() % 16));
    void* p = hz3_tcache_pop(&producer, cls);
    v.push_back(p ? p : hz3_tcache_refill(&producer, cls));
    ASSERT_NE(v.back(), nullptr);
    if (v.size() == 2000) {  // the consumer frees as they arrive
      for (void* q : v) Free(q);
      v.clear();
    }
  }
  for (void* q : v) Free(q);
  EXPECT_LE(tc_.budget_used_bytes, env_.max_bytes);
  for (uint32_t size = 16; size <= 256; size += 16) {
    uint32_t bin = hz3_size_to_class(size) + 1;
    EXPECT_GE(tc_.bins.max[bin], 64u) << size << " B";
  }
  Check();
  hz3_tcache_flush_all(&tc_);
  hz3_tcache_teardown(&producer);
  hz3_central_drain_inbox(&central_, 5);
}

// Bins grow into a share of what all live caches may hold together: with four caches live,
// a thread working eight classes stops at a quarter of the shared bytes; alone, the same work
// grows its bins to four times that.  The count follows set-up and teardown.
TEST_F(TcacheTest, LiveCachesShareWhatTheirBinsMayGrowInto) {
  uint32_t live = 0;
  env_.live_caches = &live;
  env_.shared_grow_bytes = 8u << 20;
  hz3_tcache_t others[3];
  for (hz3_tcache_t& o : others) {
    memset(&o, 0, sizeof o);
    hz3_tcache_setup(&o, &env_, 1);
  }
  hz3_tcache_setup(&tc_, &env_, 0);
  ASSERT_EQ(live, 4u);
  // Each round takes 2048 objects of each of eight classes (256..2048 B) and frees them: every
  // bin runs empty again and again, and would grow to 18 MiB in all.
  auto work = [&]() {
    std::vector<void*> v;
    for (int round = 0; round < 3; round++) {
      for (uint32_t size = 256; size <= 2048; size += 256)
        for (int i = 0; i < 2048; i++) {
          v.push_back(Malloc(size));
          ASSERT_NE(v.back(), nullptr);
        }
      for (void* p : v) Free(p);
      v.clear();
    }
  };
  work();
  EXPECT_LE(tc_.budget_used_bytes, uint64_t{2} << 20);  // 8 MiB / 4
  Check();
  for (hz3_tcache_t& o : others) hz3_tcache_teardown(&o);
  EXPECT_EQ(live, 1u);
  work();
  EXPECT_GT(tc_.budget_used_bytes, uint64_t{6} << 20);  // alone: up to all 8 MiB
  EXPECT_LE(tc_.budget_used_bytes, uint64_t{8} << 20);
  Check();
  hz3_tcache_flush_all(&tc_);
  hz3_tcache_teardown(&tc_);
  EXPECT_EQ(live, 0u);
  for (hz3_tcache_t& o : others) hz3_tcache_flush_all(&o);
}

TEST_F(TcacheTest, AConsumerSpendsItsBudgetOnTheBinsItFreesInto) {
  env_.max_bytes = 64 * 1024;
  hz3_tcache_t producer;
  memset(&producer, 0, sizeof producer);
  hz3_tcache_setup(&producer, &env_, 5);
  hz3_tcache_setup(&tc_, &env_, 2);
  uint32_t cls = hz3_size_to_class(64);
  const uint32_t bin = cls + 1, start_max = tc_.bins.max[bin];
  std::vector<void*> v;
  for (int i = 0; i < 4000; i++) {
    void* p = hz3_tcache_pop(&producer, cls);
    v.push_back(p ? p : hz3_tcache_refill(&producer, cls));
    ASSERT_NE(v.back(), nullptr);
  }
  for (void* p : v) Free(p);  // all shard 5's: every flush is remote
  EXPECT_GE(tc_.drain_streak, static_cast<uint32_t>(HZ3_DRAIN_STREAK));
  EXPECT_LE(tc_.budget_used_bytes, env_.max_bytes);
  EXPECT_GT(tc_.bins.max[bin], start_max);  // grew: batches larger than the first ones
  uint32_t open_empty = 0;
  for (uint32_t i = 1; i < HZ3_NUM_BINS; i++)
    if (i != bin && tc_.bins.max[i] != 0) open_empty++;
  EXPECT_EQ(open_empty, 0u);  // the budget went to the one bin in use
  Check();
  hz3_tcache_flush_all(&tc_);
  hz3_tcache_teardown(&producer);  // its shard's transfer lists go to the runs
  hz3_central_drain_inbox(&central_, 5);

  // The same frees of a thread's own objects (short bins, so that they overflow again and
  // again): the budget holds, and the bin does not grow on overflow.
  env_.bin_max = 128;
  hz3_tcache_t own;
  memset(&own, 0, sizeof own);
  hz3_tcache_setup(&own, &env_, 5);
  v.clear();
  for (int i = 0; i < 4000; i++) {
    void* p = hz3_tcache_pop(&own, cls);
    v.push_back(p ? p : hz3_tcache_refill(&own, cls));
  }
  const uint32_t grown_by_refills = own.bins.max[bin];
  for (void* p : v) {
    hz3_tag_t tag = hz3_segment_tag(&pool_, p);
    if (!hz3_tcache_push(&own, p, HZ3_TAG_BIN(tag))) hz3_tcache_free_slow(&own, p, tag);
  }
  EXPECT_GE(own.drain_streak, static_cast<uint32_t>(HZ3_DRAIN_STREAK));
  EXPECT_LE(own.budget_used_bytes, env_.max_bytes);
  EXPECT_LE(own.bins.max[bin], grown_by_refills);
  hz3_tcache_teardown(&own);
}

TEST_F(TcacheTest, ByteBudgetLeavesABalancedLoopAlone) {
  env_.max_bytes = 64 * 1024;
  hz3_tcache_setup(&tc_, &env_, 0);
  uint32_t cls = hz3_size_to_class(16384);
  uint32_t max = tc_.bins.max[cls + 1];
  // Allocate and free in turn, overflowing now and then but refilling between: no enforcement.
  std::vector<void*> v;
  for (int round = 0; round < 50; round++) {
    for (uint32_t i = 0; i < max + 2; i++) v.push_back(Malloc(16384));
    for (void* p : v) Free(p);
    v.clear();
  }
  EXPECT_LT(tc_.drain_streak, static_cast<uint32_t>(HZ3_DRAIN_STREAK));
  EXPECT_GE(tc_.bins.max[cls + 1], max);  // its cache was not cut (it grew, if anything)
  Check();
}

TEST_F(TcacheTest, S58ShrinksBinsThatKeepOverflowing) {
  env_.s58 = true;
  env_.s58_initial_max_len = 32;
  env_.s58_max_overages = 3;
  env_.s58_reclaim_budget = 10;
  hz3_tcache_setup(&tc_, &env_, 0);
  uint32_t cls = hz3_size_to_class(256);
  const uint32_t b_i = cls + 1;
  EXPECT_EQ(tc_.bins.max[b_i], 32u);
  std::vector<void*> v;
  for (int i = 0; i < 5000; i++) v.push_back(Malloc(256));  // refills grow the bin meanwhile
  for (void* p : v) Free(p);                                // overflows several times
  EXPECT_GE(tc_.overflows[cls + 1], 3u);
  uint32_t len = hz3_bins_len(&tc_.bins, b_i), max = tc_.bins.max[b_i];
  uint32_t got = hz3_tcache_reclaim(&tc_);
  EXPECT_LE(got, 10u);  // the reclaim budget
  EXPECT_EQ(hz3_bins_len(&tc_.bins, b_i), len - got);
  EXPECT_LT(tc_.bins.max[b_i], max);  // the bin shrank
  EXPECT_EQ(tc_.overflows[cls + 1], 0u);
  EXPECT_EQ(hz3_tcache_reclaim(&tc_), 0u);  // no new overflows: nothing more to do
  Check();
}

TEST_F(TcacheTest, TeardownReturnsEverythingAndLaterCallsStillWork) {
  hz3_tcache_setup(&tc_, &env_, 3);
  std::vector<void*> v;
  for (int i = 0; i < 100; i++) v.push_back(Malloc(16 + i * 37));
  for (int i = 0; i < 50; i++) Free(v[i]);
  hz3_tcache_teardown(&tc_);
  EXPECT_EQ(tc_.state, static_cast<uint32_t>(HZ3_TCACHE_DEAD));
  for (uint32_t i = 0; i < HZ3_NUM_BINS; i++) EXPECT_EQ(hz3_bins_len(&tc_.bins, i), 0u);
  // As in a TLS destructor that runs after ours: allocate and free without caching.
  void* late = Malloc(100);
  ASSERT_NE(late, nullptr);
  memset(late, 1, 100);
  Free(late);
  for (int i = 50; i < 100; i++) Free(v[i]);
  for (uint32_t i = 0; i < HZ3_NUM_BINS; i++) EXPECT_EQ(hz3_bins_len(&tc_.bins, i), 0u);
}

// A thread torn down while it drained (the streak still counted): what it frees later, in a
// TLS destructor that runs after ours, goes home at once, never into the homeward slots, which
// nothing would send any more.
TEST_F(TcacheTest, AfterTeardownADrainingThreadsFreesGoHomeAtOnce) {
  env_.max_bytes = 64 << 10;
  hz3_tcache_setup(&tc_, &env_, 0);
  void* late = Malloc(64);
  tc_.drain_streak = HZ3_DRAIN_STREAK;  // as after overflows in a row with no refill
  hz3_tcache_teardown(&tc_);
  const uint64_t out = hz3_central_bytes_out(&central_);
  Free(late);
  EXPECT_EQ(tc_.nhomeward, 0u);
  EXPECT_EQ(hz3_central_bytes_out(&central_), out - 64);
}

TEST_F(TcacheTest, AnExitedThreadsCacheWaitsWholeForTheNextThread) {
  hz3_tcache_orphans_t orphans;
  hz3_tcache_orphans_init(&orphans);
  hz3_tcache_setup(&tc_, &env_, 6);
  std::vector<void*> v;
  for (int i = 0; i < 100; i++) v.push_back(Malloc(64 + (i % 8) * 16));
  for (void* p : v) Free(p);
  uint64_t cached = hz3_tcache_cached_bytes(&tc_);
  ASSERT_GT(cached, 0u);
  uint64_t refills = stats_.central_refills;
  // Exit: the cache is parked, not sent home; the thread's own cache is dead.
  ASSERT_TRUE(hz3_tcache_orphan_park(&orphans, &tc_));
  EXPECT_EQ(tc_.state, static_cast<uint32_t>(HZ3_TCACHE_DEAD));
  EXPECT_EQ(orphans.parked, 1u);
  EXPECT_EQ(hz3_tcache_cached_bytes(&tc_), 0u);
  // The next thread adopts it, shard and objects: its first mallocs need no refill.
  hz3_tcache_t next;
  memset(&next, 0, sizeof next);
  EXPECT_FALSE(hz3_tcache_orphan_adopt(&orphans, &next, &env_, 5));  // another shard's thread
  ASSERT_TRUE(hz3_tcache_orphan_adopt(&orphans, &next, &env_, 6));
  EXPECT_EQ(next.shard, 6u);
  EXPECT_EQ(orphans.parked, 0u);
  EXPECT_EQ(hz3_tcache_cached_bytes(&next), cached);
  std::set<void*> before(v.begin(), v.end());
  for (int i = 0; i < 100; i++) {
    uint32_t cls = hz3_size_to_class(64 + (i % 8) * 16);
    void* p = hz3_tcache_pop(&next, cls);
    ASSERT_NE(p, nullptr) << i;
    EXPECT_TRUE(before.count(p)) << i;
    hz3_tcache_push(&next, p, hz3_segment_page_bin(&pool_, p));
  }
  EXPECT_EQ(stats_.central_refills, refills);
  hz3_check_report_t r;
  ASSERT_TRUE(hz3_tcache_check(&next, &r)) << r.message;
  // It exits too, and nobody comes: trim sends the parked cache home.
  ASSERT_TRUE(hz3_tcache_orphan_park(&orphans, &next));
  uint64_t held = 0;
  for (const hz3_tcache_orphan_t& slot : orphans.slots)
    for (uint32_t i = 1; slot.used && i < HZ3_NUM_BINS; i++) held += hz3_bins_len(&slot.bins, i);
  EXPECT_GT(held, 0u);
  EXPECT_EQ(hz3_tcache_orphans_flush(&orphans, &env_), held);
  EXPECT_EQ(orphans.parked, 0u);
  hz3_tcache_t third;
  memset(&third, 0, sizeof third);
  EXPECT_FALSE(hz3_tcache_orphan_adopt(&orphans, &third, &env_, HZ3_ORPHAN_ANY_SHARD));
}

TEST_F(TcacheTest, ParkedCachesAreFewAndSmall) {
  hz3_tcache_orphans_t orphans;
  hz3_tcache_orphans_init(&orphans);
  std::vector<hz3_tcache_t> caches(HZ3_ORPHAN_SLOTS + 1);
  for (size_t t = 0; t < caches.size(); t++) {
    memset(&caches[t], 0, sizeof caches[t]);
    hz3_tcache_setup(&caches[t], &env_, static_cast<uint32_t>(t % HZ3_NUM_SHARDS));
    // Each holds well over the parking limit: 16 objects of each of 40 classes.
    std::vector<void*> v;
    for (int c = 0; c < 40; c++) {
      uint32_t cls = hz3_size_to_class(1024 + c * 64);
      for (int i = 0; i < 16; i++) {
        void* p = hz3_tcache_pop(&caches[t], cls);
        v.push_back(p ? p : hz3_tcache_refill(&caches[t], cls));
      }
    }
    for (void* p : v) {
      hz3_tag_t tag = hz3_segment_tag(&pool_, p);
      if (!hz3_tcache_push(&caches[t], p, HZ3_TAG_BIN(tag)))
        hz3_tcache_free_slow(&caches[t], p, tag);
    }
    ASSERT_GT(hz3_tcache_cached_bytes(&caches[t]), uint64_t{HZ3_ORPHAN_MAX_BYTES});
    bool parked = hz3_tcache_orphan_park(&orphans, &caches[t]);
    EXPECT_EQ(parked, t < HZ3_ORPHAN_SLOTS) << t;
    if (!parked) hz3_tcache_teardown(&caches[t]);  // the usual exit
  }
  for (uint32_t i = 0; i < HZ3_ORPHAN_SLOTS; i++) {
    uint64_t bytes = 0;
    for (uint32_t b = 1; b < HZ3_NUM_BINS; b++)
      bytes += uint64_t{hz3_bins_len(&orphans.slots[i].bins, b)} * hz3_class_to_size(b - 1);
    EXPECT_LE(bytes, uint64_t{HZ3_ORPHAN_MAX_BYTES}) << i;
  }
  hz3_tcache_orphans_flush(&orphans, &env_);
}

TEST_F(TcacheTest, BinsStartSmallAndGrowWithUseWithinABound) {
  hz3_tcache_setup(&tc_, &env_, 0);
  uint32_t cls = hz3_size_to_class(64);
  const uint32_t b_i = cls + 1;
  uint32_t start = tc_.bins.max[b_i];
  EXPECT_LE(start, 16u);  // a thread that touches a class once takes a small batch
  // A thread cycling 1 600 objects of one size: its bin grows until the batch stays home.
  std::vector<void*> v;
  uint64_t refills_last_round = 0;
  for (int round = 0; round < 12; round++) {
    uint64_t before = stats_.central_refills;
    for (int i = 0; i < 1600; i++) v.push_back(Malloc(64));
    for (void* p : v) Free(p);
    v.clear();
    refills_last_round = stats_.central_refills - before;
  }
  EXPECT_GE(tc_.bins.max[b_i], 1600u);
  if (HZ3_STATS) {
    EXPECT_EQ(refills_last_round, 0u);
  }
  // Working many large classes: growth takes from other bins, the total stays bounded.
  for (int round = 0; round < 4; round++) {
    for (size_t n = 2048; n <= 65536; n += 2048)
      for (int i = 0; i < 40; i++) v.push_back(Malloc(n));
    for (void* p : v) Free(p);
    v.clear();
  }
  EXPECT_LE(hz3_tcache_cached_bytes(&tc_), uint64_t{16} << 20);
  Check();
}

// The shared batches: a full bin's older half waits whole for the next refill of its class in
// any thread's cache, which takes it as it is (the same objects, central not asked).
class TcacheBatchesTest : public TcacheTest {
 protected:
  static constexpr size_t kSize = 64;
  uint32_t cls_ = hz3_size_to_class(kSize);
  std::set<void*> freed_;

  void SetUp() override {
    TcacheTest::SetUp();
    hz3_batches_init(&batches_, 1 << 20);
    env_.batches = &batches_;
    env_.bin_max = 16;  // bins of 16: a flush sends 9
    hz3_tcache_setup(&tc_, &env_, 0);
  }
  // tc_ works the class (its refills ask for batches), then frees n objects.
  void WorkThenFree(size_t n) {
    std::vector<void*> v;
    for (size_t i = 0; i < n; i++) v.push_back(Malloc(kSize));
    for (void* p : v) {
      Free(p);
      freed_.insert(p);
    }
  }
};

TEST_F(TcacheBatchesTest, AFlushedHalfBinIsTheNextRefillOfAnyThread) {
  hz3_tcache_t other;
  memset(&other, 0, sizeof other);
  hz3_tcache_setup(&other, &env_, 1);
  std::vector<void*> warm;  // other's bin grows to 8 on the way: a batch of 9 fits (2x)
  for (int i = 0; i < 12; i++)
    warm.push_back(hz3_tcache_pop(&other, cls_) ?: hz3_tcache_refill(&other, cls_));
  std::vector<void*> v;
  for (int i = 0; i < 64; i++) v.push_back(Malloc(kSize));
  uint64_t central_free = hz3_central_free_objects(&central_, 0);
  for (void* p : v) {
    Free(p);
    freed_.insert(p);
  }
  // 64 frees into a bin of 16: the flushes' halves (9 each) waited here, none went home.
  const uint64_t kept = hz3_batches_bytes(&batches_) / kSize;
  EXPECT_GE(kept, 27u);
  EXPECT_EQ(kept % 9, 0u);
  EXPECT_LE(hz3_central_free_objects(&central_, 0), central_free);
  for (void* p : warm) freed_.insert(p);  // warm's objects are tc_'s too
  // Another thread (another shard) runs empty: its refill is tc_'s newest half-bin, whole.
  void* p = hz3_tcache_refill(&other, cls_);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(hz3_batches_bytes(&batches_) / kSize, kept - 9);
  EXPECT_EQ(hz3_bins_len(&other.bins, cls_ + 1), 8u);
  EXPECT_TRUE(freed_.count(p));
  for (void* q = hz3_tcache_pop(&other, cls_); q != nullptr; q = hz3_tcache_pop(&other, cls_)) {
    EXPECT_TRUE(freed_.count(q)) << q << " is not one of the flushed objects";
    Free(q);
  }
  Free(p);
  for (void* q : warm) Free(q);
  hz3_check_report_t r;
  ASSERT_TRUE(hz3_tcache_check(&other, &r)) << r.message;
  hz3_tcache_teardown(&other);
}

TEST_F(TcacheBatchesTest, NothingWaitsWithoutRefillsAskingForIt) {
  // Objects tc_ never refilled: another cache frees them, with no refill of the class since
  // anywhere.  Everything it flushes goes home.
  hz3_tcache_t other;
  memset(&other, 0, sizeof other);
  hz3_tcache_setup(&other, &env_, 0);
  hz3_batch_t out[HZ3_BATCHES_SLOTS];
  std::vector<void*> v;
  for (int i = 0; i < 100; i++) v.push_back(Malloc(kSize));
  hz3_batches_take_all(&batches_, cls_, out);  // nothing waits yet; the demand is closed
  for (void* p : v)
    if (!hz3_tcache_push(&other, p, cls_ + 1))
      hz3_tcache_free_slow(&other, p, hz3_segment_tag(&pool_, p));
  EXPECT_EQ(hz3_batches_bytes(&batches_), 0u);
  hz3_tcache_teardown(&other);
}

TEST_F(TcacheBatchesTest, AThreadEmptyingItsWorkingSetSendsThemHome) {
  env_.max_bytes = 64 << 10;  // the memory-returning build's streaks
  std::vector<void*> v;
  for (int i = 0; i < 64; i++) v.push_back(Malloc(kSize));
  for (int i = 0; i < 40; i++) Free(v[i]);  // a few halves wait
  ASSERT_GT(hz3_batches_bytes(&batches_), 0u);
  for (int i = 40; i < 64; i++) Free(v[i]);
  // Then frees of another class only, thousands of them, no refill between the overflows:
  // after HZ3_DRAIN_BATCHES_STREAK of them the batches go home and take nothing more.
  v.clear();
  for (int i = 0; i < 2000; i++) v.push_back(Malloc(256));
  for (void* p : v) Free(p);
  EXPECT_GE(tc_.drain_streak, (uint32_t)HZ3_DRAIN_BATCHES_STREAK);
  EXPECT_EQ(hz3_batches_bytes(&batches_), 0u);
  hz3_check_report_t r;
  ASSERT_TRUE(hz3_central_check(&central_, &r)) << r.message;
}

TEST_F(TcacheBatchesTest, TheEpochSendsHomeWhatNoRefillTookSinceTheLastOne) {
  WorkThenFree(64);
  const uint64_t kept = hz3_batches_bytes(&batches_);
  ASSERT_GT(kept, 0u);
  EXPECT_EQ(hz3_tcache_send_batches(&tc_, &env_, false), 0u);  // marks them
  EXPECT_EQ(hz3_batches_bytes(&batches_), kept);
  EXPECT_EQ(hz3_tcache_send_batches(&tc_, &env_, false), kept / kSize);
  EXPECT_EQ(hz3_batches_bytes(&batches_), 0u);
  hz3_check_report_t r;
  ASSERT_TRUE(hz3_central_check(&central_, &r)) << r.message;
}

// Growing a bin at its thread's limit halves other bins, but only ones holding no more than
// their new length: cutting a fuller one walks its list, and threads whose bins all random-walk
// at the limit (handoff 16: 4 % of the time) did that on nearly every refill.
TEST_F(TcacheTest, GrowthTakesRoomOnlyFromBinsThatNeedNoCut) {
  uint32_t live = 1;
  env_.live_caches = &live;
  env_.shared_grow_bytes = 1 << 20;  // the thread's limit: 1 MiB
  env_.bin_max = 256;
  hz3_tcache_setup(&tc_, &env_, 0);
  // A full bin of 2 KiB objects: 512 KiB of the limit.
  const uint32_t full = hz3_size_to_class(2048) + 1, grows = hz3_size_to_class(1024) + 1;
  std::vector<void*> a, c;
  while (tc_.bins.max[full] < 256) a.push_back(Malloc(2048));
  for (int i = 0; i < 300; i++) a.push_back(Malloc(2048));      // at its cap: no more growth
  while (hz3_bins_len(&tc_.bins, full) < tc_.bins.max[full]) {  // freeing fills it
    ASSERT_FALSE(a.empty());
    Free(a.back());
    a.pop_back();
  }
  // Another class grows by refills until the limit stops it, taking the room of the bins that
  // hold little (the other classes' first bins).
  const uint32_t start = tc_.bins.max[grows];
  tc_.steal_next = full;  // the next victim in turn: it must be passed over
  for (int i = 0; i < 3000; i++) c.push_back(Malloc(1024));
  EXPECT_GT(tc_.bins.max[grows], 4 * start);
  EXPECT_EQ(tc_.bins.max[full], 256u) << "the full bin gave room";
  EXPECT_EQ(hz3_bins_len(&tc_.bins, full), 256u) << "the full bin was cut";
  EXPECT_LE(tc_.budget_used_bytes, uint64_t{1} << 20);
  for (void* p : a) Free(p);
  for (void* p : c) Free(p);
  Check();
}

TEST_F(TcacheTest, BinLinksAreKeyedAndTheImmediateDoubleFreeAborts) {
  env_.link_key = (uintptr_t{1} << 63) | 0x5A5A1234ull;
  hz3_tcache_setup(&tc_, &env_, 0);
  void* a = Malloc(64);
  void* b = Malloc(64);
  Free(a);
  Free(b);  // the bin: b -> a -> ...
  uintptr_t stored;
  memcpy(&stored, b, sizeof stored);
  EXPECT_NE(stored, reinterpret_cast<uintptr_t>(a));                  // not a plain pointer
  EXPECT_EQ(stored ^ env_.link_key, reinterpret_cast<uintptr_t>(a));  // but a keyed one
  Check();
  EXPECT_DEATH(Free(b), "double free");
  // A pointer written into a freed object: the next walk of the list stops with a message.
  static char target[64];
  void* chosen = target;
  memcpy(b, &chosen, sizeof chosen);
  EXPECT_DEATH(hz3_tcache_flush_all(&tc_), "corrupted free list");
  void* fixed = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(a) ^ env_.link_key);
  memcpy(b, &fixed, sizeof fixed);  // repaired, so that teardown can return the bin
}

}  // namespace
