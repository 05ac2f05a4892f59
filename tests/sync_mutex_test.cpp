// SPDX-License-Identifier: Apache-2.0
// weft::Mutex: lock/try_lock/unlock semantics, misuse, FIFO hand-off without barging, a
// counter hammered by coroutines on several workers and plain threads together, timed
// locking, and a blocked coroutine that leaves its worker free.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/mutex.hpp"
#include "weft/time.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft_test::scaled;
using weft_test::Watchdog;

TEST(Mutex, LockTryLockUnlock) {
  weft::Mutex m;
  EXPECT_TRUE(m.try_lock());
  EXPECT_FALSE(m.try_lock());
  m.unlock();
  {
    std::lock_guard<weft::Mutex> g(m);
    EXPECT_FALSE(m.try_lock());
  }
  std::unique_lock<weft::Mutex> u(m, std::try_to_lock);
  EXPECT_TRUE(u.owns_lock());
  u.unlock();
  EXPECT_TRUE(m.try_lock_for(1ms));
  m.unlock();
}

TEST(Mutex, UnlockOfUnlockedMutexThrows) {
  weft::Mutex m;
  EXPECT_THROW(m.unlock(), std::logic_error);
  m.lock();
  m.unlock();
  try {
    m.unlock();
    FAIL() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("not locked"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(m.try_lock());  // the failed unlock left it usable
  m.unlock();
}

TEST(MutexDeathTest, DestroyedWhileLockedTerminates) {
  weft_test::use_death_test_child_process();
  EXPECT_DEATH(
      {
        weft::Mutex m;
        m.lock();
      },
      "destroyed while locked");
}

// Coroutines on 4 workers and plain threads increment a plain (non-atomic) counter under
// the mutex: 100k increments from 1000 coroutines, which yield between increments so that
// they interleave and contend.
TEST(Mutex, CounterFromCoroutinesAndThreads) {
  Watchdog dog("CounterFromCoroutinesAndThreads");
  const int kCoroutines = scaled(1000, 200);
  const int kPerCoroutine = scaled(100, 25);
  const int kThreads = 2;
  const int kPerThread = scaled(2000, 500);
  weft::Scheduler sched({.workers = 4});
  weft::Mutex m;
  long counter = 0;
  std::vector<weft::Task<void>> tasks;
  for (int i = 0; i < kCoroutines; ++i) {
    tasks.push_back(sched.spawn([&, i] {
      for (int k = 0; k < kPerCoroutine; ++k) {
        {
          std::lock_guard<weft::Mutex> g(m);
          ++counter;
        }
        if ((i + k) % 4 == 0) weft::yield();
      }
    }));
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < kPerThread; ++k) {
        std::unique_lock<weft::Mutex> g(m);
        ++counter;
      }
    });
  }
  for (auto& t : tasks) t.join();
  for (auto& t : threads) t.join();
  std::lock_guard<weft::Mutex> g(m);
  EXPECT_EQ(counter, long{kCoroutines} * kPerCoroutine + long{kThreads} * kPerThread);
}

// Every holder suspends inside the critical section, so nearly every unlock finds a queue
// and hands the mutex over (to coroutines on other workers and to plain threads).
TEST(Mutex, HeldAcrossSuspensionEveryUnlockHandsOver) {
  Watchdog dog("HeldAcrossSuspensionEveryUnlockHandsOver");
  const int kCoroutines = scaled(200, 50);
  const int kPerCoroutine = scaled(20, 5);
  const int kThreads = 2, kPerThread = scaled(200, 50);
  weft::Scheduler sched({.workers = 4});
  weft::Mutex m;
  long counter = 0;
  int inside = 0;  // under m: must never exceed 1
  bool exclusive = true;
  std::vector<weft::Task<void>> tasks;
  for (int i = 0; i < kCoroutines; ++i) {
    tasks.push_back(sched.spawn([&] {
      for (int k = 0; k < kPerCoroutine; ++k) {
        std::lock_guard<weft::Mutex> g(m);
        if (++inside != 1) exclusive = false;
        weft::yield();  // suspended, maybe migrated, while holding it
        ++counter;
        --inside;
      }
    }));
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < kPerThread; ++k) {
        std::lock_guard<weft::Mutex> g(m);
        if (++inside != 1) exclusive = false;
        ++counter;
        --inside;
      }
    });
  }
  for (auto& t : tasks) t.join();
  for (auto& t : threads) t.join();
  std::lock_guard<weft::Mutex> g(m);
  EXPECT_TRUE(exclusive);
  EXPECT_EQ(counter, long{kCoroutines} * kPerCoroutine + long{kThreads} * kPerThread);
}

