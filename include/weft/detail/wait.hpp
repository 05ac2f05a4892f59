// SPDX-License-Identifier: Apache-2.0
// The one waiting mechanism under every blocking primitive (Mutex, CondVar, Channel,
// sleep, fd waits). Not public API.
//
// A primitive keeps its queue of Waiters under a SpinLock. To block, the caller links a
// Waiter (on its own stack) into the queue while holding the lock, then calls park(),
// which releases the lock only once the caller is off its stack (a coroutine) or about to
// block (a plain thread): so no waker can see the waiter before it can be resumed safely.
// A waker, holding the same lock, unlinks a waiter and claims it (claim(): a CAS on
// `status`; exactly one of the waker and the deadline wins the waiter), and wakes the
// waiters it won only after releasing the lock (wake(), usually through a WakeList).
//
// THE RULE: once a waiter can observe that it is woken, its waker never touches the
// primitive again. The woken party may run at once on another worker, return, and destroy
// the primitive (POSIX allows that for a mutex; glibc bug 13690 was this), so even the
// release of the primitive's lock must come before the wake. Only the Waiter the waker
// won stays valid until it is woken: it cannot return before (see claim()).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace weft::detail {

struct Coroutine;
class TimerQueue;

using Clock = std::chrono::steady_clock;

// Test-and-test-and-set lock for the short critical sections of the primitives. Unlike a
// pthread mutex it may be released by another context on the same thread (park() hands
// it to the next context), which is also fine for ThreadSanitizer: it sees only atomics.
class SpinLock {
 public:
  void lock() noexcept {
    if (!flag_.exchange(true, std::memory_order_acquire)) return;
    lock_slow();
  }
  bool try_lock() noexcept {
    return !flag_.load(std::memory_order_relaxed) &&
           !flag_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { flag_.store(false, std::memory_order_release); }

 private:
  void lock_slow() noexcept;  // spins with pause, then yields the thread
  std::atomic<bool> flag_{false};
};

enum WaitStatus : std::uint32_t { kParked, kNotified, kTimedOut };

struct Waiter {
  // Queue links and payload, owned by the primitive that queues the waiter (under its lock).
  Waiter* next = nullptr;
  Waiter* prev = nullptr;
  void* slot = nullptr;
  bool linked = false;

  // Runtime-owned.
  std::atomic<std::uint32_t> status{kParked};
  Coroutine* co = nullptr;                    // the parked coroutine, or nullptr for a thread
  std::atomic<std::uint32_t> thread_word{0};  // a parked thread's futex word
  Clock::time_point deadline{};
  bool has_deadline = false;
  TimerQueue* timers = nullptr;  // where its timer entry lives while armed
  std::size_t timer_index = 0;
};

// Parks the caller until a waker claim()s and wake()s it, or `deadline` (nullptr: none).
// `lock` is held on entry and NOT held on return. Returns true when woken, false on
// timeout; after a timeout the waiter may still be linked: the caller unlinks it under
// its lock.
bool park(Waiter& w, SpinLock& lock, const Clock::time_point* deadline);

// park() for a waiter in no queue (a sleep): only the deadline wakes it.
bool park_alone(Waiter& w, const Clock::time_point& deadline);

// Under the lock guarding the queue `w` was just unlinked from: makes the caller the one
// that wakes `w` (the kParked -> kNotified CAS), false when its deadline won first. A
// waiter won this way cannot return until wake(w): a coroutine stays suspended (its timer,
// losing the same CAS, leaves it alone), a thread waits for its thread_word even past its
// deadline. One that lost (timed out) returns only after re-taking the lock, so the waker
// must not keep a pointer to it past the unlock.
//
// acq_rel: the release publishes the waiter's result (written through Waiter::slot under
// the lock, before this) to the waiter's acquire load of `status` in park(); the acquire
// side orders this CAS after the timer's or thread's competing one.
bool claim(Waiter& w) noexcept;

// Wakes a waiter won by claim(); call it after releasing the lock, and touch neither `w`
// nor the primitive afterwards: the waiter may return and its stack frame (and the
// primitive) die as soon as wake() makes it runnable.
void wake(Waiter& w) noexcept;

// The waiters one operation wakes, in claim order, linked through Waiter::next (free once
// the waiter is unlinked from its queue). Declare it BEFORE taking the primitive's lock:
// add() claims under the lock, and the destructor wakes after the lock was released, so
// the wakes come last whatever the path out (an exception included).
class WakeList {
 public:
  WakeList() noexcept = default;
  WakeList(const WakeList&) = delete;
  WakeList& operator=(const WakeList&) = delete;
  ~WakeList() { wake_all(); }

  // Under the lock, for a waiter just unlinked: claim() it and keep it to wake. False
  // when its deadline won (then nothing is kept: it completes by dequeue alone).
  bool add(Waiter& w) noexcept {
    if (!claim(w)) return false;
    w.next = nullptr;
    if (tail_)
      tail_->next = &w;
    else
      head_ = &w;
    tail_ = &w;
    return true;
  }

  // After the lock was released. Each link is read before its waiter is woken.
  void wake_all() noexcept {
    Waiter* w = head_;
    head_ = tail_ = nullptr;
    while (w) {
      Waiter* next = w->next;
      wake(*w);
      w = next;
    }
  }

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

}  // namespace weft::detail
