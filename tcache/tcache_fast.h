/* tcache/tcache_fast.h: the malloc/free fast path, inline.  Only preload includes it.
 *
 * Each function does the common case and returns NULL/false for anything else, and the caller
 * then tail-calls its noinline slow path.  On these paths: no lock, no atomic read-modify-write,
 * no clock, no stat, no purge, no loop, no division.  A PR that changes them records the
 * instruction counts of a malloc+free pair before and after (bench/insn_count.sh).
 *
 * Hardening, in every build: a bin's links are stored XORed with the process's link key
 * (env->link_key; its top bit is set), so a pointer written into a freed object by a bug or an
 * attacker decodes to a non-canonical address instead of one of their choosing; and freeing
 * the object already at the head of its bin (the immediate double free) aborts.  One XOR on
 * each side and one compare on free.
 */
#pragma once

#include "tcache/tcache.h"

/* head ^ key, with key read as a memory operand where the compiler would hoist it into a
 * register of its own (one instruction, not two). */
static HZ3_ALWAYS_INLINE uintptr_t hz3_link_encode(const void *head, const uintptr_t *key) {
  uintptr_t v = (uintptr_t)head;
#if defined(__x86_64__)
  __asm__("xorq %1, %0" : "+r"(v) : "m"(*key));
#else
  v ^= *key;
#endif
  return v;
}

/* Pops an object from bin `bin` (class + 1), or NULL when the bin is empty (or the thread is
 * not set up).  key: where the env's link_key is (a global in preload). */
static HZ3_ALWAYS_INLINE void *hz3_tcache_pop_bin(hz3_tcache_t *tc, size_t bin,
                                                  const uintptr_t *key) {
  hz3_bins_t *b = &tc->bins;
  void *p = b->head[bin];
  if (HZ3_UNLIKELY(p == NULL)) return NULL;
  b->head[bin] = (void *)(*(uintptr_t *)p ^ *key);
  b->len[bin]--;
  return p;
}

/* Pushes p onto bin `bin` (its page's hz3_segment_page_bin) if the bin has room; false
 * otherwise (full bin; thread not set up or torn down: max 0; not in a run: bin 0, max 0).
 * The owner is not asked: objects of other shards ride in the bin and go home on flush. */
static HZ3_ALWAYS_INLINE bool hz3_tcache_push_bin(hz3_tcache_t *tc, void *p, size_t bin,
                                                  const uintptr_t *key) {
  hz3_bins_t *b = &tc->bins;
  if (HZ3_UNLIKELY(b->len[bin] >= b->max[bin])) return false;
  void *head = b->head[bin];
  if (HZ3_UNLIKELY(p == head)) hz3_tcache_double_free(p);
  *(uintptr_t *)p = hz3_link_encode(head, key);
  b->head[bin] = p;
  b->len[bin]++;
  return true;
}

/* The same by class, with the key of tc's env (callers without the key at hand: tests). */
static inline const uintptr_t *hz3_tcache_key(const hz3_tcache_t *tc) {
  static const uintptr_t no_key = 0; /* a fresh tcache: no env yet, and empty bins */
  return tc->env != NULL ? &tc->env->link_key : &no_key;
}
static inline void *hz3_tcache_pop(hz3_tcache_t *tc, uint32_t cls) {
  return hz3_tcache_pop_bin(tc, cls + 1, hz3_tcache_key(tc));
}
static inline bool hz3_tcache_push(hz3_tcache_t *tc, void *p, uint32_t bin) {
  return hz3_tcache_push_bin(tc, p, bin, hz3_tcache_key(tc));
}
