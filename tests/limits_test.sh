#!/usr/bin/env bash
# limits_test.sh SO LIMITS_BIN: hz3 under `ulimit -v` (address-space limits).  Programs that
# start under glibc with a given limit start under hz3 too (python3, sort, bash), and an
# allocate-until-NULL loop gets NULL + ENOMEM near the limit and recovers after freeing; the
# same under RLIMIT_AS set by the running program.
set -u
so=$PWD/$1
bin=$PWD/$2
LD_PRELOAD=$so grep -q libhz3.so /proc/self/maps || { echo "FAIL: $so not loaded"; exit 1; }
fail=0
for lim in 64000 100000 200000; do
  for cmd in "python3 -c print(1)" "sort /etc/hostname" "bash -c true"; do
    if bash -c "ulimit -v $lim; $cmd" >/dev/null 2>&1; then
      if bash -c "ulimit -v $lim; LD_PRELOAD=$so $cmd" >/dev/null 2>&1; then
        echo "ok: ulimit -v $lim: $cmd"
      else
        echo "FAIL: ulimit -v $lim: '$cmd' works under glibc, not under hz3"; fail=1
      fi
    else
      echo "skip: ulimit -v $lim: '$cmd' fails under glibc too"
    fi
  done
  if bash -c "ulimit -v $lim; LD_PRELOAD=$so $bin"; then
    echo "ok: ulimit -v $lim: allocate until NULL, recover"
  else
    echo "FAIL: ulimit -v $lim: allocate until NULL, recover"; fail=1
  fi
done
if LD_PRELOAD=$so $bin runtime; then
  echo "ok: RLIMIT_AS set at run time: a large block and a thread at once, objects to the limit"
else
  echo "FAIL: RLIMIT_AS set at run time"; fail=1
fi
exit $fail
