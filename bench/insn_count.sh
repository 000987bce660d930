#!/usr/bin/env bash
# insn_count.sh: instructions per malloc+free pair (sizes 32..144 B) for hz3 and the peers,
# counted by valgrind's callgrind (instructions, not time: repeatable on a busy machine).
# Runs bench/insn_loop at K1 and K2 pairs and divides the difference of the totals, so start-up
# and warm-up cancel out; the figure includes the loop's own few instructions per pair.
#   bench/insn_count.sh [--hz3 PROFILE] [--so PATH]
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
PROFILE=default
SO=""
while [ $# -gt 0 ]; do
  case $1 in
    --hz3) PROFILE=$2; shift 2 ;;
    --so) SO=$2; shift 2 ;;
    *) echo "usage: bench/insn_count.sh [--hz3 PROFILE] [--so PATH]" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "insn_count: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
flags=(); [ "$PROFILE" = default ] || flags=(--config="$PROFILE")
bazel build --noshow_progress "${flags[@]}" //bench:insn_loop //preload:hz3 >/dev/null 2>&1 || { echo "insn_count: build failed" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cp "$ROOT/bazel-bin/bench/insn_loop" "$TMP/insn_loop"
[ -n "$SO" ] || { cp "$ROOT/bazel-bin/preload/libhz3.so" "$TMP/libhz3.so"; SO=$TMP/libhz3.so; }
LIB=/usr/lib/x86_64-linux-gnu
K1=100000
K2=300000
count() { # preload k -> total instructions
  local pre=$1 k=$2 out=$TMP/cg.out
  env ${pre:+LD_PRELOAD=$pre} valgrind --tool=callgrind --callgrind-out-file="$out" "$TMP/insn_loop" "$k" >/dev/null 2>&1 || return 1
  awk '/^summary:/ {print $2}' "$out"
}
echo "| allocator | instructions per malloc+free pair |"
echo "|---|---:|"
for a in hz3 glibc mimalloc tcmalloc jemalloc; do
  case $a in
    hz3) pre=$SO ;; glibc) pre="" ;; mimalloc) pre=$LIB/libmimalloc.so.2 ;;
    tcmalloc) pre=$LIB/libtcmalloc_minimal.so.4 ;; jemalloc) pre=$LIB/libjemalloc.so.2 ;;
  esac
  if [ -n "$pre" ] && [ ! -f "$pre" ]; then echo "| $a | not installed |"; continue; fi
  t1=$(count "$pre" $K1) && t2=$(count "$pre" $K2) || { echo "| $a | failed |"; continue; }
  awk -v a="$a" -v t1="$t1" -v t2="$t2" -v k1=$K1 -v k2=$K2 'BEGIN { printf "| %s | %.1f |\n", a, (t2 - t1) / (k2 - k1) }'
done
