// SPDX-License-Identifier: Apache-2.0
/// @file
/// weft::Mutex — a FIFO hand-off mutex for coroutines and plain threads alike.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "weft/detail/check_hook.hpp"
#include "weft/detail/wait.hpp"
#include "weft/detail/wait_queue.hpp"

namespace weft {

/// Lockable and TimedLockable: works with std::lock_guard, std::unique_lock, std::scoped_lock
/// and weft::CondVar. In a coroutine, a contended lock() suspends only the coroutine (its
/// worker runs others); on a plain thread it blocks the thread. Coroutines and threads may
/// contend on the same Mutex.
///
/// Uncontended lock() and unlock() are one atomic RMW each (no syscall, no allocation).
/// Contended lockers queue FIFO and unlock() hands the mutex straight to the oldest one: it
/// never becomes free while someone waits, so nobody can barge past the queue or starve.
///
/// Not recursive. unlock() of an unlocked Mutex throws std::logic_error (the owner is not
/// tracked, so unlock() from a non-owner is not detected). Destroying a Mutex that is locked
/// or has waiters prints a message and calls std::terminate. As with POSIX mutexes, the last
/// user may destroy it as soon as it has unlocked it, even while the unlock() that handed it
/// over is still returning: no call touches the Mutex after waking someone.
class Mutex {
 public:
  Mutex() noexcept = default;
  ~Mutex();
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  /// `where` names the call in weft::check's deadlock reports (as in every blocking call).
  void lock(detail::Where where = WEFT_HERE) {
    detail::check_point(detail::CheckOp::kMutexLock, this, where);
    if (!acquire()) lock_slow(nullptr);
  }

  /// Takes the mutex if it is free, without waiting; true when taken.
  bool try_lock() noexcept {
    detail::check_point(detail::CheckOp::kMutexTryLock, this, {});
    return acquire();
  }

  /// Gives up after `d` (or at `t`); a waiter whose deadline races with a hand-off keeps the
  /// mutex and returns true.
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& d, detail::Where where = WEFT_HERE) {
    detail::check_point(detail::CheckOp::kMutexLock, this, where);
    if (acquire()) return true;
    const detail::Clock::time_point deadline = detail::deadline_after(d);
    return lock_slow(&deadline);
  }
  template <class C, class D>
  /// try_lock_for() with a deadline `t` instead of a duration.
  bool try_lock_until(const std::chrono::time_point<C, D>& t, detail::Where where = WEFT_HERE) {
    detail::check_point(detail::CheckOp::kMutexLock, this, where);
    if (acquire()) return true;
    const detail::Clock::time_point deadline = detail::to_steady(t);
    return lock_slow(&deadline);
  }

  /// Throws std::logic_error when the Mutex is not locked.
  void unlock() {
    detail::check_point(detail::CheckOp::kMutexUnlock, this, {});
    // Release: publishes the critical section to the next acquire(). Fails when the
    // waiters bit is set (or the mutex is not locked at all): the slow path decides.
    std::uint32_t expected = kLocked;
    if (!state_.compare_exchange_strong(expected, 0, std::memory_order_release,
                                        std::memory_order_relaxed)) {
      unlock_slow();
    }
  }

 private:
  static constexpr std::uint32_t kLocked = 1;   ///< someone owns it
  static constexpr std::uint32_t kWaiters = 2;  ///< q_ is not empty (changed only under lk_)

  bool acquire() noexcept {
    // Acquire: pairs with the release in unlock() (or with the hand-off, see unlock_slow).
    std::uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }
  bool lock_slow(const detail::Clock::time_point* deadline);
  void unlock_slow();

  std::atomic<std::uint32_t> state_{0};
  detail::SpinLock lk_;  ///< guards q_ and every change of kWaiters
  detail::WaitQueue q_;
};

}  // namespace weft
