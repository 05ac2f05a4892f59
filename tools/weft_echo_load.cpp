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

#include "cli.hpp"
#include "echo/load_client.hpp"
#include "plural.hpp"

int main(int argc, char** argv) {
  CLI::App app{"weft-echo-load: drives an echo server, verifying every byte", "weft-echo-load"};
  weft_echo::LoadOptions opts;
  int rounds = 1000;
  unsigned workers = 0;
  long long timeout_ms = 10000, limit_s = 300;
  app.add_option("--host", opts.host, "server address")->capture_default_str();
  app.add_option("--port", opts.port, "server port")->required()->check(CLI::Range(1, 65535));
  app.add_option("--connections", opts.connections, "concurrent connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--rounds", rounds, "round-trips per connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000000));
  app.add_option("--size", opts.size, "message bytes")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, weft_echo::kMaxMessage));
  app.add_option("--workers", workers, "worker threads (default: one per CPU)")
      ->check(CLI::Range(1u, weft::kMaxWorkers));
  app.add_option("--timeout-ms", timeout_ms, "limit of one connect or round-trip")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600000));
  app.add_option("--limit-s", limit_s, "limit of the whole round-trip phase")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  if (const auto rc = weft_tools::parse(app, argc, argv)) return *rc;
  opts.op_timeout = std::chrono::milliseconds(timeout_ms);
  opts.run_limit = std::chrono::seconds(limit_s);

  try {
    const std::uint64_t fds = weft_echo::raise_fd_limit();
    if (static_cast<std::uint64_t>(opts.connections) + 64 > fds) {
      std::fprintf(
          stderr,
          "weft-echo-load: --connections %d needs more descriptors than the limit of %llu\n",
          opts.connections, static_cast<unsigned long long>(fds));
      return 2;
    }
    weft::Scheduler sched(weft::Options{.workers = workers, .stack_size = 64 * 1024});
    weft_echo::LoadClient client(sched, opts);
    std::printf(
        "weft-echo-load: %s:%u, %s x %s x %s, %s\n", opts.host.c_str(),
        static_cast<unsigned>(opts.port),
        weft_tools::plural(static_cast<std::uint64_t>(opts.connections), "connection").c_str(),
        weft_tools::plural(static_cast<std::uint64_t>(rounds), "round").c_str(),
        weft_tools::plural(opts.size, "byte").c_str(),
        weft_tools::plural(sched.workers(), "worker").c_str());
    std::fflush(stdout);
    const auto c0 = weft_echo::Clock::now();
    client.connect();
    const double connect_ms =
        std::chrono::duration<double, std::milli>(weft_echo::Clock::now() - c0).count();
    const weft_echo::LoadResult r = client.run(rounds);
    client.close();
    std::printf(
        "connect   %.1f ms for %s\n"
        "round-trips %llu in %.3f s: %.0f round-trips/s, %.2f MB/s\n"
        "latency   p50 %.1f us  p99 %.1f us  max %.1f us\n",
        connect_ms,
        weft_tools::plural(static_cast<std::uint64_t>(opts.connections), "connection").c_str(),
        static_cast<unsigned long long>(r.round_trips), r.seconds, r.round_trips_per_s(),
        r.mb_per_s(), r.latency.quantile_ns(0.50) / 1e3, r.latency.quantile_ns(0.99) / 1e3,
        static_cast<double>(r.latency.max_ns()) / 1e3);
    if (!r.ok()) {
      std::fprintf(stderr,
                   "weft-echo-load: FAILED: %s with mismatched bytes, %llu failed; first: %s\n",
                   weft_tools::plural(r.mismatches, "connection").c_str(),
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
