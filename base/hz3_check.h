/* What a hz3_<box>_check() walk reports.  Every box exports
 *   bool hz3_<box>_check(const T *, hz3_check_report_t *report);
 * which is always compiled, walks all of the box's state, and returns false on the first broken
 * invariant with a one-line reason in report (report may be NULL). */
#pragma once

#include <stdbool.h>

#include "base/hz3_compiler.h"

typedef struct hz3_check_report {
  char message[256];
} hz3_check_report_t;

/* Records the reason in report (if any) and returns false, for `return hz3_check_fail(...)`. */
bool hz3_check_fail(hz3_check_report_t *report, const char *fmt, ...) HZ3_PRINTF(2, 3);
