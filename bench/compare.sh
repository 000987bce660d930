#!/usr/bin/env bash
# compare.sh: runs benchmarks under hz3 (one or more build profiles) and the system's
# allocators, interleaved, several runs each; prints a markdown table of medians with the ratio
# to the best peer; for burst/idle writes RSS-over-time CSVs and a PNG per benchmark.
#
#   bench/compare.sh [options] BENCH...
#   BENCH: ssot-small ssot-medium ssot-mixed larson-2 larson-4 xthread-2 xthread-4 handoff-2 handoff-4
#          handoff-16
#          churn-seq churn-200 batch bigloop bigloop-1 buffers rounds-2 rounds-8 falseshare-2 shuffle
#          shuffle-fifo
#          shuffle-mid grow
#          real-py-dict real-py-json real-sqlite real-gcc real-git   (CPU time of real programs,
#            bench/real/: python3 with PYTHONMALLOC=malloc, sqlite3, gcc -O2, git)
#          burst-exit burst-parked burst-parked-keep10 burst-exit-cross burst-parked-cross
#          (or "all")
#   --runs N            runs per allocator (default 3; medians need >= 3)
#   --allocs "LIST"     from: glibc mimalloc mimalloc-immediate tcmalloc jemalloc (default all)
#   --hz3 "PROFILES"    hz3 builds to include (default "default"; "none" leaves hz3 out). A
#                       profile is "default" (the plain build), a .bazelrc config name
#                       (seed, seed_knobs, exp_s58, ...), or NAME:FLAG,FLAG... for an ad-hoc
#                       build, e.g. no-retain:--define=retain_max_pages=0. Tables and plots
#                       name each as hz3-<profile>.
#   --out DIR           where CSVs, logs and PNGs go (default bench/out, not tracked)
#   --ssot-steps N      SSOT steps (default 20000000)
#   --burst "OBJS IDLE_S CYCLES THREADS"   burst/idle shape (default "200000 10 3 4")
#   --quick             small sizes for a fast look (steps 5M, burst "100000 3 2 4")
#   -h, --help          this text
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=3
ALLOCS="glibc mimalloc mimalloc-immediate tcmalloc jemalloc"
HZ3_PROFILES="default"
OUT=$ROOT/bench/out
SSOT_STEPS=20000000
BURST="200000 10 3 4"
BENCHES=()
usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --allocs) ALLOCS=$2; shift 2 ;;
    --hz3) HZ3_PROFILES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --ssot-steps) SSOT_STEPS=$2; shift 2 ;;
    --burst) BURST=$2; shift 2 ;;
    --quick) SSOT_STEPS=5000000; BURST="100000 3 2 4"; shift ;;
    -h|--help) usage 0 ;;
    all) BENCHES+=(ssot-small ssot-medium ssot-mixed larson-2 larson-4 xthread-2 xthread-4 handoff-2 handoff-4 handoff-16 churn-seq churn-200 batch bigloop bigloop-1 buffers rounds-2 rounds-8 falseshare-2 shuffle shuffle-fifo shuffle-mid grow real-py-dict real-py-json real-sqlite real-gcc real-git burst-exit burst-parked burst-parked-keep10 burst-exit-cross burst-parked-cross); shift ;;
    -*) echo "compare: unknown option $1" >&2; usage ;;
    *) BENCHES+=("$1"); shift ;;
  esac
