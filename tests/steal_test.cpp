// SPDX-License-Identifier: Apache-2.0
// Work spreads over the workers: children of one coroutine get stolen, work injected
// from a plain thread runs on every worker, a worker stuck in a blocking call does not
// strand what it has queued, and injected work is not starved by a busy local loop.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using weft_test::scaled;
using weft_test::Watchdog;

// Records which workers ran something. The first coroutine to run holds its worker
// (bounded) until some coroutine has run on a different worker, so with a working
// scheduler both workers appear deterministically; with a broken one the test fails
// after the bound instead of hanging.
struct Spread {
  std::atomic<std::uint32_t> mask{0};
  std::atomic<bool> first_claimed{false};
  std::atomic<bool> held_until_other{true};

  void record_and_maybe_hold() {
    const int w = weft::current_worker();
    if (w < 0 || w >= 32) {
      held_until_other.store(false);
      return;
    }
    const std::uint32_t bit = 1u << w;
    mask.fetch_or(bit);
    if (!first_claimed.exchange(true)) {
      const bool ok = weft_test::spin_until([&] { return (mask.load() & ~bit) != 0; });
      if (!ok) held_until_other.store(false);
    }
  }
};

TEST(Steal, ChildrenOfOneRootSpreadOverBothWorkers) {
  Watchdog dog("ChildrenOfOneRootSpreadOverBothWorkers");
  weft::Scheduler sched({.workers = 2});
  const std::uint64_t work = weft_test::iters_for_us(30);
  Spread spread;
  constexpr int kChildren = 200;
  std::vector<int> where(kChildren, -2);
  // A plain thread spawns the root; the root spawns every child onto its own deque.
  std::thread outside([&] {
    sched.run([&] {
      std::vector<weft::Task<void>> kids;
      for (int i = 0; i < kChildren; ++i)
        kids.push_back(weft::spawn([&, i] {
          spread.record_and_maybe_hold();
          weft_test::burn(work);
          where[static_cast<std::size_t>(i)] = weft::current_worker();
        }));
      for (auto& k : kids) k.join();
    });
  });
  outside.join();
  EXPECT_TRUE(spread.held_until_other.load()) << "no second worker ever ran a child";
  std::set<int> workers(where.begin(), where.end());
  EXPECT_EQ(workers, (std::set<int>{0, 1})) << "children ran on one worker only";
  EXPECT_GT(sched.stats().steals, 0u);
}

TEST(Steal, InjectedWorkRunsOnBothWorkers) {
  Watchdog dog("InjectedWorkRunsOnBothWorkers");
  weft::Scheduler sched({.workers = 2});
  const std::uint64_t work = weft_test::iters_for_us(30);
  Spread spread;
  constexpr int kTasks = 200;
  std::vector<weft::Task<int>> ts;
  for (int i = 0; i < kTasks; ++i)
    ts.push_back(sched.spawn([&] {
      spread.record_and_maybe_hold();
      weft_test::burn(work);
      return weft::current_worker();
    }));
  std::set<int> workers;
  for (auto& t : ts) workers.insert(t.join());
  EXPECT_TRUE(spread.held_until_other.load()) << "no second worker ever ran injected work";
  EXPECT_EQ(workers, (std::set<int>{0, 1}));
}

