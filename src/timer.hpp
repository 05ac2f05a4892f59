// SPDX-License-Identifier: Apache-2.0
// TimerQueue: one worker's deadlines of parked coroutines (sleep, timed waits), a binary
// min-heap indexed by the Waiters themselves (no allocation: the entry is the Waiter on
// the parked coroutine's stack). A mutex guards it: the owner adds and fires, a searching
// worker may fire another's due timers, and a resumed coroutine cancels its own entry
// from whichever worker it resumed on. Cancelling under the same mutex as firing is what
// makes it safe for the waiter's frame to die right after cancel().
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "weft/detail/wait.hpp"

namespace weft::detail {

class TimerQueue {
 public:
  static constexpr std::int64_t kNone = INT64_MAX;

  void add(Waiter* w);
  void cancel(Waiter* w) noexcept;
  // Times out every waiter due by `now` that nobody notified first, and hands each
  // to `wake` (after unlocking). Returns how many fired.
  template <class Wake>
  std::size_t fire(Clock::time_point now, Wake&& wake);
  // Earliest deadline (steady-clock ns), kNone when empty. Lock-free read.
  // seq_cst, with publish_earliest(): a worker about to park announces itself, then reads
  // this; a worker adding a timer publishes it, then looks for sleepers (Dekker).
  std::int64_t earliest() const noexcept { return earliest_.load(std::memory_order_seq_cst); }
  static std::int64_t ns_of(Clock::time_point t) noexcept { return ns(t); }

 private:
  static std::int64_t ns(Clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void remove_at(std::size_t i) noexcept;
  void publish_earliest() noexcept {
    earliest_.store(heap_.empty() ? kNone : ns(heap_.front()->deadline), std::memory_order_seq_cst);
  }

  std::mutex mu_;
  std::vector<Waiter*> heap_;  // under mu_
  std::atomic<std::int64_t> earliest_{kNone};
};

template <class Wake>
std::size_t TimerQueue::fire(Clock::time_point now, Wake&& wake) {
  if (earliest() > ns(now)) return 0;
  Waiter* due[32];
  std::size_t n = 0;
  {
    std::lock_guard lock(mu_);
    while (n < std::size(due) && !heap_.empty() && heap_.front()->deadline <= now) {
      Waiter* w = heap_.front();
      remove_at(0);
      std::uint32_t expected = kParked;
      // Winning this CAS makes the timer the waiter's only waker: its frame stays alive
      // (it is parked) until wake() below resumes it.
      if (w->status.compare_exchange_strong(expected, kTimedOut, std::memory_order_acq_rel)) {
        due[n++] = w;
      }
    }
    publish_earliest();
  }
  // Latest first: a worker runs what it queued last first, so waiters due together still
  // run in deadline order.
  for (std::size_t i = n; i-- > 0;) wake(due[i]);
  return n;
}

}  // namespace weft::detail