done
[ ${#BENCHES[@]} -gt 0 ] || usage
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "compare: --runs needs a positive number" >&2; exit 2; }
read -r B_OBJS B_IDLE B_CYCLES B_THREADS <<<"$BURST"
mkdir -p "$OUT"
LIB=/usr/lib/x86_64-linux-gnu

# ---- build the programs and each hz3 profile (each .so copied out: bazel-bin is reused) ----
bazel build --noshow_progress //bench:all >/dev/null 2>&1 || { echo "compare: bazel build //bench:all failed" >&2; exit 1; }
BIN=$OUT/bin
mkdir -p "$BIN"
for p in ssot burst_idle larson xthread rss_sampler insn_loop churn batch bigloop handoff cpu_time rounds falseshare shuffle buffers grow; do cp -f "$ROOT/bazel-bin/bench/$p" "$BIN/$p"; done
declare -A PRELOAD ENVV
NAMES=()
if [ "$HZ3_PROFILES" != "none" ]; then
  for prof in $HZ3_PROFILES; do
    case $prof in
      default) flags=() ;;
      *:*) IFS=',' read -ra flags <<<"${prof#*:}"; prof=${prof%%:*} ;;
      *) flags=(--config="$prof") ;;
    esac
    bazel build --noshow_progress "${flags[@]}" //preload:hz3 >/dev/null 2>&1 || { echo "compare: building hz3 ($prof: ${flags[*]}) failed" >&2; exit 1; }
    cp -f "$ROOT/bazel-bin/preload/libhz3.so" "$BIN/libhz3-$prof.so"
    name="hz3-$prof"
    PRELOAD[$name]=$BIN/libhz3-$prof.so; ENVV[$name]=""; NAMES+=("$name")
  done
fi
for a in $ALLOCS; do
  case $a in
    glibc) PRELOAD[$a]=""; ENVV[$a]="" ;;
    mimalloc) PRELOAD[$a]=$LIB/libmimalloc.so.2; ENVV[$a]="" ;;
    mimalloc-immediate) PRELOAD[$a]=$LIB/libmimalloc.so.2
      ENVV[$a]="MIMALLOC_RESET_DELAY=0 MIMALLOC_SEGMENT_DECOMMIT_DELAY=0 MIMALLOC_DECOMMIT_EXTEND_DELAY=0 MIMALLOC_PURGE_DELAY=0" ;;
    tcmalloc) PRELOAD[$a]=$LIB/libtcmalloc_minimal.so.4; ENVV[$a]="" ;;
    jemalloc) PRELOAD[$a]=$LIB/libjemalloc.so.2; ENVV[$a]="" ;;
    *) echo "compare: unknown allocator $a" >&2; exit 2 ;;
  esac
  if [ -n "${PRELOAD[$a]}" ] && [ ! -f "${PRELOAD[$a]}" ]; then
    echo "compare: $a not installed (${PRELOAD[$a]}); see bench/demo.sh for the packages" >&2; exit 1
  fi
  NAMES+=("$a")
done

# The real programs' inputs, and the programs themselves (bench/demo.sh installs them).
REAL=$ROOT/bench/real
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3 || echo python3)
for b in "${BENCHES[@]}"; do
  case $b in
    real-py-*) need=$PY ;; real-sqlite) need=sqlite3 ;; real-gcc) need=gcc ;; real-git) need=git ;;
    *) continue ;;
  esac
  command -v "$need" >/dev/null || { echo "compare: $b needs $need (apt-get install ${need##*/})" >&2; exit 1; }
  if [ "$b" = real-gcc ] && [ ! -f "$OUT/gen.c" ]; then "$PY" "$REAL/gen_c.py" >"$OUT/gen.c" || exit 1; fi
done

# run_one NAME LOGFILE CMD... : runs CMD under allocator NAME
run_one() {
  local name=$1 log=$2; shift 2
  env ${ENVV[$name]} ${PRELOAD[$name]:+LD_PRELOAD=${PRELOAD[$name]}} "$@" >"$log" 2>&1
}

