/* falseshare: passive false sharing (the shape of Hoard's cache-scratch).  The main thread
 * allocates one SIZE-byte object per thread, one after another (so they share cache lines),
 * and hands object i to thread i.  Each thread frees the object it was handed, then ITER times
 * allocates SIZE bytes, writes every byte REPS times and frees it.  An allocator that gives a
 * thread back the object it just freed, another thread's neighbour, makes every write of the
 * loop fight over one cache line with the other threads; one that sends it home and serves
 * the thread from its own memory does not.  Prints writes per second (M ops/s). */
#include <pthread.h>

#include "bench/bench_util.h"

static char **g_handed;
static unsigned long long g_iter, g_reps;
static size_t g_size;

static void *worker(void *arg) {
  free(g_handed[(uintptr_t)arg]);
  for (unsigned long long i = 0; i < g_iter; i++) {
    volatile char *p = malloc(g_size);
    BENCH_CHECK_ALLOC(p, g_size);
    for (unsigned long long r = 0; r < g_reps; r++)
      for (size_t k = 0; k < g_size; k++) p[k]++;
    free((void *)p);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 5) {
    fprintf(stderr, "usage: falseshare THREADS [ITER] [REPS] [SIZE]   (default 1000 10000 8)\n");
    return 2;
  }
  size_t threads = bench_parse_u64("THREADS", argv[1]);
  g_iter = argc > 2 ? bench_parse_u64("ITER", argv[2]) : 1000;
  g_reps = argc > 3 ? bench_parse_u64("REPS", argv[3]) : 10000;
  g_size = argc > 4 ? bench_parse_u64("SIZE", argv[4]) : 8;
  if (threads == 0 || threads > 256 || g_size == 0 || g_size > 4096) {
    fprintf(stderr, "error: need 1 <= THREADS <= 256 and 1 <= SIZE <= 4096\n");
    return 2;
  }
  g_handed = malloc(threads * sizeof *g_handed);
  BENCH_CHECK_ALLOC(g_handed, threads * sizeof *g_handed);
  for (size_t i = 0; i < threads; i++) {
    g_handed[i] = malloc(g_size);
    BENCH_CHECK_ALLOC(g_handed[i], g_size);
  }
  pthread_t tids[256];
  double t0 = bench_now_s();
  for (size_t i = 0; i < threads; i++)
    if (pthread_create(&tids[i], NULL, worker, (void *)(uintptr_t)i) != 0) {
      fprintf(stderr, "falseshare: pthread_create failed\n");
      return 1;
    }
  for (size_t i = 0; i < threads; i++) pthread_join(tids[i], NULL);
  double secs = bench_now_s() - t0;
  double writes = (double)threads * (double)g_iter * (double)g_reps * (double)g_size;
  printf("falseshare threads=%zu iter=%llu reps=%llu size=%zu: %.3f M ops/s (writes), %.1f ms\n",
         threads, g_iter, g_reps, g_size, writes / secs / 1e6, secs * 1e3);
  free(g_handed);
  return 0;
}
