// large: own mappings, registry, bounded cache, alignment, resize, on the fake OS.
#include <errno.h>
#include <gtest/gtest.h>
#include <string.h>

#include <random>
#include <vector>

#include "tests/fakes/fake_os.h"

extern "C" {
#include "large/large.h"
}

namespace {

class LargeTest : public ::testing::Test {
 protected:
  FakeOs os_;
  hz3_stats_t stats_;
  hz3_large_t lg_;
  void SetUp() override {
    hz3_stats_reset(&stats_);
    hz3_large_init(&lg_, os_.ops(), &stats_);
  }
  void TearDown() override {
    Check();
    EXPECT_EQ(lg_.count, 0u) << "large pointers left registered";
    hz3_large_flush_cache(&lg_);
    hz3_large_destroy(&lg_);
    EXPECT_EQ(os_.mapped_bytes_live(), 0u);
  }
  void Check() {
    hz3_check_report_t r;
    ASSERT_TRUE(hz3_large_check(&lg_, &r)) << r.message;
  }
};

TEST_F(LargeTest, AllocFreeAndUsableSize) {
  void* p = hz3_large_alloc(&lg_, 100000, 16, false);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % HZ3_PAGE_SIZE, 0u);
  EXPECT_EQ(hz3_large_usable_size(&lg_, p), 25 * HZ3_PAGE_SIZE);  // 100000 rounded to pages
  memset(p, 1, 100000);
  Check();
  int local;
  EXPECT_FALSE(hz3_large_free(&lg_, &local));  // never returned by large: not ours
  EXPECT_EQ(hz3_large_usable_size(&lg_, &local), 0u);
  EXPECT_TRUE(hz3_large_free(&lg_, p));
  EXPECT_FALSE(hz3_large_free(&lg_, p));  // already freed: no longer registered
}

// Epochs with no large allocation in between, as many as HZ3_LARGE_DECAY_QUIET_EPOCHS - 1:
// none of them gives anything back.
void QuietEpochs(hz3_large_t* lg) {
  for (int i = 0; i + 1 < HZ3_LARGE_DECAY_QUIET_EPOCHS; i++)
    ASSERT_EQ(hz3_large_cache_decay(lg), 0u);
}

// Once no large block has been allocated for HZ3_LARGE_DECAY_QUIET_EPOCHS epochs, the cache
// gives back half its bytes at each, biggest mappings first; an allocation starts the count
// again.
TEST_F(LargeTest, CacheDecaysWhileNoLargeBlockIsAllocated) {
  const size_t mib = size_t{1} << 20;
  void* keep = hz3_large_alloc(&lg_, 8 * mib, 16, false);  // live: the bound is 8 MiB
  void* b = hz3_large_alloc(&lg_, 2 * mib, 16, false);
  void* c = hz3_large_alloc(&lg_, 3 * mib, 16, false);
  ASSERT_TRUE(keep && b && c);
  EXPECT_TRUE(hz3_large_free(&lg_, b));
  EXPECT_TRUE(hz3_large_free(&lg_, c));
  EXPECT_EQ(lg_.cache_bytes, 5 * mib);
  EXPECT_EQ(hz3_large_cache_decay(&lg_), 0u);  // allocations since the last epoch: active
  QuietEpochs(&lg_);
  EXPECT_EQ(lg_.cache_bytes, 5 * mib);
  EXPECT_EQ(hz3_large_cache_decay(&lg_), 3 * mib);  // quiet long enough: the biggest goes first
  EXPECT_EQ(lg_.cache_bytes, 2 * mib);
  void* d = hz3_large_alloc(&lg_, 1 * mib, 16, false);  // active again (a cache hit)
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(lg_.cache_bytes, 0u);
  EXPECT_TRUE(hz3_large_free(&lg_, d));
  EXPECT_EQ(hz3_large_cache_decay(&lg_), 0u);
  QuietEpochs(&lg_);
  EXPECT_EQ(hz3_large_cache_decay(&lg_), 2 * mib);
  EXPECT_EQ(hz3_large_cache_decay(&lg_), 0u);  // nothing left
  EXPECT_TRUE(hz3_large_free(&lg_, keep));
}

