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

#include "cli.hpp"
#include "echo/weft_server.hpp"
#include "plural.hpp"

int main(int argc, char** argv) {
  CLI::App app{"weft-echo: a TCP echo server, one weft coroutine per connection", "weft-echo"};
  std::string host = "127.0.0.1";
  std::uint16_t port = 7007;
  unsigned workers = 0;
  app.add_option("--host", host, "address to listen on")->capture_default_str();
  app.add_option("--port", port, "TCP port; 0 picks a free one")->capture_default_str();
  app.add_option("--workers", workers, "worker threads (default: one per CPU)")
      ->check(CLI::Range(1u, weft::kMaxWorkers));
  if (const auto rc = weft_tools::parse(app, argc, argv)) return *rc;

  const sigset_t stop_signals = weft_echo::block_stop_signals();

  try {
    const std::uint64_t fds = weft_echo::raise_fd_limit();
    weft::Scheduler sched(weft::Options{.workers = workers, .stack_size = 64 * 1024});
    weft_echo::WeftEchoServer server(sched, host, port);
    std::printf("weft-echo: listening on %s:%u, %s, descriptor limit %llu\n", host.c_str(),
                static_cast<unsigned>(server.port()),
                weft_tools::plural(sched.workers(), "worker").c_str(),
                static_cast<unsigned long long>(fds));
    std::fflush(stdout);
    return weft_echo::serve_until_signal("weft-echo", stop_signals, server);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-echo: %s\n", e.what());
    return 1;
  }
}
