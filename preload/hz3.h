/* hz3.h: hz3's public API beyond the libc allocation functions.
 *
 * hz3 is a drop-in malloc: LD_PRELOAD=libhz3.so, or link -lhz3.  These functions let a program
 * read what hz3 is doing and ask it to give memory back.  All are thread-safe and none of them
 * allocates.
 */
#ifndef HZ3_H
#define HZ3_H

#include <stddef.h>
#include <stdint.h>

/* The version of this header; hz3_version() gives the library's. */
#define HZ3_VERSION_MAJOR 0
#define HZ3_VERSION_MINOR 2
#define HZ3_VERSION_PATCH 0
#define HZ3_VERSION_STRING "0.2.0"

/* hz3_stats_t: one uint64_t counter per HZ3_STAT_FIELDS row, after size and version. */
#include "base/hz3_stats_struct.h" /* install.sh inlines this file here */

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version as MAJOR * 10000 + MINOR * 100 + PATCH (compare with the macros). */
int hz3_version(void);

/* Copies hz3's counters into *out (at most size bytes: pass sizeof(hz3_stats_t), and an
 * older caller's smaller struct still works); returns the bytes written.  out->size tells the
 * library's own size, out->version HZ3_STATS_VERSION. */
size_t hz3_stats_get(hz3_stats_t *out, size_t size);

/* Writes the counters, one per line, to fd. */
void hz3_stats_print(int fd);

/* Writes this build's knob values (--define name=value), one per line, to fd. */
void hz3_config_dump(int fd);

/* Runs one maintenance epoch now for the calling thread: S58 reclaim of its cache, its shard's
 * remote frees, then purge within the epoch's budgets.  malloc_trim(0) is the unbudgeted,
 * process-wide version. */
void hz3_epoch_force(void);

#ifdef __cplusplus
}
#endif

#endif /* HZ3_H */
