// Stack-overflow diagnostics: a SIGSEGV in the guard page below a coroutine's stack is
// reported as such ("weft: coroutine N overflowed its S-byte stack") and aborts; any
// other SIGSEGV goes to the handler that was installed before weft's.
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
