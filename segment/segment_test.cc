// segment: runs, tags, segment supply, purge meta, and running out of memory, on the fake OS.
#include <errno.h>
#include <gtest/gtest.h>
#include <string.h>

#include <random>
#include <vector>

#include "tests/fakes/fake_os.h"

extern "C" {
#include "segment/segment.h"
}

namespace {

class SegmentTest : public ::testing::Test {
 protected:
  static constexpr size_t kSegments = 8;
  FakeOs os_;
  hz3_stats_t stats_;
  hz3_segment_pool_t pool_;
  hz3_segment_set_t set_;
  std::vector<hz3_run_t*> live_;

  void SetUp() override {
    hz3_stats_reset(&stats_);
    ASSERT_EQ(hz3_segment_pool_init(&pool_, os_.ops(), &stats_, kSegments * HZ3_SEG_SIZE, 1), 0);
    hz3_segment_set_init(&set_, 3);
  }
  void TearDown() override {
    for (hz3_run_t* r : live_) hz3_segment_free_run(&pool_, &set_, r, 0);
    Check();
    // Everything came back: every segment handed out is wholly free and on the spare list.
    EXPECT_EQ(set_.head, nullptr);
    EXPECT_EQ(pool_.nspare, pool_.used_segments);
    hz3_segment_pool_destroy(&pool_);
  }
  void Check() {
    hz3_check_report_t r;
    ASSERT_TRUE(hz3_segment_check(&pool_, &r)) << r.message;
  }
  hz3_run_t* Alloc(uint32_t cls) {
    hz3_run_t* run = hz3_segment_alloc_run(&pool_, &set_, hz3_class_run_pages(cls), cls, 1);
    if (run != nullptr) live_.push_back(run);
    Check();
    return run;
  }
  void Free(hz3_run_t* run) {
    live_.erase(std::find(live_.begin(), live_.end(), run));
    hz3_segment_free_run(&pool_, &set_, run, 2);
    Check();
  }
};

TEST_F(SegmentTest, ClaimsWithoutMapping) {
  EXPECT_EQ(os_.claim_calls(), 1u);  // one claim: segments and their tables
  EXPECT_EQ(os_.map_at_calls(), 0u);
  EXPECT_EQ(pool_.narenas, 1u);
  EXPECT_EQ(pool_.arenas[0].base % HZ3_SEG_SIZE, 0u);
  EXPECT_EQ(pool_.arenas[0].grown_bytes, 0u);
}

TEST_F(SegmentTest, GrowsASegmentAtATimeTablesAhead) {
  // The first segment maps its tables (page bins, tags, headers, descriptors for 8 segments)
  // and itself; the next seven map one segment each.
  const uint32_t cls = hz3_size_to_class(65536);
  const uint32_t per_segment = HZ3_SEG_PAGES / hz3_class_run_pages(cls);
  for (uint32_t r = 0; r < per_segment; r++) ASSERT_NE(Alloc(cls), nullptr);
  EXPECT_EQ(os_.map_at_calls(), 5u);
  EXPECT_EQ(pool_.arenas[0].grown_bytes, HZ3_SEG_SIZE);
  for (size_t i = 1; i < kSegments; i++)
    for (uint32_t r = 0; r < per_segment; r++) ASSERT_NE(Alloc(cls), nullptr);
  EXPECT_EQ(pool_.used_segments, kSegments);
  EXPECT_EQ(os_.map_at_calls(), 5u + kSegments - 1);
  EXPECT_EQ(pool_.arenas[0].grown_bytes, kSegments * HZ3_SEG_SIZE);
  // Every segment mapped lies in the claim, each once.
  size_t segment_bytes = 0;
  for (const FakeOs::Range& r : os_.map_at_ranges())
    if (r.bytes == HZ3_SEG_SIZE) {
      EXPECT_EQ((r.addr - pool_.arenas[0].base) % HZ3_SEG_SIZE, 0u);
      EXPECT_LT(r.addr - pool_.arenas[0].base, kSegments * HZ3_SEG_SIZE);
      segment_bytes += r.bytes;
    }
  EXPECT_EQ(segment_bytes, kSegments * HZ3_SEG_SIZE);
}

TEST_F(SegmentTest, RunTagsNameClassOwnerAndFirstPage) {
  uint32_t cls = hz3_size_to_class(3000);
  hz3_run_t* run = Alloc(cls);
  ASSERT_NE(run, nullptr);
  char* start = static_cast<char*>(hz3_segment_run_start(&pool_, run));
  EXPECT_TRUE(hz3_segment_pool_contains(&pool_, start));
  size_t run_bytes = run->npages * HZ3_PAGE_SIZE;
  memset(start, 0x5A, run_bytes);  // committed and writable
  for (size_t off = 0; off < run_bytes; off += 1000) {
    hz3_tag_t tag = hz3_segment_tag(&pool_, start + off);
    EXPECT_EQ(HZ3_TAG_CLASS(tag), cls);
    EXPECT_EQ(HZ3_TAG_OWNER(tag), 3u);
    EXPECT_EQ(HZ3_TAG_OWNER_KEY(tag), HZ3_OWNER_KEY(3));
    EXPECT_EQ(hz3_segment_run_of(&pool_, start + off), run);
  }
  EXPECT_EQ(hz3_segment_tag(&pool_, start + run_bytes), 0u);  // the page after: no run
  EXPECT_EQ(hz3_segment_run_of(&pool_, start + run_bytes), nullptr);
  const hz3_arena_t& arena = pool_.arenas[0];
  EXPECT_FALSE(hz3_segment_pool_contains(&pool_, reinterpret_cast<void*>(arena.base - 1)));
  // Only what has grown: the claim's next segment is not the pool's yet.
  EXPECT_FALSE(
      hz3_segment_pool_contains(&pool_, reinterpret_cast<void*>(arena.base + arena.grown_bytes)));
  EXPECT_EQ(stats_.runs_allocated, HZ3_STATS ? 1u : 0u);
}

TEST_F(SegmentTest, ABigRunTagsItsFirstPageOnly) {
  // A run of several pages of a small class next to a big one: the big run's object starts on
  // its first page, the only page it tags; a pointer further in is found by the walk back.
  uint32_t big = hz3_big_size_to_class(1u << 20);
  ASSERT_TRUE(hz3_class_is_big(big));
  hz3_run_t* small = Alloc(hz3_size_to_class(3000));
  hz3_run_t* run = Alloc(big);
  ASSERT_NE(small, nullptr);
  ASSERT_NE(run, nullptr);
  char* start = static_cast<char*>(hz3_segment_run_start(&pool_, run));
  size_t run_bytes = run->npages * HZ3_PAGE_SIZE;
  EXPECT_EQ(HZ3_TAG_CLASS(hz3_segment_tag(&pool_, start)), big);
  EXPECT_EQ(hz3_segment_page_bin(&pool_, start), big + 1);
  EXPECT_EQ(hz3_segment_run_of(&pool_, start + 4095), run);
  EXPECT_EQ(hz3_segment_big_run_around(&pool_, start), nullptr);  // its start: tagged
  for (size_t off = HZ3_PAGE_SIZE; off < run_bytes; off += 3 * HZ3_PAGE_SIZE + 8) {
    EXPECT_EQ(hz3_segment_tag(&pool_, start + off), 0u) << off;
    EXPECT_EQ(hz3_segment_page_bin(&pool_, start + off), 0u) << off;
    EXPECT_EQ(hz3_segment_big_run_around(&pool_, start + off), run) << off;
  }
  EXPECT_EQ(hz3_segment_big_run_around(&pool_, start + run_bytes - 1), run);
  // Beyond it, inside the small run, and in a free page: no big run around.
  char* small_start = static_cast<char*>(hz3_segment_run_start(&pool_, small));
  EXPECT_EQ(hz3_segment_big_run_around(&pool_, small_start + HZ3_PAGE_SIZE + 5), nullptr);
  uint32_t after = run->first_page + run->npages;
  if (after % HZ3_SEG_PAGES != 0) {
    EXPECT_EQ(hz3_segment_tag(&pool_, start + run_bytes), 0u);
    EXPECT_EQ(hz3_segment_big_run_around(&pool_, start + run_bytes), nullptr);
  }
  // Freed, its first page reads 0 like the rest, and nothing is around.
  Free(run);
  EXPECT_EQ(hz3_segment_tag(&pool_, start), 0u);
  EXPECT_EQ(hz3_segment_big_run_around(&pool_, start + 2 * HZ3_PAGE_SIZE), nullptr);
}

TEST_F(SegmentTest, FreedPagesAreReusedFirstFit) {
  uint32_t cls = hz3_size_to_class(64);  // one-page runs
  hz3_run_t* a = Alloc(cls);
  hz3_run_t* b = Alloc(cls);
  hz3_run_t* c = Alloc(cls);
  EXPECT_EQ(b->first_page, a->first_page + 1);
  EXPECT_EQ(c->first_page, b->first_page + 1);
  uint32_t b_page = b->first_page;
  Free(b);
  hz3_run_t* d = Alloc(cls);
  EXPECT_EQ(d->first_page, b_page);
}

// Runs longer than HZ3_RUN_MAX_PAGES (big objects above 128 KiB) come from the top of a segment,
// and neither use nor move the hint that small runs follow; a set walks its segments in address
// order.  So small runs stay low in the segments they already use, and a freed big run leaves a
// hole the next big one fits again.
TEST_F(SegmentTest, BigRunsTakeTheTopAndLeaveTheSmallRunsWhereTheyWere) {
  uint32_t small = hz3_size_to_class(64);  // one-page runs
  uint32_t big = hz3_big_size_to_class(1300000);
  uint32_t big_pages = hz3_class_run_pages(big);
  ASSERT_GT(big_pages, HZ3_SEG_PAGES / 2);  // two do not fit one segment
  hz3_run_t* s1 = Alloc(small);
  hz3_run_t* x1 = Alloc(big);
  ASSERT_NE(x1, nullptr);
  hz3_segment_t* seg1 = hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, s1));
  EXPECT_EQ(hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, x1)), seg1);
  EXPECT_EQ(x1->first_page % HZ3_SEG_PAGES, HZ3_SEG_PAGES - big_pages);
  hz3_run_t* x2 = Alloc(big);  // a second segment, from its top
  ASSERT_NE(x2, nullptr);
  hz3_segment_t* seg2 = hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, x2));
  ASSERT_NE(seg2, seg1);
  EXPECT_EQ(x2->first_page % HZ3_SEG_PAGES, HZ3_SEG_PAGES - big_pages);
  EXPECT_EQ(set_.head, seg1);  // address order, not newest first
  EXPECT_EQ(set_.head->next, seg2);
  // The next small run goes on in the first segment, not into the one the big run opened.
  hz3_run_t* s2 = Alloc(small);
  EXPECT_EQ(s2->first_page, s1->first_page + 1);
  // A freed big run's place is taken by the next big run, whatever the small runs did since.
  uint32_t x1_page = x1->first_page;
  Free(x1);
  for (int i = 0; i < 8; i++) Alloc(small);
  hz3_run_t* x3 = Alloc(big);
  ASSERT_NE(x3, nullptr);
  EXPECT_EQ(x3->first_page, x1_page);
}