TEST(Steal, BlockedWorkerDoesNotStrandItsQueue) {
  // A coroutine blocks its worker's thread (as a blocking syscall would) right after
  // queueing children on that worker's deque: the other worker must steal them all.
  Watchdog dog("BlockedWorkerDoesNotStrandItsQueue");
  weft::Scheduler sched({.workers = 2});
  constexpr int kChildren = 50;
  std::atomic<int> done{0};
  std::atomic<int> blocked_worker{-1};
  std::atomic<int> ran_on_blocked{0};
  const bool all_done = sched.run([&] {
    const int me = weft::current_worker();
    blocked_worker.store(me);
    std::vector<weft::Task<void>> kids;
    for (int i = 0; i < kChildren; ++i)
      kids.push_back(weft::spawn([&] {
        if (weft::current_worker() == blocked_worker.load()) ran_on_blocked.fetch_add(1);
        weft::yield();
        done.fetch_add(1);
      }));
    // Block the thread (not the coroutine) until the other worker finished everything.
    const bool ok = weft_test::spin_until([&] { return done.load() == kChildren; });
    for (auto& k : kids) k.join();
    return ok;
  });
  EXPECT_TRUE(all_done) << "children queued on a blocked worker were not all stolen ("
                        << done.load() << "/" << kChildren << ")";
  EXPECT_EQ(ran_on_blocked.load(), 0);
  EXPECT_GE(sched.stats().steals, 1u);
}

TEST(Steal, InjectedWorkNotStarvedByLocalSpawnLoop) {
  // One worker busy in a loop that spawns a child and yields, forever unless stopped:
  // work injected from outside must still get to run (no starvation by the local queue).
  Watchdog dog("InjectedWorkNotStarvedByLocalSpawnLoop");
  weft::Scheduler sched({.workers = 1});
  constexpr int kLimit = scaled(200'000, 20'000);
  std::atomic<bool> looping{false}, injected_ran{false};
  auto spinner = sched.spawn([&] {
    looping.store(true);
    int i = 0;
    for (; i < kLimit && !injected_ran.load(); ++i) {
      weft::spawn([] {}).detach();
      weft::yield();
    }
    return i;
  });
  ASSERT_TRUE(weft_test::spin_until([&] { return looping.load(); }));
  auto injected = sched.spawn([&] { injected_ran.store(true); });
  const int iterations = spinner.join();
  injected.join();
  EXPECT_LT(iterations, kLimit) << "injected coroutine never ran while the worker looped";
}

TEST(Steal, LocalLoopDoesNotStarveOlderLocalWork) {
  // A LIFO "run next" policy must not let a spawn-yield ping-pong starve older queued
  // coroutines of the same worker.
  Watchdog dog("LocalLoopDoesNotStarveOlderLocalWork");
  weft::Scheduler sched({.workers = 1});
  constexpr int kLimit = scaled(200'000, 20'000);
  const int iterations = sched.run([] {
    std::atomic<bool> old_ran{false};
    auto old = weft::spawn([&old_ran] { old_ran.store(true); });
    int i = 0;
    for (; i < kLimit && !old_ran.load(); ++i) {
      weft::spawn([] {}).detach();
      weft::yield();
    }
    old.join();
    return i;
  });
  // yield() lets the other ready coroutines of this worker run first: `old` is one of
  // them, so it has run by the time the first yield returns.
  EXPECT_EQ(iterations, 1);
}

TEST(Steal, StealsCountedAndEverythingRunsOnce) {
  Watchdog dog("StealsCountedAndEverythingRunsOnce");
  weft::Scheduler sched({.workers = 4});
  constexpr int kRoots = 8, kKids = scaled(2000, 200);
  std::vector<std::atomic<int>> runs(static_cast<std::size_t>(kRoots * kKids));
  for (auto& r : runs) r.store(0);
  std::vector<weft::Task<void>> roots;
  for (int r = 0; r < kRoots; ++r)
    roots.push_back(sched.spawn([&, r] {
      std::vector<weft::Task<void>> kids;
      for (int k = 0; k < kKids; ++k)
        kids.push_back(weft::spawn([&runs, idx = r * kKids + k] {
          runs[static_cast<std::size_t>(idx)].fetch_add(1);
          if (idx % 5 == 0) weft::yield();
        }));
      for (auto& k : kids) k.join();
    }));
  for (auto& t : roots) t.join();
  int bad = 0;
  for (auto& r : runs) bad += r.load() != 1;
  EXPECT_EQ(bad, 0);
}

}  // namespace
