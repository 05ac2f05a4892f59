// SPDX-License-Identifier: Apache-2.0
// A coroutine that waits by polling in a yield() loop must not keep timers and I/O from
// waking the coroutines it waits for (a worker that only yields makes no handoffs).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Returns false if `done` was not set within 5 s of yielding.
bool yield_until(const std::atomic<bool>& done) {
  const auto t0 = Clock::now();
  while (!done.load()) {
    weft::yield();
    if (Clock::now() - t0 > 5s) return false;
  }
  return true;
}

TEST(YieldLoop, SleeperOnTheSameWorkerStillWakes) {
  weft::Scheduler sched({.workers = 1});
  std::atomic<bool> woke{false};
  auto sleeper = sched.spawn([&] {
    weft::sleep_for(1ms);
    woke = true;
  });
  auto poller = sched.spawn([&] { return yield_until(woke); });
  EXPECT_TRUE(poller.join());
  sleeper.join();
}

TEST(YieldLoop, FdWaiterOnTheSameWorkerStillWakes) {
  weft::Scheduler sched({.workers = 1});
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  std::atomic<bool> woke{false};
  auto reader = sched.spawn([&] {
    EXPECT_TRUE(weft::wait_readable(fds[0], 5s));
    woke = true;
  });
  auto poller = sched.spawn([&] {
    weft::yield();  // let the reader park on the pipe
    EXPECT_EQ(write(fds[1], "x", 1), 1);
    return yield_until(woke);
  });
  EXPECT_TRUE(poller.join());
  reader.join();
  close(fds[0]);
  close(fds[1]);
}

TEST(YieldLoop, EveryWorkerYieldingStillFiresTimers) {
  weft::Scheduler sched({.workers = 2});
  std::atomic<bool> woke{false};
  auto sleeper = sched.spawn([&] {
    weft::sleep_for(1ms);
    woke = true;
  });
  auto a = sched.spawn([&] { return yield_until(woke); });
  auto b = sched.spawn([&] { return yield_until(woke); });
  EXPECT_TRUE(a.join());
  EXPECT_TRUE(b.join());
  sleeper.join();
}

}  // namespace
