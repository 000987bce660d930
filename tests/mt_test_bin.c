/* mt_test: a multi-threaded program under LD_PRELOAD=libhz3.so.  Threads (more than hz3 has
 * shards) allocate random sizes with a cookie in every object, pass objects to each other
 * through a shared exchange, and check each cookie before freeing; plus a thread whose first
 * call is free, malloc/free in a TLS destructor that runs after hz3's own teardown, thread
 * churn, fork while other threads allocate, and an object handed to a new thread. */
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/preload_check.h"

#define THREADS 12
#define STEPS 200000
#define EXCHANGE 1024

static void *g_exchange[EXCHANGE];
static size_t g_exchange_size[EXCHANGE];
static pthread_mutex_t g_exchange_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int g_cookie_errors;

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static uint64_t cookie(const void *p, size_t n) {
  return ((uintptr_t)p * 0x9E3779B97F4A7C15ull) ^ n;
}

static void *alloc_cookie(size_t n) {
  unsigned char *p = malloc(n);
  if (p == NULL) return NULL;
  uint64_t c = cookie(p, n);
  memcpy(p, &c, n < 8 ? n : 8);
  if (n >= 16) memcpy(p + n - 8, &c, 8);
  return p;
}

static void free_cookie(void *vp, size_t n) {
  unsigned char *p = vp;
  uint64_t c = cookie(p, n), got = 0, tail = 0;
  memcpy(&got, p, n < 8 ? n : 8);
  if (n >= 16) memcpy(&tail, p + n - 8, 8);
  if (memcmp(&got, &c, n < 8 ? n : 8) != 0 || (n >= 16 && tail != c))
    __atomic_fetch_add(&g_cookie_errors, 1, __ATOMIC_RELAXED);
  free(p);
}

static size_t random_size(uint64_t *s) {
  uint64_t r = rnd(s) % 100;
  if (r < 80) return 1 + rnd(s) % 512;
  if (r < 97) return 512 + rnd(s) % 65536;
  return 65537 + rnd(s) % 400000;
}

static void *worker(void *arg) {
  uint64_t s = (uintptr_t)arg * 7919 + 1;
  enum { LOCAL = 256 };
  void *mine[LOCAL] = {0};
  size_t sz[LOCAL] = {0};
  for (int step = 0; step < STEPS; step++) {
    int k = (int)(rnd(&s) % LOCAL);
    if (mine[k]) {
      if (rnd(&s) % 4 == 0) { /* hand it to another thread through the exchange */
        int e = (int)(rnd(&s) % EXCHANGE);
        pthread_mutex_lock(&g_exchange_lock);
        void *old = g_exchange[e];
        size_t oldn = g_exchange_size[e];
        g_exchange[e] = mine[k];
        g_exchange_size[e] = sz[k];
        pthread_mutex_unlock(&g_exchange_lock);
        if (old) free_cookie(old, oldn); /* freed by a thread that did not allocate it */
      } else {
        free_cookie(mine[k], sz[k]);
      }
      mine[k] = NULL;
    } else {
      sz[k] = random_size(&s);
      mine[k] = alloc_cookie(sz[k]);
      CHECK(mine[k] != NULL);
    }
  }
  for (int k = 0; k < LOCAL; k++)
    if (mine[k]) free_cookie(mine[k], sz[k]);
  return NULL;
}

static void *first_call_is_free(void *arg) {
  free_cookie(arg, 777);
  return NULL;
}

/* Passive false sharing: a new thread frees the object it was handed, one of several the main
 * thread allocated side by side and still holds, then allocates that size.  It must not be
 * given the handed object back, nor another of that cache line.  Threads of the main thread's
 * shard may share its runs; a second CPU gives the new thread a shard of its own (one CPU has
 * one shard, and no two threads write at once). */
#define HANDED_MAX 4
static void *g_handed[HANDED_MAX];
static int g_nhanded;
static void *frees_handed_then_allocates(void *arg) {
  uintptr_t i = (uintptr_t)arg;
  free(g_handed[i]);
  char *q = malloc(8);
  CHECK(q != g_handed[i]);
  for (int k = 0; k < g_nhanded; k++)
    if (k != (int)i) CHECK(((uintptr_t)q >> 6) != ((uintptr_t)g_handed[k] >> 6));
  free(q);
  return NULL;
}

