// SPDX-License-Identifier: Apache-2.0
// weft-echo-load: drives an echo server with N connections (weft coroutines), each doing
// M round-trips of a message, verifying every byte that comes back.
//
//   weft-echo-load --port P [--host 127.0.0.1] [--connections 100] [--rounds 1000]
//                  [--size 64] [--workers N] [--timeout-ms 10000] [--limit-s 300]
//
// Opens all connections first, then times the round-trip phase. Prints round-trips/s,
// MB/s (echoed payload, one direction) and the p50/p99/max round-trip latency. Exits 1 on
// any mismatch, short read or connection error, 2 on bad flags.
#include <cstdio>
#include <exception>
#include <string>
#include <weft/weft.hpp>

#include "echo_load.hpp"

namespace {

constexpr const char* kUsage =
    "usage: weft-echo-load --port N [options]\n"
    "  --host ADDR        server address (default 127.0.0.1)\n"
    "  --port N           server port, 1..65535 (required)\n"
    "  --connections N    concurrent connections, 1..100000 (default 100)\n"
    "  --rounds N         round-trips per connection, 1..100000000 (default 1000)\n"
    "  --size N           message bytes, 1..1048576 (default 64)\n"
    "  --workers N        worker threads, 1..1024 (default: hardware concurrency)\n"
    "  --timeout-ms N     limit of one connect or round-trip, 1..3600000 (default 10000)\n"
    "  --limit-s N        limit of the whole round-trip phase, 1..86400 (default 300)\n";

}  // namespace

int main(int argc, char** argv) {
  weft_echo::LoadOptions opts;
  opts.run_limit = std::chrono::seconds(300);
  int rounds = 1000;
  unsigned workers = 0;
  bool have_port = false;
  weft_echo::Flags flags("weft-echo-load", kUsage, argc, argv);
  flags.parse([&](std::string_view name, const char* value) {
    if (name == "--host") {
      opts.host = value;
    } else if (name == "--port") {
      opts.port = static_cast<std::uint16_t>(flags.integer(name, value, 1, 65535));
      have_port = true;
    } else if (name == "--connections") {
      opts.connections = static_cast<int>(flags.integer(name, value, 1, 100000));
    } else if (name == "--rounds") {
      rounds = static_cast<int>(flags.integer(name, value, 1, 100000000));
    } else if (name == "--size") {
      opts.size = static_cast<std::size_t>(
          flags.integer(name, value, 1, static_cast<std::int64_t>(weft_echo::kMaxMessage)));
    } else if (name == "--workers") {
      workers = static_cast<unsigned>(flags.integer(name, value, 1, weft::kMaxWorkers));
    } else if (name == "--timeout-ms") {
      opts.op_timeout = std::chrono::milliseconds(flags.integer(name, value, 1, 3600000));
    } else if (name == "--limit-s") {
      opts.run_limit = std::chrono::seconds(flags.integer(name, value, 1, 86400));
    } else {
      return false;
    }
    return true;
  });
  if (!have_port) flags.fail("--port is required");

  try {
    const std::uint64_t fds = weft_echo::raise_fd_limit();
    if (static_cast<std::uint64_t>(opts.connections) + 64 > fds)
      flags.fail("--connections " + std::to_string(opts.connections) +
                 " needs more descriptors than the limit of " + std::to_string(fds));
    weft::Scheduler sched(weft::Options{.workers = workers, .stack_size = 64 * 1024});
    weft_echo::LoadClient client(sched, opts);
    std::printf("weft-echo-load: %s:%u, %d connections x %d rounds x %zu bytes, %u workers\n",
                opts.host.c_str(), static_cast<unsigned>(opts.port), opts.connections, rounds,
                opts.size, sched.workers());
    std::fflush(stdout);
    const auto c0 = weft_echo::Clock::now();
    client.connect();
    const double connect_ms =
        std::chrono::duration<double, std::milli>(weft_echo::Clock::now() - c0).count();
    const weft_echo::LoadResult r = client.run(rounds);
    client.close();
    std::printf(
        "connect   %.1f ms for %d connections\n"
        "round-trips %llu in %.3f s: %.0f round-trips/s, %.2f MB/s\n"
        "latency   p50 %.1f us  p99 %.1f us  max %.1f us\n",
        connect_ms, opts.connections, static_cast<unsigned long long>(r.round_trips), r.seconds,
        r.round_trips_per_s(), r.mb_per_s(), r.latency.quantile_ns(0.50) / 1e3,
        r.latency.quantile_ns(0.99) / 1e3, static_cast<double>(r.latency.max_ns()) / 1e3);
    if (!r.ok()) {
      std::fprintf(stderr,
                   "weft-echo-load: FAILED: %llu connections with mismatched bytes, %llu "
                   "failed; first: %s\n",
                   static_cast<unsigned long long>(r.mismatches),
                   static_cast<unsigned long long>(r.failed), r.first_error.c_str());
      return 1;
    }
    std::printf("verified  every byte of %llu round-trips\n",
                static_cast<unsigned long long>(r.round_trips));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-echo-load: %s\n", e.what());
    return 1;
  }
}
