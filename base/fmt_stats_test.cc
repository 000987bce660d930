// Formatting without malloc, the stats dump, check reports and the config dump.
#include <gtest/gtest.h>
#include <string.h>
#include <unistd.h>

#include <string>

extern "C" {
#include "base/base.h"
}

namespace {

std::string Format(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  hz3_vformat(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

// Runs fn with a pipe as fd and returns what it wrote.
template <typename Fn>
std::string Capture(Fn fn) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  fn(fds[1]);
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, n);
  close(fds[0]);
  return out;
}

TEST(FmtTest, Conversions) {
  EXPECT_EQ(Format("%d %i %u", -42, 7, 3000000000u), "-42 7 3000000000");
  EXPECT_EQ(Format("%ld %lld %zu", -5L, -9000000000LL, size_t{123}), "-5 -9000000000 123");
  EXPECT_EQ(Format("%x %p", 255u, reinterpret_cast<void*>(0x1000)), "ff 0x1000");
  EXPECT_EQ(Format("%s|%c|%%", "ab", 'z'), "ab|z|%");
  EXPECT_EQ(Format("[%5d][%-5d][%05d][%-4s]", 42, 42, -42, "x"), "[   42][42   ][-0042][x   ]");
  EXPECT_EQ(Format("%s", static_cast<const char*>(nullptr)), "(null)");
}

TEST(FmtTest, TruncatesSafely) {
  char buf[8];
  memset(buf, 'Z', sizeof buf);
  size_t n = hz3_format(buf, sizeof buf, "%s", "0123456789");
  EXPECT_EQ(n, 7u);
  EXPECT_STREQ(buf, "0123456");
}

TEST(StatsTest, DumpListsEveryField) {
  hz3_stats_t s;
  hz3_stats_reset(&s);
  EXPECT_EQ(s.size, sizeof s);
  EXPECT_EQ(s.version, HZ3_STATS_VERSION);
  s.purge_pages = 1234;
  std::string out = Capture([&](int fd) { hz3_stats_write(&s, fd); });
#define CHECK_FIELD(name, unit, doc) EXPECT_NE(out.find(#name), std::string::npos) << #name;
  HZ3_STAT_FIELDS(CHECK_FIELD)
#undef CHECK_FIELD
  EXPECT_NE(out.find("1234"), std::string::npos);  // purge counters move in every build
  // Counters this build does not collect say so instead of showing a 0 that means nothing.
  s.runs_allocated = 777;
  out = Capture([&](int fd) { hz3_stats_write(&s, fd); });
  EXPECT_EQ(out.find("777") != std::string::npos, HZ3_STATS == 1);
  hz3_stats_t snap;
  hz3_stats_snapshot(&s, &snap);
  EXPECT_EQ(snap.purge_pages, 1234u);
}

TEST(StatsTest, AddHonoursTheStatsKnob) {
  hz3_stats_t s;
  hz3_stats_reset(&s);
  HZ3_STAT_ADD(&s, epoch_count, 3);
  EXPECT_EQ(s.epoch_count, HZ3_STATS ? 3u : 0u);
  HZ3_STAT_ADD_IF(1, &s, purge_pages, 2);
  EXPECT_EQ(s.purge_pages, 2u);
  HZ3_STAT_ADD(static_cast<hz3_stats_t*>(nullptr), epoch_count, 1);  // NULL: ignored
}

TEST(CheckTest, FailRecordsReason) {
  hz3_check_report_t r;
  EXPECT_FALSE(hz3_check_fail(&r, "run %d broken", 7));
  EXPECT_STREQ(r.message, "run 7 broken");
  EXPECT_FALSE(hz3_check_fail(nullptr, "ignored"));
}

TEST(ConfigDumpTest, PrintsEveryKnob) {
  std::string out = Capture([](int fd) { hz3_config_dump(fd); });
  for (const char* knob : {"s57", "s57_budget_pages", "s58", "s60", "s61", "epoch_interval",
                           "shards", "stats", "retain_max_pages", "tcache_max_bytes", "check"}) {
    EXPECT_NE(out.find(std::string("  ") + knob + " "), std::string::npos) << knob;
  }
  EXPECT_NE(out.find("4096"), std::string::npos);  // s57_budget_pages default
}

TEST(AssertDeathTest, FatalWritesOneLineAndAborts) {
  EXPECT_DEATH(hz3_fatal("bad pointer %p", reinterpret_cast<void*>(0x10)),
               "hz3: fatal: bad pointer 0x10");
}

}  // namespace
