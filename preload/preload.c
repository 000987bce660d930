/* preload/preload.c: the libc allocation API over hz3's boxes.  The fast paths are inline
 * (tcache_fast.h); every other case leaves through one unlikely branch to a noinline function.
 * Behaviour follows glibc's documentation: NULL + ENOMEM for impossible sizes, EINVAL from
 * posix_memalign for a bad alignment, realloc(p, 0) frees, and pointers hz3 never returned
 * (allocated before it was loaded) go to glibc's own __libc_* functions. */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "preload/hz3.h"
#include "preload/hz3_preload.h"

/* This thread's bins.  On x86-64 with GCC they are reached through the %fs segment from
 * their TLS offset, one GOT load: every bin access is then one instruction with the bin as a
 * scaled index, and the free path's room test can be a single `subl; jb` on that operand
 * (tcache_fast.h).  A plain pointer would first add the thread pointer (fs:0), and an asm
 * memory operand can only be given one through the address space.  GCC only: clang 14
 * drops the segment from such an asm operand (seen in its output).  Sanitizer builds keep
 * plain pointers: their instrumentation would take a segment offset for an address.  The
 * file is built as gnu11 (BUILD): __seg_fs is a GNU keyword. */
#if defined(__x86_64__) && defined(__SEG_FS) && !defined(__clang__) && !HZ3_HAS_SANITIZER
#define HZ3_BINS_AS __seg_fs
_Static_assert(offsetof(hz3_tcache_t, bins) == 0, "bins must be the tcache's first member");
static HZ3_ALWAYS_INLINE hz3_bins_t __seg_fs *my_bins(void) {
  uintptr_t tls_offset; /* of hz3_t_tcache, whose first member is bins */
  __asm__("movq hz3_t_tcache@gottpoff(%%rip), %0" : "=r"(tls_offset));
  return (hz3_bins_t __seg_fs *)tls_offset;
}
#else
static HZ3_ALWAYS_INLINE hz3_bins_t *my_bins(void) { return &hz3_t_tcache.bins; }
#endif
#include "tcache/tcache_fast.h"

/* glibc's own allocator, for pointers that were not hz3's. */
extern void __libc_free(void *p);
extern void *__libc_realloc(void *p, size_t n);

#define HZ3_API HZ3_EXPORT

/* The key bins' links are stored with (tcache_fast.h), from its own global so that the fast
 * path XORs with a memory operand: one instruction a side. */
#define LINK_KEY (&hz3_link_key)

/* Whether p lies in one of hz3's segments (any arena); the free fast path asks the first
 * arena only, inline. */
static inline bool in_arena(const void *p) { return hz3_segment_pool_contains(&hz3_g.pool, p); }

/* The full tag of the page holding p (p in_arena); slow paths only: the free fast path reads
 * the one-byte page bin instead. */
static inline hz3_tag_t page_tag(const void *p) { return hz3_segment_tag(&hz3_g.pool, p); }

/* ---- slow paths ---- */

static HZ3_NOINLINE void *malloc_small_slow(uint32_t cls) {
  if (hz3_process_ensure() != 0) {
    errno = ENOMEM;
    return NULL;
  }
  hz3_thread_ensure();
  /* The thread may have been set up just now: the bin is then filled by this refill. */
  void *p = hz3_bins_pop(my_bins(), cls + 1, LINK_KEY);
  return p ? p : hz3_tcache_refill(&hz3_t_tcache, cls); /* NULL: errno = ENOMEM */
}

static HZ3_NOINLINE void *malloc_small_slow_n(size_t n) {
  return malloc_small_slow(hz3_size_to_class(n));
}

static HZ3_NOINLINE void *malloc_large(size_t n, size_t align, bool zeroed) {
  if (hz3_process_ensure() != 0) {
    errno = ENOMEM;
    return NULL;
  }
  return hz3_large_alloc(&hz3_g.large, n, align, zeroed);
}

/* A block of HZ3_MEDIUM_MAX < n <= HZ3_BIG_MAX bytes: a run of its own, straight from central
 * (page-aligned).  Its pages come back to the segments when it is freed, so memory one size
 * gave back serves any other, under the release policy of every page (a mapping of its own
 * served only its own size again, and faulted in fresh whenever none fitted). */
static HZ3_NOINLINE void *malloc_big(size_t n, bool zeroed) {
  if (hz3_process_ensure() != 0) {
    errno = ENOMEM;
    return NULL;
  }
  hz3_thread_ensure();
  uint32_t cls = hz3_big_size_to_class(n);
  bool fresh = false; /* its pages fault in as zeroes: calloc need not touch them */
  /* One this thread freed, if its bin is open (tcache.c: bin_cap). */
  void *p = hz3_bins_pop(my_bins(), cls + 1, LINK_KEY);
  if (p == NULL) p = hz3_tcache_alloc_direct(&hz3_t_tcache, cls, &fresh);
  if (p != NULL && zeroed && !fresh) memset(p, 0, n);
  return p;
}