TEST_F(SegmentTest, WhollyFreeSegmentGoesToThePoolAndBack) {
  hz3_run_t* a = Alloc(hz3_size_to_class(100));
  EXPECT_EQ(set_.nsegments, 1u);
  Free(a);
  EXPECT_EQ(set_.nsegments, 0u);
  EXPECT_EQ(pool_.nspare, 1u);
  hz3_segment_set_t other;
  hz3_segment_set_init(&other, 5);
  hz3_run_t* b = hz3_segment_alloc_run(&pool_, &other, 1, 0, 1);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(pool_.used_segments, 1u);  // the spare was reused, not a new segment
  EXPECT_EQ(HZ3_TAG_OWNER(hz3_segment_tag(&pool_, hz3_segment_run_start(&pool_, b))), 5u);
  Check();
  hz3_segment_free_run(&pool_, &other, b, 1);
}

TEST_F(SegmentTest, SpareSegmentsGoColdWholeWithTheirMetaPages) {
  hz3_run_t* a = Alloc(hz3_size_to_class(64));
  hz3_segment_t* seg = hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, a));
  seg->runs[300].cls = 7;  // a descriptor page that a burst would have touched
  hz3_segment_mark_busy(&pool_, &set_, seg, a->first_page % HZ3_SEG_PAGES, a->npages);
  os_.ClearRecords();
  Free(a);  // wholly free: a hot spare, nothing given back yet (the next burst may want it)
  ASSERT_EQ(seg->spare, 1u);
  EXPECT_EQ(seg->cold, 0u);
  EXPECT_EQ(os_.dontneed_calls(), 0u);
  EXPECT_EQ(pool_.spare_unused_pages, 1u);
  uint32_t calls = 0;
  EXPECT_EQ(hz3_segment_purge_spare(&pool_, UINT64_MAX, UINT32_MAX, &calls), 1u);
  EXPECT_EQ(seg->cold, 1u);
  EXPECT_EQ(pool_.ncold, 1u);
  EXPECT_EQ(pool_.spare_unused_pages, 0u);
  bool meta_purged = false, tags_purged = false;
  for (const FakeOs::Range& r : os_.dontneed_ranges()) {
    if (r.addr <= reinterpret_cast<uintptr_t>(&seg->runs[300]) &&
        reinterpret_cast<uintptr_t>(&seg->runs[300]) < r.addr + r.bytes)
      meta_purged = true;
    if (r.addr == reinterpret_cast<uintptr_t>(pool_.arenas[0].tags)) tags_purged = true;
  }
  EXPECT_TRUE(meta_purged);
  EXPECT_TRUE(tags_purged);             // its buddy (segment 1) was never used
  EXPECT_EQ(os_.dontneed_calls(), 3u);  // the page, the descriptors, the tags...
  EXPECT_EQ(os_.dontneed_syscalls(), HZ3_RELEASE_BATCHING ? 1u : 3u);  // ... in one batch
  EXPECT_EQ(calls, os_.dontneed_syscalls());
  EXPECT_EQ(seg->runs[300].cls, 0u);
  Check();
  EXPECT_NE(Alloc(hz3_size_to_class(64)), nullptr);  // and the segment works again
  EXPECT_EQ(pool_.ncold, 0u);
  EXPECT_EQ(pool_.used_segments, 1u);
}