# metric extraction: prints one number (higher is better for throughput, lower for RSS)
bench_cmd() { # BENCH -> command line and metric kind
  case $1 in
    ssot-small) echo "tput $BIN/ssot small $SSOT_STEPS" ;;
    ssot-medium) echo "tput $BIN/ssot medium $SSOT_STEPS" ;;
    ssot-mixed) echo "tput $BIN/ssot mixed $SSOT_STEPS" ;;
    larson-2) echo "tput $BIN/larson 2 5" ;;
    larson-4) echo "tput $BIN/larson 4 5" ;;
    xthread-2) echo "tput $BIN/xthread 2 5000000" ;;
    xthread-4) echo "tput $BIN/xthread 4 2500000" ;;
    handoff-2) echo "tput $BIN/handoff 2 2000000" ;;
    handoff-4) echo "tput $BIN/handoff 4 1000000" ;;
    handoff-16) echo "tput $BIN/handoff 16 250000" ;;
    churn-seq) echo "tput $BIN/churn 5000 1" ;;
    churn-200) echo "tput $BIN/churn 5000 200" ;;
    batch) echo "tput $BIN/batch 200" ;;
    bigloop) echo "tput $BIN/bigloop 400" ;;
    bigloop-1) echo "tput $BIN/bigloop 300 1 5 25" ;;
    buffers) echo "tput $BIN/buffers 2000" ;;
    rounds-2) echo "tput $BIN/rounds 2 50 25" ;;
    rounds-8) echo "tput $BIN/rounds 8 50 25" ;;
    falseshare-2) echo "tput $BIN/falseshare 2 1000 10000 8" ;;
    shuffle) echo "tput $BIN/shuffle 1000000 5" ;;
    shuffle-fifo) echo "tput $BIN/shuffle 1000000 5 fifo" ;;
    shuffle-mid) echo "tput $BIN/shuffle 100000 50" ;;
    grow) echo "tput $BIN/grow 300000 20000" ;;
    # CPU seconds (user + sys, the program and its children) under cpu_time: lower is better.
    real-py-dict) echo "cpu $BIN/cpu_time env PYTHONMALLOC=malloc $PY $REAL/dict_churn.py" ;;
    real-py-json) echo "cpu $BIN/cpu_time env PYTHONMALLOC=malloc $PY $REAL/json_roundtrip.py" ;;
    real-sqlite) echo "cpu $BIN/cpu_time sqlite3 -init $REAL/sqlite_work.sql :memory: .quit" ;;
    real-gcc) echo "cpu $BIN/cpu_time gcc -O2 -c -o /dev/null $OUT/gen.c" ;;
    real-git) echo "cpu $BIN/cpu_time $REAL/git_work.sh" ;;
    burst-exit) echo "rss $BIN/burst_idle $B_OBJS $B_IDLE $B_CYCLES 0 $B_THREADS 256 4096 exit" ;;
    burst-parked) echo "rss $BIN/burst_idle $B_OBJS $B_IDLE $B_CYCLES 0 $B_THREADS 256 4096 parked" ;;
    burst-parked-keep10) echo "rss $BIN/burst_idle $B_OBJS $B_IDLE $B_CYCLES 10 $B_THREADS 256 4096 parked" ;;
    burst-exit-cross) echo "rss $BIN/burst_idle $B_OBJS $B_IDLE $B_CYCLES 0 $B_THREADS 256 4096 exit cross" ;;
    burst-parked-cross) echo "rss $BIN/burst_idle $B_OBJS $B_IDLE $B_CYCLES 0 $B_THREADS 256 4096 parked cross" ;;
    *) return 1 ;;
  esac
}

# One fixed colour per allocator across every plot; hz3 profiles in shades of their own.
colour_of() {
  case $1 in
    glibc) echo '#1f77b4' ;; mimalloc) echo '#2ca02c' ;; mimalloc-immediate) echo '#98df8a' ;;
    tcmalloc) echo '#ff7f0e' ;; jemalloc) echo '#8c564b' ;;
    hz3-default) echo '#d62728' ;; hz3-seed) echo '#7f7f7f' ;;
    *) local h; h=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
       printf '#%02x%02x%02x\n' $((120 + h % 100)) $((20 + (h / 100) % 60)) $((120 + (h / 6000) % 120)) ;;
  esac
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

