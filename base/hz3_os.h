/* The OS layer: every mmap/mprotect/madvise/clock call of the allocator goes through one table
 * of function pointers, so that box tests can count calls and pages with a fake OS and drive a
 * fake clock (tests/fakes/fake_os.h).
 *
 * Contract of every operation: addresses and lengths are multiples of HZ3_PAGE_SIZE; failures
 * return an errno value (0 on success) or NULL with errno set; nothing is ignored.  None of them
 * allocates with malloc.  Thread-safe (the kernel is).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A range of pages for dontneed_many (laid out as struct iovec). */
typedef struct hz3_os_range {
  void *addr;
  size_t bytes;
} hz3_os_range_t;

typedef struct hz3_os_ops {
  void *ctx;
  /* The start of `bytes` of address space, aligned to align (a power of two >= HZ3_PAGE_SIZE),
   * that no mapping uses now; nothing is mapped or held (address space counts against
   * RLIMIT_AS only once map_at maps it).  Placed away from where the kernel puts other
   * mappings, so that the range stays free while its owner grows into it.  NULL with errno =
   * ENOMEM if there is no such range. */
  void *(*claim)(void *ctx, size_t bytes, size_t align);
  /* Maps [addr, addr + bytes) readable and writable, reading as zero, at exactly that address
   * and only if nothing is mapped there: 0; EEXIST if something is (the range is not the
   * caller's to grow into); ENOMEM at the address-space limit; another errno if the OS will
   * not map there. */
  int (*map_at)(void *ctx, void *addr, size_t bytes);
  /* Give the range back entirely (munmap). */
  int (*release)(void *ctx, void *addr, size_t bytes);
  /* Drop the pages' contents and residency (MADV_DONTNEED): RSS falls now, and the next touch
   * faults in a zero page.  The range stays committed. */
  int (*dontneed)(void *ctx, void *addr, size_t bytes);
  /* dontneed of n ranges at once.  Each madvise call costs a TLB shootdown on every core the
   * process runs on, whatever its length; the real OS sends the ranges in one
   * process_madvise(2) call where the kernel has it (one shootdown), else one madvise each.
   * 0 or the first errno. */
  int (*dontneed_many)(void *ctx, const hz3_os_range_t *ranges, uint32_t n);
  /* Reserve and commit in one call (large objects), aligned to align. NULL + errno on failure. */
  void *(*map)(void *ctx, size_t bytes, size_t align);
  /* Resizes a mapping made by map (alignment <= page), moving it if it must (mremap); returns
   * the new address or NULL with errno set, the old mapping untouched. */
  void *(*remap)(void *ctx, void *addr, size_t old_bytes, size_t new_bytes);
  /* Monotonic clock in nanoseconds. */
  uint64_t (*now_ns)(void *ctx);
} hz3_os_ops_t;

/* The real OS: mmap, munmap, mremap, madvise(MADV_DONTNEED), process_madvise,
 * clock_gettime(CLOCK_MONOTONIC). */
const hz3_os_ops_t *hz3_os_default(void);
