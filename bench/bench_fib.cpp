// SPDX-License-Identifier: Apache-2.0
// Workload 3: fib(30) with a spawn per call, on 1, 2, 4, ... nproc workers.
//
//   fib(n) = n < 2 ? n : spawn fib(n-1); fib(n-2) inline; join     (no serial cutoff)
//
//   BM_fib/weft/workers:W         weft::Scheduler{W}, sched.run(fib, n) from main
//   BM_fib/tbb/workers:W          tbb::task_group per call, inside tbb::task_arena(W)
//   BM_fib/omp/workers:W          #pragma omp task + taskwait per call, parallel num_threads(W)
//   BM_fib/serial/workers:1       the floor: the plain recursion (no spawns)
//   BM_fib_small/<peer>/workers:W fib(25) for Boost.Fiber (a fiber with its own 64 KiB
//                                 stack per call; work_stealing(W, suspend=true) in a child
//                                 process, round_robin at W=1) beside weft and TBB
//
// One iteration is one fib(n), timed on the wall clock (ms). A wrong result stops the
// benchmark with SkipWithError. Counters: ns_per_task (time / spawns), speedup (the
// peer's own 1-worker time / this time), and for weft steals/parks per fib from Stats.
// The kernels but Boost.Fiber's are fork_join_kernels.hpp's, shared with bench_forkjoin.cpp.
#include <benchmark/benchmark.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <cstdint>
#include <string>
#include <weft/weft.hpp>

#include "bench_common.hpp"
#include "bench_fiber.hpp"
#include "fork_join_kernels.hpp"

