/* insn_loop: K malloc+free pairs of 32..144 bytes after a warm-up, for instruction counting
 * (bench/insn_count.sh runs it under callgrind at two K and divides the difference). */
#include "bench/bench_util.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: insn_loop K\n");
    return 2;
  }
  unsigned long long k = bench_parse_u64("K", argv[1]);
  void *volatile sink;
  for (int i = 0; i < 1000; i++) { /* warm-up: threads set up, bins filled */
    void *p = malloc(32 + (i & 7) * 16);
    BENCH_CHECK_ALLOC(p, 32);
    free(p);
  }
  for (unsigned long long i = 0; i < k; i++) {
    void *p = malloc(32 + (i & 7) * 16);
    sink = p;
    free(sink);
  }
  return 0;
}
