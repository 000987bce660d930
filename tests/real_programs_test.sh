#!/usr/bin/env bash
# Real programs under libhz3.so, each output compared with the same run without it:
# python3 (a stdlib-heavy workload), sqlite3 (a few hundred thousand rows in one transaction),
# git (init/add/commit/log in a temporary directory).
set -u
so=$PWD/$1
[ -f "$so" ] || { echo "FAIL: $so not found"; exit 1; }
fail=0
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/hz3real.XXXXXX")
trap 'rm -rf "$work"' EXIT
if ! LD_PRELOAD=$so grep -q libhz3.so /proc/self/maps; then echo "FAIL: libhz3.so does not load"; exit 1; fi

compare() { # name, command...  (runs it twice: glibc, then hz3)
  local name=$1; shift
  local a b
  # stdout only: a stats=1 build prints its counters to stderr at exit.
  a=$("$@" 2>"$work/err.glibc"); local rca=$?
  b=$(LD_PRELOAD=$so "$@" 2>"$work/err.hz3"); local rcb=$?
  if [ $rca -ne 0 ] || [ $rcb -ne $rca ] || [ "$a" != "$b" ]; then
    echo "FAIL: $name (rc glibc=$rca hz3=$rcb)"
    diff <(echo "$a") <(echo "$b") | head -10
    tail -5 "$work/err.hz3"
    fail=1
  else
    echo "ok: $name ($(wc -l <<<"$b") lines of output equal)"
  fi
}

cat >"$work/work.py" <<'PY'
import collections, json, re, hashlib, itertools, heapq, random, decimal, fractions, io, csv
random.seed(7)
words = ["".join(random.choice("abcdefghij") for _ in range(random.randint(1, 12))) for _ in range(200000)]
counts = collections.Counter(words)
print(len(counts), counts.most_common(3))
doc = {w: [i, str(i) * 3, {"k": i}] for i, w in enumerate(words[:50000])}
s = json.dumps(doc, sort_keys=True)
print(len(s), hashlib.sha256(s.encode()).hexdigest())
print(len(json.loads(s)))
print(sum(1 for w in words if re.fullmatch(r"[a-e]+j?", w)))
print(heapq.nsmallest(5, (len(w) * 1000 + i for i, w in enumerate(words))))
decimal.getcontext().prec = 60
print(sum(decimal.Decimal(1) / decimal.Decimal(i) for i in range(1, 3000)))
print(sum(fractions.Fraction(1, i) for i in range(1, 200)).denominator % 1000003)
out = io.StringIO(); w = csv.writer(out)
for row in itertools.islice(itertools.product(range(50), repeat=3), 100000): w.writerow(row)
print(len(out.getvalue()))
big = [bytearray(random.randint(1, 300000)) for _ in range(200)]
print(sum(len(b) for b in big))
PY
compare "python3 stdlib workload" python3 "$work/work.py"

# Idle RSS after a burst, reported beside glibc's (not compared for equality: allocators differ).
cat >"$work/idle.py" <<'PY'
import time
data = [bytes(200 + i % 3000) for i in range(300000)]   # ~500 MB of objects
del data
time.sleep(1.0)
print([l.split()[1] for l in open("/proc/self/status") if l.startswith("VmRSS")][0])
PY
rss_glibc=$(python3 "$work/idle.py")
rss_hz3=$(LD_PRELOAD=$so python3 "$work/idle.py" 2>/dev/null)
echo "python3 idle RSS after freeing ~500 MB: glibc ${rss_glibc} KiB, hz3 ${rss_hz3} KiB"

cat >"$work/db.sql" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL, blob BLOB);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
INSERT INTO t SELECT i, printf('name-%d-%s', i, hex(randomblob(4) & 0)), i * 0.5, zeroblob(i % 200) FROM n;
COMMIT;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(v), max(length(blob)) FROM t;
SELECT name FROM t WHERE id % 50000 = 0 ORDER BY name;
SELECT count(*) FROM t a JOIN t b ON a.id = b.id + 1 WHERE a.id % 1000 = 0;
SQL
compare "sqlite3 300000 rows" sh -c "rm -f '$work/db.sqlite'; sqlite3 '$work/db.sqlite' < '$work/db.sql'"

gitrun() {
  local repo=$1
  rm -rf "$repo" && mkdir -p "$repo" && cd "$repo" || return 1
  export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
  git -c init.defaultBranch=main init -q . &&
    for i in $(seq 1 200); do printf 'line %d\n%.0s' $(seq 1 $((i * 10))) >"f$i.txt"; done &&
    git add . && git -c user.name=t -c user.email=t@e commit -qm first &&
    sed -i 's/line 1/LINE 1/' f*.txt && git -c user.name=t -c user.email=t@e commit -qam second &&
    git log --stat --format='%H %s' | tail -5 && git diff HEAD~1 --stat | tail -2 && git fsck --no-progress 2>/dev/null; echo "fsck exit $?"
}
export -f gitrun
compare "git init/add/commit/log" bash -c "gitrun '$work/repo'"
exit $fail
