/* packing/packing.c: bucketed, read-only iteration over a set's segments. */
#include "packing/packing.h"

static uint32_t bucket_of(uint32_t free_pages) {
  uint32_t b = free_pages / 64;
  return b >= HZ3_PACK_BUCKETS ? HZ3_PACK_BUCKETS - 1 : b;
}

uint32_t hz3_pack_iterate(const hz3_segment_set_t *set, uint32_t min_free_pages,
                          hz3_pack_visit_fn visit, void *arg) {
  /* A set holds a few hundred segments at most per shard: one pass per bucket, most free
   * first, costs less than keeping bucket lists up to date on every alloc_run/free_run. */
  uint32_t visited = 0;
  for (int b = HZ3_PACK_BUCKETS - 1; b >= 0; b--) {
    for (hz3_segment_t *seg = set->head; seg != NULL;) {
      hz3_segment_t *next = seg->next; /* visit may not unlink, but read ahead anyway */
      if (seg->free_pages >= min_free_pages && bucket_of(seg->free_pages) == (uint32_t)b) {
        visited++;
        if (!visit(seg, arg)) return visited;
      }
      seg = next;
    }
  }
  return visited;
}
