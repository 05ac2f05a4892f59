// SPDX-License-Identifier: Apache-2.0
// weft-echo: a TCP echo server with one weft coroutine per connection.
//
//   weft-echo [--host 127.0.0.1] [--port 7007] [--workers N]
//
// Prints "weft-echo: listening on HOST:PORT ..." once it accepts (port 0 picks a free
// port, printed there), runs until SIGINT or SIGTERM, then stops accepting, hangs up the
// open connections, waits for their coroutines and exits 0.
#include <signal.h>

#include <cstdio>
#include <exception>
#include <string>
#include <weft/weft.hpp>

#include "echo_load.hpp"

namespace {

constexpr const char* kUsage =
    "usage: weft-echo [--host ADDR] [--port N] [--workers N]\n"
    "  --host ADDR   address to listen on (default 127.0.0.1)\n"
    "  --port N      TCP port, 0..65535; 0 picks a free one (default 7007)\n"
    "  --workers N   worker threads, 1..1024 (default: hardware concurrency)\n";

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7007;
  unsigned workers = 0;
  weft_echo::Flags flags("weft-echo", kUsage, argc, argv);
  flags.parse([&](std::string_view name, const char* value) {
    if (name == "--host") {
      host = value;
    } else if (name == "--port") {
      port = static_cast<std::uint16_t>(flags.integer(name, value, 0, 65535));
    } else if (name == "--workers") {
      workers = static_cast<unsigned>(flags.integer(name, value, 1, weft::kMaxWorkers));
    } else {
      return false;
    }
    return true;
  });

  const sigset_t stop_signals = weft_echo::block_stop_signals();

  try {
    const std::uint64_t fds = weft_echo::raise_fd_limit();
    weft::Scheduler sched(weft::Options{.workers = workers, .stack_size = 64 * 1024});
    weft_echo::WeftEchoServer server(sched, host, port);
    std::printf("weft-echo: listening on %s:%u, %u workers, descriptor limit %llu\n", host.c_str(),
                static_cast<unsigned>(server.port()), sched.workers(),
                static_cast<unsigned long long>(fds));
    std::fflush(stdout);
    return weft_echo::serve_until_signal("weft-echo", stop_signals, server);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-echo: %s\n", e.what());
    return 1;
  }
}