/* Anything above HZ3_MEDIUM_MAX, with malloc's alignment. */
static HZ3_NOINLINE void *malloc_above_medium(size_t n, bool zeroed) {
  return n <= HZ3_BIG_MAX ? malloc_big(n, zeroed) : malloc_large(n, 0, zeroed);
}

/* A pointer neither the arena's nor a registered large block's: if hz3 can tell it was one of
 * its own (inside a large block, a large block freed already, or just past the arena, whose
 * header glibc would read from the arena), say so and abort; else it is glibc's. */
static HZ3_NOINLINE void not_hz3s_or_die(const void *p, const char *what) {
  uintptr_t start = 0;
  switch (hz3_large_classify(&hz3_g.large, p, &start)) {
    case HZ3_LARGE_INTERIOR:
      hz3_fatal("%s: invalid pointer %p (inside the large block %p, not its start)", what, p,
                (void *)start);
    case HZ3_LARGE_FREED:
      hz3_fatal("%s: double free of the large block %p", what, p);
    case HZ3_LARGE_NOT_OURS:
      break;
  }
  if (in_arena((const char *)p - 2 * sizeof(size_t)))
    hz3_fatal("%s: invalid pointer %p (at the end of hz3's arena, in no block)", what, p);
  if (hz3_segment_pool_claims(&hz3_g.pool, p))
    hz3_fatal(
        "%s: invalid pointer %p (in address space hz3's arena keeps for segments, in no "
        "block)",
        what, p);
}

/* A pointer in the arena whose page reads no tag: inside a big block past its first page (only
 * that page is tagged: segment.h), or in no live run. */
static HZ3_NOINLINE HZ3_COLD void refuse_untagged(const char *what, void *p) {
  const hz3_run_t *run = hz3_segment_big_run_around(&hz3_g.pool, p);
  if (run != NULL)
    hz3_fatal("%s: invalid pointer %p (inside an object of %zu bytes at %p, not its start)", what,
              p, hz3_class_to_size(run->cls), hz3_segment_run_start(&hz3_g.pool, run));
  hz3_fatal("%s: invalid pointer %p (inside hz3's arena but in no live run: freed twice?)", what,
            p);
}
static HZ3_NOINLINE HZ3_COLD void invalid_free(void *p) { refuse_untagged("free()", p); }

/* A free whose page tag is known (nonzero) by a set-up thread: a draining thread's own objects
 * whose bins are full wait in the homeward slots; only then is the push (which free's fast
 * path tried) tried again: this is also the way of objects in arenas after the first, which
 * the fast path does not push. */
static HZ3_ALWAYS_INLINE void free_small_tagged(void *p, hz3_tag_t tag) {
  if (hz3_tcache_free_homeward(&hz3_t_tcache, p, tag)) return;
  if (hz3_bins_push(my_bins(), p, HZ3_TAG_BIN(tag), LINK_KEY)) return;
  hz3_tcache_free_slow(&hz3_t_tcache, p, tag);
}

/* free_small_slow's rare cases, apart so that its common one needs no stack frame: p beyond
 * the first arena's mapped part (tag 0: not looked up yet), a page in no run, and a thread's
 * first call. */
static HZ3_NOINLINE void free_small_slow_rare(void *p, hz3_tag_t tag) {
  if (tag == 0) tag = page_tag(p);
  if (HZ3_UNLIKELY(tag == 0)) invalid_free(p);
  if (hz3_t_tcache.state == HZ3_TCACHE_FRESH) {
    /* The thread's first call is free: of an object handed to it, most likely, whose
     * neighbours other threads still write.  Not into the bin, from which this thread's next
     * malloc of the size would take it back (hz3_tcache_free_home). */
    hz3_thread_ensure();
    hz3_tcache_free_home(&hz3_t_tcache, p, tag);
    return;
  }
  free_small_tagged(p, tag);
}

/* Every call in the common case is a tail call (hz3_tcache_homeward_full, free_slow), so it
 * runs without saving a register: a draining thread takes it on every free. */
static HZ3_NOINLINE void free_small_slow(void *p) {
  const hz3_arena_t *a = &hz3_g.pool.arenas[0];
  uintptr_t off = (uintptr_t)p - a->base;
  hz3_tag_t tag = 0;
  if (HZ3_LIKELY(off < __atomic_load_n(&a->grown_bytes, __ATOMIC_ACQUIRE)))
    tag = __atomic_load_n(&a->tags[off >> HZ3_PAGE_SHIFT], __ATOMIC_RELAXED);
  if (HZ3_UNLIKELY(tag == 0 || hz3_t_tcache.state == HZ3_TCACHE_FRESH)) {
    free_small_slow_rare(p, tag);
    return;
  }
  free_small_tagged(p, tag);
}

