// SPDX-License-Identifier: Apache-2.0
// Workload 11: fork-join through weft::TaskGroup beside weft::spawn/join, oneTBB's
// task_group, OpenMP tasks and the serial floor (issue #10's kernels), each run in a fresh
// child process that warms up once and reports the median of config().child_runs runs
// and its peak RSS:
//
//   BM_fj_fib/<peer>/workers:W       fib(30), a child per call, no cutoff
//   BM_fj_skynet/<peer>/workers:W    skynet(1M), 10-ary, children joined in spawn order
//   BM_fj_nqueens/<peer>/workers:W   nqueens(12) BOTS-style: a child per safe column with
//                                    its own copy of the board prefix
//   BM_fj_pfor/<peer>/workers:W      10M cheap iterations (a splitmix64 hash, summed per
//                                    worker): weft/tbb automatic partitioning, and each
//                                    at its best hand-picked grain of a sweep (grain
//                                    counter); OpenMP taskloop
//   BM_fj_reduce/<peer>/workers:W    the same sum through parallel_reduce
//   BM_fj_spawn_empty/<peer>         spawn + wait of an empty child on one worker, never
//                                    stolen (ns_per_spawn)
// peers: serial, weft_group (TaskGroup), weft_spawn (weft::spawn + join), tbb, omp, and for
// fib, skynet and nqueens serial_elision. Those kernels are fork_join_kernels.hpp's (shared
// with bench_fib.cpp and bench_skynet.cpp), with two floors: serial, the plain recursion a
// user would write, and serial_elision, the TaskGroup kernel with each spawn a plain call
// and no wait (the same result array and board copies): the runtime's overhead over the
// same algorithm. The pfor/reduce floor is the plain loop.
#include <benchmark/benchmark.h>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_reduce.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>
#include <weft/weft.hpp>

#include "bench_common.hpp"
#include "fork_join_kernels.hpp"

