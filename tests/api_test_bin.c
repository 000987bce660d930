/* api_test: the libc allocation contract under LD_PRELOAD=libhz3.so, case by case from the man
 * pages (malloc(3), posix_memalign(3), malloc_usable_size(3), mallopt(3), mallinfo2(3)). */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/preload_check.h"

static int all_zero(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

static void test_malloc_sizes(void) {
  void *p = malloc(0); /* a unique pointer that free accepts */
  CHECK(p != NULL);
  void *q = malloc(0);
  CHECK(q != NULL && q != p);
  free(p);
  free(q);
  free(NULL);
  size_t sizes[] = {1,    15,   16,    17,    2047,  2048,    2049,         4095,
                    4096, 4097, 65535, 65536, 65537, 1 << 20, (1 << 24) + 3};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    unsigned char *m = malloc(sizes[i]);
    CHECK(m != NULL);
    CHECK(((uintptr_t)m & 15) == 0);
    CHECK(malloc_usable_size(m) >= sizes[i]);
    memset(m, 0xA5, malloc_usable_size(m));
    free(m);
  }
  size_t impossible[] = {SIZE_MAX, SIZE_MAX / 2, SIZE_MAX - 4095, ((size_t)1 << 62) + 1};
  for (size_t i = 0; i < sizeof impossible / sizeof impossible[0]; i++) {
    errno = 0;
    CHECK(malloc(impossible[i]) == NULL);
    CHECK_EQ_LL(errno, ENOMEM);
  }
}

static void test_calloc(void) {
  errno = 0;
  CHECK(calloc(SIZE_MAX / 2, 3) == NULL);
  CHECK_EQ_LL(errno, ENOMEM);
  errno = 0;
  CHECK(calloc((size_t)1 << 33, (size_t)1 << 33) == NULL);
  CHECK_EQ_LL(errno, ENOMEM);
  /* Recycled memory comes back zeroed: dirty a block, free it, calloc the same class. */
  for (size_t n = 16; n <= 200000; n = n * 3 + 5) {
    unsigned char *d = malloc(n);
    memset(d, 0xFF, n);
    free(d);
    unsigned char *z = calloc(1, n);
    CHECK(z != NULL && all_zero(z, n));
    free(z);
  }
  unsigned char *z = calloc(0, 10);
  CHECK(z != NULL);
  free(z);
}

static void test_realloc(void) {
  char *p = realloc(NULL, 100); /* realloc(NULL, n) = malloc(n) */
  CHECK(p != NULL);
  for (int i = 0; i < 100; i++) p[i] = (char)i;
  char *q = realloc(p, 90); /* shrink in place */
  CHECK(q == p);
  q = realloc(q, 5000); /* grow: contents kept */
  CHECK(q != NULL);
  for (int i = 0; i < 90; i++) CHECK(q[i] == (char)i);
  q = realloc(q, 300000); /* into a large mapping */
  for (int i = 0; i < 90; i++) CHECK(q[i] == (char)i);
  memset(q + 90, 7, 300000 - 90);
  char *r = realloc(q, 3000000); /* large grows by remapping */
  CHECK(r != NULL && r[299999] == 7 && r[5] == 5);
  r = realloc(r, 40); /* back down to a small class */
  CHECK(r != NULL && r[5] == 5);
  errno = 0;
  char *s = realloc(r, SIZE_MAX - 10); /* failure keeps the block */
  CHECK(s == NULL && errno == ENOMEM);
  CHECK(r[5] == 5);
  CHECK(realloc(r, 0) == NULL); /* glibc: realloc(p, 0) frees p */
  errno = 0;
  CHECK(reallocarray(NULL, SIZE_MAX / 2, 4) == NULL && errno == ENOMEM);
  int *a = reallocarray(NULL, 100, sizeof(int));
  CHECK(a != NULL);
  a[99] = 1;
  a = reallocarray(a, 1000, sizeof(int));
  CHECK(a != NULL && a[99] == 1);
  free(a);
}

