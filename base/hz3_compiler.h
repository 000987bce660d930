/* Compiler helpers shared by every box: branch hints, inlining control, TLS model. */
#pragma once

#define HZ3_LIKELY(x) __builtin_expect(!!(x), 1)
#define HZ3_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HZ3_ALWAYS_INLINE inline __attribute__((always_inline))
#define HZ3_NOINLINE __attribute__((noinline))
#define HZ3_NORETURN __attribute__((noreturn))
#define HZ3_COLD __attribute__((cold))
#define HZ3_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
/* Symbols the .so exports (the libc API and preload/hz3.h); everything else is hidden. */
#define HZ3_EXPORT __attribute__((visibility("default")))
/* On an extern declaration of a variable defined in the .so: the compiler then addresses it
 * directly (rip-relative), not through a GOT load. */
#define HZ3_HIDDEN __attribute__((visibility("hidden")))
/* Initial-exec TLS: the .so is preloaded or linked, never dlopen'ed late, so a TLS access is one
 * %fs-relative load with no __tls_get_addr call (mimalloc's shared library makes the same
 * choice). */
#define HZ3_TLS_IE __attribute__((tls_model("initial-exec")))
#define HZ3_CACHELINE 64
#define HZ3_CACHE_ALIGNED __attribute__((aligned(HZ3_CACHELINE)))

/* Bits set in x.  Built for the x86-64 baseline (no POPCNT instruction), __builtin_popcountll
 * is a call into libgcc; page-state words are mostly all clear or all set (a big run covers
 * whole words), and those answer without it: the call was 15 % of a malloc(1 MiB)+free. */
static inline unsigned hz3_popcount64(unsigned long long x) {
  if (x == 0) return 0;
  if (x == ~0ull) return 64;
  return (unsigned)__builtin_popcountll(x);
}

#define HZ3_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define HZ3_MIN(a, b) ((a) < (b) ? (a) : (b))
#define HZ3_MAX(a, b) ((a) > (b) ? (a) : (b))

/* 1 in a build with ASan or TSan (GCC says so with __SANITIZE_*__, clang with __has_feature). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HZ3_HAS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HZ3_HAS_SANITIZER 1
#endif
#endif
#ifndef HZ3_HAS_SANITIZER
#define HZ3_HAS_SANITIZER 0
#endif
