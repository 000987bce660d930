// purge: each policy in isolation on the fake OS: budgets held, decay respected, queue ranges
// purged without scanning, the retain cap, hard purge, spare segments; nothing in use purged.
#include <gtest/gtest.h>
#include <string.h>

#include <random>
#include <vector>

#include "tests/fakes/fake_os.h"

extern "C" {
#include "purge/purge.h"
}

namespace {

class PurgeTest : public ::testing::Test {
 protected:
  FakeOs os_;
  hz3_stats_t stats_;
  hz3_segment_pool_t pool_;
  hz3_segment_set_t set_;
  hz3_purge_cfg_t cfg_ = hz3_purge_cfg_default();
  hz3_purge_t* pg_ = new hz3_purge_t;  // large (queues): not on the stack
  std::vector<hz3_run_t*> busy_;       // runs whose pages hold live data

  void SetUp() override {
    hz3_stats_reset(&stats_);
    ASSERT_EQ(hz3_segment_pool_init(&pool_, os_.ops(), &stats_, 16 * HZ3_SEG_SIZE, 1), 0);
    hz3_segment_set_init(&set_, 2);
    cfg_.s57 = cfg_.s60 = cfg_.s61 = false;
    cfg_.retain_max_pages = 0;
    cfg_.release_active_pages = 0;  // the tests below take runs as they go: no allowance
    cfg_.reuse_window_ms = 0;       // nor a paced keep (the fake clock stands still), but in
                                    // the tests of it
  }
  void TearDown() override {
    Check();
    // Nothing in use was purged: every busy run still holds its pattern.
    for (hz3_run_t* r : busy_) {
      const unsigned char* p = static_cast<unsigned char*>(hz3_segment_run_start(&pool_, r));
      for (size_t i = 0; i < r->npages * HZ3_PAGE_SIZE; i += 512) ASSERT_EQ(p[i], 0x5A);
      hz3_segment_free_run(&pool_, &set_, r, 0);
    }
    EXPECT_EQ(set_.head, nullptr);
    hz3_segment_pool_destroy(&pool_);
    delete pg_;
  }
  void Init() { hz3_purge_init(pg_, &pool_, &stats_, &cfg_); }
  void Check() {
    hz3_check_report_t r;
    ASSERT_TRUE(hz3_segment_check(&pool_, &r)) << r.message;
    ASSERT_TRUE(hz3_purge_check(pg_, &r)) << r.message;
  }
  // A run in use: every page busy and written.
  hz3_run_t* Busy(uint32_t cls, uint32_t epoch = 0) {
    hz3_run_t* r = hz3_segment_alloc_run(&pool_, &set_, hz3_class_run_pages(cls), cls, epoch);
    EXPECT_NE(r, nullptr);
    hz3_segment_t* seg = hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, r));
    hz3_segment_mark_busy(&pool_, &set_, seg, r->first_page % HZ3_SEG_PAGES, r->npages);
    memset(hz3_segment_run_start(&pool_, r), 0x5A, r->npages * HZ3_PAGE_SIZE);
    return r;
  }
  // Makes `pairs` holes of one run each: allocates pairs of runs, then frees the first of each
  // pair (the second stays in use, so holes do not merge and are not refilled first-fit).
  void MakeUnused(uint32_t cls, int pairs, uint32_t epoch = 0) {
    std::vector<hz3_run_t*> gone;
    for (int i = 0; i < pairs; i++) {
      gone.push_back(Busy(cls, epoch));
      busy_.push_back(Busy(cls, epoch));
    }
    for (hz3_run_t* r : gone) hz3_segment_free_run(&pool_, &set_, r, epoch);
  }
};

