// Shared helpers for weft_bench_core: sizes (full or smoke), timing, registration hooks.
//
// Every workload is registered once per implementation, with the implementation in the
// benchmark name (BM_fib/weft/2, BM_fib/tbb/2, ...) and as the run's label, so one run of
// the binary measures weft and its peers side by side and the JSON tabulates easily.
//
// Compare the real/manual time and the per-item counters (ns_per_yield, ns_per_task).
// The CPU column is the benchmark thread's CPU time: for weft that thread only blocks in
// join() while the workers run, so it is not the cost of the work.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace weft_bench {

// Sizes of one benchmark iteration. WEFT_BENCH_SMOKE=1 shrinks them (and runs each
// benchmark for exactly one iteration) so CI can check that everything runs.
struct Config {
  bool smoke = false;
  std::int64_t yields = 10000;  // yields per coroutine per iteration (ping-pong)
  std::int64_t spawns = 10240;  // empty tasks per iteration (spawn+join); multiple of kBatch
  int fib_n = 30;               // fib(fib_n) per iteration
  std::int64_t fib_expected = 832040;
  unsigned max_threads = 2;  // largest worker count for the fib sweep
};

inline constexpr std::int64_t kBatch = 64;  // tasks spawned before joining (batch variants)

const Config& config();

// Applied to every registered benchmark: one iteration in smoke mode, else `min_time` s.
benchmark::internal::Benchmark* finish(benchmark::internal::Benchmark* b, double min_time);

// state.SkipWithError(message), remembered so that main() exits non-zero (Google Benchmark
// itself exits 0 when a benchmark reports an error, which would hide it from CI).
void fail(benchmark::State& state, const std::string& message);

using Clock = std::chrono::steady_clock;

inline double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Plain recursive fib, for checking sizes.
constexpr std::int64_t fib_serial(int n) {
  return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

void register_yield_benchmarks();
void register_spawn_benchmarks();
void register_fib_benchmarks();
void register_sync_benchmarks();

}  // namespace weft_bench
