// SPDX-License-Identifier: Apache-2.0
#include "context.hpp"

#include <cxxabi.h>

namespace weft::detail {

static_assert(sizeof(ExceptionState) == 2 * sizeof(void*),
              "ExceptionState must mirror __cxa_eh_globals {caughtExceptions, uncaughtExceptions}");

[[gnu::noinline]] ExceptionState* thread_exception_state() noexcept {
  asm volatile("");  // impure: never merged across a switch
  return reinterpret_cast<ExceptionState*>(abi::__cxa_get_globals());
}

}  // namespace weft::detail
