#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Uses weft as an outside project would, in the four ways the README shows, each
# configuring, building and running tests/consumer/app.cpp:
#   find_package     against `cmake --install` of BUILD_DIR (default build/release)
#   pkg-config       the same installation, compiled and linked by hand with weft.pc
#   add_subdirectory weft's source vendored (and checks that weft then installs nothing)
#   FetchContent     weft cloned from this repository at HEAD (commit first)
# Usage: tools/consumers.sh [BUILD_DIR]. Work goes to build/consumers/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build/release}
work=$root/build/consumers
rm -rf "$work"
mkdir -p "$work"
jobs=$(nproc)
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
consumer=$root/tests/consumer
passed=0

run_app() {  # NAME BINARY: runs it and checks what it prints
  local out
  out=$("$2" "$1")
  echo "$out"
  grep -q "consumer $1: fib(20) = 6765 with weft" <<<"$out" ||
    { echo "consumers: $1: unexpected output" >&2; exit 1; }
  passed=$((passed + 1))
}

echo "=== consumers: install $build ==="
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
shared=0
ls "$work"/prefix/lib*/libweft.so* >/dev/null 2>&1 && shared=1
# A shared libweft is found at run time through the loader path.
export LD_LIBRARY_PATH="$(echo "$work"/prefix/lib*)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "=== consumer: find_package ==="
cmake -S "$consumer/find_package" -B "$work/find_package" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/find_package.log"
cmake --build "$work/find_package" -j "$jobs" >>"$work/find_package.log"
run_app find_package "$work/find_package/app"

echo "=== consumer: pkg-config ==="
pc_flags=(--cflags --libs)
[ "$shared" = 1 ] || pc_flags+=(--static)  # a static libweft also needs TBB and pthread
export PKG_CONFIG_PATH="$(echo "$work"/prefix/lib*/pkgconfig)"
[ "$(pkg-config --modversion weft)" = "$(sed -n 's/^#define WEFT_VERSION_STRING "\(.*\)"/\1/p' \
  "$work"/prefix/include/weft/version.hpp)" ]
# shellcheck disable=SC2046
c++ -std=c++20 -O2 "$consumer/app.cpp" -o "$work/pkg_config_app" $(pkg-config "${pc_flags[@]}" weft)
run_app pkg-config "$work/pkg_config_app"

echo "=== consumer: add_subdirectory ==="
cmake -S "$consumer/add_subdirectory" -B "$work/add_subdirectory" "${gen[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DWEFT_SOURCE_DIR="$root" >"$work/add_subdirectory.log"
cmake --build "$work/add_subdirectory" -j "$jobs" >>"$work/add_subdirectory.log"
run_app add_subdirectory "$work/add_subdirectory/app"
cmake --install "$work/add_subdirectory" --prefix "$work/sub_prefix" >>"$work/add_subdirectory.log"
leaked=$(cd "$work/sub_prefix" && find . -type f ! -path ./bin/app)
if [ -n "$leaked" ]; then
  echo "consumers: weft as a subproject installed files of its own:" >&2
  echo "$leaked" >&2
  exit 1
fi

echo "=== consumer: FetchContent ==="
cmake -S "$consumer/fetchcontent" -B "$work/fetchcontent" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DWEFT_GIT="$root" -DWEFT_TAG="$(git rev-parse HEAD)" >"$work/fetchcontent.log"
cmake --build "$work/fetchcontent" -j "$jobs" >>"$work/fetchcontent.log"
run_app fetchcontent "$work/fetchcontent/app"

echo "consumers: all $passed consumer projects built and ran"
