#!/usr/bin/env bash
# link_test: install into a temporary prefix (install.sh --from the built files), then build a
# C program with `pkg-config --cflags --libs hz3` (dynamic) and another against libhz3.a
# (static), run both without LD_PRELOAD, and check that their allocations went through hz3
# (the app checks hz3_stats_get's gauges move); then uninstall and check nothing is left.
set -u
so=$PWD/$1 a=$PWD/$2 h=$PWD/$3 install=$PWD/$4 app=$PWD/$5
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/hz3link.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/from" && cp "$so" "$a" "$h" "$work/from/" || { echo "FAIL: built files missing"; exit 1; }
fail=0
"$install" --prefix="$work/prefix" --from="$work/from" >"$work/install.log" 2>&1 || { echo "FAIL: install"; cat "$work/install.log"; exit 1; }
export PKG_CONFIG_PATH=$work/prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs hz3) || { echo "FAIL: pkg-config"; exit 1; }
echo "pkg-config: $flags"
cc -o "$work/app_dyn" "$app" $flags -lpthread || { echo "FAIL: dynamic link"; exit 1; }
if readelf -d "$work/app_dyn" | grep -q 'NEEDED.*libhz3.so.0'; then echo "ok: needs libhz3.so.0"; else echo "FAIL: no NEEDED libhz3.so.0"; fail=1; fi
env -u LD_PRELOAD "$work/app_dyn" && echo "ok: dynamic" || { echo "FAIL: dynamic run"; fail=1; }
cc -o "$work/app_static" "$app" -I"$work/prefix/include" "$work/prefix/lib/libhz3.a" -lpthread || { echo "FAIL: static link"; exit 1; }
if readelf -d "$work/app_static" | grep -q 'libhz3'; then echo "FAIL: static app needs libhz3"; fail=1; fi
env -u LD_PRELOAD "$work/app_static" && echo "ok: static" || { echo "FAIL: static run"; fail=1; }
# CMake: find_package(hz3) against the prefix, the shared target.
if command -v cmake >/dev/null; then
  mkdir -p "$work/cm"
  cp "$app" "$work/cm/link_app.c"
  cat >"$work/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.13)
project(hz3_user C)
find_package(hz3 0.1 REQUIRED)
add_executable(link_app link_app.c)
target_link_libraries(link_app PRIVATE hz3::hz3)
CM
  if cmake -S "$work/cm" -B "$work/cm/build" -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/cmake.log" 2>&1 &&
     cmake --build "$work/cm/build" >>"$work/cmake.log" 2>&1 &&
     env -u LD_PRELOAD LD_LIBRARY_PATH="$work/prefix/lib" "$work/cm/build/link_app"; then
    echo "ok: find_package(hz3)"
  else
    echo "FAIL: find_package(hz3)"; tail -20 "$work/cmake.log"; fail=1
  fi
else
  echo "skip: cmake not installed"
fi
"$install" --prefix="$work/prefix" --uninstall >/dev/null || { echo "FAIL: uninstall"; fail=1; }
left=$(find "$work/prefix" -type f -o -type l | wc -l)
[ "$left" -eq 0 ] && echo "ok: uninstall left nothing" || { echo "FAIL: uninstall left $left files"; find "$work/prefix"; fail=1; }
exit $fail
