// SPDX-License-Identifier: Apache-2.0
// yield / yield_to ordering on one worker, and what a coroutine sees of its thread across
// suspension points (it may migrate). FP control state: fp_control_test.cpp.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using weft_test::Watchdog;

// ---- yield_to ----------------------------------------------------------------------------

TEST(YieldTo, HandsOffInTheRequestedOrder) {
  weft::Scheduler sched({.workers = 1});
  std::vector<std::string> log = sched.run([] {
    std::vector<std::string> out;  // only touched on the single worker
    auto c1 = weft::spawn([&out] { out.push_back("c1"); });
    auto c2 = weft::spawn([&out] { out.push_back("c2"); });
    auto c3 = weft::spawn([&out] { out.push_back("c3"); });
    weft::yield_to(c2);
    weft::yield_to(c3);
    weft::yield_to(c1);
    c1.join();
    c2.join();
    c3.join();
    return out;
  });
  EXPECT_EQ(log, (std::vector<std::string>{"c2", "c3", "c1"}));
}

TEST(YieldTo, CallerRunsAgainWhenTargetSuspends) {
  weft::Scheduler sched({.workers = 1});
  std::vector<std::string> log = sched.run([] {
    std::vector<std::string> out;
    auto t = weft::spawn([&out] {
      out.push_back("t1");
      weft::yield();
      out.push_back("t2");
    });
    weft::yield_to(t);
    out.push_back("caller");
    t.join();
    return out;
  });
  EXPECT_EQ(log, (std::vector<std::string>{"t1", "caller", "t2"}));
}

TEST(YieldTo, HandsOffToTheTargetNotToOtherReadyCoroutines) {
  // Ten ready siblings; yield_to must pick exactly the named one each time.
  weft::Scheduler sched({.workers = 1});
  std::vector<int> log = sched.run([] {
    std::vector<int> out;
    std::vector<weft::Task<void>> ts;
    for (int i = 0; i < 10; ++i) ts.push_back(weft::spawn([&out, i] { out.push_back(i); }));
    const int order[] = {7, 0, 9, 3, 5};
    for (int i : order) {
      weft::yield_to(ts[static_cast<std::size_t>(i)]);
      out.push_back(100 + i);  // the caller resumes right after its target ended
    }
    for (auto& t : ts) t.join();
    return out;
  });
  ASSERT_GE(log.size(), 10u);
  const std::vector<int> prefix(log.begin(), log.begin() + 10);
  EXPECT_EQ(prefix, (std::vector<int>{7, 107, 0, 100, 9, 109, 3, 103, 5, 105}));
  EXPECT_EQ(log.size(), 15u);
}

TEST(YieldTo, FinishedTargetBehavesAsYield) {
  weft::Scheduler sched({.workers = 1});
  int r = sched.run([] {
    auto t = weft::spawn([] { return 5; });
    while (!t.done()) weft::yield();
    weft::yield_to(t);  // finished: just a yield
    weft::yield_to(t);
    return t.join();
  });
  EXPECT_EQ(r, 5);
}

TEST(YieldTo, TargetAlreadyRunningElsewhereBehavesAsYield) {
  Watchdog dog("TargetAlreadyRunningElsewhereBehavesAsYield");
  weft::Scheduler sched({.workers = 2});
  int r = sched.run([] {
    std::atomic<bool> started{false}, stop{false};
    auto t = weft::spawn([&] {
      started.store(true);
      while (!stop.load()) weft::yield();
      return 9;
    });
    // Wait (yielding) until the target runs; it may be on this worker or the other.
    while (!started.load()) weft::yield();
    for (int i = 0; i < 100; ++i) weft::yield_to(t);  // running or ready: never run twice
    stop.store(true);
    return t.join();
  });
  EXPECT_EQ(r, 9);
}

TEST(YieldTo, TargetSuspendedInJoinBehavesAsYield) {
  weft::Scheduler sched({.workers = 1});
  int r = sched.run([] {
    std::atomic<bool> release{false};
    auto waiter = weft::spawn([&release] {
      auto inner = weft::spawn([&release] {
        while (!release.load()) weft::yield();
        return 1;
      });
      weft::yield();  // let inner start so the join below really suspends
      return inner.join() + 1;
    });
    for (int i = 0; i < 20; ++i)
      weft::yield_to(waiter);  // waiter is blocked in join after its first run
    release.store(true);
    return waiter.join();
  });
  EXPECT_EQ(r, 2);
}

