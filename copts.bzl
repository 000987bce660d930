"""The one set of compiler flags for every hz3 target (style.md section 5)."""

# C boxes: strict C11 plus the GNU/POSIX declarations (mmap flags, pthread_atfork, MADV_*).
# -fvisibility=hidden: nothing leaks from the .so but what preload/hz3.map exports, and
# intra-library calls need no PLT.
HZ3_COPTS = [
    "-std=c11",
    "-D_GNU_SOURCE",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
    "-Wno-unused-parameter",
    "-fvisibility=hidden",
    "-fno-strict-aliasing",
]

# C++ tests and fakes: the matching set.
HZ3_TEST_COPTS = [
    "-std=c++17",
    "-D_GNU_SOURCE",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unused-parameter",
    "-Wno-missing-field-initializers",
]

# Benchmarks and helper programs in C: same strictness, no hidden visibility needed.
HZ3_BENCH_COPTS = [
    "-std=c11",
    "-D_GNU_SOURCE",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
]
