#include "base/hz3_check.h"

#include <stdarg.h>

#include "base/hz3_fmt.h"

bool hz3_check_fail(hz3_check_report_t *report, const char *fmt, ...) {
  if (report != NULL) {
    va_list ap;
    va_start(ap, fmt);
    hz3_vformat(report->message, sizeof report->message, fmt, ap);
    va_end(ap);
  }
  return false;
}
