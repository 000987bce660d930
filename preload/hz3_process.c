/* preload/hz3_process.c: the process-wide instances, set-up, thread exit, fork, exit dump. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT (the build defines it already) */
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/hz3.h"
#include "preload/hz3_preload.h"

hz3_process_t hz3_g;
uintptr_t hz3_link_key;
__thread hz3_tcache_t hz3_t_tcache HZ3_TLS_IE;

static hz3_lock_t g_init_lock = HZ3_LOCK_INIT;
static pthread_key_t g_thread_key;
static int g_key_ready;

static void thread_exit(void *arg) {
  (void)arg;
  uint32_t shard = hz3_t_tcache.shard;
  bool was_active = hz3_t_tcache.state == HZ3_TCACHE_ACTIVE;
  /* The cache waits whole for the next new thread (which takes its shard too), or goes home. */
  if (HZ3_ORPHAN_CACHES && hz3_tcache_orphan_park(&hz3_g.orphans, &hz3_t_tcache)) {
    __atomic_fetch_sub(&hz3_g.shard_threads[shard], 1, __ATOMIC_RELAXED);
    __atomic_store_n(&hz3_g.last_vacated_shard, shard + 1, __ATOMIC_RELAXED);
    hz3_epoch_owner_left(&hz3_g.epoch, shard);
    return;
  }
  hz3_epoch_thread_exit(&hz3_g.epoch, &hz3_t_tcache);
  if (was_active) {
    __atomic_fetch_sub(&hz3_g.shard_threads[shard], 1, __ATOMIC_RELAXED);
    __atomic_store_n(&hz3_g.last_vacated_shard, shard + 1, __ATOMIC_RELAXED);
  }
}

/* The shard for a new thread: the one a thread left last if nobody took it since, else the
 * one with the fewest live threads (ties: lowest).  Racy reads are fine: any shard works. */
static uint32_t choose_shard(void) {
  uint32_t vacated = __atomic_exchange_n(&hz3_g.last_vacated_shard, 0, __ATOMIC_RELAXED);
  if (vacated != 0 && __atomic_load_n(&hz3_g.shard_threads[vacated - 1], __ATOMIC_RELAXED) == 0)
    return vacated - 1;
  uint32_t best = 0, best_n = UINT32_MAX;
  for (uint32_t s = 0; s < hz3_g.shards_used; s++) {
    uint32_t n = __atomic_load_n(&hz3_g.shard_threads[s], __ATOMIC_RELAXED);
    if (n < best_n) best = s, best_n = n;
  }
  return best;
}

/* The tcache's epoch tick: every HZ3_EPOCH_INTERVAL slow-path events of this thread. */
/* Every maintenance epoch (slow-path events drive them): the epoch box's work, and the large
 * cache's decay while the program allocates no large blocks. */
static void epoch_tick(void) {
  hz3_epoch_run(&hz3_g.epoch, &hz3_t_tcache);
  hz3_large_cache_decay(&hz3_g.large);
}

/* The shards threads are spread over: one per CPU this process may run on, at most the
 * knob's.  A shard's lock is contended only by threads running at once, so more shards than
 * CPUs buy no parallelism, and each one more keeps a partly used run of every class it works
 * (16 threads on 2 CPUs: 8 shards peaked at 22.8 MiB in `handoff 16`, 2 at 17.0 MiB, and ran
 * as fast or faster; bench/RESULTS.md).  Read once at set-up (the affinity mask: taskset and
 * cpusets count, not the machine's size); no allocation. */
static uint32_t shards_for_cpus(void) {
  cpu_set_t set;
  int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : HZ3_NUM_SHARDS;
  return (uint32_t)HZ3_MAX(1, HZ3_MIN(cpus, HZ3_NUM_SHARDS));
}

/* fork: hold every lock across fork so the child never inherits one mid-update. */
static void fork_prepare(void) {
  hz3_lock_acquire(&g_init_lock);
  hz3_lock_acquire(&hz3_g.epoch.run_lock);
  hz3_lock_acquire(&hz3_g.orphans.lock);
  hz3_batches_lock_all(&hz3_g.batches);
  hz3_large_lock(&hz3_g.large);
  hz3_central_lock_all(&hz3_g.central);
  hz3_lock_acquire(&hz3_g.pool.lock);
  hz3_lock_acquire(&hz3_g.purge.paced_lock); /* innermost: taken under a shard or the pool lock */
}

