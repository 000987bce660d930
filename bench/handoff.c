/* handoff: random sizes and lifetimes passed between threads.  THREADS threads share SLOTS
 * slots; each step a thread allocates a block of LO..HI bytes, writes a cookie into it and
 * swaps it into a random slot (an atomic exchange); the block it takes out, put there by any
 * thread some random time ago, has its cookie checked and is freed.  So every block lives a
 * random time and is freed by a random thread, most often not the one that allocated it, with
 * no thread waiting on another (unlike a producer/consumer ring, whose spinning makes 2-core
 * runs swing).  Prints steps per second. */
#include <pthread.h>

#include "bench/bench_util.h"

typedef struct {
  size_t bytes;
  uint64_t cookie;
} block_t;

static block_t *volatile *g_slots;
static size_t g_nslots, g_lo = 16, g_hi = 1024;
static unsigned long long g_steps;

static uint64_t cookie_of(const block_t *b) {
  return (uint64_t)(uintptr_t)b * 0x9E3779B97F4A7C15ull ^ b->bytes;
}

static void *worker(void *arg) {
  uint64_t rng = (uint64_t)(uintptr_t)arg * 7919 + 1;
  for (unsigned long long s = 0; s < g_steps; s++) {
    size_t n = bench_rand_range(&rng, g_lo, g_hi);
    block_t *b = malloc(n);
    BENCH_CHECK_ALLOC(b, n);
    b->bytes = n;
    b->cookie = cookie_of(b);
    block_t *old = __atomic_exchange_n(&g_slots[bench_rand(&rng) % g_nslots], b, __ATOMIC_ACQ_REL);
    if (old != NULL) {
      if (old->cookie != cookie_of(old)) {
        fprintf(stderr, "handoff: block %p of %zu bytes corrupted\n", (void *)old, old->bytes);
        exit(1);
      }
      free(old);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 6) {
    fprintf(stderr,
            "usage: handoff THREADS [STEPS] [SLOTS] [LO] [HI]   (default 1000000 steps "
            "per thread, 4096 slots, 16..1024 B)\n");
    return 2;
  }
  size_t threads = bench_parse_u64("THREADS", argv[1]);
  g_steps = argc > 2 ? bench_parse_u64("STEPS", argv[2]) : 1000000;
  g_nslots = argc > 3 ? bench_parse_u64("SLOTS", argv[3]) : 4096;
  g_lo = argc > 4 ? bench_parse_u64("LO", argv[4]) : g_lo;
  g_hi = argc > 5 ? bench_parse_u64("HI", argv[5]) : g_hi;
  if (threads == 0 || threads > 256 || g_nslots == 0 || g_lo < sizeof(block_t) || g_hi < g_lo) {
    fprintf(stderr, "error: need 1 <= THREADS <= 256, SLOTS > 0, %zu <= LO <= HI\n",
            sizeof(block_t));
    return 2;
  }
  g_slots = calloc(g_nslots, sizeof *g_slots);
  BENCH_CHECK_ALLOC((void *)g_slots, g_nslots * sizeof *g_slots);
  pthread_t tid[256];
  double t0 = bench_now_s();
  for (size_t i = 0; i < threads; i++)
    if (pthread_create(&tid[i], NULL, worker, (void *)(uintptr_t)(i + 1)) != 0) {
      fprintf(stderr, "handoff: pthread_create failed\n");
      return 1;
    }
  for (size_t i = 0; i < threads; i++) pthread_join(tid[i], NULL);
  double dt = bench_now_s() - t0;
  for (size_t i = 0; i < g_nslots; i++) free(g_slots[i]);
  free((void *)g_slots);
  printf("handoff threads=%zu steps=%llu slots=%zu size=%zu..%zu: %.2f M ops/s\n", threads, g_steps,
         g_nslots, g_lo, g_hi, (double)threads * (double)g_steps / dt / 1e6);
  return 0;
}