/* NULL, in an arena after the first, large, or not hz3's. */
static HZ3_NOINLINE void free_other(void *p) {
  if (p == NULL) return;
  if (__atomic_load_n(&hz3_g.ready, __ATOMIC_ACQUIRE)) {
    if (in_arena(p)) { /* another arena's, or the first's grown since the fast path looked */
      free_small_slow(p);
      return;
    }
    if (hz3_large_free(&hz3_g.large, p)) return;
    not_hz3s_or_die(p, "free()");
  }
  __libc_free(p);
}

/* ---- the check build (--define check=1) ----
 * Every small object carries a trailer in its last 16 bytes: the requested size and a canary
 * bound to the address, and the bytes between the request and the trailer are filled.  free()
 * checks that the pointer starts an object, that the object is not already free (a marker in
 * its second word, bound to the address), and that the fill and trailer are intact: a write
 * past the end.  Each finding is one line on stderr and an abort.  Big blocks carry the
 * trailer too; large objects (above 2 MiB - 16) are checked for validity only. */
#define HZ3_CHECK_TRAILER 16u
#define HZ3_CHECK_FILL 0xABu
#define HZ3_CHECK_CANARY 0x5CA1AB1E0DDBA11ull
#define HZ3_CHECK_FREED 0x68A3F1E2D4C5B6A7ull

static HZ3_NOINLINE HZ3_COLD void check_fail(const char *what, void *p, const char *detail) {
  hz3_fatal("%s: %s %p", what, detail, p);
}

/* Bytes of the small object p (its class size), after checking that p starts an object. */
static size_t check_object(void *p, const char *what) {
  hz3_tag_t tag = page_tag(p);
  if (tag == 0) refuse_untagged(what, p);
  hz3_run_t *run = hz3_segment_run_of(&hz3_g.pool, p);
  size_t size = hz3_class_to_size(HZ3_TAG_CLASS(tag));
  uintptr_t off = (uintptr_t)p - (uintptr_t)hz3_segment_run_start(&hz3_g.pool, run);
  if (off % size != 0) check_fail(what, p, "invalid pointer (inside an object, not its start)");
  return size;
}

/* Lays out fill and trailer for a request of n in the small object p; fresh: p was free (its
 * last life's free marker is cleared), else p is being resized in place. */
static void *check_arm_object(void *p, size_t n, int fresh) {
  if (p == NULL) return NULL;
  size_t cap = hz3_class_to_size(HZ3_TAG_CLASS(page_tag(p)));
  unsigned char *b = p;
  if (fresh) memset(b + 8, 0, 8); /* the free marker of this object's last life */
  /* The fill also covers the free marker word of requests under 16 bytes. */
  memset(b + n, HZ3_CHECK_FILL, cap - HZ3_CHECK_TRAILER - n);
  uint64_t trailer[2] = {n, HZ3_CHECK_CANARY ^ (uintptr_t)p};
  memcpy(b + cap - HZ3_CHECK_TRAILER, trailer, sizeof trailer);
  return p;
}

static void *check_arm(void *p, size_t n) { return check_arm_object(p, n, 1); }

/* Checks a small object being freed or resized and returns its requested size. */
static size_t check_disarm(void *p, const char *what, int marking_free) {
  size_t cap = check_object(p, what);
  unsigned char *b = p;
  uint64_t marker;
  memcpy(&marker, b + 8, 8);
  if (marker == (HZ3_CHECK_FREED ^ (uintptr_t)p)) check_fail(what, p, "double free of");
  uint64_t trailer[2];
  memcpy(trailer, b + cap - HZ3_CHECK_TRAILER, sizeof trailer);
  size_t n = trailer[0];
  if (trailer[1] != (HZ3_CHECK_CANARY ^ (uintptr_t)p) || n > cap - HZ3_CHECK_TRAILER)
    check_fail(what, p, "heap overrun (trailer overwritten) after the object at");
  for (size_t i = n; i < cap - HZ3_CHECK_TRAILER; i++)
    if (b[i] != HZ3_CHECK_FILL) check_fail(what, p, "heap overrun (written past the end) of");
  if (marking_free) {
    marker = HZ3_CHECK_FREED ^ (uintptr_t)p;
    memcpy(b + 8, &marker, 8);
  }
  return n;
}

/* ---- malloc / free ---- */

/* Small sizes index their bin straight from the size; medium ones look it up in the class
 * table (one more compare and load for them only). */
