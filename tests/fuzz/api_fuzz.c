/* api_fuzz: the whole library as a program sees it.  hz3's sources are linked into the
 * fuzzer, so hz3 is this process's malloc (libFuzzer's own allocations included), and each
 * input is a sequence of calls to every entry point: malloc, calloc, realloc, reallocarray,
 * free, aligned_alloc, posix_memalign, memalign, valloc, malloc_usable_size, malloc_trim, the
 * C++-style sized free (free after usable_size) and a hand-off of live objects to another
 * thread that frees them.  Every live object carries a pattern derived from its address and
 * size, checked before it is resized or freed; alignments and zeroing are checked when it is
 * made.  Built by run_fuzzers.sh without ASan (which would replace malloc). */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <string.h>

#include "preload/hz3.h"
#include "tests/fuzz/fuzz_util.h"

#define SLOTS 64

typedef struct {
  unsigned char *p;
  size_t n;
} obj_t;

static unsigned char pattern(const unsigned char *p, size_t i) {
  return (unsigned char)(((uintptr_t)p >> 4) * 31u + i * 7u + 1u);
}

static void fill(obj_t *o) {
  for (size_t i = 0; i < o->n && i < 256; i++) o->p[i] = pattern(o->p, i);
  if (o->n > 256) o->p[o->n - 1] = pattern(o->p, o->n - 1);
}

static void verify(const obj_t *o, size_t upto, const char *when) {
  size_t n = upto < o->n ? upto : o->n;
  for (size_t i = 0; i < n && i < 256; i++)
    FUZZ_REQUIRE(o->p[i] == pattern(o->p, i), "%s: object %p byte %zu changed", when, (void *)o->p,
                 i);
  if (n > 256 && n == o->n)
    FUZZ_REQUIRE(o->p[n - 1] == pattern(o->p, n - 1), "%s: object %p last byte changed", when,
                 (void *)o->p);
  FUZZ_REQUIRE(malloc_usable_size(o->p) >= o->n, "%s: usable size %zu < %zu", when,
               malloc_usable_size(o->p), o->n);
}

/* Sizes that cover small, medium and large classes and their edges. */
static size_t pick_size(fuzz_in_t *in) {
  uint32_t k = fuzz_u8(in);
  switch (k % 8) {
    case 0:
      return fuzz_u8(in); /* 0..255 */
    case 1:
      return 2048 + fuzz_u8(in) - 128; /* the small/medium edge */
    case 2:
      return fuzz_u16(in); /* up to 64 KiB */
    case 3:
      return 65536 + fuzz_u8(in) - 128; /* the medium/large edge */
    case 4:
      return (size_t)fuzz_u16(in) * 16; /* up to 1 MiB */
    case 5:
      return (size_t)1 << (fuzz_u8(in) % 22); /* powers of two */
    default:
      return fuzz_u16(in) % 4096;
  }
}

static void *free_all(void *arg) {
  obj_t *objs = arg;
  for (int i = 0; i < SLOTS; i++) {
    if (objs[i].p) verify(&objs[i], objs[i].n, "handed-off free");
    free(objs[i].p);
  }
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int checked;
  if (!checked) { /* the malloc in use is hz3's, or this fuzzes nothing */
    void *probe = malloc(100);
    hz3_stats_t st;
    hz3_stats_get(&st, sizeof st);
    FUZZ_REQUIRE(st.segments_in_use > 0, "hz3 is not this process's malloc");
    free(probe);
    checked = 1;
  }
  fuzz_in_t in = {data, size, 0};
  obj_t objs[SLOTS];
  memset(objs, 0, sizeof objs);
  while (fuzz_more(&in)) {
    uint32_t op = fuzz_u8(&in) % 12, s = fuzz_u8(&in) % SLOTS;
    obj_t *o = &objs[s];
    if (o->p != NULL && op < 10) { /* the slot is taken: resize or free it */
      verify(o, o->n, "before use");
      if (op < 4) {
        size_t n = pick_size(&in);
        unsigned char *q = op < 2 ? realloc(o->p, n) : reallocarray(o->p, n == 0 ? 1 : n, 1);
        if (n == 0 && op < 2) { /* glibc: realloc(p, 0) frees p */
          o->p = NULL;
          continue;
        }
        FUZZ_REQUIRE(q != NULL, "realloc to %zu failed", n);
        obj_t moved = {q, o->n < n ? o->n : n};
        /* what survives a resize is the old contents, laid out for the old address */
        for (size_t i = 0; i < moved.n && i < 256; i++)
          FUZZ_REQUIRE(q[i] == pattern(o->p, i), "realloc lost byte %zu", i);
        o->p = q;
        o->n = n;
        fill(o);
      } else {
        free(o->p);
        o->p = NULL;
      }
      continue;
    }
    if (o->p != NULL) continue;
    size_t n = pick_size(&in), align = (size_t)16 << (fuzz_u8(&in) % 9); /* 16 .. 4096 */
    unsigned char *p = NULL;
    switch (op) {
      case 0:
      case 1:
      case 2:
        p = malloc(n);
        break;
      case 3: {
        size_t count = 1 + fuzz_u8(&in) % 8;
        p = calloc(count, n / count + 1);
        n = count * (n / count + 1);
        for (size_t i = 0; p && i < n; i += 1 + i / 3)
          FUZZ_REQUIRE(p[i] == 0, "calloc byte %zu not zero", i);
        break;
      }
      case 4:
        p = aligned_alloc(align, n);
        break;
      case 5: {
        void *q = NULL;
        FUZZ_REQUIRE(posix_memalign(&q, align, n) == 0, "posix_memalign(%zu, %zu) failed", align,
                     n);
        p = q;
        break;
      }
      case 6:
        p = memalign(align, n);
        break;
      case 7:
        p = valloc(n), align = 4096;
        break;
      case 8:
        malloc_trim(0);
        continue;
      case 9: { /* hand the live objects to a thread that frees them */
        pthread_t t;
        FUZZ_REQUIRE(pthread_create(&t, NULL, free_all, objs) == 0, "pthread_create");
        pthread_join(t, NULL);
        memset(objs, 0, sizeof objs);
        continue;
      }
      default:
        p = malloc(n);
        break;
    }
    FUZZ_REQUIRE(p != NULL, "allocation of %zu (op %u) failed", n, op);
    if (op >= 4 && op <= 7)
      FUZZ_REQUIRE(((uintptr_t)p & (align - 1)) == 0, "%p not aligned to %zu", (void *)p, align);
    FUZZ_REQUIRE(((uintptr_t)p & 15) == 0, "%p not 16-byte aligned", (void *)p);
    o->p = p;
    o->n = n;
    fill(o);
  }
  for (int i = 0; i < SLOTS; i++) {
    if (objs[i].p) verify(&objs[i], objs[i].n, "final free");
    free(objs[i].p);
  }
  return 0;
}