TEST_F(PurgeTest, S57TickHoldsItsPageBudget) {
  cfg_.s57 = true;
  cfg_.budget_pages = 10;
  Init();
  uint32_t cls = hz3_size_to_class(8192);  // 16-page runs
  MakeUnused(cls, 4);                      // 64 unused pages
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 64u);
  size_t before = os_.dontneed_calls();
  EXPECT_EQ(hz3_purge_tick(pg_, &set_, 5), 10u);
  EXPECT_EQ(os_.dontneed_pages(), 10u);
  EXPECT_GT(os_.dontneed_calls(), before);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 54u);
  Check();
  while (hz3_purge_tick(pg_, &set_, 6) > 0) Check();
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 0u);
  EXPECT_EQ(stats_.purge_pages, 64u);  // s57_stats defaults to 1
}

TEST_F(PurgeTest, S57RespectsDecayAndMinimumRange) {
  cfg_.s57 = true;
  cfg_.decay_epochs = 3;
  cfg_.min_range_pages = 4;
  Init();
  MakeUnused(hz3_size_to_class(64), 5, /*epoch=*/10);    // five 1-page holes
  MakeUnused(hz3_size_to_class(8192), 1, /*epoch=*/10);  // one 16-page hole
  EXPECT_EQ(hz3_purge_tick(pg_, &set_, 12), 0u);         // touched 2 epochs ago: not decayed
  EXPECT_EQ(hz3_purge_tick(pg_, &set_, 13), 16u);        // decayed; only the range >= 4 pages
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 5u);
  for (const FakeOs::Range& r : os_.dontneed_ranges()) EXPECT_GE(r.bytes, 4 * HZ3_PAGE_SIZE);
}

TEST_F(PurgeTest, S60QueuePurgesFreedRangesWithinBudget) {
  cfg_.s60 = true;
  cfg_.queue_size = 8;
  cfg_.queue_budget_calls = 3;
  cfg_.queue_budget_pages = 1000;
  Init();
  MakeUnused(hz3_size_to_class(64), 10);  // 10 frees; the queue keeps the newest 8
  EXPECT_EQ(pg_->queues[2].count, 8u);
  EXPECT_EQ(pg_->queues[2].dropped, 2u);
  Check();
  EXPECT_EQ(hz3_purge_queue_drain(pg_, &set_), 3u);  // 3 calls of 1 page
  EXPECT_EQ(os_.dontneed_calls(), 3u);
  EXPECT_EQ(pg_->queues[2].count, 5u);
  EXPECT_EQ(hz3_purge_queue_drain(pg_, &set_), 3u);
  EXPECT_EQ(hz3_purge_queue_drain(pg_, &set_), 2u);
  EXPECT_EQ(hz3_purge_queue_drain(pg_, &set_), 0u);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 2u);  // the two dropped entries: S57's to find
}

TEST_F(PurgeTest, S60SkipsStaleEntries) {
  cfg_.s60 = true;
  Init();
  uint32_t cls = hz3_size_to_class(64);
  hz3_run_t* a = Busy(cls);
  hz3_segment_free_run(&pool_, &set_, a, 0);  // queued; the segment is now wholly free: spare
  EXPECT_EQ(pg_->queues[2].count, 1u);
  EXPECT_EQ(pool_.nspare, 1u);
  size_t calls = os_.dontneed_calls();  // (the spare segment's meta pages went back already)
  EXPECT_EQ(hz3_purge_queue_drain(pg_, &set_), 0u);  // not this set's any more: skipped
  EXPECT_EQ(os_.dontneed_calls(), calls);
  EXPECT_EQ(hz3_purge_spare(pg_), 1u);  // trim's job
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 0u);
}

TEST_F(PurgeTest, RetainCapPurgesBackUnderHalfTheCap) {
  cfg_.retain_max_pages = 40;
  cfg_.retain_budget_calls = 1000;
  cfg_.release_fragment_pages = 0;  // one-page holes are fragments: let them go at once
  Init();
  uint32_t cls = hz3_size_to_class(64);
  std::vector<hz3_run_t*> gone;
  for (int i = 0; i < 200; i++) {
    gone.push_back(Busy(cls));
    busy_.push_back(Busy(cls));
  }
  for (hz3_run_t* r : gone) {
    hz3_segment_free_run(&pool_, &set_, r, 0);
    ASSERT_LE(hz3_segment_unused_pages(&pool_), 40u);  // never above the cap after a free
  }
  EXPECT_GT(os_.dontneed_calls(), 0u);
  Check();
}

