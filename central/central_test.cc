// central: batches from runs, runs back to segments when all their objects are free, remote
// inboxes from other threads, ENOMEM, all checked with hz3_central_check on the fake OS.
#include <errno.h>
#include <gtest/gtest.h>
#include <string.h>

#include <random>
#include <set>
#include <thread>
#include <vector>

#include "tests/fakes/fake_os.h"

extern "C" {
#include "central/central.h"
}

namespace {

std::vector<void*> ListToVector(void* head) {
  std::vector<void*> v;
  for (void* p = head; p != nullptr; p = *static_cast<void**>(p)) v.push_back(p);
  return v;
}

void* VectorToList(const std::vector<void*>& v) {
  for (size_t i = 0; i < v.size(); i++)
    *static_cast<void**>(v[i]) = i + 1 < v.size() ? v[i + 1] : nullptr;
  return v.empty() ? nullptr : v[0];
}

class CentralTest : public ::testing::Test {
 protected:
  FakeOs os_;
  hz3_stats_t stats_;
  hz3_segment_pool_t pool_;
  hz3_central_t central_;

  void SetUp() override {
    hz3_stats_reset(&stats_);
    ASSERT_EQ(hz3_segment_pool_init(&pool_, os_.ops(), &stats_, 16 * HZ3_SEG_SIZE, 1), 0);
    hz3_central_init(&central_, &pool_, &stats_);
  }
  void TearDown() override {
    Check();
    // Everything came back: no segment is held by any shard.
    // Each class may keep one wholly free run as its spare; trim (and this) sends them back.
    for (uint32_t s = 0; s < central_.nshards; s++) hz3_central_release_spares(&central_, s);
    for (uint32_t s = 0; s < central_.nshards; s++) {
      EXPECT_EQ(central_.shards[s].segments.head, nullptr) << "shard " << s;
      EXPECT_EQ(hz3_central_free_objects(&central_, s), 0u);
    }
    EXPECT_EQ(pool_.nspare, pool_.used_segments);
    hz3_segment_pool_destroy(&pool_);
  }
  void Check() {
    hz3_check_report_t r;
    ASSERT_TRUE(hz3_central_check(&central_, &r)) << r.message;
  }
  std::vector<void*> Alloc(uint32_t shard, uint32_t cls, uint32_t want) {
    void* head = nullptr;
    uint32_t n = hz3_central_alloc_batch(&central_, shard, cls, want, &head);
    std::vector<void*> v = ListToVector(head);
    EXPECT_EQ(v.size(), n);
    return v;
  }
  void Free(uint32_t shard, uint32_t cls, const std::vector<void*>& v) {
    for (void* p : v) EXPECT_EQ(HZ3_TAG_CLASS(hz3_segment_tag(&pool_, p)), cls);
    hz3_central_free_list(&central_, shard, VectorToList(v));
  }
};

TEST_F(CentralTest, BatchGivesDistinctAlignedObjectsOfTheClass) {
  uint32_t cls = hz3_size_to_class(100);
  size_t size = hz3_class_to_size(cls);
  std::vector<void*> v = Alloc(2, cls, 300);
  ASSERT_EQ(v.size(), 300u);
  std::set<uintptr_t> seen;
  for (void* p : v) {
    EXPECT_TRUE(seen.insert(reinterpret_cast<uintptr_t>(p)).second);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % HZ3_MIN_ALIGN, 0u);
    hz3_tag_t tag = hz3_segment_tag(&pool_, p);
    EXPECT_EQ(HZ3_TAG_CLASS(tag), cls);
    EXPECT_EQ(HZ3_TAG_OWNER(tag), 2u);
  }
  for (size_t i = 0; i < v.size(); i++) memset(v[i], static_cast<int>(i), size);
  // No overlap: every object still holds its own byte pattern.
  for (size_t i = 0; i < v.size(); i++)
    ASSERT_EQ(static_cast<unsigned char*>(v[i])[size - 1], static_cast<unsigned char>(i));
  Check();
  Free(2, cls, v);
}

