// SPDX-License-Identifier: Apache-2.0
// weft-echo-threads: the baseline TCP echo server, one std::thread per connection on blocking
// sockets (no weft in the serving path; weft::net only opens the listener).
//
//   weft-echo-threads [--host 127.0.0.1] [--port 7008]
//
// Same protocol and lifecycle as weft-echo: prints the port, runs until SIGINT/SIGTERM,
// hangs up the open connections, joins their threads and exits 0.
#include <signal.h>

#include <cstdio>
#include <exception>
#include <string>

#include "cli.hpp"
#include "echo/thread_server.hpp"

int main(int argc, char** argv) {
  CLI::App app{"weft-echo-threads: the baseline TCP echo server, a thread per connection",
               "weft-echo-threads"};
  std::string host = "127.0.0.1";
  std::uint16_t port = 7008;
  app.add_option("--host", host, "address to listen on")->capture_default_str();
  app.add_option("--port", port, "TCP port; 0 picks a free one")->capture_default_str();
  if (const auto rc = weft_tools::parse(app, argc, argv)) return *rc;

  const sigset_t stop_signals = weft_echo::block_stop_signals();

  try {
    const std::uint64_t fds = weft_echo::raise_fd_limit();
    weft_echo::ThreadEchoServer server(host, port);
    std::printf("weft-echo-threads: listening on %s:%u, descriptor limit %llu\n", host.c_str(),
                static_cast<unsigned>(server.port()), static_cast<unsigned long long>(fds));
    std::fflush(stdout);
    return weft_echo::serve_until_signal("weft-echo-threads", stop_signals, server);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-echo-threads: %s\n", e.what());
    return 1;
  }
}
