// SPDX-License-Identifier: Apache-2.0
// A TCP echo server with timeouts: one coroutine per connection, each read bounded by an
// idle timeout so a silent client cannot hold a connection (and its coroutine) forever.
//
//   weft-example-echo_server            serves on a free port and checks itself with 4
//                                       echo clients and one client that never speaks
//   weft-example-echo_server PORT       serves on PORT until killed (try: nc 127.0.0.1 PORT)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <weft/net.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

constexpr auto kIdleTimeout = 300ms;
constexpr int kClients = 4, kRounds = 100;

// Echoes until the client closes, goes quiet for kIdleTimeout, or the connection fails.
void serve_connection(weft::net::Socket conn) {
  char buf[4096];
  try {
    for (;;) {
      const std::size_t n = weft::net::read_some(conn.get(), buf, sizeof buf, kIdleTimeout);
      if (n == 0) return;  // the client closed its side
      weft::net::write_all(conn.get(), buf, n, 1s);
    }
  } catch (const std::system_error& e) {
    if (!weft::net::is_timeout(e)) std::fprintf(stderr, "connection: %s\n", e.what());
    // On a timeout the Socket's destructor closes the connection: the client sees EOF.
  }
}

// Accepts until `stop`; the accept timeout is how often it looks at the flag.
void accept_loop(int listener, const std::atomic<bool>& stop) {
  while (!stop.load()) {
    try {
      weft::net::Socket conn(weft::net::accept(listener, 100ms));
      weft::spawn(serve_connection, std::move(conn)).detach();
    } catch (const std::system_error& e) {
      if (!weft::net::is_timeout(e)) throw;
    }
  }
}

// One client: `rounds` messages, each read back and compared. Returns the rounds that matched.
int echo_client(std::uint16_t port, int id, int rounds) {
  weft::net::Socket s(weft::net::connect_tcp("127.0.0.1", port, 2s));
  int ok = 0;
  for (int r = 0; r < rounds; ++r) {
    const std::string msg = "client " + std::to_string(id) + " round " + std::to_string(r);
    weft::net::write_all(s.get(), msg.data(), msg.size(), 2s);
    std::string back(msg.size(), '\0');
    if (weft::net::read_exact(s.get(), back.data(), back.size(), 2s) == msg.size() && back == msg)
      ++ok;
  }
  return ok;
}

// A client that never writes: returns how long the server took to hang up on it (ms).
long idle_client(std::uint16_t port) {
  weft::net::Socket s(weft::net::connect_tcp("127.0.0.1", port, 2s));
  const auto t0 = std::chrono::steady_clock::now();
  char c;
  if (weft::net::read_some(s.get(), &c, 1, 5s) != 0) return -1;  // expected EOF
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count());
}

}  // namespace

int main(int argc, char** argv) {
  weft::Scheduler sched({.workers = 2});
  std::atomic<bool> stop{false};

  if (argc > 1) {
    const int listener =
        weft::net::listen_tcp("127.0.0.1", static_cast<std::uint16_t>(std::atoi(argv[1])));
    std::printf("echo server on 127.0.0.1:%u\n", weft::net::local_port(listener));
    std::fflush(stdout);
    sched.run(accept_loop, listener, std::cref(stop));  // until killed
    return 0;
  }

  const int listener = weft::net::listen_tcp("127.0.0.1", 0);  // port 0: the kernel picks
  const std::uint16_t port = weft::net::local_port(listener);
  weft::Task<void> server = sched.spawn(accept_loop, listener, std::cref(stop));

  const int matched = sched.run([port] {
    weft::Task<long> idle = weft::spawn(idle_client, port);
    std::vector<weft::Task<int>> clients;
    for (int i = 0; i < kClients; ++i)
      clients.push_back(weft::spawn(echo_client, port, i, kRounds));
    int sum = 0;
    for (auto& c : clients) sum += c.join();
    const long idle_ms = idle.join();
    std::printf("%d clients echoed %d messages; the idle one timed out: closed after %ld ms\n",
                kClients, sum, idle_ms);
    return idle_ms >= 0 ? sum : -1;
  });

  stop = true;
  server.join();
  weft::net::close(listener);
  return matched == kClients * kRounds ? 0 : 1;
}