TEST_F(CentralTest, RunGoesBackToItsSegmentWhenAllObjectsAreFree) {
  uint32_t cls = hz3_size_to_class(1024);
  uint32_t objs = hz3_class_run_objs(cls);
  std::vector<void*> a = Alloc(0, cls, objs), b = Alloc(0, cls, objs);  // exactly two runs
  EXPECT_EQ(central_.shards[0].segments.nsegments, 1u);
  std::vector<void*> half(a.begin(), a.begin() + objs / 2), rest(a.begin() + objs / 2, a.end());
  uint64_t unused = hz3_segment_unused_pages(&pool_);
  Free(0, cls, half);
  Check();
  EXPECT_EQ(hz3_central_free_objects(&central_, 0), objs / 2);
  EXPECT_NE(central_.shards[0].partial[cls], nullptr);
  // Run b gets a free object (listed), then run a empties: a goes back to its segment at once.
  Free(0, cls, {b[0]});
  Free(0, cls, rest);
  Check();
  EXPECT_EQ(hz3_central_free_objects(&central_, 0), 1u);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), unused + hz3_class_run_pages(cls));
  // b empties too, the class's last listed run: it stays as the spare, its pages idle (purge
  // may take them), and the next refill takes it rather than a fresh run.
  Free(0, cls, std::vector<void*>(b.begin() + 1, b.end()));
  Check();
  EXPECT_EQ(central_.shards[0].partial[cls], hz3_segment_run_of(&pool_, b[0]));
  EXPECT_EQ(hz3_central_free_objects(&central_, 0), objs);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), unused + 2 * hz3_class_run_pages(cls));
  std::vector<void*> c = Alloc(0, cls, 1);
  EXPECT_EQ(hz3_segment_run_of(&pool_, c[0]), hz3_segment_run_of(&pool_, b[0]));
  Free(0, cls, c);
  // Trim's step: the spare goes back, and with it the segment.
  EXPECT_EQ(hz3_central_release_spares(&central_, 0), 1u);
  Check();
  EXPECT_EQ(central_.shards[0].partial[cls], nullptr);
  EXPECT_EQ(central_.shards[0].segments.head, nullptr);  // run -> segment -> pool
  EXPECT_EQ(pool_.nspare, 1u);
}

TEST_F(CentralTest, NoSpareWhileUnusedPagesPileUp) {
  // Spares live within the retain allowance: with the pool already holding that many
  // resident-unused pages (a burst freed), an emptied run goes back to its segment.
  uint32_t cls = hz3_size_to_class(2048);
  uint32_t objs = hz3_class_run_objs(cls);
  std::vector<void*> a = Alloc(0, cls, objs), b = Alloc(0, cls, objs);
  Free(0, cls, {b[0]});  // b listed: a, emptied next, goes back to its segment
  Free(0, cls, a);       // a's pages free in the segment: the pool holds some unused pages
  ASSERT_GT(hz3_segment_unused_pages(&pool_), 0u);
  hz3_central_set_spare_limit(&central_, (uint32_t)hz3_segment_unused_pages(&pool_));
  Free(0, cls, std::vector<void*>(b.begin() + 1, b.end()));  // the class's last run empties
  Check();
  EXPECT_EQ(central_.shards[0].partial[cls], nullptr);
  EXPECT_EQ(central_.shards[0].segments.head, nullptr);
  EXPECT_EQ(hz3_central_release_spares(&central_, 0), 0u);
}

TEST_F(CentralTest, FreedObjectsAreReusedBeforeNewRuns) {
  uint32_t cls = hz3_size_to_class(48);
  std::vector<void*> a = Alloc(1, cls, 10);
  std::vector<void*> keep(a.begin(), a.begin() + 1), back(a.begin() + 1, a.end());
  Free(1, cls, back);
  std::vector<void*> b = Alloc(1, cls, 9);
  EXPECT_EQ(std::set<void*>(b.begin(), b.end()), std::set<void*>(back.begin(), back.end()));
  Free(1, cls, b);
  Free(1, cls, keep);
}

