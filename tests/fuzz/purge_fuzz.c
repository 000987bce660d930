/* purge_fuzz: random objects through central with every purge policy switched on (small
 * budgets, a retain cap, a short queue) and random epochs, ticks, drains and hard purges;
 * the data of every object still handed out must survive, and central, segment and purge
 * checks hold after every step. */
#include <string.h>

#include "central/central.h"
#include "purge/purge.h"
#include "tests/fuzz/fuzz_util.h"

#define MAX_OBJS 1024

typedef struct {
  void *p;
  uint32_t cls;
} obj_t;

static hz3_segment_pool_t g_pool;
static hz3_central_t g_central;
static hz3_purge_t g_purge;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in_t in = {data, size, 0};
  if (hz3_segment_pool_init(&g_pool, hz3_os_default(), NULL, 8 * HZ3_SEG_SIZE, 1) != 0) return 0;
  hz3_central_init(&g_central, &g_pool, NULL);
  hz3_purge_cfg_t cfg = hz3_purge_cfg_default();
  cfg.s57 = cfg.s60 = cfg.s61 = true;
  cfg.budget_pages = 1 + fuzz_u8(&in) % 64;
  cfg.min_range_pages = 1 + fuzz_u8(&in) % 4;
  cfg.decay_epochs = fuzz_u8(&in) % 3;
  cfg.queue_size = 1 + fuzz_u8(&in) % 16;
  cfg.queue_budget_calls = 1 + fuzz_u8(&in) % 8;
  cfg.queue_budget_pages = 1 + fuzz_u8(&in) % 64;
  cfg.retain_max_pages = fuzz_u8(&in) % 64;
  cfg.retain_budget_calls = 1 + fuzz_u8(&in) % 8;
  hz3_purge_init(&g_purge, &g_pool, NULL, &cfg);
  hz3_central_set_spare_limit(&g_central, cfg.retain_max_pages); /* as preload does */
  static obj_t objs[MAX_OBJS];
  int n = 0;
  uint32_t epoch = 0;
  hz3_check_report_t r;
  hz3_segment_set_t *set = hz3_central_segments(&g_central, 0);
  while (fuzz_more(&in)) {
    uint32_t op = fuzz_u8(&in) % 6;
    if (op <= 1) {
      uint32_t cls = fuzz_u8(&in) % HZ3_NUM_CLASSES, want = 1 + fuzz_u8(&in) % 16;
      void *head = NULL;
      uint32_t got = hz3_central_alloc_batch(&g_central, 0, cls, want, &head);
      for (uint32_t i = 0; i < got; i++) {
        void *next = *(void **)head;
        if (n < MAX_OBJS) {
          memset(head, 0x5A, hz3_class_to_size(cls));
          objs[n++] = (obj_t){head, cls};
        } else {
          *(void **)head = NULL;
          hz3_central_free_list(&g_central, 0, head);
        }
        head = next;
      }
    } else if (op == 2 && n > 0) {
      uint32_t k = 1 + fuzz_u8(&in) % 16;
      for (uint32_t j = 0; j < k && n > 0; j++) {
        uint32_t i = fuzz_u16(&in) % n;
        obj_t o = objs[i];
        objs[i] = objs[--n];
        *(void **)o.p = NULL;
        hz3_central_free_list(&g_central, 0, o.p);
      }
    } else {
      hz3_central_lock_shard(&g_central, 0);
      hz3_central_set_epoch(&g_central, 0, ++epoch);
      if (op == 3)
        hz3_purge_tick(&g_purge, set, epoch);
      else if (op == 4)
        hz3_purge_queue_drain(&g_purge, set);
      else
        hz3_purge_hard(&g_purge, set, 1 + fuzz_u8(&in) % 128, 1 + fuzz_u8(&in) % 8);
      hz3_central_unlock_shard(&g_central, 0);
    }
    /* Nothing in use was purged: every handed-out object still holds its bytes. */
    for (int i = 0; i < n; i++) {
      const uint8_t *b = objs[i].p;
      size_t sz = hz3_class_to_size(objs[i].cls);
      FUZZ_REQUIRE(b[sizeof(void *)] == 0x5A && b[sz - 1] == 0x5A, "object %p lost its data",
                   objs[i].p);
    }
    FUZZ_REQUIRE(hz3_central_check(&g_central, &r), "%s", r.message);
    FUZZ_REQUIRE(hz3_purge_check(&g_purge, &r), "%s", r.message);
  }
  for (int i = 0; i < n; i++) {
    *(void **)objs[i].p = NULL;
    hz3_central_free_list(&g_central, 0, objs[i].p);
  }
  FUZZ_REQUIRE(hz3_central_check(&g_central, &r), "%s", r.message);
  hz3_central_release_spares(&g_central, 0); /* trim's step: each class's spare run */
  FUZZ_REQUIRE(set->head == NULL, "segments left");
  hz3_segment_pool_destroy(&g_pool);
  return 0;
}
