// SPDX-License-Identifier: Apache-2.0
// Workload 8: live — create 1,000,000 coroutines that all suspend at once, then release
// them: memory (RSS) and time.
//
//   BM_live/weft/count:1000000/workers:N        a coroutine spawns N coroutines (16 KiB
//                                               stacks) that each count themselves started
//                                               on a WaitGroup and wait on one weft::Event;
//                                               when all are suspended the Event is set and
//                                               every Task joined
//   BM_live/boost_fiber/count:100000/workers:1  the same with Boost.Fiber fibers (16 KiB
//                                               fixedsize stacks) waiting on a fiber
//                                               condition variable; 100,000 (at ~1M they
//                                               would need gigabytes)
//
// Each iteration is a child process. Counters: create_ms (spawn until all suspended),
// release_ms (set until all joined), live_rss_MiB (RSS growth while all are suspended,
// /proc/self/statm), KiB_per_coroutine, ns_per_coroutine (create+release / count),
// peak_rss_MiB (the child's VmHWM).
#include <benchmark/benchmark.h>

#include <boost/fiber/all.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>
#include <weft/weft.hpp>

#include "bench_common.hpp"

namespace weft_bench {
namespace {

constexpr std::size_t kStack = 16 * 1024;

std::vector<ChildValue> live_child(const ChildArgs& a) {
  const std::int64_t n = a.size;
  const long base_kib = current_rss_kib();
  double create_s = 0, release_s = 0;
  long live_kib = 0;
  if (a.peer == "weft") {
    weft::Scheduler sched(weft::Options{.workers = a.workers, .stack_size = kStack});
    sched.run([&] {
      weft::WaitGroup started;
      weft::Event go;
      std::vector<weft::Task<void>> tasks;
      tasks.reserve(static_cast<std::size_t>(n));
      started.add(n);
      const auto t0 = Clock::now();
      for (std::int64_t i = 0; i < n; ++i) {
        tasks.push_back(weft::spawn([&started, &go] {
          started.done();
          go.wait();
        }));
      }
      started.wait();
      const auto t1 = Clock::now();
      live_kib = current_rss_kib();
      const auto t2 = Clock::now();
      go.set();
      for (auto& t : tasks) t.join();
      const auto t3 = Clock::now();
      create_s = seconds_between(t0, t1);
      release_s = seconds_between(t2, t3);
    });
  } else if (a.peer == "boost_fiber") {
    namespace bf = boost::fibers;
    bf::fixedsize_stack salloc(kStack);
    bf::mutex mu;
    bf::condition_variable_any cv;
    bool go = false;
    std::int64_t started = 0;
    std::vector<bf::fiber> fibers;
    fibers.reserve(static_cast<std::size_t>(n));
    const auto t0 = Clock::now();
    for (std::int64_t i = 0; i < n; ++i) {
      fibers.emplace_back(std::allocator_arg, salloc, [&] {
        std::unique_lock<bf::mutex> lock(mu);
        ++started;
        cv.wait(lock, [&] { return go; });
      });
    }
    while (started < n) boost::this_fiber::yield();
    const auto t1 = Clock::now();
    live_kib = current_rss_kib();
    const auto t2 = Clock::now();
    {
      std::unique_lock<bf::mutex> lock(mu);
      go = true;
    }
    cv.notify_all();
    for (auto& f : fibers) f.join();
    const auto t3 = Clock::now();
    create_s = seconds_between(t0, t1);
    release_s = seconds_between(t2, t3);
  } else {
    throw std::runtime_error("live: unknown peer " + a.peer);
  }
  const double live_mib = static_cast<double>(live_kib - base_kib) / 1024.0;
  return {{"seconds", create_s + release_s},
          {"create_ms", create_s * 1e3},
          {"release_ms", release_s * 1e3},
          {"live_rss_MiB", live_mib},
          {"KiB_per_coroutine", live_mib * 1024.0 / static_cast<double>(n)},
          {"ns_per_coroutine", (create_s + release_s) * 1e9 / static_cast<double>(n)},
          {"workers", static_cast<double>(a.workers)}};
}

const bool live_job = add_child_job("live", live_child);

void BM_live(benchmark::State& state, const std::string& peer) {
  run_child_iteration(state, "live",
                      ChildArgs{peer, static_cast<unsigned>(state.range(1)), state.range(0)});
}

}  // namespace

void register_live_benchmarks() {
  const auto max = static_cast<std::int64_t>(config().max_threads);
  benchmark::RegisterBenchmark("BM_live/weft", [](benchmark::State& s) { BM_live(s, "weft"); })
      ->ArgNames({"count", "workers"})
      ->Args({config().live, max})
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_live/boost_fiber",
                               [](benchmark::State& s) { BM_live(s, "boost_fiber"); })
      ->ArgNames({"count", "workers"})
      ->Args({config().live_fiber, 1})
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace weft_bench
