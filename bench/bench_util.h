/* bench/bench_util.h: helpers shared by the benchmark programs (C, no allocator internals).
 * Do not use these programs as tests: they measure; the tests are in tests/. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline double bench_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64*: fast, deterministic per seed. */
static inline uint64_t bench_rand(uint64_t *state) {
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [lo, hi]. */
static inline size_t bench_rand_range(uint64_t *state, size_t lo, size_t hi) {
  return lo + (size_t)(bench_rand(state) % (uint64_t)(hi - lo + 1));
}

/* Parses a non-negative integer argument or exits with a message naming it. */
static inline unsigned long long bench_parse_u64(const char *name, const char *s) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
    fprintf(stderr, "error: %s must be a non-negative integer, got '%s'\n", name, s);
    exit(2);
  }
  return v;
}

/* VmRSS of this process in KiB, from /proc/self/status. */
static inline long bench_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kb = strtol(line + 6, NULL, 10);
      break;
    }
  }
  fclose(f);
  return kb;
}

static inline long bench_minor_faults(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

#define BENCH_CHECK_ALLOC(p, n)                                                \
  do {                                                                         \
    if ((p) == NULL) {                                                         \
      fprintf(stderr, "error: allocation of %zu bytes failed\n", (size_t)(n)); \
      exit(3);                                                                 \
    }                                                                          \
  } while (0)
