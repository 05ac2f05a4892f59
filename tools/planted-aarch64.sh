#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Plants each defect of tools/planted-aarch64/ into the committed tree (HEAD), one at a
# time, builds the aarch64 preset's binaries meant to catch it and runs them under
# qemu-aarch64-static: prints a Markdown table of which binary caught each defect (a
# failed test or check, a crash, or the time limit) and which did not. Never touches the
# caller's tree: it works in a scratch git worktree (default build/planted-aarch64/tree)
# whose aarch64 build directory is reused between patches, so only what a patch changes
# rebuilds. Same style as tools/planted-defects.sh (the x86 TSan version).
#
#   tools/planted-aarch64.sh [--limit S] [--baseline] [--workdir DIR] [PATCH-NAME...]
#
# --limit S   each binary runs at most S seconds (default 120); weft-stress runs
#             `--workload all --duration S/4`
# --baseline  first runs the same binaries on the unpatched tree (a row "none": every
#             binary must pass there)
# PATCH-NAME  restricts the run to those patches (e.g. a-d8-not-restored).
# Logs of every run stay in <workdir>/../logs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

limit=120
workdir="$repo/build/planted-aarch64/tree"
baseline=0
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --limit) limit="$2"; shift 2 ;;
    --workdir) workdir="$2"; shift 2 ;;
    --baseline) baseline=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "planted-aarch64.sh: unknown argument '$1'" >&2; exit 2 ;;
    *) only+=("$1"); shift ;;
  esac
done

# Each patch and the binaries (build targets) written to catch it.
declare -A catchers=(
  [a-d8-not-restored]="weft-switch-probe weft_fp_control_test"
  [b-fpcr-not-restored]="weft-switch-probe weft_fp_control_test"
  [c-first-frame-unsigned]="weft-switch-probe weft_task_test"
  [d-deque-push-relaxed]="weft_deque_test weft_steal_test weft-stress"
  [e-no-fence-after-rmw]="weft_park_test weft_wake_protocol_test weft-stress"
)
# shellcheck source=tools/planted-tree.sh
source tools/planted-tree.sh
planted_select planted-aarch64.sh tools/planted-aarch64 catchers
planted_tree "$workdir"


# One binary under qemu: prints "caught (<how>)" or "passed".
run_one() {
  local target="$1" log="$2" bin rc
  case "$target" in
    weft-stress) bin="$workdir/build/aarch64/tools/weft-stress"
      set -- --workload all --duration $((limit / 4)) --seed 1 --workers 4 ;;
    weft-switch-probe) bin="$workdir/build/aarch64/tools/weft-switch-probe"; set -- --rounds 1000 ;;
    *) bin="$workdir/build/aarch64/tests/$target"; set -- ;;
  esac
  set +e
  timeout -s KILL "$limit" qemu-aarch64-static "$bin" "$@" >"$log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    echo "passed"
  elif [ "$rc" -eq 137 ]; then
    echo "time limit: a hang, or a machine too loaded (compare with the baseline row)"
  elif grep -q "^\[  FAILED  \]\|FAILED" "$log"; then
    echo "caught (failed: $(grep -m1 -o '^\[  FAILED  \] [A-Za-z_.]*\|[^ ]*: FAILED' "$log" | sed 's/^\[  FAILED  \] //'))"
  else
    echo "caught (crash: exit $rc)"
  fi
}

runs=()
[ "$baseline" = 1 ] && runs+=(none)
runs+=("${patches[@]}")
rows=()
for name in "${runs[@]}"; do
  reset_tree
  if [ "$name" = none ]; then
    what="none (the committed tree)"
    targets=$(printf "%s\n" "${catchers[@]}" | tr ' ' '\n' | sort -u | tr '\n' ' ')
  else
    patch="tools/planted-aarch64/$name.patch"
    what=$(head -n 1 "$patch" | sed 's/^# *Plants: *//')
    git -C "$workdir" apply "$repo/$patch"
    targets=${catchers[$name]}
  fi
  echo "=== planted: $name: building $targets ===" >&2
  # shellcheck disable=SC2086
  (cd "$workdir" && cmake --preset aarch64 >/dev/null &&
    cmake --build --preset aarch64 --target $targets -j "$jobs" >"$logs/$name-build.log" 2>&1) ||
    { echo "planted-aarch64.sh: build failed, see $logs/$name-build.log" >&2; exit 1; }
  cells=""
  for t in $targets; do
    r=$(run_one "$t" "$logs/$name-$t.log")
    echo "  $name, $t: $r" >&2
    cells+="$t: $r<br>"
  done
  [ "$name" = none ] && shown="-" || shown="\`$name.patch\`"
  rows+=("| $what | $shown | ${cells%<br>} |")
done

echo
echo "Planted defects, aarch64 build under qemu-aarch64-static (limit ${limit} s per binary; commit ${rev:0:12}):"
echo
echo "| defect | patch | binaries run under qemu: result |"
echo "|---|---|---|"
printf "%s\n" "${rows[@]}"
