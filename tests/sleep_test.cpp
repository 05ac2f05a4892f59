// SPDX-License-Identifier: Apache-2.0
// weft::sleep_for / sleep_until: lower bounds, ordering, many sleepers parking every
// worker, and sleeping on plain threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/time.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using weft_test::process_cpu_ms;
using weft_test::scaled;

TEST(Sleep, NeverReturnsEarly) {
  weft::Scheduler sched({.workers = 2});
  sched.run([] {
    for (auto d : {0ms, 1ms, 3ms, 10ms}) {
      const auto t0 = Clock::now();
      weft::sleep_for(d);
      EXPECT_GE(Clock::now() - t0, d);
    }
    const auto until = Clock::now() + 5ms;
    weft::sleep_until(until);
    EXPECT_GE(Clock::now(), until);
  });
}

TEST(Sleep, WakesInDeadlineOrder) {
  weft::Scheduler sched({.workers = 1});
  std::mutex mu;
  std::vector<int> order;
  sched.run([&] {
    std::vector<weft::Task<void>> ts;
    // Spawned in scrambled order with deadlines from one base, far enough out that every
    // sleeper has started before the first is due (sanitized builds start slowly): the
    // wake order must follow the deadlines, whatever order they were queued in.
    const auto base = Clock::now() + std::chrono::milliseconds(scaled(20, 150));
    for (int i : {3, 0, 4, 1, 2}) {
      ts.push_back(weft::spawn([&, i] {
        weft::sleep_until(base + std::chrono::milliseconds(15 * i));
        std::lock_guard lock(mu);
        order.push_back(i);
      }));
    }
    for (auto& t : ts) t.join();
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Sleep, SleepingCoroutineDoesNotBlockItsWorker) {
  weft::Scheduler sched({.workers = 1});
  std::atomic<bool> other_ran{false};
  sched.run([&] {
    auto sleeper = weft::spawn([&] {
      weft::sleep_for(50ms);
      return other_ran.load();
    });
    weft::yield();  // let the sleeper start and park
    auto other = weft::spawn([&] { other_ran = true; });
    other.join();
    EXPECT_TRUE(sleeper.join()) << "the other coroutine ran only after the sleep";
  });
}

// One round: n coroutines sleep until a common time; once all have started, the CPU the
// process uses in a window before that time is measured. Returns false when the window
// could not fit before the wake-up (a slow, loaded machine): the caller retries longer.
bool sleepers_round(int n, std::chrono::milliseconds wake_after, double& cpu_ms) {
  weft::Scheduler sched({.workers = 2});
  std::atomic<int> started{0};
  std::atomic<int> woke{0};
  const auto wake_at = Clock::now() + wake_after;
  auto root = sched.spawn([&] {
    std::vector<weft::Task<void>> ts;
    ts.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      ts.push_back(weft::spawn([&] {
        started.fetch_add(1);
        weft::sleep_until(wake_at);
        woke.fetch_add(1);
      }));
    }
    for (auto& t : ts) t.join();
  });
  while (started.load() < n && Clock::now() < wake_at) std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(50ms);  // the last ones park, bounded spinning ends
  const double before = process_cpu_ms();
  std::this_thread::sleep_for(300ms);
  cpu_ms = process_cpu_ms() - before;
  const bool quiet = started.load() == n && Clock::now() < wake_at && woke.load() == 0;
  root.join();
  EXPECT_EQ(woke.load(), n);
  EXPECT_GE(Clock::now(), wake_at);
  // Only a quiet round (every sleeper started well before its wake-up) must have parked:
  // on a loaded machine the spawns may take until the wake-up, and the round is retried.
  if (quiet) {
    EXPECT_GT(sched.stats().parks, 0u);
  }
  return quiet;
}

TEST(Sleep, ManySleepersParkEveryWorker) {
  const int n = scaled(10000, 500, 5000);
  auto wake_after = std::chrono::milliseconds(scaled(1000, 1500));
  for (int attempt = 0; attempt < 3; ++attempt, wake_after *= 2) {
    double cpu_ms = 0;
    if (!sleepers_round(n, wake_after, cpu_ms)) continue;
    EXPECT_LT(cpu_ms, 30.0) << n << " sleeping coroutines cost " << cpu_ms << " ms of CPU in 0.3 s";
    return;
  }
  FAIL() << "could not start " << n << " sleepers well before their wake-up time";
}

TEST(Sleep, PlainThreadSleeps) {
  const auto t0 = Clock::now();
  weft::sleep_for(5ms);
  EXPECT_GE(Clock::now() - t0, 5ms);
  weft::sleep_until(Clock::now() - 1s);  // in the past: returns at once
}

TEST(Sleep, NegativeDurationReturnsAtOnce) {
  weft::Scheduler sched({.workers = 1});
  sched.run([] {
    const auto t0 = Clock::now();
    weft::sleep_for(-5ms);
    EXPECT_LT(Clock::now() - t0, 1s);
  });
}

}  // namespace