/* A buffer grown a quarter at a time through the big sizes: the first growth into them moves
 * it to a place with as much room after it, the next ones grow it there in place (not in the
 * check build, whose blocks carry a trailer and move); the contents survive every step. */
static void test_realloc_grows_in_place(void) {
  size_t n = 70000;
  unsigned char *p = malloc(n);
  CHECK(p != NULL);
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 7);
  p = realloc(p, 80000); /* 20 pages, with 20 more free after them */
  CHECK(p != NULL);
  int moves = 0;
  for (size_t m = 100000; m <= 160000; m += m / 4) { /* up to 40 pages */
    unsigned char *q = realloc(p, m);
    CHECK(q != NULL);
    moves += q != p;
    p = q;
    int kept = 1;
    for (size_t i = 0; i < n; i++) kept &= p[i] == (unsigned char)(i * 7);
    CHECK(kept);
    memset(p + n, 0xEE, m - n);
  }
  if (hz3_knob("check") == 0) CHECK_EQ_LL(moves, 0);
  CHECK(malloc_usable_size(p) >= 156250 && p[156249] == 0xEE);
  /* Cut to less than half, still a big size: it stays where it is, its tail given back (not in
   * the check build). */
  unsigned char *cut = realloc(p, n);
  CHECK(cut != NULL);
  if (hz3_knob("check") == 0) CHECK(cut == p);
  CHECK(malloc_usable_size(cut) >= n && malloc_usable_size(cut) < 156250 / 2);
  int kept = 1;
  for (size_t i = 0; i < n; i++) kept &= cut[i] == (unsigned char)(i * 7);
  CHECK(kept);
  free(cut);
}

static void test_alignment(void) {
  for (size_t align = 1; align <= (1u << 20); align <<= 1) {
    void *p = NULL;
    int rc = posix_memalign(&p, align, 100);
    if (align < sizeof(void *)) {
      CHECK_EQ_LL(rc, EINVAL);
      continue;
    }
    CHECK_EQ_LL(rc, 0);
    CHECK(((uintptr_t)p & (align - 1)) == 0);
    CHECK(malloc_usable_size(p) >= 100);
    memset(p, 1, 100);
    free(p);
    void *a = aligned_alloc(align, 3 * align);
    CHECK(a != NULL && ((uintptr_t)a & (align - 1)) == 0);
    free(a);
    void *m = memalign(align, 5000);
    CHECK(m != NULL && ((uintptr_t)m & (align - 1)) == 0);
    free(m);
  }
  void *p = (void *)1;
  CHECK_EQ_LL(posix_memalign(&p, 24, 10), EINVAL); /* not a power of two */
  CHECK(p == (void *)1);                           /* untouched on failure */
  CHECK_EQ_LL(posix_memalign(&p, 0, 10), EINVAL);
  CHECK_EQ_LL(posix_memalign(&p, 64, SIZE_MAX - 100), ENOMEM);
  errno = 0;
  CHECK(aligned_alloc(3, 10) == NULL && errno == EINVAL);
  void *m = memalign(24, 100); /* glibc rounds a non-power-of-two up */
  CHECK(m != NULL && ((uintptr_t)m & 31) == 0);
  free(m);
  long page = sysconf(_SC_PAGESIZE);
  void *v = valloc(10);
  CHECK(v != NULL && ((uintptr_t)v % (uintptr_t)page) == 0);
  free(v);
  void *pv = pvalloc(10);
  CHECK(pv != NULL && ((uintptr_t)pv % (uintptr_t)page) == 0);
  CHECK(malloc_usable_size(pv) >= (size_t)page);
  free(pv);
  errno = 0;
  CHECK(pvalloc(SIZE_MAX - 10) == NULL && errno == ENOMEM);
}

