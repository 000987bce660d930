/* limits_test_bin: run under `ulimit -v` by limits_test.sh (or with "runtime": the program
 * sets RLIMIT_AS itself, 512 MiB above what it uses, once it is running).  Allocates 1 000-byte
 * objects until malloc says no, which must be NULL with errno ENOMEM (not a crash, not a hang)
 * and must come near the limit (at least 60 % of the address space left at the start went to
 * objects); then frees every other one and allocates again, which must work: the limit was
 * reached, not a ceiling of hz3's own that freeing does not lift.  errno is untouched by calls
 * that work.  Under a limit set at run time, a 1 MiB block and a new thread work right after
 * it is set: hz3 holds no address space it does not use. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>

#include "tests/preload_check.h"

#define MAX_OBJS (4u << 20) /* 4 GiB of 1 000-byte objects: far past any limit the test sets */

/* This process's address space in bytes (statm's first field). */
static long long address_space_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long long pages = 0;
  if (f) {
    if (fscanf(f, "%lld", &pages) != 1) pages = 0;
    fclose(f);
  }
  return pages * sysconf(_SC_PAGESIZE);
}

static void *thread_body(void *arg) {
  void *p = malloc(100);
  free(p);
  return arg;
}

int main(int argc, char **argv) {
  require_hz3_loaded();
  if (argc > 1 && strcmp(argv[1], "runtime") == 0) {
    struct rlimit lim;
    lim.rlim_cur = lim.rlim_max = (rlim_t)(address_space_bytes() + (512ll << 20));
    CHECK(setrlimit(RLIMIT_AS, &lim) == 0);
    void *block = malloc(1 << 20);
    CHECK(block != NULL);
    free(block);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_body, NULL) == 0 && pthread_join(t, NULL) == 0);
  }
  struct rlimit lim;
  long long left = -1;
  if (getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    left = (long long)lim.rlim_cur - address_space_bytes();
  errno = 1234;
  void *first = malloc(64);
  CHECK(first != NULL);
  CHECK_EQ_LL(errno, 1234); /* a successful first malloc leaves errno alone */
  static void *objs[MAX_OBJS];
  unsigned n = 0;
  while (n < MAX_OBJS) {
    errno = 0;
    void *p = malloc(1000);
    if (p == NULL) break;
    memset(p, 1, 1000);
    objs[n++] = p;
  }
  CHECK(n < MAX_OBJS);
  CHECK_EQ_LL(errno, ENOMEM);
  fprintf(stderr,
          "limits_test: %u objects (%u MiB) before NULL, %lld MiB of address space left "
          "at the start\n",
          n, n / 1049, left >> 20);
  if (left > 0) CHECK((long long)n * 1000 >= left / 10 * 6);
  for (unsigned i = 0; i < n; i += 2) free(objs[i]);
  unsigned again = 0;
  for (unsigned i = 0; i < n / 4; i++) {
    void *p = malloc(1000);
    if (p == NULL) break;
    memset(p, 2, 1000);
    objs[2 * i] = p;
    again++;
  }
  CHECK(again == n / 4);
  for (unsigned i = 0; i < n; i++)
    if (i % 2 == 1 || i / 2 < again) free(objs[i]);
  free(first);
  return checks_summary("limits_test");
}
