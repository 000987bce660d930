#!/usr/bin/env bash
# run_fuzzers.sh: builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined,
# asserts at debug=2) outside Bazel, and runs each for a bounded time.  api_fuzz links the
# whole library (hz3 is then that process's malloc), so it is built without ASan, which would
# replace malloc.
#   tests/fuzz/run_fuzzers.sh [SECONDS]      (default 20 per target; longer soak: 600)
# Prints "fuzz <target>: PASSED|FAILED" per target; exit status non-zero if any failed.
# Crash inputs stay in bench/out/fuzz/<target>/ for replay: ./<target> <crash-file>.
set -u
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-20}
OUT=bench/out/fuzz
mkdir -p "$OUT"
command -v clang >/dev/null || { echo "run_fuzzers: clang is missing (apt-get install clang)" >&2; exit 2; }
bazel build --noshow_progress --define debug=2 //config:config_files >/dev/null 2>&1 || { echo "run_fuzzers: config header build failed" >&2; exit 2; }
GEN=$(bazel info --define debug=2 bazel-bin 2>/dev/null)
# Each target links the C sources of the libraries it fuzzes, as Bazel has them (so a new .c in
# a box reaches the fuzzers without a list to keep here).
declare -A LIB=([segment_fuzz]=//segment [central_fuzz]=//central [purge_fuzz]="//purge + //central"
                [api_fuzz]=//preload:preload)
srcs_of() { # LIB -> its .c files and its deps', as paths
  bazel query "filter('\\.c\$', kind('source file', deps($1)))" 2>/dev/null |
    sed -e 's|^//||' -e 's|:|/|'
}
declare -A SAN=([api_fuzz]="fuzzer,undefined")
fail=0
for t in segment_fuzz central_fuzz purge_fuzz api_fuzz; do
  mkdir -p "$OUT/$t/corpus"
  srcs=$(srcs_of "${LIB[$t]}")
  if [ -z "$srcs" ]; then echo "fuzz $t: FAILED (bazel query found no sources of ${LIB[$t]})"; fail=1; continue; fi
  if ! clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize="${SAN[$t]:-fuzzer,address,undefined}" \
      -fno-sanitize-recover=all -I. -I"$GEN" $srcs "tests/fuzz/$t.c" \
      -lpthread -o "$OUT/$t/$t" 2>"$OUT/$t/build.log"; then
    echo "fuzz $t: FAILED (build, see $OUT/$t/build.log)"; fail=1; continue
  fi
  if (cd "$OUT/$t" && "./$t" -max_total_time="$SECONDS_EACH" -max_len=4096 -print_final_stats=1 \
        corpus >run.log 2>&1); then
    echo "fuzz $t: PASSED ($(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$OUT/$t/run.log" | grep -oE '[0-9]+$') runs in ${SECONDS_EACH}s)"
  else
    echo "fuzz $t: FAILED (see $OUT/$t/run.log)"; grep -E "fuzz invariant|ERROR" "$OUT/$t/run.log" | head -3; fail=1
  fi
done
exit $fail
