// SPDX-License-Identifier: Apache-2.0
/// @file
/// weft::Event — a manual-reset event.
#pragma once

#include <atomic>
#include <chrono>

#include "weft/detail/check_hook.hpp"
#include "weft/detail/wait.hpp"
#include "weft/detail/wait_queue.hpp"

namespace weft {

/// set() wakes every waiter and lets every later wait() through until reset(). What the
/// setter did before set() happens-before the return of a wait() it released. Usable from
/// coroutines (wait() suspends only the coroutine) and plain threads. Destroying an Event
/// with waiters prints a message and calls std::terminate; a released waiter may destroy it
/// at once, even while the set() that released it is still returning.
class Event {
 public:
  /// An event, set or not to begin with.
  explicit Event(bool initially_set = false) noexcept : set_(initially_set) {}
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  /// Sets the event and wakes every waiter; waits then return at once until reset().
  void set() noexcept;
  /// Clears the event; later waits block until the next set().
  void reset() noexcept;
  /// True while set (a snapshot).
  bool is_set() const noexcept { return set_.load(std::memory_order_acquire); }

  /// Returns once the event is set.
  void wait(detail::Where where = WEFT_HERE);
  /// wait() for at most `d`; true when set, false on timeout.
  template <class Rep, class Period>
  bool wait_for(const std::chrono::duration<Rep, Period>& d, detail::Where where = WEFT_HERE) {
    detail::check_point(detail::CheckOp::kEventWait, this, where);
    if (is_set()) return true;
    const detail::Clock::time_point deadline = detail::deadline_after(d);
    return wait_impl(&deadline);
  }
  template <class C, class D>
  /// wait() until `t` at the latest; true when set, false on timeout.
  bool wait_until(const std::chrono::time_point<C, D>& t, detail::Where where = WEFT_HERE) {
    detail::check_point(detail::CheckOp::kEventWait, this, where);
    if (is_set()) return true;
    const detail::Clock::time_point deadline = detail::to_steady(t);
    return wait_impl(&deadline);
  }

 private:
  bool wait_impl(const detail::Clock::time_point* deadline);

  /// Written only under lk_ (release), read without it (acquire) by the fast paths.
  std::atomic<bool> set_;
  detail::SpinLock lk_;
  detail::WaitQueue q_;
};

}  // namespace weft
