/* Statistics: one field list, from which the struct, the dump and the names are generated.
 * Each box counts where its event happens, on slow paths only, into the hz3_stats_t it was
 * given at init (the process-wide one lives in preload; tests pass their own).  With
 * HZ3_STATS=0 every HZ3_STAT_ADD compiles away, except the purge counters the S57 stats knob
 * asks for.  Counters are relaxed atomics: exact totals, no ordering.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/hz3_stats_struct.h"
#include "config/config.h"

/* Adds n to a counter when stats are compiled in.  s may be NULL (no stats wanted). */
#define HZ3_STAT_ADD(s, field, n)                                                         \
  do {                                                                                    \
    if (HZ3_STATS && (s) != NULL) __atomic_fetch_add(&(s)->field, (n), __ATOMIC_RELAXED); \
  } while (0)

/* Same, for counters that a knob other than `stats` asks for (e.g. s57_stats). */
#define HZ3_STAT_ADD_IF(enabled, s, field, n)                 \
  do {                                                        \
    if ((HZ3_STATS || (enabled)) && (s) != NULL)              \
      __atomic_fetch_add(&(s)->field, (n), __ATOMIC_RELAXED); \
  } while (0)

/* Zeroes s and stamps its size and version. */
void hz3_stats_reset(hz3_stats_t *s);

/* Copies a consistent-enough snapshot (each field read atomically) of src into dst. */
void hz3_stats_snapshot(const hz3_stats_t *src, hz3_stats_t *dst);

/* Writes one "name value unit  # doc" line per field to fd, without malloc. */
void hz3_stats_write(const hz3_stats_t *s, int fd);
