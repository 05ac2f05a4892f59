#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Gives every source file of the repository an SPDX license line (Apache-2.0, see LICENSE).
#   tools/spdx.sh           adds the line where it is missing (idempotent: run it again after
#                           a merge; files that have one are left untouched)
#   tools/spdx.sh --check   lists the files that lack one and exits 1 if any do (CI)
# Sources are the files git tracks or would track (untracked files outside .gitignore count,
# so a new file fails the check before it is committed). The line goes first, or second
# after a "#!" line, in the comment syntax of the file's language.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: tools/spdx.sh [--check]" >&2; exit 2 ;;
esac
tag="SPDX-License-Identifier: Apache-2.0"

# The comment that carries the tag in `file`, or nothing for a file that is not source.
comment_for() {
  case "$1" in
    *.cpp | *.hpp | *.h | *.c | *.h.in | *.hpp.in) echo "// $tag" ;;
    *.S) echo "/* $tag */" ;;
    *.sh | *.py | *.cmake | *.cmake.in | *.pc.in | */CMakeLists.txt | CMakeLists.txt | \
      .ci/run | tools/bench-report | tools/bench-compare | docs/Doxyfile) echo "# $tag" ;;
    *) ;;
  esac
}

missing=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  line=$(comment_for "$f")
  [ -n "$line" ] || continue
  # The tag counts only near the top, where license scanners look.
  head -n 3 "$f" | grep -q "SPDX-License-Identifier:" && continue
  missing+=("$f")
  [ "$check" = 1 ] && continue
  tmp="$f.spdx.tmp"
  if head -n 1 "$f" | grep -q '^#!'; then
    { head -n 1 "$f"; echo "$line"; tail -n +2 "$f"; } >"$tmp"
  else
    { echo "$line"; cat "$f"; } >"$tmp"
  fi
  chmod --reference="$f" "$tmp"
  mv "$tmp" "$f"
done < <(git ls-files -z --cached --others --exclude-standard)

if [ "$check" = 1 ]; then
  if [ ${#missing[@]} -gt 0 ]; then
    echo "spdx: ${#missing[@]} source file(s) without an SPDX line (run tools/spdx.sh):" >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 1
  fi
  echo "spdx: every source file has an SPDX line"
else
  echo "spdx: added the line to ${#missing[@]} file(s)"
fi
