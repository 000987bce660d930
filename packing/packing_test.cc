// packing: the iterator visits a set's segments by free pages, most first, read-only.
#include <gtest/gtest.h>

#include <vector>

#include "tests/fakes/fake_os.h"

extern "C" {
#include "packing/packing.h"
}

namespace {

bool Collect(hz3_segment_t* seg, void* arg) {
  static_cast<std::vector<hz3_segment_t*>*>(arg)->push_back(seg);
  return true;
}

bool StopAfterOne(hz3_segment_t* seg, void* arg) {
  static_cast<std::vector<hz3_segment_t*>*>(arg)->push_back(seg);
  return false;
}

TEST(PackingTest, MostFreeFirstAndThreshold) {
  FakeOs os;
  hz3_segment_pool_t pool;
  ASSERT_EQ(hz3_segment_pool_init(&pool, os.ops(), nullptr, 8 * HZ3_SEG_SIZE, 1), 0);
  hz3_segment_set_t set;
  hz3_segment_set_init(&set, 0);
  // Three segments: fill each with 16-page runs, then free different amounts.
  std::vector<std::vector<hz3_run_t*>> runs(3);
  uint32_t cls = hz3_size_to_class(65536);
  uint32_t per_seg = HZ3_SEG_PAGES / hz3_class_run_pages(cls);
  for (int s = 0; s < 3; s++)
    for (uint32_t i = 0; i < per_seg; i++)
      runs[s].push_back(hz3_segment_alloc_run(&pool, &set, hz3_class_run_pages(cls), cls, 0));
  ASSERT_EQ(set.nsegments, 3u);
  hz3_segment_t* seg_of[3];
  for (int s = 0; s < 3; s++)
    seg_of[s] = hz3_segment_of(&pool, hz3_segment_run_start(&pool, runs[s][0]));
  uint32_t free_runs[3] = {2, 12, 6};
  for (int s = 0; s < 3; s++)
    for (uint32_t i = 0; i < free_runs[s]; i++) hz3_segment_free_run(&pool, &set, runs[s][i], 0);
  std::vector<hz3_segment_t*> seen;
  EXPECT_EQ(hz3_pack_iterate(&set, 1, Collect, &seen), 3u);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], seg_of[1]);  // 12 runs free = 384 pages
  EXPECT_EQ(seen[1], seg_of[2]);  // 192
  EXPECT_EQ(seen[2], seg_of[0]);  // 64
  seen.clear();
  EXPECT_EQ(hz3_pack_iterate(&set, 100, Collect, &seen), 2u);  // the 64-page one is below
  seen.clear();
  EXPECT_EQ(hz3_pack_iterate(&set, 1, StopAfterOne, &seen), 1u);
  hz3_check_report_t r;
  EXPECT_TRUE(hz3_segment_check(&pool, &r)) << r.message;
  for (int s = 0; s < 3; s++)
    for (uint32_t i = free_runs[s]; i < per_seg; i++)
      hz3_segment_free_run(&pool, &set, runs[s][i], 0);
  EXPECT_EQ(set.head, nullptr);
  hz3_segment_pool_destroy(&pool);
}

}  // namespace