static void test_extras(void) {
  CHECK(malloc_usable_size(NULL) == 0);
  CHECK_EQ_LL(mallopt(M_TRIM_THRESHOLD, 1000), 1);
  CHECK_EQ_LL(mallopt(12345, 1), 0);
  void *big = malloc(10 << 20);
  struct mallinfo2 mi = mallinfo2();
  CHECK(mi.hblks >= 1 && mi.hblkhd >= (10u << 20));
  CHECK(mi.arena > 0);
  free(big);
  /* uordblks counts the bytes handed out, not whole segments: 1 000 objects of 1 000 B (class
   * 1 008 B) add about 1 MB, where a segment count would add 2 MiB steps or nothing. */
  enum { N = 1000 };
  static void *small[N];
  size_t before = mallinfo2().uordblks;
  for (int i = 0; i < N; i++) small[i] = malloc(1000);
  size_t after = mallinfo2().uordblks;
  CHECK(after >= before + N * 1000 && after <= before + N * 1008 + (64u << 10));
  /* malloc_info writes glibc's XML shape with the same figures. */
  char xml[2048];
  FILE *f = fmemopen(xml, sizeof xml, "w");
  CHECK(f != NULL && malloc_info(0, f) == 0);
  fclose(f);
  CHECK(strstr(xml, "<malloc version=\"hz3-") != NULL && strstr(xml, "</malloc>") != NULL);
  CHECK(malloc_info(1, stderr) == -1 && errno == EINVAL);
  for (int i = 0; i < N; i++) free(small[i]);
  int r = malloc_trim(0);
  CHECK(r == 0 || r == 1);
}

/* jemalloc's extension API, as hz3 exports it (preload/jemalloc_api.c); looked up at run
 * time, since this program is not linked against any allocator library. */
