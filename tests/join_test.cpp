// SPDX-License-Identifier: Apache-2.0
// join() from plain threads (blocks the thread) and from coroutines (suspends only the
// coroutine), on children that have not started, that are running elsewhere, and that
// suspend; a joiner woken by a child that another worker stole.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <system_error>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using weft_test::scaled;
using weft_test::Watchdog;

TEST(Join, PlainThreadJoinsRunningChildThatYields) {
  Watchdog dog("PlainThreadJoinsRunningChildThatYields");
  weft::Scheduler sched({.workers = 1});
  std::atomic<bool> started{false};
  auto t = sched.spawn([&] {
    started.store(true);
    for (int i = 0; i < 100; ++i) weft::yield();
    return 11;
  });
  ASSERT_TRUE(weft_test::spin_until([&] { return started.load(); }));
  EXPECT_EQ(t.join(), 11);  // blocks this thread while the child keeps suspending
}

TEST(Join, PlainThreadJoinsChildThatHasNotStarted) {
  // The only worker is busy, so the child is still queued when the plain thread joins.
  // Wherever it then runs, it must run as a coroutine of the scheduler.
  Watchdog dog("PlainThreadJoinsChildThatHasNotStarted");
  weft::Scheduler sched({.workers = 1});
  std::atomic<bool> blocker_running{false}, release{false};
  auto blocker = sched.spawn([&] {
    blocker_running.store(true);
    while (!release.load()) std::this_thread::yield();  // hogs the worker (no weft::yield)
  });
  ASSERT_TRUE(weft_test::spin_until([&] { return blocker_running.load(); }));
  struct Seen {
    bool in;
    std::uint64_t id;
    int spawned_child;
  };
  auto child = sched.spawn([] {
    Seen s{weft::in_coroutine(), weft::this_coroutine_id(), 0};
    weft::yield();
    s.spawned_child = weft::spawn([] { return 5; }).join();
    return s;
  });
  const std::uint64_t child_id = child.id();
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    release.store(true);
  });
  Seen s = child.join();
  releaser.join();
  blocker.join();
  EXPECT_TRUE(s.in);
  EXPECT_EQ(s.id, child_id);
  EXPECT_EQ(s.spawned_child, 5);
}

TEST(Join, SeveralPlainThreadsJoinChildrenOfOneScheduler) {
  Watchdog dog("SeveralPlainThreadsJoinChildrenOfOneScheduler");
  weft::Scheduler sched({.workers = 2});
  constexpr int kThreads = 6;
  std::vector<weft::Task<int>> ts;
  for (int i = 0; i < kThreads; ++i)
    ts.push_back(sched.spawn([i] {
      for (int k = 0; k < 10 + i; ++k) weft::yield();
      return i * 10;
    }));
  std::vector<int> got(kThreads, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back(
        [&, i] { got[static_cast<std::size_t>(i)] = ts[static_cast<std::size_t>(i)].join(); });
  for (auto& th : threads) th.join();
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i * 10);
}

TEST(Join, CoroutineJoinsChildThatSuspends) {
  Watchdog dog("CoroutineJoinsChildThatSuspends");
  weft::Scheduler sched({.workers = 1});
  // One worker: while the parent waits in join, the worker must run the child (and
  // a sibling); if join blocked the thread instead, this would deadlock.
  std::vector<int> log = sched.run([] {
    std::vector<int> out;
    auto child = weft::spawn([&out] {
      out.push_back(1);
      weft::yield();
      out.push_back(3);
      weft::yield();
      out.push_back(4);
      return 7;
    });
    auto sibling = weft::spawn([&out] {
      weft::yield();
      out.push_back(2);
    });
    weft::yield();  // both start
    const int v = child.join();
    out.push_back(v);
    sibling.join();
    return out;
  });
  ASSERT_FALSE(log.empty());
  std::vector<int> sorted = log;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int>{1, 2, 3, 4, 7}));
  // The join returned only after the child's last statement.
  auto pos = [&](int v) { return std::find(log.begin(), log.end(), v) - log.begin(); };
  EXPECT_LT(pos(4), pos(7));
}

TEST(Join, JoinerSuspendsWhileChildRunsOnAnotherWorker) {
  // The parent keeps its worker busy until the other worker has stolen the child, then
  // joins it: the join must suspend (not run it inline, it is running) and resume when
  // the child ends on the other worker.
  Watchdog dog("JoinerSuspendsWhileChildRunsOnAnotherWorker");
  weft::Scheduler sched({.workers = 2});
  const std::uint64_t steals_before = sched.stats().steals;
  struct Out {
    bool child_started_elsewhere;
    int parent_worker, child_worker, value;
  };
  constexpr int kRounds = scaled(50, 10);
  for (int round = 0; round < kRounds; ++round) {
    Out o = sched.run([] {
      std::atomic<int> child_worker{-1};
      std::atomic<bool> stop{false};
      const int me = weft::current_worker();
      auto child = weft::spawn([&] {
        child_worker.store(weft::current_worker());
        for (int k = 0; k < 20; ++k) weft::yield();
        while (!stop.load()) weft::yield();
        return 42;
      });
      // Hold this worker (no weft::yield): only a thief can start the child.
      const bool started = weft_test::spin_until([&] { return child_worker.load() != -1; });
      stop.store(true);
      const int v = child.join();
      return Out{started, me, child_worker.load(), v};
    });
    ASSERT_TRUE(o.child_started_elsewhere) << "no worker stole the queued child within 10 s";
    EXPECT_NE(o.child_worker, o.parent_worker);
    EXPECT_EQ(o.value, 42);
  }
  EXPECT_GT(sched.stats().steals - steals_before, 0u);
}