TEST_F(PurgeTest, ReleaseTakesLongRangesFirstAndFragmentsOnlyInBulk) {
  cfg_.retain_max_pages = 16;
  cfg_.retain_budget_calls = 1000;
  cfg_.release_range_pages = 32;
  cfg_.release_fragment_pages = 64;
  Init();
  // 40 one-page holes: above the cap, but fragments, and fewer than 64: they stay.
  MakeUnused(hz3_size_to_class(64), 40);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 40u);
  EXPECT_EQ(os_.dontneed_calls(), 0u);
  // Two long holes (runs of the largest class freed side by side, twice) go back, one call
  // each.
  uint32_t big = hz3_size_to_class(65536);
  uint32_t per_hole = 64 / hz3_class_run_pages(big);
  ASSERT_GE(per_hole, 1u);
  for (int hole = 0; hole < 2; hole++) {
    std::vector<hz3_run_t*> gone;
    for (uint32_t i = 0; i < per_hole; i++) gone.push_back(Busy(big));
    busy_.push_back(Busy(big));
    for (hz3_run_t* r : gone) hz3_segment_free_run(&pool_, &set_, r, 0);
  }
  // (A hole may go in pieces of at least 32 pages as it grows: the pass runs when it can.)
  for (const FakeOs::Range& r : os_.dontneed_ranges()) EXPECT_GE(r.bytes, 32 * HZ3_PAGE_SIZE);
  EXPECT_LE(os_.dontneed_calls(), 4u);
  EXPECT_EQ(os_.dontneed_pages(), 2u * per_hole * hz3_class_run_pages(big));
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 40u);
  // Fragments piling past 64 pages in the set: they go too, down to half of that.  (Holes
  // of two pages, so that the new runs do not refill the one-page holes.)
  uint32_t two = 0;
  while (hz3_class_run_pages(two) != 2) two++;
  MakeUnused(two, 15);
  EXPECT_LE(hz3_segment_unused_pages(&pool_), 64u);
  EXPECT_GT(os_.dontneed_pages(), 2u * per_hole * hz3_class_run_pages(big));
  Check();
}

TEST_F(PurgeTest, ReleaseGivesSpareSegmentsBackWhole) {
  cfg_.retain_max_pages = 16;
  cfg_.retain_budget_calls = 1000;
  busy_.push_back(Busy(hz3_size_to_class(64)));  // this set's own segment, with room
  // Before the policy is installed: another shard's segment, wholly written, wholly freed.
  hz3_segment_set_t other;
  hz3_segment_set_init(&other, 5);
  uint32_t big = hz3_size_to_class(65536);
  std::vector<hz3_run_t*> runs;
  for (uint32_t i = 0; i < HZ3_SEG_PAGES / hz3_class_run_pages(big); i++) {
    hz3_run_t* r = hz3_segment_alloc_run(&pool_, &other, hz3_class_run_pages(big), big, 0);
    hz3_segment_t* seg = hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, r));
    hz3_segment_mark_busy(&pool_, &other, seg, r->first_page % HZ3_SEG_PAGES, r->npages);
    runs.push_back(r);
  }
  for (hz3_run_t* r : runs) hz3_segment_free_run(&pool_, &other, r, 0);
  ASSERT_EQ(pool_.nspare, 1u);
  ASSERT_EQ(os_.dontneed_calls(), 0u);
  Init();
  // The next page made unused anywhere finds the process above the cap: the spare segment
  // goes back whole, not range by range.
  MakeUnused(hz3_size_to_class(64), 1);
  EXPECT_EQ(pool_.ncold, 1u);
  // The segment in one call, then its descriptors (its tag page is shared with this set's
  // segment, in use, so it stays).
  ASSERT_EQ(os_.dontneed_calls(), 2u);
  EXPECT_EQ(os_.dontneed_ranges()[0].bytes, HZ3_SEG_SIZE);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 1u);
  Check();
}

