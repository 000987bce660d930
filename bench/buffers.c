/* buffers: a thread that reuses a few big buffers, as one that reads files, compresses or
 * serialises does.  For each size of a list (72 KiB .. 8 MiB) and each count K of {1, 4}:
 * allocate K buffers of that size, write a byte in each of their pages, free them; ROUNDS
 * times per (size, K).  What it measures is the way a big block goes and comes back: taken
 * from a thread's cache, from the arena or from a mapping, and whether its pages must fault
 * in again.  Prints M malloc+free pairs per second and the minor faults. */
#include "bench/bench_util.h"

static const size_t kSizes[] = {72 << 10, 100000, 200000, 400000, 1 << 20, 3 << 20, 8 << 20};
static const size_t kCounts[] = {1, 4};

int main(int argc, char **argv) {
  if (argc > 2) {
    fprintf(stderr, "usage: buffers [ROUNDS]   (default 2000)\n");
    return 2;
  }
  unsigned long long rounds = argc > 1 ? bench_parse_u64("ROUNDS", argv[1]) : 2000;
  if (rounds == 0) {
    fprintf(stderr, "error: need ROUNDS >= 1\n");
    return 2;
  }
  unsigned long long pairs = 0;
  unsigned sum = 0;
  long faults0 = bench_minor_faults();
  double t0 = bench_now_s();
  for (size_t s = 0; s < sizeof kSizes / sizeof kSizes[0]; s++) {
    for (size_t c = 0; c < sizeof kCounts / sizeof kCounts[0]; c++) {
      size_t size = kSizes[s], k = kCounts[c];
      for (unsigned long long r = 0; r < rounds; r++) {
        unsigned char *bufs[4];
        for (size_t i = 0; i < k; i++) {
          bufs[i] = malloc(size);
          BENCH_CHECK_ALLOC(bufs[i], size);
          for (size_t off = 0; off < size; off += 4096) bufs[i][off] = (unsigned char)(r + off);
          bufs[i][size - 1] = (unsigned char)r;
        }
        for (size_t i = 0; i < k; i++) {
          sum += bufs[i][size / 2];
          free(bufs[i]);
        }
        pairs += k;
      }
    }
  }
  double dt = bench_now_s() - t0;
  printf(
      "buffers rounds=%llu: %.4f M ops/s (%.3f s, %llu malloc+free pairs, %ld minor faults)"
      " [%u]\n",
      rounds, (double)pairs / dt / 1e6, dt, pairs, bench_minor_faults() - faults0, sum & 1);
  return 0;
}
