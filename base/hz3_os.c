#include "base/hz3_os.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/hz3_size_class.h"

/* Over-reserve by the alignment and trim both ends: mmap gives only page alignment. */
static void *map_aligned(size_t bytes, size_t align, int prot, int flags) {
  if (align < HZ3_PAGE_SIZE) align = HZ3_PAGE_SIZE;
  size_t span = bytes + (align > HZ3_PAGE_SIZE ? align : 0);
  if (span < bytes) {
    errno = ENOMEM;
    return NULL;
  }
  void *raw = mmap(NULL, span, prot, flags, -1, 0);
  if (raw == MAP_FAILED) return NULL; /* errno from mmap */
  uintptr_t start = (uintptr_t)raw;
  uintptr_t aligned = (start + align - 1) & ~(uintptr_t)(align - 1);
  if (aligned > start) munmap(raw, aligned - start);
  uintptr_t end = start + span, want_end = aligned + bytes;
  if (end > want_end) munmap((void *)want_end, end - want_end);
  return (void *)aligned;
}

/* Where claims go: from 32 TiB up, far below where the kernel puts mappings top-down (under
 * the stack, ~128 TiB) and above a non-PIE program's heap and ASan's shadow (< 16 TiB), below
 * PIE programs (~85 TiB).  A claim that finds its candidate taken tries the next. */
#define HZ3_CLAIM_FIRST ((uintptr_t)32 << 40)
#define HZ3_CLAIM_END ((uintptr_t)80 << 40)
static uintptr_t g_claim_next = HZ3_CLAIM_FIRST; /* a hint only: races are harmless */

/* mmap of a probe: PROT_NONE, charged to nothing; flags add MAP_FIXED_NOREPLACE or not. */
static void *probe_map(void *hint, size_t bytes, int flags) {
  return mmap(hint, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags, -1, 0);
}

static void *os_claim(void *ctx, size_t bytes, size_t align) {
  (void)ctx;
  int saved = errno;
  if (align < HZ3_PAGE_SIZE) align = HZ3_PAGE_SIZE;
  uintptr_t step = (bytes + ((size_t)1 << 30) - 1) & ~(((uintptr_t)1 << 30) - 1);
  uintptr_t at = (__atomic_load_n(&g_claim_next, __ATOMIC_RELAXED) + align - 1) & ~(align - 1);
  /* Probe the whole range at a candidate address: it is free if the kernel maps it there. */
  for (int tries = 0; tries < 64 && at + bytes <= HZ3_CLAIM_END && at + bytes > at; tries++) {
    void *p = probe_map((void *)at, bytes, MAP_FIXED_NOREPLACE);
    if (p == (void *)at) {
      munmap(p, bytes);
      __atomic_store_n(&g_claim_next, at + step, __ATOMIC_RELAXED);
      errno = saved;
      return p;
    }
    if (p != MAP_FAILED) { /* a kernel without MAP_FIXED_NOREPLACE put it elsewhere */
      munmap(p, bytes);
      break;
    }
    if (errno != EEXIST) break; /* not allowed there (a sanitizer's layout) or too big */
    at += step;
  }
  /* Somewhere the kernel chooses (over-probed by the alignment). */
  void *raw = probe_map(NULL, bytes + align, 0);
  if (raw != MAP_FAILED) {
    munmap(raw, bytes + align);
    errno = saved;
    return (void *)(((uintptr_t)raw + align - 1) & ~(align - 1));
  }
  /* Too big to probe under RLIMIT_AS: the candidate, unverified (map_at never maps over
   * anything, so a wrong guess only ends the claim early). */
  if (at + bytes <= HZ3_CLAIM_END && at + bytes > at) {
    errno = saved;
    return (void *)at;
  }
  errno = ENOMEM;
  return NULL;
}

static int os_map_at(void *ctx, void *addr, size_t bytes) {
  (void)ctx;
  int saved = errno;
  void *p = mmap(addr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  int err = p == addr ? 0 : p == MAP_FAILED ? errno : EEXIST;
  if (p != MAP_FAILED && p != addr) munmap(p, bytes); /* no MAP_FIXED_NOREPLACE here */
  errno = saved;
  return err;
}

static int os_release(void *ctx, void *addr, size_t bytes) {
  (void)ctx;
  return munmap(addr, bytes) == 0 ? 0 : errno;
}

static int os_dontneed(void *ctx, void *addr, size_t bytes) {
  (void)ctx;
  /* MADV_DONTNEED, not MADV_FREE: RSS must drop now so that measurements are honest. */
  return madvise(addr, bytes, MADV_DONTNEED) == 0 ? 0 : errno;
}

/* process_madvise(2) on the calling process itself (PIDFD_SELF_THREAD_GROUP, Linux 6.15+; no
 * file descriptor to open, lose or inherit across fork).  Older kernels refuse it (EBADF,
 * EINVAL, ENOSYS, EPERM): then every later batch goes range by range. */
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
#define HZ3_PIDFD_SELF_THREAD_GROUP (-10001)
static int g_batch_state; /* 0 untried, 1 works, -1 refused (racy: any value is safe) */

static int dontneed_each(const hz3_os_range_t *r, uint32_t n) {
  int err = 0;
  for (uint32_t i = 0; i < n; i++)
    if (madvise(r[i].addr, r[i].bytes, MADV_DONTNEED) != 0 && err == 0) err = errno;
  return err;
}

static int os_dontneed_many(void *ctx, const hz3_os_range_t *ranges, uint32_t n) {
  (void)ctx;
  if (n == 0) return 0;
  if (n == 1 || __atomic_load_n(&g_batch_state, __ATOMIC_RELAXED) < 0)
    return dontneed_each(ranges, n);
  _Static_assert(sizeof(hz3_os_range_t) == sizeof(struct iovec), "ranges are iovecs");
  size_t want = 0;
  for (uint32_t i = 0; i < n; i++) want += ranges[i].bytes;
  int saved = errno;
  long done = syscall(SYS_process_madvise, HZ3_PIDFD_SELF_THREAD_GROUP,
                      (const struct iovec *)ranges, (size_t)n, MADV_DONTNEED, 0u);
  if (done == (long)want) {
    __atomic_store_n(&g_batch_state, 1, __ATOMIC_RELAXED);
    return 0;
  }
  errno = saved;
  /* Refused, or stopped part way: do them one by one (a range done twice is harmless).  If
   * the batch was refused where plain madvise takes the same ranges, this kernel has no
   * process_madvise(MADV_DONTNEED) on itself: stop trying. */
  int err = dontneed_each(ranges, n);
  if (done < 0 && err == 0 && __atomic_load_n(&g_batch_state, __ATOMIC_RELAXED) == 0)
    __atomic_store_n(&g_batch_state, -1, __ATOMIC_RELAXED);
  return err;
}

static void *os_map(void *ctx, size_t bytes, size_t align) {
  (void)ctx;
  return map_aligned(bytes, align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
}

static void *os_remap(void *ctx, void *addr, size_t old_bytes, size_t new_bytes) {
  (void)ctx;
  void *q = mremap(addr, old_bytes, new_bytes, MREMAP_MAYMOVE);
  return q == MAP_FAILED ? NULL : q;
}

static uint64_t os_now_ns(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const hz3_os_ops_t hz3_os_real = {
    .ctx = NULL,
    .claim = os_claim,
    .map_at = os_map_at,
    .release = os_release,
    .dontneed = os_dontneed,
    .dontneed_many = os_dontneed_many,
    .map = os_map,
    .remap = os_remap,
    .now_ns = os_now_ns,
};

const hz3_os_ops_t *hz3_os_default(void) { return &hz3_os_real; }
