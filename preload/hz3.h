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

#ifdef __cplusplus
extern "C" {
#endif

/* Copies hz3's counters into *out (at most size bytes, so an older caller's smaller struct
 * still works); returns the bytes written.  The struct is base/hz3_stats.h's hz3_stats_t. */
size_t hz3_stats_get(void *out, size_t size);

/* Writes the counters, one per line, to fd. */
void hz3_stats_print(int fd);

/* Writes this build's knob values (--define name=value), one per line, to fd. */
void hz3_config_dump(int fd);

/* Runs one maintenance epoch now: returns cached memory to central lists and segments and,
 * with purging built in, free pages to the OS within the epoch's budget. */
void hz3_epoch_force(void);

#ifdef __cplusplus
}
#endif

#endif /* HZ3_H */