TEST(YieldTo, OutsideACoroutineReturns) {
  weft::Scheduler sched({.workers = 1});
  auto t = sched.spawn([] { return 1; });
  weft::yield_to(t);  // on a plain thread: a yield
  EXPECT_EQ(t.join(), 1);
}

// ---- yield -------------------------------------------------------------------------------

// Two coroutines on one worker that each log and yield must strictly alternate.
std::vector<char> alternate(weft::Scheduler& sched, bool from_coroutine) {
  constexpr int kRounds = 50;
  std::mutex mu;  // uncontended (one worker); keeps the log well-defined for TSan anyway
  std::vector<char> log;
  std::atomic<int> started{0};
  auto body = [&](char me) {
    started.fetch_add(1);
    while (started.load() < 2) weft::yield();
    for (int i = 0; i < kRounds; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        log.push_back(me);
      }
      weft::yield();
    }
  };
  if (from_coroutine) {
    sched.run([&] {
      auto a = weft::spawn(body, 'A');
      auto b = weft::spawn(body, 'B');
      a.join();
      b.join();
    });
  } else {
    auto a = sched.spawn(body, 'A');
    auto b = sched.spawn(body, 'B');
    a.join();
    b.join();
  }
  return log;
}

void expect_alternating(const std::vector<char>& log) {
  ASSERT_EQ(log.size(), 100u);
  int a = 0;
  for (std::size_t i = 0; i < log.size(); ++i) {
    if (log[i] == 'A') ++a;
    if (i > 0) {
      EXPECT_NE(log[i], log[i - 1])
          << "no alternation at " << i << ": " << std::string(log.begin(), log.end());
    }
  }
  EXPECT_EQ(a, 50);
}

TEST(Yield, TwoCoroutinesAlternateOnOneWorker) {
  weft::Scheduler sched({.workers = 1});
  expect_alternating(alternate(sched, false));
}

TEST(Yield, TwoCoroutinesAlternateOnOneWorkerSpawnedFromCoroutine) {
  weft::Scheduler sched({.workers = 1});
  expect_alternating(alternate(sched, true));
}

TEST(Yield, RoundRobinAmongManyOnOneWorker) {
  // N coroutines that each log then yield, K times: once all have started, every
  // window of N consecutive entries holds each coroutine exactly once.
  constexpr int kN = 8, kK = 20;
  weft::Scheduler sched({.workers = 1});
  std::vector<int> log = sched.run([] {
    std::vector<int> out;
    std::atomic<int> started{0};
    std::vector<weft::Task<void>> ts;
    for (int i = 0; i < kN; ++i)
      ts.push_back(weft::spawn([&, i] {
        started.fetch_add(1);
        while (started.load() < kN) weft::yield();
        for (int k = 0; k < kK; ++k) {
          out.push_back(i);
          weft::yield();
        }
      }));
    for (auto& t : ts) t.join();
    return out;
  });
  ASSERT_EQ(log.size(), static_cast<std::size_t>(kN * kK));
  for (std::size_t w = 0; w + kN <= log.size(); w += kN) {
    std::vector<int> seen(kN, 0);
    for (std::size_t j = w; j < w + kN; ++j) ++seen[static_cast<std::size_t>(log[j])];
    for (int i = 0; i < kN; ++i)
      EXPECT_EQ(seen[static_cast<std::size_t>(i)], 1) << "window at " << w;
  }
}

TEST(Yield, LoneCoroutineYieldReturns) {
  weft::Scheduler sched({.workers = 1});
  EXPECT_EQ(sched.run([] {
    for (int i = 0; i < 1000; ++i) weft::yield();
    return 1;
  }),
            1);
}

// ---- thread identity across suspension ----------------------------------------------------

long gettid_now() {
  return syscall(SYS_gettid);
}

