// SPDX-License-Identifier: Apache-2.0
// Blocking primitives, each beside its thread-based peer in the same run:
//
//   BM_mutex_contended/weft/N     N coroutines on 2 workers increment a counter under a
//                                 weft::Mutex
//   BM_mutex_contended/std/N      N std::threads doing the same under a std::mutex
//   BM_sleep_lateness/weft        weft::sleep_for(100us) in a coroutine: how late it wakes
//   BM_sleep_lateness/thread      std::this_thread::sleep_for(100us) on a plain thread with
//                                 the same 1 ns timer slack weft's workers use
//
// (The channel ping-pong is workload 6, bench_pingpong.cpp.)
// Counters: ns_per_lock (lock+unlock pair), late_us_p50/p99.
#include <benchmark/benchmark.h>
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>
#include <weft/mutex.hpp>
#include <weft/time.hpp>
#include <weft/weft.hpp>

#include "bench_common.hpp"

namespace weft_bench {
namespace {

std::int64_t lock_ops() {
  return config().smoke ? 100 : 200000;
}
int sleeps() {
  return config().smoke ? 5 : 200;
}

// ---- contended mutex ----

void BM_mutex_weft(benchmark::State& state) {
  const int parties = static_cast<int>(state.range(0));
  const std::int64_t per = lock_ops() / parties;
  weft::Scheduler sched(weft::Options{.workers = 2});
  for (auto _ : state) {
    weft::Mutex mu;
    std::int64_t counter = 0;
    const double s = sched.run([&] {
      const auto t0 = Clock::now();
      std::vector<weft::Task<void>> ts;
      for (int p = 0; p < parties; ++p) {
        ts.push_back(weft::spawn([&] {
          for (std::int64_t i = 0; i < per; ++i) {
            std::lock_guard lock(mu);
            ++counter;
          }
        }));
      }
      for (auto& t : ts) t.join();
      return seconds_between(t0, Clock::now());
    });
    if (counter != per * parties) {
      fail(state, "weft mutex: lost increments");
      break;
    }
    state.SetIterationTime(s);
    state.counters["ns_per_lock"] = s * 1e9 / static_cast<double>(per * parties);
  }
  state.SetLabel("weft");
}

void BM_mutex_std(benchmark::State& state) {
  const int parties = static_cast<int>(state.range(0));
  const std::int64_t per = lock_ops() / parties;
  for (auto _ : state) {
    std::mutex mu;
    std::int64_t counter = 0;
    const auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int p = 0; p < parties; ++p) {
      ts.emplace_back([&] {
        for (std::int64_t i = 0; i < per; ++i) {
          std::lock_guard lock(mu);
          ++counter;
        }
      });
    }
    for (auto& t : ts) t.join();
    const double s = seconds_between(t0, Clock::now());
    if (counter != per * parties) {
      fail(state, "std::mutex: lost increments");
      break;
    }
    state.SetIterationTime(s);
    state.counters["ns_per_lock"] = s * 1e9 / static_cast<double>(per * parties);
  }
  state.SetLabel("std");
}

// ---- timer accuracy ----

void report_lateness(benchmark::State& state, std::vector<double>& late_us) {
  std::sort(late_us.begin(), late_us.end());
  state.counters["late_us_p50"] = late_us[late_us.size() / 2];
  state.counters["late_us_p99"] = late_us[late_us.size() * 99 / 100];
}

constexpr auto kSleep = std::chrono::microseconds(100);

template <class SleepFn>
std::vector<double> measure_sleeps(int n, SleepFn&& sleep_fn) {
  std::vector<double> late;
  late.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    sleep_fn();
    late.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0 - kSleep).count());
  }
  return late;
}

void BM_sleep_weft(benchmark::State& state) {
  weft::Scheduler sched(weft::Options{.workers = 2});
  for (auto _ : state) {
    const auto t0 = Clock::now();
    auto late = sched.run([] { return measure_sleeps(sleeps(), [] { weft::sleep_for(kSleep); }); });
    state.SetIterationTime(seconds_between(t0, Clock::now()));
    report_lateness(state, late);
  }
  state.SetLabel("weft");
}

void BM_sleep_thread(benchmark::State& state) {
  for (auto _ : state) {
    const auto t0 = Clock::now();
    std::vector<double> late;
    std::thread t([&] {
      prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
      late = measure_sleeps(sleeps(), [] { std::this_thread::sleep_for(kSleep); });
    });
    t.join();
    state.SetIterationTime(seconds_between(t0, Clock::now()));
    report_lateness(state, late);
  }
  state.SetLabel("thread");
}

}  // namespace

void register_sync_benchmarks() {
  for (int parties : {2, 8}) {
    finish(benchmark::RegisterBenchmark("BM_mutex_contended/weft", BM_mutex_weft), 0.5)
        ->Arg(parties)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    finish(benchmark::RegisterBenchmark("BM_mutex_contended/std", BM_mutex_std), 0.5)
        ->Arg(parties)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  finish(benchmark::RegisterBenchmark("BM_sleep_lateness/weft", BM_sleep_weft), 0.2)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  finish(benchmark::RegisterBenchmark("BM_sleep_lateness/thread", BM_sleep_thread), 0.2)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace weft_bench
