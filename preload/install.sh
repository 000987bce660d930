#!/usr/bin/env bash
# install.sh: installs hz3 for linking and preloading.
#   preload/install.sh [--prefix=DIR] [--config=PROFILE]     build (bazel) and install
#                                                               (PROFILE: default, or a
#                                                               .bazelrc config such as seed)
#   preload/install.sh [--prefix=DIR] --uninstall             remove what was installed
#   preload/install.sh [--prefix=DIR] --from=DIR               install prebuilt files from DIR
#                                                               (libhz3.so, libhz3.a, hz3.h)
# Installs: lib/libhz3.so.<version> (soname libhz3.so.0) with the links libhz3.so.0 and
# libhz3.so, lib/libhz3.a, include/hz3.h, lib/pkgconfig/hz3.pc, lib/cmake/hz3/ (for
# find_package(hz3): hz3::hz3, hz3::static), and a manifest in
# share/hz3/ that --uninstall reads.  Default prefix /usr/local, default profile default
# (the plain build, which gives memory back).
# Then: cc app.c $(pkg-config --cflags --libs hz3)   or   LD_PRELOAD=<prefix>/lib/libhz3.so
set -eu
PREFIX=/usr/local
PROFILE=default
FROM=""
UNINSTALL=0
for arg in "$@"; do
  case $arg in
    --prefix=*) PREFIX=${arg#--prefix=} ;;
    --config=*) PROFILE=${arg#--config=} ;;
    --from=*) FROM=${arg#--from=} ;;
    --uninstall) UNINSTALL=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
PREFIX=$(mkdir -p "$PREFIX" && cd "$PREFIX" && pwd)
MANIFEST=$PREFIX/share/hz3/install_manifest.txt

if [ $UNINSTALL = 1 ]; then
  [ -f "$MANIFEST" ] || { echo "install.sh: nothing installed under $PREFIX ($MANIFEST missing)" >&2; exit 1; }
  while IFS= read -r f; do rm -f "$PREFIX/$f"; done <"$MANIFEST"
  rm -f "$MANIFEST"
  rmdir "$PREFIX/share/hz3" "$PREFIX/lib/cmake/hz3" 2>/dev/null || true
  echo "hz3 uninstalled from $PREFIX"
  exit 0
fi

if [ -z "$FROM" ]; then
  cd "$(dirname "$0")/.."
  flags=(); [ "$PROFILE" = default ] || flags=(--config="$PROFILE")
  bazel build --noshow_progress "${flags[@]}" //preload:hz3 //preload:libhz3_a //preload:hz3_h_installed
  FROM=$(mktemp -d)
  trap 'rm -rf "$FROM"' EXIT
  cp bazel-bin/preload/libhz3.so bazel-bin/preload/libhz3.a bazel-bin/preload/installed/hz3.h "$FROM/"
fi
# The version is the header's (HZ3_VERSION_STRING).
VERSION=$(sed -n 's/^#define HZ3_VERSION_STRING "\(.*\)"$/\1/p' "$FROM/hz3.h")
[ -n "$VERSION" ] || { echo "install.sh: no HZ3_VERSION_STRING in $FROM/hz3.h" >&2; exit 1; }
for f in libhz3.so libhz3.a hz3.h; do
  [ -f "$FROM/$f" ] || { echo "install.sh: $FROM/$f missing" >&2; exit 1; }
done

mkdir -p "$PREFIX/lib/pkgconfig" "$PREFIX/include" "$PREFIX/share/hz3"
install -m 0755 "$FROM/libhz3.so" "$PREFIX/lib/libhz3.so.$VERSION"
ln -sf "libhz3.so.$VERSION" "$PREFIX/lib/libhz3.so.0"
ln -sf "libhz3.so.0" "$PREFIX/lib/libhz3.so"
install -m 0644 "$FROM/libhz3.a" "$PREFIX/lib/libhz3.a"
install -m 0644 "$FROM/hz3.h" "$PREFIX/include/hz3.h"
cat >"$PREFIX/lib/pkgconfig/hz3.pc" <<PC
prefix=$PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: hz3
Description: hz3 memory allocator (drop-in malloc that gives memory back when idle)
Version: $VERSION
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lhz3
Libs.private: -lpthread
Cflags: -I\${includedir}
PC
# CMake: find_package(hz3) gives hz3::hz3 (the shared library) and hz3::static.
mkdir -p "$PREFIX/lib/cmake/hz3"
cat >"$PREFIX/lib/cmake/hz3/hz3Config.cmake" <<'CMAKE'
# hz3: find_package(hz3) -> targets hz3::hz3 (libhz3.so) and hz3::static (libhz3.a).
get_filename_component(_hz3_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET hz3::hz3)
  add_library(hz3::hz3 SHARED IMPORTED)
  set_target_properties(hz3::hz3 PROPERTIES
    IMPORTED_LOCATION "${_hz3_prefix}/lib/libhz3.so"
    IMPORTED_SONAME "libhz3.so.0"
    INTERFACE_INCLUDE_DIRECTORIES "${_hz3_prefix}/include")
  add_library(hz3::static STATIC IMPORTED)
  set_target_properties(hz3::static PROPERTIES
    IMPORTED_LOCATION "${_hz3_prefix}/lib/libhz3.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_hz3_prefix}/include"
    INTERFACE_LINK_LIBRARIES "pthread")
endif()
set(hz3_FOUND TRUE)
CMAKE
cat >"$PREFIX/lib/cmake/hz3/hz3ConfigVersion.cmake" <<CMAKE
set(PACKAGE_VERSION "$VERSION")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
CMAKE
printf '%s\n' "lib/libhz3.so.$VERSION" lib/libhz3.so.0 lib/libhz3.so lib/libhz3.a include/hz3.h \
  lib/pkgconfig/hz3.pc lib/cmake/hz3/hz3Config.cmake lib/cmake/hz3/hz3ConfigVersion.cmake \
  >"$MANIFEST"
if [ "$(id -u)" = 0 ] && [ "$PREFIX" = /usr/local ] && command -v ldconfig >/dev/null; then ldconfig; fi
echo "hz3 ($PROFILE) installed under $PREFIX"
echo "  link:    cc app.c \$(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --cflags --libs hz3)"
echo "  preload: LD_PRELOAD=$PREFIX/lib/libhz3.so your-program"