TEST(Migration, CurrentWorkerTracksTheRealThreadAcrossYields) {
  Watchdog dog("CurrentWorkerTracksTheRealThreadAcrossYields");
  // Coroutines migrate when they suspend. After every suspension point current_worker()
  // must describe the thread actually running (no stale thread-local read): the map
  // tid -> worker index must be a function and injective.
  weft::Scheduler sched({.workers = 2});
  std::mutex mu;
  std::map<long, std::set<int>> tid_to_worker;
  std::map<int, std::set<long>> worker_to_tid;
  std::atomic<int> id_changes{0};
  std::vector<weft::Task<void>> ts;
  for (int i = 0; i < 40; ++i)
    ts.push_back(sched.spawn([&] {
      const std::uint64_t id = weft::this_coroutine_id();
      for (int k = 0; k < 50; ++k) {
        const int w = weft::current_worker();
        const long tid = gettid_now();
        {
          std::lock_guard<std::mutex> lock(mu);
          tid_to_worker[tid].insert(w);
          worker_to_tid[w].insert(tid);
        }
        weft_test::burn(200);
        if (k % 3 == 0) {
          weft::yield();
        } else {
          auto c = weft::spawn([] { weft::yield(); });
          c.join();
        }
        if (weft::this_coroutine_id() != id) id_changes.fetch_add(1);
        if (!weft::in_coroutine()) id_changes.fetch_add(1);
      }
    }));
  for (auto& t : ts) t.join();
  EXPECT_EQ(id_changes.load(), 0);
  for (auto& [tid, ws] : tid_to_worker) {
    EXPECT_EQ(ws.size(), 1u) << "thread " << tid << " reported as several workers";
    for (int w : ws) {
      EXPECT_GE(w, 0);
      EXPECT_LT(w, 2);
    }
  }
  for (auto& [w, tids] : worker_to_tid)
    EXPECT_EQ(tids.size(), 1u) << "worker " << w << " seen on several threads";
}

// ---- C++ exception-handling state across suspension ---------------------------------------

// Coroutines suspended inside catch handlers, interleaved on one worker. The C++ runtime
// keeps the "currently handled exceptions" stack per thread (__cxa_get_globals); unless
// the switcher gives each coroutine its own, one coroutine's std::current_exception() /
// `throw;` sees another's exception, and ending a handler pops (and may destroy) the
// wrong exception object while its owner still uses it.
TEST(ExceptionState, HandlersSuspendedInterleavedKeepTheirOwnException) {
  weft::Scheduler sched({.workers = 1});
  struct Seen {
    int wrong_current = 0;  // std::current_exception() was not our exception
    int wrong_ref = 0;      // the caught reference no longer reads our message
    std::string rethrown;   // what `throw;` rethrew at the end
  };
  std::vector<Seen> seen = sched.run([] {
    auto body = [](std::string name) {
      Seen out;
      try {
        try {
          throw std::runtime_error(name);
        } catch (const std::exception& e) {
          for (int i = 0; i < 3; ++i) {
            weft::yield();
            try {
              std::rethrow_exception(std::current_exception());
            } catch (const std::exception& again) {
              if (std::string(again.what()) != name) ++out.wrong_current;
            } catch (...) {
              ++out.wrong_current;
            }
            if (std::string(e.what()) != name) ++out.wrong_ref;
          }
          throw;
        }
      } catch (const std::exception& e) {
        out.rethrown = e.what();
      } catch (...) {
        out.rethrown = "?";
      }
      return out;
    };
    auto a = weft::spawn(body, std::string("A"));
    auto b = weft::spawn(body, std::string("B"));
    auto c = weft::spawn(body, std::string("C"));
    weft::yield();
    std::vector<Seen> v;
    v.push_back(a.join());
    v.push_back(b.join());
    v.push_back(c.join());
    return v;
  });
  const char* names[] = {"A", "B", "C"};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(seen[i].wrong_current, 0)
        << names[i] << ": std::current_exception() was another coroutine's";
    EXPECT_EQ(seen[i].wrong_ref, 0)
        << names[i] << ": caught exception object changed under the handler";
    EXPECT_EQ(seen[i].rethrown, names[i])
        << names[i] << ": `throw;` rethrew another coroutine's exception";
  }
}

TEST(ExceptionState, NoExceptionInFlightOutsideHandlersAfterSwitches) {
  // A coroutine with no active handler must see no current exception, even when the
  // coroutine it alternates with is suspended inside a catch block.
  weft::Scheduler sched({.workers = 1});
  const int bad = sched.run([] {
    std::atomic<int> stage{0};
    auto holder = weft::spawn([&stage] {
      try {
        throw 42;
      } catch (int) {
        stage.store(1);
        while (stage.load() < 2) weft::yield();
      }
    });
    while (stage.load() < 1) weft::yield();
    int n = 0;
    if (std::current_exception()) ++n;
    if (std::uncaught_exceptions() != 0) ++n;
    stage.store(2);
    holder.join();
    if (std::current_exception()) ++n;
    return n;
  });
  EXPECT_EQ(bad, 0);
}

}  // namespace
