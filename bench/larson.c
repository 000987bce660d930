/* larson: a Larson-style server workload.  Each of THREADS workers owns SLOTS blocks and
 * repeatedly frees a random one and allocates a replacement of LO..HI bytes; after every
 * ROUND operations a worker hands its blocks to a freshly created successor thread and exits
 * (server threads come and go; blocks outlive the thread that allocated them).
 * Runs for SECONDS and prints operations per second. */
#include <pthread.h>
#include <unistd.h>

#include "bench/bench_util.h"

/* One cache line per lane: rng is written on every operation (the calls in between force it to
 * memory), and lanes sharing a line made the threads contend on it (2 threads ran slower than
 * 1 under every allocator but glibc: the harness measured its own false sharing). */
typedef struct {
  void **slots;
  uint64_t rng;
  unsigned long long ops;
} __attribute__((aligned(64))) lane_t;

static size_t g_slots = 1000, g_lo = 16, g_hi = 512;
static unsigned long long g_round = 20000;
static volatile int g_stop;

static void *worker(void *arg) {
  lane_t *lane = arg;
  for (;;) {
    for (unsigned long long i = 0; i < g_round; i++) {
      size_t k = bench_rand(&lane->rng) % g_slots;
      free(lane->slots[k]);
      size_t n = bench_rand_range(&lane->rng, g_lo, g_hi);
      char *p = malloc(n);
      BENCH_CHECK_ALLOC(p, n);
      p[0] = p[n - 1] = (char)k;
      lane->slots[k] = p;
    }
    lane->ops += g_round;
    if (g_stop) return NULL;
    /* Hand the blocks to a successor and exit. */
    pthread_t next;
    if (pthread_create(&next, NULL, worker, lane) != 0) {
      fprintf(stderr, "error: pthread_create failed\n");
      exit(3);
    }
    pthread_detach(next);
    return NULL;
  }
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 7) {
    fprintf(stderr,
            "usage: larson THREADS SECONDS [SLOTS] [LO HI] \n"
            "  defaults: 1000 slots per thread, 16..512 bytes\n");
    return 2;
  }
  unsigned threads = (unsigned)bench_parse_u64("THREADS", argv[1]);
  double seconds = (double)bench_parse_u64("SECONDS", argv[2]);
  if (argc > 3) g_slots = bench_parse_u64("SLOTS", argv[3]);
  if (argc > 5) g_lo = bench_parse_u64("LO", argv[4]), g_hi = bench_parse_u64("HI", argv[5]);
  if (threads == 0 || g_slots == 0 || g_lo == 0 || g_hi < g_lo) {
    fprintf(stderr, "error: need THREADS, SLOTS > 0 and 0 < LO <= HI\n");
    return 2;
  }
  lane_t *lanes = aligned_alloc(64, threads * sizeof(lane_t));
  BENCH_CHECK_ALLOC(lanes, threads * sizeof(lane_t));
  memset(lanes, 0, threads * sizeof(lane_t));
  for (unsigned t = 0; t < threads; t++) {
    lanes[t].slots = calloc(g_slots, sizeof(void *));
    BENCH_CHECK_ALLOC(lanes[t].slots, g_slots * sizeof(void *));
    lanes[t].rng = 77 + t * 0x9E3779B97F4A7C15ull;
    for (size_t k = 0; k < g_slots; k++) {
      lanes[t].slots[k] = malloc(g_lo);
      BENCH_CHECK_ALLOC(lanes[t].slots[k], g_lo);
    }
  }
  double t0 = bench_now_s();
  for (unsigned t = 0; t < threads; t++) {
    pthread_t th;
    pthread_create(&th, NULL, worker, &lanes[t]);
    pthread_detach(th);
  }
  usleep((useconds_t)(seconds * 1e6));
  g_stop = 1;
  /* Each lane's last worker finishes its round and exits; wait for the counts to settle. */
  unsigned long long total = 0, prev = ~0ull;
  while (total != prev) {
    prev = total;
    usleep(200000);
    total = 0;
    for (unsigned t = 0; t < threads; t++)
      total += __atomic_load_n(&lanes[t].ops, __ATOMIC_RELAXED);
  }
  double dt = bench_now_s() - t0 - 0.2;
  printf("larson threads=%u slots=%zu size=%zu..%zu: %.2f M ops/s\n", threads, g_slots, g_lo, g_hi,
         (double)total / dt / 1e6);
  for (unsigned t = 0; t < threads; t++) {
    for (size_t k = 0; k < g_slots; k++) free(lanes[t].slots[k]);
    free(lanes[t].slots);
  }
  free(lanes);
  return 0;
}
