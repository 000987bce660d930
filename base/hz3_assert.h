/* Asserts with levels (HZ3_DEBUG knob) and the abort path.
 *   HZ3_ASSERT(c)       cheap checks, compiled in at debug >= 1.
 *   HZ3_ASSERT_SLOW(c)  O(n) walks such as hz3_<box>_check(), compiled in at debug >= 2.
 * Release fast paths contain neither.  A failure prints one line formatted on the stack and
 * written with write(2) (no stdio: we may be inside malloc), then aborts.
 */
#pragma once

#include "base/hz3_compiler.h"
#include "config/config.h"

/* Prints "hz3: fatal: <message>" to stderr and aborts. Never allocates. */
HZ3_NORETURN HZ3_COLD void hz3_fatal(const char *fmt, ...) HZ3_PRINTF(1, 2);

HZ3_NORETURN HZ3_COLD void hz3_assert_fail(const char *cond, const char *file, int line);

#define HZ3_ASSERT(c)                                                                  \
  do {                                                                                 \
    if (HZ3_DEBUG >= 1 && HZ3_UNLIKELY(!(c))) hz3_assert_fail(#c, __FILE__, __LINE__); \
  } while (0)

#define HZ3_ASSERT_SLOW(c)                                                             \
  do {                                                                                 \
    if (HZ3_DEBUG >= 2 && HZ3_UNLIKELY(!(c))) hz3_assert_fail(#c, __FILE__, __LINE__); \
  } while (0)
