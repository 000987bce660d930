/* segment_fuzz: random alloc_run / free_run / busy / idle / purge against a model of live runs
 * (disjoint page ranges, data intact), hz3_segment_check after every step. */
#include <string.h>

#include "segment/segment.h"
#include "tests/fuzz/fuzz_util.h"

#define MAX_RUNS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in_t in = {data, size, 0};
  hz3_segment_pool_t pool;
  if (hz3_segment_pool_init(&pool, hz3_os_default(), NULL, 4 * HZ3_SEG_SIZE, 1) != 0) return 0;
  hz3_segment_set_t set;
  hz3_segment_set_init(&set, 1);
  hz3_run_t *runs[MAX_RUNS];
  uint8_t stamp[MAX_RUNS];
  int n = 0;
  hz3_check_report_t r;
  while (fuzz_more(&in)) {
    uint32_t op = fuzz_u8(&in) % 5;
    if (op == 0 && n < MAX_RUNS) {
      uint32_t cls = fuzz_u8(&in) % HZ3_NUM_CLASSES;
      hz3_run_t *run = hz3_segment_alloc_run(&pool, &set, hz3_class_run_pages(cls), cls, 0);
      if (run != NULL) {
        hz3_segment_t *seg = hz3_segment_of(&pool, hz3_segment_run_start(&pool, run));
        hz3_segment_mark_busy(&pool, &set, seg, run->first_page % HZ3_SEG_PAGES, run->npages);
        for (int i = 0; i < n; i++) /* the model: no two live runs share a page */
          FUZZ_REQUIRE(run->first_page + run->npages <= runs[i]->first_page ||
                           runs[i]->first_page + runs[i]->npages <= run->first_page,
                       "run at page %u overlaps run at %u", run->first_page, runs[i]->first_page);
        stamp[n] = (uint8_t)(n * 37 + 1);
        memset(hz3_segment_run_start(&pool, run), stamp[n], (size_t)run->npages * HZ3_PAGE_SIZE);
        runs[n++] = run;
      }
    } else if (op == 1 && n > 0) {
      uint32_t i = fuzz_u8(&in) % n;
      const uint8_t *p = hz3_segment_run_start(&pool, runs[i]);
      for (size_t b = 0; b < (size_t)runs[i]->npages * HZ3_PAGE_SIZE; b += 1021)
        FUZZ_REQUIRE(p[b] == stamp[i], "run data changed at byte %zu", b);
      hz3_segment_free_run(&pool, &set, runs[i], 0);
      runs[i] = runs[n - 1];
      stamp[i] = stamp[n - 1];
      n--;
    } else if (op == 2 && n > 0) { /* idle then busy again: the contents of busy pages stay */
      uint32_t i = fuzz_u8(&in) % n;
      hz3_segment_t *seg = hz3_segment_of(&pool, hz3_segment_run_start(&pool, runs[i]));
      uint32_t first = runs[i]->first_page % HZ3_SEG_PAGES;
      hz3_segment_mark_idle(&pool, &set, seg, first, runs[i]->npages);
      hz3_segment_mark_busy(&pool, &set, seg, first, runs[i]->npages);
      memset(hz3_segment_run_start(&pool, runs[i]), stamp[i],
             (size_t)runs[i]->npages * HZ3_PAGE_SIZE);
    } else if (op == 3) { /* purge every unused range of every segment of the set */
      for (hz3_segment_t *seg = set.head; seg != NULL; seg = seg->next) {
        uint32_t first, len, from = 0;
        while ((len = hz3_segment_next_unused(seg, from, HZ3_SEG_PAGES, &first)) != 0) {
          FUZZ_REQUIRE(hz3_segment_purge_range(&pool, &set, seg, first, len) == 0, "purge failed");
          from = first + len;
        }
      }
    } else if (op == 4) {
      hz3_segment_purge_spare(&pool, UINT64_MAX, UINT32_MAX, NULL);
    }
    FUZZ_REQUIRE(hz3_segment_check(&pool, &r), "%s", r.message);
  }
  while (n > 0) hz3_segment_free_run(&pool, &set, runs[--n], 0);
  FUZZ_REQUIRE(hz3_segment_check(&pool, &r), "%s", r.message);
  FUZZ_REQUIRE(set.head == NULL, "segments left in the set");
  hz3_segment_pool_destroy(&pool);
  return 0;
}
