// SPDX-License-Identifier: Apache-2.0
// weft::check's own behaviour: virtual time, reports, replay, determinism, the GoogleTest
// one-liner, and the clear errors for what is outside the model.
#include "weft/check.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "weft/check_gtest.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft::check::Options;
using weft::check::Policy;
using weft::check::Result;

Options quiet(std::uint64_t iterations = 100) {
  Options o;
  o.iterations = iterations;
  o.print = false;
  return o;
}

TEST(Check, PassingProgramRunsEveryIteration) {
  const Result r = weft::check::explore(
      [] {
        weft::Mutex m;
        int n = 0;
        auto a = weft::spawn([&] {
          std::lock_guard g(m);
          ++n;
        });
        {
          std::lock_guard g(m);
          ++n;
        }
        a.join();
        weft::check::require(n == 2, "both counted");
      },
      quiet(300));
  EXPECT_TRUE(r.ok) << r.report;
  EXPECT_EQ(r.iterations, 300u);
  EXPECT_TRUE(r.kind.empty());
}

TEST(Check, VirtualTimeJumpsToTheNextTimer) {
  const auto wall = std::chrono::steady_clock::now();
  std::vector<int> order;
  const Result r = weft::check::explore(
      [&order] {
        order.clear();
        const auto t0 = weft::check::now();
        auto slow = weft::spawn([&] {
          weft::sleep_for(2h);
          order.push_back(2);
        });
        auto fast = weft::spawn([&] {
          weft::sleep_for(1h);
          order.push_back(1);
        });
        slow.join();
        fast.join();
        weft::check::require(weft::check::now() - t0 == 2h, "two virtual hours passed, exactly");
        weft::Event never;
        weft::check::require(!never.wait_for(30min), "a timed wait times out");
        weft::check::require(weft::check::now() - t0 == 2h + 30min, "and takes its time");
      },
      quiet(50));
  EXPECT_TRUE(r.ok) << r.report;
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_LT(std::chrono::steady_clock::now() - wall, 10s);  // not hours
}

TEST(Check, DeadlockReportNamesEachBlockedCoroutine) {
  const Result r = weft::check::explore(
      [] {
        weft::Mutex a, b;
        weft::Event go;
        auto t1 = weft::spawn([&] {
          a.lock();
          go.wait();
          b.lock();  // line A
        });
        b.lock();
        go.set();
        a.lock();  // line B
        t1.join();
      },
      quiet());
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.kind, "deadlock");
  EXPECT_EQ(r.failed_iteration, 0u);  // blocks in every schedule
  EXPECT_NE(r.report.find(
                "coroutine #1 (the explored function) blocked in Mutex::lock on weft::Mutex@0x"),
            std::string::npos)
      << r.report;
  EXPECT_NE(r.report.find("coroutine #2 blocked in Mutex::lock on weft::Mutex@0x"),
            std::string::npos)
      << r.report;
  EXPECT_NE(r.report.find("check_test.cpp"), std::string::npos) << r.report;
  EXPECT_NE(r.report.find("spawned by #1"), std::string::npos) << r.report;
  EXPECT_NE(r.report.find("WEFT_CHECK_REPLAY="), std::string::npos) << r.report;
}

TEST(Check, LeakReportsCoroutinesLeftBlocked) {
  const Result r = weft::check::explore(
      [] {
        auto never = std::make_shared<weft::Event>();
        weft::spawn([never] { never->wait(); }).detach();
      },
      quiet());
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.kind, "leak");
  EXPECT_NE(r.report.find("coroutine #2 blocked in Event::wait on weft::Event@0x"),
            std::string::npos)
      << r.report;
}

TEST(Check, ExceptionOfADetachedCoroutineFails) {
  const Result r = weft::check::explore(
      [] { weft::spawn([] { throw std::runtime_error("boom"); }).detach(); }, quiet());
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.kind, "exception");
  EXPECT_NE(r.report.find("boom"), std::string::npos) << r.report;
}

TEST(Check, LivelockEndsTheIteration) {
  Options o = quiet();
  o.max_steps = 2000;
  const Result r = weft::check::explore(
      [] {
        auto stop = std::make_shared<bool>(false);
        weft::spawn([stop] {
          while (!*stop) weft::yield();  // nobody ever sets it
        }).detach();
        while (!*stop) weft::yield();
      },
      o);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.kind, "livelock");
}

// A program with a real choice: which of two coroutines appends first.
void racy_append(std::vector<int>* log) {
  log->clear();
  auto a = weft::spawn([log] { log->push_back(1); });
  auto b = weft::spawn([log] { log->push_back(2); });
  a.join();
  b.join();
}

TEST(Check, SameSeedSameSchedulesOtherSeedOthers) {
  std::vector<int> log;
  auto run = [&](std::uint64_t seed) {
    Options o = quiet(40);
    o.seed = seed;
    std::vector<std::vector<int>> seen;
    const Result r = weft::check::explore(
        [&] {
          racy_append(&log);
          seen.push_back(log);
        },
        o);
    EXPECT_TRUE(r.ok);
    return seen;
  };
  const auto first = run(7);
  EXPECT_EQ(run(7), first);
  EXPECT_EQ(std::set(first.begin(), first.end()).size(), 2u);  // both orders explored
  EXPECT_NE(run(8), first);
}