TEST_F(PurgeTest, AnOwnerTakingRunsKeepsWhatItCyclesUpToItsAllowance) {
  cfg_.retain_max_pages = 16;
  cfg_.retain_budget_calls = 1000;
  cfg_.release_active_pages = 200;
  Init();
  uint32_t big = hz3_size_to_class(65536);
  uint32_t pages = hz3_class_run_pages(big);
  ASSERT_LE(4 * pages, 200u);
  busy_.push_back(Busy(big));  // keeps the segment in the set
  // A loop: take 4 runs, free them, again.  Each round takes runs, so the set is cycling:
  // its freed pages stay for the next round (under 200), and no round faults them back in.
  for (int round = 0; round < 5; round++) {
    std::vector<hz3_run_t*> v;
    for (int i = 0; i < 4; i++) v.push_back(Busy(big));
    for (hz3_run_t* r : v) hz3_segment_free_run(&pool_, &set_, r, 0);
    EXPECT_EQ(os_.dontneed_calls(), 0u) << round;
    EXPECT_EQ(hz3_segment_unused_pages(&pool_), 4u * pages);
  }
  std::vector<hz3_run_t*> late;
  for (int i = 0; i < 6; i++) late.push_back(Busy(big));
  // A round larger than the allowance: the excess goes, down to half of it.
  std::vector<hz3_run_t*> v;
  for (uint32_t i = 0; i < 2 * 200 / pages + 1; i++) v.push_back(Busy(big));
  for (hz3_run_t* r : v) hz3_segment_free_run(&pool_, &set_, r, 0);
  EXPECT_GT(os_.dontneed_calls(), 0u);
  EXPECT_LE(hz3_segment_unused_pages(&pool_), 200u);
  // The owner takes no run after that release and only frees: now what it frees goes back
  // although the set holds less than its allowance.
  size_t released = os_.dontneed_pages();
  for (hz3_run_t* r : late) hz3_segment_free_run(&pool_, &set_, r, 0);
  EXPECT_GE(os_.dontneed_pages() - released, 4u * pages);
  Check();
}

// An owner that took runs before its first pass is still cycling at the next one (it frees the
// rest of its round): that pass keeps its allowance too.  Each pass goes only a sixteenth below
// the allowance, and only that many pages go, from the top of the freed stretch.  Only a pass
// that follows one with no run taken in between finds the owner winding down.
TEST_F(PurgeTest, AnOwnerStillCyclingAfterAPassKeepsItsAllowanceThroughTheRound) {
  uint32_t big = hz3_size_to_class(65536);
  uint32_t pages = hz3_class_run_pages(big);
  // Each freed run is a decision (HZ3_RELEASE_RESCAN_PAGES), and 13 runs fit a segment.
  ASSERT_GE(pages, (uint32_t)HZ3_RELEASE_RESCAN_PAGES);
  ASSERT_LE(13 * pages, (uint32_t)HZ3_SEG_PAGES);
  cfg_.retain_max_pages = 16;
  cfg_.retain_budget_calls = 1000;
  cfg_.release_active_pages = 10 * pages;
  Init();
  const uint32_t left = 10 * pages - 10 * pages / 16;
  busy_.push_back(Busy(big));
  std::vector<hz3_run_t*> round;
  for (int i = 0; i < 12; i++) round.push_back(Busy(big));  // one stretch of a segment
  for (int i = 0; i < 11; i++) hz3_segment_free_run(&pool_, &set_, round[i], 0);
  // Over the allowance by one run: the pass leaves it less a sixteenth.
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), left);
  EXPECT_EQ(os_.dontneed_pages(), 11u * pages - left);
  // From the top of the stretch: the next short run, carved from its bottom, finds its pages.
  ASSERT_EQ(os_.dontneed_ranges().size(), 1u);
  const FakeOs::Range& given = os_.dontneed_ranges()[0];
  EXPECT_EQ(given.addr + given.bytes,
            (uintptr_t)hz3_segment_run_start(&pool_, round[10]) + pages * HZ3_PAGE_SIZE);
  // A second pass (the owner took runs before the first): the allowance holds.
  hz3_segment_free_run(&pool_, &set_, round[11], 0);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), left);
  EXPECT_EQ(os_.dontneed_pages(), 12u * pages - left);
  // A third, with no run taken since the second: winding down, every long range goes (a
  // fragment shorter than one waits: the last run, apart from the rest since the second pass).
  hz3_segment_free_run(&pool_, &set_, busy_[0], 0);
  busy_.clear();
  EXPECT_LT(hz3_segment_unused_pages(&pool_), cfg_.release_range_pages);
  Check();
}

