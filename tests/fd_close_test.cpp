// SPDX-License-Identifier: Apache-2.0
// Closing an fd that coroutines or threads wait on: weft::close (and net::close) wakes
// every waiter, in every scheduler, with std::system_error(EBADF); hang-up of the other
// end still wakes readers as readiness; a scheduler whose waiter was woken this way shuts
// down. Each test that could hang runs under a watchdog.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/io.hpp"
#include "weft/net.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using weft_test::Watchdog;

using weft_test::Pipe;

// What a wait ended with: "ready", "timeout", or the errno of the system_error it threw
// (with its message).
struct Outcome {
  std::string how;
  int err = 0;
  std::string what;
};

Outcome wait_on(int fd, bool write, weft::Timeout timeout) {
  try {
    const bool ready = write ? weft::wait_writable(fd, timeout) : weft::wait_readable(fd, timeout);
    return {ready ? "ready" : "timeout", 0, {}};
  } catch (const std::system_error& e) {
    return {"error", e.code().value(), e.what()};
  }
}

void expect_closed_error(const Outcome& o) {
  EXPECT_EQ(o.how, "error");
  EXPECT_EQ(o.err, EBADF);
  EXPECT_NE(o.what.find("closed while waiting"), std::string::npos) << o.what;
}

// A plain thread's first fd wait makes its wake-up eventfd. Made after a close_when()
// closed the fd, that eventfd would take the closed number and the thread would poll it,
// never woken: so each waiting thread makes it (a wait that only looks) before it raises
// the flag. (Seen under qemu, where a thread's first trip into the wait took over the
// margin below.)
void prepare_thread_wait(int fd) {
  wait_on(fd, false, std::chrono::milliseconds(0));
}

// Closes `fd` through weft once `waiting` says the waiters are parked (plus a margin for
// the last one to get from the flag into the wait).
void close_when(const std::atomic<int>& waiting, int n, int fd) {
  ASSERT_TRUE(weft_test::spin_until([&] { return waiting.load() >= n; }));
  std::this_thread::sleep_for(20ms);
  weft::close(fd);
}

void coroutine_reader_is_woken(weft::Timeout timeout) {
  Watchdog dog("coroutine_reader_is_woken", 30s);
  weft::Scheduler sched({.workers = 2});
  Pipe p;
  std::atomic<int> waiting{0};
  auto reader = sched.spawn([&] {
    waiting = 1;
    return wait_on(p.r, false, timeout);
  });
  const auto t0 = Clock::now();
  close_when(waiting, 1, p.r);
  const int closed = p.r;
  p.r = -1;
  expect_closed_error(reader.join());
  EXPECT_LT(Clock::now() - t0, 2s);
  // The number is free again: a new pipe may get it, and waits on it work normally.
  Pipe q;
  EXPECT_EQ(q.r, closed);
  EXPECT_EQ(write(q.w, "n", 1), 1);
  auto again = sched.spawn([&] { return weft::wait_readable(q.r, 5s); });
  EXPECT_TRUE(again.join());
}

TEST(FdClose, WakesCoroutineReaderWithoutTimeout) {
  coroutine_reader_is_woken(std::nullopt);
}
TEST(FdClose, WakesCoroutineReaderWithTimeout) {
  coroutine_reader_is_woken(10s);
}

TEST(FdClose, WakesCoroutineWriterOfAFullPipe) {
  Watchdog dog("WakesCoroutineWriterOfAFullPipe", 30s);
  weft::Scheduler sched({.workers = 2});
  Pipe p;
  std::vector<char> chunk(65536, 'q');
  while (write(p.w, chunk.data(), chunk.size()) > 0) {
  }
  std::atomic<int> waiting{0};
  auto writer = sched.spawn([&] {
    waiting = 1;
    return wait_on(p.w, true, std::nullopt);
  });
  close_when(waiting, 1, p.w);
  p.w = -1;
  expect_closed_error(writer.join());
}

// Waiters in two schedulers, readers and one on the other direction of the same socket,
// closed from a coroutine of a third: all are woken.
TEST(FdClose, WakesEveryWaiterInEveryScheduler) {
  Watchdog dog("WakesEveryWaiterInEveryScheduler", 30s);
  weft::Scheduler a({.workers = 2});
  weft::Scheduler b({.workers = 1});
  weft::Scheduler closer({.workers = 1});
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  // Fill sv[0]'s send buffer so a writer on it waits too.
  std::vector<char> chunk(65536, 'q');
  while (write(sv[0], chunk.data(), chunk.size()) > 0) {
  }
  std::atomic<int> waiting{0};
  std::vector<weft::Task<Outcome>> ts;
  for (int i = 0; i < 3; ++i) {
    ts.push_back(a.spawn([&] {
      waiting.fetch_add(1);
      return wait_on(sv[0], false, std::nullopt);
    }));
    ts.push_back(b.spawn([&] {
      waiting.fetch_add(1);
      return wait_on(sv[0], false, 30s);
    }));
  }
  ts.push_back(b.spawn([&] {
    waiting.fetch_add(1);
    return wait_on(sv[0], true, std::nullopt);
  }));
  ASSERT_TRUE(weft_test::spin_until([&] { return waiting.load() == 7; }));
  std::this_thread::sleep_for(20ms);
  closer.run([&] { weft::close(sv[0]); });
  for (auto& t : ts) expect_closed_error(t.join());
  ::close(sv[1]);
}

