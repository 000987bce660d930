#include "base/hz3_stats.h"

#include <stdbool.h>
#include <string.h>

#include "base/hz3_fmt.h"

void hz3_stats_reset(hz3_stats_t *s) {
  memset(s, 0, sizeof *s);
  s->size = sizeof *s;
  s->version = HZ3_STATS_VERSION;
}

void hz3_stats_snapshot(const hz3_stats_t *src, hz3_stats_t *dst) {
  hz3_stats_reset(dst);
#define COPY(name, unit, doc) dst->name = __atomic_load_n(&src->name, __ATOMIC_RELAXED);
  HZ3_STAT_FIELDS(COPY)
#undef COPY
}

/* Whether this build moves the field: gauges always; the purge and S58 counters under their
 * own stats knobs (on by default); every other counter only in a stats=1 build. */
static bool collected(const char *name, const char *doc) {
  if (strncmp(doc, "gauge:", 6) == 0) return true;
  if (strncmp(name, "purge_", 6) == 0 || strcmp(name, "segments_released") == 0)
    return HZ3_S57_PURGE_STATS || HZ3_STATS;
  if (strncmp(name, "s58_", 4) == 0) return HZ3_S58_STATS || HZ3_STATS;
  return HZ3_STATS;
}

void hz3_stats_write(const hz3_stats_t *s, int fd) {
  hz3_dprintf(fd, "hz3 stats (version %u)%s\n", s->version,
              HZ3_STATS ? "" : "; '-': not counted in this build (--define stats=1 counts it)");
#define LINE(name, unit, doc)                                                                      \
  if (collected(#name, doc))                                                                       \
    hz3_dprintf(fd, "  %-24s %12llu %-9s # %s\n", #name, (unsigned long long)s->name, #unit, doc); \
  else                                                                                             \
    hz3_dprintf(fd, "  %-24s %12s %-9s # %s\n", #name, "-", #unit, doc);
  HZ3_STAT_FIELDS(LINE)
#undef LINE
}
