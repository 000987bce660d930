/* trim_test: memory really goes back (in the manner of tcmalloc's releasing_test).  Threads
 * allocate ~200 MiB and free it; some exit, some stay parked; then malloc_trim(0) from main
 * must bring RSS back near where it started, whatever knobs the .so was built with, and
 * hz3_epoch_force must be callable.  RSS is read after, never during, the allocation. */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "tests/preload_check.h"

#define THREADS 4
#define OBJS 25000 /* per thread, 256..3840 B: ~50 MiB each */

static pthread_barrier_t g_freed, g_release;

static void burst(uintptr_t seed) {
  static __thread void *objs[OBJS];
  for (int i = 0; i < OBJS; i++) {
    size_t n = 256 + (size_t)((seed * 7919 + (uintptr_t)i * 104729) % 3585);
    objs[i] = malloc(n);
    CHECK(objs[i] != NULL);
    memset(objs[i], 0x5A, n);
  }
  for (int i = 0; i < OBJS; i++) free(objs[i]);
}

static void *exiting(void *arg) {
  burst((uintptr_t)arg);
  return NULL;
}

static void *parked(void *arg) {
  burst((uintptr_t)arg);
  pthread_barrier_wait(&g_freed);
  pthread_barrier_wait(&g_release); /* parked: alive, idle, holding its cache */
  return NULL;
}

int main(void) {
  require_hz3_loaded();
  void (*epoch_force)(void);
  *(void **)&epoch_force = dlsym(RTLD_DEFAULT, "hz3_epoch_force"); /* POSIX: no cast */
  CHECK(epoch_force != NULL);
  long max_bytes = hz3_knob("tcache_max_bytes");
  CHECK(max_bytes >= 0);
  free(malloc(100)); /* main's cache set up before the baseline */
  long base = rss_kb();
  pthread_barrier_init(&g_freed, NULL, THREADS / 2 + 1);
  pthread_barrier_init(&g_release, NULL, THREADS / 2 + 1);
  pthread_t t[THREADS];
  for (uintptr_t i = 0; i < THREADS; i++)
    CHECK(pthread_create(&t[i], NULL, i % 2 ? parked : exiting, (void *)(i + 1)) == 0);
  for (int i = 0; i < THREADS; i += 2) pthread_join(t[i], NULL);
  pthread_barrier_wait(&g_freed);
  long before_trim = rss_kb();
  if (epoch_force) epoch_force();
  int released = malloc_trim(0);
  long after_trim = rss_kb();
  fprintf(stderr, "rss: baseline %ld KiB, after the frees %ld KiB, after malloc_trim %ld KiB\n",
          base, before_trim, after_trim);
  /* 200 MiB were touched.  Left: metadata and the parked threads' caches, which trim cannot
   * reach (a thread's cache is its own): at most tcache_max_bytes each with a byte budget, else
   * bounded by the per-class caps (well under 64 MiB for these sizes).  A trim that did
   * nothing would leave about 200 MiB. */
  long parked_kb = max_bytes > 0 ? max_bytes / 1024 : 64 * 1024;
  CHECK(after_trim - base < 16 * 1024 + (THREADS / 2) * parked_kb);
  CHECK(released == 1 || before_trim - base < 16 * 1024);
  /* Trimming again at once finds nothing more to give and says so. */
  malloc_trim(0);
  CHECK(malloc_trim(0) == 0);
  pthread_barrier_wait(&g_release);
  for (int i = 1; i < THREADS; i += 2) pthread_join(t[i], NULL);
  /* Memory still works after trimming: reuse purged pages. */
  char *p = malloc(3000);
  CHECK(p != NULL);
  for (int i = 0; i < 3000; i++) p[i] = (char)i;
  free(p);
  return checks_summary("trim_test");
}