static void fork_parent(void) {
  hz3_lock_release(&hz3_g.purge.paced_lock);
  hz3_lock_release(&hz3_g.pool.lock);
  hz3_central_unlock_all(&hz3_g.central);
  hz3_large_unlock(&hz3_g.large);
  hz3_batches_unlock_all(&hz3_g.batches);
  hz3_lock_release(&hz3_g.orphans.lock);
  hz3_lock_release(&hz3_g.epoch.run_lock);
  hz3_lock_release(&g_init_lock);
}

static void fork_child(void) {
  /* Only the forking thread lives on; it holds every lock (taken in prepare), so the locks
   * are simply re-made unlocked.  Other threads' caches are lost to the child. */
  hz3_lock_reset(&hz3_g.purge.paced_lock);
  hz3_lock_reset(&hz3_g.pool.lock);
  hz3_central_reset_locks_in_child(&hz3_g.central);
  hz3_lock_reset(&hz3_g.large.lock);
  hz3_lock_reset(&hz3_g.orphans.lock);
  hz3_batches_reset_locks_in_child(&hz3_g.batches);
  hz3_lock_reset(&hz3_g.epoch.run_lock);
  hz3_lock_reset(&g_init_lock);
  /* The lost threads' caches no longer share the bins' growth budget. */
  hz3_g.live_caches = hz3_t_tcache.state == HZ3_TCACHE_ACTIVE ? 1 : 0;
}

/* ---- run-time options: amounts and observability, read once here at set-up ----
 * Each overrides the default of the compile-time knob of the same name for one run; none
 * switches a mechanism on or off, and no box reads the environment. */
typedef struct {
  const char *name; /* environment variable */
  uint64_t value;   /* the knob's default until the option says otherwise */
  uint64_t max;
  bool given;
} hz3_option_t;

enum { OPT_RETAIN_MAX_PAGES, OPT_TCACHE_MAX_BYTES, OPT_VERBOSE, OPT_STATS_AT_EXIT, OPT_COUNT };
static hz3_option_t g_options[OPT_COUNT] = {
    [OPT_RETAIN_MAX_PAGES] = {"HZ3_RETAIN_MAX_PAGES", HZ3_RETAIN_MAX_PAGES, 16777216, false},
    [OPT_TCACHE_MAX_BYTES] = {"HZ3_TCACHE_MAX_BYTES", HZ3_TCACHE_MAX_BYTES, 1073741824, false},
    [OPT_VERBOSE] = {"HZ3_VERBOSE", 0, 1, false},
    [OPT_STATS_AT_EXIT] = {"HZ3_STATS_AT_EXIT", HZ3_STATS, 1, false},
};

/* getenv and a decimal parse: no allocation. A bad value is named on stderr and ignored. */
static void read_options(void) {
  for (int i = 0; i < OPT_COUNT; i++) {
    hz3_option_t *o = &g_options[i];
    const char *v = getenv(o->name);
    if (v == NULL || *v == '\0') continue;
    uint64_t x = 0;
    const char *c = v;
    while (*c >= '0' && *c <= '9' && x <= o->max) x = x * 10 + (uint64_t)(*c++ - '0');
    if (*c != '\0' || x > o->max) {
      hz3_dprintf(2, "hz3: ignoring %s=%s (want a number from 0 to %llu)\n", o->name, v,
                  (unsigned long long)o->max);
      continue;
    }
    o->value = x;
    o->given = true;
  }
}

static void print_loaded_line(void) {
  char opts[256];
  size_t used = 0;
  opts[0] = '\0';
  for (int i = 0; i < OPT_COUNT; i++) {
    if (!g_options[i].given || used >= sizeof opts) continue;
    used += hz3_format(opts + used, sizeof opts - used, "%s%s=%llu", used ? " " : "",
                       g_options[i].name, (unsigned long long)g_options[i].value);
  }
  hz3_dprintf(2,
              "hz3 %s loaded: profile %s (retain_max_pages %llu, tcache_max_bytes %llu, s57 %d "
              "s58 %d s60 %d s61 %d, check %d, stats %d, shards %u of %u), options: %s\n",
              HZ3_VERSION_STRING,
              HZ3_RETAIN_MAX_PAGES == 0 && HZ3_TCACHE_MAX_BYTES == 0 ? "seed (memory return off)"
                                                                     : "default (memory return on)",
              (unsigned long long)g_options[OPT_RETAIN_MAX_PAGES].value,
              (unsigned long long)g_options[OPT_TCACHE_MAX_BYTES].value, HZ3_S57_PARTIAL_PURGE,
              HZ3_S58_TCACHE_DECAY, HZ3_S60_PURGE_RANGE_QUEUE, HZ3_S61_DTOR_HARD_PURGE, HZ3_CHECK,
              HZ3_STATS, hz3_g.shards_used, (unsigned)HZ3_NUM_SHARDS, used ? opts : "none");
}