// With one worker the order of arrival is deterministic: waiters get the mutex in FIFO
// order, and the releasing coroutine cannot take it back past them (no barging).
TEST(Mutex, FifoHandOffWithoutBarging) {
  Watchdog dog("FifoHandOffWithoutBarging");
  weft::Scheduler sched({.workers = 1});
  constexpr int kWaiters = 6;
  std::vector<int> order = sched.run([] {
    weft::Mutex m;
    std::vector<int> got;  // touched under m only
    std::atomic<int> queued{0};
    m.lock();
    std::vector<weft::Task<void>> ts;
    for (int i = 0; i < kWaiters; ++i) {
      ts.push_back(weft::spawn([&, i] {
        queued.fetch_add(1);
        m.lock();
        got.push_back(i);
        m.unlock();
      }));
      // One worker: the child runs (and parks in lock()) before we are resumed.
      while (queued.load() != i + 1) weft::yield();
    }
    m.unlock();
    EXPECT_FALSE(m.try_lock()) << "unlock must hand the mutex to the oldest waiter";
    m.lock();  // queues behind all of them
    std::vector<int> out = got;
    m.unlock();
    for (auto& t : ts) t.join();
    return out;
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST(Mutex, BlockedCoroutineLeavesItsWorkerFree) {
  Watchdog dog("BlockedCoroutineLeavesItsWorkerFree");
  weft::Scheduler sched({.workers = 1});
  weft::Mutex m;
  m.lock();  // held by this plain thread
  std::atomic<bool> waiting{false}, got{false};
  auto blocked = sched.spawn([&] {
    waiting.store(true);
    m.lock();
    got.store(true);
    m.unlock();
  });
  ASSERT_TRUE(weft_test::spin_until([&] { return waiting.load(); }));
  // The only worker still runs other coroutines while `blocked` waits.
  EXPECT_EQ(sched.spawn([] { return 42; }).join(), 42);
  EXPECT_FALSE(got.load());
  m.unlock();  // a thread hands the mutex to a coroutine
  blocked.join();
  EXPECT_TRUE(got.load());
}

TEST(Mutex, ThreadWaitsForCoroutineThatSleepsHoldingIt) {
  Watchdog dog("ThreadWaitsForCoroutineThatSleepsHoldingIt");
  weft::Scheduler sched({.workers = 2});
  weft::Mutex m;
  std::atomic<bool> held{false};
  int value = 0;
  auto owner = sched.spawn([&] {
    std::lock_guard<weft::Mutex> g(m);
    held.store(true);
    weft::sleep_for(20ms);
    value = 7;
  });
  ASSERT_TRUE(weft_test::spin_until([&] { return held.load(); }));
  m.lock();  // blocks this thread until the coroutine hands it over
  EXPECT_EQ(value, 7);
  m.unlock();
  owner.join();
}

TEST(Mutex, TryLockForTimesOutAndSucceeds) {
  Watchdog dog("TryLockForTimesOutAndSucceeds");
  weft::Scheduler sched({.workers = 2});
  weft::Mutex m;
  m.lock();
  // Times out in a coroutine and on a thread; the mutex stays usable afterwards.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(sched.run([&] { return m.try_lock_for(30ms); }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  EXPECT_FALSE(m.try_lock_until(std::chrono::steady_clock::now() + 10ms));
  // Succeeds when released before the deadline.
  auto waiter = sched.spawn([&] {
    bool ok = m.try_lock_for(10s);
    if (ok) m.unlock();
    return ok;
  });
  std::this_thread::sleep_for(10ms);
  m.unlock();
  EXPECT_TRUE(waiter.join());
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

// Deadlines racing with hand-offs: every successful try_lock_for must really own the
// mutex (the counter is plain), and nobody may be left stuck.
TEST(Mutex, TimedLockRacingWithHandOff) {
  Watchdog dog("TimedLockRacingWithHandOff");
  weft::Scheduler sched({.workers = 4});
  weft::Mutex m;
  long counter = 0;
  std::atomic<long> successes{0};
  const int kCoroutines = scaled(64, 16);
  const int kRounds = scaled(300, 50);
  std::vector<weft::Task<void>> ts;
  for (int i = 0; i < kCoroutines; ++i) {
    ts.push_back(sched.spawn([&, i] {
      for (int k = 0; k < kRounds; ++k) {
        if (m.try_lock_for(std::chrono::microseconds((i + k) % 50))) {
          ++counter;
          if (k % 4 == 0) weft::yield();
          m.unlock();
          successes.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }));
  }
  for (auto& t : ts) t.join();
  std::lock_guard<weft::Mutex> g(m);
  EXPECT_EQ(counter, successes.load());
  EXPECT_GT(counter, 0);
}

}  // namespace
