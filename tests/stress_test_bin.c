/* stress_test: in the manner of mimalloc's test-stress.  Do not use it as a benchmark.
 * Rounds of threads allocate random sizes (mostly small, some medium and large), write a cookie
 * into every object and check it before freeing, hand objects to other threads through shared
 * slots, and exit, to be re-created next round with what they left behind.  The seed is printed
 * at start; --scale=N multiplies the work (soak runs: bazel test //tests:stress_test
 * --test_arg=--scale=50), --seed=S replays a run. */
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "tests/preload_check.h"

#define THREADS 6
#define SLOTS 4096

static void *volatile g_slots[SLOTS]; /* shared: objects handed between threads */
static size_t g_sizes[SLOTS];
static pthread_mutex_t g_locks[64];
static long g_scale = 1;
static uint64_t g_seed;
static volatile long g_bad;

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static size_t pick_size(uint64_t *s) {
  uint64_t r = rnd(s) % 1000;
  if (r < 850) return 1 + rnd(s) % 256;
  if (r < 990) return 257 + rnd(s) % 65000;
  return 65537 + rnd(s) % 1000000;
}

static void *make(size_t n, uint64_t *s) {
  uint64_t *p = malloc(n);
  CHECK(p != NULL);
  if (p == NULL) return NULL;
  uint64_t cookie = (uintptr_t)p ^ n ^ 0xC00C1Eull;
  size_t words = n / 8;
  for (size_t i = 0; i < words && i < 16; i++) p[i] = cookie + i;
  if (words > 16) p[words - 1] = cookie; /* and the last word */
  (void)s;
  return p;
}

static void check_and_free(void *vp, size_t n) {
  uint64_t *p = vp;
  uint64_t cookie = (uintptr_t)p ^ n ^ 0xC00C1Eull;
  size_t words = n / 8;
  for (size_t i = 0; i < words && i < 16; i++)
    if (p[i] != cookie + i) __atomic_fetch_add(&g_bad, 1, __ATOMIC_RELAXED);
  if (words > 16 && p[words - 1] != cookie) __atomic_fetch_add(&g_bad, 1, __ATOMIC_RELAXED);
  free(p);
}

/* Puts (p, n) into a random shared slot and returns what was there (NULL if empty). */
static void *swap_shared(uint64_t *s, void *p, size_t n, size_t *old_n) {
  int j = (int)(rnd(s) % SLOTS);
  pthread_mutex_t *l = &g_locks[j % 64];
  pthread_mutex_lock(l);
  void *theirs = g_slots[j];
  *old_n = g_sizes[j];
  g_slots[j] = p;
  g_sizes[j] = n;
  pthread_mutex_unlock(l);
  return theirs;
}

static void *worker(void *arg) {
  uint64_t s = g_seed ^ ((uintptr_t)arg * 0x9E3779B97F4A7C15ull) ^ 1;
  enum { MINE = 200 };
  void *mine[MINE] = {0};
  size_t sz[MINE] = {0};
  long steps = 20000 * g_scale;
  for (long i = 0; i < steps; i++) {
    int k = (int)(rnd(&s) % MINE);
    if (mine[k] == NULL) {
      sz[k] = pick_size(&s);
      mine[k] = make(sz[k], &s);
    } else if (rnd(&s) % 3 == 0) { /* swap with a shared slot: the object changes threads */
      size_t their_n;
      void *theirs = swap_shared(&s, mine[k], sz[k], &their_n);
      mine[k] = theirs;
      sz[k] = their_n;
    } else {
      check_and_free(mine[k], sz[k]);
      mine[k] = NULL;
    }
  }
  /* Exit leaving half behind in the shared slots (freed by later threads). */
  for (int k = 0; k < MINE; k++) {
    if (mine[k] == NULL) continue;
    if (k % 2) {
      check_and_free(mine[k], sz[k]);
      continue;
    }
    size_t their_n;
    void *theirs = swap_shared(&s, mine[k], sz[k], &their_n);
    if (theirs) check_and_free(theirs, their_n);
  }
  return NULL;
}

int main(int argc, char **argv) {
  require_hz3_loaded();
  g_seed = (uint64_t)getpid() * 2654435761u ^ (uint64_t)time(NULL);
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "--scale=", 8) == 0)
      g_scale = strtol(argv[i] + 8, NULL, 10);
    else if (strncmp(argv[i], "--seed=", 7) == 0)
      g_seed = strtoull(argv[i] + 7, NULL, 10);
    else {
      fprintf(stderr, "usage: stress_test [--scale=N] [--seed=S]\n");
      return 2;
    }
  }
  if (g_scale < 1) g_scale = 1;
  fprintf(stderr, "stress_test: seed %llu, scale %ld (replay with --seed=%llu)\n",
          (unsigned long long)g_seed, g_scale, (unsigned long long)g_seed);
  for (int i = 0; i < 64; i++) pthread_mutex_init(&g_locks[i], NULL);
  long rounds = 10 * g_scale;
  for (long r = 0; r < rounds; r++) {
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
      CHECK(pthread_create(&t[i], NULL, worker, (void *)(r * THREADS + i + 1)) == 0);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  }
  for (int j = 0; j < SLOTS; j++)
    if (g_slots[j]) check_and_free(g_slots[j], g_sizes[j]);
  CHECK_EQ_LL(g_bad, 0);
  return checks_summary("stress_test");
}
