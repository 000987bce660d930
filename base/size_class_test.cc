// Size classes: the boundaries the foundation issue names, the rounding bound for every size up
// to 64 KiB, and the run table's own invariants, all derived from the table itself.
#include <gtest/gtest.h>

extern "C" {
#include "base/base.h"
}

namespace {

// Reference lookup: the smallest class that holds n (linear scan; the table must agree).
uint32_t SlowClassOf(size_t n) {
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++)
    if (hz3_class_to_size(c) >= (n == 0 ? 1 : n)) return c;
  return UINT32_MAX;
}

TEST(SizeClassTest, NamedBoundaries) {
  struct Case {
    size_t n, size;
  } cases[] = {{0, 16},      {1, 16},      {15, 16},     {16, 16},
               {17, 32},     {2047, 2048}, {2048, 2048}, {2049, 2304},
               {4095, 4096}, {4096, 4096}, {4097, 4608}, {65536, 65536}};
  for (const Case& c : cases) {
    EXPECT_EQ(hz3_class_to_size(hz3_size_to_class(c.n)), c.size) << "n=" << c.n;
  }
  // The table lookup is defined up to HZ3_MEDIUM_MAX; 65536 is the last medium class.
  EXPECT_EQ(hz3_size_to_class(65536), HZ3_NUM_MEDIUM_CLASSES - 1);
  EXPECT_FALSE(hz3_class_is_big(HZ3_NUM_MEDIUM_CLASSES - 1));
  // Big classes, by arithmetic: 8 per power of two up to HZ3_BIG_MAX; above it, no class.
  struct Case big[] = {{65537, 73728},     {73728, 73728},     {73729, 81920},
                       {131072, 131072},   {131073, 147456},   {400000, 425984},
                       {524287, 524288},   {524288, 524288},   {524289, 589824},
                       {1282048, 1310720}, {2097151, 2097152}, {2097152, 2097152}};
  for (const Case& c : big) {
    uint32_t cls = hz3_big_size_to_class(c.n);
    EXPECT_TRUE(hz3_class_is_big(cls)) << "n=" << c.n;
    EXPECT_EQ(hz3_class_to_size(cls), c.size) << "n=" << c.n;
  }
  EXPECT_EQ(hz3_big_size_to_class(HZ3_BIG_MAX), HZ3_NUM_CLASSES - 1);
}

TEST(SizeClassTest, EveryBigSizeGetsTheSmallestFittingClass) {
  for (size_t n = HZ3_MEDIUM_MAX + 1; n <= HZ3_BIG_MAX; n++) {
    ASSERT_EQ(hz3_big_size_to_class(n), SlowClassOf(n)) << "n=" << n;
    ASSERT_LE((hz3_class_to_size(hz3_big_size_to_class(n)) - n) * 8, n) << "n=" << n;
  }
}

TEST(SizeClassTest, SmallClassesAre16ByteSteps) {
  EXPECT_EQ(HZ3_NUM_SMALL_CLASSES, 128);
  for (uint32_t c = 0; c < HZ3_NUM_SMALL_CLASSES; c++)
    EXPECT_EQ(hz3_class_to_size(c), 16u * (c + 1));
}

// malloc's small path computes the bin from the size without the table: it must agree with
// the table for every small size but 0, whose bin 0 stays empty and sends malloc(0) slow.
TEST(SizeClassTest, SmallBinFromTheSizeAgreesWithTheTable) {
  EXPECT_EQ(hz3_small_size_to_bin(0), 0u);
  for (size_t n = 1; n <= HZ3_SMALL_MAX; n++)
    ASSERT_EQ(hz3_small_size_to_bin(n), hz3_size_to_bin(n)) << "n=" << n;
}

TEST(SizeClassTest, EverySizeGetsTheSmallestFittingClass) {
  for (size_t n = 0; n <= HZ3_MEDIUM_MAX; n++) {
    ASSERT_EQ(hz3_size_to_class(n), SlowClassOf(n)) << "n=" << n;
  }
}

TEST(SizeClassTest, RoundingBoundedForEverySize) {
  // Above 2048 B: rounded up by at most 1/8 of the request. Below, the 16 B step (the minimum
  // alignment) bounds it; from 128 B on that is also within 1/8.
  size_t worst_num = 0, worst_den = 1;
  for (size_t n = 1; n <= HZ3_MEDIUM_MAX; n++) {
    size_t got = hz3_class_to_size(hz3_size_to_class(n));
    ASSERT_GE(got, n);
    size_t extra = got - n;
    if (n >= 128) {
      ASSERT_LE(extra * 8, n) << "n=" << n << " rounded to " << got;
    } else {
      ASSERT_LT(extra, 16u) << "n=" << n;
    }
    if (n > HZ3_SMALL_MAX && extra * worst_den > worst_num * n) worst_num = extra, worst_den = n;
  }
  // The old page-step medium classes would have rounded 4097 up to 8192 (almost 100%).
  EXPECT_LT(static_cast<double>(worst_num) / worst_den, 0.125);
}