total=0; for b in "${BENCHES[@]}"; do bench_cmd "$b" >/dev/null || { echo "compare: unknown benchmark $b" >&2; exit 2; }; total=$((total + RUNS * ${#NAMES[@]})); done
done_runs=0; t_start=$(date +%s)
TABLE=$OUT/table.md
{
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC'); runs: $RUNS (median)"
  echo
} >"$TABLE"
for b in "${BENCHES[@]}"; do
  read -r kind cmd <<<"$(bench_cmd "$b")"
  declare -A VALS=() PEAKS=() AFTER=() FLT=() BMS=() FMS=() AFREE=()
  UNIT="" # what the program counts per second (M ops, objs, threads or steps), from its line
  for ((r = 1; r <= RUNS; r++)); do
    for name in "${NAMES[@]}"; do
      done_runs=$((done_runs + 1))
      printf '\r[%d/%d, %ds] %s run %d/%d: %-20s' "$done_runs" "$total" $(( $(date +%s) - t_start )) "$b" "$r" "$RUNS" "$name" >&2
      log=$OUT/$b.$name.$r.log
      if [ "$kind" = rss ]; then
        csv=$OUT/$b.$name.$r.csv
        run_one "$name" "$log" "$BIN/rss_sampler" -o "$csv" -- $cmd
      else
        run_one "$name" "$log" $cmd
      fi
      rc=$?
      if [ $rc -ne 0 ]; then echo; echo "compare: $b under $name failed (rc=$rc), see $log" >&2; continue; fi
      if [ "$kind" = tput ]; then
        rate=$(grep -oE '[0-9.]+ M (ops|objs|threads|steps)/s' "$log" | head -1)
        v=${rate%% *} UNIT=${rate#* }
        VALS[$name]+="$v "
      elif [ "$kind" = cpu ]; then
        v=$(grep -oE '[0-9.]+ s cpu' "$log" | tail -1); VALS[$name]+="${v%% *} "
      else
        last=$(grep -E '^cycle=' "$log" | tail -1)
        v=$(sed -E 's/.*idle_end_kb=([0-9]+).*/\1/' <<<"$last"); VALS[$name]+="$((v / 1024)) "
        p=$(grep -E '^cycle=' "$log" | sed -E 's/.*peak_kb=([0-9]+).*/\1/' | sort -n | tail -1); PEAKS[$name]+="$((p / 1024)) "
        c1=$(grep -E '^cycle=1 ' "$log" | sed -E 's/.*idle_end_kb=([0-9]+).*/\1/'); AFTER[$name]+="$(( (v - c1) / 1024 )) "
        f=$(grep -E '^cycle=' "$log" | sed -E 's/.*minflt=([0-9]+).*/\1/' | awk '{s+=$1} END {print s}'); FLT[$name]+="$f "
        # The last cycle's phases: burst (allocate + touch) and free, in ms; RSS right after.
        BMS[$name]+="$(sed -E 's/.*burst_ms=([0-9.]+).*/\1/' <<<"$last") "
        FMS[$name]+="$(sed -E 's/.*free_ms=([0-9.]+).*/\1/' <<<"$last") "
        a=$(sed -E 's/.*after_free_kb=([0-9]+).*/\1/' <<<"$last"); AFREE[$name]+="$((a / 1024)) "
      fi
    done
  done
  echo >&2
  # best peer: highest throughput / lowest RSS or CPU time among the non-hz3 allocators
  best=""; for name in "${NAMES[@]}"; do
    [[ $name == hz3* ]] && continue
    m=$(tr ' ' '\n' <<<"${VALS[$name]:-}" | grep -v '^$' | median)
    [ "$m" = nan ] && continue
    if [ -z "$best" ]; then best=$m
    elif [ "$kind" = tput ]; then best=$(awk -v a="$best" -v b="$m" 'BEGIN{print (b>a)?b:a}')
    else best=$(awk -v a="$best" -v b="$m" 'BEGIN{print (b<a)?b:a}'); fi
  done
  {
    if [ "$kind" = tput ]; then
      echo "### $b: $cmd"; echo
      echo "| allocator | median ${UNIT:-M ops/s} | ratio to best peer | runs |"; echo "|---|---:|---:|---|"
    elif [ "$kind" = cpu ]; then
      echo "### $b: ${cmd#*/cpu_time }"; echo
      echo "| allocator | median CPU s (user + sys) | time / best peer's (lower is better) | runs |"; echo "|---|---:|---:|---|"
    else
      echo "### $b: $cmd"; echo
      echo "| allocator | idle-end RSS MiB (last cycle) | minus best peer MiB | after-free MiB | peak MiB | last - first cycle MiB | burst ms | free ms | cycle ms | minor faults | runs (idle-end) |"
      echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    fi
    for name in "${NAMES[@]}"; do
      m=$(tr ' ' '\n' <<<"${VALS[$name]:-}" | grep -v '^$' | median)
      if [ "$kind" = tput ] || [ "$kind" = cpu ]; then
        ratio=$(awk -v m="$m" -v b="$best" 'BEGIN{ if (b>0 && m!="nan") printf "%.2fx", m/b; else print "-"}')
        echo "| $name | $m | $ratio | ${VALS[$name]:-} |"
      else
        pk=$(tr ' ' '\n' <<<"${PEAKS[$name]:-}" | grep -v '^$' | median)
        dr=$(tr ' ' '\n' <<<"${AFTER[$name]:-}" | grep -v '^$' | median)
        fl=$(tr ' ' '\n' <<<"${FLT[$name]:-}" | grep -v '^$' | median)
        diff=$(awk -v m="$m" -v b="$best" 'BEGIN{ if (m!="nan" && b!="") printf "%+d", m-b; else print "-"}')
        af=$(tr ' ' '\n' <<<"${AFREE[$name]:-}" | grep -v '^$' | median)
        bm=$(tr ' ' '\n' <<<"${BMS[$name]:-}" | grep -v '^$' | median)
        fm=$(tr ' ' '\n' <<<"${FMS[$name]:-}" | grep -v '^$' | median)
        cy=$(paste -d' ' <(tr ' ' '\n' <<<"${BMS[$name]:-}" | grep -v '^$') <(tr ' ' '\n' <<<"${FMS[$name]:-}" | grep -v '^$') | awk 'NF == 2 {print $1 + $2}' | median)
        echo "| $name | $m | $diff | $af | $pk | $dr | $(printf '%.0f' "$bm") | $(printf '%.0f' "$fm") | $(printf '%.0f' "$cy") | $fl | ${VALS[$name]:-} |"
      fi
    done
    echo
  } >>"$TABLE"
  if [ "$kind" = rss ] && command -v gnuplot >/dev/null; then
    png=$OUT/$b.png
    # Each allocator's own idle phases (its first run: phases differ from run to run and from
    # allocator to allocator) as a strip in its colour along the bottom of the plot.
    objs=""
    i=1
    lane=0
    for name in "${NAMES[@]}"; do
      ref=$OUT/$b.$name.1.log
      lo=$(awk -v l="$lane" 'BEGIN { printf "%.3f", 0.005 + l * 0.022 }')
      hi=$(awk -v l="$lane" 'BEGIN { printf "%.3f", 0.020 + l * 0.022 }')
      while read -r s e; do
        objs+="set object $i rect from $s, graph $lo to $e, graph $hi fc rgb '$(colour_of "$name")' fs solid 0.45 noborder; "
        i=$((i + 1))
      done < <(awk '/^phase/ { for (k=1;k<=NF;k++) { split($k,kv,"="); f[kv[1]]=kv[2] } if (f["name"]=="idle") s=f["t_ms"]/1000; if ((f["name"]=="burst" || f["name"]=="end") && s!="") { print s, f["t_ms"]/1000; s="" } }' "$ref" 2>/dev/null)
      lane=$((lane + 1))
    done
    plots=""
    for name in "${NAMES[@]}"; do
      csv=$OUT/$b.$name.1.csv
      [ -s "$csv" ] && plots+="'$csv' using (\$1/1000):(\$2/1024) with lines lw 2 lc rgb '$(colour_of "$name")' title '$name', "
    done
    gnuplot <<GP 2>/dev/null
set terminal pngcairo size 1100,600 noenhanced
set output '$png'
set datafile separator ','
set key outside right top
set grid
set xlabel 'time (s)'
set ylabel 'RSS (MiB)'
set title "$b ($(sed -E 's|^[^ ]*/||' <<<"$cmd"))\nstrips at the bottom: idle phases, one lane per allocator"
$objs
plot ${plots%, }
GP
    [ -s "$png" ] && echo "plot: $png" >&2 && echo "Plot: \`$png\`" >>"$TABLE" && echo >>"$TABLE"
  fi
done
cat "$TABLE"
echo "table: $TABLE" >&2
