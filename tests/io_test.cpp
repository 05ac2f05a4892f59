// SPDX-License-Identifier: Apache-2.0
// weft::wait_readable / wait_writable on pipes and sockets, from coroutines and threads:
// readiness, timeouts that fire and ones that do not, peer hang-up, bad fds, and a waiting
// coroutine not blocking its worker.
#include "weft/io.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/time.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using weft_test::Pipe;

TEST(Io, ReadableAfterWriteFromAnotherCoroutine) {
  weft::Scheduler sched({.workers = 2});
  Pipe p;
  char got = sched.run([&] {
    auto writer = weft::spawn([&] {
      weft::sleep_for(10ms);
      EXPECT_EQ(write(p.w, "z", 1), 1);
    });
    EXPECT_TRUE(weft::wait_readable(p.r));
    char c = 0;
    EXPECT_EQ(read(p.r, &c, 1), 1);
    writer.join();
    return c;
  });
  EXPECT_EQ(got, 'z');
}

TEST(Io, DataAlreadyThereIsReadableAtOnce) {
  weft::Scheduler sched({.workers = 1});
  Pipe p;
  ASSERT_EQ(write(p.w, "ab", 2), 2);
  sched.run([&] {
    EXPECT_TRUE(weft::wait_readable(p.r, 0ms));
    char c;
    ASSERT_EQ(read(p.r, &c, 1), 1);
    // Level-triggered: one byte is still unread.
    EXPECT_TRUE(weft::wait_readable(p.r, 100ms));
  });
}

TEST(Io, TimeoutFiresAndDoesNotFire) {
  weft::Scheduler sched({.workers = 2});
  Pipe p;
  sched.run([&] {
    const auto t0 = Clock::now();
    EXPECT_FALSE(weft::wait_readable(p.r, 30ms));
    EXPECT_GE(Clock::now() - t0, 30ms);
    auto writer = weft::spawn([&] { EXPECT_EQ(write(p.w, "x", 1), 1); });
    EXPECT_TRUE(weft::wait_readable(p.r, 5s));
    writer.join();
  });
}

TEST(Io, PeerHangUpWakesReader) {
  weft::Scheduler sched({.workers = 2});
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  auto reader = sched.spawn([&] {
    EXPECT_TRUE(weft::wait_readable(sv[0], 5s));
    char c;
    return read(sv[0], &c, 1);  // 0: EOF
  });
  std::this_thread::sleep_for(20ms);
  close(sv[1]);
  EXPECT_EQ(reader.join(), 0);
  close(sv[0]);
}

TEST(Io, WritableSocketAndFullPipe) {
  weft::Scheduler sched({.workers = 2});
  Pipe p;
  sched.run([&] {
    EXPECT_TRUE(weft::wait_writable(p.w, 1s));
    // Fill the pipe: then it is not writable until a reader drains it.
    std::vector<char> chunk(65536, 'q');
    while (write(p.w, chunk.data(), chunk.size()) > 0) {
    }
    EXPECT_FALSE(weft::wait_writable(p.w, 20ms));
    auto drain = weft::spawn([&] {
      std::vector<char> buf(1 << 20);
      while (read(p.r, buf.data(), buf.size()) > 0) {
      }
    });
    EXPECT_TRUE(weft::wait_writable(p.w, 5s));
    drain.join();
  });
}

TEST(Io, ManyWaitersOnOneFdAllWake) {
  weft::Scheduler sched({.workers = 2});
  Pipe p;
  std::atomic<int> woke{0};
  sched.run([&] {
    std::vector<weft::Task<void>> ts;
    for (int i = 0; i < 20; ++i) {
      ts.push_back(weft::spawn([&] {
        if (weft::wait_readable(p.r, 5s)) woke.fetch_add(1);
      }));
    }
    weft::sleep_for(20ms);
    EXPECT_EQ(write(p.w, "!", 1), 1);
    for (auto& t : ts) t.join();
  });
  EXPECT_EQ(woke.load(), 20);
}

TEST(Io, WaitingCoroutineDoesNotBlockItsWorker) {
  weft::Scheduler sched({.workers = 1});
  Pipe p;
  sched.run([&] {
    auto waiter = weft::spawn([&] { return weft::wait_readable(p.r, 5s); });
    weft::yield();  // the waiter starts and parks on the pipe
    // The only worker is free: this coroutine runs and wakes the waiter.
    auto writer = weft::spawn([&] { EXPECT_EQ(write(p.w, "w", 1), 1); });
    writer.join();
    EXPECT_TRUE(waiter.join());
  });
}

TEST(Io, PlainThreadWaits) {
  Pipe p;
  EXPECT_FALSE(weft::wait_readable(p.r, 10ms));
  std::thread t([&] {
    std::this_thread::sleep_for(10ms);
    EXPECT_EQ(write(p.w, "t", 1), 1);
  });
  EXPECT_TRUE(weft::wait_readable(p.r, 5s));
  t.join();
  EXPECT_TRUE(weft::wait_writable(p.w));
}

