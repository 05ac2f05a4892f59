// SPDX-License-Identifier: Apache-2.0
#include "futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace weft::detail {

void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected) noexcept {
  // std::atomic<uint32_t> is layout-compatible with uint32_t on this platform.
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

void futex_wait_until(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                      std::int64_t deadline_ns) noexcept {
  timespec ts{static_cast<time_t>(deadline_ns / 1'000'000'000),
              static_cast<long>(deadline_ns % 1'000'000'000)};
  // FUTEX_WAIT_BITSET takes an absolute timeout, on CLOCK_MONOTONIC by default.
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_BITSET_PRIVATE, expected,
          &ts, nullptr, FUTEX_BITSET_MATCH_ANY);
}

void futex_wake(std::atomic<std::uint32_t>* word, int count) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, count, nullptr,
          nullptr, 0);
}

void ThreadWaiter::wait() noexcept {
  // acquire pairs with wake()'s release: what the waker wrote before is visible after.
  while (done_.load(std::memory_order_acquire) == 0) futex_wait(&done_, 0);
}

void ThreadWaiter::wake() noexcept {
  done_.store(1, std::memory_order_release);
  futex_wake(&done_, 1);
}

}  // namespace weft::detail
