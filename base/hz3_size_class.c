#include "base/hz3_size_class.h"

#define HZ3_SIZE_CLASS_TABLE_DEFINE
#include "base/hz3_size_class_table.inc"

/* hz3_big_size_to_class counts powers of two from the last medium size, 2^16. */
_Static_assert(HZ3_MEDIUM_MAX == 1u << 16, "big classes start above 2^16");

int hz3_class_for_aligned(size_t n, size_t align) {
  if (n > HZ3_MEDIUM_MAX || align > HZ3_PAGE_SIZE) return -1;
  /* Objects sit at k * size from a page-aligned run start, so they are all aligned exactly
   * when size is a multiple of align.  The table is ascending; at most a few steps. */
  for (uint32_t c = hz3_size_to_class(n); c < HZ3_NUM_MEDIUM_CLASSES; c++) {
    if ((hz3_class_size_table[c] & (align - 1)) == 0) return (int)c;
  }
  return -1;
}
