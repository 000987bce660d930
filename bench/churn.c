/* churn: short-lived threads.  Each thread allocates OBJS objects of 64..856 B, writes them
 * and frees them, then exits.  Threads run one after another (ALIVE 1: create, join, next) or
 * ALIVE at a time (waves of ALIVE threads created together, then joined).  Prints threads per
 * second (as M threads/s, for compare.sh) and microseconds per thread. */
#include <pthread.h>

#include "bench/bench_util.h"

static size_t g_objs = 100;

static void usage(void) {
  fprintf(stderr,
          "usage: churn THREADS [ALIVE] [OBJS]\n"
          "  THREADS threads in all, ALIVE at a time (default 1: sequential), each allocating\n"
          "  and freeing OBJS objects of 64..856 B (default 100)\n");
  exit(2);
}

static void *worker(void *arg) {
  uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 7;
  void *objs[1024];
  size_t n = g_objs < 1024 ? g_objs : 1024;
  for (size_t i = 0; i < n; i++) {
    size_t sz = bench_rand_range(&rng, 64, 856);
    char *p = malloc(sz);
    BENCH_CHECK_ALLOC(p, sz);
    p[0] = (char)i;
    p[sz - 1] = (char)i;
    objs[i] = p;
  }
  for (size_t i = 0; i < n; i++) free(objs[i]);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 4) usage();
  unsigned long long total = bench_parse_u64("THREADS", argv[1]);
  unsigned long long alive = argc > 2 ? bench_parse_u64("ALIVE", argv[2]) : 1;
  if (argc > 3) g_objs = bench_parse_u64("OBJS", argv[3]);
  if (total == 0 || alive == 0 || g_objs > 1024) usage();
  pthread_t *tids = malloc(alive * sizeof(pthread_t));
  BENCH_CHECK_ALLOC(tids, alive * sizeof(pthread_t));
  double t0 = bench_now_s();
  unsigned long long done = 0;
  while (done < total) {
    unsigned long long wave = total - done < alive ? total - done : alive;
    for (unsigned long long i = 0; i < wave; i++) {
      if (pthread_create(&tids[i], NULL, worker, (void *)(uintptr_t)(done + i + 1)) != 0) {
        fprintf(stderr, "error: pthread_create failed\n");
        return 3;
      }
    }
    for (unsigned long long i = 0; i < wave; i++) pthread_join(tids[i], NULL);
    done += wave;
  }
  double dt = bench_now_s() - t0;
  free(tids);
  printf(
      "churn threads=%llu alive=%llu objs=%zu: %.1f us per thread, %.6f M threads/s, rss %ld KiB\n",
      total, alive, g_objs, dt * 1e6 / (double)total, (double)total / dt / 1e6, bench_rss_kb());
  return 0;
}