static void *(*mallocx)(size_t size, int flags);
static void *(*rallocx)(void *ptr, size_t size, int flags);
static size_t (*xallocx)(void *ptr, size_t size, size_t extra, int flags);
static size_t (*sallocx)(const void *ptr, int flags);
static void (*dallocx)(void *ptr, int flags);
static void (*sdallocx)(void *ptr, size_t size, int flags);
static size_t (*nallocx)(size_t size, int flags);
static int (*mallctl)(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

static void test_jemalloc_api(void) {
  *(void **)&mallocx = dlsym(RTLD_DEFAULT, "mallocx");
  *(void **)&rallocx = dlsym(RTLD_DEFAULT, "rallocx");
  *(void **)&xallocx = dlsym(RTLD_DEFAULT, "xallocx");
  *(void **)&sallocx = dlsym(RTLD_DEFAULT, "sallocx");
  *(void **)&dallocx = dlsym(RTLD_DEFAULT, "dallocx");
  *(void **)&sdallocx = dlsym(RTLD_DEFAULT, "sdallocx");
  *(void **)&nallocx = dlsym(RTLD_DEFAULT, "nallocx");
  *(void **)&mallctl = dlsym(RTLD_DEFAULT, "mallctl");
  if (!mallocx || !rallocx || !xallocx || !sallocx || !dallocx || !sdallocx || !nallocx ||
      !mallctl) {
    CHECK(!"libhz3.so exports the jemalloc API");
    return;
  }
  CHECK_EQ_LL(nallocx(100, 0), 112); /* hz3's class, not jemalloc's */
  CHECK_EQ_LL(nallocx(4097, 0), 4608);
  CHECK_EQ_LL(nallocx(400000, 0), 425984); /* a big class */
  void *bigp = mallocx(400000, 0);
  CHECK(bigp != NULL && sallocx(bigp, 0) == malloc_usable_size(bigp));
  dallocx(bigp, 0);
  CHECK_EQ_LL(nallocx(100, 12), 4096); /* MALLOCX_LG_ALIGN(12) */
  char *p = mallocx(100, 0x40 | 6);    /* zeroed, 64-aligned */
  CHECK(p != NULL && ((uintptr_t)p & 63) == 0 && all_zero((unsigned char *)p, 100));
  CHECK(sallocx(p, 0) == malloc_usable_size(p));
  memset(p, 3, 100);
  p = rallocx(p, 5000, 0x40);
  CHECK(p != NULL && p[99] == 3 && all_zero((unsigned char *)p + 100, 4900));
  sdallocx(p, 5000, 0);
  dallocx(mallocx(1 << 20, 0), 0);
  /* xallocx: in place or not at all.  A small block keeps its size; a big one that realloc
   * moved to grow (placed with room after it) grows there, the new bytes zeroed, then is cut. */
  char *s = mallocx(100, 0);
  CHECK(xallocx(s, 5000, 0, 0) == malloc_usable_size(s) && malloc_usable_size(s) < 5000);
  s = rallocx(s, 80000, 0);
  CHECK(s != NULL);
  memset(s, 9, 80000);
  size_t grown = xallocx(s, 150000, 1000000, 0x40); /* zeroed; the extra if there is room */
  if (hz3_knob("check") == 0) {
    CHECK(grown >= 150000 && grown == malloc_usable_size(s));
    CHECK(s[79999] == 9 && all_zero((unsigned char *)s + 81920, grown - 81920));
    CHECK(xallocx(s, 70000, 0, 0) < 80000 && s[69999] == 9);
  }
  dallocx(s, 0);
  size_t allocated = 0, len = sizeof allocated;
  void *held = malloc(1 << 20);
  CHECK_EQ_LL(mallctl("stats.allocated", &allocated, &len, NULL, 0), 0);
  CHECK(allocated >= (1u << 20));
  size_t active = 0, resident = 0, mapped = 0;
  CHECK_EQ_LL(mallctl("stats.active", &active, &len, NULL, 0), 0);
  CHECK_EQ_LL(mallctl("stats.resident", &resident, &len, NULL, 0), 0);
  CHECK_EQ_LL(mallctl("stats.mapped", &mapped, &len, NULL, 0), 0);
  CHECK(allocated <= active && active <= resident && resident <= mapped);
  free(held);
  CHECK_EQ_LL(mallctl("no.such.name", NULL, NULL, NULL, 0), ENOENT);
  CHECK_EQ_LL(mallctl("arena.4096.purge", NULL, NULL, NULL, 0), 0);
  unsigned narenas = 0;
  len = sizeof narenas;
  CHECK_EQ_LL(mallctl("arenas.narenas", &narenas, &len, NULL, 0), 0);
  CHECK(narenas >= 1 && narenas <= (unsigned)sysconf(_SC_NPROCESSORS_CONF)); /* one per CPU */
}

/* RssAnon of /proc/self/status in bytes: what the kernel says this process holds. */
static long long rss_anon_bytes(void) {
  char text[4096];
  FILE *f = fopen("/proc/self/status", "r");
  long long kb = -1;
  if (f == NULL) return -1;
  while (fgets(text, sizeof text, f))
    if (sscanf(text, "RssAnon: %lld kB", &kb) == 1) break;
  fclose(f);
  return kb * 1024;
}

static long long resident_bytes(void) {
  size_t v = 0, len = sizeof v;
  uint64_t epoch = 1;
  mallctl("epoch", NULL, NULL, &epoch, sizeof epoch);
  return mallctl("stats.resident", &v, &len, NULL, 0) == 0 ? (long long)v : -1;
}

/* hz3's stats.resident moves with the kernel's count: up by what a burst touches, down by
 * what freeing gives back (small objects in runs and a large block), each within 10 % + 4 MiB
 * of RssAnon's move; a resident figure that counted mappings or segments would fail this. */
static void test_resident_matches_proc(void) {
  enum { N = 48 * 1024, SIZE = 1024 };
  static char *objs[N];
  const long long big = 24ll << 20;
  malloc_trim(0);
  long long res0 = resident_bytes(), anon0 = rss_anon_bytes();
  for (int i = 0; i < N; i++) {
    objs[i] = malloc(SIZE);
    if (objs[i]) memset(objs[i], 1, SIZE);
  }
  char *block = malloc(big);
  if (block) memset(block, 1, big);
  long long res1 = resident_bytes(), anon1 = rss_anon_bytes();
  for (int i = 0; i < N; i++) free(objs[i]);
  free(block);
  malloc_trim(0);
  long long res2 = resident_bytes(), anon2 = rss_anon_bytes();
  fprintf(stderr, "resident: hz3 %lld -> %lld -> %lld KiB, RssAnon %lld -> %lld -> %lld KiB\n",
          res0 >> 10, res1 >> 10, res2 >> 10, anon0 >> 10, anon1 >> 10, anon2 >> 10);
  CHECK(res0 >= 0 && anon0 >= 0);
  long long grew = res1 - res0, anon_grew = anon1 - anon0;
  CHECK(grew >= (long long)N * SIZE + big);
  CHECK(llabs(grew - anon_grew) <= anon_grew / 10 + (4ll << 20));
  long long shrank = res1 - res2, anon_shrank = anon1 - anon2;
  CHECK(anon_shrank >= ((long long)N * SIZE + big) * 9 / 10);
  CHECK(llabs(shrank - anon_shrank) <= anon_shrank / 10 + (4ll << 20));
  CHECK(res2 <= anon2);
}

/* Blocks above 64 KiB up to 2 MiB are runs of the arena, one each (big classes): sized by
 * class, page-aligned, zeroed by calloc when reused, moved by realloc with their contents in
 * every direction, freed by another thread, and in the jemalloc API's sizes. */
static void *free_in_thread(void *p) {
  free(p);
  return NULL;
}

static void test_big_blocks(void) {
  /* Each, with the check build's 16-byte trailer, still a big class. */
  size_t sizes[] = {65537, 100000, 131072, 300000, 520000, 700000, 1300000, 2090000};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i], mappings = mallinfo2().hblks;
    unsigned char *p = malloc(n);
    CHECK(p != NULL && ((uintptr_t)p & 4095) == 0);
    CHECK_EQ_LL(mallinfo2().hblks, mappings); /* in the arena, not a mapping of its own */
    if (p == NULL) continue;
    size_t usable = malloc_usable_size(p);
    CHECK(usable >= n && usable - n <= n / 8); /* a class, not a page-rounded mapping */
    memset(p, 0xAB, usable);
    free(p);
    unsigned char *z = calloc(1, n); /* most likely the same run again: dirty */
    CHECK(z != NULL && all_zero(z, n));
    free(z);
  }
  /* realloc across the lines: medium -> big -> large -> big -> medium. */
  size_t steps[] = {60000, 200000, 1500000, 3u << 20, 1200000, 400000, 5000};
  unsigned char *r = malloc(1000);
  for (int i = 0; i < 1000; i++) r[i] = (unsigned char)(i * 7);
  for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
    r = realloc(r, steps[s]);
    CHECK(r != NULL);
    if (r == NULL) return;
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= r[i] == (unsigned char)(i * 7);
    CHECK(same);
  }
  free(r);
  void *a = aligned_alloc(4096, 200000), *b = aligned_alloc(8192, 200000);
  CHECK(a != NULL && ((uintptr_t)a & 4095) == 0 && b != NULL && ((uintptr_t)b & 8191) == 0);
  free(a);
  free(b);
  /* Freed by another thread (its own shard or not): the next allocations still work. */
  for (int k = 0; k < 8; k++) {
    void *p = malloc(150000);
    pthread_t t;
    CHECK(p != NULL && pthread_create(&t, NULL, free_in_thread, p) == 0);
    pthread_join(t, NULL);
  }
  void *q = malloc(150000);
  CHECK(q != NULL);
  free(q);
}

int main(void) {
  require_hz3_loaded();
  test_big_blocks();
  test_malloc_sizes();
  test_calloc();
  test_realloc();
  test_realloc_grows_in_place();
  test_alignment();
  test_extras();
  test_jemalloc_api();
  test_resident_matches_proc();
  return checks_summary("api_test");
}
