/* rounds: many threads with random lifetimes, started again every round.  Each round starts
 * THREADS threads and joins them; a thread allocates (calloc) blocks whose size is a power of
 * two words (8..128 B, and 8..512 B for the half it holds to its end), one in a hundred 100x
 * that, one in a thousand 1000x and one in ten thousand 10 000x (up to 5 MiB); fills each with
 * a pattern; frees a random earlier block two times in three; and one time in four swaps a
 * random block of its own with a slot of a table all threads share, so blocks outlive the
 * thread and the round that made them, and are freed by another.  At its end a thread checks
 * and frees all it holds; between rounds the main thread frees half the table.  Thread i does
 * SCALE * 100 * (i % 8 + 1) steps.  Every block's pattern is checked before it is freed.
 * Prints allocations per second (M ops/s), the time and the minor faults. */
#include <pthread.h>

#include "bench/bench_util.h"

#define TABLE_SLOTS 1000
#define COOKIE 0x9E3779B97F4A7C15ull

/* What word i of a block of n words holds: the first names n, every word its distance from the
 * end. */
static uint64_t pattern(size_t n, size_t i) { return (uint64_t)(n - i) ^ COOKIE; }

static void *volatile g_table[TABLE_SLOTS];
static unsigned long long g_scale;

static int one_in(uint64_t *rng, unsigned n) { return bench_rand(rng) % n == 0; }

/* words * 8 bytes, or 100/1000/10000 times that now and then. */
static uint64_t *make_block(uint64_t *rng, size_t words) {
  if (one_in(rng, 100)) {
    if (one_in(rng, 100))
      words *= 10000;
    else if (one_in(rng, 10))
      words *= 1000;
    else
      words *= 100;
  }
  uint64_t *b = calloc(words, sizeof *b);
  BENCH_CHECK_ALLOC(b, words * sizeof *b);
  /* calloc's zeroes, checked at both ends only: reading a page before writing it costs a
   * second fault where calloc left it untouched (fresh from the OS), which no program pays
   * for the whole block. */
  if (b[0] != 0 || b[words - 1] != 0) {
    fprintf(stderr, "rounds: calloc returned a block of %zu words not zeroed\n", words);
    exit(1);
  }
  for (size_t i = 0; i < words; i++) b[i] = pattern(words, i);
  return b;
}

static void drop_block(uint64_t *b) {
  if (b == NULL) return;
  size_t words = (size_t)(b[0] ^ COOKIE);
  for (size_t i = 0; i < words; i++) {
    if (b[i] != pattern(words, i)) {
      fprintf(stderr, "rounds: block %p of %zu words corrupted at word %zu\n", (void *)b, words, i);
      exit(1);
    }
  }
  free(b);
}

static void *worker(void *arg) {
  uintptr_t id = (uintptr_t)arg;
  uint64_t rng = id * 0x2545F4914F6CDD1Dull + 11;
  size_t steps = (size_t)g_scale * 100 * (id % 8 + 1), to_hold = steps / 2;
  size_t held_n = 0, live_n = 0, live_cap = 0;
  uint64_t **held = calloc(to_hold + 1, sizeof *held), **live = NULL;
  BENCH_CHECK_ALLOC(held, (to_hold + 1) * sizeof *held);
  while (steps > 0 || to_hold > 0) {
    if (to_hold == 0 || (steps > 0 && one_in(&rng, 2))) {
      steps--;
      if (live_n == live_cap) {
        live_cap += 50000;
        live = realloc(live, live_cap * sizeof *live);
        BENCH_CHECK_ALLOC(live, live_cap * sizeof *live);
      }
      live[live_n++] = make_block(&rng, (size_t)1 << (bench_rand(&rng) % 5));
    } else {
      held[held_n++] = make_block(&rng, (size_t)1 << (bench_rand(&rng) % 7));
      to_hold--;
    }
    if (live_n > 0 && bench_rand(&rng) % 3 != 0) {
      size_t i = bench_rand(&rng) % live_n;
      drop_block(live[i]);
      live[i] = NULL;
    }
    if (live_n > 0 && one_in(&rng, 4)) {
      size_t i = bench_rand(&rng) % live_n;
      live[i] =
          __atomic_exchange_n(&g_table[bench_rand(&rng) % TABLE_SLOTS], live[i], __ATOMIC_ACQ_REL);
    }
  }
  for (size_t i = 0; i < held_n; i++) drop_block(held[i]);
  for (size_t i = 0; i < live_n; i++) drop_block(live[i]);
  free(held);
  free(live);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 4) {
    fprintf(stderr,
            "usage: rounds THREADS [SCALE] [ROUNDS]   (default scale 50, 25 rounds: thread i does\n"
            "  SCALE * 100 * (i %% 8 + 1) steps each round)\n");
    return 2;
  }
  unsigned long long threads = bench_parse_u64("THREADS", argv[1]);
  g_scale = argc > 2 ? bench_parse_u64("SCALE", argv[2]) : 50;
  unsigned long long rounds = argc > 3 ? bench_parse_u64("ROUNDS", argv[3]) : 25;
  if (threads == 0 || threads > 1024 || g_scale == 0 || g_scale > 100000 || rounds == 0) {
    fprintf(stderr, "error: need 1 <= THREADS <= 1024, 1 <= SCALE <= 100000, ROUNDS >= 1\n");
    return 2;
  }
  pthread_t *tids = calloc(threads, sizeof *tids);
  BENCH_CHECK_ALLOC(tids, threads * sizeof *tids);
  uint64_t rng = 12345;
  long faults0 = bench_minor_faults();
  double t0 = bench_now_s();
  for (unsigned long long r = 0; r < rounds; r++) {
    for (unsigned long long i = 0; i < threads; i++)
      if (pthread_create(&tids[i], NULL, worker, (void *)(uintptr_t)i) != 0) {
        fprintf(stderr, "rounds: pthread_create failed\n");
        return 1;
      }
    for (unsigned long long i = 0; i < threads; i++) pthread_join(tids[i], NULL);
    for (int i = 0; i < TABLE_SLOTS; i++)
      if (r + 1 == rounds || one_in(&rng, 2))
        drop_block(__atomic_exchange_n(&g_table[i], NULL, __ATOMIC_ACQ_REL));
  }
  double secs = bench_now_s() - t0;
  free(tids);
  /* Each step of a thread allocates one block; thread i does 1.5 * SCALE * 100 * (i % 8 + 1). */
  double allocs = 0;
  for (unsigned long long i = 0; i < threads; i++)
    allocs += 1.5 * (double)g_scale * 100 * (i % 8 + 1);
  allocs *= (double)rounds;
  printf(
      "rounds threads=%llu scale=%llu rounds=%llu: %.3f M ops/s (allocations), %.1f ms, %ld minor "
      "faults\n",
      threads, g_scale, rounds, allocs / secs / 1e6, secs * 1e3, bench_minor_faults() - faults0);
  return 0;
}
