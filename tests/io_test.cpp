// weft::wait_readable / wait_writable on pipes and sockets, from coroutines and threads:
// readiness, timeouts that fire and ones that do not, peer hang-up, bad fds, and a waiting
// coroutine not blocking its worker.
#include "weft/io.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <system_error>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/time.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category());
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
  }
  void close_write() {
    close(w);
    w = -1;
  }
};

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

}  // namespace