// A segment whose every page went back while its last run lived (idle, then purged) goes cold
// as that run is freed: no resident page is left by which the release policy would find it,
// so its descriptors and tags go back at once.
TEST_F(SegmentTest, ASegmentFreedWithNothingResidentGoesColdAtOnce) {
  hz3_run_t* a = Alloc(hz3_size_to_class(64));
  hz3_segment_t* seg = hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, a));
  const uint32_t first = a->first_page % HZ3_SEG_PAGES, npages = a->npages;
  hz3_segment_mark_busy(&pool_, &set_, seg, first, npages);  // carved and written
  hz3_segment_mark_idle(&pool_, &set_, seg, first, npages);  // its objects all free again
  ASSERT_EQ(hz3_segment_purge_range(&pool_, &set_, seg, first, npages), 0);
  ASSERT_EQ(seg->unused_pages, 0u);
  os_.ClearRecords();
  Free(a);
  ASSERT_EQ(seg->spare, 1u);
  EXPECT_EQ(seg->cold, 1u);
  EXPECT_EQ(pool_.ncold, 1u);
  EXPECT_EQ(pool_.spare_unused_pages, 0u);
  EXPECT_EQ(os_.dontneed_calls(), 2u);  // the descriptors, the tags (its buddy never used)
  Check();
  EXPECT_NE(Alloc(hz3_size_to_class(64)), nullptr);  // and the segment works again
  EXPECT_EQ(pool_.ncold, 0u);
  EXPECT_EQ(pool_.used_segments, 1u);
}

