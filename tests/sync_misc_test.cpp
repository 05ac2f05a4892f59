// SPDX-License-Identifier: Apache-2.0
// weft::WaitGroup and weft::Event: waits across coroutines and plain threads with
// visibility of the work done before done()/set(), timeouts, reuse, misuse, and waiting
// coroutines that leave their worker free.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/event.hpp"
#include "weft/time.hpp"
#include "weft/wait_group.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft_test::scaled;
using weft_test::Watchdog;

// ---- WaitGroup ---------------------------------------------------------------------------

TEST(WaitGroup, WaitsForCoroutinesAndThreads) {
  Watchdog dog("WaitsForCoroutinesAndThreads");
  weft::Scheduler sched({.workers = 4});
  const int kCoroutines = scaled(2000, 300), kThreads = 4;
  std::vector<int> results(kCoroutines + kThreads, 0);  // plain ints: done() publishes them
  weft::WaitGroup wg;
  wg.add(kCoroutines + kThreads);
  // Waiters on both sides, each checking every result once released.
  auto check = [&] {
    wg.wait();
    for (int i = 0; i < kCoroutines + kThreads; ++i)
      if (results[i] != i + 1) return false;
    return true;
  };
  auto co_waiter = sched.spawn(check);
  bool thread_waiter_ok = false;
  std::thread thread_waiter([&] { thread_waiter_ok = check(); });
  for (int i = 0; i < kCoroutines; ++i) {
    sched
        .spawn([&, i] {
          if (i % 3 == 0) weft::yield();
          results[i] = i + 1;
          wg.done();
        })
        .detach();
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::this_thread::sleep_for(1ms);
      results[kCoroutines + t] = kCoroutines + t + 1;
      wg.done();
    });
  }
  EXPECT_TRUE(check());  // this thread waits too
  EXPECT_TRUE(co_waiter.join());
  thread_waiter.join();
  EXPECT_TRUE(thread_waiter_ok);
  for (auto& t : threads) t.join();
  EXPECT_EQ(wg.count(), 0);
}

TEST(WaitGroup, NegativeCounterThrowsAndLeavesItUnchanged) {
  weft::WaitGroup wg;
  EXPECT_THROW(wg.done(), std::logic_error);
  EXPECT_EQ(wg.count(), 0);
  wg.add(2);
  EXPECT_THROW(wg.add(-3), std::logic_error);
  EXPECT_EQ(wg.count(), 2);
  wg.add(-2);
  EXPECT_EQ(wg.count(), 0);
  wg.wait();  // zero: returns at once
}

// The extremes of std::int64_t: neither the "below zero" check nor the sum may overflow
// (UBSan flags either under the asan preset); a refused add() leaves the counter as it was.
TEST(WaitGroup, AddAtTheLimitsThrowsAndLeavesTheCounterUnchanged) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  weft::WaitGroup wg;
  EXPECT_THROW(wg.add(kMin), std::logic_error);
  EXPECT_EQ(wg.count(), 0);
  wg.add(5);
  EXPECT_THROW(wg.add(kMin), std::logic_error);
  EXPECT_EQ(wg.count(), 5);
  EXPECT_THROW(wg.add(kMax), std::overflow_error);
  EXPECT_EQ(wg.count(), 5);
  wg.add(-4);
  EXPECT_THROW(wg.add(kMax), std::overflow_error);
  EXPECT_EQ(wg.count(), 1);
  wg.add(kMax - 1);  // exactly the maximum is fine
  EXPECT_EQ(wg.count(), kMax);
  EXPECT_THROW(wg.add(1), std::overflow_error);
  EXPECT_THROW(wg.add(kMin), std::logic_error);  // kMax + kMin == -1
  EXPECT_EQ(wg.count(), kMax);
  wg.add(-kMax);
  EXPECT_EQ(wg.count(), 0);
  wg.wait();  // zero: returns at once
}

