// SPDX-License-Identifier: Apache-2.0
// park(), claim() and wake(): the waiting mechanism of include/weft/detail/wait.hpp.
#include "weft/detail/wait.hpp"

#include <sched.h>

#include "core.hpp"
#include "futex.hpp"
#include "timer.hpp"
#include "worker.hpp"

namespace weft::detail {
namespace {

std::int64_t to_ns(Clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// A plain thread blocks on the waiter's own futex word.
bool park_thread(Waiter& w, SpinLock* lock, const Clock::time_point* deadline) {
  if (lock) lock->unlock();
  while (w.thread_word.load(std::memory_order_acquire) == 0) {
    if (!deadline) {
      futex_wait(&w.thread_word, 0);
      continue;
    }
    if (Clock::now() < *deadline) {
      futex_wait_until(&w.thread_word, 0, to_ns(*deadline));
      continue;
    }
    std::uint32_t expected = kParked;
    if (w.status.compare_exchange_strong(expected, kTimedOut, std::memory_order_acq_rel)) {
      return false;
    }
    // A waker claimed us first: it stores thread_word once it has released the
    // primitive's lock; until then it may still hold a pointer to `w`, so wait for it.
    while (w.thread_word.load(std::memory_order_acquire) == 0) futex_wait(&w.thread_word, 0);
  }
  return true;
}

}  // namespace

// park() and park_alone(): `lock` is nullptr for a waiter in no queue.
static bool park_impl(Waiter& w, SpinLock* lock, const Clock::time_point* deadline);

void SpinLock::lock_slow() noexcept {
  for (int spins = 0;; ++spins) {
    if (!flag_.load(std::memory_order_relaxed) &&
        !flag_.exchange(true, std::memory_order_acquire)) {
      return;
    }
    // Holders keep it for a handful of instructions, but may be preempted: back off to
    // the OS after a short spin rather than burn the core.
    if (spins < 64) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }
}

bool park(Waiter& w, SpinLock& lock, const Clock::time_point* deadline) {
  return park_impl(w, &lock, deadline);
}

bool park_alone(Waiter& w, const Clock::time_point& deadline) {
  return park_impl(w, nullptr, &deadline);
}

static bool park_impl(Waiter& w, SpinLock* lock, const Clock::time_point* deadline) {
  Worker* worker = current_worker();
  if (!worker || !worker->current()) return park_thread(w, lock, deadline);
  w.co = worker->current();
  w.has_deadline = deadline != nullptr;
  if (deadline) w.deadline = *deadline;
  worker->park_current(w, lock);
  // Resumed (maybe on another worker). Disarm the timer before the frame can die: the
  // timer queue's mutex orders this after any firing that already looked at `w`.
  if (TimerQueue* timers = w.timers) timers->cancel(&w);
  return w.status.load(std::memory_order_acquire) == kNotified;
}

bool claim(Waiter& w) noexcept {
  std::uint32_t expected = kParked;
  return w.status.compare_exchange_strong(expected, kNotified, std::memory_order_acq_rel);
}

// The wake itself is a release (the thread_word store, or the push onto a run queue that
// the worker resuming the coroutine acquires), so everything the waker did before it, its
// critical section and lock release included, happens-before the woken party's return.
void wake(Waiter& w) noexcept {
  if (Coroutine* co = w.co) {
    // `co` is read before the wake: once it can run, `w` (on its stack) may be gone.
    if (Worker* worker = current_worker()) {
      worker->make_ready(co);  // sends it home if it belongs to another scheduler
    } else {
      co->core->wake_external(co);
    }
    return;
  }
  std::atomic<std::uint32_t>* word = &w.thread_word;
  word->store(1, std::memory_order_release);
  // The thread may see the 1 without sleeping, return, and reuse or unmap this stack
  // address before the syscall below; as in glibc's unlock, that is harmless: a private
  // FUTEX_WAKE reads and writes no memory (the key is just the address), and whatever
  // futex later sleeps on the reused address takes at most a spurious wake-up, which
  // every futex loop (park_thread's included) re-checks.
  futex_wake(word, 1);
}

}  // namespace weft::detail