TEST_F(LargeTest, BigAlignments) {
  for (size_t align = 4096; align <= (size_t{1} << 22); align <<= 1) {
    void* p = hz3_large_alloc(&lg_, 70000, align, false);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align;
    EXPECT_TRUE(hz3_large_free(&lg_, p));
  }
}

TEST_F(LargeTest, CacheReusesAndStaysBounded) {
  void* a = hz3_large_alloc(&lg_, 1 << 20, 16, false);
  ASSERT_TRUE(hz3_large_free(&lg_, a));
  size_t maps = os_.map_calls();
  void* b = hz3_large_alloc(&lg_, (1 << 20) - 5000, 16, false);  // fits the cached mapping
  EXPECT_EQ(b, a);
  EXPECT_EQ(os_.map_calls(), maps);
  memset(b, 0xEE, 1 << 19);
  EXPECT_TRUE(hz3_large_free(&lg_, b));
  // calloc's case: a recycled mapping must read as zero.
  unsigned char* z = static_cast<unsigned char*>(hz3_large_alloc(&lg_, 1 << 20, 16, true));
  EXPECT_EQ(static_cast<void*>(z), a);
  for (size_t i = 0; i < (1 << 19); i += 4096) ASSERT_EQ(z[i], 0) << i;
  EXPECT_TRUE(hz3_large_free(&lg_, z));
  std::vector<void*> v;
  for (int i = 0; i < 40; i++) v.push_back(hz3_large_alloc(&lg_, (4 << 20), 16, false));
  // While most are live the cache keeps a quarter of them at most; as they all go, it
  // empties with them down to its floor.
  for (size_t i = 0; i < v.size(); i++) {
    EXPECT_TRUE(hz3_large_free(&lg_, v[i]));
    EXPECT_LE(lg_.cache_bytes, hz3_large_cache_bound(&lg_)) << i;
    if (i == 10) {
      EXPECT_GT(lg_.cache_bytes, 4u << 20);
    }
  }
  EXPECT_LE(lg_.cache_bytes, HZ3_LARGE_CACHE_FLOOR);
  Check();
  hz3_large_flush_cache(&lg_);
  EXPECT_EQ(lg_.cache_bytes, 0u);
}

TEST_F(LargeTest, ReplacingBlocksReusesTheirMappings) {
  // 20 live blocks of 5..25 MiB, one replaced at a time by a zero-filled one: after the first
  // round, most replacements come from the cache, not from the OS.
  std::vector<unsigned char*> live;
  for (int i = 0; i < 20; i++)
    live.push_back(static_cast<unsigned char*>(hz3_large_alloc(&lg_, (5u + i) << 20, 16, true)));
  size_t maps = os_.map_calls();
  uint64_t rng = 5;
  for (int step = 0; step < 200; step++) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    size_t i = (rng >> 33) % live.size(), n = ((5u + (rng >> 40) % 21) << 20) - 12345;
    live[i][0] = 0xAA;
    ASSERT_TRUE(hz3_large_free(&lg_, live[i]));
    live[i] = static_cast<unsigned char*>(hz3_large_alloc(&lg_, n, 16, true));
    ASSERT_NE(live[i], nullptr);
    for (size_t off = 0; off < n; off += n / 7) ASSERT_EQ(live[i][off], 0) << step;
    ASSERT_GE(hz3_large_usable_size(&lg_, live[i]), n);
  }
  EXPECT_LT(os_.map_calls() - maps, 100u);
  Check();
  for (unsigned char* p : live) ASSERT_TRUE(hz3_large_free(&lg_, p));
  EXPECT_LE(lg_.cache_bytes, HZ3_LARGE_CACHE_FLOOR);
}

