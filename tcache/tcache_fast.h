/* tcache/tcache_fast.h: the malloc/free fast path, inline.  Only preload includes it.
 *
 * Each function does the common case and returns NULL/false for anything else, and the caller
 * then tail-calls its noinline slow path.  On these paths: no lock, no atomic read-modify-write,
 * no clock, no stat, no purge, no loop, no division.  A PR that changes them records the
 * instruction counts of a malloc+free pair before and after (bench/insn_count.sh).
 */
#pragma once

#include "tcache/tcache.h"

/* Pops an object of class cls, or NULL when the bin is empty (or the thread not set up). */
static HZ3_ALWAYS_INLINE void *hz3_tcache_pop(hz3_tcache_t *tc, uint32_t cls) {
  hz3_bin_t *b = &tc->bins[cls + 1];
  void *p = b->head;
  if (HZ3_UNLIKELY(p == NULL)) return NULL;
  b->head = *(void **)p;
  b->len--;
  return p;
}

/* Pushes p onto bin `bin` (its page's hz3_segment_page_bin) if the bin has room; false
 * otherwise (full bin; thread not set up or torn down: max 0; not in a run: bin 0, max 0).
 * The owner is not asked: objects of other shards ride in the bin and go home on flush. */
static HZ3_ALWAYS_INLINE bool hz3_tcache_push(hz3_tcache_t *tc, void *p, uint32_t bin) {
  hz3_bin_t *b = &tc->bins[bin];
  if (HZ3_UNLIKELY(b->len >= b->max)) return false;
  *(void **)p = b->head;
  b->head = p;
  b->len++;
  return true;
}
