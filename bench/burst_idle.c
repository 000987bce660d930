/* burst_idle: the seed's bench_burst_idle_v2.  Each cycle every thread allocates and touches
 * OBJS objects of LO..HI bytes, frees all but KEEP percent (random survivors, freed at the
 * start of the next cycle), then the process idles IDLE_S seconds.  Threads either exit after
 * each burst (mode exit) or stay parked alive between cycles (mode parked).
 * Prints per cycle: peak, after-free and idle-end RSS, and minor faults of the burst; and
 * "phase" lines with times (ms since start) so that plots can mark the idle phases. */
#include <pthread.h>
#include <unistd.h>

#include "bench/bench_util.h"

typedef struct {
  int index;
  void **objs;
  size_t *objsizes;
  size_t nobjs;
  void **survivors; /* kept from the previous cycle */
  size_t *sizes;    /* their sizes */
  size_t nsurvivors;
  uint64_t rng;
} worker_t;

static size_t g_objs, g_lo = 256, g_hi = 4096;
static unsigned g_keep_pct, g_threads, g_cycles;
static double g_idle_s, g_t0;
static int g_parked, g_cross;
static worker_t *g_workers;
static pthread_barrier_t g_start, g_allocated, g_freed;
static volatile int g_quit;

static void usage(void) {
  fprintf(stderr,
          "usage: burst_idle OBJS IDLE_S CYCLES KEEP_PCT THREADS [LO HI] [exit|parked] [cross]\n"
          "  OBJS objects per thread of LO..HI bytes (default 256..4096); threads exit after\n"
          "  each burst (exit, default) or stay parked between cycles (parked); cross: thread\n"
          "  i frees what thread i+1 allocated\n");
  exit(2);
}

static double ms_since_start(void) { return (bench_now_s() - g_t0) * 1000.0; }

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* KiB in the distinct 4 KiB pages that survivors overlap: the least any allocator laid out
 * like this one can keep resident (the OS takes memory back in whole pages). */
static long survivor_pages_kb(worker_t *workers) {
  size_t total = 0;
  for (unsigned t = 0; t < g_threads; t++) total += workers[t].nsurvivors;
  if (total == 0) return 0;
  uint64_t *pages = malloc(total * 2 * sizeof(uint64_t));
  BENCH_CHECK_ALLOC(pages, total * 2 * sizeof(uint64_t));
  size_t n = 0;
  for (unsigned t = 0; t < g_threads; t++) {
    for (size_t i = 0; i < workers[t].nsurvivors; i++) {
      uintptr_t p = (uintptr_t)workers[t].survivors[i];
      size_t size = workers[t].sizes[i];
      for (uintptr_t pg = p >> 12; pg <= (p + size - 1) >> 12 && n < total * 2; pg++)
        pages[n++] = pg;
    }
  }
  qsort(pages, n, sizeof(uint64_t), cmp_u64);
  size_t distinct = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || pages[i] != pages[i - 1]) distinct++;
  free(pages);
  return (long)distinct * 4;
}

static void burst(worker_t *w) {
  for (size_t i = 0; i < w->nsurvivors; i++) free(w->survivors[i]);
  w->nsurvivors = 0;
  for (size_t i = 0; i < g_objs; i++) {
    size_t n = bench_rand_range(&w->rng, g_lo, g_hi);
    void *p = malloc(n);
    BENCH_CHECK_ALLOC(p, n);
    memset(p, (int)(i & 0xFF) | 1, n);
    w->objs[i] = p;
    w->objsizes[i] = n;
  }
}

/* w frees what `from` allocated (itself, or its neighbour in cross mode); survivors are w's to
 * free at the start of its next burst. */