static void dump_stats_at_exit(void) {
  if (__atomic_load_n(&hz3_g.ready, __ATOMIC_ACQUIRE)) hz3_stats_print(2);
}

/* The retain cap, from the option at start-up and from mallopt: purge keeps that much
 * resident-unused memory, and central keeps its spare runs only below it. */
static void set_retain_pages(uint32_t pages) {
  hz3_purge_set_retain_max_pages(&hz3_g.purge, pages);
  hz3_central_set_spare_limit(&hz3_g.central, pages);
}

/* mallopt(M_TRIM_THRESHOLD, bytes): the retain cap, in bytes. */
void hz3_process_set_retain_bytes(size_t bytes) {
  set_retain_pages((uint32_t)HZ3_MIN(bytes >> HZ3_PAGE_SHIFT, 16777216u));
}

/* The per-process key of the bins' links: getrandom(2) (no allocation; glibc's own AT_RANDOM
 * bytes, mixed, if the kernel has none to give), with the top bit set so that a pointer
 * written into a freed object decodes to a non-canonical address. */
static uintptr_t link_key(void) {
  uint64_t r = 0;
  int saved = errno;
  if (syscall(SYS_getrandom, &r, sizeof r, 1 /* GRND_NONBLOCK */) != (long)sizeof r) {
    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    if (rnd != NULL) memcpy(&r, rnd, sizeof r);
    r ^= (uint64_t)(uintptr_t)&hz3_g * 0x9E3779B97F4A7C15ull; /* ASLR at least */
  }
  errno = saved;
  return (uintptr_t)(r | (1ull << 63));
}

int hz3_process_ensure(void) {
  if (HZ3_LIKELY(__atomic_load_n(&hz3_g.ready, __ATOMIC_ACQUIRE))) return 0;
  hz3_lock_acquire(&g_init_lock);
  if (hz3_g.ready) {
    hz3_lock_release(&g_init_lock);
    return 0;
  }
  int saved_errno = errno; /* a success leaves errno as it found it */
  const hz3_os_ops_t *os = hz3_os_default();
  hz3_stats_reset(&hz3_g.stats);
  /* The first arena's claim maps nothing: segments are mapped as the heap grows, so
   * RLIMIT_AS (ulimit -v, or set later at run time) applies to them as to any mapping. */
  int err = hz3_segment_pool_init(&hz3_g.pool, os, &hz3_g.stats, (size_t)HZ3_ARENA_GIB << 30,
                                  HZ3_MAX_ARENAS);
  if (err != 0) {
    hz3_lock_release(&g_init_lock);
    return err;
  }
  hz3_central_init(&hz3_g.central, &hz3_g.pool, &hz3_g.stats);
  hz3_g.shards_used = shards_for_cpus();
  hz3_large_init(&hz3_g.large, os, &hz3_g.stats);
  read_options();
  hz3_purge_cfg_t purge_cfg = hz3_purge_cfg_default();
  purge_cfg.retain_max_pages = (uint32_t)g_options[OPT_RETAIN_MAX_PAGES].value;
  hz3_purge_init(&hz3_g.purge, &hz3_g.pool, &hz3_g.stats, &purge_cfg);
  set_retain_pages(purge_cfg.retain_max_pages);
  hz3_epoch_init(&hz3_g.epoch, &hz3_g.central, &hz3_g.purge, &hz3_g.stats);
  hz3_g.env = hz3_tcache_env_default(&hz3_g.central, &hz3_g.pool, epoch_tick);
  hz3_g.env.max_bytes = g_options[OPT_TCACHE_MAX_BYTES].value;
  hz3_g.env.live_caches = &hz3_g.live_caches;
  hz3_g.env.link_key = hz3_link_key = link_key();
  hz3_g.central.transfer_mark = hz3_link_key * 0x9E3779B97F4A7C15ull; /* secret, not the key */
  hz3_tcache_orphans_init(&hz3_g.orphans);
  hz3_batches_init(&hz3_g.batches, HZ3_BATCH_CACHE_BYTES);
  hz3_g.env.batches = HZ3_BATCH_CACHE_BYTES ? &hz3_g.batches : NULL;
  /* The thread-exit key exists before any thread can set up a cache (glibc's
   * pthread_key_create does not allocate), so every thread's cache goes home at its exit. */
  if (pthread_key_create(&g_thread_key, thread_exit) == 0) g_key_ready = 1;
  __atomic_store_n(&hz3_g.ready, 1, __ATOMIC_RELEASE);
  hz3_lock_release(&g_init_lock);
  /* The core works from here on, so whatever this may allocate is served normally.  It
   * creates no thread and reads no environment. */
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  if (g_options[OPT_STATS_AT_EXIT].value) atexit(dump_stats_at_exit);
  if (g_options[OPT_VERBOSE].value) print_loaded_line();
  errno = saved_errno;
  return 0;
}

