# SPDX-License-Identifier: Apache-2.0
# Sourced by tools/planted-defects.sh and tools/planted-aarch64.sh: choosing the patches
# of a directory and the scratch git worktree they are planted in, one at a time.

# planted_select SCRIPT DIR MAP: sets `patches` to the names of DIR/*.patch, each of which
# must have an entry in the associative array named MAP, restricted to the names in the
# array `only` when it is not empty.
planted_select() {
  local script=$1 dir=$2 p name
  local -n map=$3
  patches=()
  for p in "$dir"/*.patch; do
    name=$(basename "$p" .patch)
    [ -n "${map[$name]:-}" ] || { echo "$script: nothing to run for $p" >&2; exit 2; }
    if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $name "* ]]; then continue; fi
    patches+=("$name")
  done
  [ ${#patches[@]} -gt 0 ] || { echo "$script: no patch selected" >&2; exit 2; }
}

# planted_tree WORKDIR: a detached worktree of HEAD at WORKDIR (made once, its build
# directories reused); sets rev, logs (WORKDIR/../logs) and jobs (build jobs: one core left
# free above two), and puts the tree back to HEAD on exit.
planted_tree() {
  workdir=$1
  rev=$(git rev-parse HEAD)
  if [ ! -e "$workdir/.git" ]; then
    mkdir -p "$(dirname "$workdir")"
    git worktree add --detach "$workdir" "$rev" >/dev/null
  fi
  logs="$(dirname "$workdir")/logs"
  mkdir -p "$logs"
  jobs=$(nproc)
  [ "$jobs" -le 2 ] || jobs=$((jobs - 1))
  trap reset_tree EXIT
}

# Back to the clean commit: only the files the previous patch touched are rewritten (and
# so rebuilt); the build directory is ignored and survives.
reset_tree() { git -C "$workdir" reset -q --hard "$rev" && git -C "$workdir" clean -q -fd; }
