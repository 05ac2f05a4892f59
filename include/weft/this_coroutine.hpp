// SPDX-License-Identifier: Apache-2.0
/// @file
/// Calls made from inside a coroutine (each also has a defined meaning on a plain thread).
///
/// Coroutines migrate between worker threads whenever they suspend (join, yield), so
/// thread_local values, errno and pthread_self() may differ before and after any such call.
#pragma once

#include <cstdint>
#include <utility>

#include "weft/detail/runtime.hpp"
#include "weft/task.hpp"

namespace weft {

/// Spawns on the calling worker's scheduler; on a plain thread, on the default scheduler
/// (hardware_concurrency workers, created on first use, shut down at exit).
template <class F, class... A>
auto spawn(F&& f, A&&... args) {
  detail::Core* core = detail::current_core();
  if (!core) core = detail::default_core();
  return detail::make_task(core, std::forward<F>(f), std::forward<A>(args)...);
}

/// Lets the other ready coroutines of this worker run first; on a plain thread,
/// std::this_thread::yield().
void yield();

/// Hands this thread straight to `target` when it is ready and no one else has taken it
/// (no trip through the worker's loop); otherwise behaves as yield(). The caller stays
/// ready and runs again when the target suspends or ends.
template <class T>
void yield_to(const Task<T>& target) {
  detail::yield_to(detail::TaskAccess::record(target));
}

/// True inside a coroutine run by a weft worker.
bool in_coroutine() noexcept;
/// Index of the calling worker thread in its scheduler, or -1 on any other thread.
int current_worker() noexcept;
/// Id of the running coroutine (unique per process), or 0 outside coroutines.
std::uint64_t this_coroutine_id() noexcept;

}  // namespace weft