static HZ3_ALWAYS_INLINE void *hz3_malloc_inline(size_t n) {
  size_t bin;
  if (HZ3_LIKELY(n <= HZ3_SMALL_MAX))
    bin = hz3_small_size_to_bin(n);
  else if (HZ3_LIKELY(n <= HZ3_MEDIUM_MAX))
    bin = hz3_size_to_bin(n);
  else
    return malloc_above_medium(n, false);
  void *p = hz3_bins_pop(my_bins(), bin, LINK_KEY);
  if (HZ3_LIKELY(p != NULL)) return p;
  return malloc_small_slow_n(n); /* by size: the hit path keeps no class for it */
}

/* The first arena's segments take one range check and one load; anything else (other arenas,
 * large blocks, NULL, glibc's) goes to free_other.  grown_bytes is read plainly, not as an
 * atomic, so that the compare takes it as a memory operand: it only grows, an aligned word
 * cannot tear, and a stale (smaller) value sends p to free_other, which looks again. */
static HZ3_ALWAYS_INLINE void hz3_free_inline(void *p) {
  uintptr_t off = (uintptr_t)p - hz3_g.pool.arenas[0].base;
  if (HZ3_LIKELY(off < hz3_g.pool.arenas[0].grown_bytes)) {
    size_t bin = hz3_g.pool.arenas[0].page_bins[off >> HZ3_PAGE_SHIFT];
    if (HZ3_LIKELY(hz3_bins_push(my_bins(), p, bin, LINK_KEY))) return;
    free_small_slow(p);
    return;
  }
  free_other(p);
}

/* malloc with the check build's trailer (HZ3_CHECK only). */
/* Bytes to allocate for a checked request of n: the object keeps its first 16 bytes (free-list
 * link and free marker) apart from the trailer. */
static size_t check_need(size_t n) {
  return n > SIZE_MAX - 2 * HZ3_CHECK_TRAILER ? SIZE_MAX : HZ3_MAX(n, 16u) + HZ3_CHECK_TRAILER;
}

/* The check build looks at the bin's next object after every pop: a link written after free
 * is reported here, with a message, before anything uses it. */
static void check_bin_head(size_t need) {
  uint32_t bin = hz3_size_to_bin(need);
  void *next = hz3_t_tcache.bins.head[bin];
  if (next != NULL &&
      (!in_arena(next) || page_tag(next) == 0 || HZ3_TAG_BIN(page_tag(next)) != bin))
    hz3_fatal(
        "malloc(): corrupted free list: the next free object of %zu bytes would be %p "
        "(a freed object was written to after free, or overrun by its neighbour)",
        hz3_class_to_size(bin - 1), next);
}

static HZ3_NOINLINE void *check_malloc(size_t n) {
  size_t need = check_need(n);
  if (need > HZ3_BIG_MAX) return malloc_large(n, 0, false); /* unchecked: not in the arena */
  if (need > HZ3_MEDIUM_MAX) return check_arm(malloc_big(need, false), n);
  void *p = hz3_malloc_inline(need);
  if (p != NULL) check_bin_head(need);
  return check_arm(p, n);
}

static HZ3_NOINLINE void check_free(void *p) {
  if (in_arena(p)) check_disarm(p, "free()", 1);
  hz3_free_inline(p);
}

HZ3_API void *malloc(size_t n) {
  if (HZ3_CHECK) return check_malloc(n);
  return hz3_malloc_inline(n);
}

HZ3_API void free(void *p) {
  if (HZ3_CHECK) {
    check_free(p);
    return;
  }
  hz3_free_inline(p);
}

HZ3_API void cfree(void *p) { free(p); }

/* Usable bytes of a pointer hz3 returned; for glibc's chunks, its chunk header says. */
static size_t usable_size(const void *p) {
  if (p == NULL) return 0;
  if (in_arena(p)) {
    hz3_tag_t tag = page_tag(p);
    if (HZ3_CHECK && tag) return check_disarm((void *)p, "malloc_usable_size()", 0);
    return tag ? hz3_class_to_size(HZ3_TAG_CLASS(tag)) : 0;
  }
  if (hz3_g.ready) {
    size_t n = hz3_large_usable_size(&hz3_g.large, p);
    if (n) return n;
    uintptr_t start;
    if (hz3_large_classify(&hz3_g.large, p, &start) != HZ3_LARGE_NOT_OURS) return 0;
    if (in_arena((const char *)p - 2 * sizeof(size_t)) || hz3_segment_pool_claims(&hz3_g.pool, p))
      return 0;
  }
  /* A pointer into this thread's stack is nobody's block (glibc would read its neighbours as
   * a chunk header and might fault). */
  char here;
  if ((uintptr_t)p - (uintptr_t)&here + ((size_t)8 << 20) < ((size_t)16 << 20)) return 0;
  /* glibc's answer for its own chunks (malloc_usable_size in glibc 2.36): the size word sits
   * just before the pointer (bit 1: mmapped); a chunk not in use (the next chunk's
   * PREV_INUSE bit clear), or no chunk at all, gives 0. */
  size_t word = ((const size_t *)p)[-1];
  size_t chunk = word & ~(size_t)7;
  if (word & 2) return chunk > 2 * sizeof(size_t) ? chunk - 2 * sizeof(size_t) : 0;
  if (chunk < 4 * sizeof(size_t) || chunk > ((size_t)1 << 40)) return 0; /* no chunk there */
  size_t next_size =
      *(const size_t *)((const char *)p - 2 * sizeof(size_t) + chunk + sizeof(size_t));
  return (next_size & 1) ? chunk - sizeof(size_t) : 0;
}

