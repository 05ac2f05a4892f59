// SPDX-License-Identifier: Apache-2.0
// weft::net and the echo server built on it: timeouts fire (and bound a whole call), end
// of stream and hang-ups wake readers, errors are clear system_errors, and a thousand
// concurrent connections through the in-process weft echo server get every byte back.
#include "weft/net.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "../tools/echo/load_client.hpp"
#include "../tools/echo/thread_server.hpp"
#include "../tools/echo/weft_server.hpp"
#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft::net::Socket;
using weft_test::scaled;
using weft_test::spin_until;
using weft_test::Watchdog;
using Clock = std::chrono::steady_clock;

// A connected loopback pair (client end, server end) and the listener they came from.
struct Pair {
  Socket listener, client, server;
};

Pair make_pair() {
  Pair p;
  p.listener.reset(weft::net::listen_tcp("127.0.0.1", 0));
  p.client.reset(weft::net::connect_tcp("127.0.0.1", weft::net::local_port(p.listener.get()), 5s));
  p.server.reset(weft::net::accept(p.listener.get(), 5s));
  return p;
}

// What a call threw: the code and a deep copy of the message. (Not the system_error
// itself: its message is a reference-counted string shared by copies, and copies handed
// from a worker to the test thread make ThreadSanitizer report the uninstrumented count.)
struct Caught {
  std::error_code code;
  std::string message;
  const char* what() const noexcept { return message.c_str(); }
};

// Runs f() and returns what std::system_error it threw (code 0 if none).
template <class F>
Caught caught(F f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return {e.code(), e.what()};
  }
  return {std::error_code(), "nothing thrown"};
}

