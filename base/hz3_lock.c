/* base/hz3_lock.c: the contended halves of hz3_lock_t: a short spin, then a futex. */
#include "base/hz3_lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Spins before sleeping.  Each is a load and a pause (tens of cycles): a few microseconds in
 * all, longer than any section under an hz3 lock takes while its holder runs. */
#define HZ3_LOCK_SPINS 200

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

void hz3_lock_acquire_contended(hz3_lock_t *l) {
  for (int i = 0; i < HZ3_LOCK_SPINS; i++) {
    cpu_relax();
    if (__atomic_load_n(&l->state, __ATOMIC_RELAXED) == 0 && hz3_lock_try(l)) return;
  }
  /* Sleep until it is free; whoever takes it this way leaves it at 2, so that its release
   * wakes the next sleeper (a spurious wake at worst). */
  while (__atomic_exchange_n(&l->state, 2, __ATOMIC_ACQUIRE) != 0)
    syscall(SYS_futex, &l->state, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

void hz3_lock_wake_one(hz3_lock_t *l) {
  syscall(SYS_futex, &l->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