void thread_reader_is_woken(weft::Timeout timeout) {
  Watchdog dog("thread_reader_is_woken", 30s);
  Pipe p;
  std::atomic<int> waiting{0};
  std::vector<Outcome> got(2);
  std::vector<std::thread> threads;
  for (auto& o : got) {
    threads.emplace_back([&waiting, &o, fd = p.r, timeout] {
      prepare_thread_wait(fd);
      waiting.fetch_add(1);
      o = wait_on(fd, false, timeout);
    });
  }
  const auto t0 = Clock::now();
  close_when(waiting, 2, p.r);
  p.r = -1;
  for (auto& t : threads) t.join();
  for (auto& o : got) expect_closed_error(o);
  EXPECT_LT(Clock::now() - t0, 2s);
}

TEST(FdClose, WakesThreadReadersWithoutTimeout) {
  thread_reader_is_woken(std::nullopt);
}
TEST(FdClose, WakesThreadReadersWithTimeout) {
  thread_reader_is_woken(10s);
}

// A coroutine and a thread on one fd, closed from a plain thread.
TEST(FdClose, WakesCoroutineAndThreadTogether) {
  Watchdog dog("WakesCoroutineAndThreadTogether", 30s);
  weft::Scheduler sched({.workers = 2});
  Pipe p;
  std::atomic<int> waiting{0};
  Outcome from_thread;
  std::thread t([&] {
    prepare_thread_wait(p.r);
    waiting.fetch_add(1);
    from_thread = wait_on(p.r, false, std::nullopt);
  });
  auto co = sched.spawn([&] {
    waiting.fetch_add(1);
    return wait_on(p.r, false, std::nullopt);
  });
  close_when(waiting, 2, p.r);
  p.r = -1;
  t.join();
  expect_closed_error(from_thread);
  expect_closed_error(co.join());
}

// The scheduler of a woken waiter shuts down: ~Scheduler joins its coroutines, so it
// hung as long as the waiter did.
TEST(FdClose, SchedulerShutsDownAfterTheClose) {
  Watchdog dog("SchedulerShutsDownAfterTheClose", 30s);
  Pipe p;
  std::atomic<int> waiting{0};
  std::atomic<int> errors{0};
  {
    weft::Scheduler sched({.workers = 2});
    for (int i = 0; i < 4; ++i) {
      sched.spawn([&] {
        waiting.fetch_add(1);
        try {
          weft::wait_readable(p.r);
        } catch (const std::system_error& e) {
          if (e.code().value() == EBADF) errors.fetch_add(1);
        }
      });
    }
    auto closer = sched.spawn([&] {
      while (waiting.load() < 4) weft::yield();
      weft::sleep_for(20ms);
      weft::close(p.r);
    });
    closer.join();
    p.r = -1;
  }
  EXPECT_EQ(errors.load(), 4);
}

// net::close goes through weft::close: a read_some waiting on the socket throws EBADF.
TEST(FdClose, NetCloseWakesNetReader) {
  Watchdog dog("NetCloseWakesNetReader", 30s);
  weft::Scheduler sched({.workers = 2});
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  std::atomic<int> waiting{0};
  auto reader = sched.spawn([&] {
    waiting = 1;
    char buf[8];
    try {
      weft::net::read_some(sv[0], buf, sizeof buf);
      return 0;
    } catch (const std::system_error& e) {
      return e.code().value();
    }
  });
  ASSERT_TRUE(weft_test::spin_until([&] { return waiting.load() == 1; }));
  std::this_thread::sleep_for(20ms);
  weft::net::close(sv[0]);
  EXPECT_EQ(reader.join(), EBADF);
  ::close(sv[1]);
}

TEST(FdClose, ClosingABadFdThrows) {
  EXPECT_THROW(weft::close(-1), std::system_error);
  Pipe p;
  const int fd = p.r;
  weft::close(fd);
  p.r = -1;
  try {
    weft::close(fd);
    ADD_FAILURE() << "closing a closed fd did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EBADF);
  }
}

// Hang-up of the other end is readiness, not an error: readers wake and read EOF.
TEST(FdClose, HangUpOfThePipeWriterWakesReaders) {
  Watchdog dog("HangUpOfThePipeWriterWakesReaders", 30s);
  weft::Scheduler sched({.workers = 2});
  Pipe p;
  std::atomic<int> waiting{0};
  std::vector<weft::Task<Outcome>> ts;
  for (int i = 0; i < 3; ++i) {
    ts.push_back(sched.spawn([&] {
      waiting.fetch_add(1);
      return wait_on(p.r, false, std::nullopt);
    }));
  }
  ASSERT_TRUE(weft_test::spin_until([&] { return waiting.load() == 3; }));
  std::this_thread::sleep_for(20ms);
  ::close(p.w);  // a raw close of the OTHER end: the kernel reports hang-up
  p.w = -1;
  for (auto& t : ts) EXPECT_EQ(t.join().how, "ready");
  char c;
  EXPECT_EQ(read(p.r, &c, 1), 0);
}

TEST(FdClose, ShutdownOfThePeerWakesReaders) {
  Watchdog dog("ShutdownOfThePeerWakesReaders", 30s);
  weft::Scheduler sched({.workers = 2});
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  std::atomic<int> waiting{0};
  auto co = sched.spawn([&] {
    waiting = 1;
    return wait_on(sv[0], false, std::nullopt);
  });
  Outcome from_thread;
  std::thread t([&] { from_thread = wait_on(sv[0], false, std::nullopt); });
  ASSERT_TRUE(weft_test::spin_until([&] { return waiting.load() == 1; }));
  std::this_thread::sleep_for(20ms);
  ASSERT_EQ(shutdown(sv[1], SHUT_WR), 0);
  EXPECT_EQ(co.join().how, "ready");
  t.join();
  EXPECT_EQ(from_thread.how, "ready");
  char c;
  EXPECT_EQ(read(sv[0], &c, 1), 0);
  ::close(sv[0]);
  ::close(sv[1]);
}

}  // namespace
