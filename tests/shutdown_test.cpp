// SPDX-License-Identifier: Apache-2.0
// ~Scheduler while busy: it waits for every coroutine spawned on it (running, yielding,
// blocked in join, sleeping, blocked on a channel, or spawning more children during the
// shutdown) and then joins the workers; outside threads spawning during the shutdown get
// a clear error once it has begun, and every spawn that succeeded still runs; schedulers
// can be created and destroyed back to back.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using weft_test::scaled;
using weft_test::Watchdog;

// A detached tree: each node yields a few times, spawns `fanout` detached children while
// depth > 0, and counts itself when it ends.
void tree(std::atomic<std::int64_t>* count, int depth, int fanout) {
  for (int k = 0; k < 3; ++k) weft::yield();
  if (depth > 0)
    for (int i = 0; i < fanout; ++i) weft::spawn(tree, count, depth - 1, fanout).detach();
  weft::yield();
  count->fetch_add(1, std::memory_order_relaxed);
}

std::int64_t tree_size(int depth, int fanout) {
  std::int64_t n = 1, level = 1;
  for (int d = 0; d < depth; ++d) {
    level *= fanout;
    n += level;
  }
  return n;
}

TEST(Shutdown, DestructorWaitsForDetachedTreesStillSpawning) {
  Watchdog dog("DestructorWaitsForDetachedTreesStillSpawning");
  constexpr int kRoots = 8, kDepth = scaled(4, 3), kFanout = scaled(5, 2);
  const std::int64_t expected = kRoots * tree_size(kDepth, kFanout);
  for (unsigned workers : {1u, 2u, 4u}) {
    std::atomic<std::int64_t> count{0};
    {
      weft::Scheduler sched({.workers = workers});
      for (int r = 0; r < kRoots; ++r) sched.spawn(tree, &count, kDepth, kFanout).detach();
      // Destroyed at once: most of the tree has not been spawned yet.
    }
    EXPECT_EQ(count.load(), expected) << workers << " workers";
  }
}

TEST(Shutdown, DestructorWaitsForUnjoinedHandlesDroppedEarly) {
  Watchdog dog("DestructorWaitsForUnjoinedHandlesDroppedEarly");
  std::atomic<int> finished{0};
  constexpr int kN = scaled(500, 100);
  {
    const std::uint64_t work =
        weft_test::iters_for_us(20);  // ~10 ms in all: still busy at destruction
    weft::Scheduler sched({.workers = 2});
    for (int i = 0; i < kN; ++i) {
      auto t = sched.spawn([&finished, i, work] {
        for (int k = 0; k < i % 7; ++k) {
          weft::yield();
          weft_test::burn(work / 4);
        }
        weft_test::burn(work);
        finished.fetch_add(1);
      });
      // t destroyed unjoined: detached
    }
  }
  EXPECT_EQ(finished.load(), kN);
}

TEST(Shutdown, DestructorWaitsForCoroutinesBlockedInJoin) {
  Watchdog dog("DestructorWaitsForCoroutinesBlockedInJoin");
  std::atomic<int> parents_done{0}, children_done{0};
  constexpr int kParents = scaled(200, 50);
  {
    weft::Scheduler sched({.workers = 2});
    for (int i = 0; i < kParents; ++i)
      sched
          .spawn([&] {
            auto c = weft::spawn([&] {
              for (int k = 0; k < 10; ++k) weft::yield();
              children_done.fetch_add(1);
            });
            weft::yield();
            c.join();
            parents_done.fetch_add(1);
          })
          .detach();
  }
  EXPECT_EQ(children_done.load(), kParents);
  EXPECT_EQ(parents_done.load(), kParents);
}

TEST(Shutdown, DestructorWaitsForLongRunningCoroutine) {
  // The destructor starts while a coroutine is still running (not just queued) on a
  // worker and keeps spawning for a while after the destructor began.
  Watchdog dog("DestructorWaitsForLongRunningCoroutine");
  std::atomic<bool> running{false};
  std::atomic<int> spawned_late{0}, late_ran{0};
  std::atomic<bool> finished{false};
  {
    weft::Scheduler sched({.workers = 2});
    sched
        .spawn([&] {
          running.store(true);
          const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
          while (std::chrono::steady_clock::now() < until) {
            weft::spawn([&late_ran] {
              weft::yield();
              late_ran.fetch_add(1);
            }).detach();
            spawned_late.fetch_add(1);
            weft::yield();
          }
          finished.store(true);
        })
        .detach();
    ASSERT_TRUE(weft_test::spin_until([&] { return running.load(); }));
  }
  EXPECT_TRUE(finished.load());
  EXPECT_GT(spawned_late.load(), 0);
  EXPECT_EQ(late_ran.load(), spawned_late.load());
}

