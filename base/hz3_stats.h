/* Statistics: one field list, from which the struct, the dump and the names are generated.
 * Each box counts where its event happens, on slow paths only, into the hz3_stats_t it was
 * given at init (the process-wide one lives in preload; tests pass their own).  With
 * HZ3_STATS=0 every HZ3_STAT_ADD compiles away, except the purge counters the S57 stats knob
 * asks for.  Counters are relaxed atomics: exact totals, no ordering.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* X(name, unit, doc) */
#define HZ3_STAT_FIELDS(X)                                                            \
  X(segments_reserved, segments, "2 MiB segments taken from the reservation")         \
  X(runs_allocated, runs, "page runs handed out by segments")                         \
  X(runs_freed, runs, "page runs given back to their segment")                        \
  X(central_refills, calls, "tcache refills served by central")                       \
  X(central_flushes, calls, "tcache flushes into central")                            \
  X(remote_frees, objects, "objects freed by a thread of another shard")              \
  X(large_allocs, allocs, "allocations above 64 KiB (own mapping)")                   \
  X(large_frees, frees, "large allocations freed")                                    \
  X(large_cache_hits, allocs, "large allocations served from the cache")              \
  X(epoch_count, count, "hz3_epoch_force runs")                                       \
  X(s58_reclaimed_objects, objects, "objects S58 moved from tcaches to central")      \
  X(s58_shrinks, count, "tcache bin max-length shrinks")                              \
  X(purge_madvise_calls, calls, "madvise(MADV_DONTNEED) calls")                       \
  X(purge_pages, pages, "pages returned to the OS")                                   \
  X(purge_scanned_segments, segments, "segments S57 scanned for free ranges")         \
  X(thread_exits, count, "threads whose caches were returned at exit")

#define HZ3_STATS_VERSION 1u

#define HZ3_STAT_DECL(name, unit, doc) uint64_t name;
typedef struct hz3_stats {
  size_t size;      /* sizeof(hz3_stats_t) of the writer; readers copy min(theirs, this) */
  uint32_t version; /* HZ3_STATS_VERSION */
  uint32_t reserved;
  HZ3_STAT_FIELDS(HZ3_STAT_DECL)
} hz3_stats_t;
#undef HZ3_STAT_DECL

/* Adds n to a counter when stats are compiled in.  s may be NULL (no stats wanted). */
#define HZ3_STAT_ADD(s, field, n)                                                          \
  do {                                                                                     \
    if (HZ3_STATS && (s) != NULL) __atomic_fetch_add(&(s)->field, (n), __ATOMIC_RELAXED); \
  } while (0)

/* Same, for counters that a knob other than `stats` asks for (e.g. s57_stats). */
#define HZ3_STAT_ADD_IF(enabled, s, field, n)                                               \
  do {                                                                                      \
    if ((HZ3_STATS || (enabled)) && (s) != NULL)                                            \
      __atomic_fetch_add(&(s)->field, (n), __ATOMIC_RELAXED);                               \
  } while (0)

/* Zeroes s and stamps its size and version. */
void hz3_stats_reset(hz3_stats_t *s);

/* Copies a consistent-enough snapshot (each field read atomically) of src into dst. */
void hz3_stats_snapshot(const hz3_stats_t *src, hz3_stats_t *dst);

/* Writes one "name value unit  # doc" line per field to fd, without malloc. */
void hz3_stats_write(const hz3_stats_t *s, int fd);
