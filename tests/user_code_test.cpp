// SPDX-License-Identifier: Apache-2.0
// User code the runtime calls on the user's behalf (a result's destructor, the captured
// function's destructor, the unhandled-exception handler) runs on the coroutine's own stack
// or on the thread that owns its Task handle, never inside a scheduler handoff: so it may
// suspend (sleep, lock a contended Mutex, yield) like any coroutine code.
// shared/repro/dtor_in_handoff.cpp is the reproducer of the defect these tests pin.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <vector>
#include <weft/weft.hpp>

#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;

std::atomic<long> g_destroyed{0};

// A result whose destructor suspends the coroutine that runs it.
struct SuspendingResult {
  enum How { kSleep, kYield, kMutex } how = kSleep;
  weft::Mutex* contended = nullptr;
  bool live = true;
  SuspendingResult() = default;
  SuspendingResult(How h, weft::Mutex* m) : how(h), contended(m) {}
  SuspendingResult(SuspendingResult&& o) noexcept
      : how(o.how), contended(o.contended), live(std::exchange(o.live, false)) {}
  ~SuspendingResult() {
    if (!live) return;
    switch (how) {
      case kSleep:
        weft::sleep_for(20us);
        break;
      case kYield:
        weft::yield();
        break;
      case kMutex:
        contended->lock();
        weft::yield();
        contended->unlock();
        break;
    }
    g_destroyed.fetch_add(1);
  }
};

// Detached coroutines whose results' destructors sleep, yield or wait for a contended
// mutex. Before the fix they ran inside the completion handoff and corrupted the
// scheduler (SIGSEGV, "woken while fresh", or a hang).
TEST(UserCode, DetachedResultDestructorMaySuspend) {
  weft_test::Watchdog dog("DetachedResultDestructorMaySuspend", 60s);
  g_destroyed = 0;
  const long n = weft_test::scaled<long>(20000, 2000, 4000);
  weft::Mutex m;
  {
    weft::Scheduler s({.workers = 2});
    s.run([&] {
      for (long i = 0; i < n; ++i) {
        const auto how = static_cast<SuspendingResult::How>(i % 3);
        weft::spawn([how, &m] { return SuspendingResult(how, &m); }).detach();
        if (i % 64 == 0) weft::yield();
      }
    });
  }  // ~Scheduler waits for every coroutine, destructors included
  EXPECT_EQ(g_destroyed.load(), n);
}

// Tasks dropped (not joined) after their coroutine finished: the destructor runs on the
// thread that drops the handle, here a plain thread, and on a coroutine.
TEST(UserCode, ResultOfAnUnjoinedTaskIsDestroyedByTheHandleOwner) {
  g_destroyed = 0;
  weft::Mutex m;
  weft::Scheduler s({.workers = 2});
  {
    auto t = s.spawn([&] { return SuspendingResult(SuspendingResult::kSleep, &m); });
    ASSERT_TRUE(weft_test::spin_until([&] { return t.done(); }));
  }  // ~Task on this thread: the destructor sleeps on the thread, as sleep_for does
  EXPECT_EQ(g_destroyed.load(), 1);
  s.run([&] {
    auto t = weft::spawn([&] { return SuspendingResult(SuspendingResult::kMutex, &m); });
    while (!t.done()) weft::yield();
    weft::Event held;
    auto holder = weft::spawn([&] {
      m.lock();  // the destructor below must wait for this coroutine: it suspends
      held.set();
      weft::sleep_for(1ms);
      m.unlock();
    });
    held.wait();
    t = {};  // runs ~SuspendingResult here, on this coroutine's stack
    holder.join();
  });
  EXPECT_EQ(g_destroyed.load(), 2);
}

std::atomic<long> g_handled{0};

void suspending_handler(std::uint64_t, std::exception_ptr e) noexcept {
  weft::sleep_for(10us);
  weft::yield();
  try {
    std::rethrow_exception(e);
  } catch (const std::runtime_error&) {
    g_handled.fetch_add(1);
  }
}

// The unhandled-exception handler of detached coroutines may suspend too.
TEST(UserCode, UnhandledExceptionHandlerMaySuspend) {
  weft_test::Watchdog dog("UnhandledExceptionHandlerMaySuspend", 60s);
  g_handled = 0;
  const long n = weft_test::scaled<long>(5000, 500, 1000);
  auto previous = weft::set_unhandled_exception_handler(&suspending_handler);
  {
    weft::Scheduler s({.workers = 2});
    s.run([&] {
      for (long i = 0; i < n; ++i) {
        weft::spawn([] { throw std::runtime_error("detached failure"); }).detach();
      }
    });
  }
  weft::set_unhandled_exception_handler(previous);
  EXPECT_EQ(g_handled.load(), n);
}

// Stale queue entries (left by inline joins and yield_to) are dropped by the worker loop;
// the result a joined task leaves is destroyed by the joiner, never by that clean-up.
TEST(UserCode, JoinedResultsAreDestroyedByTheJoiner) {
  g_destroyed = 0;
  weft::Mutex m;
  weft::Scheduler s({.workers = 2});
  const long n = 2000;
  s.run([&] {
    std::vector<weft::Task<SuspendingResult>> tasks;
    for (long i = 0; i < n; ++i) {
      tasks.push_back(weft::spawn([&] { return SuspendingResult(SuspendingResult::kYield, &m); }));
    }
    for (auto& t : tasks) {
      SuspendingResult r = t.join();  // moved out; the moved-from one dies in join()
      (void)r;
    }
  });
  EXPECT_EQ(g_destroyed.load(), n);
}

}  // namespace
