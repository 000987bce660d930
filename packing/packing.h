/* packing/packing.h: the pack pool, a view of a shard's partly free segments.
 *
 * Owns: nothing of the segments themselves; it indexes a segment set's segments by how many
 *   free pages they have (buckets), so that purge can visit the segments with the most free
 *   pages first without scanning full ones.
 * Invariants: every segment it yields belongs to the set it was given and has free pages.
 * Threads: read-only; call under the set owner's lock.
 * Callers: purge (candidates for S57-B2), tests.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "segment/segment.h"

/* Number of free-page buckets: bucket b holds segments with [b*64, b*64 + 63] free pages,
 * the last one also 512 (a wholly free segment leaves its set at once, so that is rare). */
#define HZ3_PACK_BUCKETS 9

/* Called for each candidate segment, fullest-of-free first; return false to stop. */
typedef bool (*hz3_pack_visit_fn)(hz3_segment_t *seg, void *arg);

/* Visits the segments of set that have at least min_free_pages free pages, most free pages
 * first (bucket order; within a bucket, list order); returns how many were visited. */
uint32_t hz3_pack_iterate(const hz3_segment_set_t *set, uint32_t min_free_pages,
                          hz3_pack_visit_fn visit, void *arg);
