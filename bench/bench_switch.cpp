// SPDX-License-Identifier: Apache-2.0
// Workload 1a: the raw one-way context switch, no scheduler around it.
//
//   BM_switch/weft            weft's assembly switcher (weft_switch, src/context.hpp) between
//                             the benchmark thread and a context on a 64 KiB mmap'ed stack
//   BM_switch/boost_context   boost::context::fiber resume between the same two parties
//
// One iteration is config().switches round trips (there and back = two one-way switches).
// Both switchers save and restore the callee-saved registers and the FP control words
// (MXCSR, x87 CW). Counter ns_per_switch is the time per one-way switch.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <boost/context/fiber.hpp>
#include <cstdint>
#include <memory>
#include <utility>

#include "bench_common.hpp"
#include "context.hpp"  // weft's switcher (src/)

namespace weft_bench {
namespace {

constexpr std::size_t kStack = 64 * 1024;

void report(benchmark::State& state, const char* peer, double seconds, std::int64_t switches) {
  state.SetLabel(peer);
  state.SetItemsProcessed(switches);
  state.counters["ns_per_switch"] =
      switches > 0 ? seconds * 1e9 / static_cast<double>(switches) : 0.0;
}

// ---- weft ----

struct RawPair {
  void* main_sp = nullptr;
  void* co_sp = nullptr;
};

// Entry of the context: switch straight back, forever (it is simply abandoned at the end;
// nothing on its stack needs destroying).
void bounce(void* transfer) {
  auto* p = static_cast<RawPair*>(transfer);
  for (;;) p = static_cast<RawPair*>(weft_switch(&p->co_sp, p->main_sp, p));
}

void BM_switch_weft(benchmark::State& state) {
  const std::int64_t n = config().switches;
  void* mem = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    fail(state, "mmap failed");
    return;
  }
  RawPair p;
  p.co_sp = weft::detail::make_context(static_cast<char*>(mem) + kStack, bounce);
  weft_switch(&p.main_sp, p.co_sp, &p);  // enter it once: it is now parked in its loop
  double total_s = 0;
  std::int64_t total = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    for (std::int64_t i = 0; i < n; ++i) weft_switch(&p.main_sp, p.co_sp, &p);
    const double s = seconds_between(t0, Clock::now());
    state.SetIterationTime(s);
    total_s += s;
    total += 2 * n;
  }
  report(state, "weft", total_s, total);
  munmap(mem, kStack);
}

// ---- Boost.Context ----

namespace ctx = boost::context;

void BM_switch_boost_context(benchmark::State& state) {
  const std::int64_t n = config().switches;
  bool stop = false;
  ctx::fiber f(std::allocator_arg, ctx::fixedsize_stack(kStack), [&stop](ctx::fiber&& main) {
    while (!stop) main = std::move(main).resume();
    return std::move(main);
  });
  f = std::move(f).resume();  // enter it once
  double total_s = 0;
  std::int64_t total = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    for (std::int64_t i = 0; i < n; ++i) f = std::move(f).resume();
    const double s = seconds_between(t0, Clock::now());
    state.SetIterationTime(s);
    total_s += s;
    total += 2 * n;
  }
  stop = true;
  f = std::move(f).resume();  // lets it return
  report(state, "boost_context", total_s, total);
}

}  // namespace

void register_switch_benchmarks() {
  finish(benchmark::RegisterBenchmark("BM_switch/weft", BM_switch_weft), 0.2)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  finish(benchmark::RegisterBenchmark("BM_switch/boost_context", BM_switch_boost_context), 0.2)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace weft_bench