TEST(Io, BadFdThrows) {
  weft::Scheduler sched({.workers = 1});
  sched.run([] {
    EXPECT_THROW(weft::wait_readable(-1, 10ms), std::system_error);
    EXPECT_THROW(weft::wait_readable(1 << 28, 10ms), std::system_error);
    // Not watchable by epoll, and always ready, as poll(2) reports.
    const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    EXPECT_TRUE(weft::wait_readable(fd, 10ms));
    EXPECT_TRUE(weft::wait_readable(fd));
    close(fd);
    int closed[2];
    ASSERT_EQ(pipe(closed), 0);
    close(closed[0]);
    close(closed[1]);
    EXPECT_THROW(weft::wait_readable(closed[0]), std::system_error);
  });
  EXPECT_THROW(weft::wait_readable(-1, 10ms), std::system_error);
}

TEST(Io, HangUpWhileManyReadersTimeOutRacing) {
  // Timeouts and readiness racing on the same fd: every waiter returns exactly once.
  weft::Scheduler sched({.workers = 2});
  for (int round = 0; round < weft_test::scaled(20, 5); ++round) {
    Pipe p;
    std::atomic<int> returned{0};
    sched.run([&] {
      std::vector<weft::Task<void>> ts;
      for (int i = 0; i < 16; ++i) {
        ts.push_back(weft::spawn([&, i] {
          weft::wait_readable(p.r, std::chrono::microseconds(200 * (i % 4)));
          returned.fetch_add(1);
        }));
      }
      p.close_write();
      for (auto& t : ts) t.join();
    });
    EXPECT_EQ(returned.load(), 16);
  }
}

// Defect 3 (io_starve): one worker parked on its futex, the other running a coroutine that
// never suspends. The fd wait starts on the busy worker, so an idle worker must be woken to
// collect the readiness; without that the reader is served only when the spinner ends.
TEST(Io, ReadinessIsCollectedWhileAWorkerIsIdle) {
  weft_test::Watchdog dog("ReadinessIsCollectedWhileAWorkerIsIdle", 30s);
  weft::Scheduler sched({.workers = 2});
  Pipe p;
  weft::Event go;
  std::atomic<bool> got{false};
  std::atomic<std::int64_t> written_ns{0};
  std::atomic<std::int64_t> latency_ns{-1};
  const auto ns_now = [] { return Clock::now().time_since_epoch().count(); };
  // Parks first (no fd wait exists yet, so both workers park on their futexes), then
  // spins without suspending until the reader reports, bounded so the test cannot hang.
  auto spinner = sched.spawn([&] {
    go.wait();
    const auto t0 = Clock::now();
    while (!got.load() && Clock::now() - t0 < 2s) {
    }
  });
  std::this_thread::sleep_for(50ms);
  auto reader = sched.spawn([&] {
    go.set();  // the spinner is queued on this worker, which runs it once we park
    EXPECT_TRUE(weft::wait_readable(p.r));
    latency_ns = ns_now() - written_ns.load();
    got = true;
  });
  std::this_thread::sleep_for(50ms);
  written_ns = ns_now();
  ASSERT_EQ(write(p.w, "x", 1), 1);
  reader.join();
  spinner.join();
  EXPECT_LT(latency_ns.load(), std::chrono::nanoseconds(100ms).count())
      << "readiness collected " << latency_ns.load() / 1000 << " us after the write";
}

// Defect 4: on kernels without epoll_pwait2 (before 5.11) the poller falls back to
// epoll_wait. CTest runs this binary a second time with tests/enosys_preload.c preloaded
// (WEFT_TEST_NO_EPOLL_PWAIT2=1): then every test here, the waits without a timeout above
// included, runs on the fallback; this test checks that the simulation is in effect.
TEST(Io, EpollPwait2SimulatedMissingWhenPreloaded) {
  const char* expect = std::getenv("WEFT_TEST_NO_EPOLL_PWAIT2");
  if (!expect || std::string(expect) != "1") GTEST_SKIP() << "not the ENOSYS run";
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  epoll_event ev[1];
  timespec zero{0, 0};
  errno = 0;
  EXPECT_EQ(epoll_pwait2(ep, ev, 1, &zero, nullptr), -1);
  EXPECT_EQ(errno, ENOSYS);
  close(ep);
}

// An idle wait without a timeout costs no CPU and completes when the data comes (on the
// ENOSYS run it used to bounce the poller role between workers and never complete).
TEST(Io, IdleWaitWithoutTimeoutIsQuietAndCompletes) {
  weft_test::Watchdog dog("IdleWaitWithoutTimeoutIsQuietAndCompletes", 30s);
  weft::Scheduler sched({.workers = 2});
  Pipe p;
  auto reader = sched.spawn([&] { return weft::wait_readable(p.r); });
  std::this_thread::sleep_for(50ms);
  const double cpu0 = weft_test::process_cpu_ms();
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(200ms);
  const double cpu_ms = weft_test::process_cpu_ms() - cpu0;
  const double wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  EXPECT_LT(cpu_ms, wall_ms / 4) << "an idle fd wait burnt " << cpu_ms << " ms of CPU in "
                                 << wall_ms << " ms";
  ASSERT_EQ(write(p.w, "x", 1), 1);
  EXPECT_TRUE(reader.join());
}

}  // namespace
