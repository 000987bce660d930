#!/usr/bin/env bash
# Runs a program with libhz3.so preloaded: run_preloaded.sh SO PROGRAM [ARGS...]
# (an absolute LD_PRELOAD path, so that children in other directories load it too).
set -u
so=$PWD/$1; shift
[ -f "$so" ] || { echo "run_preloaded: $so not found" >&2; exit 1; }
prog=$1; shift
[[ $prog == /* ]] || prog=$PWD/$prog
LD_PRELOAD=$so exec "$prog" "$@"