HZ3_API size_t malloc_usable_size(void *p) { return usable_size(p); }

HZ3_API void *calloc(size_t count, size_t size) {
  size_t n;
  if (HZ3_UNLIKELY(__builtin_mul_overflow(count, size, &n))) {
    errno = ENOMEM;
    return NULL;
  }
  /* A fresh mapping reads as zero without being touched; the check build arms arena blocks
   * (check_malloc below). */
  if (n > HZ3_BIG_MAX || (!HZ3_CHECK && n > HZ3_MEDIUM_MAX)) return malloc_above_medium(n, true);
  void *p = HZ3_CHECK ? check_malloc(n) : hz3_malloc_inline(n);
  if (p != NULL) memset(p, 0, n);
  return p;
}

/* ---- aligned allocation ---- */

static bool is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* align is a power of two. */
static void *aligned_alloc_pow2(size_t align, size_t n) {
  if (align <= HZ3_MIN_ALIGN) return HZ3_CHECK ? check_malloc(n) : hz3_malloc_inline(n);
  size_t need = HZ3_CHECK ? check_need(n) : n;
  if (need <= HZ3_MEDIUM_MAX && align <= HZ3_PAGE_SIZE) {
    int cls = hz3_class_for_aligned(need, align);
    if (cls >= 0) {
      void *p = hz3_bins_pop(my_bins(), (uint32_t)cls + 1, LINK_KEY);
      if (p == NULL) p = malloc_small_slow((uint32_t)cls);
      return HZ3_CHECK ? check_arm(p, n) : p;
    }
  }
  if (need > HZ3_MEDIUM_MAX && need <= HZ3_BIG_MAX && align <= HZ3_PAGE_SIZE) {
    void *p = malloc_big(need, false); /* a run: page-aligned */
    return HZ3_CHECK ? check_arm(p, n) : p;
  }
  return malloc_large(n == 0 ? 1 : n, align, false);
}

/* For the jemalloc API: align 0 or a power of two. */
void *hz3_aligned_or_plain(size_t align, size_t n) {
  return align == 0 ? malloc(n) : aligned_alloc_pow2(align, n);
}

HZ3_API int posix_memalign(void **out, size_t align, size_t n) {
  if (!is_pow2(align) || align % sizeof(void *) != 0) return EINVAL;
  int saved = errno;
  void *p = aligned_alloc_pow2(align, n);
  if (p == NULL) return ENOMEM;
  errno = saved; /* posix_memalign reports through its result, not errno */
  *out = p;
  return 0;
}

HZ3_API void *aligned_alloc(size_t align, size_t n) {
  if (!is_pow2(align)) {
    errno = EINVAL;
    return NULL;
  }
  return aligned_alloc_pow2(align, n);
}

HZ3_API void *memalign(size_t align, size_t n) {
  /* glibc: an alignment that is not a power of two is rounded up to one. */
  if (align > ((size_t)1 << 62)) {
    errno = EINVAL;
    return NULL;
  }
  size_t a = HZ3_MIN_ALIGN;
  while (a < align) a <<= 1;
  return aligned_alloc_pow2(a, n);
}

HZ3_API void *valloc(size_t n) { return aligned_alloc_pow2(HZ3_PAGE_SIZE, n); }

HZ3_API void *pvalloc(size_t n) {
  size_t rounded = (n + HZ3_PAGE_SIZE - 1) & ~(HZ3_PAGE_SIZE - 1);
  if (rounded < n) {
    errno = ENOMEM;
    return NULL;
  }
  return aligned_alloc_pow2(HZ3_PAGE_SIZE, rounded == 0 ? HZ3_PAGE_SIZE : rounded);
}

/* ---- realloc ---- */

static HZ3_NOINLINE void *realloc_move(void *p, size_t old_usable, size_t n) {
  void *q = HZ3_CHECK ? check_malloc(n) : hz3_malloc_inline(n);
  if (q == NULL) return NULL; /* p stays valid */
  memcpy(q, p, HZ3_MIN(old_usable, n));
  free(p);
  return q;
}

/* p (of class size old) grows to n, a big size: in place when the pages after its run are free,
 * else moved into a run with as many free pages after it (a realloc that grows a block once
 * likely grows it again).  A buffer grown a quarter at a time from 1 KB to 300 KB was copied
 * at every step (as by tcmalloc and mimalloc; jemalloc grows in place, 3.3x faster; glibc,
 * at the top of its heap, 80x). */
