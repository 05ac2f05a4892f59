// SPDX-License-Identifier: Apache-2.0
// Entry points of the runtime that the header templates call. Not public API.
#pragma once

#include <cstdint>
#include <exception>

#include "weft/detail/coroutine.hpp"

namespace weft::detail {

// The scheduler of the calling worker thread, or nullptr on any other thread.
Core* current_core() noexcept;
// The process-wide scheduler, created on first use and shut down at exit.
Core* default_core();

// A cleared record from the pool of `core`; payload left for the caller to fill.
Coroutine* allocate(Core* core);
// Give back a record whose payload was never (or no longer) constructed.
void discard(Coroutine* c) noexcept;
// Make a filled record runnable. Throws std::logic_error (and discards nothing: the
// caller still owns the record) when `core` no longer accepts work.
void submit(Coroutine* c);
// Return once `c` is done. Runs it inline on this stack when it has not started yet,
// suspends the calling coroutine, or blocks a plain thread. Throws std::system_error
// (resource_deadlock_would_occur) when the calling coroutine is `c` itself.
void wait(Coroutine* c);
// Drop the Task handle (not joined): destroys the payload here, on the caller's thread,
// if the coroutine has finished, and drops the handle's reference.
void release(Coroutine* c) noexcept;
// Drop the handle of a joined task: the coroutine has finished, so the payload is
// destroyed here without an atomic read-modify-write.
void release_joined(Coroutine* c) noexcept;
// An exception escaped a coroutine that nobody will join.
void unhandled_exception(std::uint64_t id, std::exception_ptr e) noexcept;
// Hand the worker to `c` if it is queued and can be claimed; otherwise yield().
void yield_to(Coroutine* c);

}  // namespace weft::detail