void hz3_thread_ensure(void) {
  hz3_tcache_t *tc = &hz3_t_tcache;
  if (tc->state != HZ3_TCACHE_FRESH) return;
  uint32_t shard = choose_shard();
  /* An exited thread of this shard may have left its cache, objects and all. */
  if (!HZ3_ORPHAN_CACHES || !hz3_tcache_orphan_adopt(&hz3_g.orphans, tc, &hz3_g.env, shard))
    hz3_tcache_setup(tc, &hz3_g.env, shard);
  __atomic_fetch_add(&hz3_g.shard_threads[shard], 1, __ATOMIC_RELAXED);
  /* Registers the exit hook; the value only has to be non-NULL. */
  if (g_key_ready) pthread_setspecific(g_thread_key, tc);
}

/* ---- the public hz3_* API (preload/hz3.h) ---- */

/* Counters, plus the gauges read from the boxes' state (moving in every build). */
static void stats_now(hz3_stats_t *snap) {
  hz3_stats_snapshot(&hz3_g.stats, snap);
  if (!__atomic_load_n(&hz3_g.ready, __ATOMIC_ACQUIRE)) return;
  snap->segments_in_use = __atomic_load_n(&hz3_g.pool.used_segments, __ATOMIC_RELAXED) -
                          __atomic_load_n(&hz3_g.pool.nspare, __ATOMIC_RELAXED);
  snap->large_live_bytes = __atomic_load_n(&hz3_g.large.mapped_bytes, __ATOMIC_RELAXED);
  snap->unused_resident_pages = hz3_segment_unused_pages(&hz3_g.pool);
  snap->batch_cache_bytes = hz3_batches_bytes(&hz3_g.batches);
}

HZ3_EXPORT int hz3_version(void) {
  return HZ3_VERSION_MAJOR * 10000 + HZ3_VERSION_MINOR * 100 + HZ3_VERSION_PATCH;
}

HZ3_EXPORT size_t hz3_stats_get(hz3_stats_t *out, size_t size) {
  hz3_stats_t snap;
  stats_now(&snap);
  size_t n = HZ3_MIN(size, sizeof snap);
  memcpy(out, &snap, n);
  return n;
}

HZ3_EXPORT void hz3_epoch_force(void) {
  if (hz3_process_ensure() != 0) return;
  epoch_tick();
}

HZ3_EXPORT void hz3_stats_print(int fd) {
  hz3_stats_t snap;
  stats_now(&snap);
  hz3_stats_write(&snap, fd);
  hz3_dprintf(fd,
              "  segments in use: %u (%u spare) in %u arenas of %zu GiB, large: %zu live, %zu "
              "bytes mapped\n",
              hz3_g.pool.used_segments - hz3_g.pool.nspare, hz3_g.pool.nspare, hz3_g.pool.narenas,
              hz3_g.pool.arena_bytes >> 30, hz3_g.large.count, hz3_g.large.mapped_bytes);
  hz3_dprintf(fd, "  resident-unused pages: %llu (retain cap %u), epochs: %u\n",
              (unsigned long long)hz3_segment_unused_pages(&hz3_g.pool),
              hz3_g.purge.cfg.retain_max_pages, hz3_epoch_current(&hz3_g.epoch));
}
