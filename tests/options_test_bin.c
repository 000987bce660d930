/* options_test_bin: allocates and touches 64 MiB of 1 KiB objects, frees them, and prints how
 * much of it is still resident ("kept_kb=N").  With "mallopt" it first asks for a 1 GiB trim
 * threshold (hz3's retain cap) through mallopt(M_TRIM_THRESHOLD), which must say yes, while a
 * parameter with no meaning for hz3 must say no.  options_test.sh runs it under options. */
#include <malloc.h>

#include "tests/preload_check.h"

#define N (64 * 1024)

int main(int argc, char **argv) {
  require_hz3_loaded();
  if (argc > 1 && strcmp(argv[1], "mallopt") == 0) {
    CHECK(mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1);
    CHECK(mallopt(M_MMAP_MAX, 0) == 0);
  }
  static void *objs[N];
  free(malloc(16));
  long base = rss_kb();
  for (int i = 0; i < N; i++) {
    objs[i] = malloc(1024);
    CHECK(objs[i] != NULL);
    memset(objs[i], 1, 1024);
  }
  for (int i = 0; i < N; i++) free(objs[i]);
  printf("kept_kb=%ld retain_knob=%ld\n", rss_kb() - base, hz3_knob("retain_max_pages"));
  return checks_summary("options_test");
}
