// weft_bench_core entry point: reads WEFT_BENCH_SMOKE, registers the workloads, runs them.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "bench_common.hpp"

namespace weft_bench {

namespace {

std::atomic<bool> g_failed{false};

Config make_config() {
  Config c;
  const char* smoke = std::getenv("WEFT_BENCH_SMOKE");
  c.smoke = smoke != nullptr && *smoke != '\0' && std::strcmp(smoke, "0") != 0;
  if (c.smoke) {
    c.yields = 100;
    c.spawns = kBatch;
    c.fib_n = 15;
  }
  c.fib_expected = fib_serial(c.fib_n);
  c.max_threads = std::max(1u, std::thread::hardware_concurrency());
  return c;
}

}  // namespace

const Config& config() {
  static const Config c = make_config();
  return c;
}

void fail(benchmark::State& state, const std::string& message) {
  g_failed.store(true, std::memory_order_relaxed);
  state.SkipWithError(message.c_str());
}

benchmark::internal::Benchmark* finish(benchmark::internal::Benchmark* b, double min_time) {
  if (config().smoke) return b->Iterations(1);
  return b->MinTime(min_time);
}

}  // namespace weft_bench

int main(int argc, char** argv) {
  using namespace weft_bench;
  register_yield_benchmarks();
  register_spawn_benchmarks();
  register_fib_benchmarks();
  register_sync_benchmarks();

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("weft_bench_smoke", config().smoke ? "1" : "0");
  benchmark::AddCustomContext("weft_bench_fib_n", std::to_string(config().fib_n));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (g_failed.load(std::memory_order_relaxed)) {
    std::fputs("weft_bench_core: at least one benchmark failed (see error_message above)\n",
               stderr);
    return 1;
  }
  return 0;
}
