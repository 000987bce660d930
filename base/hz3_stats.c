#include "base/hz3_stats.h"

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

void hz3_stats_write(const hz3_stats_t *s, int fd) {
  hz3_dprintf(fd, "hz3 stats (version %u)\n", s->version);
#define LINE(name, unit, doc) \
  hz3_dprintf(fd, "  %-24s %12llu %-9s # %s\n", #name, (unsigned long long)s->name, #unit, doc);
  HZ3_STAT_FIELDS(LINE)
#undef LINE
}
