/* base/base.h: what every box stands on.
 *
 * Owns: size classes (hz3_size_class.h), the OS layer (hz3_os.h), asserts and the abort path
 *   (hz3_assert.h), malloc-free formatting (hz3_fmt.h), the stats field list (hz3_stats.h),
 *   check reports (hz3_check.h), the lock (hz3_lock.h) and compiler helpers (hz3_compiler.h).
 * Invariants: nothing here allocates with malloc, reads the environment, or keeps hidden
 *   global state (the OS table is constant; the clock is the OS's).
 * Threads: all functions are thread-safe.
 * Callers: every box; tests/fakes implements hz3_os_ops_t.
 */
#pragma once

#include "base/hz3_assert.h"
#include "base/hz3_check.h"
#include "base/hz3_compiler.h"
#include "base/hz3_fmt.h"
#include "base/hz3_lock.h"
#include "base/hz3_os.h"
#include "base/hz3_size_class.h"
#include "base/hz3_stats.h"
#include "config/config.h"

/* Writes the knob values of this build, one per line, to fd; never allocates. */
HZ3_EXPORT void hz3_config_dump(int fd);
