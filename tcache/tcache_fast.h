/* tcache/tcache_fast.h: the malloc/free fast path, inline (preload; tests with plain pointers).
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

/* The address space of the bins the fast path works on.  An includer may define it before
 * including this header: preload makes it __seg_fs, so that its thread's bins are addressed
 * as %fs:offset(base, bin, scale) from the TLS offset alone (preload.c); tests leave it
 * empty and pass ordinary pointers. */
#ifndef HZ3_BINS_AS
#define HZ3_BINS_AS
#define HZ3_BINS_GENERIC 1
#endif

/* Takes one unit of room, or returns false when there is none (room left as it was).  With
 * GCC on x86-64 this is `subl $1, room; jb` (the borrow of 0 - 1 is the test); written in C,
 * GCC loads, tests, decrements and stores: three instructions more on every free (GCC 12).
 * asm goto with an output needs GCC 11; clang takes the C form (see preload.c). */
static HZ3_ALWAYS_INLINE bool hz3_bins_take_room(uint32_t HZ3_BINS_AS *room) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
  __asm__ goto("subl $1, %0\n\tjb %l[full]" : "+m"(*room) : : "cc" : full);
  return true;
full:
  *room += 1; /* 0 - 1 wrapped: put it back */
  return false;
#else
  if (*room == 0) return false;
  *room -= 1;
  return true;
#endif
}

/* Pops an object from bin `bin` (class + 1), or NULL when the bin is empty (or the thread is
 * not set up).  key: where the env's link_key is (a global in preload). */
static HZ3_ALWAYS_INLINE void *hz3_bins_pop(hz3_bins_t HZ3_BINS_AS *b, size_t bin,
                                            const uintptr_t *key) {
  void *p;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(HZ3_BINS_GENERIC)
  /* The head is what malloc returns: loading it straight into %rax spares the copy GCC
   * otherwise makes there (it chose %rax for the bin index; 1 instruction of 14). */
  __asm__("movq %1, %0" : "=a"(p) : "m"(b->head[bin]));
#else
  p = b->head[bin];
#endif
  if (HZ3_UNLIKELY(p == NULL)) return NULL;
  b->head[bin] = (void *)(*(uintptr_t *)p ^ *key);
  b->room[bin]++;
  return p;
}

/* Pushes p onto bin `bin` (its page's hz3_segment_page_bin) if the bin has room; false
 * otherwise (full bin; thread not set up or torn down: max 0; not in a run: bin 0, max 0).
 * The owner is not asked: objects of other shards ride in the bin and go home on flush. */
static HZ3_ALWAYS_INLINE bool hz3_bins_push(hz3_bins_t HZ3_BINS_AS *b, void *p, size_t bin,
                                            const uintptr_t *key) {
  if (HZ3_UNLIKELY(!hz3_bins_take_room(&b->room[bin]))) return false;
  void *head = b->head[bin];
  if (HZ3_UNLIKELY(p == head)) hz3_tcache_double_free(p);
  *(uintptr_t *)p = hz3_link_encode(head, key);
  b->head[bin] = p;
  return true;
}

#ifdef HZ3_BINS_GENERIC
/* The same by class, with the key of tc's env (callers without the key at hand: tests). */
static inline const uintptr_t *hz3_tcache_key(const hz3_tcache_t *tc) {
  static const uintptr_t no_key = 0; /* a fresh tcache: no env yet, and empty bins */
  return tc->env != NULL ? &tc->env->link_key : &no_key;
}
static inline void *hz3_tcache_pop(hz3_tcache_t *tc, uint32_t cls) {
  return hz3_bins_pop(&tc->bins, cls + 1, hz3_tcache_key(tc));
}
static inline bool hz3_tcache_push(hz3_tcache_t *tc, void *p, uint32_t bin) {
  return hz3_bins_push(&tc->bins, p, bin, hz3_tcache_key(tc));
}
#endif
