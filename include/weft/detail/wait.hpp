// The one waiting mechanism under every blocking primitive (Mutex, CondVar, Channel,
// sleep, fd waits). Not public API.
//
// A primitive keeps its queue of Waiters under a SpinLock. To block, the caller links a
// Waiter (on its own stack) into the queue while holding the lock, then calls park(),
// which releases the lock only once the caller is off its stack (a coroutine) or about to
// block (a plain thread): so no waker can see the waiter before it can be resumed safely.
// A waker, holding the same lock, unlinks a waiter and calls notify(); exactly one of
// notify() and the deadline wins the waiter (a CAS on `status`).
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

// Parks the caller until notify(w) or `deadline` (nullptr: none). `lock` is held on
// entry and NOT held on return. Returns true when notified, false on timeout; after a
// timeout the waiter may still be linked: the caller unlinks it under its lock.
bool park(Waiter& w, SpinLock& lock, const Clock::time_point* deadline);

// park() for a waiter in no queue (a sleep): only the deadline wakes it.
bool park_alone(Waiter& w, const Clock::time_point& deadline);

// Wakes a waiter the caller has just unlinked; call it while holding the lock that guards
// the queue it was taken from. False when it had already timed out: try the next one.
bool notify(Waiter& w) noexcept;

}  // namespace weft::detail
