/* limits_test_bin: run under `ulimit -v` by limits_test.sh.  Allocates 1 000-byte objects
 * until malloc says no, which must be NULL with errno ENOMEM (not a crash, not a hang); then
 * frees every other one and allocates again, which must work: the limit was reached, not a
 * ceiling of hz3's own that freeing does not lift.  errno is untouched by calls that work. */
#include <errno.h>
#include <stdint.h>

#include "tests/preload_check.h"

#define MAX_OBJS (4u << 20) /* 4 GiB of 1 000-byte objects: far past any limit the test sets */

int main(void) {
  require_hz3_loaded();
  errno = 1234;
  void *first = malloc(64);
  CHECK(first != NULL);
  CHECK_EQ_LL(errno, 1234); /* a successful first malloc leaves errno alone */
  static void *objs[MAX_OBJS];
  unsigned n = 0;
  while (n < MAX_OBJS) {
    errno = 0;
    void *p = malloc(1000);
    if (p == NULL) break;
    memset(p, 1, 1000);
    objs[n++] = p;
  }
  CHECK(n < MAX_OBJS);
  CHECK_EQ_LL(errno, ENOMEM);
  fprintf(stderr, "limits_test: %u objects (%u MiB) before NULL\n", n, n / 1049);
  for (unsigned i = 0; i < n; i += 2) free(objs[i]);
  unsigned again = 0;
  for (unsigned i = 0; i < n / 4; i++) {
    void *p = malloc(1000);
    if (p == NULL) break;
    memset(p, 2, 1000);
    objs[2 * i] = p;
    again++;
  }
  CHECK(again == n / 4);
  for (unsigned i = 0; i < n; i++)
    if (i % 2 == 1 || i / 2 < again) free(objs[i]);
  free(first);
  return checks_summary("limits_test");
}
