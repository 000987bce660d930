/* preload/jemalloc_api.c: jemalloc's extension API, answered by hz3.
 *
 * Programs built against jemalloc call more than malloc: Debian's redis-server calls mallctl,
 * nallocx and malloc_stats_print from libjemalloc even when another allocator is preloaded.
 * Exporting these from libhz3.so makes those calls bind here, so no jemalloc function ever
 * receives an hz3 pointer.  What they do:
 *   mallocx/rallocx/xallocx/sallocx/dallocx/sdallocx/nallocx  hz3's own allocation, with
 *     MALLOCX_LG_ALIGN (low 6 bits) and MALLOCX_ZERO (0x40) honoured, other flags (arena,
 *     tcache) ignored; nallocx gives hz3's size-class rounding.
 *   mallctl  a small set of names (below); others answer ENOENT, as jemalloc does for names it
 *     does not know.  mallctlnametomib/mallctlbymib answer ENOENT.
 *   malloc_stats_print  hz3's counters, through the caller's write callback. */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "preload/hz3.h"
#include "preload/hz3_preload.h"

#define JE_API HZ3_EXPORT
#define MALLOCX_ZERO 0x40
#define LG_ALIGN(flags) ((flags)&0x3f)

extern void *hz3_aligned_or_plain(size_t align, size_t n); /* preload.c */

static void *alloc_flags(size_t n, int flags) {
  size_t align = LG_ALIGN(flags) ? (size_t)1 << LG_ALIGN(flags) : 0;
  void *p = hz3_aligned_or_plain(align, n);
  if (p != NULL && (flags & MALLOCX_ZERO)) memset(p, 0, n);
  return p;
}

JE_API void *mallocx(size_t n, int flags) { return alloc_flags(n == 0 ? 1 : n, flags); }

JE_API void *rallocx(void *p, size_t n, int flags) {
  size_t old = malloc_usable_size(p);
  size_t align = LG_ALIGN(flags) ? (size_t)1 << LG_ALIGN(flags) : 0;
  void *q;
  if (align == 0 || ((uintptr_t)p & (align - 1)) == 0) {
    q = realloc(p, n == 0 ? 1 : n);
  } else {
    q = alloc_flags(n, 0);
    if (q != NULL) {
      memcpy(q, p, old < n ? old : n);
      free(p);
    }
  }
  if (q != NULL && (flags & MALLOCX_ZERO) && n > old) memset((char *)q + old, 0, n - old);
  return q;
}

/* In place only (jemalloc's contract: the resulting size, possibly unchanged): a big block
 * grows into free pages after it, to n + extra if they are there, else to n if they are, or
 * is cut to n + extra; other blocks keep the size they have (hz3 resizes them by moving). */
JE_API size_t xallocx(void *p, size_t n, size_t extra, int flags) {
  size_t old = malloc_usable_size(p);
  size_t most = n + extra < n ? SIZE_MAX : n + extra;
  size_t now = old;
  if (most > old) {
    now = hz3_resize_in_place(p, most);
    if (now < n) now = hz3_resize_in_place(p, n);
  } else if (most < old) {
    now = hz3_resize_in_place(p, most);
  }
  if ((flags & MALLOCX_ZERO) && now > old) memset((char *)p + old, 0, now - old);
  return now;
}

JE_API size_t sallocx(const void *p, int flags) {
  (void)flags;
  return malloc_usable_size((void *)p);
}

JE_API void dallocx(void *p, int flags) {
  (void)flags;
  free(p);
}

JE_API void sdallocx(void *p, size_t n, int flags) {
  (void)n, (void)flags;
  free(p);
}

JE_API size_t nallocx(size_t n, int flags) {
  size_t align = LG_ALIGN(flags) ? (size_t)1 << LG_ALIGN(flags) : 0;
  if (n == 0) n = 1;
  if (n <= HZ3_MEDIUM_MAX && align <= HZ3_MIN_ALIGN) return hz3_class_to_size(hz3_size_to_class(n));
  if (n <= HZ3_MEDIUM_MAX && align <= HZ3_PAGE_SIZE) {
    int c = hz3_class_for_aligned(n, align);
    if (c >= 0) return hz3_class_to_size((uint32_t)c);
  }
  if (n > HZ3_MEDIUM_MAX && n <= HZ3_BIG_MAX && align <= HZ3_PAGE_SIZE)
    return hz3_class_to_size(hz3_big_size_to_class(n));
  size_t pages = (n + HZ3_PAGE_SIZE - 1) & ~(HZ3_PAGE_SIZE - 1);
  return pages < n ? 0 : pages;
}

/* Bytes of hz3's memory: active = pages of runs holding objects (plus live large objects);
 * resident = pages of used segments not returned to the OS (plus large). */
