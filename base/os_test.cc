// The real OS layer and the fake one behave alike: a claim is free address space, map_at maps
// there and never over another mapping, dontneed zeroes, errors are returned. The fake also
// counts and can fail on demand.
#include <errno.h>
#include <gtest/gtest.h>
#include <string.h>

#include "tests/fakes/fake_os.h"

namespace {

constexpr size_t kSeg = 2u << 20;

void ExerciseOps(const hz3_os_ops_t* os) {
  void* base = os->claim(os->ctx, 4 * kSeg, kSeg);
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(base) % kSeg, 0u);
  ASSERT_EQ(os->map_at(os->ctx, base, kSeg), 0);
  EXPECT_EQ(os->map_at(os->ctx, base, kSeg), EEXIST);  // never over a mapping, even its own
  ASSERT_EQ(os->map_at(os->ctx, static_cast<char*>(base) + kSeg, 3 * kSeg), 0);
  char* p = static_cast<char*>(base);
  memset(p, 0xAB, 3 * HZ3_PAGE_SIZE);
  ASSERT_EQ(os->dontneed(os->ctx, p + HZ3_PAGE_SIZE, HZ3_PAGE_SIZE), 0);
  EXPECT_EQ(p[0], static_cast<char>(0xAB));
  EXPECT_EQ(p[HZ3_PAGE_SIZE], 0);  // purged page reads back as zero
  EXPECT_EQ(p[2 * HZ3_PAGE_SIZE], static_cast<char>(0xAB));
  // Many ranges in one call: each reads back as zero, the pages between keep their bytes.
  memset(p, 0xCD, 40 * HZ3_PAGE_SIZE);
  hz3_os_range_t ranges[10];
  for (int i = 0; i < 10; i++) ranges[i] = {p + (4 * i + 1) * HZ3_PAGE_SIZE, 2 * HZ3_PAGE_SIZE};
  ASSERT_EQ(os->dontneed_many(os->ctx, ranges, 10), 0);
  for (int pg = 0; pg < 40; pg++) {
    bool purged = pg % 4 == 1 || pg % 4 == 2;
    EXPECT_EQ(p[pg * HZ3_PAGE_SIZE + 7], purged ? 0 : static_cast<char>(0xCD)) << pg;
  }
  EXPECT_EQ(os->release(os->ctx, base, 4 * kSeg), 0);

  void* m = os->map(os->ctx, 3 * HZ3_PAGE_SIZE, 64 * 1024);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m) % (64 * 1024), 0u);
  static_cast<char*>(m)[3 * HZ3_PAGE_SIZE - 1] = 1;
  EXPECT_EQ(os->release(os->ctx, m, 3 * HZ3_PAGE_SIZE), 0);
}

TEST(OsTest, RealOpsWork) {
  const hz3_os_ops_t* os = hz3_os_default();
  ExerciseOps(os);
  uint64_t t0 = os->now_ns(os->ctx), t1 = os->now_ns(os->ctx);
  EXPECT_GE(t1, t0);
}

TEST(OsTest, RealOpsReportErrors) {
  const hz3_os_ops_t* os = hz3_os_default();
  errno = 0;
  // More address space than a 47-bit user space holds.
  EXPECT_EQ(os->claim(os->ctx, size_t{1} << 60, kSeg), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  // A successful claim and map_at leave errno alone, whatever their probes met.
  errno = 1234;
  void* c = os->claim(os->ctx, size_t{64} << 30, kSeg);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(os->map_at(os->ctx, c, kSeg), 0);
  EXPECT_EQ(errno, 1234);
  EXPECT_EQ(os->release(os->ctx, c, kSeg), 0);
  // A range that is not page-aligned.
  EXPECT_EQ(os->dontneed(os->ctx, reinterpret_cast<void*>(4097), HZ3_PAGE_SIZE), EINVAL);
  hz3_os_range_t bad[2] = {{reinterpret_cast<void*>(4097), HZ3_PAGE_SIZE},
                           {reinterpret_cast<void*>(8193), HZ3_PAGE_SIZE}};
  EXPECT_EQ(os->dontneed_many(os->ctx, bad, 2), EINVAL);
  EXPECT_NE(os->map_at(os->ctx, reinterpret_cast<void*>(4097), HZ3_PAGE_SIZE), 0);
}

TEST(OsTest, FakeOpsWorkAndCount) {
  FakeOs fake;
  ExerciseOps(fake.ops());
  EXPECT_EQ(fake.claim_calls(), 1u);
  EXPECT_EQ(fake.map_at_calls(), 3u);
  EXPECT_EQ(fake.map_at_pages(), 4 * kSeg / HZ3_PAGE_SIZE);
  EXPECT_EQ(fake.dontneed_calls(), 11u);    // 1 range, then 10
  EXPECT_EQ(fake.dontneed_syscalls(), 2u);  // the 10 in one call
  EXPECT_EQ(fake.dontneed_pages(), 21u);
  EXPECT_EQ(fake.release_calls(), 2u);
  EXPECT_EQ(fake.map_calls(), 1u);
  EXPECT_EQ(fake.mapped_bytes_live(), 0u);
}

TEST(OsTest, FakeClockMovesOnlyOnAdvance) {
  FakeOs fake;
  const hz3_os_ops_t* os = fake.ops();
  uint64_t t0 = os->now_ns(os->ctx);
  EXPECT_EQ(os->now_ns(os->ctx), t0);
  fake.Advance(5000);
  EXPECT_EQ(os->now_ns(os->ctx), t0 + 5000);
}

TEST(OsTest, FakeFailureInjection) {
  FakeOs fake;
  const hz3_os_ops_t* os = fake.ops();
  fake.FailClaimAfter(1);
  void* a = os->claim(os->ctx, kSeg, kSeg);
  ASSERT_NE(a, nullptr);
  errno = 0;
  EXPECT_EQ(os->claim(os->ctx, kSeg, kSeg), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  fake.FailMapAtAfter(1);
  ASSERT_EQ(os->map_at(os->ctx, a, kSeg), 0);
  EXPECT_EQ(os->map_at(os->ctx, static_cast<char*>(a) + kSeg, HZ3_PAGE_SIZE), ENOMEM);
  fake.FailMapAfter(0);
  EXPECT_EQ(os->map(os->ctx, HZ3_PAGE_SIZE, HZ3_PAGE_SIZE), nullptr);
  EXPECT_EQ(os->release(os->ctx, a, kSeg), 0);
  EXPECT_EQ(os->release(os->ctx, a, kSeg), EINVAL);  // released twice: the fake notices
}

}  // namespace
