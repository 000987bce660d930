// The --define value reaches the generated header: //config:s57_on selects EXPECT_S57, and the
// header's macro must agree with it. run_all.sh builds this under seed (0) and all_on (1).
#include <gtest/gtest.h>

extern "C" {
#include "config/config.h"
}

TEST(ConfigTest, S57DefineReachesHeader) { EXPECT_EQ(HZ3_S57_PARTIAL_PURGE, EXPECT_S57); }

TEST(ConfigTest, S58DefineReachesHeader) { EXPECT_EQ(HZ3_S58_TCACHE_DECAY, EXPECT_S58); }

TEST(ConfigTest, SeedDefaultsMatchDesign) {
  // Sub-knob defaults are the seed's (design.md); a profile may change the on/off knobs only.
  EXPECT_EQ(HZ3_S57_PURGE_BUDGET_PAGES, 4096);
  EXPECT_EQ(HZ3_S57_PURGE_MIN_RANGE_PAGES, 1);
  EXPECT_EQ(HZ3_S58_MAX_OVERAGES, 3);
  EXPECT_EQ(HZ3_S58_RECLAIM_BUDGET, 64);
  EXPECT_EQ(HZ3_S58_INITIAL_MAX_LEN, 32);
  EXPECT_EQ(HZ3_S60_QUEUE_SIZE, 256);
  EXPECT_EQ(HZ3_S61_MAX_PAGES, 65536);
  EXPECT_GE(HZ3_NUM_SHARDS, 1);
}