TEST_F(SegmentTest, HotSparesAreTakenBeforeColdOnes) {
  uint32_t cls = hz3_size_to_class(65536);  // 16-page runs: two segments need 64 runs
  std::vector<hz3_run_t*> runs;
  for (uint32_t i = 0; i < 2 * HZ3_SEG_PAGES / hz3_class_run_pages(cls); i++)
    runs.push_back(Alloc(cls));
  ASSERT_EQ(pool_.used_segments, 2u);
  hz3_segment_t* first = hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, runs[0]));
  for (hz3_run_t* r : runs) {
    hz3_segment_t* seg = hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, r));
    hz3_segment_mark_busy(&pool_, &set_, seg, r->first_page % HZ3_SEG_PAGES, r->npages);
    if (seg == first) Free(r);
  }
  hz3_segment_purge_spare(&pool_, UINT64_MAX, UINT32_MAX, nullptr);  // `first` goes cold
  ASSERT_EQ(first->cold, 1u);
  hz3_segment_t* second = nullptr;
  for (hz3_run_t* r : runs) {
    hz3_segment_t* seg = hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, r));
    if (seg != first) second = seg, Free(r);
  }
  ASSERT_EQ(second->spare, 1u);
  EXPECT_EQ(second->cold, 0u);
  Check();
  hz3_run_t* again = Alloc(cls);
  EXPECT_EQ(hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, again)), second);
  EXPECT_EQ(pool_.ncold, 1u);
  Free(again);
}

