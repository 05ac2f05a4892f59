// park() and notify(): the waiting mechanism of include/weft/detail/wait.hpp.
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
    // A notifier won the race: it is about to store thread_word; its frame-touching ends there.
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
      __builtin_ia32_pause();
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

bool notify(Waiter& w) noexcept {
  std::uint32_t expected = kParked;
  if (!w.status.compare_exchange_strong(expected, kNotified, std::memory_order_acq_rel)) {
    return false;
  }
  if (w.co) {
    Worker* worker = current_worker();
    if (worker) {
      worker->make_ready(w.co);  // sends it home if it belongs to another scheduler
    } else {
      w.co->core->wake_external(w.co);
    }
  } else {
    w.thread_word.store(1, std::memory_order_release);
    futex_wake(&w.thread_word, 1);
  }
  return true;
}

}  // namespace weft::detail
