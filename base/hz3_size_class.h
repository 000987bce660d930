/* Size classes: 16..2048 B in 16 B steps (hz3's small classes), then 8 classes per power of two
 * up to 64 KiB (a request above 2048 B is rounded up by less than 1/8; below 128 B the 16 B
 * alignment step dominates).  Each class is carved from runs of whole pages whose length and
 * object count come from the same generated table (base/gen_size_classes.py).  Then the big
 * classes, 8 per power of two up to HZ3_BIG_MAX (2 MiB, a segment), each object a run of its own:
 * they live in the segments like the rest (a page tag, the page states, the release policy), but no
 * thread caches them (their bins stay closed: malloc and free go straight to central).
 *
 * size -> class is one byte load from a flat table indexed by 16 B granule, without branch,
 * loop or division, up to HZ3_MEDIUM_MAX; class 0 also serves malloc(0).  Big sizes take a
 * little arithmetic (hz3_big_size_to_class).  Sizes above HZ3_BIG_MAX are "large" and have no
 * class.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hz3_compiler.h"
#include "base/hz3_size_class_table.inc"

#define HZ3_PAGE_SHIFT 12
#define HZ3_PAGE_SIZE ((size_t)1 << HZ3_PAGE_SHIFT)
#define HZ3_SMALL_MAX 2048u
#define HZ3_MEDIUM_MAX 65536u
#define HZ3_BIG_MAX 2097152u
#define HZ3_MIN_ALIGN 16u
/* The most objects a run holds: a run's free map is 4 words. */
#define HZ3_RUN_MAX_OBJS 256u
/* The longest run of a class up to HZ3_MEDIUM_MAX; a big class's run is its one object. */
#define HZ3_RUN_MAX_PAGES 32u
#define HZ3_BIG_RUN_MAX_PAGES (HZ3_BIG_MAX >> HZ3_PAGE_SHIFT)

extern const uint32_t hz3_class_size_table[HZ3_NUM_CLASSES];
extern const uint64_t hz3_class_recip_table[HZ3_NUM_CLASSES];
extern const uint16_t hz3_class_run_pages_table[HZ3_NUM_CLASSES];
extern const uint16_t hz3_class_run_objs_table[HZ3_NUM_CLASSES];
extern const uint8_t hz3_class_index_table[HZ3_CLASS_INDEX_COUNT];

/* Index into hz3_class_index_table; n must be <= HZ3_MEDIUM_MAX.  One entry per 16 B granule
 * (4 KiB of table): a flat table costs no branch on the fast path, unlike a two-granule one. */
static HZ3_ALWAYS_INLINE size_t hz3_class_index(size_t n) { return (n + 15) >> 4; }

/* The tcache bin (class + 1) of a request of n bytes, n <= HZ3_MEDIUM_MAX: what the table
 * holds, so that the malloc fast path indexes its bin without an add. */
static HZ3_ALWAYS_INLINE uint32_t hz3_size_to_bin(size_t n) {
  return hz3_class_index_table[hz3_class_index(n)];
}

/* The bin of a request of n bytes, n <= HZ3_SMALL_MAX, without the table: small classes are
 * 16 B steps, so the granule index is the bin (class + 1) itself.  n == 0 gives bin 0, which
 * stays empty: malloc(0) takes the slow path, which maps it to class 0. */
static HZ3_ALWAYS_INLINE uint32_t hz3_small_size_to_bin(size_t n) {
  return (uint32_t)hz3_class_index(n);
}

/* The class of a request of n bytes, n <= HZ3_MEDIUM_MAX (0 maps to the 16 B class). */
static HZ3_ALWAYS_INLINE uint32_t hz3_size_to_class(size_t n) { return hz3_size_to_bin(n) - 1; }

/* Whether class c is big: one object a run, never in a thread's bin. */
static HZ3_ALWAYS_INLINE bool hz3_class_is_big(uint32_t c) { return c >= HZ3_NUM_MEDIUM_CLASSES; }

/* The class of a request of n bytes, HZ3_MEDIUM_MAX < n <= HZ3_BIG_MAX: with 2^b < n <= 2^(b+1),
 * the k-th of the 8 classes above 2^b, k = ceil((n - 2^b) / 2^(b-3)). */
static inline uint32_t hz3_big_size_to_class(size_t n) {
  uint32_t b = 63u - (uint32_t)__builtin_clzll((unsigned long long)(n - 1));
  size_t step_shift = b - 3;
  uint32_t k = (uint32_t)((n - ((size_t)1 << b) + ((size_t)1 << step_shift) - 1) >> step_shift);
  return HZ3_NUM_MEDIUM_CLASSES + (b - 16u) * 8u + k - 1u;
}

/* Bytes of one object of class c. */
static HZ3_ALWAYS_INLINE size_t hz3_class_to_size(uint32_t c) { return hz3_class_size_table[c]; }

/* n / hz3_class_to_size(c), exact for n < 2^21 (any offset within a segment), by a multiply
 * with the class's reciprocal: every object on its way home divides its offset in its run. */
static HZ3_ALWAYS_INLINE uint32_t hz3_class_div(uint32_t n, uint32_t c) {
  return (uint32_t)(((uint64_t)n * hz3_class_recip_table[c]) >> HZ3_CLASS_RECIP_SHIFT);
}

/* Pages of one run of class c (1..HZ3_RUN_MAX_PAGES; a big class's: its size in pages). */
static HZ3_ALWAYS_INLINE uint32_t hz3_class_run_pages(uint32_t c) {
  return hz3_class_run_pages_table[c];
}

/* Objects carved from one run of class c (1..HZ3_RUN_MAX_OBJS). */
static HZ3_ALWAYS_INLINE uint32_t hz3_class_run_objs(uint32_t c) {
  return hz3_class_run_objs_table[c];
}

/* The smallest class whose objects hold n bytes and all start at a multiple of align
 * (a power of two <= HZ3_PAGE_SIZE; runs start on page boundaries), or -1 if none does. */
int hz3_class_for_aligned(size_t n, size_t align);
