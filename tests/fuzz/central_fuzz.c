/* central_fuzz: random batches, frees (local lists and remote inboxes) and drains across
 * shards and classes against a model of handed-out objects (distinct, data intact),
 * hz3_central_check after every step. */
#include <string.h>

#include "central/central.h"
#include "tests/fuzz/fuzz_util.h"

#define MAX_OBJS 2048

typedef struct {
  void *p;
  uint32_t shard, cls;
} obj_t;

static hz3_segment_pool_t g_pool;
static hz3_central_t g_central;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in_t in = {data, size, 0};
  if (hz3_segment_pool_init(&g_pool, hz3_os_default(), NULL, 8 * HZ3_SEG_SIZE, 1) != 0) return 0;
  hz3_central_init(&g_central, &g_pool, NULL);
  static obj_t objs[MAX_OBJS];
  int n = 0;
  hz3_check_report_t r;
  while (fuzz_more(&in)) {
    uint32_t op = fuzz_u8(&in) % 4;
    if (op == 0) {
      uint32_t shard = fuzz_u8(&in) % g_central.nshards, cls = fuzz_u8(&in) % HZ3_NUM_CLASSES;
      uint32_t want = 1 + fuzz_u8(&in) % 32;
      void *head = NULL;
      uint32_t got = hz3_central_alloc_batch(&g_central, shard, cls, want, &head);
      for (uint32_t i = 0; i < got; i++) {
        void *next = *(void **)head;
        if (n < MAX_OBJS) {
          memset(head, (int)(n & 0xFF), hz3_class_to_size(cls));
          objs[n++] = (obj_t){head, shard, cls};
        } else {
          *(void **)head = NULL;
          hz3_central_free_list(&g_central, shard, head);
        }
        head = next;
      }
    } else if ((op == 1 || op == 2) && n > 0) {
      /* Free a handful: as a local list (op 1) or through the owner's inbox (op 2). */
      uint32_t k = 1 + fuzz_u8(&in) % 8;
      for (uint32_t j = 0; j < k && n > 0; j++) {
        uint32_t i = fuzz_u16(&in) % n;
        obj_t o = objs[i];
        const uint8_t *b = o.p;
        size_t sz = hz3_class_to_size(o.cls);
        for (size_t x = sizeof(void *); x < sz; x += 61)
          FUZZ_REQUIRE(b[x] == (uint8_t)(i & 0xFF), "object %p of class %u changed", o.p, o.cls);
        objs[i] = objs[n - 1];
        if (i < (uint32_t)n - 1) memset(objs[i].p, (int)(i & 0xFF), hz3_class_to_size(objs[i].cls));
        n--;
        *(void **)o.p = NULL;
        if (op == 1)
          hz3_central_free_list(&g_central, o.shard, o.p);
        else
          hz3_central_remote_push(&g_central, o.shard, o.p, o.p);
      }
    } else if (op == 3) {
      uint32_t s = fuzz_u8(&in) % g_central.nshards;
      hz3_central_drain_inbox(&g_central, s);
      if (fuzz_u8(&in) & 1) hz3_central_release_spares(&g_central, s);
    }
    FUZZ_REQUIRE(hz3_central_check(&g_central, &r), "%s", r.message);
  }
  for (int i = 0; i < n; i++) {
    *(void **)objs[i].p = NULL;
    hz3_central_free_list(&g_central, objs[i].shard, objs[i].p);
  }
  for (uint32_t s = 0; s < g_central.nshards; s++) hz3_central_drain_inbox(&g_central, s);
  FUZZ_REQUIRE(hz3_central_check(&g_central, &r), "%s", r.message);
  for (uint32_t s = 0; s < g_central.nshards; s++) hz3_central_release_spares(&g_central, s);
  for (uint32_t s = 0; s < g_central.nshards; s++)
    FUZZ_REQUIRE(g_central.shards[s].segments.head == NULL, "shard %u kept segments", s);
  hz3_segment_pool_destroy(&g_pool);
  return 0;
}
