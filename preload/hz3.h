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

/* hz3_stats_t: one uint64_t counter per HZ3_STAT_FIELDS row, after size and version. */
#include "base/hz3_stats_struct.h" /* install.sh inlines this file here */

#ifdef __cplusplus
extern "C" {
#endif

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
