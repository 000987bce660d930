#!/usr/bin/env bash
# Smoke test of every benchmark program: tiny arguments, under glibc and under libhz3.so;
# each must exit 0 and print its result line, and bad arguments must give a usage error (2).
set -u
so=$PWD/$1; shift
ssot=$1 burst=$2 larson=$3 xthread=$4 insn=$5 sampler=$6 churn=$7 batch=$8 bigloop=$9 handoff=${10}
cpu_time=${11} rounds=${12} falseshare=${13} shuffle=${14} buffers=${15} grow=${16} real=$(dirname "${17}")
py=/usr/bin/python3; [ -x "$py" ] || py=python3
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/hz3smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail=0
expect() { # name, pattern, command...
  local name=$1 pat=$2; shift 2
  local out
  out=$("$@" 2>&1); local rc=$?
  if [ $rc -ne 0 ] || ! grep -qE "$pat" <<<"$out"; then
    echo "FAIL: $name (rc=$rc)"; echo "$out" | tail -5; fail=1
  else
    echo "ok: $name"
  fi
}
expect_usage() { # name, command...
  local name=$1; shift
  "$@" >/dev/null 2>&1; local rc=$?
  if [ $rc -ne 2 ]; then echo "FAIL: $name should be a usage error, rc=$rc"; fail=1; else echo "ok: $name"; fi
}
if ! LD_PRELOAD=$so grep -q libhz3.so /proc/self/maps; then echo "FAIL: $so is not loaded by LD_PRELOAD"; exit 1; fi
for pre in "" "$so"; do
  tag=${pre:+hz3}; tag=${tag:-glibc}
  run() { if [ -n "$pre" ]; then LD_PRELOAD=$pre "$@"; else "$@"; fi; }
  expect "ssot small ($tag)" "M ops/s" run "$ssot" small 20000
  expect "ssot lo hi ($tag)" "M ops/s" run "$ssot" 100 70000 20000 50 3
  expect "burst_idle exit ($tag)" "cycle=2 peak_kb=" run "$burst" 2000 0 2 10 2
  expect "burst_idle parked ($tag)" "cycle=2 .*idle_end_kb=" run "$burst" 2000 0 2 0 3 16 8192 parked
  expect "larson ($tag)" "M ops/s" run "$larson" 2 1 100
  expect "xthread ($tag)" "M objs/s" run "$xthread" 2 20000
  expect "insn_loop ($tag)" "" run "$insn" 1000
  expect "burst_idle parked cross ($tag)" "cycle=2 .*free_ms=" run "$burst" 2000 0 2 0 3 16 8192 parked cross
  expect "churn sequential ($tag)" "M threads/s" run "$churn" 20
  expect "churn waves ($tag)" "M threads/s" run "$churn" 40 20 50
  expect "batch ($tag)" "M ops/s" run "$batch" 1
  expect "bigloop ($tag)" "after freeing all" run "$bigloop" 5 3 1 2
  expect "handoff ($tag)" "M ops/s" run "$handoff" 3 2000 64
  expect "rounds ($tag)" "M ops/s .* minor faults" run "$rounds" 3 2 3
  expect "falseshare ($tag)" "M ops/s" run "$falseshare" 3 10 10 24
  expect "shuffle ($tag)" "M ops/s .* ns a free" run "$shuffle" 5000 2
  expect "shuffle in order ($tag)" "order=fifo: .* ns a free" run "$shuffle" 5000 2 fifo
  expect "buffers ($tag)" "M ops/s .* minor faults" run "$buffers" 3
  expect "grow ($tag)" "M ops/s .* reallocs" run "$grow" 200000 5
  expect "cpu_time ($tag)" "^cpu_time: [0-9.]+ s user, [0-9.]+ s sys, [0-9.]+ s cpu" run "$cpu_time" true
  # The real workloads at their smallest; each prints a checksum that must not depend on the
  # allocator (stdout only: a stats build prints its counters to stderr at exit).
  for w in "dict_churn.py 1" "json_roundtrip.py 1"; do
    run env PYTHONMALLOC=malloc "$py" "$real/${w% *}" "${w#* }" >"$work/${w% *}.$tag" 2>"$work/err"
    expect "real ${w% *} ($tag)" "checksum=[0-9]+" cat "$work/${w% *}.$tag"
  done
  run sqlite3 -init "$real/sqlite_work.sql" :memory: .quit >"$work/sqlite.$tag" 2>/dev/null
  expect "real sqlite_work.sql ($tag)" "^133334\|3080065$" cat "$work/sqlite.$tag"
  "$py" "$real/gen_c.py" 5 >"$work/gen.c"
  expect "real gcc on gen_c.py's output ($tag)" "" run gcc -O2 -c -o "$work/gen.o" "$work/gen.c"
  expect "real git_work.sh ($tag)" "git_work files=10 log_lines=[0-9]+ blame_lines=[0-9]+" run "$real/git_work.sh" 10
done
for w in dict_churn.py json_roundtrip.py sqlite; do
  if ! cmp -s "$work/$w.glibc" "$work/$w.hz3"; then echo "FAIL: real $w output differs under hz3"; fail=1; else echo "ok: real $w output equal"; fi
done
expect "rss_sampler command" "^t_ms,rss_kb,vms_kb,pss_kb,uss_kb" "$sampler" -i 10 -- "$burst" 1000 0 1 0 1
lines=$("$sampler" -i 10 -- sleep 0.3 | wc -l)
if [ "$lines" -lt 5 ]; then echo "FAIL: rss_sampler took $lines rows over 0.3 s"; fail=1; else echo "ok: rss_sampler rows"; fi
expect_usage "ssot no args" "$ssot"
expect_usage "ssot bad number" "$ssot" 16 abc
expect_usage "burst_idle bad mode" "$burst" 10 0 1 0 1 16 32 sideways
expect_usage "larson zero threads" "$larson" 0 1
expect_usage "xthread odd threads" "$xthread" 3 10
expect_usage "rss_sampler nothing to do" "$sampler"
expect_usage "churn too many objects" "$churn" 10 1 5000
expect_usage "rounds no threads" "$rounds" 0
expect_usage "rounds bad scale" "$rounds" 2 x
expect_usage "falseshare no threads" "$falseshare" 0
expect_usage "falseshare size too big" "$falseshare" 2 1 1 5000
expect_usage "batch extra argument" "$batch" 1 2
expect_usage "shuffle zero objects" "$shuffle" 0
expect_usage "shuffle unknown order" "$shuffle" 10 1 sideways
expect_usage "bigloop zero blocks" "$bigloop" 5 0
expect_usage "buffers zero rounds" "$buffers" 0
expect_usage "grow too small" "$grow" 999
expect_usage "cpu_time no command" "$cpu_time"
"$cpu_time" sh -c 'exit 3' 2>/dev/null; rc=$?
if [ $rc -ne 3 ]; then echo "FAIL: cpu_time should pass the command's status 3 on, rc=$rc"; fail=1; else echo "ok: cpu_time status"; fi
exit $fail