static void memory_bytes(size_t *active, size_t *resident, size_t *mapped) {
  hz3_segment_pages_t n = {0, 0, 0};
  if (__atomic_load_n(&hz3_g.ready, __ATOMIC_ACQUIRE)) n = hz3_segment_count_pages(&hz3_g.pool);
  size_t large = __atomic_load_n(&hz3_g.large.mapped_bytes, __ATOMIC_RELAXED);
  *active = n.busy * HZ3_PAGE_SIZE + large;
  *resident = n.resident * HZ3_PAGE_SIZE + large;
  *mapped = n.segments * HZ3_SEG_SIZE + large;
}

static int read_value(void *oldp, size_t *oldlenp, const void *value, size_t len) {
  if (oldp == NULL || oldlenp == NULL) return 0;
  if (*oldlenp != len) return EINVAL;
  memcpy(oldp, value, len);
  return 0;
}

static uint64_t g_mallctl_epoch = 1;

JE_API int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) {
  if (name == NULL) return EINVAL;
  size_t active, resident, mapped;
  if (strcmp(name, "epoch") == 0) {
    if (newp != NULL) __atomic_fetch_add(&g_mallctl_epoch, 1, __ATOMIC_RELAXED);
    uint64_t e = __atomic_load_n(&g_mallctl_epoch, __ATOMIC_RELAXED);
    return read_value(oldp, oldlenp, &e, sizeof e);
  }
  if (strncmp(name, "stats.", 6) == 0) {
    memory_bytes(&active, &resident, &mapped);
    size_t v;
    if (strcmp(name, "stats.allocated") == 0)
      v = hz3_g.ready ? hz3_central_bytes_out(&hz3_g.central) + hz3_g.large.mapped_bytes : 0;
    else if (strcmp(name, "stats.active") == 0)
      v = active;
    else if (strcmp(name, "stats.resident") == 0)
      v = resident;
    else if (strcmp(name, "stats.mapped") == 0)
      v = mapped;
    else if (strcmp(name, "stats.retained") == 0 || strcmp(name, "stats.metadata") == 0)
      v = 0;
    else
      return ENOENT;
    return read_value(oldp, oldlenp, &v, sizeof v);
  }
  if (strcmp(name, "thread.tcache.flush") == 0) {
    hz3_tcache_flush_all(&hz3_t_tcache);
    return 0;
  }
  /* "arena.<i>.purge" and "arena.<i>.decay" (MALLCTL_ARENAS_ALL = 4096 included): trim. */
  if (strncmp(name, "arena.", 6) == 0 &&
      (strstr(name, ".purge") != NULL || strstr(name, ".decay") != NULL)) {
    malloc_trim(0);
    return 0;
  }
  if (strcmp(name, "arenas.narenas") == 0) {
    /* hz3's arenas in jemalloc's sense: the shards threads are spread over (one per CPU). */
    unsigned n = __atomic_load_n(&hz3_g.ready, __ATOMIC_ACQUIRE) ? hz3_g.shards_used : 1;
    return read_value(oldp, oldlenp, &n, sizeof n);
  }
  if (strcmp(name, "arenas.page") == 0) {
    size_t page = HZ3_PAGE_SIZE;
    return read_value(oldp, oldlenp, &page, sizeof page);
  }
  if (strcmp(name, "version") == 0) {
    const char *v = "hz3 0.1.0 (jemalloc API subset)";
    return read_value(oldp, oldlenp, &v, sizeof v);
  }
  (void)newlen;
  return ENOENT;
}

JE_API int mallctlnametomib(const char *name, size_t *mibp, size_t *miblenp) {
  (void)name, (void)mibp, (void)miblenp;
  return ENOENT;
}

JE_API int mallctlbymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                        size_t newlen) {
  (void)mib, (void)miblen, (void)oldp, (void)oldlenp, (void)newp, (void)newlen;
  return ENOENT;
}

JE_API void malloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque,
                               const char *opts) {
  (void)opts;
  if (write_cb == NULL) {
    hz3_stats_print(2);
    return;
  }
  hz3_stats_t s;
  hz3_stats_get(&s, sizeof s);
  size_t active, resident, mapped;
  memory_bytes(&active, &resident, &mapped);
  char line[256];
  hz3_format(line, sizeof line, "hz3 (jemalloc API subset): active %zu, resident %zu, mapped %zu\n",
             active, resident, mapped);
  write_cb(cbopaque, line);
#define HZ3_STAT_LINE(name, unit, doc)                                                            \
  hz3_format(line, sizeof line, "  %-24s %12llu %s\n", #name, (unsigned long long)s.name, #unit); \
  write_cb(cbopaque, line);
  HZ3_STAT_FIELDS(HZ3_STAT_LINE)
#undef HZ3_STAT_LINE
}