// The paced keep: a round of runs freed, given back, and taken again soon.
class PacedKeepTest : public PurgeTest {
 protected:
  static constexpr uint64_t kMs = 1000000;
  uint32_t cls_ = hz3_size_to_class(65536);
  uint32_t pages_ = hz3_class_run_pages(cls_);
  void SetUp() override {
    PurgeTest::SetUp();
    cfg_.retain_max_pages = 16;
    cfg_.retain_budget_calls = 1000;
    cfg_.release_fragment_pages = 0;
    cfg_.reuse_window_ms = 100;
    cfg_.reuse_keep_max_pages = 1000;
  }
  std::vector<hz3_run_t*> Take(int n) {
    std::vector<hz3_run_t*> v;
    for (int i = 0; i < n; i++) v.push_back(Busy(cls_));
    return v;
  }
  void Give(const std::vector<hz3_run_t*>& v) {
    for (hz3_run_t* r : v) hz3_segment_free_run(&pool_, &set_, r, 0);
  }
};

TEST_F(PacedKeepTest, PagesTakenBackSoonAfterTheyWentAreKeptTheNextRound) {
  Init();
  busy_.push_back(Busy(cls_));  // keeps the segment in the set
  Give(Take(8));                // round 1: nothing known yet, its pages go back
  size_t given = os_.dontneed_pages();
  ASSERT_GE(given, 8u * pages_ - 16);
  os_.Advance(5 * kMs);
  std::vector<hz3_run_t*> round = Take(8);  // faults them back in: the keep grows by as many
  os_.Advance(5 * kMs);
  Give(round);  // round 2: kept for round 3
  EXPECT_EQ(os_.dontneed_pages(), given);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 8u * pages_);
  os_.Advance(5 * kMs);
  Give(Take(8));  // round 3 takes round 2's resident pages: nothing faults, nothing goes
  EXPECT_EQ(os_.dontneed_pages(), given);
  Check();
}

TEST_F(PacedKeepTest, RoundsFurtherApartThanTheWindowKeepNothing) {
  Init();
  busy_.push_back(Busy(cls_));
  Give(Take(8));
  size_t given = os_.dontneed_pages();
  os_.Advance(150 * kMs);  // a burst, then a pause longer than the window, then another
  std::vector<hz3_run_t*> round = Take(8);
  os_.Advance(5 * kMs);
  Give(round);
  EXPECT_GE(os_.dontneed_pages() - given, 8u * pages_ - 16);
  EXPECT_LE(hz3_segment_unused_pages(&pool_), 16u);
  Check();
}

TEST_F(PacedKeepTest, FreeingWithoutTakingForAWindowGivesTheKeepBack) {
  Init();
  busy_.push_back(Busy(cls_));
  Give(Take(8));
  os_.Advance(5 * kMs);
  std::vector<hz3_run_t*> round = Take(8);
  std::vector<hz3_run_t*> held = Take(8);  // more than the keep, freed later
  Give(round);
  size_t given = os_.dontneed_pages();
  ASSERT_EQ(hz3_segment_unused_pages(&pool_), 8u * pages_);  // kept
  // Then only frees, for longer than a window: the program is winding down.
  os_.Advance(150 * kMs);
  Give(held);
  EXPECT_GE(os_.dontneed_pages() - given, 8u * pages_);
  EXPECT_LE(hz3_segment_unused_pages(&pool_), 16u);
  Check();
}

