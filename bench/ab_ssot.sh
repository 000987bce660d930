#!/usr/bin/env bash
# ab_ssot.sh: SSOT (small, medium, mixed) under several builds of libhz3.so, interleaved (run 1
# of every build, then run 2, ...), medians.  For A/B of two commits: build each, copy its
# bazel-bin/preload/libhz3.so aside, pass the copies.
#   bench/ab_ssot.sh [--runs N] [--steps N] SO...
set -u
cd "$(dirname "$0")/.."
RUNS=5
STEPS=20000000
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) echo "ab_ssot: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || usage
bazel build --noshow_progress //bench:ssot >/dev/null 2>&1 || { echo "ab_ssot: build failed" >&2; exit 1; }
BIN=$(mktemp -d)
trap 'rm -rf "$BIN"' EXIT
cp bazel-bin/bench/ssot "$BIN/ssot"
for so in "$@"; do [ -f "$so" ] || { echo "ab_ssot: no such file: $so" >&2; exit 2; }; done
for r in $(seq "$RUNS"); do
  for so in "$@"; do
    for shape in small medium mixed; do
      v=$(LD_PRELOAD=$so "$BIN/ssot" "$shape" "$STEPS" 2>&1 | grep -oE '[0-9.]+ M ops/s' | awk '{print $1}')
      echo "$so $shape ${v:-nan}"
    done
  done
done >"$BIN/runs"
echo "| build | small (M ops/s) | medium | mixed |"
echo "|---|---:|---:|---:|"
for so in "$@"; do
  row="| $so |"
  for shape in small medium mixed; do
    m=$(awk -v s="$so" -v h="$shape" '$1 == s && $2 == h { print $3 }' "$BIN/runs" | sort -g |
      awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    row+=" $m |"
  done
  echo "$row"
done
