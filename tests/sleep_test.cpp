// weft::sleep_for / sleep_until: lower bounds, ordering, many sleepers parking every
// worker, and sleeping on plain threads.
#include <gtest/gtest.h>
#include <sys/resource.h>

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
using weft_test::scaled;

double process_cpu_ms() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
  };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

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
  const int n = scaled(10000, 2000, 5000);
  weft::Scheduler sched({.workers = 2});
  std::atomic<int> woke{0};
  std::atomic<bool> start_measure{false};
  auto root = sched.spawn([&] {
    std::vector<weft::Task<void>> ts;
    ts.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      ts.push_back(weft::spawn([&] {
        weft::sleep_for(1200ms);
        woke.fetch_add(1);
      }));
    }
    for (auto& t : ts) t.join();
  });
  // Let them all start and park, then measure a window in which nothing is due.
  std::this_thread::sleep_for(400ms);
  const double before = process_cpu_ms();
  std::this_thread::sleep_for(500ms);
  const double used = process_cpu_ms() - before;
  EXPECT_LT(used, 50.0) << n << " sleeping coroutines cost " << used << " ms of CPU in 0.5 s";
  EXPECT_EQ(woke.load(), 0);
  root.join();
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
