// SPDX-License-Identifier: Apache-2.0
// echo-threads: the baseline TCP echo server, one std::thread per connection on blocking
// sockets (no weft in the serving path; weft::net only opens the listener).
//
//   echo-threads [--host 127.0.0.1] [--port 7008]
//
// Same protocol and lifecycle as weft-echo: prints the port, runs until SIGINT/SIGTERM,
// hangs up the open connections, joins their threads and exits 0.
#include <signal.h>

#include <cstdio>
#include <exception>
#include <string>

#include "echo_load.hpp"

namespace {

constexpr const char* kUsage =
    "usage: echo-threads [--host ADDR] [--port N]\n"
    "  --host ADDR   address to listen on (default 127.0.0.1)\n"
    "  --port N      TCP port, 0..65535; 0 picks a free one (default 7008)\n";

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7008;
  weft_echo::Flags flags("echo-threads", kUsage, argc, argv);
  flags.parse([&](std::string_view name, const char* value) {
    if (name == "--host") {
      host = value;
    } else if (name == "--port") {
      port = static_cast<std::uint16_t>(flags.integer(name, value, 0, 65535));
    } else {
      return false;
    }
    return true;
  });

  const sigset_t stop_signals = weft_echo::block_stop_signals();

  try {
    const std::uint64_t fds = weft_echo::raise_fd_limit();
    weft_echo::ThreadEchoServer server(host, port);
    std::printf("echo-threads: listening on %s:%u, descriptor limit %llu\n", host.c_str(),
                static_cast<unsigned>(server.port()), static_cast<unsigned long long>(fds));
    std::fflush(stdout);
    return weft_echo::serve_until_signal("echo-threads", stop_signals, server);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo-threads: %s\n", e.what());
    return 1;
  }
}
