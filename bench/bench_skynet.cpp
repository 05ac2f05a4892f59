// SPDX-License-Identifier: Apache-2.0
// Workload 4: skynet — a 10-ary tree of spawns whose 1,000,000 leaves return their index;
// every node spawns its ten children and sums them (no serial cutoff).
//
//   BM_skynet/<peer>/leaves:1000000/workers:W    peers: weft (spawn per node), tbb
//                                               (task_group per node), omp (omp task per
//                                               child + taskwait), serial (the plain
//                                               recursion with a running sum)
//   BM_skynet/<peer>/leaves:100000/workers:W     the same with 100k leaves, where Boost.Fiber
//                                               (a fiber per node, 64 KiB fixedsize stacks,
//                                               work_stealing(W, suspend=true)) joins in
//   BM_skynet/<peer>/leaves:10000000/workers:N   the 10M tree on all workers
//
// Each iteration is a fresh child process (run_child) that builds its pool, runs the tree
// once to warm up, then up to 3 times, and reports the median; its peak RSS (VmHWM, the
// whole process including the libraries) is the counter peak_rss_MiB, and base_rss_MiB is
// the child's RSS before the pool was built.
// The kernels but Boost.Fiber's are fork_join_kernels.hpp's, shared with bench_forkjoin.cpp.
#include <benchmark/benchmark.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <weft/weft.hpp>

#include "bench_common.hpp"
#include "bench_fiber.hpp"
#include "fork_join_kernels.hpp"

namespace weft_bench {
namespace {

std::int64_t skynet_fiber(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  const std::int64_t sub = size / 10;
  std::array<std::int64_t, 10> r{};
  std::array<boost::fibers::fiber, 10> kids;
  for (int i = 0; i < 10; ++i)
    kids[i] = boost::fibers::fiber(std::allocator_arg, boost::fibers::fixedsize_stack(64 * 1024),
                                   [&r, i, num, sub] { r[i] = skynet_fiber(num + i * sub, sub); });
  for (auto& k : kids) k.join();
  std::int64_t sum = 0;
  for (auto v : r) sum += v;
  return sum;
}

// Nodes of the tree (every node is one task).
double nodes_of(std::int64_t leaves) {
  double n = 0;
  for (std::int64_t s = leaves; s >= 1; s /= 10) n += static_cast<double>(leaves / s);
  return n;
}

template <class Run>
double timed(std::int64_t leaves, Run&& run) {
  std::int64_t got = 0;
  const double s = median_of_runs([&] {
    const auto t0 = Clock::now();
    got = run();
    return seconds_between(t0, Clock::now());
  });
  if (got != leaves * (leaves - 1) / 2) throw std::runtime_error("skynet: wrong sum");
  return s;
}

std::vector<ChildValue> skynet_child(const ChildArgs& a) {
  const std::int64_t leaves = a.size;
  const double base_mib = static_cast<double>(current_rss_kib()) / 1024.0;
  double s = 0;
  if (a.peer == "weft") {
    weft::Scheduler sched(weft::Options{.workers = a.workers, .stack_size = 64 * 1024});
    s = timed(leaves, [&] { return sched.run(skynet_spawn_join, 0, leaves); });
  } else if (a.peer == "tbb") {
    tbb::task_arena arena(static_cast<int>(a.workers));
    s = timed(leaves, [&] { return arena.execute([&] { return skynet_tbb(0, leaves); }); });
#ifdef WEFT_BENCH_OPENMP
  } else if (a.peer == "omp") {
    s = timed(leaves, [&] {
      std::int64_t r = 0;
#pragma omp parallel num_threads(static_cast <int>(a.workers)) default(shared)
      {
#pragma omp single
        r = skynet_omp(0, leaves);
      }
      return r;
    });
#endif
  } else if (a.peer == "boost_fiber") {
    s = with_fiber_pool(a.workers, true,
                        [&] { return timed(leaves, [&] { return skynet_fiber(0, leaves); }); });
  } else if (a.peer == "serial") {
    s = timed(leaves, [&] {
      const std::int64_t r = skynet_serial(0, leaves);
      benchmark::DoNotOptimize(r);
      return r;
    });
  } else {
    throw std::runtime_error("skynet: unknown peer " + a.peer);
  }
  return {{"seconds", s},
          {"ns_per_task", s * 1e9 / nodes_of(leaves)},
          {"base_rss_MiB", base_mib},
          {"workers", static_cast<double>(a.workers)}};
}

const bool skynet_job = add_child_job("skynet", skynet_child);

void BM_skynet(benchmark::State& state, const std::string& peer) {
  const std::int64_t leaves = state.range(0);
  const auto workers = static_cast<unsigned>(state.range(1));
  run_child_iteration(state, "skynet", ChildArgs{peer, workers, leaves});
  if (state.iterations() > 0 && !state.error_occurred())
    record_speedup(state, "skynet/" + peer + "/" + std::to_string(leaves), workers,
                   state.counters["ns_per_task"].value * nodes_of(leaves) * 1e-9);
}

}  // namespace

void register_skynet_benchmarks() {
  const std::int64_t leaves = config().skynet_leaves;
  const std::int64_t small = config().skynet_small;
  const std::int64_t big = config().skynet_big;
  const auto max = static_cast<std::int64_t>(config().max_threads);
  std::vector<std::string> peers = {"weft", "tbb"};
#ifdef WEFT_BENCH_OPENMP
  peers.push_back("omp");
#endif
  auto reg = [](const std::string& peer) {
    return benchmark::RegisterBenchmark(("BM_skynet/" + peer).c_str(),
                                        [peer](benchmark::State& s) { BM_skynet(s, peer); })
        ->ArgNames({"leaves", "workers"})
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  };
  auto sweep = [max](benchmark::internal::Benchmark* b, std::int64_t n) {
    std::int64_t t = 1;
    for (; t < max; t *= 2) b->Args({n, t});
    b->Args({n, max});
    if (max < 2) b->Args({n, 2});
  };
  // 1M leaves: every peer but Boost.Fiber, on 1..N workers.
  for (const auto& peer : peers) sweep(reg(peer), leaves);
  reg("serial")->Args({leaves, 1});
  // 100k leaves: Boost.Fiber (all 111,111 fibers are alive at once under its FIFO
  // scheduling, each with a malloc'ed 64 KiB stack: ~10 GiB and ~25 s at 1M here), beside
  // the others at the same size.
  for (const auto& peer : peers) reg(peer)->Args({small, max});
  sweep(reg("boost_fiber"), small);
  reg("serial")->Args({small, 1});
  // 10M leaves, on all workers.
  for (const auto& peer : peers) reg(peer)->Args({big, max});
  reg("serial")->Args({big, 1});
}

}  // namespace weft_bench