TEST_F(CentralTest, RemoteFreesFromOtherThreadsArriveThroughTheInbox) {
  uint32_t cls = hz3_size_to_class(256);
  std::vector<void*> v = Alloc(4, cls, 4000);
  ASSERT_EQ(v.size(), 4000u);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      // Each thread pushes its quarter in chains of 10, as a tcache's stash would.
      for (size_t i = t * 1000; i < (t + 1) * 1000u; i += 10) {
        std::vector<void*> chain(v.begin() + i, v.begin() + i + 10);
        void* head = VectorToList(chain);
        hz3_central_remote_push(&central_, 4, head, chain.back());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(hz3_central_drain_inbox(&central_, 4), 4000u);
  EXPECT_EQ(hz3_central_drain_inbox(&central_, 4), 0u);
}

TEST_F(CentralTest, AllocDrainsTheInboxFirst) {
  uint32_t cls = hz3_size_to_class(32);
  std::vector<void*> v = Alloc(0, cls, 5);
  void* head = VectorToList(v);
  hz3_central_remote_push(&central_, 0, head, v.back());
  std::vector<void*> again = Alloc(0, cls, 5);
  EXPECT_EQ(std::set<void*>(again.begin(), again.end()), std::set<void*>(v.begin(), v.end()));
  Free(0, cls, again);
}

// A batch of one class freed by another shard's thread waits whole for the owner's next
// refill of the class, up to what its last refill asked for and HZ3_TRANSFER_MAX_BYTES; the
// refill takes it first, oldest first; a drain (the owner's epoch, its leaving) sends what
// still waits to the runs and closes the list until a refill asks again.
TEST_F(CentralTest, TransferListsCarryRemoteBatchesToTheOwnersNextRefill) {
  if (!HZ3_REMOTE_DIRECT) {
    GTEST_SKIP() << "remote_direct=0: remote frees only use the inbox";
  }
  uint32_t cls = hz3_size_to_class(64);
  auto send = [&](uint32_t shard, uint32_t c, std::vector<void*> batch) {
    hz3_central_free_remote_class(&central_, shard, c, VectorToList(batch), batch.back(),
                                  (uint32_t)batch.size());
  };
  hz3_central_transfer_t& t = central_.shards[3].transfer[cls];
  EXPECT_EQ(t.wanted, 0u);  // no refill asked yet
  std::vector<void*> v = Alloc(3, cls, 200);
  std::vector<void*> a = Alloc(3, cls, 40);  // the last refill asks for 40
  EXPECT_EQ(t.wanted, 40u);
  send(3, cls, std::vector<void*>(v.begin(), v.begin() + 30));
  EXPECT_EQ(t.n, 30u);
  send(3, cls, std::vector<void*>(v.begin() + 30, v.begin() + 60));  // 60 > 40: to the runs
  EXPECT_EQ(t.n, 30u);
  EXPECT_EQ(hz3_central_transferring(&central_, 3), 30u);
  Check();
  uint64_t taken_before = stats_.transfer_objects;
  std::vector<void*> got = Alloc(3, cls, 20);
  EXPECT_EQ(got, std::vector<void*>(v.begin(), v.begin() + 20));  // oldest first
  if (HZ3_STATS) {
    EXPECT_EQ(stats_.transfer_objects - taken_before, 20u);
  }
  EXPECT_EQ(t.n, 10u);
  Check();
  EXPECT_EQ(hz3_central_drain_inbox(&central_, 3), 10u);
  EXPECT_EQ(t.n, 0u);
  EXPECT_EQ(t.wanted, 0u);
  send(3, cls, std::vector<void*>(v.begin() + 60, v.begin() + 70));  // closed: to the runs
  EXPECT_EQ(t.n, 0u);
  // Bytes bound the list whatever the refill asked for (100 objects of 8 KiB here).
  uint32_t big = hz3_size_to_class(8192);
  const uint32_t fit = HZ3_TRANSFER_MAX_BYTES / (uint32_t)hz3_class_to_size(big);
  ASSERT_LT(fit + 1 + fit, 100u);
  std::vector<void*> w = Alloc(3, big, 100);
  EXPECT_EQ(central_.shards[3].transfer[big].wanted, 100u);
  send(3, big, std::vector<void*>(w.begin(), w.begin() + fit + 1));  // one over: to the runs
  EXPECT_EQ(central_.shards[3].transfer[big].n, 0u);
  send(3, big, std::vector<void*>(w.begin() + fit + 1, w.begin() + 2 * fit + 1));  // waits
  EXPECT_EQ(central_.shards[3].transfer[big].n, fit);
  Check();
  EXPECT_EQ(hz3_central_drain_inbox(&central_, 3), fit);
  Free(3, big, std::vector<void*>(w.begin() + 2 * fit + 1, w.end()));
  Free(3, cls, got);
  Free(3, cls, a);
  Free(3, cls, std::vector<void*>(v.begin() + 70, v.end()));
}

TEST_F(CentralTest, OutOfMemoryIsEnomem) {
  uint32_t cls = hz3_size_to_class(65536);
  std::vector<void*> all;
  for (;;) {
    errno = 0;
    std::vector<void*> v = Alloc(0, cls, 64);
    all.insert(all.end(), v.begin(), v.end());
    if (v.size() < 64) break;
  }
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(all.size() * 65536, 16 * HZ3_SEG_SIZE);  // every byte of the arena was used
  Check();
  Free(0, cls, all);
}

TEST_F(CentralTest, FreePagesInsideALiveRunCanBePurgedAndComeBackZero) {
  uint32_t cls = hz3_size_to_class(4096);
  uint32_t objs = hz3_class_run_objs(cls);
  std::vector<void*> v = Alloc(0, cls, objs);  // one run, every page busy
  for (void* p : v) memset(p, 0xAB, 4096);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 0u);
  // Free all but the last object: the run stays alive, its other pages turn idle.
  std::vector<void*> most(v.begin(), v.end() - 1);
  Free(0, cls, most);
  Check();
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), objs - 1);
  hz3_segment_t* seg = hz3_segment_of(&pool_, v[0]);
  hz3_segment_set_t* set = &central_.shards[0].segments;
  uint32_t first = 0, n;
  size_t purged = 0;
  while ((n = hz3_segment_next_unused(seg, 0, HZ3_SEG_PAGES, &first)) != 0) {
    ASSERT_EQ(hz3_segment_purge_range(&pool_, set, seg, first, n), 0);
    purged += n;
  }
  EXPECT_EQ(purged, objs - 1);
  EXPECT_EQ(static_cast<unsigned char*>(v.back())[0], 0xAB);  // the live object is untouched
  Check();
  // Handed out again: the purged pages read as zero, and they are busy again.
  std::vector<void*> again = Alloc(0, cls, objs - 1);
  ASSERT_EQ(again.size(), objs - 1);
  for (void* p : again) EXPECT_EQ(static_cast<unsigned char*>(p)[100], 0);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 0u);
  Check();
  Free(0, cls, again);
  Free(0, cls, {v.back()});
}

