// SPDX-License-Identifier: Apache-2.0
// weft_bench_echo: TCP echo round-trips through the weft echo server (a coroutine per
// connection) beside the thread-per-connection baseline, both in this process, driven by
// the same load generator (tools/echo/load_client.hpp: N connections as weft coroutines on a
// scheduler of their own).
//
//   BM_echo/weft/N     WeftEchoServer on its own Scheduler (hardware_concurrency workers)
//   BM_echo/threads/N  ThreadEchoServer: a std::thread per connection, blocking sockets
//
// Each benchmark run starts its server on port 0, opens N connections (not timed), warms
// up with one round, then each iteration has every connection do `rounds` round-trips of a
// 64-byte message concurrently; every echoed byte is checked. Manual time = the wall time
// of the round-trip phase. Counters: rt_per_s (round-trips per second, all connections),
// MB_per_s (echoed payload, one direction), p50_us / p99_us (round-trip latency over all
// iterations of the run). With all N connections always in flight, the mean latency is
// N / throughput whatever the server; p50 against p99 shows how evenly it shares out
// service among connections.
//
//   ./weft_bench_echo --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   WEFT_BENCH_SMOKE=1 ./weft_bench_echo   # 10 connections, 2 rounds, one iteration
//   WEFT_BENCH_ECHO_WORKERS=N              # workers of each scheduler (default: all cores)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <weft/weft.hpp>

#include "../tools/echo/load_client.hpp"
#include "../tools/echo/thread_server.hpp"
#include "../tools/echo/weft_server.hpp"

namespace {

struct Config {
  bool smoke = false;
  std::vector<int> connections{100, 1000};
  std::int64_t round_trips = 20000;  // per iteration, over all connections
  std::size_t size = 64;
  unsigned workers = 0;  // of each scheduler (server's and client's)
};

const Config& config() {
  static const Config c = [] {
    Config k;
    const char* smoke = std::getenv("WEFT_BENCH_SMOKE");
    k.smoke = smoke != nullptr && *smoke != '\0' && std::strcmp(smoke, "0") != 0;
    if (k.smoke) {
      k.connections = {10};
      k.round_trips = 20;
    }
    k.workers = std::max(1u, std::thread::hardware_concurrency());
    // Worker count of both schedulers, to see how the spread of workers over few cores
    // affects the result: WEFT_BENCH_ECHO_WORKERS=1 ./weft_bench_echo
    if (const char* w = std::getenv("WEFT_BENCH_ECHO_WORKERS")) {
      const long n = std::strtol(w, nullptr, 10);
      if (n >= 1 && n <= static_cast<long>(weft::kMaxWorkers)) k.workers = static_cast<unsigned>(n);
    }
    return k;
  }();
  return c;
}

std::atomic<bool> g_failed{false};

void fail(benchmark::State& state, const std::string& message) {
  g_failed.store(true, std::memory_order_relaxed);
  state.SkipWithError(message.c_str());
}

enum class Peer { kWeft, kThreads };

// Whichever server the benchmark measures, started on port 0 and stopped on destruction.
class AnyServer {
 public:
  explicit AnyServer(Peer peer) {
    if (peer == Peer::kWeft) {
      sched_ = std::make_unique<weft::Scheduler>(
          weft::Options{.workers = config().workers, .stack_size = 64 * 1024});
      weft_ = std::make_unique<weft_echo::WeftEchoServer>(*sched_, "127.0.0.1", 0);
    } else {
      threads_ = std::make_unique<weft_echo::ThreadEchoServer>("127.0.0.1", 0);
    }
  }
  ~AnyServer() {
    if (weft_) weft_->stop();
    if (threads_) threads_->stop();
  }
  std::uint16_t port() const { return weft_ ? weft_->port() : threads_->port(); }
  std::uint64_t errors() const { return weft_ ? weft_->errors() : threads_->errors(); }

 private:
  std::unique_ptr<weft::Scheduler> sched_;
  std::unique_ptr<weft_echo::WeftEchoServer> weft_;
  std::unique_ptr<weft_echo::ThreadEchoServer> threads_;
};

void BM_echo(benchmark::State& state, Peer peer, int conns) {
  const Config& cfg = config();
  const int rounds =
      static_cast<int>(std::max<std::int64_t>(2, cfg.round_trips / std::max(1, conns)));
  state.SetLabel(peer == Peer::kWeft ? "weft" : "threads");
  const std::uint64_t fds = weft_echo::raise_fd_limit();
  if (2 * static_cast<std::uint64_t>(conns) + 128 > fds) {
    fail(state, "RLIMIT_NOFILE " + std::to_string(fds) + " is too low for " +
                    std::to_string(conns) + " connections (two descriptors each)");
    return;
  }
  try {
    AnyServer server(peer);
    weft::Scheduler client_sched(weft::Options{.workers = cfg.workers, .stack_size = 64 * 1024});
    weft_echo::LoadOptions opts;
    opts.port = server.port();
    opts.connections = conns;
    opts.size = cfg.size;
    opts.run_limit = std::chrono::seconds(60);
    weft_echo::LoadClient client(client_sched, opts);
    client.connect();
    if (const weft_echo::LoadResult warm = client.run(1); !warm.ok()) {
      fail(state, "warm-up: " + warm.first_error);
      return;
    }
    weft_echo::Histogram latency;
    std::uint64_t round_trips = 0, bytes = 0;
    double seconds = 0;
    for (auto _ : state) {
      const weft_echo::LoadResult r = client.run(rounds);
      if (!r.ok()) {
        fail(state, "echo failed: " + r.first_error);
        return;
      }
      state.SetIterationTime(r.seconds);
      latency.merge(r.latency);
      round_trips += r.round_trips;
      bytes += r.bytes;
      seconds += r.seconds;
    }
    client.close();
    if (server.errors() != 0) {
      fail(state, "the server reported errors (see stderr)");
      return;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(round_trips));
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
    state.counters["rt_per_s"] = seconds > 0 ? static_cast<double>(round_trips) / seconds : 0;
    state.counters["MB_per_s"] = seconds > 0 ? static_cast<double>(bytes) / seconds / 1e6 : 0;
    state.counters["p50_us"] = latency.quantile_ns(0.50) / 1e3;
    state.counters["p99_us"] = latency.quantile_ns(0.99) / 1e3;
    state.counters["rounds"] = rounds;
  } catch (const std::exception& e) {
    fail(state, e.what());
  }
}

void register_all() {
  const Config& cfg = config();
  // Interleaved (weft, threads for each size), so drifts in the machine's load hit both.
  for (int conns : cfg.connections) {
    for (Peer peer : {Peer::kWeft, Peer::kThreads}) {
      const std::string name = std::string("BM_echo/") +
                               (peer == Peer::kWeft ? "weft" : "threads") + "/" +
                               std::to_string(conns);
      // The size is in the name already, so it is passed as an argument, not an Arg().
      auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_echo, peer, conns);
      b->UseManualTime()->Unit(benchmark::kMillisecond);
      if (cfg.smoke)
        b->Iterations(1);
      else
        b->MinTime(2.0);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const Config& cfg = config();
  benchmark::AddCustomContext("weft_bench_smoke", cfg.smoke ? "1" : "0");
  benchmark::AddCustomContext("echo_workers_per_scheduler", std::to_string(cfg.workers));
  benchmark::AddCustomContext("echo_message_bytes", std::to_string(cfg.size));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (g_failed.load(std::memory_order_relaxed)) {
    std::fputs("weft_bench_echo: at least one benchmark failed (see error_message above)\n",
               stderr);
    return 1;
  }
  return 0;
}