TEST(Check, ReplayLineFromTheEnvironmentRerunsThatIteration) {
  auto buggy = [] {
    std::vector<int> log;
    racy_append(&log);
    weft::check::require(log.front() == 1, "1 appends first");
  };
  const Result found = weft::check::explore(buggy, quiet());
  ASSERT_FALSE(found.ok);
  ::setenv("WEFT_CHECK_REPLAY", found.replay.c_str(), 1);
  const Result again = weft::check::explore(buggy, quiet());
  ::unsetenv("WEFT_CHECK_REPLAY");
  EXPECT_EQ(again.iterations, 1u);
  EXPECT_FALSE(again.ok);
  EXPECT_EQ(again.failed_iteration, found.failed_iteration);
  EXPECT_EQ(again.schedule_hash, found.schedule_hash);
  EXPECT_EQ(again.report, found.report);  // word for word
}

TEST(Check, ScheduleThatDoesNotFitIsReportedAsDiverged) {
  Options o = quiet();
  o.policy = Policy::kReplay;
  o.schedule = {7};  // no decision of racy_append has eight candidates
  const Result r = weft::check::explore(
      [] {
        std::vector<int> log;
        racy_append(&log);
      },
      o);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.kind, "diverged");
}

TEST(Check, BadReplayLineIsRefused) {
  Options o = quiet();
  o.replay = "sometimes:1";
  EXPECT_THROW(weft::check::explore([] {}, o), std::invalid_argument);
}

TEST(Check, NotifyOneWakesEitherWaiter) {
  std::set<int> first_woken;
  const Result r = weft::check::explore(
      [&first_woken] {
        weft::Mutex m;
        weft::CondVar cv;
        int waiting = 0, go = 0, first = 0;
        auto waiter = [&](int id) {
          std::unique_lock lk(m);
          ++waiting;
          cv.wait(lk, [&] { return go > 0; });
          --go;
          if (!first) first = id;
        };
        auto a = weft::spawn(waiter, 1);
        auto b = weft::spawn(waiter, 2);
        for (;;) {
          std::lock_guard g(m);
          if (waiting == 2) break;
          weft::yield();
        }
        for (int i = 0; i < 2; ++i) {
          {
            std::lock_guard g(m);
            ++go;
          }
          cv.notify_one();
        }
        a.join();
        b.join();
        first_woken.insert(first);
      },
      quiet(200));
  EXPECT_TRUE(r.ok) << r.report;
  EXPECT_EQ(first_woken, (std::set<int>{1, 2}));
}

TEST(Check, PlainThreadUsingAnExploredObjectIsOutsideTheModel) {
  const Result r = weft::check::explore(
      [] {
        weft::Event e;
        e.reset();                        // the exploration uses it ...
        std::thread t([&] { e.set(); });  // ... and so does a plain thread
        t.join();
        e.wait();
      },
      quiet(3));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.kind, "uncontrolled");
  EXPECT_NE(r.report.find("outside the model: Event::set"), std::string::npos) << r.report;
}

TEST(Check, RealFdsAndRealClockDeadlinesAreRefused) {
  const Result fd = weft::check::explore(
      [] {
        int p[2];
        ASSERT_EQ(::pipe(p), 0);
        struct Close {
          int* p;
          ~Close() {
            ::close(p[0]);
            ::close(p[1]);
          }
        } closer{p};
        weft::wait_readable(p[0], 1ms);
      },
      quiet(3));
  ASSERT_FALSE(fd.ok);
  EXPECT_NE(fd.report.find("on a real fd inside explore(): outside the model"), std::string::npos)
      << fd.report;

  const Result clock = weft::check::explore(
      [] { weft::sleep_until(std::chrono::steady_clock::now() + 1s); }, quiet(3));
  ASSERT_FALSE(clock.ok);
  EXPECT_NE(clock.report.find("from the real std::chrono::steady_clock"), std::string::npos)
      << clock.report;
  // weft::check::now() is the clock to take deadlines from.
  const Result virt =
      weft::check::explore([] { weft::sleep_until(weft::check::now() + 1s); }, quiet(3));
  EXPECT_TRUE(virt.ok) << virt.report;
}

TEST(Check, GoogleTestOneLiner) {
  EXPECT_TRUE(weft::check::passes([] { weft::yield(); }, quiet(10)));
  const ::testing::AssertionResult failing = weft::check::passes(
      [] {
        std::vector<int> log;
        racy_append(&log);
        weft::check::require(log.front() == 1, "1 appends first");
      },
      quiet());
  EXPECT_FALSE(failing);
  EXPECT_NE(std::string(failing.message()).find("WEFT_CHECK_REPLAY="), std::string::npos)
      << failing.message();
}

TEST(Check, PrimitivesOutsideExploreAreUnaffected) {
  weft::Scheduler s({.workers = 2});
  const bool real_clock = s.run([] {
    weft::sleep_for(1ms);
    const auto seen = weft::check::now();  // the real steady clock here
    return seen <= std::chrono::steady_clock::now();
  });
  EXPECT_TRUE(real_clock);
}

}  // namespace
