// SPDX-License-Identifier: Apache-2.0
// Workload 2: spawn + join of an empty task on one thread, per task.
//
//   BM_spawn_join/weft              in one coroutine: weft::spawn(empty).join(), N times
//   BM_spawn_join/tbb               in a task_arena(1): task_group run(empty) + wait(), N times
//   BM_spawn_join/boost_fiber       on one thread: fiber(empty).join(), N times
//   BM_spawn_join/omp               in an OpenMP team of 1: omp task + taskwait, N times
//   BM_spawn_join/std_thread        std::thread(empty).join(), 1024 times (~10 us each)
//   BM_spawn_join_batch64/<peer>    the same, spawning 64 tasks before joining the 64 in
//                                   spawn order (weft_lifo_join: weft joining newest first)
//
// One iteration is N tasks; the time is taken inside the scheduler/arena (manual time).
// Counter ns_per_task is the figure to compare. weft runs with workers=1, so an unstarted
// child is run inline by join() (no stealing possible); switches_per_task shows that.
// Boost.Fiber fibers get a pooled 64 KiB stack, like weft's pooled 64 KiB stacks.
#include <benchmark/benchmark.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <array>
#include <boost/fiber/all.hpp>
#include <cstdint>
#include <thread>
#include <vector>
#include <weft/weft.hpp>

#include "bench_common.hpp"

namespace weft_bench {
namespace {

constexpr std::size_t kStack = 64 * 1024;

void empty_task() noexcept {}

void report(benchmark::State& state, const char* peer, double seconds, std::int64_t tasks) {
  state.SetLabel(peer);
  state.SetItemsProcessed(tasks);
  state.counters["ns_per_task"] = tasks > 0 ? seconds * 1e9 / static_cast<double>(tasks) : 0.0;
}

void report_weft_stats(benchmark::State& state, const weft::Stats& before, const weft::Stats& after,
                       std::int64_t tasks) {
  if (tasks <= 0) return;
  state.counters["switches_per_task"] =
      static_cast<double>(after.switches - before.switches) / static_cast<double>(tasks);
}

// ---- weft -----------------------------------------------------------------------------

enum class Mode { kSingle, kBatch, kBatchLifo };

template <Mode M>
void BM_spawn_join_weft(benchmark::State& state) {
  const std::int64_t n = config().spawns;
  weft::Scheduler sched(weft::Options{.workers = 1, .stack_size = kStack});
  const weft::Stats before = sched.stats();
  double total_s = 0;
  std::int64_t total = 0;
  for (auto _ : state) {
    const double s = sched.run([n] {
      const auto t0 = Clock::now();
      if constexpr (M == Mode::kBatch) {
        std::array<weft::Task<void>, kBatch> tasks;
        for (std::int64_t r = 0; r < n / kBatch; ++r) {
          for (auto& t : tasks) t = weft::spawn(empty_task);
          for (auto& t : tasks) t.join();
        }
      } else if constexpr (M == Mode::kBatchLifo) {
        std::array<weft::Task<void>, kBatch> tasks;
        for (std::int64_t r = 0; r < n / kBatch; ++r) {
          for (auto& t : tasks) t = weft::spawn(empty_task);
          for (auto it = tasks.rbegin(); it != tasks.rend(); ++it) it->join();
        }
      } else {
        for (std::int64_t i = 0; i < n; ++i) weft::spawn(empty_task).join();
      }
      return seconds_between(t0, Clock::now());
    });
    state.SetIterationTime(s);
    total_s += s;
    total += n;
  }
  const weft::Stats after = sched.stats();
  report(state, "weft", total_s, total);
  report_weft_stats(state, before, after, total);
  // Each iteration spawns its n tasks plus the coroutine that runs them.
  const auto expected =
      static_cast<std::uint64_t>(total) + static_cast<std::uint64_t>(state.iterations());
  if (after.spawned - before.spawned != expected)
    fail(state, "weft spawn+join: Stats::spawned does not match the tasks spawned");
}

// ---- oneTBB ---------------------------------------------------------------------------

template <bool Batch>
void BM_spawn_join_tbb(benchmark::State& state) {
  const std::int64_t n = config().spawns;
  tbb::task_arena arena(1);  // one slot, taken by this thread: no TBB worker joins
  arena.initialize();
  double total_s = 0;
  std::int64_t total = 0;
  for (auto _ : state) {
    const double s = arena.execute([n] {
      tbb::task_group tg;
      const auto t0 = Clock::now();
      if constexpr (Batch) {
        for (std::int64_t r = 0; r < n / kBatch; ++r) {
          for (std::int64_t i = 0; i < kBatch; ++i) tg.run(empty_task);
          tg.wait();
        }
      } else {
        for (std::int64_t i = 0; i < n; ++i) {
          tg.run(empty_task);
          tg.wait();
        }
      }
      return seconds_between(t0, Clock::now());
    });
    state.SetIterationTime(s);
    total_s += s;
    total += n;
  }
  report(state, "tbb", total_s, total);
}

// ---- Boost.Fiber ----------------------------------------------------------------------

template <bool Batch>
void BM_spawn_join_boost_fiber(benchmark::State& state) {
  const std::int64_t n = config().spawns;
  boost::fibers::pooled_fixedsize_stack salloc(kStack);
  double total_s = 0;
  std::int64_t total = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    if constexpr (Batch) {
      std::array<boost::fibers::fiber, kBatch> fibers;
      for (std::int64_t r = 0; r < n / kBatch; ++r) {
        for (auto& f : fibers) f = boost::fibers::fiber(std::allocator_arg, salloc, empty_task);
        for (auto& f : fibers) f.join();
      }
    } else {
      for (std::int64_t i = 0; i < n; ++i)
        boost::fibers::fiber(std::allocator_arg, salloc, empty_task).join();
    }
    const double s = seconds_between(t0, Clock::now());
    state.SetIterationTime(s);
    total_s += s;
    total += n;
  }
  report(state, "boost_fiber", total_s, total);
}

// ---- OpenMP tasks ----------------------------------------------------------------------

#ifdef WEFT_BENCH_OPENMP
template <bool Batch>
void BM_spawn_join_omp(benchmark::State& state) {
  const std::int64_t n = config().spawns;
  double total_s = 0;
  std::int64_t total = 0;
  for (auto _ : state) {
    double s = 0;
#pragma omp parallel num_threads(1) default(shared)
    {
#pragma omp single
      {
        const auto t0 = Clock::now();
        if constexpr (Batch) {
          for (std::int64_t r = 0; r < n / kBatch; ++r) {
            for (std::int64_t i = 0; i < kBatch; ++i) {
#pragma omp task
              empty_task();
            }
#pragma omp taskwait
          }
        } else {
          for (std::int64_t i = 0; i < n; ++i) {
#pragma omp task
            empty_task();
#pragma omp taskwait
          }
        }
        s = seconds_between(t0, Clock::now());
      }
    }
    state.SetIterationTime(s);
    total_s += s;
    total += n;
  }
  report(state, "omp", total_s, total);
}
#endif

// ---- std::thread ------------------------------------------------------------------------

template <bool Batch>
void BM_spawn_join_thread(benchmark::State& state) {
  const std::int64_t n = config().thread_spawns;
  double total_s = 0;
  std::int64_t total = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    if constexpr (Batch) {
      std::vector<std::thread> ts;
      ts.reserve(kBatch);
      for (std::int64_t r = 0; r < std::max<std::int64_t>(1, n / kBatch); ++r) {
        for (std::int64_t i = 0; i < kBatch; ++i) ts.emplace_back(empty_task);
        for (auto& t : ts) t.join();
        ts.clear();
      }
    } else {
      for (std::int64_t i = 0; i < n; ++i) std::thread(empty_task).join();
    }
    const double s = seconds_between(t0, Clock::now());
    state.SetIterationTime(s);
    total_s += s;
    total += Batch ? std::max<std::int64_t>(1, n / kBatch) * kBatch : n;
  }
  report(state, "std_thread", total_s, total);
}

}  // namespace

