/* Rules that link knobs together, checked at compile time.  Ranges of single knobs are
 * checked earlier, by the rule in knobs.bzl, with a message that names the knob. */
#pragma once

#include "config/hz3_config.h"

#ifdef __cplusplus
#define HZ3_STATIC_ASSERT static_assert
#else
#define HZ3_STATIC_ASSERT _Static_assert
#endif

HZ3_STATIC_ASSERT(HZ3_NUM_SHARDS >= 1 && HZ3_NUM_SHARDS <= 64,
                  "shards: the page tag keeps the owner shard in 8 bits with 0 meaning none");
HZ3_STATIC_ASSERT(HZ3_S57_PURGE_MIN_RANGE_PAGES <= 512,
                  "s57_min_range_pages: a range cannot be longer than a 2 MiB segment");
HZ3_STATIC_ASSERT(HZ3_S60_BUDGET_PAGES >= 1 && HZ3_S60_BUDGET_CALLS >= 1,
                  "s60 budgets must allow at least one call of one page");
