#!/usr/bin/env bash
# The README's test command: installs what a fresh Debian machine lacks, runs `bazel test //...`
# under each config of the matrix, and ends with one line "N passed, M failed" counted from
# the tests' own result files (bazel-testlogs/**/test.xml), not from bazel's summary.
#
#   tests/run_all.sh                 # the full matrix
#   HZ3_CONFIGS="seed" tests/run_all.sh   # a subset, for a quick local run
#   HZ3_FUZZ_SECONDS=600 tests/run_all.sh # longer fuzzing (default 20 s per target)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD

need_pkgs=()
for pkg in bazel-bootstrap libgtest-dev libgmock-dev libabsl-dev clang python3 sqlite3 git \
           libmimalloc-dev libgoogle-perftools-dev libjemalloc-dev valgrind gnuplot-nox \
           redis-server redis-tools cmake pkg-config clang-format; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "run_all: installing ${need_pkgs[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "run_all: these Debian packages are missing and installing them needs root: ${need_pkgs[*]}" >&2
    echo "run_all: run as root, or: sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq "${need_pkgs[@]}" >/dev/null || {
    echo "run_all: apt-get install failed" >&2
    exit 2
  }
fi

# The config matrix (.bazelrc). Each entry is one `bazel test //...` run.
# "default" is the plain build (no --config): the profile users get.
CONFIGS=${HZ3_CONFIGS:-"default seed all_on asan,ubsan tsan"}
# --nocache_test_results: every counted result is produced by this run.
BAZEL_FLAGS=(--noshow_progress --test_output=errors --color=no --curses=no --nocache_test_results)

pass=0
fail=0
failed_names=()
for cfg in $CONFIGS; do
  cfg_flags=()
  IFS=',' read -ra parts <<<"$cfg"
  for p in "${parts[@]}"; do [ "$p" = default ] || cfg_flags+=("--config=$p"); done
  # ASan and TSan interpose malloc themselves: a preloaded hz3 would not be the allocator
  # under test, so the "preload" tests run in the other configs only.
  filter=()
  query='tests(//...)'
  if [[ $cfg == *asan* || $cfg == *tsan* ]]; then
    filter=(--test_tag_filters=-preload)
    query='tests(//...) except attr(tags, "preload", tests(//...))'
  fi
  echo "=== bazel test //... ${cfg_flags[*]} ${filter[*]}"
  start=$(date +%s)
  testlogs=$(bazel info "${cfg_flags[@]}" bazel-testlogs 2>/dev/null)
  # Configs share one output tree: drop the previous run's results so that every test.xml
  # counted below was written by this run (a missing one means the test did not build or run).
  [ -n "$testlogs" ] && find "$testlogs/" -name test.xml -delete 2>/dev/null
  bazel test //... "${BAZEL_FLAGS[@]}" "${cfg_flags[@]}" "${filter[@]}" 2>&1 | grep -vE 'linux-sandbox|^INFO: From |^\s*$' | tail -n 40
  this_pass=0
  this_fail=0
  while IFS= read -r target; do
    [ -n "$target" ] || continue
    rel=${target#//}
    xml="$testlogs/${rel/://}/test.xml"
    if [ ! -f "$xml" ] || grep -qE '<(failure|error)[ >]' "$xml"; then
      this_fail=$((this_fail + 1))
      failed_names+=("$cfg $target")
    else
      this_pass=$((this_pass + 1))
    fi
  done < <(bazel query "$query" 2>/dev/null | sort)
  echo "=== ${cfg}: ${this_pass} passed, ${this_fail} failed ($(( $(date +%s) - start )) s)"
  pass=$((pass + this_pass))
  fail=$((fail + this_fail))
done
# Checks of the repository itself, one result each: boxes reach each other only along the
# arrows their BUILD files draw; docs/api.md names every exported function, counter and
# option; a misspelt --define stops the build; sources are formatted.
echo "=== repository checks"
check() { # name, command...: passes when the command does
  local name=$1; shift
  if "$@" >/tmp/hz3_check.$$ 2>&1; then echo "check $name: PASSED"; pass=$((pass + 1))
  else echo "check $name: FAILED"; tail -5 /tmp/hz3_check.$$; fail=$((fail + 1)); failed_names+=("check $name"); fi
  rm -f /tmp/hz3_check.$$
}
unknown_knob_fails() {
  ! bazel build --noshow_progress --define=no_such_knob=1 //config:config_files >/tmp/hz3_knob.$$ 2>&1 &&
    grep -q "unknown knob --define no_such_knob=1" /tmp/hz3_knob.$$
  local rc=$?
  rm -f /tmp/hz3_knob.$$
  return $rc
}
format_clean() { # every C/C++ source as .clang-format says (clang-format -i fixes it)
  git ls-files '*.c' '*.h' '*.cc' | grep -v '^third_party/' | xargs clang-format --dry-run -Werror
}
check layering python3 tests/tools/layering_check.py
check docs python3 tests/tools/docs_check.py
check unknown-knob unknown_knob_fails
check format format_clean
# Model-based fuzzing (libFuzzer, clang): a bounded run of each target, one result each.
echo "=== fuzzers (tests/fuzz/run_fuzzers.sh ${HZ3_FUZZ_SECONDS:-20})"
while IFS= read -r line; do
  echo "$line"
  case $line in
    "fuzz "*": PASSED"*) pass=$((pass + 1)) ;;
    "fuzz "*": FAILED"*) fail=$((fail + 1)); failed_names+=("${line%%:*}") ;;
  esac
done < <(tests/fuzz/run_fuzzers.sh "${HZ3_FUZZ_SECONDS:-20}" 2>&1 || { [ $? -eq 2 ] && echo "fuzz setup: FAILED (clang or the config header)"; })
bazel shutdown >/dev/null 2>&1
for n in "${failed_names[@]+"${failed_names[@]}"}"; do echo "FAILED: $n"; done
echo "${pass} passed, ${fail} failed"
[ "$fail" -eq 0 ]
