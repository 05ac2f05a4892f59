// SPDX-License-Identifier: Apache-2.0
// Idle workers park: an idle pool uses ~no CPU, parks are counted, and a parked pool
// wakes up for work pushed from outside (repeatedly) and for work pushed by a coroutine.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using weft_test::process_cpu_ms;
using weft_test::scaled;
using weft_test::Watchdog;

TEST(Park, IdlePoolUsesNoCpu) {
  Watchdog dog("IdlePoolUsesNoCpu");
  weft::Scheduler sched({.workers = 2});
  EXPECT_EQ(sched.run([] {
    auto c = weft::spawn([] { return 1; });
    weft::yield();
    return c.join() + 1;
  }),
            2);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // bounded spinning ends
  const double before = process_cpu_ms();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double used = process_cpu_ms() - before;
  EXPECT_LT(used, 50.0) << "an idle 2-worker pool burned " << used << " ms of CPU in 1 s";
  EXPECT_GT(sched.stats().parks, 0u);
  // Still works after the long sleep.
  EXPECT_EQ(sched.run([] { return 3; }), 3);
}

TEST(Park, IdleManyWorkersUseNoCpu) {
  Watchdog dog("IdleManyWorkersUseNoCpu");
  weft::Scheduler sched({.workers = 8});
  std::vector<weft::Task<void>> ts;
  for (int i = 0; i < 64; ++i) ts.push_back(sched.spawn([] { weft::yield(); }));
  for (auto& t : ts) t.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double before = process_cpu_ms();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double used = process_cpu_ms() - before;
  EXPECT_LT(used, 50.0) << "an idle 8-worker pool burned " << used << " ms of CPU in 1 s";
  EXPECT_GE(sched.stats().parks, 1u);
}

TEST(Park, ParkedPoolWakesForOutsideWorkRepeatedly) {
  // Work pushed from a plain thread must wake a parked worker (Boost.Fiber #327).
  Watchdog dog("ParkedPoolWakesForOutsideWorkRepeatedly");
  weft::Scheduler sched({.workers = 2});
  constexpr int kRounds = scaled(30, 10);
  for (int i = 0; i < kRounds; ++i) {
    // Varying gaps: sometimes the workers are still spinning, sometimes parked.
    std::this_thread::sleep_for(std::chrono::milliseconds(i % 5 == 0 ? 30 : i % 3));
    auto t = sched.spawn([i] { return i; });
    // done() turning true must not need the joiner's help (a plain thread never runs it).
    ASSERT_TRUE(weft_test::spin_until([&] { return t.done(); }, std::chrono::seconds(10)))
        << "round " << i << ": work pushed from outside never ran";
    EXPECT_EQ(t.join(), i);
  }
  EXPECT_GT(sched.stats().parks, 0u);
}

TEST(Park, ParkedWorkerWakesForWorkPushedByACoroutine) {
  // Worker A runs a coroutine that waits (holding A's thread) until worker B has gone to
  // sleep, then queues a child on A's deque and keeps holding A: only B can run the
  // child, so the local push itself must wake the parked B.
  Watchdog dog("ParkedWorkerWakesForWorkPushedByACoroutine");
  weft::Scheduler sched({.workers = 2});
  constexpr int kRounds = scaled(10, 4);
  for (int round = 0; round < kRounds; ++round) {
    const bool child_ran = sched.run([&sched] {
      // The other worker goes (back) to sleep once its bounded spinning ends: wait for
      // its park to be counted, or a while if it was already asleep when we looked.
      const std::uint64_t parks = sched.stats().parks;
      weft_test::spin_until([&] { return sched.stats().parks > parks; },
                            std::chrono::milliseconds(50));
      std::atomic<bool> ran{false};
      auto c = weft::spawn([&ran] { ran.store(true); });
      const bool ok = weft_test::spin_until([&] { return ran.load(); }, std::chrono::seconds(10));
      c.join();
      return ok;
    });
    ASSERT_TRUE(child_ran) << "round " << round
                           << ": a parked worker was not woken for a local push";
  }
}

TEST(Park, ManyPlainThreadsSubmittingToAParkingPool) {
  Watchdog dog("ManyPlainThreadsSubmittingToAParkingPool");
  weft::Scheduler sched({.workers = 2});
  constexpr int kThreads = 4, kEach = scaled(200, 50);
  std::atomic<int> total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if ((i + t) % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        total.fetch_add(sched.spawn([] { return 1; }).join());
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(total.load(), kThreads * kEach);
}

}  // namespace