TEST(SizeClassTest, ClassesAscendAndAreAligned) {
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) {
    EXPECT_EQ(hz3_class_to_size(c) % HZ3_MIN_ALIGN, 0u);
    if (c > 0) {
      EXPECT_GT(hz3_class_to_size(c), hz3_class_to_size(c - 1));
    }
  }
  EXPECT_EQ(hz3_class_to_size(HZ3_NUM_MEDIUM_CLASSES - 1), HZ3_MEDIUM_MAX);
  EXPECT_EQ(hz3_class_to_size(HZ3_NUM_CLASSES - 1), HZ3_BIG_MAX);
}

TEST(SizeClassTest, RunsHoldTheirObjects) {
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) {
    size_t pages = hz3_class_run_pages(c), objs = hz3_class_run_objs(c);
    size_t run_bytes = pages * HZ3_PAGE_SIZE, size = hz3_class_to_size(c);
    ASSERT_GE(pages, 1u);
    if (hz3_class_is_big(c)) {  // one object, a run of its own
      ASSERT_EQ(objs, 1u) << "class " << c;
      ASSERT_EQ(run_bytes, size) << "class " << c;
      ASSERT_LE(pages, HZ3_BIG_RUN_MAX_PAGES);
      continue;
    }
    ASSERT_LE(pages, HZ3_RUN_MAX_PAGES);
    ASSERT_GE(objs, 1u);
    ASSERT_LE(objs, HZ3_RUN_MAX_OBJS);
    ASSERT_LE(objs * size, run_bytes) << "class " << c;
    // At most 1/32 of a run is left over after its objects.
    EXPECT_LE((run_bytes - objs * size) * 32, run_bytes) << "class " << c;
  }
}

// hz3_class_div is exact for every offset within a segment: every n below 2^21 for the classes
// whose runs are short (they are the ones divided on the way home), and for every class the
// multiples of its size and their neighbours, where a reciprocal one unit off shows first.
TEST(SizeClassTest, DivisionByReciprocalIsExact) {
  const uint32_t limit = 1u << 21;
  for (uint32_t c = 0; c < HZ3_NUM_CLASSES; c++) {
    const uint32_t size = (uint32_t)hz3_class_to_size(c);
    if (!hz3_class_is_big(c)) {
      for (uint32_t n = 0; n < limit; n++)
        ASSERT_EQ(hz3_class_div(n, c), n / size) << "class " << c << " n=" << n;
    }
    for (uint32_t m = 0; m * size < limit; m++) {
      for (uint32_t n : {m * size, m * size + 1, m * size + size - 1}) {
        if (n >= limit) continue;
        ASSERT_EQ(hz3_class_div(n, c), n / size) << "class " << c << " n=" << n;
      }
    }
    ASSERT_EQ(hz3_class_div(limit - 1, c), (limit - 1) / size) << "class " << c;
  }
}

TEST(SizeClassTest, AlignedClassLookup) {
  EXPECT_EQ(hz3_class_to_size(hz3_class_for_aligned(10, 64)), 64u);
  EXPECT_EQ(hz3_class_to_size(hz3_class_for_aligned(100, 4096)), 4096u);
  EXPECT_EQ(hz3_class_to_size(hz3_class_for_aligned(4097, 4096)), 8192u);
  EXPECT_EQ(hz3_class_to_size(hz3_class_for_aligned(33, 16)), 48u);
  EXPECT_EQ(hz3_class_for_aligned(100, 8192), -1);               // beyond a page: large path
  EXPECT_EQ(hz3_class_for_aligned(HZ3_MEDIUM_MAX + 1, 16), -1);  // big ones come by size
  EXPECT_FALSE(hz3_class_is_big(hz3_class_for_aligned(60000, 4096)));
  for (size_t align = 16; align <= HZ3_PAGE_SIZE; align *= 2) {
    for (size_t n = 1; n <= HZ3_MEDIUM_MAX; n += 97) {
      int c = hz3_class_for_aligned(n, align);
      if (c < 0) continue;
      EXPECT_GE(hz3_class_to_size(c), n);
      EXPECT_EQ(hz3_class_to_size(c) % align, 0u);
    }
  }
}

}  // namespace
