// SPDX-License-Identifier: Apache-2.0
// Linux futex wrappers, and the waiter a plain (non-worker) thread blocks on.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft::detail {

// Sleeps while *word == expected (returns at once otherwise, or spuriously).
void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected) noexcept;
// The same with an absolute CLOCK_MONOTONIC (= std::chrono::steady_clock) deadline in ns.
void futex_wait_until(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                      std::int64_t deadline_ns) noexcept;
void futex_wake(std::atomic<std::uint32_t>* word, int count) noexcept;

// A one-shot event for a plain thread: wait() blocks the thread until wake().
// wake() may touch the word after the waiter returned and destroyed it only through
// the futex syscall, which on an address nobody waits on is harmless (the kernel
// just finds no waiter), so the waiter may live on the waiting thread's stack.
class alignas(8) ThreadWaiter {  // 8: its address carries kThreadWaiterTag (bit 2)
 public:
  void wait() noexcept;
  void wake() noexcept;

 private:
  std::atomic<std::uint32_t> done_{0};
};

}  // namespace weft::detail