namespace weft_bench {
namespace {

std::int64_t fib_fiber(int n) {
  if (n < 2) return n;
  std::int64_t a = 0;
  boost::fibers::fiber f(std::allocator_arg, boost::fibers::fixedsize_stack(64 * 1024),
                         [&a, n] { a = fib_fiber(n - 1); });
  const std::int64_t b = fib_fiber(n - 2);
  f.join();
  return a + b;
}

// Calls to fib(n) that spawn (n >= 2): fib(n+1) - 1.
double spawns_of(int n) {
  return static_cast<double>(fib_serial(n + 1) - 1);
}

bool check(benchmark::State& state, std::int64_t got, int n, const char* peer) {
  const std::int64_t want = fib_serial(n);
  if (got == want) return true;
  const std::string msg = std::string(peer) + ": fib(" + std::to_string(n) + ") returned " +
                          std::to_string(got) + ", expected " + std::to_string(want);
  fail(state, msg);
  return false;
}

// Times each iteration, then sets ns_per_task and speedup.
template <class Body>
void timed_loop(benchmark::State& state, const char* peer, const std::string& key, int n,
                unsigned workers, Body&& body) {
  state.SetLabel(peer);
  double total_s = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    const std::int64_t r = body();
    const double s = seconds_between(t0, Clock::now());
    state.SetIterationTime(s);
    total_s += s;
    if (!check(state, r, n, peer)) return;
  }
  const auto iters = static_cast<double>(state.iterations());
  if (iters <= 0) return;
  state.counters["workers"] = workers;
  state.counters["ns_per_task"] = total_s * 1e9 / iters / spawns_of(n);
  record_speedup(state, key, workers, total_s / iters);
}

void BM_fib_weft(benchmark::State& state, int n, const char* key) {
  const auto workers = static_cast<unsigned>(state.range(0));
  weft::Scheduler sched(weft::Options{.workers = workers, .stack_size = 64 * 1024});
  const weft::Stats before = sched.stats();
  timed_loop(state, "weft", key, n, workers, [&] { return sched.run(fib_spawn_join, n); });
  const weft::Stats after = sched.stats();
  const auto iters = static_cast<double>(state.iterations());
  if (iters > 0) {
    state.counters["steals"] = static_cast<double>(after.steals - before.steals) / iters;
    state.counters["parks"] = static_cast<double>(after.parks - before.parks) / iters;
  }
}

void BM_fib_tbb(benchmark::State& state, int n, const char* key) {
  const auto workers = static_cast<unsigned>(state.range(0));
  tbb::task_arena arena(static_cast<int>(workers));
  arena.initialize();
  timed_loop(state, "tbb", key, n, workers,
             [&] { return arena.execute([n] { return fib_tbb(n); }); });
}

#ifdef WEFT_BENCH_OPENMP
void BM_fib_omp(benchmark::State& state) {
  const int n = config().fib_n;
  const auto workers = static_cast<unsigned>(state.range(0));
  timed_loop(state, "omp", "fib/omp", n, workers, [&] {
    std::int64_t r = 0;
#pragma omp parallel num_threads(static_cast <int>(workers)) default(shared)
    {
#pragma omp single
      r = fib_omp(n);
    }
    return r;
  });
}
#endif

void BM_fib_serial(benchmark::State& state) {
  const int n = config().fib_n;
  timed_loop(state, "serial", "fib/serial", n, 1, [&] {
    const std::int64_t r = fib_serial(n);
    benchmark::DoNotOptimize(r);
    return r;
  });
}

// Boost.Fiber: a child process per iteration (see bench_fiber.hpp).
const bool fib_fiber_job = add_child_job("fib_fiber", [](const ChildArgs& a) {
  const int n = static_cast<int>(a.size);
  std::int64_t result = 0;
  const double s = with_fiber_pool(a.workers, true, [&] {
    return median_of_runs([&] {
      const auto t0 = Clock::now();
      result = fib_fiber(n);
      return seconds_between(t0, Clock::now());
    });
  });
  if (result != fib_serial(n)) throw std::runtime_error("boost.fiber fib: wrong result");
  return std::vector<ChildValue>{{"seconds", s}, {"ns_per_task", s * 1e9 / spawns_of(n)}};
});

void BM_fib_fiber(benchmark::State& state) {
  const auto workers = static_cast<unsigned>(state.range(0));
  const int n = config().fib_fiber_n;
  run_child_iteration(state, "fib_fiber", ChildArgs{"boost_fiber", workers, n});
  if (state.iterations() > 0 && !state.error_occurred()) {
    state.counters["workers"] = workers;
    // The child's median run, as the manual time was set from it.
    record_speedup(state, "fib_small/boost_fiber", workers,
                   state.counters["ns_per_task"].value * spawns_of(n) * 1e-9);
  }
}

}  // namespace

void register_fib_benchmarks() {
  const int n = config().fib_n;
  const int small = config().fib_fiber_n;
  auto reg = [](const char* name, auto fn, double min_time) {
    finish(benchmark::RegisterBenchmark(name, fn), min_time)
        ->Apply(worker_sweep)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  };
  reg(
      "BM_fib/weft", [n](benchmark::State& s) { BM_fib_weft(s, n, "fib/weft"); }, 0.5);
  reg(
      "BM_fib/tbb", [n](benchmark::State& s) { BM_fib_tbb(s, n, "fib/tbb"); }, 0.5);
#ifdef WEFT_BENCH_OPENMP
  reg("BM_fib/omp", BM_fib_omp, 0.5);
#endif
  finish(benchmark::RegisterBenchmark("BM_fib/serial", BM_fib_serial), 0.5)
      ->ArgName("workers")
      ->Arg(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  reg(
      "BM_fib_small/weft",
      [small](benchmark::State& s) { BM_fib_weft(s, small, "fib_small/weft"); }, 0.2);
  reg(
      "BM_fib_small/tbb", [small](benchmark::State& s) { BM_fib_tbb(s, small, "fib_small/tbb"); },
      0.2);
  benchmark::RegisterBenchmark("BM_fib_small/boost_fiber", BM_fib_fiber)
      ->Apply(worker_sweep)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace weft_bench
