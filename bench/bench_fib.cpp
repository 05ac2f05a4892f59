// Workload 3: fib(30) with a spawn per call, on 1, 2, 4, ... hardware_concurrency threads.
//
//   fib(n) = n < 2 ? n : spawn fib(n-1); fib(n-2) inline; join
//
//   BM_fib/weft/<workers>     weft::Scheduler{workers}, sched.run(fib, n) from main
//   BM_fib/tbb/<threads>      tbb::task_group per call, inside tbb::task_arena(threads)
//   BM_fib/serial/1           plain recursion, for scale (no spawns)
//
// One iteration is one fib(n), timed on the wall clock (ms). A wrong result stops the
// benchmark with SkipWithError. weft also reports steals/parks per fib from its Stats.
#include <benchmark/benchmark.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <cstdint>
#include <string>
#include <weft/weft.hpp>

#include "bench_common.hpp"

namespace weft_bench {
namespace {

std::int64_t fib_weft(int n) {
  if (n < 2) return n;
  auto t = weft::spawn(fib_weft, n - 1);
  const std::int64_t b = fib_weft(n - 2);
  return t.join() + b;
}

std::int64_t fib_tbb(int n) {
  if (n < 2) return n;
  std::int64_t a = 0;
  tbb::task_group tg;
  tg.run([&a, n] { a = fib_tbb(n - 1); });
  const std::int64_t b = fib_tbb(n - 2);
  tg.wait();
  return a + b;
}

// Not constexpr-folded: n comes from the environment at run time.
std::int64_t fib_plain(int n) {
  return n < 2 ? n : fib_plain(n - 1) + fib_plain(n - 2);
}

bool check(benchmark::State& state, std::int64_t got, const char* peer) {
  if (got == config().fib_expected) return true;
  const std::string msg = std::string(peer) + ": fib(" + std::to_string(config().fib_n) +
                          ") returned " + std::to_string(got) + ", expected " +
                          std::to_string(config().fib_expected);
  fail(state, msg);
  return false;
}

void BM_fib_weft(benchmark::State& state) {
  const int n = config().fib_n;
  const auto workers = static_cast<unsigned>(state.range(0));
  weft::Scheduler sched(weft::Options{.workers = workers, .stack_size = 64 * 1024});
  state.SetLabel("weft");
  const weft::Stats before = sched.stats();
  for (auto _ : state) {
    const std::int64_t r = sched.run(fib_weft, n);
    if (!check(state, r, "weft")) break;
  }
  const weft::Stats after = sched.stats();
  const auto iters = static_cast<double>(state.iterations());
  state.counters["workers"] = static_cast<double>(sched.workers());
  if (iters > 0) {
    state.counters["spawned"] = static_cast<double>(after.spawned - before.spawned) / iters;
    state.counters["steals"] = static_cast<double>(after.steals - before.steals) / iters;
    state.counters["parks"] = static_cast<double>(after.parks - before.parks) / iters;
    state.counters["switches"] = static_cast<double>(after.switches - before.switches) / iters;
  }
}

void BM_fib_tbb(benchmark::State& state) {
  const int n = config().fib_n;
  const auto threads = static_cast<int>(state.range(0));
  tbb::task_arena arena(threads);
  arena.initialize();
  state.SetLabel("tbb");
  for (auto _ : state) {
    const std::int64_t r = arena.execute([n] { return fib_tbb(n); });
    if (!check(state, r, "tbb")) break;
  }
  state.counters["workers"] = static_cast<double>(arena.max_concurrency());
}

void BM_fib_serial(benchmark::State& state) {
  const int n = config().fib_n;
  state.SetLabel("serial");
  for (auto _ : state) {
    const std::int64_t r = fib_plain(n);
    benchmark::DoNotOptimize(r);
    if (!check(state, r, "serial")) break;
  }
  state.counters["workers"] = 1;
}

void thread_counts(benchmark::internal::Benchmark* b) {
  const auto max = static_cast<std::int64_t>(config().max_threads);
  std::int64_t t = 1;
  for (; t < max; t *= 2) b->Arg(t);
  b->Arg(max);
  if (max < 2) b->Arg(2);  // always measure the 2-thread case
}

}  // namespace

void register_fib_benchmarks() {
  finish(benchmark::RegisterBenchmark("BM_fib/weft", BM_fib_weft), 0.5)
      ->Apply(thread_counts)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  finish(benchmark::RegisterBenchmark("BM_fib/tbb", BM_fib_tbb), 0.5)
      ->Apply(thread_counts)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  finish(benchmark::RegisterBenchmark("BM_fib/serial", BM_fib_serial), 0.5)
      ->Arg(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace weft_bench
