/* Formatting without malloc: a small printf subset into a caller's buffer, and write(2) loops.
 * Used by the abort path, the stats and config dumps, and the check build's messages, all of
 * which may run inside malloc where stdio cannot be used.
 * Supported: %s %c %d %i %u %x %p %%, the flags - and 0, a width, and the length modifiers
 * l, ll and z.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "base/hz3_compiler.h"

/* Formats into buf (always NUL-terminated when cap > 0); returns the length written, which is
 * truncated to cap - 1. */
size_t hz3_vformat(char *buf, size_t cap, const char *fmt, va_list ap);
size_t hz3_format(char *buf, size_t cap, const char *fmt, ...) HZ3_PRINTF(3, 4);

/* Writes all len bytes to fd, retrying short writes and EINTR; returns 0 or an errno value. */
int hz3_write_all(int fd, const char *s, size_t len);

/* Formats a line of at most 512 bytes on the stack and writes it to fd. */
void hz3_dprintf(int fd, const char *fmt, ...) HZ3_PRINTF(2, 3);
