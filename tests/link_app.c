/* link_app: a program that uses hz3 by linking it (no LD_PRELOAD).  Its allocations must show
 * in hz3's gauges: segments in use after small objects, live large bytes after a large one. */
#include <hz3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  hz3_stats_t before, after;
  hz3_stats_get(&before, sizeof before);
  enum { N = 20000 };
  static void *v[N];
  for (int i = 0; i < N; i++) {
    v[i] = malloc(100 + i % 900);
    if (v[i] == NULL) return 2;
    memset(v[i], 1, 100);
  }
  void *big = malloc(10 << 20);
  hz3_stats_get(&after, sizeof after);
  int version = HZ3_VERSION_MAJOR * 10000 + HZ3_VERSION_MINOR * 100 + HZ3_VERSION_PATCH;
  if (hz3_version() != version) {
    printf("hz3_version() %d, header %s\n", hz3_version(), HZ3_VERSION_STRING);
    return 1;
  }
  int ok = after.size == sizeof after && after.version == HZ3_STATS_VERSION &&
           after.segments_in_use > before.segments_in_use &&
           after.large_live_bytes >= before.large_live_bytes + (10 << 20);
  printf("segments in use %llu -> %llu, large bytes %llu -> %llu: %s\n",
         (unsigned long long)before.segments_in_use, (unsigned long long)after.segments_in_use,
         (unsigned long long)before.large_live_bytes, (unsigned long long)after.large_live_bytes,
         ok ? "through hz3" : "NOT through hz3");
  free(big);
  for (int i = 0; i < N; i++) free(v[i]);
  return ok ? 0 : 1;
}
