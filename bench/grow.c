/* grow: a buffer built by appending, as a program reading a file or a socket into a growing
 * buffer does (a string builder, a vector, CPython's list and bytearray past their small sizes):
 * ROUNDS times, realloc from 1 000 bytes up to MAX bytes, each step a quarter larger, writing
 * the new last byte; then free.  Every step that cannot grow the block where it is copies it:
 * what it measures is how often an allocator grows in place.  Prints M reallocs per second. */
#include "bench/bench_util.h"

int main(int argc, char **argv) {
  if (argc > 3) {
    fprintf(stderr, "usage: grow [MAX_BYTES [ROUNDS]]   (default 300000 20000)\n");
    return 2;
  }
  unsigned long long max = argc > 1 ? bench_parse_u64("MAX_BYTES", argv[1]) : 300000;
  unsigned long long rounds = argc > 2 ? bench_parse_u64("ROUNDS", argv[2]) : 20000;
  if (max < 1000 || rounds == 0) {
    fprintf(stderr, "error: need MAX_BYTES >= 1000 and ROUNDS >= 1\n");
    return 2;
  }
  unsigned long long reallocs = 0;
  unsigned sum = 0;
  double t0 = bench_now_s();
  for (unsigned long long r = 0; r < rounds; r++) {
    unsigned char *p = malloc(1000);
    BENCH_CHECK_ALLOC(p, 1000);
    p[999] = (unsigned char)r;
    for (size_t n = 1000 + 250; n <= max; n += n / 4) {
      p = realloc(p, n);
      BENCH_CHECK_ALLOC(p, n);
      p[n - 1] = (unsigned char)(r + n);
      reallocs++;
    }
    sum += p[999];
    free(p);
  }
  double dt = bench_now_s() - t0;
  printf("grow max=%llu rounds=%llu: %.4f M ops/s (%.3f s, %llu reallocs) [%u]\n", max, rounds,
         (double)reallocs / dt / 1e6, dt, reallocs, sum & 1);
  return 0;
}
