/* base/hz3_stats_struct.h: the statistics record, standalone (no other hz3 header), so that
 * the public preload/hz3.h can carry it to users: install.sh inlines it there.
 * Versioned by size and version: a reader passes its sizeof and copies what both know. */
#ifndef HZ3_STATS_STRUCT_H
#define HZ3_STATS_STRUCT_H

#include <stddef.h>
#include <stdint.h>

/* X(name, unit, doc).  Counters move only in a stats=1 build (s57_stats and s58_stats also
 * move theirs); the gauges are read from the allocator's state in every build.  New fields go
 * at the end (an older reader copies the prefix it knows). */
#define HZ3_STAT_FIELDS(X)                                                                 \
  X(segments_reserved, segments, "2 MiB segments mapped as the arenas grew")               \
  X(runs_allocated, runs, "page runs handed out by segments")                              \
  X(runs_freed, runs, "page runs given back to their segment")                             \
  X(central_refills, calls, "tcache refills served by central")                            \
  X(central_flushes, calls, "tcache flushes into central")                                 \
  X(remote_frees, objects, "objects freed by a thread of another shard")                   \
  X(transfer_objects, objects, "remote frees a refill took from a transfer list")          \
  X(large_allocs, allocs, "allocations above 2 MiB (own mapping)")                         \
  X(large_frees, frees, "large allocations freed")                                         \
  X(large_cache_hits, allocs, "large allocations served from the cache")                   \
  X(epoch_count, count, "hz3_epoch_force runs")                                            \
  X(s58_reclaimed_objects, objects, "objects S58 moved from tcaches to central")           \
  X(s58_shrinks, count, "tcache bin max-length shrinks")                                   \
  X(purge_madvise_calls, calls, "madvise calls (one process_madvise per batch of ranges)") \
  X(purge_ranges, ranges, "page ranges returned to the OS")                                \
  X(segments_released, segments, "wholly free segments returned whole (gone cold)")        \
  X(purge_pages, pages, "pages returned to the OS")                                        \
  X(purge_scanned_segments, segments, "segments S57 scanned for free ranges")              \
  X(thread_exits, count, "threads whose caches were returned at exit")                     \
  X(segments_in_use, segments, "gauge: segments holding runs (read, not counted)")         \
  X(large_live_bytes, bytes, "gauge: bytes mapped for live large objects")                 \
  X(unused_resident_pages, pages, "gauge: free or idle pages still resident")              \
  X(batch_refills, calls, "tcache refills served whole by a batch another flush left")     \
  X(batch_cache_bytes, bytes, "gauge: bytes of flushed batches waiting for refills")

#define HZ3_STATS_VERSION 3u

#define HZ3_STAT_DECL(name, unit, doc) uint64_t name;
typedef struct hz3_stats {
  size_t size;      /* sizeof(hz3_stats_t) of the writer; readers copy min(theirs, this) */
  uint32_t version; /* HZ3_STATS_VERSION */
  uint32_t reserved;
  HZ3_STAT_FIELDS(HZ3_STAT_DECL)
} hz3_stats_t;
#undef HZ3_STAT_DECL

#endif /* HZ3_STATS_STRUCT_H */
