/* churn_test: 1000 threads are created, allocate (~2 MiB each), free and exit, 10 at a time.
 * RSS stays bounded: exited threads' caches come home and their segments are reused, so after
 * the first 600 threads (by then a seed build, which keeps its high-water mark resident, has
 * reached it) the last 400 add less than 8 MiB.  With memory return on, RSS stays near its
 * start throughout. */
#include <pthread.h>
#include <unistd.h>

#include "tests/preload_check.h"


static void *churn(void *arg) {
  (void)arg;
  void *v[200];
  for (int i = 0; i < 200; i++) {
    v[i] = malloc(16 + (size_t)i * 97);
    CHECK(v[i] != NULL);
    memset(v[i], i, 16 + (size_t)i * 97);
  }
  for (int i = 0; i < 200; i++) free(v[i]);
  return NULL;
}

int main(void) {
  require_hz3_loaded();
  long early = 0;
  for (int round = 0; round < 100; round++) {
    pthread_t t[10];
    for (int i = 0; i < 10; i++) CHECK(pthread_create(&t[i], NULL, churn, NULL) == 0);
    for (int i = 0; i < 10; i++) pthread_join(t[i], NULL);
    if (round == 59) early = rss_kb();
  }
  long late = rss_kb();
  fprintf(stderr, "rss after 600 threads %ld KiB, after 1000 %ld KiB\n", early, late);
  CHECK(late - early < 8 * 1024);
  return checks_summary("churn_test");
}
