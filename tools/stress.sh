#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs weft-stress, every workload, under the ThreadSanitizer build and the
# AddressSanitizer+UBSan build (LeakSanitizer included) with several seeds; builds the
# tsan/asan presets' weft-stress first if needed. Exits non-zero on any invariant failure,
# watchdog abort or sanitizer report.
#
#   tools/stress.sh [--duration SECONDS] [--seeds "S1 S2 ..."] [--workers N] [PRESET...]
#
# Defaults: 20 s per run (split among the workloads), seeds "1 2 3", 4 workers,
# presets tsan asan. Extra seeds are easy: --seeds "$(date +%s) 7 42".
set -euo pipefail
cd "$(dirname "$0")/.."

duration=20
seeds="1 2 3"
workers=4
presets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    tsan|asan) presets+=("$1"); shift ;;
    *) echo "stress.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ ${#presets[@]} -gt 0 ] || presets=(tsan asan)
jobs=$(nproc)
[ "$jobs" -le 2 ] || jobs=$((jobs - 1))

# Any report fails the run: halt at the first one, with a non-zero exit status.
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

failed=0
for p in "${presets[@]}"; do
  echo "=== stress: building $p ==="
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p" --target weft-stress -j "$jobs"
  bin="build/$p/tools/weft-stress"
  for s in $seeds; do
    echo "=== stress: $p seed $s (${duration}s, all workloads, $workers workers) ==="
    log=$(mktemp)
    set +e
    "$bin" --workload all --seed "$s" --duration "$duration" --workers "$workers" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    # A report that did not change the exit status still counts.
    if grep -qE "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" "$log"; then
      [ "$rc" -ne 0 ] || rc=99
      echo "stress.sh: sanitizer report in $p seed $s" >&2
    fi
    rm -f "$log"
    if [ "$rc" -ne 0 ]; then
      echo "stress.sh: FAILED: $p seed $s (exit $rc); rerun: $bin --workload all --seed $s --duration $duration --workers $workers" >&2
      failed=1
    fi
  done
done
if [ "$failed" -ne 0 ]; then
  echo "=== stress: FAILED ===" >&2
  exit 1
fi
echo "=== stress: all clean (${presets[*]}; seeds $seeds) ==="
