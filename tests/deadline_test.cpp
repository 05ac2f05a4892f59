// SPDX-License-Identifier: Apache-2.0
// Huge timeouts mean "practically forever", never "already passed": sleep_for / sleep_until,
// wait_readable / wait_writable and the weft::net calls with duration::max() of several
// units, in coroutines and on threads. Zero and negative timeouts still mean "now".
// Under the asan preset UBSan also checks that no deadline arithmetic overflows.
//
// A sleep cannot be cancelled, so the sleeps run in a death-test child that checks they
// are still sleeping after a while and then _exit(0)s.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <system_error>
#include <thread>

#include "test_util.hpp"
#include "weft/io.hpp"
#include "weft/net.hpp"
#include "weft/time.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using weft_test::Pipe;

// In the child: runs `sleep` in a coroutine (or on a thread) and exits 0 if it is still
// sleeping after 100 ms, 1 if it returned.
void still_sleeping_after_100ms(bool in_coroutine, std::function<void()> sleep) {
  std::atomic<bool> returned{false};
  auto body = [&] {
    sleep();
    returned = true;
  };
  if (in_coroutine) {
    auto* sched = new weft::Scheduler({.workers = 1});  // never destroyed: _exit below
    sched->spawn(body).detach();
  } else {
    std::thread(body).detach();
  }
  std::this_thread::sleep_for(100ms);
  _exit(returned.load() ? 1 : 0);
}

class HugeSleep : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { weft_test::use_death_test_child_process(); }
  void expect_sleeps(std::function<void()> sleep) {
    EXPECT_EXIT(still_sleeping_after_100ms(GetParam(), std::move(sleep)),
                ::testing::ExitedWithCode(0), "");
  }
};

TEST_P(HugeSleep, SleepForNanosecondsMax) {
  expect_sleeps([] { weft::sleep_for(std::chrono::nanoseconds::max()); });
}
TEST_P(HugeSleep, SleepForSecondsMax) {
  expect_sleeps([] { weft::sleep_for(std::chrono::seconds::max()); });
}
TEST_P(HugeSleep, SleepForHoursMax) {
  expect_sleeps([] { weft::sleep_for(std::chrono::hours::max()); });
}
TEST_P(HugeSleep, SleepForDoubleSecondsMax) {
  expect_sleeps([] { weft::sleep_for(std::chrono::duration<double>(1e300)); });
}
TEST_P(HugeSleep, SleepUntilTimePointMax) {
  expect_sleeps([] { weft::sleep_until(Clock::time_point::max()); });
}
TEST_P(HugeSleep, SleepUntilSecondsTimePointMax) {
  expect_sleeps(
      [] { weft::sleep_until(std::chrono::time_point<Clock, std::chrono::seconds>::max()); });
}

INSTANTIATE_TEST_SUITE_P(Deadline, HugeSleep, ::testing::Values(true, false),
                         [](const auto& p) { return p.param ? "Coroutine" : "Thread"; });

TEST(Deadline, ZeroAndNegativeSleepsReturnAtOnce) {
  weft::Scheduler sched({.workers = 1});
  auto check = [] {
    const auto t0 = Clock::now();
    weft::sleep_for(0ns);
    weft::sleep_for(-1s);
    weft::sleep_for(std::chrono::seconds::min());
    weft::sleep_for(std::chrono::nanoseconds::min());
    weft::sleep_until(Clock::time_point::min());
    weft::sleep_until(Clock::now() - 1h);
    EXPECT_LT(Clock::now() - t0, 1s);
  };
  sched.run(check);
  check();
}

// wait_readable(max) must wait: it returns true when a write comes 50 ms later.
template <class Timeout>
void wait_is_not_cut_short(Timeout huge) {
  weft_test::Watchdog dog("wait_is_not_cut_short", 30s);
  weft::Scheduler sched({.workers = 2});
  for (const bool in_coroutine : {true, false}) {
    Pipe p;
    std::atomic<bool> written{false};
    auto wait = [&] {
      const bool ready = weft::wait_readable(p.r, huge);
      EXPECT_TRUE(ready);  // false: it timed out
      EXPECT_TRUE(written.load()) << "returned before the write";
    };
    std::thread writer([&] {
      std::this_thread::sleep_for(50ms);
      written.store(true);
      EXPECT_EQ(write(p.w, "x", 1), 1);
    });
    if (in_coroutine)
      sched.run(wait);
    else
      wait();
    writer.join();
  }
}

