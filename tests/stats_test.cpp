// SPDX-License-Identifier: Apache-2.0
// Scheduler::stats(): per-worker counters that add up to the totals, each counter moved
// by what it counts (steals, parks, wake-ups, timer fires, runs), gauges of live
// coroutines and pooled/mapped stacks, and snapshots that never show more coroutines
// completed than spawned.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using weft_test::scaled;
using weft_test::Watchdog;

void expect_sums_match(const weft::Stats& s) {
  weft::WorkerStats sum;
  for (const weft::WorkerStats& w : s.workers) {
    sum.completed += w.completed;
    sum.runs += w.runs;
    sum.switches += w.switches;
    sum.steal_attempts += w.steal_attempts;
    sum.steals += w.steals;
    sum.parks += w.parks;
    sum.wakeups += w.wakeups;
    sum.timer_fires += w.timer_fires;
    sum.stacks_pooled += w.stacks_pooled;
    EXPECT_LE(w.steals, w.steal_attempts);
    EXPECT_LE(w.wakeups, w.parks);
  }
  EXPECT_EQ(sum.completed, s.completed);
  EXPECT_EQ(sum.runs, s.runs);
  EXPECT_EQ(sum.switches, s.switches);
  EXPECT_EQ(sum.steal_attempts, s.steal_attempts);
  EXPECT_EQ(sum.steals, s.steals);
  EXPECT_EQ(sum.parks, s.parks);
  EXPECT_EQ(sum.wakeups, s.wakeups);
  EXPECT_EQ(sum.timer_fires, s.timer_fires);
  EXPECT_EQ(sum.stacks_pooled, s.stacks_pooled);
}

int fib(int n) {
  if (n < 2) return n;
  auto a = weft::spawn(fib, n - 1);
  const int b = fib(n - 2);
  return a.join() + b;
}

TEST(Stats, PerWorkerCountersAddUpToTheTotals) {
  Watchdog dog("PerWorkerCountersAddUpToTheTotals");
  weft::Scheduler sched({.workers = 2});
  EXPECT_EQ(sched.run(fib, 18), 2584);
  weft_test::spin_until([&] { return sched.stats().live == 0; });
  const weft::Stats s = sched.stats();
  ASSERT_EQ(s.workers.size(), 2u);
  expect_sums_match(s);
  // fib(18) spawns one coroutine per call above the leaves, plus the root.
  EXPECT_EQ(s.spawned, 4181u);
  EXPECT_EQ(s.completed, s.spawned);
  EXPECT_EQ(s.live, 0u);
  // Every coroutine ran at least once, on its own stack or inline in its joiner.
  EXPECT_GE(s.runs, s.completed);
  EXPECT_GE(s.stacks_mapped, 1u);
}

TEST(Stats, StealsAreCountedWithTheirAttempts) {
  Watchdog dog("StealsAreCountedWithTheirAttempts");
  weft::Scheduler sched({.workers = 2});
  const int elsewhere = weft_test::run_with_a_steal(sched, 100, 50);
  const weft::Stats s = sched.stats();
  EXPECT_GT(elsewhere, 0);
  EXPECT_GT(s.steals, 0u);
  EXPECT_GE(s.steal_attempts, s.steals);
  expect_sums_match(s);
}

TEST(Stats, ParksWakeupsAndTimerFires) {
  Watchdog dog("ParksWakeupsAndTimerFires");
  weft::Scheduler sched({.workers = 2});
  // Both workers asleep: each has counted a park and is on the idle list, so the spawn
  // below must wake one of them (a wake-up, not a timeout: no timers are pending).
  ASSERT_TRUE(weft_test::spin_until([&] { return sched.stats().parks >= 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const weft::Stats before = sched.stats();
  sched.run([] { weft::sleep_for(std::chrono::milliseconds(1)); });
  const weft::Stats after = sched.stats();
  EXPECT_GE(after.wakeups, before.wakeups + 1);
  EXPECT_GE(after.timer_fires, before.timer_fires + 1);
  expect_sums_match(after);
}

TEST(Stats, StacksArePooledAndMapped) {
  Watchdog dog("StacksArePooledAndMapped");
  weft::Scheduler sched({.workers = 2});
  constexpr int kSuspended = 100;
  weft::Event go;
  sched.run([&] {
    std::vector<weft::Task<void>> waiting;
    for (int i = 0; i < kSuspended; ++i) waiting.push_back(weft::spawn([&] { go.wait(); }));
    // Let them all start (each takes a stack) and suspend.
    while (sched.stats().stacks_mapped < kSuspended) weft::yield();
    go.set();
    for (auto& t : waiting) t.join();
  });
  const weft::Stats s = sched.stats();
  // Each waiter held its own stack at once (plus the root's).
  EXPECT_GE(s.stacks_mapped, static_cast<std::uint64_t>(kSuspended));
  EXPECT_LE(s.stacks_pooled, s.stacks_mapped);
  EXPECT_GT(s.stacks_pooled, 0u);
  expect_sums_match(s);
}

TEST(Stats, SnapshotsNeverShowMoreCompletedThanSpawned) {
  Watchdog dog("SnapshotsNeverShowMoreCompletedThanSpawned");
  weft::Scheduler sched({.workers = 2});
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> bad{0}, snapshots{0};
  std::thread reader([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      const weft::Stats s = sched.stats();
      if (s.completed > s.spawned || s.live != s.spawned - s.completed) bad.fetch_add(1);
      snapshots.fetch_add(1);
    }
  });
  const int kRounds = scaled(200, 40);
  for (int r = 0; r < kRounds; ++r) {
    std::vector<weft::Task<int>> ts;
    for (int i = 0; i < 50; ++i) ts.push_back(sched.spawn([i] { return i; }));
    for (auto& t : ts) t.join();
  }
  stop.store(true);
  reader.join();
  EXPECT_GT(snapshots.load(), 0u);
  EXPECT_EQ(bad.load(), 0u);
}

}  // namespace
