/* xthread: cross-thread producer/consumer.  THREADS/2 pairs; each producer allocates OBJS
 * objects of LO..HI bytes, writes a cookie and passes them through a ring to its consumer,
 * which checks the cookie and frees them: every object is freed by another thread.
 * Prints objects per second. */
#include <pthread.h>
#include <sched.h>

#include "bench/bench_util.h"

#define RING 4096

/* Each side's own fields on a cache line of their own (head and the consumer; tail, rng and
 * the producer): rng is written on every object, and sharing a line with the index the other
 * side polls made the harness contend with itself. */
typedef struct {
  void *ring[RING];
  _Alignas(64) volatile unsigned long long head; /* the consumer's */
  _Alignas(64) volatile unsigned long long tail; /* the producer's */
  uint64_t rng;
  _Alignas(64) unsigned long long objs; /* read-only */
} pair_t;

static size_t g_lo = 16, g_hi = 256;

static void *producer(void *arg) {
  pair_t *pr = arg;
  for (unsigned long long i = 0; i < pr->objs; i++) {
    size_t n = bench_rand_range(&pr->rng, g_lo, g_hi);
    unsigned long long *p = malloc(n);
    BENCH_CHECK_ALLOC(p, n);
    p[0] = i;
    while (pr->tail - __atomic_load_n(&pr->head, __ATOMIC_ACQUIRE) >= RING) sched_yield();
    pr->ring[pr->tail % RING] = p;
    __atomic_store_n(&pr->tail, pr->tail + 1, __ATOMIC_RELEASE);
  }
  return NULL;
}

static void *consumer(void *arg) {
  pair_t *pr = arg;
  for (unsigned long long i = 0; i < pr->objs; i++) {
    while (__atomic_load_n(&pr->tail, __ATOMIC_ACQUIRE) == pr->head) sched_yield();
    unsigned long long *p = pr->ring[pr->head % RING];
    if (p[0] != i) {
      fprintf(stderr, "error: object %llu arrived with cookie %llu\n", i, p[0]);
      exit(4);
    }
    free(p);
    __atomic_store_n(&pr->head, pr->head + 1, __ATOMIC_RELEASE);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 5) {
    fprintf(stderr,
            "usage: xthread THREADS OBJS_PER_PAIR [LO HI]   (THREADS even, >= 2;"
            " default 16..256 bytes)\n");
    return 2;
  }
  unsigned threads = (unsigned)bench_parse_u64("THREADS", argv[1]);
  unsigned long long objs = bench_parse_u64("OBJS_PER_PAIR", argv[2]);
  if (argc == 5) g_lo = bench_parse_u64("LO", argv[3]), g_hi = bench_parse_u64("HI", argv[4]);
  if (threads < 2 || threads % 2 || objs == 0 || g_lo < sizeof(unsigned long long) || g_hi < g_lo) {
    fprintf(stderr, "error: need an even THREADS >= 2, OBJS > 0, 8 <= LO <= HI\n");
    return 2;
  }
  unsigned pairs = threads / 2;
  pair_t *prs = aligned_alloc(64, pairs * sizeof(pair_t));
  pthread_t *tids = calloc(threads, sizeof(pthread_t));
  BENCH_CHECK_ALLOC(prs, pairs * sizeof(pair_t));
  memset(prs, 0, pairs * sizeof(pair_t));
  BENCH_CHECK_ALLOC(tids, threads * sizeof(pthread_t));
  double t0 = bench_now_s();
  for (unsigned i = 0; i < pairs; i++) {
    prs[i].objs = objs;
    prs[i].rng = 99 + i;
    pthread_create(&tids[2 * i], NULL, producer, &prs[i]);
    pthread_create(&tids[2 * i + 1], NULL, consumer, &prs[i]);
  }
  for (unsigned i = 0; i < threads; i++) pthread_join(tids[i], NULL);
  double dt = bench_now_s() - t0;
  printf("xthread threads=%u objs=%llu size=%zu..%zu: %.2f M objs/s\n", threads, objs * pairs, g_lo,
         g_hi, (double)(objs * pairs) / dt / 1e6);
  free(prs);
  free(tids);
  return 0;
}
