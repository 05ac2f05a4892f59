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
    // Spawned in scrambled order, 15 ms apart: wake order must follow the deadlines.
    for (int i : {3, 0, 4, 1, 2}) {
      ts.push_back(weft::spawn([&, i] {
        weft::sleep_for(std::chrono::milliseconds(5 + 15 * i));
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

TEST(Sleep, ManySleepersParkEveryWorker) {
  const int n = scaled(10000, 1000, 5000);
  weft::Scheduler sched({.workers = 2});
  std::atomic<int> started{0};
  std::atomic<int> woke{0};
  // One common wake-up time, far enough out for the slowest (sanitized) build to spawn
  // every sleeper and leave a quiet window to measure.
  const auto wake_at = Clock::now() + std::chrono::milliseconds(scaled(1200, 2500));
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
  ASSERT_EQ(started.load(), n) << "sleepers were not all started before the wake-up time";
  std::this_thread::sleep_for(50ms);  // the last ones park, bounded spinning ends
  const double before = process_cpu_ms();
  const auto window_start = Clock::now();
  std::this_thread::sleep_for(300ms);
  const double used = process_cpu_ms() - before;
  const bool quiet_window = Clock::now() < wake_at;
  if (quiet_window) {
    EXPECT_LT(used, 30.0) << n << " sleeping coroutines cost " << used << " ms of CPU in 0.3 s";
    EXPECT_EQ(woke.load(), 0);
  }
  root.join();
  EXPECT_TRUE(quiet_window) << "the measuring window overlapped the wake-up time; started at "
                            << std::chrono::duration<double>(wake_at - window_start).count()
                            << " s before it";
  EXPECT_EQ(woke.load(), n);
  EXPECT_GT(sched.stats().parks, 0u);
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