bool is_timeout(const Caught& c) {
  return c.code == std::errc::timed_out;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

bool contains(const char* text, const char* part) {
  return std::strstr(text, part) != nullptr;
}

// --- unit tests of the helpers, each in a coroutine and on a plain thread ------------------

TEST(Net, ListenPicksAPortAndAcceptTimesOut) {
  Watchdog dog("ListenPicksAPortAndAcceptTimesOut");
  Socket l(weft::net::listen_tcp("127.0.0.1", 0));
  ASSERT_NE(weft::net::local_port(l.get()), 0);
  weft::Scheduler sched({.workers = 2});
  for (bool in_coroutine : {true, false}) {
    SCOPED_TRACE(in_coroutine ? "coroutine" : "plain thread");
    const auto body = [&] {
      const auto t0 = Clock::now();
      Caught e = caught([&] { weft::net::accept(l.get(), 50ms); });
      return std::make_pair(e, ms_since(t0));
    };
    const auto [e, ms] = in_coroutine ? sched.run(body) : body();
    EXPECT_TRUE(is_timeout(e)) << e.what();
    EXPECT_EQ(e.code, std::errc::timed_out);
    EXPECT_TRUE(contains(e.what(), "accept")) << e.what();
    EXPECT_GE(ms, 49.0);
    EXPECT_LT(ms, 5000.0);
  }
  bool thrown = false;
  try {
    weft::net::accept(l.get(), 1ms);
  } catch (const std::system_error& e) {
    thrown = true;
    EXPECT_TRUE(weft::net::is_timeout(e)) << e.what();
    // The call, then the reason, once: not "...: timed out: Connection timed out".
    const std::string what = e.what();
    EXPECT_EQ(what.find("timed out"), what.rfind("timed out")) << what;
    EXPECT_EQ(what.rfind("weft::net::accept(fd ", 0), 0u) << what;
  }
  EXPECT_TRUE(thrown);
}

TEST(Net, ReadTimesOutAndThenStillWorks) {
  Watchdog dog("ReadTimesOutAndThenStillWorks");
  Pair p = make_pair();
  weft::Scheduler sched({.workers = 2});
  for (bool in_coroutine : {true, false}) {
    SCOPED_TRACE(in_coroutine ? "coroutine" : "plain thread");
    const auto body = [&] {
      char c;
      const auto t0 = Clock::now();
      Caught e = caught([&] { weft::net::read_some(p.server.get(), &c, 1, 30ms); });
      return std::make_pair(e, ms_since(t0));
    };
    const auto [e, ms] = in_coroutine ? sched.run(body) : body();
    EXPECT_TRUE(is_timeout(e)) << e.what();
    EXPECT_TRUE(contains(e.what(), "read_some")) << e.what();
    EXPECT_GE(ms, 29.0);
    EXPECT_LT(ms, 5000.0);
  }
  // A timed-out wait leaves the socket usable.
  weft::net::write_all(p.client.get(), "x", 1, 5s);
  char c = 0;
  EXPECT_EQ(sched.run([&] { return weft::net::read_some(p.server.get(), &c, 1, 5s); }), 1u);
  EXPECT_EQ(c, 'x');
}

TEST(Net, TimeoutBoundsTheWholeCallNotEachWait) {
  Watchdog dog("TimeoutBoundsTheWholeCallNotEachWait");
  Pair p = make_pair();
  weft::Scheduler sched({.workers = 2});
  std::atomic<bool> stop{false};
  // One byte every 20 ms: each wait inside read_exact is short, the whole call is not.
  std::thread dribbler([&] {
    for (int i = 0; i < 100 && !stop.load(); ++i) {
      std::this_thread::sleep_for(20ms);
      if (::send(p.client.get(), "y", 1, MSG_NOSIGNAL) != 1) break;
    }
  });
  const auto [e, ms] = sched.run([&] {
    char buf[1000];
    const auto t0 = Clock::now();
    Caught err = caught([&] { weft::net::read_exact(p.server.get(), buf, sizeof buf, 150ms); });
    return std::make_pair(err, ms_since(t0));
  });
  stop.store(true);
  dribbler.join();
  EXPECT_TRUE(is_timeout(e)) << e.what();
  EXPECT_TRUE(contains(e.what(), "read_exact")) << e.what();
  EXPECT_GE(ms, 149.0);
  EXPECT_LT(ms, 1500.0);  // 100 bytes * 20 ms = 2 s would mean a per-wait timeout
}

TEST(Net, EndOfStreamAfterPeerClose) {
  Watchdog dog("EndOfStreamAfterPeerClose");
  weft::Scheduler sched({.workers = 2});
  for (bool in_coroutine : {true, false}) {
    SCOPED_TRACE(in_coroutine ? "coroutine" : "plain thread");
    Pair p = make_pair();
    weft::net::write_all(p.client.get(), "abc", 3, 5s);
    weft::net::close(p.client.release());
    const auto body = [&] {
      char buf[8] = {};
      const std::size_t exact = weft::net::read_exact(p.server.get(), buf, sizeof buf, 5s);
      const std::size_t after = weft::net::read_some(p.server.get(), buf, sizeof buf, 5s);
      return std::make_pair(exact, after);
    };
    const auto [exact, after] = in_coroutine ? sched.run(body) : body();
    EXPECT_EQ(exact, 3u);  // short: the stream ended before 8 bytes
    EXPECT_EQ(after, 0u);  // and then plain EOF
  }
}

TEST(Net, PeerHangUpWakesABlockedReader) {
  Watchdog dog("PeerHangUpWakesABlockedReader");
  weft::Scheduler sched({.workers = 2});
  // Hang-ups from a plain thread, by close and by shutdown, and from another coroutine.
  for (int how = 0; how < 3; ++how) {
    SCOPED_TRACE(how);
    Pair p = make_pair();
    std::atomic<bool> reading{false};
    weft::Task<std::size_t> reader = sched.spawn([&] {
      char c;
      reading.store(true);
      return weft::net::read_some(p.server.get(), &c, 1);  // no timeout: only the hang-up
    });
    ASSERT_TRUE(spin_until([&] { return reading.load(); }));
    std::this_thread::sleep_for(20ms);  // let it reach the wait
    const auto t0 = Clock::now();
    if (how == 0) {
      p.client.reset();
    } else if (how == 1) {
      ::shutdown(p.client.get(), SHUT_WR);
    } else {
      sched.run([&] {
        weft::sleep_for(5ms);
        p.client.reset();
      });
    }
    EXPECT_EQ(reader.join(), 0u);
    EXPECT_LT(ms_since(t0), 2000.0);
  }
}

TEST(Net, ConnectToAClosedPortFailsClearly) {
  Watchdog dog("ConnectToAClosedPortFailsClearly");
  // Bound but not listening: the port is ours, so nothing else can be listening there,
  // and a SYN to it gets a reset.
  Socket bound(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(bound.valid());
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(bound.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::uint16_t port = weft::net::local_port(bound.get());
  weft::Scheduler sched({.workers = 2});
  for (bool in_coroutine : {true, false}) {
    SCOPED_TRACE(in_coroutine ? "coroutine" : "plain thread");
    const auto body = [&] {
      return caught([&] { weft::net::connect_tcp("127.0.0.1", port, 5s); });
    };
    const Caught e = in_coroutine ? sched.run(body) : body();
    EXPECT_EQ(e.code, std::errc::connection_refused) << e.what();
    EXPECT_TRUE(contains(e.what(), "connect_tcp(127.0.0.1:")) << e.what();
    EXPECT_TRUE(contains(e.what(), ": connect:")) << e.what();
  }
}

TEST(Net, ListenOnAPortInUseNamesTheCall) {
  Socket l(weft::net::listen_tcp("127.0.0.1", 0));
  const std::uint16_t port = weft::net::local_port(l.get());
  const Caught e = caught([&] { weft::net::listen_tcp("127.0.0.1", port); });
  EXPECT_EQ(e.code, std::errc::address_in_use) << e.what();
  EXPECT_TRUE(contains(e.what(), "listen_tcp")) << e.what();
  EXPECT_TRUE(contains(e.what(), "bind")) << e.what();
}

TEST(Net, WriteToAVanishedPeerThrowsInsteadOfSigpipe) {
  Watchdog dog("WriteToAVanishedPeerThrowsInsteadOfSigpipe");
  Pair p = make_pair();
  p.server.reset();
  weft::Scheduler sched({.workers = 2});
  const Caught e = sched.run([&] {
    return caught([&] {
      // The first write may still be accepted; the peer's reset makes a later one fail.
      std::vector<char> chunk(64 * 1024, 'z');
      for (int i = 0; i < 100; ++i) {
        weft::net::write_all(p.client.get(), chunk.data(), chunk.size(), 5s);
        weft::sleep_for(1ms);
      }
    });
  });
  EXPECT_TRUE(e.code == std::errc::broken_pipe || e.code == std::errc::connection_reset)
      << e.what();
  EXPECT_TRUE(contains(e.what(), "write_all")) << e.what();
}

TEST(Net, LargeTransferWaitsForWritabilityWhileTheReaderDrains) {
  Watchdog dog("LargeTransferWaitsForWritabilityWhileTheReaderDrains");
  Pair p = make_pair();
  constexpr std::size_t kBytes = scaled<std::size_t>(8 << 20, 2 << 20);  // >> socket buffers
  std::vector<char> tx(kBytes), rx(kBytes);
  for (std::size_t i = 0; i < kBytes; ++i) tx[i] = static_cast<char>(i * 131 + (i >> 12));
  weft::Scheduler sched({.workers = 2});
  weft::Task<void> writer =
      sched.spawn([&] { weft::net::write_all(p.client.get(), tx.data(), kBytes, 20s); });
  weft::Task<std::size_t> reader = sched.spawn([&] {
    std::size_t got = 0;
    // Small reads, so the writer fills the buffers and must wait for writability.
    while (got < kBytes) {
      const std::size_t n = weft::net::read_some(p.server.get(), rx.data() + got,
                                                 std::min<std::size_t>(4096, kBytes - got), 20s);
      if (n == 0) break;
      got += n;
    }
    return got;
  });
  writer.join();
  EXPECT_EQ(reader.join(), kBytes);
  EXPECT_TRUE(tx == rx);
}

TEST(Net, SocketOwnsItsDescriptor) {
  const int fd = weft::net::listen_tcp("127.0.0.1", 0);
  {
    Socket s(fd);
    Socket t(std::move(s));
    EXPECT_FALSE(s.valid());
    EXPECT_EQ(t.get(), fd);
  }
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);  // closed by t's destructor
  const Caught e = caught([&] { weft::net::close(fd); });
  EXPECT_EQ(e.code, std::errc::bad_file_descriptor) << e.what();
}

// --- the echo server -------------------------------------------------------------------

// Connections through one in-process server, limited by the descriptors we may open:
// each takes two here (client and server end), plus some for the runtime and gtest.
int connections_that_fit(int wanted) {
  const std::uint64_t limit = weft_echo::raise_fd_limit();
  const std::uint64_t fit = limit > 128 ? (limit - 128) / 2 : 0;
  if (fit < static_cast<std::uint64_t>(wanted)) {
    std::printf("[ note     ] RLIMIT_NOFILE is %llu: scaling %d connections down to %llu\n",
                static_cast<unsigned long long>(limit), wanted,
                static_cast<unsigned long long>(fit));
    return static_cast<int>(fit);
  }
  return wanted;
}

TEST(EchoServer, ThousandConcurrentConnectionsGetEveryByteBack) {
  Watchdog dog("ThousandConcurrentConnectionsGetEveryByteBack", 120s);
  const int n = connections_that_fit(1000);
  ASSERT_GE(n, 10);
  constexpr int kRounds = scaled(4, 2);
  weft::Scheduler server_sched({.workers = 2});
  weft::Scheduler client_sched({.workers = 2});
  weft_echo::WeftEchoServer server(server_sched, "127.0.0.1", 0);
  weft_echo::LoadOptions opts;
  opts.port = server.port();
  opts.connections = n;
  opts.size = 100;
  opts.run_limit = 60s;
  weft_echo::LoadClient client(client_sched, opts);
  client.connect();
  // All of them open at once on the server side: one coroutine each.
  EXPECT_TRUE(spin_until([&] { return server.live_connections() == static_cast<std::size_t>(n); }))
      << server.live_connections() << " of " << n;
  const weft_echo::LoadResult r = client.run(kRounds);
  EXPECT_TRUE(r.ok()) << r.first_error;
  EXPECT_EQ(r.mismatches, 0u);
  EXPECT_EQ(r.round_trips, static_cast<std::uint64_t>(n) * kRounds);
  EXPECT_EQ(r.latency.count(), r.round_trips);
  // The server notices the clients leaving, and its coroutines end.
  client.close();
  EXPECT_TRUE(spin_until([&] { return server.live_connections() == 0; }));
  server.stop();
  EXPECT_EQ(server.accepted(), static_cast<std::uint64_t>(n));
  EXPECT_EQ(server.errors(), 0u);
}

TEST(EchoServer, LargeMessagesAreWrittenAndReadConcurrently) {
  Watchdog dog("LargeMessagesAreWrittenAndReadConcurrently");
  weft::Scheduler server_sched({.workers = 2});
  weft::Scheduler client_sched({.workers = 2});
  weft_echo::WeftEchoServer server(server_sched, "127.0.0.1", 0);
  weft_echo::LoadOptions opts;
  opts.port = server.port();
  opts.connections = 4;
  opts.size = scaled<std::size_t>(1 << 20, 256 << 10);  // beyond what the buffers hold
  const weft_echo::LoadResult r = weft_echo::run_load(client_sched, opts, 2);
  EXPECT_TRUE(r.ok()) << r.first_error;
  EXPECT_EQ(r.round_trips, 8u);
  EXPECT_EQ(r.bytes, 8u * opts.size);
}

TEST(EchoServer, StopHangsUpOpenConnectionsAndReturnsPromptly) {
  Watchdog dog("StopHangsUpOpenConnectionsAndReturnsPromptly");
  weft::Scheduler sched({.workers = 2});
  weft_echo::WeftEchoServer server(sched, "127.0.0.1", 0);
  std::vector<Socket> idle;
  for (int i = 0; i < 20; ++i)
    idle.emplace_back(weft::net::connect_tcp("127.0.0.1", server.port(), 5s));
  ASSERT_TRUE(spin_until([&] { return server.live_connections() == 20; }));
  const auto t0 = Clock::now();
  server.stop();
  EXPECT_LT(ms_since(t0), 2000.0);
  EXPECT_EQ(server.live_connections(), 0u);
  for (Socket& s : idle) {
    char c;
    // The hang-up reaches the client as end-of-stream (or a reset).
    const Caught e = caught([&] {
      if (weft::net::read_some(s.get(), &c, 1, 5s) != 0)
        throw std::system_error(std::make_error_code(std::errc::protocol_error), "data");
      throw std::system_error(std::make_error_code(std::errc::no_message), "eof");
    });
    EXPECT_TRUE(e.code == std::errc::no_message || e.code == std::errc::connection_reset)
        << e.what();
  }
  // Nothing listens any more.
  EXPECT_EQ(caught([&] { weft::net::connect_tcp("127.0.0.1", server.port(), 5s); }).code,
            std::errc::connection_refused);
}

TEST(EchoServer, ThreadBaselineServesTheSameProtocol) {
  Watchdog dog("ThreadBaselineServesTheSameProtocol");
  weft_echo::ThreadEchoServer server("127.0.0.1", 0);
  weft::Scheduler client_sched({.workers = 2});
  weft_echo::LoadOptions opts;
  opts.port = server.port();
  opts.connections = scaled(50, 10);
  opts.size = 3000;
  const weft_echo::LoadResult r = weft_echo::run_load(client_sched, opts, 3);
  EXPECT_TRUE(r.ok()) << r.first_error;
  EXPECT_EQ(r.round_trips, static_cast<std::uint64_t>(opts.connections) * 3);
  server.stop();
  EXPECT_EQ(server.errors(), 0u);
}

TEST(EchoServer, LoadClientReportsAServerThatHangsUp) {
  Watchdog dog("LoadClientReportsAServerThatHangsUp");
  // A "server" that accepts and closes at once: the client must fail, not hang or pass.
  Socket l(weft::net::listen_tcp("127.0.0.1", 0));
  std::thread closer([&] {
    for (int i = 0; i < 3; ++i) {
      try {
        weft::net::close(weft::net::accept(l.get(), 5s));
      } catch (const std::system_error&) {
        return;
      }
    }
  });
  weft::Scheduler sched({.workers = 2});
  weft_echo::LoadOptions opts;
  opts.port = weft::net::local_port(l.get());
  opts.connections = 3;
  opts.op_timeout = 5s;
  const weft_echo::LoadResult r = weft_echo::run_load(sched, opts, 5);
  closer.join();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.failed, 3u);
  EXPECT_EQ(r.round_trips, 0u);
  EXPECT_FALSE(r.first_error.empty());
}

}  // namespace
