// SPDX-License-Identifier: Apache-2.0
/// @file
/// What happens to an exception that escapes a coroutine nobody will join (detached, or
/// its Task destroyed unjoined): never silently lost.
#pragma once

#include <cstdint>
#include <exception>

namespace weft {

/// Called on the worker thread where the coroutine's record is released, with the
/// coroutine's id. If it returns, the exception is dropped.
using UnhandledExceptionHandler = void (*)(std::uint64_t coroutine_id,
                                           std::exception_ptr error) noexcept;

/// The default handler: prints the exception's type and what() and the coroutine id to
/// stderr, then calls std::terminate().
void default_unhandled_exception_handler(std::uint64_t coroutine_id,
                                         std::exception_ptr error) noexcept;

/// Installs `handler` process-wide (nullptr: the default) and returns the previous one.
UnhandledExceptionHandler set_unhandled_exception_handler(
    UnhandledExceptionHandler handler) noexcept;

}  // namespace weft