// No cached mapping fits a request: the biggest one of at least half its size grows into it
// (its pages stay, only the rest is new), zeroed where asked; one under half does not.
TEST_F(LargeTest, AGrowingRequestGrowsACachedMappingOfHalfItsSize) {
  const size_t mib = size_t{1} << 20;
  void* keep = hz3_large_alloc(&lg_, 8 * mib, 16, false);  // live: the bound is 8 MiB
  void* a = hz3_large_alloc(&lg_, 2 * mib, 16, false);
  ASSERT_TRUE(keep && a);
  memset(a, 0x5A, 2 * mib);
  ASSERT_TRUE(hz3_large_free(&lg_, a));  // cached
  size_t maps = os_.map_calls(), remaps = os_.remap_calls();
  unsigned char* b = static_cast<unsigned char*>(hz3_large_alloc(&lg_, 3 * mib, 16, true));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(os_.map_calls(), maps);
  EXPECT_EQ(os_.remap_calls(), remaps + 1);
  EXPECT_EQ(hz3_large_usable_size(&lg_, b), 3 * mib);
  bool zero = true;
  for (size_t i = 0; i < 3 * mib; i += 4096 - 1) zero &= b[i] == 0;
  EXPECT_TRUE(zero);
  EXPECT_EQ(lg_.cache_bytes, 0u);
  ASSERT_TRUE(hz3_large_free(&lg_, b));                 // cached, 3 MiB
  void* c = hz3_large_alloc(&lg_, 7 * mib, 16, false);  // more than twice it: a fresh mapping
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(os_.map_calls(), maps + 1);
  EXPECT_EQ(os_.remap_calls(), remaps + 1);
  ASSERT_TRUE(hz3_large_free(&lg_, c));
  ASSERT_TRUE(hz3_large_free(&lg_, keep));
}

// One block at a time, bigger than the floor, freed and allocated again: none is live when
// it is freed, so the first goes back to the OS; the allocation after it that the cache
// cannot serve teaches the reuse keep, and from then on each block reuses the one before,
// all its pages (a smaller request keeps the pages past twice its size: the keep covers them).
TEST_F(LargeTest, OneBigBlockAtATimeIsReusedOnceTheCacheLearnsIt) {
  const size_t mib = size_t{1} << 20;
  ASSERT_GT(20 * mib, HZ3_LARGE_CACHE_FLOOR);
  ASSERT_LE(20 * mib, HZ3_LARGE_REUSE_KEEP_MAX);
  void* a = hz3_large_alloc(&lg_, 20 * mib, 16, false);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(hz3_large_free(&lg_, a));
  EXPECT_EQ(lg_.cache_bytes, 0u);  // nothing learned yet: unmapped
  void* b = hz3_large_alloc(&lg_, 20 * mib, 16, false);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(lg_.reuse_keep, 20 * mib);
  size_t maps = os_.map_calls(), ranges = os_.dontneed_calls();
  void* prev = b;
  for (int i = 0; i < 10; i++) {
    ASSERT_TRUE(hz3_large_free(&lg_, prev));
    EXPECT_EQ(lg_.cache_bytes, 20 * mib) << i;
    prev = hz3_large_alloc(&lg_, (i % 2 ? 20 : 5) * mib, 16, true);
    ASSERT_NE(prev, nullptr);
  }
  EXPECT_EQ(os_.map_calls(), maps);
  EXPECT_EQ(os_.dontneed_calls(), ranges);
  ASSERT_TRUE(hz3_large_free(&lg_, prev));
  Check();
}

// The reuse keep goes when the program frees more than twice the bound with no large
// allocation in between (it empties its large objects), with the quiet epochs, and with a
// flush (malloc_trim).
TEST_F(LargeTest, TheReuseKeepGoesWhenTheProgramStopsReusing) {
  const size_t mib = size_t{1} << 20;
  ASSERT_TRUE(hz3_large_free(&lg_, hz3_large_alloc(&lg_, 8 * mib, 16, false)));
  void* learn = hz3_large_alloc(&lg_, 8 * mib, 16, false);
  ASSERT_EQ(lg_.reuse_keep, 8 * mib);
  ASSERT_TRUE(hz3_large_free(&lg_, learn));
  std::vector<void*> v;
  for (int i = 0; i < 3; i++) v.push_back(hz3_large_alloc(&lg_, 8 * mib, 16, false));
  for (void* p : v) ASSERT_TRUE(hz3_large_free(&lg_, p));  // 24 MiB freed: over twice 8
  EXPECT_EQ(lg_.reuse_keep, 0u);
  EXPECT_LE(lg_.cache_bytes, HZ3_LARGE_CACHE_FLOOR);
  hz3_large_flush_cache(&lg_);
  // Learned again, then no large allocation for the quiet epochs: it goes with the cache.
  ASSERT_TRUE(hz3_large_free(&lg_, hz3_large_alloc(&lg_, 8 * mib, 16, false)));
  learn = hz3_large_alloc(&lg_, 8 * mib, 16, false);
  ASSERT_EQ(lg_.reuse_keep, 8 * mib);
  ASSERT_TRUE(hz3_large_free(&lg_, learn));
  EXPECT_EQ(hz3_large_cache_decay(&lg_), 0u);
  QuietEpochs(&lg_);
  EXPECT_EQ(hz3_large_cache_decay(&lg_), 8 * mib);
  EXPECT_EQ(lg_.reuse_keep, 0u);
  EXPECT_EQ(hz3_large_cache_bound(&lg_), HZ3_LARGE_CACHE_FLOOR);
  // And malloc_trim's flush.
  ASSERT_TRUE(hz3_large_free(&lg_, hz3_large_alloc(&lg_, 8 * mib, 16, false)));
  learn = hz3_large_alloc(&lg_, 8 * mib, 16, false);
  ASSERT_EQ(lg_.reuse_keep, 8 * mib);
  ASSERT_TRUE(hz3_large_free(&lg_, learn));
  hz3_large_flush_cache(&lg_);
  EXPECT_EQ(lg_.reuse_keep, 0u);
  Check();
}