static void free_but_keep(worker_t *w, const worker_t *from) {
  for (size_t i = 0; i < g_objs; i++) {
    if (bench_rand(&w->rng) % 100 < g_keep_pct) {
      w->sizes[w->nsurvivors] = from->objsizes[i];
      w->survivors[w->nsurvivors++] = from->objs[i];
    } else {
      free(from->objs[i]);
    }
  }
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  do {
    pthread_barrier_wait(&g_start);
    if (g_quit) break;
    burst(w);
    pthread_barrier_wait(&g_allocated);
    pthread_barrier_wait(&g_allocated); /* main has read the peak */
    free_but_keep(w, g_cross ? &g_workers[(w->index + 1) % (int)g_threads] : w);
    pthread_barrier_wait(&g_freed);
  } while (g_parked);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 6 || argc > 10) usage();
  g_objs = bench_parse_u64("OBJS", argv[1]);
  g_idle_s = (double)bench_parse_u64("IDLE_S", argv[2]);
  g_cycles = (unsigned)bench_parse_u64("CYCLES", argv[3]);
  g_keep_pct = (unsigned)bench_parse_u64("KEEP_PCT", argv[4]);
  g_threads = (unsigned)bench_parse_u64("THREADS", argv[5]);
  int next = 6;
  if (argc >= 8) {
    g_lo = bench_parse_u64("LO", argv[6]);
    g_hi = bench_parse_u64("HI", argv[7]);
    next = 8;
  }
  for (; next < argc; next++) {
    if (strcmp(argv[next], "parked") == 0)
      g_parked = 1;
    else if (strcmp(argv[next], "cross") == 0)
      g_cross = 1;
    else if (strcmp(argv[next], "exit") != 0)
      usage();
  }
  if (g_objs == 0 || g_threads == 0 || g_cycles == 0 || g_keep_pct > 100 || g_lo == 0 ||
      g_hi < g_lo) {
    fprintf(stderr, "error: need OBJS, THREADS, CYCLES > 0, KEEP_PCT <= 100, 0 < LO <= HI\n");
    return 2;
  }
  worker_t *workers = calloc(g_threads, sizeof(worker_t));
  BENCH_CHECK_ALLOC(workers, g_threads * sizeof(worker_t));
  g_workers = workers;
  for (unsigned t = 0; t < g_threads; t++) {
    workers[t].index = (int)t;
    workers[t].objs = malloc(g_objs * sizeof(void *));
    workers[t].survivors = malloc(g_objs * sizeof(void *));
    workers[t].objsizes = malloc(g_objs * sizeof(size_t));
    workers[t].sizes = malloc(g_objs * sizeof(size_t));
    BENCH_CHECK_ALLOC(workers[t].objs, g_objs * sizeof(void *));
    BENCH_CHECK_ALLOC(workers[t].survivors, g_objs * sizeof(void *));
    BENCH_CHECK_ALLOC(workers[t].objsizes, g_objs * sizeof(size_t));
    BENCH_CHECK_ALLOC(workers[t].sizes, g_objs * sizeof(size_t));
    workers[t].rng = 0x1234567ull + t * 0x9E3779B97F4A7C15ull;
  }
  pthread_barrier_init(&g_start, NULL, g_threads + 1);
  pthread_barrier_init(&g_allocated, NULL, g_threads + 1);
  pthread_barrier_init(&g_freed, NULL, g_threads + 1);
  pthread_t *tids = calloc(g_threads, sizeof(pthread_t));
  BENCH_CHECK_ALLOC(tids, g_threads * sizeof(pthread_t));
  printf("burst_idle objs=%zu idle=%gs cycles=%u keep=%u%% threads=%u size=%zu..%zu mode=%s%s\n",
         g_objs, g_idle_s, g_cycles, g_keep_pct, g_threads, g_lo, g_hi,
         g_parked ? "parked" : "exit", g_cross ? " cross" : "");
  printf("phase cycle=0 name=start t_ms=0 rss_kb=%ld\n", bench_rss_kb());
  fflush(stdout);
  g_t0 = bench_now_s();
  if (g_parked)
    for (unsigned t = 0; t < g_threads; t++)
      pthread_create(&tids[t], NULL, worker_main, &workers[t]);
  for (unsigned c = 1; c <= g_cycles; c++) {
    if (!g_parked)
      for (unsigned t = 0; t < g_threads; t++)
        pthread_create(&tids[t], NULL, worker_main, &workers[t]);
    long flt0 = bench_minor_faults();
    double tb = bench_now_s();
    printf("phase cycle=%u name=burst t_ms=%.0f\n", c, ms_since_start());
    pthread_barrier_wait(&g_start);
    pthread_barrier_wait(&g_allocated);
    long peak = bench_rss_kb();
    double burst_ms = (bench_now_s() - tb) * 1000.0;
    long flt = bench_minor_faults() - flt0;
    double tf = bench_now_s();
    pthread_barrier_wait(&g_allocated);
    pthread_barrier_wait(&g_freed);
    if (!g_parked)
      for (unsigned t = 0; t < g_threads; t++) pthread_join(tids[t], NULL);
    double free_ms = (bench_now_s() - tf) * 1000.0; /* exit mode: thread exits included */
    long after = bench_rss_kb();
    printf("phase cycle=%u name=idle t_ms=%.0f\n", c, ms_since_start());
    fflush(stdout);
    usleep((useconds_t)(g_idle_s * 1e6));
    long idle_end = bench_rss_kb();
    printf(
        "cycle=%u peak_kb=%ld after_free_kb=%ld idle_end_kb=%ld burst_ms=%.1f free_ms=%.1f "
        "minflt=%ld survivor_pages_kb=%ld\n",
        c, peak, after, idle_end, burst_ms, free_ms, flt, survivor_pages_kb(workers));
    fflush(stdout);
  }
  printf("phase cycle=%u name=end t_ms=%.0f\n", g_cycles, ms_since_start());
  if (g_parked) {
    g_quit = 1;
    pthread_barrier_wait(&g_start);
    for (unsigned t = 0; t < g_threads; t++) pthread_join(tids[t], NULL);
  }
  for (unsigned t = 0; t < g_threads; t++) {
    for (size_t i = 0; i < workers[t].nsurvivors; i++) free(workers[t].survivors[i]);
    free(workers[t].objs);
    free(workers[t].survivors);
    free(workers[t].objsizes);
    free(workers[t].sizes);
  }
  free(tids);
  free(workers);
  return 0;
}
