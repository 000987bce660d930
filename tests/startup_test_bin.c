/* startup_test: hz3 in a program whose constructor allocates before main.  Initialising hz3
 * creates no thread and runs on the first allocation, whenever it comes. */
#include <dirent.h>
#include <stdint.h>

#include "tests/preload_check.h"

static void *g_early;
static int g_threads_after_init = -1;

static int count_threads(void) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  if (d == NULL) return -1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

__attribute__((constructor(101))) static void early(void) {
  g_early = calloc(100, 10); /* before main, possibly hz3's first call */
  void *more = realloc(malloc(10), 100000);
  free(more);
  g_threads_after_init = count_threads();
}

int main(void) {
  require_hz3_loaded();
  CHECK(g_early != NULL);
  const unsigned char *z = g_early;
  int zero = 1;
  for (int i = 0; i < 1000; i++) zero &= z[i] == 0;
  CHECK(zero);
  free(g_early);
  CHECK_EQ_LL(g_threads_after_init, 1); /* no background thread */
  CHECK_EQ_LL(count_threads(), 1);
  return checks_summary("startup_test");
}
