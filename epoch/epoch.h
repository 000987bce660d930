/* epoch/epoch.h: the single maintenance boundary.
 *
 * Owns: the epoch counter and the order of maintenance: S58 reclaim (tcache -> central ->
 *   segment) first, then purge (S57-B2, S60, S61), within a per-epoch budget.
 * Invariants: never runs on the malloc/free fast path; one epoch at a time (a try-lock: a
 *   thread that finds an epoch running skips it).
 * Triggers: every HZ3_EPOCH_INTERVAL slow-path events, thread exit, malloc_trim, explicit call.
 * Callers: preload (triggers), tcache (through the epoch_tick hook), tests.
 * Status: contract only; the memory-return issue implements it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"

/* Runs one epoch over the calling thread's shard, within budgets. */
void hz3_epoch_force(void);

/* The number of epochs run so far. */
uint32_t hz3_epoch_current(void);