TEST(Shutdown, DestroyIdleAndUnusedSchedulers) {
  Watchdog dog("DestroyIdleAndUnusedSchedulers");
  for (int i = 0; i < scaled(20, 5); ++i) {
    weft::Scheduler unused({.workers = 2});
  }
  for (int i = 0; i < scaled(20, 5); ++i) {
    weft::Scheduler s({.workers = static_cast<unsigned>(1 + i % 3)});
    EXPECT_EQ(s.run([i] { return i; }), i);
  }
  {
    weft::Scheduler s({.workers = 2});
    EXPECT_EQ(s.run([] { return 1; }), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // parked when destroyed
  }
}

TEST(Shutdown, SeveralSchedulersAtOnce) {
  // Coroutines of `a` join coroutines of `b`: b's workers wake a's coroutines, and `a`
  // is destroyed right after its last coroutine ends. Repeated to catch a waker that
  // still touches `a` after making the coroutine runnable.
  Watchdog dog("SeveralSchedulersAtOnce");
  constexpr int kRounds = scaled(20, 5);
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> n{0};
    {
      // b is declared first so that it outlives a, whose coroutines spawn onto it.
      weft::Scheduler b({.workers = 1});
      weft::Scheduler a({.workers = 2});
      for (int i = 0; i < 50; ++i)
        a.spawn([&] {
           auto t = b.spawn([&] {
             weft::yield();
             n.fetch_add(1);
             return 1;
           });
           n.fetch_add(t.join());
         }).detach();
    }
    ASSERT_EQ(n.load(), 100) << "round " << round;
  }
}

TEST(Shutdown, MidSleepAndMidChannelOpWhileOutsideThreadsSubmit) {
  Watchdog dog("MidSleepAndMidChannelOpWhileOutsideThreadsSubmit");
  constexpr int kSleepers = 50, kReceivers = 10, kSubmitters = 2;
  std::atomic<int> slept{0}, received{0}, ran{0}, accepted{0}, refused{0};
  weft::Channel<int> ch(0);
  // In an optional so that another thread can run the destructor while the submitters
  // still call into the object (its storage outlives them).
  std::optional<weft::Scheduler> sched;
  sched.emplace(weft::Options{.workers = 2});
  for (int i = 0; i < kSleepers; ++i) {
    sched
        ->spawn([&, i] {
          weft::sleep_for(std::chrono::milliseconds(1 + i % 20));
          slept.fetch_add(1);
        })
        .detach();
  }
  for (int i = 0; i < kReceivers; ++i) {
    sched
        ->spawn([&] {
          while (ch.recv()) received.fetch_add(1);  // until closed and drained
        })
        .detach();
  }
  // Outside threads keep spawning through the shutdown, until they are refused.
  std::atomic<bool> destroying{false};
  weft::Scheduler* raw = &*sched;
  std::vector<std::thread> submitters;
  for (int t = 0; t < kSubmitters; ++t) {
    submitters.emplace_back([&] {
      for (;;) {
        try {
          raw->spawn([&] { ran.fetch_add(1); }).detach();
          accepted.fetch_add(1);
        } catch (const std::logic_error& e) {
          EXPECT_NE(std::string(e.what()).find("shutting down"), std::string::npos) << e.what();
          refused.fetch_add(1);
          return;
        }
        if (destroying.load()) std::this_thread::yield();
      }
    });
  }
  // The receivers are blocked mid-recv when the destructor starts, so it cannot finish
  // before the closer lets them end, which it does only once every submitter was refused.
  std::thread closer([&] {
    while (refused.load() < kSubmitters) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (int i = 0; i < 5; ++i) ch.send(i);
    ch.close();
  });
  destroying.store(true);
  std::thread destroyer([&] { sched.reset(); });
  for (auto& t : submitters) t.join();
  destroyer.join();
  closer.join();
  EXPECT_EQ(slept.load(), kSleepers);
  EXPECT_EQ(received.load(), 5);
  EXPECT_EQ(refused.load(), kSubmitters);
  EXPECT_EQ(ran.load(), accepted.load()) << "a spawn that was accepted never ran";
}

}  // namespace
