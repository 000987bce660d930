#!/usr/bin/env bash
# redis_test: Debian's redis-server (linked with libjemalloc) under libhz3.so.  The same
# command script is run against a server without and with hz3 and must answer the same; then
# redis-benchmark (bounded request count), INFO memory (whose allocator_* figures come from
# hz3's mallctl), MEMORY USAGE, MEMORY PURGE, FLUSHALL.  Servers run on 127.0.0.1, on ports
# picked here, and are stopped by the test.
set -u
so=$PWD/$1
command -v redis-server >/dev/null || { echo "FAIL: redis-server not installed (tests/run_all.sh installs it)"; exit 1; }
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/hz3redis.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
fail=0

start() { # preload port -> starts a server, waits until it answers
  local pre=$1 port=$2
  env ${pre:+LD_PRELOAD=$pre} redis-server --port "$port" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$work" --logfile "$work/redis.$port.log" &
  pids+=($!)
  for _ in $(seq 1 100); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.05; done
  echo "FAIL: redis-server on $port did not start"; cat "$work/redis.$port.log"; return 1
}

commands() {
  cat <<'CMDS'
SET greeting hello
GET greeting
INCRBY counter 41
INCR counter
RPUSH list a b c d e f g
LRANGE list 1 4
HSET h f1 v1 f2 v2 f3 v3
HGETALL h
SADD s x y z
SCARD s
ZADD z 1 one 2 two 3 three
ZRANGE z 0 -1 WITHSCORES
SETRANGE greeting 5 ", world"
GET greeting
APPEND greeting "!"
STRLEN greeting
DEL list
EXISTS list
DBSIZE
CMDS
  for i in $(seq 1 2000); do echo "SET key:$i $(printf 'v%.0s' $(seq 1 $((i % 50 + 1))))"; done
  echo "DBSIZE"
  echo "GET key:1999"
}

base=$((20000 + RANDOM % 20000))
start "" "$base" || exit 1
start "$so" $((base + 1)) || exit 1
hz3_pid=${pids[1]}
grep -q libhz3 "/proc/$hz3_pid/maps" && echo "ok: hz3 is mapped in redis-server" || { echo "FAIL: libhz3.so not loaded in redis-server"; fail=1; }
commands | redis-cli -p "$base" >"$work/glibc.out"
commands | redis-cli -p $((base + 1)) >"$work/hz3.out"
if cmp -s "$work/glibc.out" "$work/hz3.out"; then echo "ok: $(wc -l <"$work/hz3.out") replies equal"; else echo "FAIL: replies differ"; diff "$work/glibc.out" "$work/hz3.out" | head; fail=1; fi
port=$((base + 1))
bench=$(redis-benchmark -p "$port" -n 20000 -c 8 -q -t set,get,lpush,lpop,sadd,hset 2>&1 | tr '\r' '\n' | grep "requests per second")
[ "$(grep -c 'requests per second' <<<"$bench")" -eq 6 ] && echo "ok: redis-benchmark 6 tests" || { echo "FAIL: redis-benchmark"; echo "$bench"; fail=1; }
info=$(redis-cli -p "$port" info memory)
resident=$(grep '^allocator_resident:' <<<"$info" | cut -d: -f2 | tr -d '\r')
[ "${resident:-0}" -gt 0 ] && echo "ok: INFO memory allocator_resident=$resident (hz3's mallctl)" || { echo "FAIL: INFO memory"; echo "$info"; fail=1; }
usage=$(redis-cli -p "$port" memory usage greeting)
[ "${usage:-0}" -gt 0 ] && echo "ok: MEMORY USAGE $usage" || { echo "FAIL: MEMORY USAGE '$usage'"; fail=1; }
[ "$(redis-cli -p "$port" memory purge)" = OK ] && echo "ok: MEMORY PURGE" || { echo "FAIL: MEMORY PURGE"; fail=1; }
[ "$(redis-cli -p "$port" flushall)" = OK ] && [ "$(redis-cli -p "$port" dbsize)" = 0 ] && echo "ok: FLUSHALL" || { echo "FAIL: FLUSHALL"; fail=1; }
# After the same work, FLUSHALL and MEMORY PURGE on both: resident memory, hz3 vs jemalloc
# (Debian's redis-server without LD_PRELOAD).  Reported; a loose bound guards against a leak.
redis-benchmark -p "$base" -n 20000 -c 8 -q -t set,get,lpush,lpop,sadd,hset >/dev/null 2>&1
redis-cli -p "$base" flushall >/dev/null; redis-cli -p "$base" memory purge >/dev/null
sleep 0.5
rss_base=$(awk '/VmRSS/ {print $2}' "/proc/${pids[0]}/status")
rss_hz3=$(awk '/VmRSS/ {print $2}' "/proc/${pids[1]}/status")
echo "idle RSS after FLUSHALL + MEMORY PURGE: jemalloc ${rss_base} KiB, hz3 ${rss_hz3} KiB"
[ "${rss_hz3:-999999999}" -lt $((rss_base + 32768)) ] && echo "ok: hz3 idle RSS within 32 MiB of jemalloc's" || { echo "FAIL: hz3 idle RSS ${rss_hz3} KiB"; fail=1; }
for p in "$base" "$port"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1; done
for p in "${pids[@]}"; do wait "$p"; rc=$?; [ $rc -eq 0 ] || { echo "FAIL: redis-server exited $rc"; fail=1; }; done
pids=()
grep -iE "error|fatal|hz3" "$work"/redis.*.log && fail=1
exit $fail