static HZ3_NOINLINE void *realloc_grow_big(void *p, size_t old, size_t n) {
  uint32_t cls = hz3_big_size_to_class(n);
  if (old > HZ3_MEDIUM_MAX && hz3_central_resize_big(&hz3_g.central, p, cls)) return p;
  hz3_thread_ensure();
  uint32_t npages = hz3_class_run_pages(cls);
  void *q = hz3_central_alloc_big_with_room(&hz3_g.central, hz3_t_tcache.shard, cls,
                                            HZ3_MIN(npages, HZ3_SEG_PAGES - npages));
  if (q == NULL) return NULL; /* p stays valid */
  memcpy(q, p, old);
  free(p);
  return q;
}

size_t hz3_resize_in_place(void *p, size_t n) {
  /* resize_big itself leaves anything but an allocated big block as it is. */
  if (!HZ3_CHECK && p != NULL && in_arena(p) && n > HZ3_MEDIUM_MAX && n <= HZ3_BIG_MAX)
    hz3_central_resize_big(&hz3_g.central, p, hz3_big_size_to_class(n));
  return usable_size(p);
}

HZ3_API void *realloc(void *p, size_t n) {
  if (p == NULL) return malloc(n);
  if (n == 0) { /* glibc: realloc(p, 0) frees p and returns NULL */
    free(p);
    return NULL;
  }
  if (in_arena(p)) {
    hz3_tag_t tag = page_tag(p);
    if (HZ3_UNLIKELY(tag == 0)) refuse_untagged("realloc()", p);
    if (HZ3_CHECK) {
      size_t old_n = check_disarm(p, "realloc()", 0);
      size_t cap = hz3_class_to_size(HZ3_TAG_CLASS(tag));
      if (check_need(n) <= cap && check_need(n) >= cap / 2) return check_arm_object(p, n, 0);
      return realloc_move(p, old_n, n);
    }
    size_t old = hz3_class_to_size(HZ3_TAG_CLASS(tag));
    /* In place while it fits and does not waste more than half. */
    if (n <= old && n >= old / 2) return p;
    if (n > old && n > HZ3_MEDIUM_MAX && n <= HZ3_BIG_MAX) return realloc_grow_big(p, old, n);
    /* A big block cut to a smaller big size keeps its place and gives its tail pages back
     * (a buffer cut to what it holds: no copy). */
    if (n < old && n > HZ3_MEDIUM_MAX &&
        hz3_central_resize_big(&hz3_g.central, p, hz3_big_size_to_class(n)))
      return p;
    return realloc_move(p, old, n);
  }
  if (hz3_g.ready) {
    size_t old = hz3_large_usable_size(&hz3_g.large, p);
    if (old != 0) {
      if (n <= old && n >= old / 2) return p;
      if (n > HZ3_BIG_MAX) {
        void *q = hz3_large_resize(&hz3_g.large, p, n);
        if (q != NULL) return q;
      }
      return realloc_move(p, old, n);
    }
  }
  return __libc_realloc(p, n); /* not hz3's: glibc's block stays glibc's */
}

HZ3_API void *reallocarray(void *p, size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(p, n);
}

/* ---- glibc's extras ---- */

HZ3_API int malloc_trim(size_t pad) {
  (void)pad;
  if (!__atomic_load_n(&hz3_g.ready, __ATOMIC_ACQUIRE)) return 0;
  /* A full epoch with no budget over the whole process: this thread's cache, the batches all
   * threads share, every shard's inbox, central lists and segments (what exited and parked
   * threads left there too), the spare segments and the large cache.  1 if memory went back
   * to the OS. */
  hz3_tcache_orphans_flush(&hz3_g.orphans, &hz3_g.env);
  hz3_tcache_send_batches(&hz3_t_tcache, &hz3_g.env, true);
  uint64_t pages = hz3_epoch_trim(&hz3_g.epoch, &hz3_t_tcache);
  size_t large = hz3_large_flush_cache(&hz3_g.large);
  return (pages > 0 || large > 0) ? 1 : 0;
}

HZ3_API int mallopt(int param, int value) {
  /* M_TRIM_THRESHOLD means here what it means in glibc: how much free memory may stay
   * resident before it goes back (hz3's retain cap).  glibc's other parameters have no
   * meaning for hz3: 0, as for a parameter glibc does not know. */
  if (param != M_TRIM_THRESHOLD || value < 0) return 0;
  if (hz3_process_ensure() != 0) return 0;
  hz3_process_set_retain_bytes((size_t)value);
  return 1;
}

HZ3_API void malloc_stats(void) {
  if (!hz3_g.ready) return;
  hz3_stats_print(2);
}

