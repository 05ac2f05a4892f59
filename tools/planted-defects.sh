#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Plants each defect of tools/planted/ back into the committed tree (HEAD), one at a time,
# and measures how many seconds weft-stress needs to catch it under ThreadSanitizer: a
# failed invariant, a TSan report, a crash or the watchdog (any non-zero exit). Prints a
# Markdown table. Never touches the caller's tree: it works in a scratch git worktree
# (default build/planted/tree) whose tsan build directory is reused between patches, so
# only the files a patch changes rebuild.
#
#   tools/planted-defects.sh [--seeds "S1 S2 ..."] [--limit S] [--all S] [--workers N]
#                            [--baseline] [--workdir DIR] [PATCH-NAME...]
#
# --limit S  each run is `weft-stress --workload W --duration S` (default 30; a defect not
#            caught by the end of the run reads "not caught in S s")
# --all S    also run `--workload all --duration S` per seed, as CI does (default: off;
#            CI uses 27)
# --baseline first runs the same workloads on the unpatched tree (a row "none": it must
#            read "not caught" everywhere, or a workload reports a correct runtime)
# PATCH-NAME restricts the run to those patches (e.g. a-wake-under-lock).
# Logs of every run stay in <workdir>/../logs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

seeds="1 2 3"
limit=30
all=""
workers=4
workdir="$repo/build/planted/tree"
baseline=0
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --all) all="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --workdir) workdir="$2"; shift 2 ;;
    --baseline) baseline=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "planted-defects.sh: unknown argument '$1'" >&2; exit 2 ;;
    *) only+=("$1"); shift ;;
  esac
done

# Each patch and the workload written to catch it (issue 9, "Make the suite find this kind
# of defect").
declare -A workload=(
  [a-wake-under-lock]=destroy
  [b-yield-ignores-injected]=contend
  [c-io-uncollected]=io_busy
  [d-destroy-in-unref]=dtor
)
# shellcheck source=tools/planted-tree.sh
source tools/planted-tree.sh
planted_select planted-defects.sh tools/planted workload
planted_tree "$workdir"

export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

# One run: prints "<seconds> <how>", how = ok | tsan | check | watchdog | crash:<rc>.
measure() {
  local wl="$1" seed="$2" dur="$3" log="$4" t0 t1 rc how
  t0=$(date +%s.%N)
  set +e
  # The watchdog aborts at 3x the duration; the outer timeout is only a last resort.
  timeout -s KILL "$(awk -v d="$dur" 'BEGIN { printf "%d", 3 * d + 60 }')" \
    "$workdir/build/tsan/tools/weft-stress" --workload "$wl" --seed "$seed" --duration "$dur" \
    --workers "$workers" >"$log" 2>&1
  rc=$?
  set -e
  t1=$(date +%s.%N)
  if grep -q "WARNING: ThreadSanitizer\|ERROR: ThreadSanitizer" "$log"; then
    how=tsan
  elif grep -q "weft-stress: FAILED" "$log"; then
    how=check
  elif grep -q "weft-stress: WATCHDOG" "$log"; then
    how=watchdog
  elif [ "$rc" -eq 0 ]; then
    how=ok
  else
    how="crash:$rc"
  fi
  awk -v a="$t0" -v b="$t1" -v h="$how" 'BEGIN { printf "%.1f %s\n", b - a, h }'
}

# Median of "seconds how" lines; a run not caught counts as infinitely slow.
median() {
  awk '{ print ($2 == "ok") ? "inf" : $1 }' | sort -g |
    awk -v lim="$1" '{ v[NR] = $1 }
      END { odd = NR % 2; hi = odd ? v[(NR + 1) / 2] : v[NR / 2 + 1];
            if (hi == "inf") { printf "not caught in %s s", lim; exit }
            m = odd ? hi : (v[NR / 2] + hi) / 2;
            printf "%.1f s", m }'
}

cell() {
  local s="$1" how="$2" lim="$3"
  if [ "$how" = ok ]; then printf "not caught in %s s" "$lim"; else printf "%s s (%s)" "$s" "$how"; fi
}

# One row per (patch, workload); "none" is the unpatched tree, once per workload.
runs=()
if [ "$baseline" = 1 ]; then
  for name in "${patches[@]}"; do runs+=("none:${workload[$name]}"); done
fi
for name in "${patches[@]}"; do runs+=("$name:${workload[$name]}"); done

rows=()
for run in "${runs[@]}"; do
  name=${run%%:*}
  wl=${run#*:}
  reset_tree
  if [ "$name" = none ]; then
    what="none (the committed tree)"
  else
    patch="tools/planted/$name.patch"
    what=$(head -n 1 "$patch" | sed 's/^# *//')
    git -C "$workdir" apply "$repo/$patch"
  fi
  echo "=== planted: $name (workload $wl): building tsan weft-stress ===" >&2
  (cd "$workdir" && cmake --preset tsan >/dev/null &&
    cmake --build --preset tsan --target weft-stress -j "$jobs" >"$logs/$name-build.log" 2>&1) ||
    { echo "planted-defects.sh: build failed, see $logs/$name-build.log" >&2; exit 1; }
  results="" cells="" all_cells=""
  for s in $seeds; do
    r=$(measure "$wl" "$s" "$limit" "$logs/$name-$wl-seed$s.log")
    echo "  $name seed $s: $r" >&2
    results+="$r"$'\n'
    cells+="$(cell $r "$limit") / "
    # Unpatched, --workload all is the same run whichever row: once is enough.
    if [ -n "$all" ] && { [ "$name" != none ] || [ "$wl" = "${runs[0]#*:}" ]; }; then
      ra=$(measure all "$s" "$all" "$logs/$name-all-seed$s.log")
      echo "  $name seed $s, all workloads: $ra" >&2
      all_cells+="$(cell $ra "$all") / "
    fi
  done
  med=$(printf "%s" "$results" | median "$limit")
  [ "$name" = none ] && shown="-" || shown="\`$name.patch\`"
  row="| $what | $shown | $wl | ${cells% / } | $med |"
  if [ -n "$all" ]; then
    c=${all_cells% / }
    row+=" ${c:--} |"
  fi
  rows+=("$row")
done

echo
echo "Planted defects, weft-stress under TSan ($workers workers, seeds $seeds; commit ${rev:0:12}):"
echo
if [ -n "$all" ]; then
  echo "| defect | patch | workload | seconds to catch, per seed | median | \`--workload all --duration $all\`, per seed |"
  echo "|---|---|---|---|---|---|"
else
  echo "| defect | patch | workload | seconds to catch, per seed | median |"
  echo "|---|---|---|---|---|"
fi
printf "%s\n" "${rows[@]}"
