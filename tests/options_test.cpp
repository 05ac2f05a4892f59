// SPDX-License-Identifier: Apache-2.0
// Scheduler construction: option validation (std::invalid_argument naming the field),
// resolved options, and the calls of this_coroutine.hpp inside and outside coroutines,
// including the process-wide default scheduler.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using weft_test::page_size;
using weft_test::whole_pages;

// Expects Scheduler(o) to throw std::invalid_argument whose what() names `field`.
void expect_rejected(const weft::Options& o, const std::string& field) {
  try {
    weft::Scheduler s(o);
    ADD_FAILURE() << "Scheduler accepted an out-of-range " << field;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos)
        << "what() does not name the field '" << field << "': " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type for bad " << field << ": " << e.what();
  }
}

TEST(Options, RejectsTooManyWorkers) {
  expect_rejected({.workers = weft::kMaxWorkers + 1}, "workers");
  expect_rejected({.workers = 1u << 20}, "workers");
  expect_rejected({.workers = ~0u}, "workers");
}

TEST(Options, RejectsBadStackSize) {
  expect_rejected({.workers = 1, .stack_size = 0}, "stack_size");
  expect_rejected({.workers = 1, .stack_size = 1}, "stack_size");
  expect_rejected({.workers = 1, .stack_size = page_size() - 1}, "stack_size");
  expect_rejected({.workers = 1, .stack_size = weft::kMaxStackSize + 1}, "stack_size");
  expect_rejected({.workers = 1, .stack_size = ~std::size_t{0}}, "stack_size");
}

TEST(Options, RejectsBadGuardSize) {
  expect_rejected({.workers = 1, .guard_size = 0}, "guard_size");
  expect_rejected({.workers = 1, .guard_size = page_size() - 1}, "guard_size");
  expect_rejected({.workers = 1, .guard_size = weft::kMaxGuardSize + 1}, "guard_size");
  expect_rejected({.workers = 1, .guard_size = ~std::size_t{0}}, "guard_size");
}

TEST(Options, GuardSizeIsRoundedToWholePages) {
  weft::Scheduler sched({.workers = 1, .guard_size = page_size() + 1});
  EXPECT_EQ(sched.options().guard_size, 2 * page_size());
  EXPECT_EQ(sched.run([] { return 4; }), 4);
  weft::Scheduler largest({.workers = 1, .guard_size = weft::kMaxGuardSize});
  EXPECT_EQ(largest.options().guard_size, weft::kMaxGuardSize);
  EXPECT_EQ(largest.run([] { return 5; }), 5);
}

TEST(Options, MessageStatesTheAcceptedRange) {
  try {
    weft::Scheduler s({.workers = weft::kMaxWorkers + 1});
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(weft::kMaxWorkers)), std::string::npos)
        << e.what();
  }
}

TEST(Options, ZeroWorkersMeansHardwareConcurrency) {
  weft::Scheduler sched({.workers = 0});
  unsigned hc = std::thread::hardware_concurrency();
  if (hc == 0) hc = 1;
  EXPECT_EQ(sched.workers(), hc);
  EXPECT_EQ(sched.options().workers, hc);
  EXPECT_EQ(sched.run([] { return 1; }), 1);
}

TEST(Options, DefaultConstructedOptions) {
  weft::Scheduler sched;
  EXPECT_GE(sched.workers(), 1u);
  EXPECT_EQ(sched.options().stack_size, 64u * 1024u);
  EXPECT_EQ(sched.options().guard_size, whole_pages(4096));
  EXPECT_FALSE(sched.options().pin_workers);
  EXPECT_EQ(sched.run([] { return 7; }), 7);
}

TEST(Options, BoundaryValuesAccepted) {
  {
    weft::Scheduler sched({.workers = 1, .stack_size = page_size()});
    EXPECT_EQ(sched.options().stack_size, page_size());
    EXPECT_EQ(sched.workers(), 1u);
    EXPECT_EQ(sched.run([] { return 3; }), 3);
  }
  {
    // Rounded up to whole pages.
    weft::Scheduler sched({.workers = 2, .stack_size = page_size() + 1});
    EXPECT_EQ(sched.options().stack_size, 2 * page_size());
    EXPECT_EQ(sched.workers(), 2u);
    EXPECT_EQ(sched.run([] { return 3; }), 3);
  }
  {
    weft::Scheduler sched({.workers = 1, .stack_size = 100 * 1024 + 1});
    EXPECT_EQ(sched.options().stack_size, whole_pages(100 * 1024 + 1));
  }
  {
    weft::Scheduler sched({.workers = 1, .stack_size = weft::kMaxStackSize});
    EXPECT_EQ(sched.options().stack_size, weft::kMaxStackSize);
    EXPECT_EQ(sched.run([] {
      // Use some of the big stack.
      volatile char buf[256 * 1024];
      buf[0] = 1;
      buf[sizeof(buf) - 1] = 2;
      return buf[0] + buf[sizeof(buf) - 1];
    }),
              3);
  }
}

TEST(Options, PinnedWorkersRun) {
  weft::Scheduler sched({.workers = 2, .pin_workers = true});
  EXPECT_TRUE(sched.options().pin_workers);
  std::vector<weft::Task<int>> ts;
  for (int i = 0; i < 100; ++i) ts.push_back(sched.spawn([i] { return i; }));
  int sum = 0;
  for (auto& t : ts) sum += t.join();
  EXPECT_EQ(sum, 4950);
}

