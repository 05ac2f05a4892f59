#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what weft needs to build, test and benchmark on Debian 12 (run as root or
# with sudo available). Safe to run again: apt-get skips what is already installed.
set -euo pipefail
packages=(
  cmake make g++ clang libclang-rt-14-dev clang-format
  libtbb-dev libgtest-dev libbenchmark-dev libcli11-dev
  libboost-fiber-dev libboost-context-dev
  python3-matplotlib
  doxygen pkg-config git
  # The aarch64 preset: cross compiler, emulator, and arm64 libraries (multiarch; the
  # architecture is added below).
  g++-aarch64-linux-gnu qemu-user-static
  libtbb-dev:arm64 libgtest-dev:arm64
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup: adding the arm64 architecture (multiarch) for the aarch64 preset"
  $SUDO dpkg --add-architecture arm64
fi
echo "setup: installing ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
