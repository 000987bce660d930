#include "base/hz3_assert.h"

#include <stdarg.h>
#include <stdlib.h>

#include "base/hz3_fmt.h"

void hz3_fatal(const char *fmt, ...) {
  char line[512];
  size_t n = hz3_format(line, sizeof line, "hz3: fatal: ");
  va_list ap;
  va_start(ap, fmt);
  n += hz3_vformat(line + n, sizeof line - n - 1, fmt, ap);
  va_end(ap);
  line[n++] = '\n';
  (void)hz3_write_all(2, line, n);
  abort();
}

void hz3_assert_fail(const char *cond, const char *file, int line) {
  hz3_fatal("assertion failed: %s (%s:%d)", cond, file, line);
}
