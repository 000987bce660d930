/* growth_test_bin: no ceiling.  4 GiB of 1 KiB objects allocated, each written with its index
 * at both ends, all checked (two objects that overlapped would show), freed, and again.  In
 * the all_on build (arena_gib=1) that is more than four arenas: objects past the first are
 * found, freed and reused like the rest.  Where memory return is on, RSS after each round is
 * back within 24 MiB of where it started (retain cap, cache cap and the active allowance). */
#include <errno.h>
#include <stdint.h>

#include "tests/preload_check.h"

#define OBJ 1024u
#define NOBJS (4u << 20) /* 4 GiB */

static uint32_t *objs[NOBJS];

static int round_trip(int round) {
  for (uint32_t i = 0; i < NOBJS; i++) {
    uint32_t *p = malloc(OBJ);
    if (p == NULL) {
      fprintf(stderr, "round %d: malloc failed after %u objects (errno %d)\n", round, i, errno);
      CHECK(!"4 GiB of 1 KiB objects");
      for (uint32_t j = 0; j < i; j++) free(objs[j]);
      return 0;
    }
    p[0] = i;
    p[OBJ / sizeof *p - 1] = ~i;
    objs[i] = p;
  }
  uint32_t bad = 0;
  for (uint32_t i = 0; i < NOBJS; i++)
    if (objs[i][0] != i || objs[i][OBJ / sizeof(uint32_t) - 1] != ~i) bad++;
  CHECK_EQ_LL(bad, 0);
  /* Frees in an order unlike allocation: odd ones, then even ones backwards. */
  for (uint32_t i = 1; i < NOBJS; i += 2) free(objs[i]);
  for (uint32_t i = NOBJS; i >= 2; i -= 2) free(objs[i - 2]);
  return 1;
}

int main(void) {
  require_hz3_loaded();
  int returns_memory = hz3_knob("retain_max_pages") > 0;
  memset(objs, 0, sizeof objs); /* its 32 MiB count in the floor, not against hz3 */
  long floor_kb = rss_kb();
  for (int round = 1; round <= 2; round++) {
    if (!round_trip(round)) break;
    long now_kb = rss_kb();
    fprintf(stderr, "round %d: RSS %ld MiB after freeing (started at %ld MiB), arena_gib=%ld\n",
            round, now_kb >> 10, floor_kb >> 10, hz3_knob("arena_gib"));
    if (returns_memory) CHECK(now_kb <= floor_kb + (24l << 10));
  }
  return checks_summary("growth_test");
}