// A big object says whether it reads as zero: yes on pages never touched, no on pages that
// kept an earlier object's data, yes again once they were purged, and never after a purge
// failed (its purged bits name pages that kept their data).
TEST_F(CentralTest, BigObjectsSayWhetherTheyReadAsZero) {
  // A small object keeps the segment in the shard's set while the big run comes and goes.
  std::vector<void*> pin = Alloc(0, hz3_size_to_class(64), 1);
  uint32_t cls = hz3_big_size_to_class(1300000);
  size_t size = hz3_class_to_size(cls);
  uint32_t npages = hz3_class_run_pages(cls);
  bool zeroed = false;
  auto alloc = [&]() {
    return static_cast<unsigned char*>(hz3_central_alloc_big(&central_, 0, cls, &zeroed));
  };
  unsigned char* p = alloc();
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(zeroed);
  hz3_segment_t* seg = hz3_segment_of(&pool_, p);
  ASSERT_EQ(seg, hz3_segment_of(&pool_, pin[0]));
  hz3_segment_set_t* set = &central_.shards[0].segments;
  uint32_t first =
      static_cast<uint32_t>((reinterpret_cast<uintptr_t>(p) -
                             reinterpret_cast<uintptr_t>(hz3_segment_page_addr(&pool_, seg, 0))) >>
                            HZ3_PAGE_SHIFT);
  memset(p, 0xAB, size);
  Free(0, cls, {p});
  unsigned char* q = alloc();
  ASSERT_EQ(q, p);  // the same pages, resident, holding 0xAB
  EXPECT_FALSE(zeroed);
  EXPECT_EQ(q[size / 2], 0xAB);
  // One page purged of a dirty run: still not all zero.
  Free(0, cls, {q});
  ASSERT_EQ(hz3_segment_purge_range(&pool_, set, seg, first, 1), 0);
  q = alloc();
  ASSERT_EQ(q, p);
  EXPECT_FALSE(zeroed);
  // Every page purged: zero again.
  memset(q, 0xCD, size);
  Free(0, cls, {q});
  ASSERT_EQ(hz3_segment_purge_range(&pool_, set, seg, first, npages), 0);
  q = alloc();
  ASSERT_EQ(q, p);
  EXPECT_TRUE(zeroed);
  for (size_t i = 0; i < size; i += 4096) ASSERT_EQ(q[i], 0) << i;
  // A purge that fails leaves the data: from then on nothing is said to be zero.
  memset(q, 0xEF, size);
  Free(0, cls, {q});
  os_.FailDontneed(true);
  EXPECT_NE(hz3_segment_purge_range(&pool_, set, seg, first, npages), 0);
  os_.FailDontneed(false);
  q = alloc();
  ASSERT_EQ(q, p);
  EXPECT_FALSE(zeroed);
  EXPECT_EQ(q[size / 2], 0xEF);
  Free(0, cls, {q});
  Free(0, hz3_size_to_class(64), pin);
}

TEST_F(CentralTest, SmallObjectsIdleAPageOnlyWhenAllItsObjectsAreFree) {
  uint32_t cls = hz3_size_to_class(1000);  // objects straddle page boundaries
  uint32_t objs = hz3_class_run_objs(cls);
  std::vector<void*> v = Alloc(0, cls, objs);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 0u);
  for (uint32_t i = 0; i + 1 < objs; i += 2) Free(0, cls, {v[i]});  // every other one
  Check();
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), 0u);  // every page still holds a live object
  for (uint32_t i = 1; i < objs; i += 2) Free(0, cls, {v[i]});
  Check();
  if (objs % 2 == 1) Free(0, cls, {v[objs - 1]});
  Check();  // the run stays as the class's spare, every page of it idle
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), hz3_class_run_pages(cls));
  EXPECT_EQ(hz3_central_release_spares(&central_, 0), 1u);
  EXPECT_EQ(central_.shards[0].segments.head, nullptr);  // the run went back, then the segment
}

