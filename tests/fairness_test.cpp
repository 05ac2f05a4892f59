// SPDX-License-Identifier: Apache-2.0
// The fairness bound (docs/DESIGN.md, "Fairness"): every ready coroutine runs within a
// bounded number of scheduling decisions, whichever path made it ready (spawned or woken
// from outside the pool, woken by a timer, by I/O, by a coroutine) and whichever path the
// worker takes next (yield, suspend, finish). Each test keeps a worker's deque permanently
// non-empty with yield() loops, which is exactly the state that starved injected work.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <weft/weft.hpp>

#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;

// The pollers give up after this many yields each: far more than the bound allows, so a
// scheduler that honours it never gets near, and a starving one fails instead of hanging.
constexpr long kYieldBudget = 2'000'000;

// Two coroutines poll `m` with try_lock() + yield() on one worker while a plain thread
// holds it and a third coroutine waits in lock(). The thread's unlock() hands the mutex
// to the waiter through the injection queue: it must run although the worker's deque
// never empties (shared/repro/mutex_external_wake_livelock.cpp).
TEST(Fairness, CoroutineWokenByAThreadRunsBehindYieldLoops) {
  weft_test::Watchdog dog("CoroutineWokenByAThreadRunsBehindYieldLoops", 30s);
  weft::Scheduler s({.workers = 1});
  weft::Mutex m;
  m.lock();  // held by this thread
  std::atomic<bool> waiter_queued{false}, waiter_ran{false};
  std::atomic<long> gave_up{0};
  auto waiter = s.spawn([&] {
    waiter_queued.store(true);
    m.lock();  // queues: the mutex is held
    waiter_ran.store(true);
    m.unlock();
  });
  ASSERT_TRUE(weft_test::spin_until([&] { return waiter_queued.load(); }));
  std::this_thread::sleep_for(20ms);  // let it reach the queue
  auto poller = [&] {
    for (long i = 0; i < kYieldBudget; ++i) {
      if (m.try_lock()) {
        m.unlock();
        return;
      }
      weft::yield();
    }
    gave_up.fetch_add(1);
  };
  auto p1 = s.spawn(poller);
  auto p2 = s.spawn(poller);
  std::this_thread::sleep_for(20ms);  // both polling
  m.unlock();                         // hands the mutex to `waiter`, from outside the pool
  p1.join();
  p2.join();
  waiter.join();
  EXPECT_TRUE(waiter_ran.load());
  EXPECT_EQ(gave_up.load(), 0) << "a coroutine woken from a plain thread starved behind yield()";
}

// Work spawned from outside the pool runs while every worker is busy with yield() loops.
TEST(Fairness, OutsideSpawnRunsBehindYieldLoops) {
  weft_test::Watchdog dog("OutsideSpawnRunsBehindYieldLoops", 30s);
  weft::Scheduler s({.workers = 1});
  std::atomic<bool> stop{false};
  std::atomic<long> gave_up{0};
  auto looper = [&] {
    for (long i = 0; i < kYieldBudget && !stop.load(std::memory_order_relaxed); ++i) {
      weft::yield();
    }
    if (!stop.load()) gave_up.fetch_add(1);
  };
  auto a = s.spawn(looper);
  auto b = s.spawn(looper);
  std::this_thread::sleep_for(20ms);
  s.spawn([&] { stop.store(true); }).join();  // from this thread: the injection queue
  a.join();
  b.join();
  EXPECT_EQ(gave_up.load(), 0) << "an outside spawn starved behind yield()";
}

// A coroutine woken by another coroutine's unlock(), by its timer and by I/O, each while
// two others keep the worker's deque non-empty.
TEST(Fairness, EveryWakeSourceRunsBehindYieldLoops) {
  weft_test::Watchdog dog("EveryWakeSourceRunsBehindYieldLoops", 30s);
  weft::Scheduler s({.workers = 1});
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  std::atomic<int> woken{0};
  std::atomic<long> gave_up{0};
  auto looper = [&] {
    long i = 0;
    for (; i < kYieldBudget && woken.load(std::memory_order_relaxed) < 3; ++i) weft::yield();
    if (i == kYieldBudget) gave_up.fetch_add(1);
  };
  weft::Event started;
  auto sleeper = s.spawn([&] {
    weft::sleep_for(5ms);
    woken.fetch_add(1);
  });
  auto reader = s.spawn([&] {
    started.set();
    EXPECT_TRUE(weft::wait_readable(p[0], 10s));
    woken.fetch_add(1);
  });
  auto waker = s.spawn([&] {
    started.wait();
    const char byte = 'x';
    EXPECT_EQ(write(p[1], &byte, 1), 1);
    woken.fetch_add(1);
  });
  auto a = s.spawn(looper);
  auto b = s.spawn(looper);
  a.join();
  b.join();
  sleeper.join();
  reader.join();
  waker.join();
  close(p[0]);
  close(p[1]);
  EXPECT_EQ(woken.load(), 3);
  EXPECT_EQ(gave_up.load(), 0);
}

}  // namespace
