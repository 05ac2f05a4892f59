// SPDX-License-Identifier: Apache-2.0
// TaskGroup: values, exceptions, cancellation, children that block, children from other
// coroutines and plain threads, the deque's limits, and no allocation per spawn.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

// Counts heap allocations of the calling thread (the fast-path test below).
namespace {
thread_local std::uint64_t t_allocations = 0;
}  // namespace
[[gnu::noinline]] void* operator new(std::size_t n) {
  ++t_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// Not inlined into callers: g++ would then see free() meet a `new` (-Wmismatched-new-delete).
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using namespace std::chrono_literals;

std::int64_t fib(int n) {
  if (n < 2) return n;
  std::int64_t a = 0;
  weft::TaskGroup g;
  g.spawn([&a, n] { a = fib(n - 1); });
  const std::int64_t b = fib(n - 2);
  g.wait();
  return a + b;
}

TEST(TaskGroup, FibIsRightOnOneAndTwoWorkers) {
  for (unsigned workers : {1u, 2u}) {
    weft::Scheduler s(weft::Options{.workers = workers});
    EXPECT_EQ(s.run([] { return fib(22); }), 17711) << workers << " workers";
  }
}

// skynet's shape: a child reads what it captured (where to store its result) after its
// own children ran. Its slot was popped before it ran, so those children reuse the slot:
// the captured state must not live there while the child runs.
std::int64_t tree_sum(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  const std::int64_t sub = size / 10;
  std::array<std::int64_t, 10> r{};
  weft::TaskGroup g;
  for (int i = 0; i < 10; ++i) g.spawn([&r, i, num, sub] { r[i] = tree_sum(num + i * sub, sub); });
  g.wait();
  std::int64_t sum = 0;
  for (auto v : r) sum += v;
  return sum;
}

TEST(TaskGroup, AChildsCapturesSurviveItsOwnChildren) {
  for (unsigned workers : {1u, 2u}) {
    weft::Scheduler s(weft::Options{.workers = workers});
    EXPECT_EQ(s.run([] { return tree_sum(0, 10000); }), 10000 * 9999 / 2) << workers << " workers";
  }
}

TEST(TaskGroup, EveryChildRunsExactlyOnce) {
  weft::Scheduler s(weft::Options{.workers = 2});
  constexpr int kN = 20000;
  std::vector<std::atomic<int>> runs(kN);
  s.run([&] {
    weft::TaskGroup g;
    for (int i = 0; i < kN; ++i) g.spawn([&runs, i] { runs[i].fetch_add(1); });
    g.wait();
  });
  for (int i = 0; i < kN; ++i) ASSERT_EQ(runs[i].load(), 1) << "child " << i;
}

TEST(TaskGroup, WaitRethrowsTheFirstExceptionAndTheGroupIsReusable) {
  weft::Scheduler s(weft::Options{.workers = 2});
  s.run([] {
    weft::TaskGroup g;
    std::atomic<int> ran{0};
    for (int i = 0; i < 100; ++i) {
      g.spawn([&ran, i] {
        ran.fetch_add(1);
        if (i == 50) throw std::runtime_error("child 50");
      });
    }
    EXPECT_THROW(
        {
          try {
            g.wait();
          } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "child 50");
            throw;
          }
        },
        std::runtime_error);
    EXPECT_FALSE(g.is_cancelling());
    int second = 0;
    g.spawn([&second] { second = 1; });
    g.wait();  // reused: nothing left of the failure
    EXPECT_EQ(second, 1);
  });
}

TEST(TaskGroup, CancelSkipsChildrenThatHaveNotStarted) {
  weft::Scheduler s(weft::Options{.workers = 1});
  s.run([] {
    weft::TaskGroup g;
    int ran = 0;
    for (int i = 0; i < 10; ++i) g.spawn([&ran] { ++ran; });
    g.cancel();
    EXPECT_TRUE(g.is_cancelling());
    g.wait();
    EXPECT_EQ(ran, 0);  // one worker, no thief: none had started
  });
}

// A child that the owner's own progress depends on, on a single worker: the owner
// suspends before wait(), so its child must be found in the stranded list.
TEST(TaskGroup, ChildNobodyTookRunsWhileItsOwnerIsSuspended) {
  weft::Scheduler s(weft::Options{.workers = 1});
  s.run([] {
    weft::Event ready;
    weft::TaskGroup g;
    g.spawn([&ready] { ready.set(); });
    ASSERT_TRUE(ready.wait_for(5s)) << "the child never ran while its owner waited";
    g.wait();
  });
}

TEST(TaskGroup, ChildrenMayBlockAndMigrate) {
  weft::Scheduler s(weft::Options{.workers = 2});
  s.run([] {
    weft::Mutex mu;
    std::int64_t sum = 0;
    weft::TaskGroup g;
    for (int i = 1; i <= 200; ++i) {
      g.spawn([&, i] {
        if (i % 10 == 0) weft::sleep_for(100us);
        std::lock_guard lock(mu);
        sum += i;
      });
    }
    g.wait();
    EXPECT_EQ(sum, 200 * 201 / 2);
  });
}