/* glibc's meanings: arena = bytes of (non-mmapped) heap, uordblks = bytes handed out of it,
 * fordblks = the rest; hblks/hblkhd = mmapped (large) blocks; keepcost = what could go back.
 * Handed-out bytes come from a walk of every shard (objects in thread caches count). */
static struct mallinfo2 collect_mallinfo(void) {
  struct mallinfo2 mi;
  memset(&mi, 0, sizeof mi);
  if (!__atomic_load_n(&hz3_g.ready, __ATOMIC_ACQUIRE)) return mi;
  size_t segs = __atomic_load_n(&hz3_g.pool.used_segments, __ATOMIC_RELAXED) -
                __atomic_load_n(&hz3_g.pool.nspare, __ATOMIC_RELAXED);
  mi.arena = segs * HZ3_SEG_SIZE; /* segments holding runs */
  mi.uordblks = hz3_central_bytes_out(&hz3_g.central);
  mi.fordblks = mi.arena > mi.uordblks ? mi.arena - mi.uordblks : 0;
  mi.hblks = hz3_g.large.count;
  mi.hblkhd = hz3_g.large.mapped_bytes;
  mi.keepcost = hz3_segment_unused_pages(&hz3_g.pool) * HZ3_PAGE_SIZE + hz3_g.large.cache_bytes;
  return mi;
}

HZ3_API struct mallinfo2 mallinfo2(void) { return collect_mallinfo(); }

/* glibc's XML shape, with hz3's figures (the same as mallinfo2's). */
HZ3_API int malloc_info(int options, FILE *fp) {
  if (options != 0 || fp == NULL) {
    errno = EINVAL;
    return -1;
  }
  struct mallinfo2 mi = collect_mallinfo();
  fprintf(fp,
          "<malloc version=\"hz3-%s\">\n"
          "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
          "<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n"
          "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n"
          "<system type=\"max\" size=\"%zu\"/>\n"
          "<aspace type=\"total\" size=\"%zu\"/>\n"
          "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
          "<allocated size=\"%zu\"/>\n"
          "</malloc>\n",
          HZ3_VERSION_STRING, mi.fordblks, mi.hblks, mi.hblkhd, mi.arena + mi.hblkhd,
          mi.arena + mi.hblkhd, mi.arena, mi.arena, mi.uordblks + mi.hblkhd);
  return 0;
}

HZ3_API struct mallinfo mallinfo(void) {
  struct mallinfo2 m2 = collect_mallinfo();
  struct mallinfo mi;
  memset(&mi, 0, sizeof mi);
  mi.arena = (int)m2.arena;
  mi.fordblks = (int)m2.fordblks;
  mi.uordblks = (int)m2.uordblks;
  mi.hblks = (int)m2.hblks;
  mi.hblkhd = (int)m2.hblkhd;
  mi.keepcost = (int)m2.keepcost;
  return mi;
}

/* ---- C++ operator new and delete ----
 * Exported under their mangled names so that C++ programs reach hz3 without libstdc++'s
 * wrappers.  Written in C: libstdc++ is not linked into libhz3.so; the two functions a
 * failing `new` needs (the new-handler and the bad_alloc throw) are weak references that a
 * C++ program's libstdc++ resolves.  Without them (no libstdc++ loaded) a failed `new` aborts
 * with a message, which is what an uncaught bad_alloc would do. */
typedef void (*hz3_new_handler_t)(void);
extern hz3_new_handler_t hz3_std_get_new_handler(void) __asm__("_ZSt15get_new_handlerv")
    __attribute__((weak));
extern void hz3_std_throw_bad_alloc(void) __asm__("_ZSt17__throw_bad_allocv")
    __attribute__((weak, noreturn));

/* After an allocation failed: runs the new-handler and returns to retry, or throws/aborts
 * (nothrow: returns false instead). */
static HZ3_NOINLINE bool cxx_new_failed(bool nothrow) {
  hz3_new_handler_t handler = hz3_std_get_new_handler ? hz3_std_get_new_handler() : NULL;
  if (handler != NULL) {
    handler(); /* frees memory, throws, or aborts */
    return true;
  }
  if (nothrow) return false;
  if (hz3_std_throw_bad_alloc) hz3_std_throw_bad_alloc();
  hz3_fatal("operator new: out of memory (std::bad_alloc, no libstdc++ to throw it)");
}

static void *cxx_new(size_t n, size_t align, bool nothrow) {
  for (;;) {
    void *p = align <= HZ3_MIN_ALIGN ? malloc(n) : aligned_alloc_pow2(align, n);
    if (HZ3_LIKELY(p != NULL)) return p;
    if (!cxx_new_failed(nothrow)) return NULL;
  }
}

