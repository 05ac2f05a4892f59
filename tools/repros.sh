#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the outside reproducers (../shared/repro, see its README) against a preset's
# libweft.a and runs each several times, checking what each file says is right: no crash,
# no sanitizer report, no hang, and the figure or count it prints within bounds.
#
#   tools/repros.sh [--runs N] [--dir REPRO_DIR] [PRESET...]
#
# Defaults: 20 runs, ../shared/repro, presets release tsan asan. uaf_lock also runs once
# with the 20,000 iterations its README names. errno_cse.cpp and tls_cse.cpp show what the
# compiler does to errno/TLS addresses across weft::yield(); they are compile-only
# evidence for the rule in README "Things to know", not programs to run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=20
dir=../shared/repro
presets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    release|tsan|asan) presets+=("$1"); shift ;;
    *) echo "repros.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ ${#presets[@]} -gt 0 ] || presets=(release tsan asan)
[ -d "$dir" ] || { echo "repros.sh: no reproducer directory '$dir'" >&2; exit 2; }

export TSAN_OPTIONS="halt_on_error=1:exitcode=66"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
report='WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:'
failed=0
summary=()

# check NAME LIMIT_S CMD...: runs CMD under a timeout; the output is in $out afterwards.
out=""
check() {
  local name="$1" limit="$2"
  shift 2
  local rc=0
  out=$(timeout "$limit" "$@" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] || grep -qE "$report" <<<"$out"; then
    echo "repros.sh: FAILED $name (exit $rc)"; echo "$out" | tail -20
    return 1
  fi
}
# number_after TEXT: the first number following TEXT in $out.
number_after() { { grep -oE "$1 *[0-9.]+" <<<"$out" || true; } | head -1 | grep -oE '[0-9.]+$' || true; }
# within VALUE MAX: VALUE <= MAX (floating point).
within() { awk -v v="$1" -v m="$2" 'BEGIN { exit !(v != "" && v <= m) }'; }

for p in "${presets[@]}"; do
  echo "=== repros: building $p ==="
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p" --target weft -j "$(nproc)" >/dev/null
  bin="build/$p/repro"
  mkdir -p "$bin"
  case "$p" in
    tsan) flags=(-O1 -g -fsanitize=thread); slow=4 ;;
    asan) flags=(-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all); slow=3 ;;
    *) flags=(-O2); slow=1 ;;
  esac
  for src in uaf_lock uaf_ctl mutex_external_wake_livelock io_starve idle_fdwait dtor_in_handoff dtor_ctl; do
    g++ -std=c++20 "${flags[@]}" -Iinclude -I"build/$p/include" "$dir/$src.cpp" "build/$p/libweft.a" -ltbb -pthread \
      -o "$bin/$src"
  done
  gcc -shared -fPIC -O2 -o "$bin/enosys_preload.so" "$dir/enosys_preload.c"
  # ASan insists on coming first in the library list; the preload only replaces one symbol.
  preload=(env LD_PRELOAD="$PWD/$bin/enosys_preload.so" ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0")

  bad=0
  for ((i = 1; i <= runs; ++i)); do
    for mode in mutex channel; do
      check "uaf_lock $mode ($p run $i)" $((60 * slow)) "$bin/uaf_lock" "$mode" || bad=1
      check "uaf_ctl $mode ($p run $i)" $((60 * slow)) env SAFE=1 "$bin/uaf_ctl" "$mode" || bad=1
    done
    check "mutex_external_wake_livelock ($p run $i)" $((60 * slow)) \
      "$bin/mutex_external_wake_livelock" 4 2 1 || bad=1
    c=$(number_after "counter=") e=$(number_after "expected=")
    [ "$c" = "$e" ] || { echo "repros.sh: FAILED livelock counter $c != $e"; bad=1; }
    check "io_starve ($p run $i)" $((30 * slow)) "$bin/io_starve" || bad=1
    ms=$(number_after "seen")
    within "$ms" $((20 * slow)) || { echo "repros.sh: FAILED io_starve: readiness seen after $ms ms"; bad=1; }
    for pre in plain enosys; do
      cmd=("$bin/idle_fdwait")
      [ "$pre" = plain ] || cmd=("${preload[@]}" "$bin/idle_fdwait")
      check "idle_fdwait $pre ($p run $i)" $((30 * slow)) "${cmd[@]}" || bad=1
      cpu=$(number_after "wait:") join=$(number_after "write:")
      within "$cpu" 0.05 || { echo "repros.sh: FAILED idle_fdwait $pre: $cpu s CPU while idle"; bad=1; }
      within "$join" $((20 * slow)) || { echo "repros.sh: FAILED idle_fdwait $pre: join after $join ms"; bad=1; }
    done
    for d in dtor_in_handoff dtor_ctl; do
      n=$((200000 / slow / slow))
      check "$d ($p run $i)" $((120 * slow)) "$bin/$d" "$n" || bad=1
      got=$(number_after "bodies run:")
      [ "$got" = "$n" ] || { echo "repros.sh: FAILED $d: $got of $n bodies"; bad=1; }
    done
  done
  for mode in mutex channel; do
    check "uaf_lock $mode 20000 ($p)" $((300 * slow)) "$bin/uaf_lock" "$mode" 20000 || bad=1
  done
  summary+=("$p: $([ "$bad" -eq 0 ] && echo clean || echo FAILED) ($runs runs of each)")
  [ "$bad" -eq 0 ] || failed=1
done
printf '%s\n' "${summary[@]}"
exit "$failed"
