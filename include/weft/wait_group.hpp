// SPDX-License-Identifier: Apache-2.0
/// @file
/// weft::WaitGroup — waits for a counted set of activities to finish (Go's sync.WaitGroup).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "weft/detail/check_hook.hpp"
#include "weft/detail/wait.hpp"
#include "weft/detail/wait_queue.hpp"

namespace weft {

/// add(n) before starting n activities, done() as each finishes, wait() until the counter
/// is zero. Everything an activity did before its done() happens-before the return of a
/// wait() that it released. Usable from coroutines (wait() suspends only the coroutine)
/// and plain threads, and reusable once the counter is back at zero. Destroying a
/// WaitGroup with waiters prints a message and calls std::terminate; a released waiter may
/// destroy it at once, even while the done() that released it is still returning.
class WaitGroup {
 public:
  WaitGroup() noexcept = default;
  ~WaitGroup();
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  /// Adds `n` (may be negative). Leaving the counter unchanged, throws std::logic_error if
  /// it would go below zero and std::overflow_error if it would exceed INT64_MAX. Reaching
  /// zero wakes every waiter.
  void add(std::int64_t n);
  /// add(-1).
  void done() { add(-1); }
  /// Returns once the counter is zero.
  void wait(detail::Where where = WEFT_HERE);
  /// wait() for at most `d`; true when the counter reached zero, false on timeout.
  template <class Rep, class Period>
  bool wait_for(const std::chrono::duration<Rep, Period>& d, detail::Where where = WEFT_HERE) {
    detail::check_point(detail::CheckOp::kWaitGroupWait, this, where);
    if (count_.load(std::memory_order_acquire) == 0) return true;
    const detail::Clock::time_point deadline = detail::deadline_after(d);
    return wait_impl(&deadline);
  }
  template <class C, class D>
  /// wait() until `t` at the latest; true when the counter reached zero, false on timeout.
  bool wait_until(const std::chrono::time_point<C, D>& t, detail::Where where = WEFT_HERE) {
    detail::check_point(detail::CheckOp::kWaitGroupWait, this, where);
    if (count_.load(std::memory_order_acquire) == 0) return true;
    const detail::Clock::time_point deadline = detail::to_steady(t);
    return wait_impl(&deadline);
  }
  /// The counter (a snapshot).
  std::int64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  bool wait_impl(const detail::Clock::time_point* deadline);

  /// Written only under lk_, with release; read without it (acquire) by the wait fast path.
  std::atomic<std::int64_t> count_{0};
  detail::SpinLock lk_;
  detail::WaitQueue q_;
};

}  // namespace weft