TEST_F(PacedKeepTest, FreeingMoreThanTwiceTheKeepWithoutTakingGivesItBack) {
  Init();
  busy_.push_back(Busy(cls_));
  Give(Take(4));
  os_.Advance(5 * kMs);
  std::vector<hz3_run_t*> round = Take(4);  // the keep grows to 4 runs
  std::vector<hz3_run_t*> held = Take(12);  // three times that, freed at once later
  Give(round);
  size_t given = os_.dontneed_pages();
  ASSERT_EQ(hz3_segment_unused_pages(&pool_), 4u * pages_);  // kept
  // No time passes (a program freeing fast, as before it goes idle): the amount tells.
  Give(held);
  EXPECT_GE(os_.dontneed_pages() - given, 12u * pages_);
  EXPECT_LE(hz3_segment_unused_pages(&pool_), 16u);
  Check();
}

TEST_F(PacedKeepTest, TheKeepHoldsAtMostItsMaximum) {
  cfg_.reuse_keep_max_pages = 3 * pages_;  // three runs
  Init();
  busy_.push_back(Busy(cls_));
  Give(Take(8));
  os_.Advance(5 * kMs);
  std::vector<hz3_run_t*> round = Take(8);
  os_.Advance(5 * kMs);
  size_t given = os_.dontneed_pages();
  Give(round);
  EXPECT_LE(hz3_segment_unused_pages(&pool_), 3u * pages_);
  EXPECT_GE(os_.dontneed_pages() - given, 5u * pages_);
  Check();
}

// A round over the owner's allowance: a pass keeps part of it (the allowance), gives the rest
// back, and the next round faults that part in again.  The keep learns both (what the pass
// left and what came back), so the next rounds keep the whole round.
TEST_F(PacedKeepTest, ARoundOverTheAllowanceIsKeptWholeOnceItCameBack) {
  cfg_.release_active_pages = 4 * pages_;
  Init();
  ASSERT_GE(pages_, (uint32_t)HZ3_RELEASE_RESCAN_PAGES);  // each freed run is a decision
  busy_.push_back(Busy(cls_));
  Give(Take(6));  // the passes leave the allowance less a sixteenth, the rest goes
  size_t given = os_.dontneed_pages();
  ASSERT_EQ(given, 6u * pages_ - (4 * pages_ - 4 * pages_ / 16));
  for (int round = 0; round < 3; round++) {
    os_.Advance(5 * kMs);
    std::vector<hz3_run_t*> v = Take(6);
    os_.Advance(5 * kMs);
    Give(v);
    EXPECT_EQ(os_.dontneed_pages(), given) << round;
    EXPECT_EQ(hz3_segment_unused_pages(&pool_), 6u * pages_) << round;
  }
  Check();
}

// A working set a little over the paced keep, emptied in address order (its runs, then whole
// segments, freed one after another), goes back in a few calls: a pass goes a sixteenth of
// the keep below it (HZ3_KEEP_SLACK_SHARE), so what is freed after it waits for the next pass
// instead of each run's pages taking a call of their own.
TEST_F(PacedKeepTest, AWorkingSetOverTheKeepGoesBackInFewCalls) {
  Init();
  const uint32_t per_seg = HZ3_SEG_PAGES / pages_;
  std::vector<hz3_run_t*> round = Take(4 * per_seg);  // four segments' worth
  pg_->keep_pages = 2 * HZ3_SEG_PAGES + 100;          // as learned over earlier rounds
  size_t calls = os_.dontneed_syscalls(), given = os_.dontneed_pages();
  Give(round);  // in order: segment after segment empties
  EXPECT_LE(hz3_segment_unused_pages(&pool_), 2u * HZ3_SEG_PAGES + 100);
  EXPECT_GE(os_.dontneed_pages() - given, 2u * HZ3_SEG_PAGES - 100);
  EXPECT_LE(os_.dontneed_syscalls() - calls, 15u);  // 29 with the keep itself as the target
  Check();
}

