// SPDX-License-Identifier: Apache-2.0
// Shared helpers for weft_bench_core: sizes (full or smoke), timing, registration hooks,
// worker sweeps with speedup counters, and measurements in a fresh child process.
//
// Every workload is registered once per implementation, with the implementation in the
// benchmark name (BM_fib/weft/workers:2, BM_fib/tbb/workers:2, ...) and as the run's label,
// so one run of the binary measures weft and its peers side by side and the JSON tabulates
// easily (tools/bench-report). Names are BM_<workload>/<peer>[/<arg>:<value>...].
//
// Compare the real/manual time and the per-item counters (ns_per_switch, ns_per_task, ...).
// The CPU column is the benchmark thread's CPU time: for weft that thread only blocks in
// join() while the workers run, so it is not the cost of the work.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace weft_bench {

// Sizes of one benchmark iteration. WEFT_BENCH_SMOKE=1 shrinks them (and runs each
// benchmark for exactly one iteration) so CI can check that everything runs.
struct Config {
  bool smoke = false;
  std::int64_t switches = 100000;     // raw switch round trips per iteration
  std::int64_t yields = 10000;        // yields per coroutine per iteration (ping-pong)
  std::int64_t spawns = 10240;        // empty tasks per iteration (spawn+join); multiple of kBatch
  std::int64_t thread_spawns = 1024;  // std::thread per task: fewer, they cost ~10 us each
  int fib_n = 30;                     // fib(fib_n) per iteration
  std::int64_t fib_expected = 832040;
  int fib_fiber_n = 25;                    // Boost.Fiber allocates a stack per call: smaller n
  std::int64_t skynet_leaves = 1000000;    // power of 10
  std::int64_t skynet_small = 100000;      // the size Boost.Fiber runs at (with the others)
  std::int64_t skynet_big = 10000000;      // the "10M when it fits" run
  std::int64_t pfor_n = 10000000;          // parallel_for iterations
  std::int64_t pingpong = 1000000;         // token passes (coroutines)
  std::int64_t pingpong_threads = 100000;  // token passes (std::thread + condvar)
  int idle_samples = 200;                  // idle_wake samples (each after a ~2 ms sleep)
  std::int64_t live = 1000000;             // coroutines suspended at once (weft)
  std::int64_t live_fiber = 100000;        // Boost.Fiber fibers suspended at once
  unsigned max_threads = 2;                // largest worker count of the sweeps (nproc)
  int child_runs = 3;                      // timed runs inside a child (median reported)
};

inline constexpr std::int64_t kBatch = 64;  // tasks spawned before joining (batch variants)

const Config& config();

// Applied to every registered benchmark: one iteration in smoke mode, else `min_time` s.
benchmark::internal::Benchmark* finish(benchmark::internal::Benchmark* b, double min_time);

// Adds the worker counts 1, 2, 4, ..., nproc (always nproc and 2) as Arg "workers".
void worker_sweep(benchmark::internal::Benchmark* b);

// state.SkipWithError(message), remembered so that main() exits non-zero (Google Benchmark
// itself exits 0 when a benchmark reports an error, which would hide it from CI).
void fail(benchmark::State& state, const std::string& message);

// Records `seconds` (one run of the workload) for `key` at `workers`; at workers > 1 sets
// the counter "speedup" = median 1-worker seconds recorded for `key` / `seconds`.
void record_speedup(benchmark::State& state, const std::string& key, unsigned workers,
                    double seconds);

using Clock = std::chrono::steady_clock;

inline double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Plain recursive fib, for checking sizes.
// The cheap loop body of the parallel_for/reduce benchmarks: SplitMix64's finalizer, a few
// multiplies the compiler cannot fold or vectorize away across iterations.
inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

constexpr std::int64_t fib_serial(int n) {
  return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

// Peak RSS of this process image so far (/proc/self/status VmHWM), KiB.
long peak_rss_kib();
// Current RSS of this process (/proc/self/statm), KiB.
long current_rss_kib();
// Process CPU time (all threads), seconds.
double process_cpu_seconds();

// ---- measurements in a fresh child process ----
//
// A child job runs in a new process (this binary re-executed with --weft-child), so that
// its peak RSS is its own and no thread pool of an earlier benchmark (TBB, OpenMP,
// Boost.Fiber's process-wide work_stealing registry) is shared. The job returns named
// values, and the child adds its peak RSS (VmHWM) as peak_rss_MiB.
struct ChildArgs {
  std::string peer;
  unsigned workers = 1;
  std::int64_t size = 0;
};
struct ChildValue {
  std::string name;
  double value;
};
using ChildJob = std::function<std::vector<ChildValue>(const ChildArgs&)>;

// Registers a child job (call from a static initializer or a register_* function).
bool add_child_job(const std::string& name, ChildJob job);

struct ChildResult {
  bool ok = false;
  std::string error;
  std::vector<ChildValue> values;
  long maxrss_kib = 0;  // wait4's ru_maxrss: includes the parent's peak (see peak_rss_kib)
  double get(const std::string& name, double otherwise = 0) const;
};
ChildResult run_child(const std::string& job, const ChildArgs& args);

// One benchmark iteration = one child process running `job`: the manual time is the
// child's value "seconds"; every other value becomes a counter of the same name (among
// them peak_rss_MiB, the child's VmHWM). Use with Iterations(1).
void run_child_iteration(benchmark::State& state, const std::string& job, const ChildArgs& args);

// Entry of a child process: main() calls it when argv[1] is "--weft-child".
int child_main(int argc, char** argv);

// Median of a copy.
double median(std::vector<double> v);

void register_switch_benchmarks();
void register_yield_benchmarks();
void register_spawn_benchmarks();
void register_fib_benchmarks();
void register_forkjoin_benchmarks();
void register_skynet_benchmarks();
void register_pfor_benchmarks();
void register_pingpong_benchmarks();
void register_idle_benchmarks();
void register_live_benchmarks();
void register_sync_benchmarks();

}  // namespace weft_bench

namespace weft_bench {

// For child jobs: runs `one_run` (which returns the seconds of one run of the workload)
// once to warm up, then config().child_runs times or until ~1.5 s have passed (at least
// once), and returns the median of the timed runs.
template <class F>
double median_of_runs(F&& one_run) {
  (void)one_run();  // warm-up: first touch of stacks and pools
  std::vector<double> runs;
  const auto start = Clock::now();
  do {
    runs.push_back(one_run());
  } while (static_cast<int>(runs.size()) < config().child_runs &&
           seconds_between(start, Clock::now()) < 1.5);
  return median(runs);
}

}  // namespace weft_bench