static void test_handed_objects_go_home(void) {
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof cpus, &cpus) != 0 || CPU_COUNT(&cpus) < 2) {
    printf("mt_test: one CPU, handed objects not tested\n");
    return;
  }
  /* Main's bins first go home (malloc_trim sends the calling thread's cache back): the worker
   * threads above handed main objects of the other shard's runs, which its bins kept, and a
   * new thread of that shard may rightly be given a neighbour of its own runs' objects (one
   * run in thirty failed so).  Refilled from its own shard, main's objects are its shard's. */
  malloc_trim(0);
  /* Objects of 8 bytes until two share a cache line (the bin may hold scattered ones first);
   * the handed ones are those of that line, the rest freed. */
  enum { TRIES = 512 };
  static void *v[TRIES];
  int line_of = -1;
  for (int j = 0; j < TRIES && line_of < 0; j++) {
    v[j] = malloc(8);
    for (int k = 0; k < j && line_of < 0; k++)
      if (((uintptr_t)v[k] >> 6) == ((uintptr_t)v[j] >> 6)) line_of = j;
  }
  CHECK(line_of >= 0);
  if (line_of < 0) return;
  uintptr_t line = (uintptr_t)v[line_of] >> 6;
  g_nhanded = 0;
  for (int j = 0; j <= line_of; j++) {
    if (((uintptr_t)v[j] >> 6) == line && g_nhanded < HANDED_MAX)
      g_handed[g_nhanded++] = v[j];
    else
      free(v[j]);
  }
  for (uintptr_t i = 0; i < (uintptr_t)g_nhanded; i++) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, frees_handed_then_allocates, (void *)i) == 0);
    pthread_join(t, NULL);
  }
}

static pthread_key_t g_late_key;
static volatile int g_late_ran;
static void late_destructor(void *v) {
  /* Runs after hz3's own thread-exit hook (its key was created first): hz3 must still work. */
  free(v);
  void *p = malloc(1000);
  memset(p, 3, 1000);
  void *q = realloc(p, 100000);
  free(q);
  g_late_ran++;
}

static void *uses_late_destructor(void *arg) {
  (void)arg;
  pthread_setspecific(g_late_key, malloc(64));
  void *p = malloc(100);
  free(p);
  return NULL;
}

static void *churn(void *arg) {
  (void)arg;
  void *v[50];
  for (int i = 0; i < 50; i++) v[i] = malloc(16 + i * 40);
  for (int i = 0; i < 50; i++) free(v[i]);
  return NULL;
}

static volatile int g_stop_background;
static void *background_alloc(void *arg) {
  uint64_t s = 12345;
  (void)arg;
  while (!g_stop_background) free(malloc(random_size(&s)));
  return NULL;
}

int main(void) {
  require_hz3_loaded();
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; i++) CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  for (int e = 0; e < EXCHANGE; e++)
    if (g_exchange[e]) free_cookie(g_exchange[e], g_exchange_size[e]);
  CHECK_EQ_LL(g_cookie_errors, 0);

  pthread_t f;
  void *gift = alloc_cookie(777);
  CHECK(pthread_create(&f, NULL, first_call_is_free, gift) == 0);
  pthread_join(f, NULL);
  CHECK_EQ_LL(g_cookie_errors, 0);

  test_handed_objects_go_home();

  pthread_key_create(&g_late_key, late_destructor);
  pthread_t l;
  CHECK(pthread_create(&l, NULL, uses_late_destructor, NULL) == 0);
  pthread_join(l, NULL);
  CHECK_EQ_LL(g_late_ran, 1);

  for (int round = 0; round < 30; round++) { /* 300 threads come and go */
    pthread_t c[10];
    for (int i = 0; i < 10; i++) CHECK(pthread_create(&c[i], NULL, churn, NULL) == 0);
    for (int i = 0; i < 10; i++) pthread_join(c[i], NULL);
  }

  pthread_t bg[3];
  for (int i = 0; i < 3; i++) pthread_create(&bg[i], NULL, background_alloc, NULL);
  for (int round = 0; round < 20; round++) {
    pid_t pid = fork();
    if (pid == 0) { /* the child allocates, frees and exits cleanly */
      uint64_t s = 99;
      void *v[100];
      for (int i = 0; i < 100; i++) v[i] = malloc(random_size(&s));
      for (int i = 0; i < 100; i++) free(v[i]);
      _exit(0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  g_stop_background = 1;
  for (int i = 0; i < 3; i++) pthread_join(bg[i], NULL);
  return checks_summary("mt_test");
}
