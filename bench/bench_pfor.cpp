// SPDX-License-Identifier: Apache-2.0
// Workload 5: parallel_for — a memory-light loop of 10M iterations (a splitmix64 hash of
// the index, summed) cut into chunks of `grain` iterations.
//
//   BM_parallel_for/weft/grain:G/workers:W   recursive halving of the range with a spawn
//                                            per split until <= G iterations
//   BM_parallel_for/tbb/grain:G/workers:W    tbb::parallel_for(blocked_range(0, n, G),
//                                            simple_partitioner) in a task_arena(W)
//   BM_parallel_for/omp/grain:G/workers:W    #pragma omp parallel for schedule(dynamic, G)
//                                            num_threads(W) reduction(+)
//   BM_parallel_for/serial/grain:0/workers:1 the plain loop
//
// weft and TBB add each chunk's sum into their thread's own padded slot (no shared
// cache line); OpenMP uses its reduction clause. Counters: ns_per_iter, ns_per_chunk
// (time / chunks), speedup (over the peer's own 1-worker time at the same grain).
#include <benchmark/benchmark.h>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>
#include <weft/weft.hpp>

#include "bench_common.hpp"

namespace weft_bench {
namespace {

inline std::uint64_t body(std::int64_t lo, std::int64_t hi) {
  std::uint64_t s = 0;
  for (std::int64_t i = lo; i < hi; ++i) s += mix64(static_cast<std::uint64_t>(i));
  return s;
}

struct alignas(128) Slot {
  std::atomic<std::uint64_t> sum{0};
};

std::uint64_t expected_sum() {
  static const std::uint64_t s = body(0, config().pfor_n);
  return s;
}

void pfor_weft(std::int64_t lo, std::int64_t hi, std::int64_t grain, Slot* slots) {
  if (hi - lo > grain) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    auto right = weft::spawn(pfor_weft, mid, hi, grain, slots);
    pfor_weft(lo, mid, grain, slots);
    right.join();
    return;
  }
  const std::uint64_t s = body(lo, hi);
  slots[weft::current_worker()].sum.fetch_add(s, std::memory_order_relaxed);
}

std::uint64_t drain(std::vector<Slot>& slots) {
  std::uint64_t s = 0;
  for (auto& sl : slots) s += sl.sum.exchange(0, std::memory_order_relaxed);
  return s;
}

template <class Run>
void timed_loop(benchmark::State& state, const char* peer, std::int64_t grain, unsigned workers,
                Run&& run) {
  const std::int64_t n = config().pfor_n;
  state.SetLabel(peer);
  double total_s = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    const std::uint64_t got = run();
    const double s = seconds_between(t0, Clock::now());
    state.SetIterationTime(s);
    total_s += s;
    if (got != expected_sum()) {
      fail(state, std::string(peer) + " parallel_for: wrong sum");
      return;
    }
  }
  const auto iters = static_cast<double>(state.iterations());
  if (iters <= 0) return;
  const double per = total_s / iters;
  state.counters["ns_per_iter"] = per * 1e9 / static_cast<double>(n);
  if (grain > 0)
    state.counters["ns_per_chunk"] = per * 1e9 / static_cast<double>((n + grain - 1) / grain);
  state.counters["workers"] = workers;
  record_speedup(state, std::string("pfor/") + peer + "/" + std::to_string(grain), workers, per);
}

void BM_pfor_weft(benchmark::State& state) {
  const std::int64_t grain = state.range(0);
  const auto workers = static_cast<unsigned>(state.range(1));
  const std::int64_t n = config().pfor_n;
  weft::Scheduler sched(weft::Options{.workers = workers, .stack_size = 64 * 1024});
  std::vector<Slot> slots(workers);
  (void)expected_sum();
  timed_loop(state, "weft", grain, workers, [&] {
    sched.run(pfor_weft, std::int64_t{0}, n, grain, slots.data());
    return drain(slots);
  });
}

void BM_pfor_tbb(benchmark::State& state) {
  const std::int64_t grain = state.range(0);
  const auto workers = static_cast<unsigned>(state.range(1));
  const std::int64_t n = config().pfor_n;
  tbb::task_arena arena(static_cast<int>(workers));
  arena.initialize();
  std::vector<Slot> slots(workers);
  (void)expected_sum();
  timed_loop(state, "tbb", grain, workers, [&] {
    arena.execute([&] {
      tbb::parallel_for(
          tbb::blocked_range<std::int64_t>(0, n, static_cast<std::size_t>(grain)),
          [&](const tbb::blocked_range<std::int64_t>& r) {
            const std::uint64_t s = body(r.begin(), r.end());
            const int idx = tbb::this_task_arena::current_thread_index();
            slots[static_cast<std::size_t>(idx)].sum.fetch_add(s, std::memory_order_relaxed);
          },
          tbb::simple_partitioner());
    });
    return drain(slots);
  });
}

#ifdef WEFT_BENCH_OPENMP
void BM_pfor_omp(benchmark::State& state) {
  const std::int64_t grain = state.range(0);
  const auto workers = static_cast<unsigned>(state.range(1));
  const std::int64_t n = config().pfor_n;
  (void)expected_sum();
  timed_loop(state, "omp", grain, workers, [&] {
    std::uint64_t s = 0;
#pragma omp parallel for schedule(dynamic, grain) num_threads(static_cast<int>(workers)) \
    reduction(+ : s)
    for (std::int64_t i = 0; i < n; ++i) s += mix64(static_cast<std::uint64_t>(i));
    return s;
  });
}
#endif

void BM_pfor_serial(benchmark::State& state) {
  const std::int64_t n = config().pfor_n;
  (void)expected_sum();
  timed_loop(state, "serial", 0, 1, [&] {
    const std::uint64_t s = body(0, n);
    benchmark::DoNotOptimize(s);
    return s;
  });
}

void grains_and_workers(benchmark::internal::Benchmark* b) {
  const auto max = static_cast<std::int64_t>(config().max_threads);
  b->ArgNames({"grain", "workers"});
  for (std::int64_t grain : {100, 1000, 10000, 100000}) {
    std::int64_t t = 1;
    for (; t < max; t *= 2) b->Args({grain, t});
    b->Args({grain, max});
    if (max < 2) b->Args({grain, 2});
  }
}

}  // namespace

void register_pfor_benchmarks() {
  auto reg = [](const char* name, void (*fn)(benchmark::State&)) {
    finish(benchmark::RegisterBenchmark(name, fn), 0.3)
        ->Apply(grains_and_workers)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  };
  reg("BM_parallel_for/weft", BM_pfor_weft);
  reg("BM_parallel_for/tbb", BM_pfor_tbb);
#ifdef WEFT_BENCH_OPENMP
  reg("BM_parallel_for/omp", BM_pfor_omp);
#endif
  finish(benchmark::RegisterBenchmark("BM_parallel_for/serial", BM_pfor_serial), 0.3)
      ->ArgNames({"grain", "workers"})
      ->Args({0, 1})
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace weft_bench