TEST_F(SegmentTest, FillsSegmentsThenRunsOutWithEnomem) {
  uint32_t cls = hz3_size_to_class(65536);
  uint32_t per_seg = HZ3_SEG_PAGES / hz3_class_run_pages(cls);
  for (size_t i = 0; i < kSegments * per_seg; i++) ASSERT_NE(Alloc(cls), nullptr) << i;
  EXPECT_EQ(pool_.used_segments, kSegments);
  errno = 0;
  EXPECT_EQ(Alloc(cls), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  Free(live_.back());
  EXPECT_NE(Alloc(cls), nullptr);  // room again
}

TEST_F(SegmentTest, MapFailureIsEnomemNotCrash) {
  for (long after = 0; after < 5; after++) {  // each of the five mappings of a first segment
    os_.FailMapAtAfter(after);
    errno = 0;
    EXPECT_EQ(Alloc(0), nullptr) << after;
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_EQ(pool_.arenas[0].grown_bytes, 0u);
  }
  os_.FailMapAtAfter(-1);
  EXPECT_NE(Alloc(0), nullptr);  // what a failed step mapped went back: it maps again
  EXPECT_EQ(pool_.narenas, 1u);  // the limit is not a reason to claim elsewhere
}

// Arenas after the first: a full arena, or one whose next segment another mapping took, goes
// on in a new claim; lookups find objects in every arena.
class ArenaTest : public ::testing::Test {
 protected:
  FakeOs os_;
  hz3_segment_pool_t pool_;
  hz3_segment_set_t set_;
  std::vector<hz3_run_t*> live_;
  const uint32_t cls_ = hz3_size_to_class(65536);
  const uint32_t per_segment_ = HZ3_SEG_PAGES / hz3_class_run_pages(cls_);

  void TearDown() override {
    for (hz3_run_t* r : live_) hz3_segment_free_run(&pool_, &set_, r, 0);
    hz3_check_report_t rep;
    EXPECT_TRUE(hz3_segment_check(&pool_, &rep)) << rep.message;
    EXPECT_EQ(pool_.nspare, pool_.used_segments);
    hz3_segment_pool_destroy(&pool_);
  }
  hz3_run_t* Alloc() {
    hz3_run_t* run = hz3_segment_alloc_run(&pool_, &set_, hz3_class_run_pages(cls_), cls_, 1);
    if (run != nullptr) live_.push_back(run);
    return run;
  }
  // Every live run is found from its own pages, in whichever arena it is.
  void ExpectLookups() {
    for (hz3_run_t* r : live_) {
      char* start = static_cast<char*>(hz3_segment_run_start(&pool_, r));
      ASSERT_TRUE(hz3_segment_pool_contains(&pool_, start));
      EXPECT_EQ(hz3_segment_run_of(&pool_, start + 4096), r);
      EXPECT_EQ(HZ3_TAG_CLASS(hz3_segment_tag(&pool_, start)), cls_);
      EXPECT_EQ(hz3_segment_page_bin(&pool_, start), cls_ + 1);
      EXPECT_EQ(hz3_segment_arena_of(&pool_, start), &pool_.arenas[r->arena]);
      memset(start, 7, r->npages * HZ3_PAGE_SIZE);
    }
  }
};

TEST_F(ArenaTest, AFullArenaGoesOnInANewOne) {
  ASSERT_EQ(hz3_segment_pool_init(&pool_, os_.ops(), nullptr, 2 * HZ3_SEG_SIZE, 3), 0);
  hz3_segment_set_init(&set_, 0);
  for (uint32_t i = 0; i < 6 * per_segment_; i++) ASSERT_NE(Alloc(), nullptr) << i;
  EXPECT_EQ(pool_.narenas, 3u);
  EXPECT_EQ(pool_.used_segments, 6u);
  for (uint32_t k = 0; k < 3; k++) EXPECT_EQ(pool_.arenas[k].grown_bytes, 2 * HZ3_SEG_SIZE);
  ExpectLookups();
  errno = 0;
  EXPECT_EQ(Alloc(), nullptr);  // three arenas were all it could have
  EXPECT_EQ(errno, ENOMEM);
  // A freed segment of the first arena is reused before anything new is mapped.
  hz3_run_t* first = live_.front();
  for (uint32_t i = 0; i < per_segment_; i++) {
    hz3_segment_free_run(&pool_, &set_, live_.front(), 2);
    live_.erase(live_.begin());
  }
  size_t maps = os_.map_at_calls();
  hz3_run_t* again = Alloc();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->arena, 0u);
  EXPECT_EQ(os_.map_at_calls(), maps);
  (void)first;
}

