/* shuffle: a large set freed in random order, the way a program drops a hash table, a tree or
 * a cache it built up.  One thread, ROUNDS times: allocate N objects of 48..96 B (four sizes
 * in turn), write a word of each, shuffle the pointers, free them all.  Objects freed far
 * apart in memory reach their runs one at a time, so the per-object cost of an allocator's
 * way back (its metadata misses, its run bookkeeping) shows undiluted.  ORDER "fifo" or "lifo"
 * frees them in allocation order or its reverse instead (a list or an array dropped).  Prints
 * M malloc+free pairs per second over the allocations and frees (the shuffle is not timed),
 * and the ns of one malloc and one free. */
#include "bench/bench_util.h"

static void usage(void) {
  fprintf(stderr,
          "usage: shuffle [OBJECTS [ROUNDS [random|fifo|lifo]]]   (default 1000000 5 "
          "random)\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc > 4) usage();
  unsigned long long n = argc > 1 ? bench_parse_u64("OBJECTS", argv[1]) : 1000000;
  unsigned long long rounds = argc > 2 ? bench_parse_u64("ROUNDS", argv[2]) : 5;
  const char *order = argc > 3 ? argv[3] : "random";
  if (n == 0 || rounds == 0) usage();
  if (strcmp(order, "random") != 0 && strcmp(order, "fifo") != 0 && strcmp(order, "lifo") != 0)
    usage();
  void **objs = malloc(n * sizeof *objs);
  BENCH_CHECK_ALLOC(objs, n * sizeof *objs);
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  double alloc_s = 0, free_s = 0;
  for (unsigned long long r = 0; r < rounds; r++) {
    double t0 = bench_now_s();
    for (unsigned long long i = 0; i < n; i++) {
      size_t size = 48 + (size_t)(i & 3) * 16;
      uint64_t *p = malloc(size);
      BENCH_CHECK_ALLOC(p, size);
      p[0] = i;
      objs[i] = p;
    }
    double t1 = bench_now_s();
    for (unsigned long long i = n - 1; order[0] == 'r' && i > 0; i--) { /* Fisher-Yates */
      unsigned long long j = bench_rand(&rng) % (i + 1);
      void *t = objs[i];
      objs[i] = objs[j];
      objs[j] = t;
    }
    double t2 = bench_now_s();
    if (order[0] == 'l')
      for (unsigned long long i = n; i-- > 0;) free(objs[i]);
    else
      for (unsigned long long i = 0; i < n; i++) free(objs[i]);
    double t3 = bench_now_s();
    alloc_s += t1 - t0;
    free_s += t3 - t2;
  }
  free(objs);
  double pairs = (double)n * (double)rounds;
  printf(
      "shuffle objects=%llu rounds=%llu order=%s: %.2f M ops/s (%.1f ns a malloc, %.1f ns a "
      "free)\n",
      n, rounds, order, pairs / (alloc_s + free_s) / 1e6, alloc_s * 1e9 / pairs,
      free_s * 1e9 / pairs);
  return 0;
}
