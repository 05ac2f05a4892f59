// SPDX-License-Identifier: Apache-2.0
// IdleSet: who is searching for work, who sleeps, and waking exactly one when needed.
//
// The protocol is Go's (runtime/proc.go, "Worker thread parking/unparking"):
//  - A worker without work may become a *searcher* (it steals, spinning briefly) while
//    fewer than half of the busy workers search, so idle spinning stays bounded.
//  - Whoever makes work available calls notify(): if a searcher exists it will find the
//    work; otherwise one sleeper is woken, and counted as a searcher on its behalf so the
//    next notify() does not wake a second one (no thundering herd).
//  - A searcher that gives up decrements the count and then re-checks every queue; a
//    sleeper announces itself (prepare) and re-checks every queue before it blocks.
//    Both pair with notify()'s check through a StoreLoad barrier (Dekker): either the
//    notifier sees the searcher/sleeper, or the re-check sees the work.
//  - A searcher that finds work stops searching and, if it was the last searcher, calls
//    notify() again: there may be more work, and parallelism ramps up one worker at a
//    time.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace weft::detail {

struct Sleeper {
  std::atomic<std::uint32_t> word{0};  // 1 while parked (futex word)
  std::atomic<bool> in_epoll{false};   // parked in the poller's epoll_wait instead
};

class IdleSet {
 public:
  explicit IdleSet(unsigned workers) : workers_(static_cast<int>(workers)) {
    idle_.reserve(workers);
  }

  // Becomes a searcher if fewer than half the busy workers already are.
  bool try_start_search() noexcept;
  // Stops searching (a full barrier); true when this was the last searcher.
  bool stop_search() noexcept;

  // After making work available. `strict` adds the StoreLoad barrier that makes the
  // wake-up certain; without it a concurrent parker may miss this work, which then runs
  // on the worker that queued it (the deliberate sloppiness of oneTBB's spawn path).
  void notify(bool strict) noexcept;

  void prepare_park(Sleeper* s);
  // After prepare_park: leave the idle list. False when a waker already took us out, in
  // which case its wake-up is on the way and the caller must park() to consume it.
  bool cancel_park(Sleeper* s) noexcept;
  // Blocks until woken. On return the caller is a searcher (the waker counted it).
  static void park(Sleeper* s) noexcept;
  // Wakes every sleeper (shutdown).
  void wake_all() noexcept;
  // Wakes one sleeper whatever the searchers do: a new timer may be due before any
  // sleeper planned to wake.
  void wake_one_sleeper() noexcept {
    if (sleeping_.load(std::memory_order_seq_cst) != 0) wake_one();
  }
  // How to wake a sleeper parked in epoll_wait.
  void set_interrupt(void (*fn)(void*), void* ctx) noexcept {
    interrupt_ = fn;
    interrupt_ctx_ = ctx;
  }

  int searching() const noexcept { return searching_.load(std::memory_order_relaxed); }
  int sleeping() const noexcept { return sleeping_.load(std::memory_order_relaxed); }

 private:
  void wake_one() noexcept;
  void wake(Sleeper* s) noexcept;

  const int workers_;
  alignas(64) std::atomic<int> searching_{0};
  alignas(64) std::atomic<int> sleeping_{0};
  std::mutex mu_;
  std::vector<Sleeper*> idle_;  // under mu_
  void (*interrupt_)(void*) = nullptr;
  void* interrupt_ctx_ = nullptr;
};

}  // namespace weft::detail