namespace weft_bench {
namespace {

// ---- parallel_for / reduce ----
struct alignas(64) Partial {
  std::uint64_t v = 0;
};

constexpr int kMaxThreads = 256;
std::atomic<int> g_next_slot{0};
// This thread's slot of a per-thread array (threads of every pool in this process).
inline int thread_slot() {
  thread_local const int slot = g_next_slot.fetch_add(1) % kMaxThreads;
  return slot;
}

std::uint64_t pfor_expected(std::int64_t n) {
  std::uint64_t s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += mix64(static_cast<std::uint64_t>(i));
  return s;
}

// One kernel run in the current process for `peer` with `workers`: the checked result.
using Kernel = std::function<std::int64_t()>;

// Runs `make(peer, workers)`'s kernel once to warm up, then child_runs times; checks each
// result against `expected`; returns the median seconds.
double median_checked(const Kernel& k, std::int64_t expected) {
  if (k() != expected) throw std::runtime_error("wrong result in warm-up");
  return median_of_runs([&] {
    const auto t0 = Clock::now();
    const std::int64_t r = k();
    const double s = seconds_between(t0, Clock::now());
    if (r != expected) throw std::runtime_error("wrong result");
    return s;
  });
}

// Wraps a kernel body into a pool of `workers` for `peer` and measures it.
template <class WeftBody, class TbbBody, class OmpBody, class SerialBody>
double measure(const ChildArgs& a, std::int64_t expected, WeftBody weft_body, TbbBody tbb_body,
               [[maybe_unused]] OmpBody omp_body, SerialBody serial_body) {
  if (a.peer == "serial" || a.peer == "serial_elision") {
    return median_checked(serial_body, expected);
  }
  if (a.peer == "weft_group" || a.peer == "weft_spawn") {
    weft::Scheduler s(weft::Options{.workers = a.workers, .stack_size = 64 * 1024});
    return median_checked([&] { return s.run(weft_body); }, expected);
  }
  if (a.peer == "tbb") {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, a.workers);
    tbb::task_arena arena(static_cast<int>(a.workers));
    return median_checked([&] { return arena.execute(tbb_body); }, expected);
  }
#ifdef WEFT_BENCH_OPENMP
  if (a.peer == "omp") {
    return median_checked(
        [&] {
          std::int64_t r = 0;
#pragma omp parallel num_threads(static_cast <int>(a.workers)) default(shared)
          {
#pragma omp single
            r = omp_body();
          }
          return r;
        },
        expected);
  }
#endif
  throw std::runtime_error("unknown peer " + a.peer);
}

const Board kEmptyBoard{};
constexpr std::int64_t kQueens12 = 14200;

std::vector<ChildValue> fj_job(const std::string& kernel, const ChildArgs& a) {
  const bool group = a.peer == "weft_group";
  const bool elision = a.peer == "serial_elision";
  double s = 0;
  if (kernel == "fib") {
    const int n = config().fib_n;
    s = measure(
        a, fib_serial(n), [&] { return group ? fib_task_group(n) : fib_spawn_join(n); },
        [&] { return fib_tbb(n); },
        [&] {
#ifdef WEFT_BENCH_OPENMP
          return fib_omp(n);
#else
          return std::int64_t{0};
#endif
        },
        [&] { return elision ? fib_serial_elision(n) : fib_serial(n); });
  } else if (kernel == "skynet") {
    const std::int64_t n = config().skynet_leaves;
    const std::int64_t want = n * (n - 1) / 2;
    s = measure(
        a, want, [&] { return group ? skynet_task_group(0, n) : skynet_spawn_join(0, n); },
        [&] { return skynet_tbb(0, n); },
        [&] {
#ifdef WEFT_BENCH_OPENMP
          return skynet_omp(0, n);
#else
          return std::int64_t{0};
#endif
        },
        [&] { return elision ? skynet_serial_elision(0, n) : skynet_serial(0, n); });
  } else if (kernel == "nqueens") {
    const int n = config().smoke ? 8 : 12;
    const std::int64_t want = config().smoke ? 92 : kQueens12;
    s = measure(
        a, want,
        [&] {
          return group ? nqueens_task_group(n, 0, kEmptyBoard)
                       : nqueens_spawn_join(n, 0, kEmptyBoard);
        },
        [&] { return nqueens_tbb(n, 0, kEmptyBoard); },
        [&] {
#ifdef WEFT_BENCH_OPENMP
          return nqueens_omp(n, 0, kEmptyBoard);
#else
          return std::int64_t{0};
#endif
        },
        [&] {
          return elision ? nqueens_serial_elision(n, 0, kEmptyBoard)
                         : nqueens_serial(n, 0, kEmptyBoard);
        });
  }
  return {{"seconds", s}};
}

// parallel_for and parallel_reduce: `a.size` is the grain (0: automatic partitioning).
std::vector<ChildValue> loop_job(bool reduce, const ChildArgs& a) {
  const std::int64_t n = config().pfor_n;
  const auto want = static_cast<std::int64_t>(pfor_expected(n));
  const std::int64_t grain = a.size;
  // Every peer runs the same per-index body: hash the index, add it to this thread's own
  // padded slot (a thread_local index, so no call per iteration).
  std::vector<Partial> part(kMaxThreads);
  auto weft_body = [&]() -> std::int64_t {
    if (reduce) {
      auto f = [](std::int64_t lo, std::int64_t hi, std::uint64_t acc) {
        for (std::int64_t i = lo; i < hi; ++i) acc += mix64(static_cast<std::uint64_t>(i));
        return acc;
      };
      auto plus = [](std::uint64_t x, std::uint64_t y) { return x + y; };
      return static_cast<std::int64_t>(
          grain ? weft::parallel_reduce(std::int64_t{0}, n, grain, std::uint64_t{0}, f, plus)
                : weft::parallel_reduce(std::int64_t{0}, n, std::uint64_t{0}, f, plus));
    }
    for (auto& p : part) p.v = 0;
    auto body = [&part](std::int64_t i) {
      part[thread_slot()].v += mix64(static_cast<std::uint64_t>(i));
    };
    if (grain) {
      weft::parallel_for(std::int64_t{0}, n, grain, body);
    } else {
      weft::parallel_for(std::int64_t{0}, n, body);
    }
    std::uint64_t s = 0;
    for (auto& p : part) s += p.v;
    return static_cast<std::int64_t>(s);
  };
  auto tbb_body = [&]() -> std::int64_t {
    if (reduce) {
      auto f = [](const tbb::blocked_range<std::int64_t>& r, std::uint64_t acc) {
        for (std::int64_t i = r.begin(); i < r.end(); ++i)
          acc += mix64(static_cast<std::uint64_t>(i));
        return acc;
      };
      auto plus = [](std::uint64_t x, std::uint64_t y) { return x + y; };
      if (grain) {
        return static_cast<std::int64_t>(
            tbb::parallel_reduce(tbb::blocked_range<std::int64_t>(0, n, grain), std::uint64_t{0}, f,
                                 plus, tbb::simple_partitioner()));
      }
      return static_cast<std::int64_t>(tbb::parallel_reduce(tbb::blocked_range<std::int64_t>(0, n),
                                                            std::uint64_t{0}, f, plus,
                                                            tbb::auto_partitioner()));
    }
    for (auto& p : part) p.v = 0;
    auto body = [&part](std::int64_t i) {
      part[thread_slot()].v += mix64(static_cast<std::uint64_t>(i));
    };
    if (grain) {
      tbb::parallel_for(
          tbb::blocked_range<std::int64_t>(0, n, grain),
          [&body](const tbb::blocked_range<std::int64_t>& r) {
            for (std::int64_t i = r.begin(); i < r.end(); ++i) body(i);
          },
          tbb::simple_partitioner());
    } else {
      tbb::parallel_for(std::int64_t{0}, n, body);  // the index form: auto_partitioner
    }
    std::uint64_t s = 0;
    for (auto& p : part) s += p.v;
    return static_cast<std::int64_t>(s);
  };
  auto omp_body = [&]() -> std::int64_t {
    std::uint64_t s = 0;
#ifdef WEFT_BENCH_OPENMP
    // Unsigned throughout: clang's taskloop lowering compares the bound with an unsigned
    // trip count (-Wsign-compare).
    const auto count = static_cast<std::uint64_t>(n);
#pragma omp taskloop reduction(+ : s)
    for (std::uint64_t i = 0; i < count; ++i) s += mix64(i);
#endif
    return static_cast<std::int64_t>(s);
  };
  auto serial_body = [&]() -> std::int64_t {
    if (reduce) return static_cast<std::int64_t>(pfor_expected(n));
    for (auto& p : part) p.v = 0;
    for (std::int64_t i = 0; i < n; ++i)
      part[thread_slot()].v += mix64(static_cast<std::uint64_t>(i));
    std::uint64_t s = 0;
    for (auto& p : part) s += p.v;
    return static_cast<std::int64_t>(s);
  };
  return {{"seconds", measure(a, want, weft_body, tbb_body, omp_body, serial_body)}};
}

const bool jobs_added = [] {
  for (const char* k : {"fib", "skynet", "nqueens"}) {
    add_child_job(std::string("fj_") + k, [k](const ChildArgs& a) { return fj_job(k, a); });
  }
  add_child_job("fj_pfor", [](const ChildArgs& a) { return loop_job(false, a); });
  add_child_job("fj_reduce", [](const ChildArgs& a) { return loop_job(true, a); });
  return true;
}();

void BM_child(benchmark::State& state, const std::string& job, const std::string& peer,
              std::int64_t size) {
  const auto workers = static_cast<unsigned>(state.range(0));
  run_child_iteration(state, job, ChildArgs{peer, workers, size});
  if (state.iterations() > 0 && !state.error_occurred()) {
    state.counters["workers"] = workers;
    if (size) state.counters["grain"] = static_cast<double>(size);
  }
}

// Spawn + wait of one empty child, never stolen (one worker).
void BM_spawn_empty(benchmark::State& state, bool group) {
  weft::Scheduler s(weft::Options{.workers = 1});
  constexpr int kPerRun = 100000;
  for (auto _ : state) {
    const double secs = s.run([group] {
      const auto t0 = Clock::now();
      for (int i = 0; i < kPerRun; ++i) {
        if (group) {
          weft::TaskGroup g;
          g.spawn([] {});
          g.wait();
        } else {
          weft::spawn([] {}).join();
        }
      }
      return seconds_between(t0, Clock::now());
    });
    state.SetIterationTime(secs);
    state.counters["ns_per_spawn"] = secs * 1e9 / kPerRun;
  }
}
void BM_spawn_empty_tbb(benchmark::State& state) {
  tbb::task_arena arena(1);
  constexpr int kPerRun = 100000;
  for (auto _ : state) {
    const double secs = arena.execute([] {
      const auto t0 = Clock::now();
      for (int i = 0; i < kPerRun; ++i) {
        tbb::task_group g;
        g.run([] {});
        g.wait();
      }
      return seconds_between(t0, Clock::now());
    });
    state.SetIterationTime(secs);
    state.counters["ns_per_spawn"] = secs * 1e9 / kPerRun;
  }
}

}  // namespace

