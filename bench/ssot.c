/* ssot: single-thread random mixed malloc/free.  A slot array of WS entries; each step picks a
 * random slot, frees it if occupied, else mallocs a uniform random size in [lo, hi] and touches
 * it.  Prints ops/s (one op = one step). */
#include "bench/bench_util.h"

static void usage(void) {
  fprintf(stderr,
          "usage: ssot PRESET [steps] [ws] [seed]\n"
          "       ssot LO HI [steps] [ws] [seed]\n"
          "  PRESET: small (16-2048), medium (4096-32768), mixed (16-32768)\n"
          "  defaults: steps 20000000, ws 400, seed 1\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  size_t lo, hi;
  int next;
  if (strcmp(argv[1], "small") == 0)
    lo = 16, hi = 2048, next = 2;
  else if (strcmp(argv[1], "medium") == 0)
    lo = 4096, hi = 32768, next = 2;
  else if (strcmp(argv[1], "mixed") == 0)
    lo = 16, hi = 32768, next = 2;
  else {
    if (argc < 3) usage();
    lo = bench_parse_u64("LO", argv[1]);
    hi = bench_parse_u64("HI", argv[2]);
    next = 3;
  }
  if (lo == 0 || hi < lo) {
    fprintf(stderr, "error: need 0 < LO <= HI\n");
    return 2;
  }
  unsigned long long steps = argc > next ? bench_parse_u64("steps", argv[next]) : 20000000ull;
  size_t ws = argc > next + 1 ? bench_parse_u64("ws", argv[next + 1]) : 400;
  uint64_t seed = argc > next + 2 ? bench_parse_u64("seed", argv[next + 2]) : 1;
  if (ws == 0 || argc > next + 3) usage();
  void **slots = calloc(ws, sizeof(void *));
  BENCH_CHECK_ALLOC(slots, ws * sizeof(void *));
  uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
  double t0 = bench_now_s();
  for (unsigned long long i = 0; i < steps; i++) {
    size_t k = bench_rand(&rng) % ws;
    if (slots[k]) {
      free(slots[k]);
      slots[k] = NULL;
    } else {
      size_t n = bench_rand_range(&rng, lo, hi);
      char *p = malloc(n);
      BENCH_CHECK_ALLOC(p, n);
      p[0] = (char)i;
      p[n - 1] = (char)i;
      slots[k] = p;
    }
  }
  double dt = bench_now_s() - t0;
  for (size_t k = 0; k < ws; k++) free(slots[k]);
  free(slots);
  printf("ssot lo=%zu hi=%zu steps=%llu ws=%zu: %.2f M ops/s (%.3f s)\n", lo, hi, steps, ws,
         (double)steps / dt / 1e6, dt);
  return 0;
}