TEST(TaskGroup, PlainThreadOwnerSpawnsCoroutinesAndBlocksInWait) {
  weft::TaskGroup g;
  std::atomic<int> sum{0};
  std::atomic<int> in_coroutine{0};
  for (int i = 1; i <= 100; ++i) {
    g.spawn([&, i] {
      sum.fetch_add(i);
      if (weft::in_coroutine()) in_coroutine.fetch_add(1);
    });
  }
  g.wait();
  EXPECT_EQ(sum.load(), 5050);
  EXPECT_EQ(in_coroutine.load(), 100);
}

TEST(TaskGroup, OtherCoroutinesAndThreadsMayAddChildren) {
  weft::Scheduler s(weft::Options{.workers = 2});
  s.run([] {
    weft::TaskGroup g;
    std::atomic<int> sum{0};
    // A child that spawns into its own group: inline (same coroutine) or stolen (another).
    for (int i = 0; i < 50; ++i) {
      g.spawn([&] {
        sum.fetch_add(1);
        g.spawn([&] { sum.fetch_add(10); });
      });
    }
    auto other = weft::spawn([&] { g.spawn([&] { sum.fetch_add(1000); }); });
    std::thread t([&] { g.spawn([&] { sum.fetch_add(10000); }); });
    other.join();
    t.join();
    g.wait();
    EXPECT_EQ(sum.load(), 50 + 500 + 1000 + 10000);
  });
}

// Groups used out of nesting order: an older group's wait() runs a younger group's child
// (it is above the older group's base), and the younger group, reused afterwards, must
// still run the child it adds below its original base.
TEST(TaskGroup, GroupsWaitedOutOfNestingOrder) {
  weft::Scheduler s(weft::Options{.workers = 1});
  s.run([] {
    int a = 0, b = 0, c = 0;
    weft::TaskGroup older;
    older.spawn([&a] { a = 1; });
    weft::TaskGroup younger;
    younger.spawn([&b] { b = 1; });
    older.wait();  // syncs both slots: b's too
    EXPECT_EQ(a + b, 2);
    younger.spawn([&c] { c = 1; });  // lands below younger's first base
    younger.wait();
    EXPECT_EQ(c, 1);
  });
}

TEST(TaskGroup, WaitFromAnotherCoroutineIsRefused) {
  weft::Scheduler s(weft::Options{.workers = 1});
  s.run([] {
    weft::TaskGroup g;
    int ran = 0;
    g.spawn([&ran] { ++ran; });
    auto other = weft::spawn([&g] { g.wait(); });
    weft::yield();  // `other` runs on its own stack (a join would run it inline, on ours)
    EXPECT_THROW(other.join(), std::logic_error);
    g.wait();
    EXPECT_EQ(ran, 1);
  });
}

TEST(TaskGroup, MoreChildrenThanTheDequeHoldsAllRun) {
  weft::Scheduler s(weft::Options{.workers = 1});
  s.run([] {
    const int n = 3 * static_cast<int>(weft::detail::ForkDeque::kCapacity);
    int ran = 0;
    weft::TaskGroup g;
    for (int i = 0; i < n; ++i) g.spawn([&ran] { ++ran; });
    g.wait();
    EXPECT_EQ(ran, n);
  });
}

TEST(TaskGroup, DestructorWaitsForChildren) {
  weft::Scheduler s(weft::Options{.workers = 2});
  s.run([] {
    std::atomic<int> ran{0};
    {
      weft::TaskGroup g;
      for (int i = 0; i < 100; ++i) {
        g.spawn([&ran] {
          weft::sleep_for(50us);
          ran.fetch_add(1);
        });
      }
    }
    EXPECT_EQ(ran.load(), 100);
  });
}

TEST(TaskGroup, ChildrenOfALeakedGroupRunWhenItsCoroutineEnds) {
  weft::Scheduler s(weft::Options{.workers = 1});
  std::atomic<int> ran{0};
  auto* leaked = static_cast<weft::TaskGroup*>(nullptr);
  s.run([&] {
    leaked = new weft::TaskGroup;
    for (int i = 0; i < 10; ++i) leaked->spawn([&ran] { ran.fetch_add(1); });
  });
  EXPECT_EQ(ran.load(), 10);
  delete leaked;  // nothing left: the coroutine's end synced its children
}

TEST(TaskGroup, SpawnAndWaitAllocateNothingOnTheFastPath) {
  weft::Scheduler s(weft::Options{.workers = 1});
  s.run([] {
    std::int64_t sum = 0;
    auto round = [&sum] {
      weft::TaskGroup g;
      for (int i = 0; i < 1000; ++i) g.spawn([&sum, i] { sum += i; });
      g.wait();
    };
    round();  // the coroutine's deque is made on first use
    const std::uint64_t before = t_allocations;
    round();
    const std::uint64_t after = t_allocations;
    EXPECT_EQ(after - before, 0u) << "allocations in 1000 spawns + wait";
    EXPECT_EQ(sum, 2 * 999 * 1000 / 2);
  });
}

TEST(TaskGroup, AnOversizedCaptureIsBoxedAndFreed) {
  weft::Scheduler s(weft::Options{.workers = 2});
  s.run([] {
    std::array<std::int64_t, 16> big{};
    big.fill(3);
    std::atomic<std::int64_t> sum{0};
    weft::TaskGroup g;
    for (int i = 0; i < 100; ++i) {
      g.spawn([big, &sum] {
        std::int64_t t = 0;
        for (auto v : big) t += v;
        sum.fetch_add(t);
      });
    }
    g.wait();
    EXPECT_EQ(sum.load(), 100 * 48);
  });
}

}  // namespace