void register_forkjoin_benchmarks() {
  std::vector<std::string> peers = {"serial", "weft_group", "weft_spawn", "tbb"};
#ifdef WEFT_BENCH_OPENMP
  peers.push_back("omp");
#endif
  auto reg = [](const std::string& name, const std::string& job, const std::string& peer,
                std::int64_t size) {
    auto* b = benchmark::RegisterBenchmark(
        name.c_str(), [job, peer, size](benchmark::State& s) { BM_child(s, job, peer, size); });
    if (peer == "serial" || peer == "serial_elision") {
      b->ArgName("workers")->Arg(1);
    } else {
      b->Apply(worker_sweep);
    }
    b->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
  };
  for (const char* k : {"fib", "skynet", "nqueens"}) {
    for (const auto& p : peers)
      reg(std::string("BM_fj_") + k + "/" + p, std::string("fj_") + k, p, 0);
    reg(std::string("BM_fj_") + k + "/serial_elision", std::string("fj_") + k, "serial_elision", 0);
  }
  for (const char* k : {"pfor", "reduce"}) {
    for (const char* p : {"serial", "weft_group", "tbb"}) {
      reg(std::string("BM_fj_") + k + "/" + p, std::string("fj_") + k, p, 0);
    }
#ifdef WEFT_BENCH_OPENMP
    if (std::string(k) == "pfor") reg("BM_fj_pfor/omp_taskloop", "fj_pfor", "omp", 0);
#endif
    // Hand-picked grains: the best of these is weft's (and tbb's) "best grain" row.
    for (std::int64_t g : {1024, 16384, 262144}) {
      for (const char* p : {"weft_group", "tbb"}) {
        reg(std::string("BM_fj_") + k + "/" + p + "/grain:" + std::to_string(g),
            std::string("fj_") + k, p, g);
      }
    }
  }
  for (bool group : {true, false}) {
    finish(benchmark::RegisterBenchmark(
               group ? "BM_fj_spawn_empty/weft_group" : "BM_fj_spawn_empty/weft_spawn",
               [group](benchmark::State& s) { BM_spawn_empty(s, group); }),
           0.2)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
  finish(benchmark::RegisterBenchmark("BM_fj_spawn_empty/tbb", BM_spawn_empty_tbb), 0.2)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace weft_bench