#define HZ3_CXX(sym) __asm__(sym) HZ3_EXPORT
void *hz3_new(size_t n) HZ3_CXX("_Znwm");
void *hz3_new_array(size_t n) HZ3_CXX("_Znam");
void *hz3_new_nothrow(size_t n, const void *tag) HZ3_CXX("_ZnwmRKSt9nothrow_t");
void *hz3_new_array_nothrow(size_t n, const void *tag) HZ3_CXX("_ZnamRKSt9nothrow_t");
void *hz3_new_aligned(size_t n, size_t al) HZ3_CXX("_ZnwmSt11align_val_t");
void *hz3_new_array_aligned(size_t n, size_t al) HZ3_CXX("_ZnamSt11align_val_t");
void *hz3_new_aligned_nothrow(size_t n, size_t al, const void *tag)
    HZ3_CXX("_ZnwmSt11align_val_tRKSt9nothrow_t");
void *hz3_new_array_aligned_nothrow(size_t n, size_t al, const void *tag)
    HZ3_CXX("_ZnamSt11align_val_tRKSt9nothrow_t");
void hz3_delete(void *p) HZ3_CXX("_ZdlPv");
void hz3_delete_array(void *p) HZ3_CXX("_ZdaPv");
void hz3_delete_sized(void *p, size_t n) HZ3_CXX("_ZdlPvm");
void hz3_delete_array_sized(void *p, size_t n) HZ3_CXX("_ZdaPvm");
void hz3_delete_nothrow(void *p, const void *tag) HZ3_CXX("_ZdlPvRKSt9nothrow_t");
void hz3_delete_array_nothrow(void *p, const void *tag) HZ3_CXX("_ZdaPvRKSt9nothrow_t");
void hz3_delete_aligned(void *p, size_t al) HZ3_CXX("_ZdlPvSt11align_val_t");
void hz3_delete_array_aligned(void *p, size_t al) HZ3_CXX("_ZdaPvSt11align_val_t");
void hz3_delete_sized_aligned(void *p, size_t n, size_t al) HZ3_CXX("_ZdlPvmSt11align_val_t");
void hz3_delete_array_sized_aligned(void *p, size_t n, size_t al) HZ3_CXX("_ZdaPvmSt11align_val_t");
void hz3_delete_aligned_nothrow(void *p, size_t al, const void *tag)
    HZ3_CXX("_ZdlPvSt11align_val_tRKSt9nothrow_t");
void hz3_delete_array_aligned_nothrow(void *p, size_t al, const void *tag)
    HZ3_CXX("_ZdaPvSt11align_val_tRKSt9nothrow_t");

void *hz3_new(size_t n) { return cxx_new(n, 0, false); }
void *hz3_new_array(size_t n) { return cxx_new(n, 0, false); }
void *hz3_new_nothrow(size_t n, const void *tag) {
  (void)tag;
  return cxx_new(n, 0, true);
}
void *hz3_new_array_nothrow(size_t n, const void *tag) {
  (void)tag;
  return cxx_new(n, 0, true);
}
void *hz3_new_aligned(size_t n, size_t al) { return cxx_new(n, al, false); }
void *hz3_new_array_aligned(size_t n, size_t al) { return cxx_new(n, al, false); }
void *hz3_new_aligned_nothrow(size_t n, size_t al, const void *tag) {
  (void)tag;
  return cxx_new(n, al, true);
}
void *hz3_new_array_aligned_nothrow(size_t n, size_t al, const void *tag) {
  (void)tag;
  return cxx_new(n, al, true);
}
/* Sized and aligned deletes: the page tag already names the class, so the size and alignment
 * are not needed to free. */
void hz3_delete(void *p) { free(p); }
void hz3_delete_array(void *p) { free(p); }
void hz3_delete_sized(void *p, size_t n) {
  (void)n;
  free(p);
}
void hz3_delete_array_sized(void *p, size_t n) {
  (void)n;
  free(p);
}
void hz3_delete_nothrow(void *p, const void *tag) {
  (void)tag;
  free(p);
}
void hz3_delete_array_nothrow(void *p, const void *tag) {
  (void)tag;
  free(p);
}
void hz3_delete_aligned(void *p, size_t al) {
  (void)al;
  free(p);
}
void hz3_delete_array_aligned(void *p, size_t al) {
  (void)al;
  free(p);
}
void hz3_delete_sized_aligned(void *p, size_t n, size_t al) {
  (void)n, (void)al;
  free(p);
}
void hz3_delete_array_sized_aligned(void *p, size_t n, size_t al) {
  (void)n, (void)al;
  free(p);
}
void hz3_delete_aligned_nothrow(void *p, size_t al, const void *tag) {
  (void)al, (void)tag;
  free(p);
}
void hz3_delete_array_aligned_nothrow(void *p, size_t al, const void *tag) {
  (void)al, (void)tag;
  free(p);
}
