#!/usr/bin/env bash
# demo.sh: the main job.  On a fresh Debian machine: installs what is missing, builds hz3
# (//preload:hz3, the default profile: the plain build, memory return on) and the benchmarks,
# and in about two minutes shows what hz3 is for, against the system's allocators (glibc,
# mimalloc default and with immediate purge, tcmalloc, jemalloc):
#   1. burst/idle: 4 threads allocate 100 000 objects of 256..4096 B each, free them all and
#      idle; threads exit after the burst, or stay parked, or stay parked after each freed its
#      neighbour's objects (cross). RSS over time -> PNG; burst and free times.
#   2. SSOT single-thread random malloc/free: small, medium, mixed sizes (median of 3).
# Full-size runs: bench/compare.sh all (see bench/RESULTS.md for the recorded figures).
set -u
case ${1:-} in
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "demo: no arguments (see --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${HZ3_DEMO_OUT:-$ROOT/bench/out/demo}

need=()
for pkg in bazel-bootstrap libgtest-dev libgmock-dev libabsl-dev libmimalloc-dev \
           libgoogle-perftools-dev libjemalloc-dev gnuplot-nox valgrind; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "demo: missing Debian packages: ${need[*]}" >&2
    echo "demo: run as root, or: sudo apt-get install -y ${need[*]}" >&2
    exit 2
  fi
  echo "demo: installing ${need[*]} ..."
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq "${need[@]}"; } >/dev/null || { echo "demo: apt-get install failed" >&2; exit 2; }
fi

# The plain build: what `bazel build //preload:hz3` gives a user (tables say hz3-default).
PROFILE=default
echo "demo: building hz3 ($PROFILE profile) and the benchmarks ..."
bazel build --noshow_progress //preload:hz3 //bench:all >/dev/null 2>&1 || {
  echo "demo: build failed; run: bazel build //preload:hz3 //bench:all" >&2; exit 1; }
mkdir -p "$OUT"
start=$(date +%s)
echo "demo: burst/idle (1 run each; medians in bench/RESULTS.md) ..."
bench/compare.sh --runs 1 --hz3 "$PROFILE" --out "$OUT/burst" --burst "100000 2 2 4" \
  burst-exit burst-parked burst-parked-cross >"$OUT/burst.md" || exit 1
echo "demo: SSOT single-thread (median of 3) ..."
bench/compare.sh --runs 3 --hz3 "$PROFILE" --out "$OUT/ssot" --ssot-steps 5000000 \
  ssot-small ssot-medium ssot-mixed >"$OUT/ssot.md" || exit 1
echo
cat "$OUT/burst.md" "$OUT/ssot.md" | grep -v '^Machine' 
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); took $(( $(date +%s) - start )) s"
for png in "$OUT"/burst/*.png; do echo "RSS plot: $png"; done