// Idle pages are found once per stretch of a list that stays in one run: a list that frees all
// of run a's first page, then objects of run b, then all but one of a's second page idles
// exactly a's first page (and b's pages whose objects it freed all of).
TEST_F(CentralTest, OneListIdlesThePagesItsStretchesEmptied) {
  uint32_t cls = hz3_size_to_class(2048);  // 2 objects a page, none straddling, runs of 4 pages
  uint32_t objs = hz3_class_run_objs(cls), per_page = HZ3_PAGE_SIZE / 2048;
  ASSERT_GE(objs, 3 * per_page);
  std::vector<void*> a = Alloc(0, cls, objs), b = Alloc(0, cls, objs);
  uint64_t unused = hz3_segment_unused_pages(&pool_);
  std::vector<void*> list(a.begin(), a.begin() + per_page);                     // a: page 0, all
  list.insert(list.end(), b.begin() + per_page, b.begin() + 2 * per_page);      // b: page 1, all
  list.push_back(b[0]);                                                         // b: page 0, one
  list.insert(list.end(), a.begin() + per_page + 1, a.begin() + 2 * per_page);  // a: page 1 but one
  Free(0, cls, list);
  Check();  // every page's idle state agrees with its objects
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), unused + 2);
  Free(0, cls, {a[per_page]});
  Check();
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), unused + 3);
  Free(0, cls, std::vector<void*>(a.begin() + 2 * per_page, a.end()));
  Free(0, cls, std::vector<void*>(b.begin() + 1, b.begin() + per_page));
  Free(0, cls, std::vector<void*>(b.begin() + 2 * per_page, b.end()));
}

// An array of objects goes home as a list does, its objects never followed: two runs'
// objects shuffled together (a stretch of one object at a time), with one of them a one-page
// run that must not idle its page while it holds a live object, and the other, of pages that
// objects straddle, idling exactly the pages it emptied.  Their memory holds garbage where a
// list's links would be.
TEST_F(CentralTest, AnArrayFreesEachObjectIntoItsRunWhateverItsMemoryHolds) {
  uint32_t small = hz3_size_to_class(64), straddling = hz3_size_to_class(1000);
  ASSERT_EQ(hz3_class_run_pages(small), 1u);
  uint32_t small_objs = hz3_class_run_objs(small), big_objs = hz3_class_run_objs(straddling);
  std::vector<void*> a = Alloc(0, small, small_objs), b = Alloc(0, straddling, big_objs);
  for (void* p : a) memset(p, 0xA5, 64);
  for (void* p : b) memset(p, 0xA5, 1000);
  uint64_t unused = hz3_segment_unused_pages(&pool_);
  std::vector<void*> mixed;  // all of b but its last object, every other of a, interleaved
  for (uint32_t i = 0; i < small_objs || i + 1 < big_objs; i++) {
    if (i % 2 == 0 && i < small_objs) mixed.push_back(a[i]);
    if (i + 1 < big_objs) mixed.push_back(b[i]);
  }
  hz3_central_free_array(&central_, 0, mixed.data(), (uint32_t)mixed.size());
  Check();  // every page's idle state agrees with its objects
  // a's page holds live objects: not idle.  b's pages but its last are idle (one, when the
  // last object starts on its page's first byte, else the last two hold it).
  uint32_t last_first_page = (uint32_t)(((size_t)(big_objs - 1) * 1000) >> HZ3_PAGE_SHIFT);
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), unused + last_first_page);
  std::vector<void*> rest;
  for (uint32_t i = 1; i < small_objs; i += 2) rest.push_back(a[i]);
  rest.push_back(b[big_objs - 1]);
  hz3_central_free_array(&central_, 0, rest.data(), (uint32_t)rest.size());
  Check();  // both runs wholly free: back to the segment or kept as their classes' spares
  EXPECT_EQ(hz3_central_free_objects(&central_, 0), small_objs + big_objs);
}

TEST_F(CentralTest, ADoubleFreeInAnArrayIsReported) {
  uint32_t cls = hz3_size_to_class(64);
  std::vector<void*> v = Alloc(0, cls, 4);
  ASSERT_EQ(v.size(), 4u);
  void* twice[] = {v[0], v[1], v[0]};
  EXPECT_DEATH(hz3_central_free_array(&central_, 0, twice, 3),
               "double free of 0x[0-9a-f]+ \\(an object of 64 bytes");
  Free(0, cls, v);
}

