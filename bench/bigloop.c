/* bigloop: large blocks replaced in a loop.  LIVE blocks of LO..HI MiB are live at once;
 * each step frees a random one and replaces it with a new zero-filled block (calloc) of a
 * random size, whose pages are then written (the program uses what it asked for).  At the
 * end every block is freed and the RSS after that is printed (memory return).
 * Prints steps per second (as M steps/s, for compare.sh) and milliseconds per step. */
#include "bench/bench_util.h"

int main(int argc, char **argv) {
  if (argc > 5) {
    fprintf(stderr, "usage: bigloop [STEPS] [LIVE] [LO_MIB] [HI_MIB]   (default 400 20 5 25)\n");
    return 2;
  }
  unsigned long long steps = argc > 1 ? bench_parse_u64("STEPS", argv[1]) : 400;
  size_t live = argc > 2 ? bench_parse_u64("LIVE", argv[2]) : 20;
  size_t lo = argc > 3 ? bench_parse_u64("LO_MIB", argv[3]) : 5;
  size_t hi = argc > 4 ? bench_parse_u64("HI_MIB", argv[4]) : 25;
  if (live == 0 || lo == 0 || hi < lo || live > 4096) {
    fprintf(stderr, "error: need 0 < LIVE <= 4096 and 0 < LO_MIB <= HI_MIB\n");
    return 2;
  }
  char *blocks[4096];
  uint64_t rng = 12345;
  for (size_t i = 0; i < live; i++) {
    size_t n = bench_rand_range(&rng, lo << 20, hi << 20);
    blocks[i] = calloc(1, n);
    BENCH_CHECK_ALLOC(blocks[i], n);
    for (size_t off = 0; off < n; off += 4096) blocks[i][off] = 1;
  }
  double t0 = bench_now_s();
  for (unsigned long long s = 0; s < steps; s++) {
    size_t i = bench_rand(&rng) % live;
    free(blocks[i]);
    size_t n = bench_rand_range(&rng, lo << 20, hi << 20);
    blocks[i] = calloc(1, n);
    BENCH_CHECK_ALLOC(blocks[i], n);
    for (size_t off = 0; off < n; off += 4096) blocks[i][off] = (char)s;
  }
  double dt = bench_now_s() - t0;
  long peak = bench_rss_kb();
  for (size_t i = 0; i < live; i++) free(blocks[i]);
  printf(
      "bigloop steps=%llu live=%zu size=%zu..%zu MiB: %.6f M steps/s (%.2f ms per step), "
      "rss %ld KiB live, %ld KiB after freeing all\n",
      steps, live, lo, hi, (double)steps / dt / 1e6, dt * 1e3 / (double)steps, peak,
      bench_rss_kb());
  return 0;
}