// A program that cycles four buffers of one size, then four of another (bench/buffers): each
// phase's buffers, freed together, are learned in a round or two (a hit teaches nothing), and
// then a round maps nothing, whatever the phase before left in the cache (the oldest entries
// go first).
TEST_F(LargeTest, BuffersFreedTogetherAreLearnedAndKeptPhaseAfterPhase) {
  const size_t mib = size_t{1} << 20;
  for (size_t size : {3 * mib, 8 * mib}) {
    ASSERT_LE(4 * size, HZ3_LARGE_REUSE_KEEP_MAX);
    size_t maps_learned = 0;
    for (int round = 0; round < 6; round++) {
      if (round == 3) maps_learned = os_.map_calls();  // what the floor served taught nothing
      void* v[4];
      for (void*& p : v) {
        p = hz3_large_alloc(&lg_, size, 16, false);
        ASSERT_NE(p, nullptr);
      }
      for (void* p : v) ASSERT_TRUE(hz3_large_free(&lg_, p));
      Check();
    }
    EXPECT_EQ(os_.map_calls(), maps_learned) << size;
  }
}

TEST_F(LargeTest, ResizeKeepsContents) {
  char* p = static_cast<char*>(hz3_large_alloc(&lg_, 200000, 16, false));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 200000; i++) p[i] = static_cast<char>(i * 7);
  char* q = static_cast<char*>(hz3_large_resize(&lg_, p, 5000000));
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 200000; i++) ASSERT_EQ(q[i], static_cast<char>(i * 7));
  EXPECT_GE(hz3_large_usable_size(&lg_, q), 5000000u);
  char* r = static_cast<char*>(hz3_large_resize(&lg_, q, 100000));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(hz3_large_usable_size(&lg_, r), 25 * HZ3_PAGE_SIZE);
  for (int i = 0; i < 100000; i++) ASSERT_EQ(r[i], static_cast<char>(i * 7));
  Check();
  EXPECT_TRUE(hz3_large_free(&lg_, r));
}

TEST_F(LargeTest, FailuresAreEnomem) {
  os_.FailMapAfter(0);
  errno = 0;
  EXPECT_EQ(hz3_large_alloc(&lg_, 1 << 20, 16, false), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  os_.FailMapAfter(-1);
  errno = 0;
  EXPECT_EQ(hz3_large_alloc(&lg_, SIZE_MAX - 100, 16, false), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST_F(LargeTest, RegistrySurvivesManyInsertsAndRemovals) {
  std::mt19937 rng(3);
  std::vector<void*> live;
  for (int step = 0; step < 3000; step++) {
    if (!live.empty() && rng() % 2) {
      size_t i = rng() % live.size();
      ASSERT_TRUE(hz3_large_free(&lg_, live[i]));
      live[i] = live.back();
      live.pop_back();
    } else {
      void* p = hz3_large_alloc(&lg_, 65537 + rng() % 300000, 16, false);
      ASSERT_NE(p, nullptr);
      live.push_back(p);
    }
    if (step % 100 == 0) Check();
  }
  for (void* p : live) {
    EXPECT_GT(hz3_large_usable_size(&lg_, p), 65536u);
    ASSERT_TRUE(hz3_large_free(&lg_, p));
  }
}

}  // namespace
