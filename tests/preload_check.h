/* tests/preload_check.h: a tiny check harness for programs that run under LD_PRELOAD (plain
 * C, so that the allocator under test is the only one in play). */
#pragma once

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_checks_failed;
static int g_checks_run;

#define CHECK(cond)                                                            \
  do {                                                                         \
    g_checks_run++;                                                            \
    if (!(cond)) {                                                             \
      g_checks_failed++;                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define CHECK_EQ_LL(a, b)                                                                       \
  do {                                                                                          \
    long long va_ = (long long)(a), vb_ = (long long)(b);                                       \
    g_checks_run++;                                                                             \
    if (va_ != vb_) {                                                                           \
      g_checks_failed++;                                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a, \
              #b, va_, vb_);                                                                    \
    }                                                                                           \
  } while (0)

/* The test is meaningless if hz3 is not the malloc in use: a typo in a path would silently
 * test glibc.  hz3_stats_get is exported only by libhz3.so. */
static inline void require_hz3_loaded(void) {
  if (dlsym(RTLD_DEFAULT, "hz3_stats_get") == NULL) {
    fprintf(stderr, "FATAL: libhz3.so is not loaded (LD_PRELOAD=%s)\n",
            getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "(unset)");
    exit(1);
  }
}

/* A knob's value in the loaded build, read from hz3_config_dump's output; -1 if absent. */
static inline long hz3_knob(const char *name) {
  void (*dump)(int);
  *(void **)&dump = dlsym(RTLD_DEFAULT, "hz3_config_dump"); /* POSIX: no cast */
  int fds[2];
  if (dump == NULL || pipe(fds) != 0) return -1;
  dump(fds[1]);
  close(fds[1]);
  static char text[16384];
  ssize_t n = read(fds[0], text, sizeof text - 1);
  close(fds[0]);
  text[n > 0 ? n : 0] = '\0';
  char key[64];
  snprintf(key, sizeof key, "  %s ", name);
  char *at = strstr(text, key);
  return at ? strtol(at + strlen(key), NULL, 10) : -1;
}

/* This process's resident set in KiB (statm; no allocation). */
static inline long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long total = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &total, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static inline int checks_summary(const char *name) {
  fprintf(stderr, "%s: %d checks, %d failed\n", name, g_checks_run, g_checks_failed);
  return g_checks_failed ? 1 : 0;
}