TEST(WaitGroup, WaitForTimesOutThenSucceedsAndIsReusable) {
  Watchdog dog("WaitForTimesOutThenSucceedsAndIsReusable");
  weft::Scheduler sched({.workers = 2});
  weft::WaitGroup wg;
  EXPECT_TRUE(wg.wait_for(0ms));  // zero counter
  wg.add(1);
  EXPECT_FALSE(sched.run([&] { return wg.wait_for(20ms); }));
  EXPECT_FALSE(wg.wait_until(std::chrono::steady_clock::now() + 5ms));
  for (int round = 0; round < 3; ++round) {
    if (round > 0) wg.add(1);
    auto waiter = sched.spawn([&] { return wg.wait_for(10s); });
    std::this_thread::sleep_for(2ms);
    wg.done();
    EXPECT_TRUE(waiter.join()) << "round " << round;
  }
}

TEST(WaitGroup, WaitingCoroutineLeavesItsWorkerFree) {
  Watchdog dog("WaitGroupWaitingCoroutineLeavesItsWorkerFree");
  weft::Scheduler sched({.workers = 1});
  EXPECT_EQ(sched.run([] {
    weft::WaitGroup wg;
    int sum = 0;  // only touched on the single worker... and published by done() anyway
    wg.add(3);
    std::vector<weft::Task<void>> ts;
    for (int i = 1; i <= 3; ++i) {
      ts.push_back(weft::spawn([&, i] {
        weft::sleep_for(1ms);
        sum += i;
        wg.done();
      }));
    }
    wg.wait();  // suspends this coroutine; the children run on the same worker
    for (auto& t : ts) t.join();
    return sum;
  }),
            6);
}

// ---- Event -------------------------------------------------------------------------------

TEST(Event, SetWakesEveryWaiterAndStaysSetUntilReset) {
  Watchdog dog("SetWakesEveryWaiterAndStaysSetUntilReset");
  weft::Scheduler sched({.workers = 4});
  weft::Event ev;
  EXPECT_FALSE(ev.is_set());
  long payload = 0;  // written before set(), read after wait()
  const int kCoroutines = scaled(500, 100), kThreads = 3;
  std::atomic<int> saw{0};
  auto waiter = [&] {
    ev.wait();
    if (payload == 42) saw.fetch_add(1);
  };
  std::vector<weft::Task<void>> ts;
  for (int i = 0; i < kCoroutines; ++i) ts.push_back(sched.spawn(waiter));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(waiter);
  std::this_thread::sleep_for(5ms);
  payload = 42;
  ev.set();
  ev.set();  // idempotent
  for (auto& t : ts) t.join();
  for (auto& t : threads) t.join();
  EXPECT_EQ(saw.load(), kCoroutines + kThreads);
  // Later waiters pass straight through until reset().
  EXPECT_TRUE(ev.is_set());
  ev.wait();
  EXPECT_TRUE(sched.run([&] { return ev.wait_for(0ms); }));
  ev.reset();
  EXPECT_FALSE(ev.is_set());
  EXPECT_FALSE(ev.wait_for(5ms));
}

TEST(Event, WaitForTimesOutOrIsReleased) {
  Watchdog dog("EventWaitForTimesOutOrIsReleased");
  weft::Scheduler sched({.workers = 2});
  weft::Event ev;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(sched.run([&] { return ev.wait_for(20ms); }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  EXPECT_FALSE(ev.wait_until(std::chrono::steady_clock::now() + 5ms));
  auto co = sched.spawn([&] { return ev.wait_for(10s); });
  bool thread_ok = false;
  std::thread th([&] { thread_ok = ev.wait_for(10s); });
  std::this_thread::sleep_for(5ms);
  ev.set();
  EXPECT_TRUE(co.join());
  th.join();
  EXPECT_TRUE(thread_ok);
  EXPECT_TRUE(weft::Event(true).is_set());
}

TEST(Event, WaitingCoroutineLeavesItsWorkerFree) {
  Watchdog dog("EventWaitingCoroutineLeavesItsWorkerFree");
  weft::Scheduler sched({.workers = 1});
  EXPECT_TRUE(sched.run([] {
    weft::Event ev;
    auto waiter = weft::spawn([&] {
      ev.wait();
      return true;
    });
    weft::yield();  // the waiter runs and suspends in wait()
    auto setter = weft::spawn([&] { ev.set(); });
    setter.join();
    return waiter.join();
  }));
}

}  // namespace
