#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# weft-isolate end to end (CTest weft_isolate_tool): weft_isolate_test.sh WEFT_ISOLATE WEFT_ECHO
# Exit 77 (skipped) without root, which namespaces need here. WEFT_EMULATOR (the cross
# build's emulator, e.g. qemu-aarch64-static) runs both programs when set.
set -u
emu=${WEFT_EMULATOR:-}
iso=$1
echo_bin=$2
# weft-isolate, through the emulator if any ($emu unquoted: empty or one word).
iso() { $emu "$iso" "$@"; }
[ "$(id -u)" = 0 ] || { echo "skipped: creating namespaces needs root"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

iso --pid -- sh -c 'exit 7'
[ $? = 7 ] || fail "the command's exit code was not passed through"
out=$(iso --uts --hostname weft-isobox -- hostname)
[ "$out" = weft-isobox ] || fail "hostname inside: '$out'"
[ "$(hostname)" != weft-isobox ] || fail "the parent's hostname changed"
iso --bogus -- true 2>/dev/null
[ $? = 2 ] || fail "an unknown flag did not exit 2"
iso --hostname x -- true 2>/dev/null
[ $? = 2 ] || fail "--hostname without --uts did not exit 2"
iso -- /nonexistent/command 2>/dev/null
[ $? = 125 ] || fail "a command that cannot run did not exit 125"

# Without root (setpriv drops to nobody; an exec'd process, so this also runs under TSan,
# where the test binary cannot nest isolate() in a forked child): --net alone is EPERM,
# named; with --user the caller is root of its own namespaces, where the kernel allows it.
if command -v setpriv >/dev/null; then
  nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
  err=$($nobody $emu "$iso" --net -- true 2>&1)
  [ $? = 125 ] || fail "--net without root did not exit 125: $err"
  case $err in *"net namespace"*CAP_SYS_ADMIN*) ;; *) fail "EPERM message: $err" ;; esac
  out=$($nobody $emu "$iso" --user --net --uts --hostname unpriv -- sh -c 'echo $(id -u) $(hostname)' 2>&1)
  rc=$?
  if [ $rc = 125 ]; then
    echo "note: unprivileged user namespaces are not allowed here: $out"
  else
    [ $rc = 0 ] && [ "$out" = "0 unpriv" ] || fail "--user without root: rc $rc, '$out'"
  fi
else
  echo "note: no setpriv, the unprivileged checks did not run"
fi

# Each copy runs weft-echo on 127.0.0.1:7007 and holds it for a moment: 3 at once succeed
# only in 3 net namespaces. Without --net the same run must fail (the check can fail).
copy="log=\$(mktemp); $emu '$echo_bin' --port 7007 --workers 1 >\$log 2>&1 & s=\$!
i=0; until grep -q listening \$log; do kill -0 \$s 2>/dev/null || exit 3; i=\$((i+1)); [ \$i -gt 200 ] && exit 4; sleep 0.05; done
sleep 0.5; kill -TERM \$s; wait \$s"
out=$(iso --net --pid --mount --parallel 3 -- sh -c "$copy")
rc=$?
echo "$out"
[ $rc = 0 ] || fail "--parallel 3 --net exited $rc"
[ "$(echo "$out" | grep -c ': exit 0$')" = 3 ] || fail "not 3 copies reported exit 0"
iso --parallel 3 -- sh -c "$copy" >/dev/null
[ $? != 0 ] || fail "3 copies bound 127.0.0.1:7007 without --net: the check proves nothing"
echo "weft-isolate: all checks passed"