// A block realloc grows: placed with room after it, it grows in place into that room (its
// first page tagged with the new class, the new pages busy), not over a run placed after it.
TEST_F(CentralTest, ABigBlockGrowsInPlaceIntoTheRoomLeftAfterIt) {
  uint32_t cls = hz3_big_size_to_class(100000);
  uint32_t npages = hz3_class_run_pages(cls);
  auto* p = static_cast<unsigned char*>(hz3_central_alloc_big_with_room(&central_, 1, cls, npages));
  ASSERT_NE(p, nullptr);
  memset(p, 0x5A, hz3_class_to_size(cls));
  hz3_segment_t* seg = hz3_segment_of(&pool_, p);
  uint32_t free_before = seg->free_pages;
  uint32_t bigger = hz3_big_size_to_class(2 * npages * HZ3_PAGE_SIZE);
  ASSERT_LE(hz3_class_run_pages(bigger), 2 * npages);
  uint32_t added = hz3_class_run_pages(bigger) - npages;
  EXPECT_FALSE(hz3_central_resize_big(&central_, p, cls));  // its own class: nothing to do
  ASSERT_TRUE(hz3_central_resize_big(&central_, p, bigger));
  hz3_tag_t tag = hz3_segment_tag(&pool_, p);
  EXPECT_EQ(HZ3_TAG_CLASS(tag), bigger);
  EXPECT_EQ(HZ3_TAG_OWNER(tag), 1u);
  EXPECT_EQ(seg->free_pages, free_before - added);
  EXPECT_EQ(p[hz3_class_to_size(cls) - 1], 0x5A);
  p[hz3_class_to_size(bigger) - 1] = 1;
  Check();
  // Another block with room goes right after it (the lowest stretch): p cannot grow over it.
  void* next = hz3_central_alloc_big_with_room(&central_, 1, cls, npages);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(static_cast<unsigned char*>(next), p + hz3_class_to_size(bigger));
  EXPECT_FALSE(
      hz3_central_resize_big(&central_, p, hz3_big_size_to_class(3 * npages * HZ3_PAGE_SIZE)));
  EXPECT_EQ(HZ3_TAG_CLASS(hz3_segment_tag(&pool_, p)), bigger);
  Check();
  Free(1, cls, {next});
  Free(1, bigger, {p});
}

// A big block cut to a smaller big size keeps its place: the pages past it are free again
// (resident and unused), and it can grow back into them.
TEST_F(CentralTest, ABigBlockShrinksInPlaceGivingItsTailBack) {
  std::vector<void*> pin = Alloc(0, hz3_size_to_class(64), 1);  // keeps the segment in the set
  uint32_t cls = hz3_big_size_to_class(1 << 20);
  bool zeroed;
  auto* p = static_cast<unsigned char*>(hz3_central_alloc_big(&central_, 0, cls, &zeroed));
  ASSERT_NE(p, nullptr);
  memset(p, 0x33, 1 << 20);
  hz3_segment_t* seg = hz3_segment_of(&pool_, p);
  uint32_t free_before = seg->free_pages, unused_before = seg->unused_pages;
  uint32_t smaller = hz3_big_size_to_class(200000);
  uint32_t cut = hz3_class_run_pages(cls) - hz3_class_run_pages(smaller);
  EXPECT_FALSE(hz3_central_resize_big(&central_, p, cls));  // its own class: nothing to do
  ASSERT_TRUE(hz3_central_resize_big(&central_, p, smaller));
  EXPECT_EQ(HZ3_TAG_CLASS(hz3_segment_tag(&pool_, p)), smaller);
  EXPECT_EQ(seg->free_pages, free_before + cut);
  EXPECT_EQ(seg->unused_pages, unused_before + cut);  // they were busy: resident, now unused
  EXPECT_EQ(p[hz3_class_to_size(smaller) - 1], 0x33);
  Check();
  ASSERT_TRUE(hz3_central_resize_big(&central_, p, cls));
  EXPECT_EQ(seg->free_pages, free_before);
  EXPECT_EQ(seg->unused_pages, unused_before);
  Check();
  Free(0, cls, {p});
  Free(0, hz3_size_to_class(64), pin);
}

// The array's walk compares the runs looked up before it started: an object freed twice
// within one array, after its run went back (a big object: a run of its own, never kept as a
// spare), must not reach the dead descriptor as if it still held objects.
TEST_F(CentralTest, AnArrayFreeingAnObjectAfterItsRunWentBackIsReported) {
  std::vector<void*> pin = Alloc(0, hz3_size_to_class(64), 1);  // keeps the segment in the set
  uint32_t cls = hz3_big_size_to_class(200000);
  ASSERT_TRUE(hz3_class_is_big(cls));
  bool zeroed;
  void* p = hz3_central_alloc_big(&central_, 0, cls, &zeroed);
  ASSERT_NE(p, nullptr);
  void* twice[] = {p, p};
  EXPECT_DEATH(hz3_central_free_array(&central_, 0, twice, 2),
               "double free of 0x[0-9a-f]+ \\(its run was freed already\\)");
  Free(0, cls, {p});
  Free(0, hz3_size_to_class(64), pin);
}

