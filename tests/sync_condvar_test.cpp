// SPDX-License-Identifier: Apache-2.0
// weft::CondVar: predicate waits in a producer/consumer queue shared by coroutines and
// plain threads, notify_all, timeouts that fire and ones that do not, any BasicLockable,
// and a waiting coroutine that leaves its worker free.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/condvar.hpp"
#include "weft/mutex.hpp"
#include "weft/time.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft_test::scaled;
using weft_test::Watchdog;

// A bounded queue built from one Mutex and two CondVars, used from both sides by
// coroutines on several workers and by plain threads.
TEST(CondVar, BoundedQueueWithPredicates) {
  Watchdog dog("BoundedQueueWithPredicates");
  weft::Scheduler sched({.workers = 4});
  weft::Mutex m;
  weft::CondVar not_empty, not_full;
  std::deque<long> q;  // under m
  bool done = false;   // under m
  constexpr std::size_t kCap = 16;
  const int kProducers = 8, kConsumers = 8;  // on each side: 2 plain threads, 6 coroutines
  const long kPerProducer = scaled(1000, 250);

  auto produce = [&](int p) {
    for (long i = 0; i < kPerProducer; ++i) {
      std::unique_lock<weft::Mutex> lock(m);
      not_full.wait(lock, [&] { return q.size() < kCap; });
      q.push_back(p * kPerProducer + i);
      not_empty.notify_one();
    }
  };
  auto consume = [&] {
    long sum = 0, n = 0;
    for (;;) {
      std::unique_lock<weft::Mutex> lock(m);
      not_empty.wait(lock, [&] { return !q.empty() || done; });
      if (q.empty()) return std::pair<long, long>(sum, n);
      sum += q.front();
      q.pop_front();
      ++n;
      not_full.notify_one();
    }
  };

  std::vector<weft::Task<void>> producers;
  std::vector<std::thread> producer_threads;
  for (int p = 0; p < kProducers; ++p) {
    if (p % 4)
      producers.push_back(sched.spawn(produce, p));
    else
      producer_threads.emplace_back(produce, p);
  }
  std::vector<weft::Task<std::pair<long, long>>> consumers;
  std::vector<std::pair<long, long>> thread_results(kConsumers / 4);
  std::vector<std::thread> consumer_threads;
  for (int c = 0; c < kConsumers; ++c) {
    if (c % 4)
      consumers.push_back(sched.spawn(consume));
    else
      consumer_threads.emplace_back([&, c] { thread_results[c / 4] = consume(); });
  }
  for (auto& t : producers) t.join();
  for (auto& t : producer_threads) t.join();
  {
    std::lock_guard<weft::Mutex> lock(m);
    done = true;
  }
  not_empty.notify_all();
  long sum = 0, n = 0;
  for (auto& t : consumers) {
    auto [s, k] = t.join();
    sum += s;
    n += k;
  }
  for (auto& t : consumer_threads) t.join();
  for (auto [s, k] : thread_results) {
    sum += s;
    n += k;
  }
  const long total = kProducers * kPerProducer;
  EXPECT_EQ(n, total);
  EXPECT_EQ(sum, total * (total - 1) / 2);
}

TEST(CondVar, NotifyAllWakesCoroutinesAndThreads) {
  Watchdog dog("NotifyAllWakesCoroutinesAndThreads");
  weft::Scheduler sched({.workers = 2});
  weft::Mutex m;
  weft::CondVar cv;
  bool go = false;
  int woken = 0;  // under m
  std::atomic<int> waiting{0};
  const int kCoroutines = scaled(200, 50), kThreads = 3;
  auto waiter = [&] {
    std::unique_lock<weft::Mutex> lock(m);
    waiting.fetch_add(1);
    cv.wait(lock, [&] { return go; });
    ++woken;
  };
  std::vector<weft::Task<void>> ts;
  for (int i = 0; i < kCoroutines; ++i) ts.push_back(sched.spawn(waiter));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(waiter);
  ASSERT_TRUE(weft_test::spin_until([&] { return waiting.load() == kCoroutines + kThreads; }));
  {
    std::lock_guard<weft::Mutex> lock(m);
    go = true;
  }
  cv.notify_all();
  for (auto& t : ts) t.join();
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken, kCoroutines + kThreads);
}

TEST(CondVar, WaitForTimesOutWithTheLockHeld) {
  Watchdog dog("WaitForTimesOutWithTheLockHeld");
  weft::Scheduler sched({.workers = 2});
  weft::Mutex m;
  weft::CondVar cv;
  auto check = [&] {
    std::unique_lock<weft::Mutex> lock(m);
    const auto t0 = std::chrono::steady_clock::now();
    const std::cv_status st = cv.wait_for(lock, 20ms);
    const auto waited = std::chrono::steady_clock::now() - t0;
    const bool relocked = lock.owns_lock() && !m.try_lock();
    const bool pred = cv.wait_for(lock, 10ms, [] { return false; });
    const bool until =
        cv.wait_until(lock, std::chrono::system_clock::now() + 5ms) == std::cv_status::timeout;
    return st == std::cv_status::timeout && waited >= 20ms && relocked && !pred && until;
  };
  EXPECT_TRUE(sched.run(check));  // in a coroutine
  EXPECT_TRUE(check());           // on a plain thread
}

