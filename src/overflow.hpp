// SPDX-License-Identifier: Apache-2.0
// Stack-overflow diagnostics: a SIGSEGV in the guard below a coroutine's stack is
// reported as such ("weft: coroutine N overflowed its S-byte stack") and aborts; any
// other SIGSEGV goes to the handler that was installed before weft's. (An overflow of an
// unguarded stack is reported by the worker when the canary check fails; see stack.hpp.)
//
// The guard is Options::guard_size, one page by default. A frame larger than the guard
// can skip it, and its first write then lands below it, in whatever is mapped there,
// unseen: build code that runs in coroutines with -fstack-clash-protection, which probes
// every page a prologue allocates so that the first probe faults in the guard and is
// reported here, or raise guard_size above the largest frame. On AArch64, GCC's probes
// assume a 64 KiB guard unless given --param=stack-clash-protection-guard-size=12 (4 KiB):
// pass that, or set guard_size to 64 KiB.
#pragma once

#include <cstddef>

namespace weft::detail {

// Installs the process-wide handler, once. It runs on an alternate signal stack: the
// faulting stack has no room left.
void install_overflow_handler();

// The calling thread's alternate signal stack, for the lifetime of this object.
class AltSignalStack {
 public:
  AltSignalStack();
  ~AltSignalStack();
  AltSignalStack(const AltSignalStack&) = delete;
  AltSignalStack& operator=(const AltSignalStack&) = delete;

 private:
  void* mem_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace weft::detail
