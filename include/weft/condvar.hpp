// SPDX-License-Identifier: Apache-2.0
/// @file
/// weft::CondVar — a condition variable for coroutines and plain threads alike.
#pragma once

#include <chrono>
#include <condition_variable>  // std::cv_status
#include <utility>

#include "weft/detail/check_hook.hpp"
#include "weft/detail/wait.hpp"
#include "weft/detail/wait_queue.hpp"

namespace weft {

/// Like std::condition_variable_any: waits with any BasicLockable `lock` (typically
/// std::unique_lock<weft::Mutex>), released while waiting and held again on return. In a
/// coroutine a wait suspends only the coroutine; on a plain thread it blocks the thread.
///
/// Waiters are woken FIFO. There are no spurious wake-ups, and a notification is never
/// lost to a timeout race: a waiter that notify_one() dequeued reports no_timeout even if
/// its deadline passed meanwhile. Destroying a CondVar with waiters prints a message and
/// calls std::terminate; a woken waiter may destroy it at once, even while the notify that
/// woke it is still returning.
class CondVar {
 public:
  CondVar() noexcept = default;
  ~CondVar();
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  /// Wakes the oldest waiter, if any.
  void notify_one() noexcept;
  /// Wakes every waiter.
  void notify_all() noexcept;

  template <class Lock>
  /// Releases `lock`, waits for a notification, takes `lock` again.
  void wait(Lock& lock, detail::Where where = WEFT_HERE) {
    wait_impl(lock, nullptr, where);
  }
  template <class Lock, class Pred>
  /// Waits until `pred()` holds (checked before the first wait and after every wake-up).
  void wait(Lock& lock, Pred pred, detail::Where where = WEFT_HERE) {
    while (!pred()) wait_impl(lock, nullptr, where);
  }

  template <class Lock, class C, class D>
  /// wait() that gives up at `t`: std::cv_status::timeout, or no_timeout when notified.
  std::cv_status wait_until(Lock& lock, const std::chrono::time_point<C, D>& t,
                            detail::Where where = WEFT_HERE) {
    const detail::Clock::time_point deadline = detail::to_steady(t);
    return wait_impl(lock, &deadline, where) ? std::cv_status::no_timeout : std::cv_status::timeout;
  }
  template <class Lock, class C, class D, class Pred>
  /// Waits until `pred()` holds or `t` passes; returns `pred()`.
  bool wait_until(Lock& lock, const std::chrono::time_point<C, D>& t, Pred pred,
                  detail::Where where = WEFT_HERE) {
    const detail::Clock::time_point deadline = detail::to_steady(t);
    while (!pred()) {
      if (!wait_impl(lock, &deadline, where)) return pred();
    }
    return true;
  }

  template <class Lock, class Rep, class Period>
  /// wait() for at most `d`: std::cv_status::timeout when it passed unnotified.
  std::cv_status wait_for(Lock& lock, const std::chrono::duration<Rep, Period>& d,
                          detail::Where where = WEFT_HERE) {
    const detail::Clock::time_point deadline = detail::deadline_after(d);
    return wait_impl(lock, &deadline, where) ? std::cv_status::no_timeout : std::cv_status::timeout;
  }
  template <class Lock, class Rep, class Period, class Pred>
  /// Waits until `pred()` holds or `d` passes; returns `pred()`.
  bool wait_for(Lock& lock, const std::chrono::duration<Rep, Period>& d, Pred pred,
                detail::Where where = WEFT_HERE) {
    const detail::Clock::time_point deadline = detail::deadline_after(d);
    while (!pred()) {
      if (!wait_impl(lock, &deadline, where)) return pred();
    }
    return true;
  }

 private:
  /// Waiting is two short critical sections on lk_, so the user's lock is never released
  /// (or taken) while lk_ is held:
  ///   1. enqueue(w) while the caller still holds `lock`: a notify after the caller's
  ///      lock.unlock() therefore finds w, which is the whole point of a condition variable;
  ///   2. lock.unlock(), then sleep(w): parks unless a notifier already dequeued w.
  /// A notifier wakes only waiters that reached step 2 (w.slot marks that); one dequeued
  /// between the steps just skips parking.
  template <class Lock>
  bool wait_impl(Lock& lock, const detail::Clock::time_point* deadline, detail::Where where) {
    detail::check_point(detail::CheckOp::kCondVarWait, this, where);
    detail::Waiter w;
    enqueue(w);
    try {
      lock.unlock();
    } catch (...) {
      cancel(w);
      throw;
    }
    const bool notified = sleep(w, deadline);
    lock.lock();
    return notified;
  }

  void enqueue(detail::Waiter& w) noexcept;
  bool sleep(detail::Waiter& w, const detail::Clock::time_point* deadline);
  void cancel(detail::Waiter& w) noexcept;

  detail::SpinLock lk_;  ///< guards q_ and the slot marks of its waiters
  detail::WaitQueue q_;
};

}  // namespace weft
