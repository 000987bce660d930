/* config/config.h: the build's configuration, read by every box.
 *
 * Owns: the knob values of this build (generated from config/knobs.bzl by --define) and the
 *   static rules that tie knobs together (hz3_config_check.h).
 * Invariants: every HZ3_* knob macro is always defined, as 0/1 or a number in its range, so
 *   code tests knobs with `if (HZ3_X)` and both arms compile.  No knob is read at run time
 *   from the environment.
 * Threads: constants only.
 * Callers: everyone.  hz3_config_dump() (base) prints these values for a running build.
 */
#pragma once

#include "config/hz3_config.h"
#include "config/hz3_config_check.h"