TEST(Options, MoreWorkersThanCores) {
  weft::Scheduler sched({.workers = 16});
  EXPECT_EQ(sched.workers(), 16u);
  std::atomic<int> n{0};
  std::vector<weft::Task<void>> ts;
  for (int i = 0; i < 500; ++i)
    ts.push_back(sched.spawn([&] {
      weft::yield();
      n.fetch_add(1);
    }));
  for (auto& t : ts) t.join();
  EXPECT_EQ(n.load(), 500);
}

// ---- this_coroutine --------------------------------------------------------------------

TEST(ThisCoroutine, OutsideAnyCoroutine) {
  EXPECT_FALSE(weft::in_coroutine());
  EXPECT_EQ(weft::current_worker(), -1);
  EXPECT_EQ(weft::this_coroutine_id(), 0u);
  weft::yield();  // a plain std::this_thread::yield(); must simply return
  EXPECT_FALSE(weft::in_coroutine());
  // Also on another plain thread, and while a scheduler exists.
  weft::Scheduler sched({.workers = 2});
  std::thread th([] {
    EXPECT_FALSE(weft::in_coroutine());
    EXPECT_EQ(weft::current_worker(), -1);
    EXPECT_EQ(weft::this_coroutine_id(), 0u);
    weft::yield();
  });
  th.join();
  EXPECT_EQ(weft::current_worker(), -1);
}

TEST(ThisCoroutine, InsideCoroutines) {
  weft::Scheduler sched({.workers = 3});
  struct Seen {
    bool in;
    int worker;
    std::uint64_t id;
    std::uint64_t id_after_yield;
  };
  std::vector<weft::Task<Seen>> ts;
  for (int i = 0; i < 64; ++i)
    ts.push_back(sched.spawn([] {
      Seen s{weft::in_coroutine(), weft::current_worker(), weft::this_coroutine_id(), 0};
      weft::yield();
      s.id_after_yield = weft::this_coroutine_id();
      return s;
    }));
  std::set<std::uint64_t> ids;
  for (auto& t : ts) {
    const std::uint64_t id = t.id();
    Seen s = t.join();
    EXPECT_TRUE(s.in);
    EXPECT_GE(s.worker, 0);
    EXPECT_LT(s.worker, 3);
    EXPECT_NE(id, 0u);
    EXPECT_EQ(s.id, id);
    EXPECT_EQ(s.id_after_yield, id);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 64u) << "coroutine ids must be unique";
}

TEST(ThisCoroutine, IdsUniqueAcrossSchedulersAndReuse) {
  // Ids are unique per process, even though records are pooled and reused.
  std::set<std::uint64_t> ids;
  for (int round = 0; round < 3; ++round) {
    weft::Scheduler sched({.workers = 1});
    for (int i = 0; i < 200; ++i) {
      auto t = sched.spawn([] { return weft::this_coroutine_id(); });
      const std::uint64_t id = t.id();
      EXPECT_EQ(t.join(), id);
      EXPECT_TRUE(ids.insert(id).second) << "id " << id << " reused";
    }
  }
}

TEST(ThisCoroutine, ChildSeesItsOwnIdAndParentKeepsIts) {
  weft::Scheduler sched({.workers = 2});
  bool ok = sched.run([] {
    const std::uint64_t me = weft::this_coroutine_id();
    auto child = weft::spawn([] { return weft::this_coroutine_id(); });
    const std::uint64_t child_id = child.id();
    const std::uint64_t reported = child.join();
    return me != 0 && child_id != me && reported == child_id && weft::this_coroutine_id() == me &&
           weft::in_coroutine();
  });
  EXPECT_TRUE(ok);
}

TEST(ThisCoroutine, SpawnInsideCoroutineUsesTheCurrentScheduler) {
  weft::Scheduler a({.workers = 1});
  weft::Scheduler b({.workers = 1});
  const auto a0 = a.stats().spawned;
  const auto b0 = b.stats().spawned;
  int r = a.run([] {
    int sum = 0;
    for (int i = 0; i < 10; ++i) sum += weft::spawn([i] { return i; }).join();
    return sum;
  });
  EXPECT_EQ(r, 45);
  EXPECT_EQ(a.stats().spawned - a0, 11u);
  EXPECT_EQ(b.stats().spawned - b0, 0u);
}

TEST(DefaultScheduler, SpawnOutsideAnySchedulerWorks) {
  EXPECT_FALSE(weft::in_coroutine());
  auto t = weft::spawn(
      [](int x) {
        return std::make_pair(weft::in_coroutine(), x * 2 + (weft::current_worker() >= 0 ? 1 : 0));
      },
      20);
  EXPECT_NE(t.id(), 0u);
  auto [in, v] = t.join();
  EXPECT_TRUE(in);
  EXPECT_EQ(v, 41);

  // Nested spawns and joins on the default scheduler, from several plain threads.
  std::vector<std::thread> threads;
  std::atomic<long> total{0};
  for (int th = 0; th < 3; ++th)
    threads.emplace_back([&total] {
      std::vector<weft::Task<long>> ts;
      for (int i = 0; i < 50; ++i)
        ts.push_back(weft::spawn([i] {
          auto c = weft::spawn([i] {
            weft::yield();
            return static_cast<long>(i);
          });
          return c.join() + 1;
        }));
      for (auto& task : ts) total.fetch_add(task.join());
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(total.load(), 3 * (1225 + 50));

  // Exceptions propagate through the default scheduler as well.
  EXPECT_THROW(weft::spawn([] { throw std::runtime_error("x"); }).join(), std::runtime_error);
}

TEST(DefaultScheduler, DetachedWorkOnDefaultSchedulerRuns) {
  std::atomic<int> n{0};
  for (int i = 0; i < 20; ++i) weft::spawn([&n] { n.fetch_add(1); }).detach();
  EXPECT_TRUE(weft_test::spin_until([&] { return n.load() == 20; }));
}

}  // namespace
