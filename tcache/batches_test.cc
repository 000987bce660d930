// batches: demand, slots, the byte cap, sweeps and take_all, on plain memory (the box never
// reads an object, so any distinct non-NULL pointers stand in for lists).
#include <gtest/gtest.h>

#include <vector>

extern "C" {
#include "tcache/batches.h"
}

namespace {

class BatchesTest : public ::testing::Test {
 protected:
  hz3_batches_t b_;
  std::vector<char> mem_ = std::vector<char>(1 << 16);
  void* Obj(size_t i) { return &mem_[i * 16]; }

  void SetUp() override { hz3_batches_init(&b_, 64 << 10); }
  void TearDown() override {
    Check();
    hz3_batch_t out[HZ3_BATCHES_SLOTS];
    for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) hz3_batches_take_all(&b_, c, out);
    EXPECT_EQ(hz3_batches_bytes(&b_), 0u);
  }
  void Check() {
    hz3_check_report_t r;
    ASSERT_TRUE(hz3_batches_check(&b_, &r)) << r.message;
  }
  // Refills ask `asks` times, then batches Obj(1) and Obj(2) of n objects each are kept.
  void KeepTwo(uint32_t cls, uint32_t asks, uint32_t n) {
    Ask(cls, asks);
    ASSERT_TRUE(hz3_batches_put(&b_, cls, Obj(1), n));
    ASSERT_TRUE(hz3_batches_put(&b_, cls, Obj(2), n));
  }
  // A refill that finds nothing: it only asks.
  void Ask(uint32_t cls, uint32_t times = 1) {
    hz3_batch_t got;
    for (uint32_t i = 0; i < times; i++) ASSERT_FALSE(hz3_batches_take(&b_, cls, 0, &got));
  }
};

TEST_F(BatchesTest, KeepsNothingNoRefillAskedFor) {
  EXPECT_FALSE(hz3_batches_put(&b_, 3, Obj(1), 4));
  EXPECT_EQ(hz3_batches_bytes(&b_), 0u);
  Ask(3);
  EXPECT_FALSE(hz3_batches_put(&b_, 4, Obj(1), 4)) << "demand is per class";
  EXPECT_TRUE(hz3_batches_put(&b_, 3, Obj(1), 4));
  EXPECT_FALSE(hz3_batches_put(&b_, 3, Obj(2), 4)) << "one refill asked, one batch kept";
  EXPECT_EQ(hz3_batches_bytes(&b_), 4 * hz3_class_to_size(3));
}

TEST_F(BatchesTest, ARefillTakesTheNewestBatchThatFitsWhole) {
  const uint32_t cls = 5;
  Ask(cls, 3);
  ASSERT_TRUE(hz3_batches_put(&b_, cls, Obj(1), 8));
  ASSERT_TRUE(hz3_batches_put(&b_, cls, Obj(2), 32));
  ASSERT_TRUE(hz3_batches_put(&b_, cls, Obj(3), 16));
  hz3_batch_t got;
  ASSERT_TRUE(hz3_batches_take(&b_, cls, 20, &got));
  EXPECT_EQ(got.head, Obj(3));
  EXPECT_EQ(got.n, 16u);
  ASSERT_TRUE(hz3_batches_take(&b_, cls, 20, &got)) << "the 32 does not fit: the 8 below it";
  EXPECT_EQ(got.head, Obj(1));
  EXPECT_FALSE(hz3_batches_take(&b_, cls, 20, &got));
  ASSERT_TRUE(hz3_batches_take(&b_, cls, 32, &got));
  EXPECT_EQ(got.head, Obj(2));
  Check();
}

TEST_F(BatchesTest, SlotsAndDemandStayBounded) {
  const uint32_t cls = 2;
  Ask(cls, 100);
  uint32_t kept = 0;
  for (uint32_t i = 0; i < 100; i++) kept += hz3_batches_put(&b_, cls, Obj(i + 1), 1);
  EXPECT_EQ(kept, (uint32_t)HZ3_BATCHES_SLOTS);
  Check();
}

TEST_F(BatchesTest, TheByteCapHoldsAcrossClasses) {
  // 64 KiB in all: batches of 16 objects of 1024 bytes are 16 KiB each.
  const uint32_t cls = hz3_size_to_class(1024);
  const uint32_t cls2 = hz3_size_to_class(512);
  Ask(cls, HZ3_BATCHES_SLOTS);
  Ask(cls2, HZ3_BATCHES_SLOTS);
  uint32_t kept = 0;
  for (uint32_t i = 0; i < HZ3_BATCHES_SLOTS; i++)
    kept += hz3_batches_put(&b_, cls, Obj(i + 1), 16);
  EXPECT_EQ(kept, 4u);
  EXPECT_FALSE(hz3_batches_put(&b_, cls2, Obj(50), 1)) << "the cap is for all classes";
  hz3_batch_t got;
  ASSERT_TRUE(hz3_batches_take(&b_, cls, 16, &got));
  EXPECT_TRUE(hz3_batches_put(&b_, cls2, Obj(50), 32));
  EXPECT_EQ(hz3_batches_bytes(&b_), 3 * 16 * 1024u + 32 * 512u);
  Check();
}

TEST_F(BatchesTest, ASweepTakesWhatWaitedSinceThePreviousOne) {
  const uint32_t cls = 7;
  hz3_batch_t out[HZ3_BATCHES_SLOTS];
  KeepTwo(cls, 4, 2);
  EXPECT_EQ(hz3_batches_sweep(&b_, cls, out), 0u) << "first sweep only marks";
  ASSERT_TRUE(hz3_batches_put(&b_, cls, Obj(3), 2));
  hz3_batch_t got;
  ASSERT_TRUE(hz3_batches_take(&b_, cls, 2, &got));
  EXPECT_EQ(got.head, Obj(3)) << "newest first";
  ASSERT_TRUE(hz3_batches_take(&b_, cls, 2, &got));
  EXPECT_EQ(got.head, Obj(2)) << "a marked batch a refill takes is gone from the marks too";
  ASSERT_TRUE(hz3_batches_put(&b_, cls, Obj(4), 2));
  ASSERT_EQ(hz3_batches_sweep(&b_, cls, out), 1u);
  EXPECT_EQ(out[0].head, Obj(1)) << "only the batch no refill took between the sweeps";
  ASSERT_EQ(hz3_batches_sweep(&b_, cls, out), 1u);
  EXPECT_EQ(out[0].head, Obj(4));
  EXPECT_EQ(hz3_batches_bytes(&b_), 0u);
}

TEST_F(BatchesTest, TakeAllEmptiesAClassAndClosesItsDemand) {
  const uint32_t cls = 9;
  hz3_batch_t out[HZ3_BATCHES_SLOTS];
  KeepTwo(cls, 5, 3);
  ASSERT_EQ(hz3_batches_take_all(&b_, cls, out), 2u);
  EXPECT_EQ(out[0].head, Obj(1));
  EXPECT_EQ(out[1].head, Obj(2));
  EXPECT_FALSE(hz3_batches_any(&b_, cls));
  EXPECT_FALSE(hz3_batches_put(&b_, cls, Obj(3), 3)) << "3 refills asked, but a drain closes it";
  EXPECT_EQ(hz3_batches_bytes(&b_), 0u);
}

TEST_F(BatchesTest, ZeroBytesKeepsNothing) {
  hz3_batches_init(&b_, 0);
  Ask(1, 2);
  EXPECT_FALSE(hz3_batches_put(&b_, 1, Obj(1), 1));
}

}  // namespace