TEST_F(PurgeTest, RetainCapHoldsItsCallBudget) {
  cfg_.retain_max_pages = 8;
  cfg_.retain_budget_calls = 2;
  Init();
  MakeUnused(hz3_size_to_class(64), 9);  // the 9th free crosses the cap
  EXPECT_LE(os_.dontneed_calls(), 2u * 9);
  size_t calls = os_.dontneed_calls();
  MakeUnused(hz3_size_to_class(64), 1);
  EXPECT_LE(os_.dontneed_calls() - calls, 2u);  // one trigger: at most 2 calls
}

TEST_F(PurgeTest, HardPurgeTakesEverythingWithinItsLimits) {
  Init();
  MakeUnused(hz3_size_to_class(64), 20);
  EXPECT_EQ(hz3_purge_set_all(pg_, &set_, 1000, 5), 5u);  // call limit
  EXPECT_EQ(hz3_purge_set_all(pg_, &set_, 7, 1000), 7u);  // page limit
  EXPECT_EQ(hz3_purge_set_all(pg_, &set_, UINT64_MAX, UINT32_MAX), 8u);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 0u);
}

TEST_F(PurgeTest, HardPurgeAlsoTakesSpareSegments) {
  Init();
  uint32_t cls = hz3_size_to_class(64);
  MakeUnused(cls, 3);       // three holes in a segment of this set
  hz3_segment_set_t other;  // another thread's segment, wholly freed: spare, one resident page
  hz3_segment_set_init(&other, 5);
  hz3_run_t* a = hz3_segment_alloc_run(&pool_, &other, 1, cls, 0);
  hz3_segment_t* seg = hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, a));
  hz3_segment_mark_busy(&pool_, &other, seg, a->first_page % HZ3_SEG_PAGES, 1);
  hz3_segment_free_run(&pool_, &other, a, 0);
  ASSERT_EQ(pool_.nspare, 1u);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 4u);
  EXPECT_EQ(hz3_purge_hard(pg_, &set_, 1000, 1000), 4u);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 0u);
}

TEST_F(PurgeTest, RandomOperationsKeepInvariants) {
  cfg_.s57 = cfg_.s60 = true;
  cfg_.retain_max_pages = 100;
  cfg_.queue_size = 16;
  Init();
  std::mt19937 rng(11);
  std::vector<hz3_run_t*> live;
  for (int step = 0; step < 3000; step++) {
    int op = rng() % 10;
    if (op < 5 || live.empty()) {
      // A big class up to 512 KiB (a run of up to 128 pages) one time in 32, so that the 16
      // segments hold what the walk keeps live.
      const uint32_t big_classes = hz3_big_size_to_class(512 << 10) - HZ3_NUM_MEDIUM_CLASSES + 1;
      uint32_t cls = rng() % 32 == 0 ? HZ3_NUM_MEDIUM_CLASSES + rng() % big_classes
                                     : rng() % HZ3_NUM_MEDIUM_CLASSES;
      hz3_run_t* r = Busy(cls, step);
      if (r) live.push_back(r);
    } else if (op < 8) {
      size_t i = rng() % live.size();
      hz3_segment_free_run(&pool_, &set_, live[i], step);
      live[i] = live.back();
      live.pop_back();
    } else if (op == 8) {
      hz3_purge_tick(pg_, &set_, step);
    } else {
      hz3_purge_queue_drain(pg_, &set_);
    }
    if (step % 100 == 0) Check();
  }
  busy_.insert(busy_.end(), live.begin(), live.end());
}

}  // namespace