void register_spawn_benchmarks() {
  auto reg = [](const char* name, void (*fn)(benchmark::State&)) {
    finish(benchmark::RegisterBenchmark(name, fn), 0.2)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  };
  reg("BM_spawn_join/weft", BM_spawn_join_weft<Mode::kSingle>);
  reg("BM_spawn_join/tbb", BM_spawn_join_tbb<false>);
  reg("BM_spawn_join/boost_fiber", BM_spawn_join_boost_fiber<false>);
#ifdef WEFT_BENCH_OPENMP
  reg("BM_spawn_join/omp", BM_spawn_join_omp<false>);
#endif
  reg("BM_spawn_join/std_thread", BM_spawn_join_thread<false>);
  reg("BM_spawn_join_batch64/weft", BM_spawn_join_weft<Mode::kBatch>);
  // Joining newest-first, the order a work-stealing deque pops in.
  reg("BM_spawn_join_batch64/weft_lifo_join", BM_spawn_join_weft<Mode::kBatchLifo>);
  reg("BM_spawn_join_batch64/tbb", BM_spawn_join_tbb<true>);
  reg("BM_spawn_join_batch64/boost_fiber", BM_spawn_join_boost_fiber<true>);
#ifdef WEFT_BENCH_OPENMP
  reg("BM_spawn_join_batch64/omp", BM_spawn_join_omp<true>);
#endif
  reg("BM_spawn_join_batch64/std_thread", BM_spawn_join_thread<true>);
}

}  // namespace weft_bench