TEST(CondVar, WaitForNotifiedBeforeTheDeadline) {
  Watchdog dog("WaitForNotifiedBeforeTheDeadline");
  weft::Scheduler sched({.workers = 2});
  weft::Mutex m;
  weft::CondVar cv;
  int stage = 0;  // under m
  // A coroutine and a thread wait with long timeouts; each is notified well before.
  auto waiter = [&](int want) {
    std::unique_lock<weft::Mutex> lock(m);
    return cv.wait_for(lock, 10s, [&] { return stage >= want; });
  };
  auto co = sched.spawn(waiter, 1);
  bool thread_ok = false;
  std::thread th([&] { thread_ok = waiter(2); });
  const auto t0 = std::chrono::steady_clock::now();
  weft::sleep_for(5ms);
  for (int s = 1; s <= 2; ++s) {
    {
      std::lock_guard<weft::Mutex> lock(m);
      stage = s;
    }
    cv.notify_all();
  }
  EXPECT_TRUE(co.join());
  th.join();
  EXPECT_TRUE(thread_ok);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

// Ping-pong with timed waits whose deadlines never come: no notification may be lost.
TEST(CondVar, PingPongBetweenCoroutineAndThread) {
  Watchdog dog("PingPongBetweenCoroutineAndThread");
  weft::Scheduler sched({.workers = 2});
  weft::Mutex m;
  weft::CondVar cv;
  int turn = 0;  // under m; even: coroutine's turn, odd: thread's
  const int kRounds = scaled(5000, 500);
  auto co = sched.spawn([&] {
    for (int i = 0; i < kRounds; ++i) {
      std::unique_lock<weft::Mutex> lock(m);
      if (!cv.wait_for(lock, 10s, [&] { return turn % 2 == 0; })) return false;
      ++turn;
      cv.notify_one();
    }
    return true;
  });
  bool ok = true;
  for (int i = 0; i < kRounds && ok; ++i) {
    std::unique_lock<weft::Mutex> lock(m);
    ok = cv.wait_for(lock, 10s, [&] { return turn % 2 == 1; });
    ++turn;
    cv.notify_one();
  }
  EXPECT_TRUE(ok);
  EXPECT_TRUE(co.join());
}

// condition_variable_any-style: any BasicLockable, here std::mutex on plain threads.
TEST(CondVar, WorksWithStdMutex) {
  Watchdog dog("WorksWithStdMutex");
  std::mutex m;
  weft::CondVar cv;
  int value = 0;
  std::thread th([&] {
    std::this_thread::sleep_for(5ms);
    std::lock_guard<std::mutex> lock(m);
    value = 5;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return value == 5; });
  EXPECT_EQ(value, 5);
  lock.unlock();
  th.join();
}

TEST(CondVar, WaitingCoroutineLeavesItsWorkerFree) {
  Watchdog dog("WaitingCoroutineLeavesItsWorkerFree");
  weft::Scheduler sched({.workers = 1});
  bool ok = sched.run([] {
    weft::Mutex m;
    weft::CondVar cv;
    bool ready = false;
    auto waiter = weft::spawn([&] {
      std::unique_lock<weft::Mutex> lock(m);
      cv.wait(lock, [&] { return ready; });
      return 3;
    });
    // Runs on the same single worker while `waiter` is suspended in wait().
    auto notifier = weft::spawn([&] {
      weft::sleep_for(1ms);
      std::lock_guard<weft::Mutex> lock(m);
      ready = true;
      cv.notify_one();
    });
    notifier.join();
    return waiter.join() == 3;
  });
  EXPECT_TRUE(ok);
}

TEST(CondVar, WaitWithALockNotHeldThrowsAndLeavesNoWaiter) {
  weft::CondVar cv;
  weft::Mutex m;
  std::unique_lock<weft::Mutex> lock(m, std::defer_lock);  // not held
  EXPECT_THROW(cv.wait(lock), std::system_error);
  EXPECT_THROW(cv.wait_for(lock, std::chrono::milliseconds(1)), std::system_error);
  weft::Scheduler sched({.workers = 1});
  EXPECT_THROW(sched.run([&] { cv.wait(lock); }), std::system_error);
  cv.notify_all();  // no dangling waiter: the CondVar is also destroyed cleanly below
}

}  // namespace