TEST_F(ArenaTest, AnotherMappingInTheWayClosesTheArena) {
  ASSERT_EQ(hz3_segment_pool_init(&pool_, os_.ops(), nullptr, 8 * HZ3_SEG_SIZE, 4), 0);
  hz3_segment_set_init(&set_, 0);
  for (uint32_t i = 0; i < per_segment_; i++) ASSERT_NE(Alloc(), nullptr);  // arena 0, segment 0
  // Something else maps where segment 1 would go.
  uintptr_t next = pool_.arenas[0].base + HZ3_SEG_SIZE;
  ASSERT_TRUE(os_.Occupy(next, HZ3_SEG_SIZE));
  for (uint32_t i = 0; i < 2 * per_segment_; i++) ASSERT_NE(Alloc(), nullptr) << i;
  EXPECT_EQ(pool_.arenas[0].closed, 1u);
  EXPECT_EQ(pool_.arenas[0].grown_bytes, HZ3_SEG_SIZE);
  EXPECT_EQ(pool_.narenas, 2u);
  EXPECT_EQ(pool_.arenas[1].grown_bytes, 2 * HZ3_SEG_SIZE);
  EXPECT_FALSE(hz3_segment_pool_contains(&pool_, reinterpret_cast<void*>(next)));
  ExpectLookups();
  os_.Vacate(next, HZ3_SEG_SIZE);
}

