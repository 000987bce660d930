/* batch: batches of one size.  One thread, for each size of a list and each batch length n of
 * a list (4 .. 1600): allocate n objects of that size, write each, free the first half in
 * allocation order (FIFO) and the second half newest first (LIFO); ROUNDS times per (size, n).
 * Prints M malloc+free pairs per second. */
#include "bench/bench_util.h"

static const size_t kSizes[] = {16, 32, 48, 64, 96, 128, 256, 512, 1024, 2048, 4096};
static const size_t kLengths[] = {4, 16, 64, 100, 256, 400, 800, 1600};

int main(int argc, char **argv) {
  if (argc > 2) {
    fprintf(stderr, "usage: batch [ROUNDS]   (default 200)\n");
    return 2;
  }
  unsigned long long rounds = argc > 1 ? bench_parse_u64("ROUNDS", argv[1]) : 200;
  void *objs[1600];
  unsigned long long pairs = 0;
  double t0 = bench_now_s();
  for (size_t s = 0; s < sizeof kSizes / sizeof kSizes[0]; s++) {
    for (size_t l = 0; l < sizeof kLengths / sizeof kLengths[0]; l++) {
      size_t n = kLengths[l], size = kSizes[s];
      for (unsigned long long r = 0; r < rounds; r++) {
        for (size_t i = 0; i < n; i++) {
          char *p = malloc(size);
          BENCH_CHECK_ALLOC(p, size);
          memset(p, (int)i, size < 64 ? size : 64);
          objs[i] = p;
        }
        for (size_t i = 0; i < n / 2; i++) free(objs[i]);
        for (size_t i = n; i-- > n / 2;) free(objs[i]);
        pairs += n;
      }
    }
  }
  double dt = bench_now_s() - t0;
  printf("batch rounds=%llu: %.2f M ops/s (%.3f s, %llu malloc+free pairs)\n", rounds,
         (double)pairs / dt / 1e6, dt, pairs);
  return 0;
}