TEST(Deadline, WaitReadableNanosecondsMax) {
  wait_is_not_cut_short(std::chrono::nanoseconds::max());
}
TEST(Deadline, WaitReadableSecondsMax) {
  wait_is_not_cut_short(std::chrono::seconds::max());
}
TEST(Deadline, WaitReadableHoursMax) {
  wait_is_not_cut_short(std::chrono::hours::max());
}

TEST(Deadline, WaitWithZeroOrNegativeTimeoutOnlyLooks) {
  weft::Scheduler sched({.workers = 1});
  Pipe p;
  auto check = [&] {
    EXPECT_FALSE(weft::wait_readable(p.r, 0ns));
    EXPECT_FALSE(weft::wait_readable(p.r, -1s));
    EXPECT_FALSE(weft::wait_readable(p.r, std::chrono::seconds::min()));
    EXPECT_TRUE(weft::wait_writable(p.w, std::chrono::nanoseconds::min()));
  };
  sched.run(check);
  check();
}

// net::read_some / read_exact / accept with a huge timeout wait for the data.
template <class Timeout>
void net_calls_are_not_cut_short(Timeout huge) {
  weft_test::Watchdog dog("net_calls_are_not_cut_short", 30s);
  weft::Scheduler sched({.workers = 2});
  for (const bool in_coroutine : {true, false}) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    auto calls = [&] {
      char buf[2];
      EXPECT_EQ(weft::net::read_some(sv[0], buf, 1, huge), 1u);
      EXPECT_EQ(weft::net::read_exact(sv[0], buf, 2, huge), 2u);
      weft::net::write_all(sv[0], "ok", 2, huge);
    };
    std::thread writer([&] {
      std::this_thread::sleep_for(30ms);
      EXPECT_EQ(write(sv[1], "a", 1), 1);
      std::this_thread::sleep_for(30ms);
      EXPECT_EQ(write(sv[1], "bc", 2), 2);
    });
    if (in_coroutine)
      sched.run(calls);
    else
      calls();
    writer.join();
    ::close(sv[0]);
    ::close(sv[1]);
  }
}

TEST(Deadline, NetNanosecondsMax) {
  net_calls_are_not_cut_short(std::chrono::nanoseconds::max());
}
TEST(Deadline, NetSecondsMax) {
  net_calls_are_not_cut_short(std::chrono::seconds::max());
}

TEST(Deadline, NetZeroTimeoutTimesOutAtOnce) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  char c;
  for (auto t : {0ns, -5ns}) {
    try {
      weft::net::read_some(sv[0], &c, 1, t);
      ADD_FAILURE() << "read_some on an empty socket returned";
    } catch (const std::system_error& e) {
      EXPECT_TRUE(weft::net::is_timeout(e)) << e.what();
    }
  }
  ::close(sv[0]);
  ::close(sv[1]);
}

}  // namespace

// The primitives' timed waits share the one deadline helper: maximal durations and time
// points, on the steady and the system clock, wait for the wake-up instead of timing out
// at once (or overflowing: UBSan in the asan build).
TEST(Deadline, PrimitivesWithMaximalTimeoutsWaitForTheirWakeUp) {
  using namespace std::chrono;
  weft::Scheduler s({.workers = 2});
  weft::Event e;
  weft::WaitGroup wg;
  wg.add(1);
  weft::Mutex m, cm;
  weft::CondVar cv;
  bool flag = false;
  m.lock();
  auto waiter = s.spawn([&] {
    int ok = 0;
    ok += e.wait_for(nanoseconds::max());
    ok += e.wait_until(system_clock::time_point::max());
    ok += wg.wait_for(hours::max());
    ok += m.try_lock_until(steady_clock::time_point::max());
    m.unlock();
    std::unique_lock lock(cm);
    ok += cv.wait_until(lock, time_point<system_clock, seconds>::max(), [&] { return flag; });
    return ok;
  });
  std::this_thread::sleep_for(milliseconds(50));
  e.set();
  wg.done();
  m.unlock();
  std::this_thread::sleep_for(milliseconds(20));
  {
    std::lock_guard lock(cm);
    flag = true;
  }
  cv.notify_all();
  EXPECT_EQ(waiter.join(), 5);
}