// Objects of one-page runs (most small classes) are checked and indexed from their address
// and page tag before the lock: an interior pointer is reported as such, and a run wholly
// freed through an array goes back, or stays as its class's spare with its page idle.
TEST_F(CentralTest, AnArrayFreesOnePageRunsWholeAndReportsInteriorPointers) {
  uint32_t cls = hz3_size_to_class(48);
  ASSERT_EQ(hz3_class_run_pages(cls), 1u);
  uint32_t objs = hz3_class_run_objs(cls);
  std::vector<void*> a = Alloc(0, cls, 2 * objs);  // two runs, each wholly handed out
  ASSERT_EQ(a.size(), 2u * objs);
  void* inside[] = {static_cast<char*>(a[3]) + 16};
  EXPECT_DEATH(hz3_central_free_array(&central_, 0, inside, 1),
               "invalid pointer 0x[0-9a-f]+ \\(inside an object of 48 bytes at 0x[0-9a-f]+");
  uint64_t unused = hz3_segment_unused_pages(&pool_);
  // The first run whole, in reverse: the class's first wholly free run stays as its spare
  // (no other run of the class is listed: the second has no free object), its page idle.
  std::vector<void*> first(a.rbegin() + objs, a.rend());
  hz3_central_free_array(&central_, 0, first.data(), (uint32_t)first.size());
  Check();
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), unused + 1);
  EXPECT_EQ(hz3_central_free_objects(&central_, 0), objs);
  // The second run, with an object freed twice in its array: reported.
  std::vector<void*> second(a.begin() + objs, a.end()), twice(second.begin(), second.begin() + 10);
  twice.push_back(second[5]);
  EXPECT_DEATH(hz3_central_free_array(&central_, 0, twice.data(), (uint32_t)twice.size()),
               "double free of 0x[0-9a-f]+ \\(an object of 48 bytes, already free\\)");
  // Whole, it goes back to its segment: the class has its spare.
  hz3_central_free_array(&central_, 0, second.data(), (uint32_t)second.size());
  Check();
  EXPECT_EQ(hz3_central_free_objects(&central_, 0), objs);
  EXPECT_EQ(hz3_tag_t{0}, hz3_segment_tag(&pool_, second[0]));
}

TEST_F(CentralTest, RandomModel) {
  std::mt19937 rng(7);
  struct Held {
    uint32_t shard, cls;
    void* p;
  };
  std::vector<Held> held;
  for (int step = 0; step < 20000; step++) {
    if (!held.empty() && rng() % 3 == 0) {
      // Free a random handful, one call per object (class and shard from the model).
      for (int k = 0; k < 8 && !held.empty(); k++) {
        size_t i = rng() % held.size();
        Free(held[i].shard, held[i].cls, {held[i].p});
        held[i] = held.back();
        held.pop_back();
      }
    } else {
      uint32_t shard = rng() % central_.nshards, cls = rng() % HZ3_NUM_CLASSES;
      for (void* p : Alloc(shard, cls, 1 + rng() % 16)) {
        memset(p, 0xCD, hz3_class_to_size(cls));
        held.push_back({shard, cls, p});
      }
    }
    if (step % 1000 == 0) Check();
  }
  Check();
  for (const Held& h : held) Free(h.shard, h.cls, {h.p});
}

// Every freed object passes through here on its way home, so here is where a bad one is
// caught in every build: an object already free (a double free the thread cache let through),
// or a pointer inside an object.  Each ends the process with a message (death tests: the
// fixture's teardown never runs in the child).
TEST_F(CentralTest, DoubleFreeReachingItsRunIsReported) {
  uint32_t cls = hz3_size_to_class(64);
  std::vector<void*> v = Alloc(0, cls, 4);
  ASSERT_EQ(v.size(), 4u);
  Free(0, cls, {v[0], v[1]});
  EXPECT_DEATH(Free(0, cls, {v[2], v[0]}), "double free of 0x[0-9a-f]+ \\(an object of 64 bytes");
  Free(0, cls, {v[2], v[3]});
}