TEST(Join, JoinRacesCompletionManyTimes) {
  // Children end at about the moment their parent joins them, on other workers: the
  // publish of the waiter and the completion race (suspend-then-publish).
  Watchdog dog("JoinRacesCompletionManyTimes");
  weft::Scheduler sched({.workers = 4});
  constexpr int kParents = scaled(2000, 200);
  std::atomic<std::int64_t> sum{0};
  std::vector<weft::Task<void>> ps;
  for (int i = 0; i < kParents; ++i)
    ps.push_back(sched.spawn([i, &sum] {
      auto c = weft::spawn([i] {
        weft_test::burn(static_cast<std::uint64_t>((i * 37) % 500));
        if (i % 2) weft::yield();
        return static_cast<std::int64_t>(i);
      });
      weft_test::burn(static_cast<std::uint64_t>((i * 53) % 500));
      if (i % 3 == 0) weft::yield();
      sum.fetch_add(c.join());
    }));
  for (auto& p : ps) p.join();
  EXPECT_EQ(sum.load(), static_cast<std::int64_t>(kParents) * (kParents - 1) / 2);
}

TEST(Join, PlainThreadJoinRacesCompletion) {
  Watchdog dog("PlainThreadJoinRacesCompletion");
  weft::Scheduler sched({.workers = 2});
  constexpr int kN = scaled(2000, 200);
  std::int64_t sum = 0;
  for (int i = 0; i < kN; ++i) {
    auto t = sched.spawn([i] {
      weft_test::burn(static_cast<std::uint64_t>((i * 31) % 300));
      return i;
    });
    weft_test::burn(static_cast<std::uint64_t>((i * 17) % 300));
    sum += t.join();
  }
  EXPECT_EQ(sum, static_cast<std::int64_t>(kN) * (kN - 1) / 2);
}

TEST(Join, DoneJoinDoesNotWait) {
  weft::Scheduler sched({.workers = 1});
  auto t = sched.spawn([] { return 3; });
  ASSERT_TRUE(weft_test::spin_until([&] { return t.done(); }));
  EXPECT_EQ(t.join(), 3);
  int r = sched.run([] {
    auto c = weft::spawn([] { return 4; });
    while (!c.done()) weft::yield();
    return c.join();
  });
  EXPECT_EQ(r, 4);
}

TEST(Join, NestedInlineJoinsThatSuspend) {
  // Children joined before they start run inline on the joiner's stack; when such a
  // child suspends, the whole stack must suspend and resume correctly, several deep.
  Watchdog dog("NestedInlineJoinsThatSuspend");
  for (unsigned workers : {1u, 2u}) {
    weft::Scheduler sched({.workers = workers});
    std::int64_t got = sched.run([] {
      std::function<std::int64_t(int)> level = [&level](int d) -> std::int64_t {
        if (d == 0) {
          weft::yield();
          return 1;
        }
        auto c = weft::spawn(level, d - 1);  // copied std::function, refers to `level` only by name
        const std::int64_t v = c.join();     // inline: not started
        weft::yield();
        return v + 1;
      };
      std::vector<weft::Task<std::int64_t>> ts;
      for (int i = 0; i < 8; ++i) ts.push_back(weft::spawn(level, 10));
      std::int64_t s = 0;
      for (auto& t : ts) s += t.join();
      return s;
    });
    EXPECT_EQ(got, 8 * 11) << workers << " workers";
  }
}

// A coroutine that joins its own Task would wait for itself forever (and ~Scheduler with
// it): join() throws resource_deadlock_would_occur, as std::thread::join does, and leaves
// the Task joinable. Both for a child started on its own stack and for one run inline by
// its joiner (which then joins it from inside the inline run).
TEST(Join, CoroutineJoiningItselfThrowsDeadlock) {
  Watchdog dog("CoroutineJoiningItselfThrowsDeadlock", std::chrono::seconds(30));
  weft::Scheduler sched({.workers = 2});
  for (const bool inline_run : {false, true}) {
    weft::Task<int> self;
    weft::Event published;
    std::atomic<int> code{-1};
    self = sched.spawn([&] {
      published.wait();
      try {
        self.join();
        code.store(0);
      } catch (const std::system_error& e) {
        code.store(e.code() == std::errc::resource_deadlock_would_occur ? 1 : 2);
      }
      return 5;
    });
    if (inline_run) {
      // Joined from a coroutine while still fresh: runs inline on the joiner's stack.
      sched.run([&] {
        weft::Task<int> mine = std::move(self);
        self = std::move(mine);
        published.set();
        EXPECT_EQ(self.join(), 5);
      });
    } else {
      published.set();
      EXPECT_EQ(self.join(), 5);
    }
    EXPECT_EQ(code.load(), 1) << (inline_run ? "inline" : "own stack");
  }
}

}  // namespace
