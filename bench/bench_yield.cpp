// SPDX-License-Identifier: Apache-2.0
// Workload 1: yield ping-pong between two coroutines on one worker thread.
//
//   BM_yield_pingpong/weft          two coroutines each call weft::yield() N times (workers=1)
//   BM_yield_pingpong/weft_yield_to the same, handing over with weft::yield_to(other)
//   BM_yield_pingpong/boost_fiber   two Boost.Fiber fibers each call this_fiber::yield() N times
//
// One iteration is one round of 2*N yields; the time is taken inside the scheduler (manual
// time), so the cost of entering it from main() is not counted. Counters: ns_per_yield
// (the figure to compare) and, for weft, switches_per_yield from Scheduler::stats().
#include <benchmark/benchmark.h>

#include <boost/fiber/all.hpp>
#include <cstdint>
#include <weft/weft.hpp>

#include "bench_common.hpp"

namespace weft_bench {
namespace {

struct Round {
  double seconds = 0;
  bool ok = false;
};

void yielder(std::int64_t n, std::int64_t* done) {
  for (std::int64_t i = 0; i < n; ++i) {
    weft::yield();
    ++*done;
  }
}

void report(benchmark::State& state, const char* peer, double seconds, std::int64_t yields) {
  state.SetLabel(peer);
  state.SetItemsProcessed(yields);
  state.counters["ns_per_yield"] = yields > 0 ? seconds * 1e9 / static_cast<double>(yields) : 0.0;
}

// Runs `round(n)` in a coroutine of a one-worker scheduler once per iteration (n yields
// per coroutine, two coroutines) and reports ns per yield and switches per yield.
template <class RoundFn>
void weft_pingpong(benchmark::State& state, const char* failure, RoundFn round) {
  const std::int64_t n = config().yields;
  weft::Scheduler sched(weft::Options{.workers = 1, .stack_size = 64 * 1024});
  const weft::Stats before = sched.stats();
  double total_s = 0;
  std::int64_t total_yields = 0;
  for (auto _ : state) {
    const Round r = sched.run(round, n);
    if (!r.ok) {
      fail(state, failure);
      break;
    }
    state.SetIterationTime(r.seconds);
    total_s += r.seconds;
    total_yields += 2 * n;
  }
  report(state, "weft", total_s, total_yields);
  const weft::Stats after = sched.stats();
  if (total_yields > 0)
    state.counters["switches_per_yield"] =
        static_cast<double>(after.switches - before.switches) / static_cast<double>(total_yields);
}

void BM_yield_weft(benchmark::State& state) {
  weft_pingpong(state, "weft ping-pong: a coroutine did not complete its yields",
                [](std::int64_t n) {
                  std::int64_t done_a = 0, done_b = 0;
                  const auto t0 = Clock::now();
                  auto a = weft::spawn(yielder, n, &done_a);
                  auto b = weft::spawn(yielder, n, &done_b);
                  weft::yield();  // let both start on their own stacks, not inline in join()
                  a.join();
                  b.join();
                  const auto t1 = Clock::now();
                  return Round{seconds_between(t0, t1), done_a == n && done_b == n};
                });
}

// Each coroutine hands the thread straight to the other. The parent only polls (with
// yield) until both are done before joining, so that neither Task handle is consumed
// while the other coroutine may still name it in yield_to.
struct Pair {
  weft::Task<void> task[2];
  std::int64_t done[2] = {0, 0};
};

void yield_to_other(Pair* p, int self, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    weft::yield_to(p->task[1 - self]);
    ++p->done[self];
  }
}

void BM_yield_to_weft(benchmark::State& state) {
  weft_pingpong(state, "weft yield_to ping-pong: a coroutine did not complete its yields",
                [](std::int64_t n) {
                  Pair p;
                  const auto t0 = Clock::now();
                  // One worker: the parent keeps running until it suspends, so both handles
                  // are in place before either coroutine starts.
                  p.task[0] = weft::spawn(yield_to_other, &p, 0, n);
                  p.task[1] = weft::spawn(yield_to_other, &p, 1, n);
                  while (!p.task[0].done() || !p.task[1].done()) weft::yield();
                  p.task[0].join();
                  p.task[1].join();
                  const auto t1 = Clock::now();
                  return Round{seconds_between(t0, t1), p.done[0] == n && p.done[1] == n};
                });
}

void fiber_yielder(std::int64_t n, std::int64_t* done) {
  for (std::int64_t i = 0; i < n; ++i) {
    boost::this_fiber::yield();
    ++*done;
  }
}

void BM_yield_boost_fiber(benchmark::State& state) {
  const std::int64_t n = config().yields;
  double total_s = 0;
  std::int64_t total_yields = 0;
  // Runs on the benchmark thread with Boost.Fiber's default round-robin scheduler; the
  // main fiber blocks in join(), so the two fibers alternate.
  for (auto _ : state) {
    std::int64_t done_a = 0, done_b = 0;
    const auto t0 = Clock::now();
    boost::fibers::fiber a(fiber_yielder, n, &done_a);
    boost::fibers::fiber b(fiber_yielder, n, &done_b);
    a.join();
    b.join();
    const auto t1 = Clock::now();
    if (done_a != n || done_b != n) {
      fail(state, "boost.fiber ping-pong: a fiber did not complete its yields");
      break;
    }
    const double s = seconds_between(t0, t1);
    state.SetIterationTime(s);
    total_s += s;
    total_yields += 2 * n;
  }
  report(state, "boost_fiber", total_s, total_yields);
}

}  // namespace

void register_yield_benchmarks() {
  finish(benchmark::RegisterBenchmark("BM_yield_pingpong/weft", BM_yield_weft), 0.2)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  finish(benchmark::RegisterBenchmark("BM_yield_pingpong/weft_yield_to", BM_yield_to_weft), 0.2)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  finish(benchmark::RegisterBenchmark("BM_yield_pingpong/boost_fiber", BM_yield_boost_fiber), 0.2)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace weft_bench