// One list, objects of two runs interleaved and in runs of neighbours: each reaches its own run
// (central asks a page tag only when an object leaves the previous one's run), and both runs
// go back when their last object does.
TEST_F(CentralTest, AListMixingRunsFreesEachObjectIntoItsOwnRun) {
  uint32_t cls = hz3_size_to_class(512);
  uint32_t objs = hz3_class_run_objs(cls);
  std::vector<void*> a = Alloc(0, cls, objs), b = Alloc(0, cls, objs);  // exactly two runs
  ASSERT_NE(hz3_segment_run_of(&pool_, a[0]), hz3_segment_run_of(&pool_, b[0]));
  std::vector<void*> mixed;
  for (uint32_t i = 0; i < objs; i++) {
    mixed.push_back(a[i]);
    if (i % 3 == 0) mixed.push_back(b[i]);  // single objects of b between a's neighbours
  }
  for (uint32_t i = 0; i < objs; i++)
    if (i % 3 != 0) mixed.push_back(b[i]);  // then the rest of b in one stretch
  uint64_t unused = hz3_segment_unused_pages(&pool_);
  Free(0, cls, mixed);
  Check();
  EXPECT_EQ(hz3_central_free_objects(&central_, 0), objs);  // one of them stays as the spare
  EXPECT_EQ(hz3_segment_unused_pages(&pool_), unused + 2 * hz3_class_run_pages(cls));
}

// The run an object's neighbours went home to is gone once its last object is free: the same
// object met again later in the same list (its link made the list a cycle) is found by its page
// tag, not taken for one of the run central had at hand.
TEST_F(CentralTest, ADoubleFreeAfterItsRunWentBackInTheSameListIsReported) {
  uint32_t cls = hz3_size_to_class(512);
  uint32_t objs = hz3_class_run_objs(cls);
  std::vector<void*> a = Alloc(0, cls, objs), b = Alloc(0, cls, objs);
  Free(0, cls, {b[0]});  // b is listed, so a does not stay as the class's spare
  EXPECT_DEATH(
      {
        for (uint32_t i = 0; i + 1 < objs; i++) *(void**)a[i] = a[i + 1];
        *(void**)a[objs - 1] = a[1];  // a[1] again, after the last of its run
        hz3_central_free_list(&central_, 0, a[0]);
      },
      "double free of 0x[0-9a-f]+ \\(its run was freed already\\)");
  Free(0, cls, a);
  Free(0, cls, std::vector<void*>(b.begin() + 1, b.end()));
}

TEST_F(CentralTest, InteriorPointerReachingItsRunIsReported) {
  uint32_t cls = hz3_size_to_class(48);
  std::vector<void*> v = Alloc(0, cls, 2);
  ASSERT_EQ(v.size(), 2u);
  char* inside = static_cast<char*>(v[1]) + 16;
  EXPECT_DEATH(Free(0, cls, {inside}),
               "invalid pointer 0x[0-9a-f]+ \\(inside an object of 48 bytes");
  Free(0, cls, v);
}

// The transfer path checks what free_to_run would: a pointer inside an object, an object
// freed again while it waits on a transfer list, or one its run already has free.
TEST_F(CentralTest, BadPointersJoiningATransferListAreReported) {
  if (!HZ3_REMOTE_DIRECT) {
    GTEST_SKIP() << "remote_direct=0: remote frees only use the inbox";
  }
  uint32_t cls = hz3_size_to_class(48);
  std::vector<void*> v = Alloc(1, cls, 40);  // shard 1 asks for 40: its list is open
  ASSERT_EQ(v.size(), 40u);
  auto send = [&](std::vector<void*> batch) {
    hz3_central_free_remote_class(&central_, 1, cls, VectorToList(batch), batch.back(),
                                  (uint32_t)batch.size());
  };
  char* inside = static_cast<char*>(v[9]) + 16;
  EXPECT_DEATH(send({v[8], inside}), "invalid pointer 0x[0-9a-f]+ \\(inside an object of 48 bytes");
  send({v[0], v[1], v[2]});
  EXPECT_EQ(central_.shards[1].transfer[cls].n, 3u);
  EXPECT_DEATH(send({v[3], v[1]}), "double free of 0x[0-9a-f]+ \\(an object of 48 bytes");
  Free(1, cls, {v[4]});  // into its run
  EXPECT_DEATH(send({v[5], v[4]}), "double free of 0x[0-9a-f]+ \\(an object of 48 bytes");
  // Taken by a refill, an object is live again: freeing it once more is no double free.
  std::vector<void*> again = Alloc(1, cls, 3);
  EXPECT_EQ(again, std::vector<void*>(v.begin(), v.begin() + 3));
  send({again[1]});
  EXPECT_EQ(central_.shards[1].transfer[cls].n, 1u);
  Check();
  EXPECT_EQ(hz3_central_drain_inbox(&central_, 1), 1u);
  Free(1, cls, {again[0], again[2]});
  Free(1, cls, std::vector<void*>(v.begin() + 3, v.begin() + 4));
  Free(1, cls, std::vector<void*>(v.begin() + 5, v.end()));
}

}  // namespace
