// SPDX-License-Identifier: Apache-2.0
// Volume: 100k+ spawns, deep fork-join (fib with a spawn per call, a 10-ary skynet tree)
// on 1, 2 and 4 workers, and tens of thousands of coroutines suspended at the same time.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using weft_test::scaled;
using weft_test::Watchdog;

// Stats counters are sums over workers; a worker may bump `completed` just after
// publishing the result, so wait (bounded) for the counters to settle.
void expect_counters_settle(weft::Scheduler& sched, std::uint64_t spawned) {
  EXPECT_EQ(sched.stats().spawned, spawned);
  const bool settled = weft_test::spin_until([&] { return sched.stats().completed == spawned; },
                                             std::chrono::seconds(5));
  EXPECT_TRUE(settled) << "completed=" << sched.stats().completed << " spawned=" << spawned;
  const weft::Stats s = sched.stats();
  EXPECT_EQ(s.completed, s.spawned);
}

constexpr int kManySpawns = scaled(100'000, 1'000, 20'000);

TEST(Scale, HundredThousandSpawnsFromPlainThread) {
  Watchdog dog("HundredThousandSpawnsFromPlainThread");
  weft::Scheduler sched({.workers = 4});
  std::vector<weft::Task<int>> ts;
  ts.reserve(kManySpawns);
  for (int i = 0; i < kManySpawns; ++i) ts.push_back(sched.spawn([i] { return i & 0xFF; }));
  std::int64_t sum = 0, expected = 0;
  for (int i = 0; i < kManySpawns; ++i) {
    sum += ts[static_cast<std::size_t>(i)].join();
    expected += i & 0xFF;
  }
  EXPECT_EQ(sum, expected);
  expect_counters_settle(sched, kManySpawns);
}

TEST(Scale, HundredThousandDetachedSpawnsFromCoroutines) {
  Watchdog dog("HundredThousandDetachedSpawnsFromCoroutines");
  std::atomic<std::int64_t> ran{0};
  std::uint64_t spawned = 0, completed = 0;
  {
    weft::Scheduler sched({.workers = 2});
    constexpr int kRoots = 10;
    std::vector<weft::Task<void>> roots;
    for (int r = 0; r < kRoots; ++r)
      roots.push_back(sched.spawn([&ran] {
        for (int i = 0; i < kManySpawns / kRoots; ++i) {
          weft::spawn([&ran] { ran.fetch_add(1, std::memory_order_relaxed); }).detach();
          if (i % 1000 == 0) weft::yield();
        }
      }));
    for (auto& t : roots) t.join();
    ASSERT_TRUE(
        weft_test::spin_until([&] { return ran.load() == kManySpawns; }, std::chrono::seconds(30)));
    expect_counters_settle(sched, kManySpawns + kRoots);
    spawned = sched.stats().spawned;
    completed = sched.stats().completed;
  }
  EXPECT_EQ(ran.load(), kManySpawns);
  EXPECT_EQ(spawned, completed);
}

TEST(Scale, SpawnsFromSeveralPlainThreadsAtOnce) {
  Watchdog dog("SpawnsFromSeveralPlainThreadsAtOnce");
  constexpr int kThreads = 4;
  constexpr int kEach = kManySpawns / kThreads;
  weft::Scheduler sched({.workers = 2});
  std::atomic<std::int64_t> total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      std::vector<weft::Task<int>> ts;
      ts.reserve(kEach);
      for (int i = 0; i < kEach; ++i) ts.push_back(sched.spawn([] { return 1; }));
      std::int64_t s = 0;
      for (auto& task : ts) s += task.join();
      total.fetch_add(s);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(total.load(), kThreads * kEach);
  expect_counters_settle(sched, kThreads * kEach);
}

// ---- fork-join ---------------------------------------------------------------------------

std::int64_t fib(int n) {
  if (n < 2) return n;
  auto t = weft::spawn(fib, n - 1);
  const std::int64_t b = fib(n - 2);
  return t.join() + b;
}

std::int64_t fib_plain(int n) {
  return n < 2 ? n : fib_plain(n - 1) + fib_plain(n - 2);
}

std::uint64_t fib_spawns(int n) {
  return n < 2 ? 0 : 1 + fib_spawns(n - 1) + fib_spawns(n - 2);
}

constexpr int kFibN = scaled(25, 16, 20);

class ForkJoin : public ::testing::TestWithParam<unsigned> {};

TEST_P(ForkJoin, Fib) {
  Watchdog dog("ForkJoin.Fib");
  weft::Scheduler sched({.workers = GetParam()});
  const std::int64_t got = sched.run(fib, kFibN);
  EXPECT_EQ(got, fib_plain(kFibN));
  if (kFibN == 25) {
    EXPECT_EQ(got, 75025);
  }
  expect_counters_settle(sched, fib_spawns(kFibN) + 1);
}

// Skynet: each node spawns 10 children; leaves return their ordinal.
std::int64_t skynet(std::int64_t num, std::int64_t size, int div) {
  if (size == 1) return num;
  std::vector<weft::Task<std::int64_t>> kids;
  kids.reserve(static_cast<std::size_t>(div));
  const std::int64_t sub = size / div;
  for (int i = 0; i < div; ++i) kids.push_back(weft::spawn(skynet, num + i * sub, sub, div));
  std::int64_t sum = 0;
  for (auto& k : kids) sum += k.join();
  return sum;
}

constexpr std::int64_t kSkynetLeaves = scaled<std::int64_t>(100'000, 1'000, 10'000);

TEST_P(ForkJoin, Skynet) {
  Watchdog dog("ForkJoin.Skynet");
  weft::Scheduler sched({.workers = GetParam()});
  const std::int64_t got = sched.run(skynet, 0, kSkynetLeaves, 10);
  EXPECT_EQ(got, kSkynetLeaves * (kSkynetLeaves - 1) / 2);
}

TEST_P(ForkJoin, ChildrenThatYieldBeforeReturning) {
  // Fork-join where every leaf suspends: joins really block, children migrate.
  Watchdog dog("ForkJoin.ChildrenThatYieldBeforeReturning");
  weft::Scheduler sched({.workers = GetParam()});
  constexpr int kWidth = scaled(200, 50);
  const std::int64_t got = sched.run([] {
    std::vector<weft::Task<std::int64_t>> mids;
    for (int i = 0; i < kWidth; ++i)
      mids.push_back(weft::spawn([i] {
        auto a = weft::spawn([i] {
          weft::yield();
          return static_cast<std::int64_t>(i);
        });
        auto b = weft::spawn([i] {
          weft::yield();
          weft::yield();
          return static_cast<std::int64_t>(2 * i);
        });
        weft::yield();
        return b.join() + a.join();
      }));
    std::int64_t s = 0;
    for (auto& m : mids) s += m.join();
    return s;
  });
  EXPECT_EQ(got, 3LL * kWidth * (kWidth - 1) / 2);
}

INSTANTIATE_TEST_SUITE_P(Workers, ForkJoin, ::testing::Values(1u, 2u, 4u),
                         [](const ::testing::TestParamInfo<unsigned>& i) {
                           std::string name = std::to_string(i.param);
                           name +=
                               "_workers";  // (not "w" + ...: g++ 12's -Wrestrict false positive)
                           return name;
                         });

// ---- many coroutines suspended at once ----------------------------------------------------

constexpr int kSuspendedParents = scaled(20'000, 200, 5'000);

TEST(Scale, ManyParentsBlockedInJoinOnYieldingChildren) {
  // Every child keeps yielding until all parents have reached their join, so all the
  // parents (and their children) are alive and suspended at the same moment. yield()
  // runs the other ready coroutines first, so each round of yields lets every parent
  // progress: the wait costs a few rounds, not N^2 switches.
  Watchdog dog("ManyParentsBlockedInJoinOnYieldingChildren", std::chrono::seconds(90));
  weft::Scheduler sched({.workers = 2});
  std::atomic<int> in_join{0}, peak{0};
  const std::int64_t got = sched.run([&] {
    std::vector<weft::Task<std::int64_t>> parents;
    parents.reserve(kSuspendedParents);
    for (int i = 0; i < kSuspendedParents; ++i)
      parents.push_back(weft::spawn([&, i] {
        auto child = weft::spawn([&in_join, i] {
          for (int k = 0; k < 3; ++k) weft::yield();
          while (in_join.load() < kSuspendedParents) weft::yield();
          return static_cast<std::int64_t>(i);
        });
        weft::yield();  // often lets the child start first, so the join below suspends
        const int now = in_join.fetch_add(1) + 1;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        const std::int64_t v = child.join();
        return v + 1;
      }));
    std::int64_t s = 0;
    for (auto& t : parents) s += t.join();
    return s;
  });
  const std::int64_t n = kSuspendedParents;
  EXPECT_EQ(got, n * (n - 1) / 2 + n);
  EXPECT_EQ(peak.load(), kSuspendedParents);
  expect_counters_settle(sched, 2 * static_cast<std::uint64_t>(kSuspendedParents) + 1);
}

// A chain in which every coroutine is suspended in join on the next one: all of them
// are alive and suspended at the same moment, each on its own stack.
constexpr int kChain = scaled(20'000, 300, 5'000);

std::int64_t chain_link(int depth, std::atomic<int>* started) {
  started[depth].store(1, std::memory_order_release);
  if (depth + 1 == kChain) {
    for (int k = 0; k < 3; ++k) weft::yield();
    return depth;
  }
  auto next = weft::spawn(chain_link, depth + 1, started);
  // Make sure the next link runs on its own stack before we join it (a child that has
  // not started would run inline on this stack, and the chain would overflow it).
  while (!started[depth + 1].load(std::memory_order_acquire)) weft::yield();
  return next.join() + depth;
}

TEST(Scale, LongChainOfSuspendedJoins) {
  Watchdog dog("LongChainOfSuspendedJoins", std::chrono::seconds(90));
  std::unique_ptr<std::atomic<int>[]> started(new std::atomic<int>[kChain]);
  for (int i = 0; i < kChain; ++i) started[i].store(0);
  for (unsigned workers : {1u, 2u}) {
    for (int i = 0; i < kChain; ++i) started[i].store(0);
    weft::Scheduler sched({.workers = workers, .stack_size = 16 * 1024});
    const std::int64_t got = sched.run(chain_link, 0, started.get());
    const std::int64_t n = kChain;
    EXPECT_EQ(got, n * (n - 1) / 2) << workers << " workers";
  }
}

}  // namespace
