#!/usr/bin/env bash
# options_test.sh SO BIN: run-time options (environment, read once at start-up) and mallopt.
# A newcomer's three asks without a rebuild: see that hz3 is loaded, get stats at exit, and
# change how much freed memory one run keeps.
set -u
so=$PWD/$1 bin=$PWD/$2
fail=0
run() { env "$@" LD_PRELOAD="$so" "$bin" 2>&1; }
expect() { # name, pattern, output
  if grep -qE "$2" <<<"$3"; then echo "ok: $1"; else echo "FAIL: $1"; echo "$3" | tail -5; fail=1; fi
}
kept() { sed -n 's/^kept_kb=\([0-9-]*\).*/\1/p' <<<"$1"; }
out=$(run HZ3_VERBOSE=1); expect "verbose line" "^hz3 [0-9.]+ loaded: profile .*options: HZ3_VERBOSE=1" "$out"
# Threads are spread over one shard per CPU the process may run on (at most the knob's).
cpus=$(nproc) most=$(sed -n 's/.*shards [0-9]* of \([0-9]*\)).*/\1/p' <<<"$out")
expect "shards follow the CPUs" "shards $(( cpus < ${most:-0} ? cpus : ${most:-0} )) of ${most:-x}\\)" "$out"
if command -v taskset >/dev/null; then
  out=$(taskset -c 0 env HZ3_VERBOSE=1 LD_PRELOAD="$so" "$bin" 2>&1)
  expect "one CPU, one shard" "shards 1 of [0-9]+\\)" "$out"
fi
out=$(run HZ3_STATS_AT_EXIT=1); expect "stats at exit" "^hz3 stats \(version [0-9]+\)" "$out"
out=$(run HZ3_TCACHE_MAX_BYTES=lots); expect "a bad value is named" "ignoring HZ3_TCACHE_MAX_BYTES=lots" "$out"
plain=$(run)
default=$(kept "$plain")
if grep -q "retain_knob=0" <<<"$plain"; then  # a seed build: the option gives the cap instead
  default=$(kept "$(run HZ3_RETAIN_MAX_PAGES=256 HZ3_TCACHE_MAX_BYTES=262144)")
fi
off=$(kept "$(run HZ3_RETAIN_MAX_PAGES=0 HZ3_TCACHE_MAX_BYTES=0)")
big=$(kept "$(env LD_PRELOAD="$so" "$bin" mallopt 2>&1)")
echo "kept after freeing 64 MiB: default ${default} KiB, HZ3_RETAIN_MAX_PAGES=0 ${off} KiB, mallopt(M_TRIM_THRESHOLD, 1 GiB) ${big} KiB"
if [ "${default:-99999999}" -lt 16384 ]; then echo "ok: default gives it back"; else echo "FAIL: default kept ${default} KiB"; fail=1; fi
if [ "${off:-0}" -gt 32768 ]; then echo "ok: the option keeps it for this run"; else echo "FAIL: HZ3_RETAIN_MAX_PAGES=0 kept ${off} KiB"; fail=1; fi
if [ "${big:-0}" -gt 32768 ]; then echo "ok: mallopt keeps it"; else echo "FAIL: mallopt(M_TRIM_THRESHOLD) kept ${big} KiB"; fail=1; fi
exit $fail