TEST_F(SegmentTest, PageStatesAndResidentUnusedCount) {
  uint32_t cls = hz3_size_to_class(64);
  hz3_run_t* keep = Alloc(cls);  // keeps the segment in the set
  hz3_run_t* a = Alloc(cls);
  hz3_segment_t* seg = hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, a));
  uint32_t page = a->first_page % HZ3_SEG_PAGES;
  // A fresh segment's untouched pages count as purged (they hold no memory), and a new run's
  // pages start idle (no object handed out) and still purged.
  EXPECT_EQ((seg->purged_bits[0] >> (page + 1)) & 1, 1u);
  EXPECT_TRUE(hz3_segment_page_is_idle(seg, page));
  EXPECT_EQ((seg->idle_purged_bits[0] >> page) & 1, 1u);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 0u);
  // Central hands an object out: the page is busy, then written.
  hz3_segment_mark_busy(&pool_, &set_, seg, page, 1);
  EXPECT_FALSE(hz3_segment_page_is_idle(seg, page));
  char* p = static_cast<char*>(hz3_segment_run_start(&pool_, a));
  memset(p, 0x77, HZ3_PAGE_SIZE);
  Check();
  // Its objects all free again: idle and resident, so it counts as resident-unused.
  hz3_segment_mark_idle(&pool_, &set_, seg, page, 1);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 1u);
  EXPECT_EQ(set_.unused_pages, 1u);
  Check();
  // Purging an idle page of a live run: zero on the next touch, no longer counted.
  os_.ClearRecords();
  ASSERT_EQ(hz3_segment_purge_range(&pool_, &set_, seg, page, 1), 0);
  ASSERT_EQ(os_.dontneed_calls(), 1u);
  EXPECT_EQ(os_.dontneed_ranges()[0].addr, reinterpret_cast<uintptr_t>(p));
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 0u);
  EXPECT_EQ(p[0], 0);
  Check();
  // Freeing the run keeps the page purged (now a purged free page): nothing to madvise again.
  Free(a);
  EXPECT_EQ((seg->purged_bits[0] >> page) & 1, 1u);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 0u);
  // A run freed with a busy page: that page joins the resident-unused count.
  hz3_run_t* b = Alloc(cls);
  ASSERT_EQ(b->first_page % HZ3_SEG_PAGES, page);
  hz3_segment_mark_busy(&pool_, &set_, seg, page, 1);
  memset(p, 1, 64);
  Free(b);
  EXPECT_EQ((seg->purged_bits[0] >> page) & 1, 0u);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 1u);
  uint32_t first = 0;
  EXPECT_EQ(hz3_segment_next_unused(seg, 0, HZ3_SEG_PAGES, &first), 1u);
  EXPECT_EQ(first, page);
  ASSERT_EQ(hz3_segment_purge_range(&pool_, &set_, seg, first, 1), 0);
  EXPECT_EQ(hz3_segment_next_unused(seg, 0, HZ3_SEG_PAGES, &first), 0u);
  Free(keep);
}

TEST_F(SegmentTest, NextUnusedFindsMaximalRangesAcrossWords) {
  std::vector<hz3_run_t*> runs;
  for (int i = 0; i < 200; i++) runs.push_back(Alloc(0));  // one page each, pages 0..199
  hz3_segment_t* seg = hz3_segment_of(&pool_, hz3_segment_run_start(&pool_, runs[0]));
  for (int i = 0; i < 200; i++) hz3_segment_mark_busy(&pool_, &set_, seg, i, 1);
  for (int i = 60; i < 140; i++) hz3_segment_mark_idle(&pool_, &set_, seg, i, 1);
  uint32_t first = 0;
  EXPECT_EQ(hz3_segment_next_unused(seg, 0, HZ3_SEG_PAGES, &first), 80u);
  EXPECT_EQ(first, 60u);
  EXPECT_EQ(hz3_segment_next_unused(seg, 100, HZ3_SEG_PAGES, &first), 40u);
  EXPECT_EQ(first, 100u);
  EXPECT_EQ(hz3_segment_next_unused(seg, 0, 16, &first), 16u);  // capped
  Check();
}

TEST_F(SegmentTest, RandomRunsKeepInvariants) {
  std::mt19937 rng(42);
  for (int step = 0; step < 3000; step++) {
    if (!live_.empty() && rng() % 2) {
      Free(live_[rng() % live_.size()]);
    } else {
      hz3_run_t* r = Alloc(rng() % HZ3_NUM_CLASSES);
      (void)r;  // NULL when full: allowed
    }
    for (hz3_segment_t* seg = set_.head; seg != nullptr && seg->next != nullptr; seg = seg->next)
      ASSERT_TRUE(seg->arena < seg->next->arena ||
                  (seg->arena == seg->next->arena && seg->index < seg->next->index));
  }
}

}  // namespace
