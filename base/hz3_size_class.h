/* Size classes: 16..2048 B in 16 B steps (hz3's small classes), then 8 classes per power of two
 * up to 64 KiB (a request above 2048 B is rounded up by less than 1/8; below 128 B the 16 B
 * alignment step dominates).  Each class is carved from runs of whole pages whose length and
 * object count come from the same generated table (base/gen_size_classes.py).
 *
 * size -> class is one byte load from a flat table indexed by 16 B granule, without branch,
 * loop or division; class 0 also serves malloc(0).  Sizes above HZ3_MEDIUM_MAX are "large" and have
 * no class.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/hz3_compiler.h"
#include "base/hz3_size_class_table.inc"

#define HZ3_PAGE_SHIFT 12
#define HZ3_PAGE_SIZE ((size_t)1 << HZ3_PAGE_SHIFT)
#define HZ3_SMALL_MAX 2048u
#define HZ3_MEDIUM_MAX 65536u
#define HZ3_MIN_ALIGN 16u
/* The most objects a run holds: a run's free map is 4 words. */
#define HZ3_RUN_MAX_OBJS 256u
#define HZ3_RUN_MAX_PAGES 32u

extern const uint32_t hz3_class_size_table[HZ3_NUM_CLASSES];
extern const uint8_t hz3_class_run_pages_table[HZ3_NUM_CLASSES];
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

/* Bytes of one object of class c. */
static HZ3_ALWAYS_INLINE size_t hz3_class_to_size(uint32_t c) { return hz3_class_size_table[c]; }

/* Pages of one run of class c (1..HZ3_RUN_MAX_PAGES). */
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
