# SPDX-License-Identifier: Apache-2.0
# Cross-build for AArch64 Linux with Debian's cross toolchain and multiarch libraries
# (tools/setup.sh installs both: g++-aarch64-linux-gnu, then libtbb-dev:arm64,
# libgtest-dev:arm64 and libbenchmark-dev:arm64 after `dpkg --add-architecture arm64`).
# Tests run under qemu-aarch64-static through CMAKE_CROSSCOMPILING_EMULATOR, which CTest
# and gtest_discover_tests prefix to every command they run.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)

# Multiarch: arm64 libraries and CMake packages live under the usual prefixes in
# .../aarch64-linux-gnu directories, so the host root is searched, libraries and headers
# only, never programs (those must run on the build machine).
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The emulator finds the arm64 dynamic loader and libraries where multiarch installs
# them (/lib/ld-linux-aarch64.so.1, /usr/lib/aarch64-linux-gnu: libc6:arm64 comes with
# the :arm64 packages). Not `-L /usr/aarch64-linux-gnu`, the cross toolchain's own older
# libc: with it, a guest's first pthread_create never returned here (qemu 7.2, Debian 12).
find_program(WEFT_QEMU_AARCH64 qemu-aarch64-static REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR "${WEFT_QEMU_AARCH64}")
