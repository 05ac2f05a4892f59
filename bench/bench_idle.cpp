// SPDX-License-Identifier: Apache-2.0
// Workload 7: idle_wake — a pool of nproc workers with nothing to do (each sample comes
// after a ~2 ms sleep, so its workers have gone to sleep); a plain thread outside the pool
// hands it work and we time how long until that work starts running.
//
//   BM_idle_wake/weft/workers:N          sched.spawn(f) from the outside thread
//   BM_idle_wake/tbb/workers:N           tbb::task_arena(N).enqueue(f) from outside
//   BM_idle_wake/boost_fiber/workers:N   a fiber blocked in buffered_channel::pop on a
//                                        work_stealing(N, suspend=true) pool; the outside
//                                        thread pushes (fibers cannot be spawned onto
//                                        another thread's scheduler)
//   BM_idle_wake/boost_fiber_spin/...    the same with Boost.Fiber's default suspend=false
//
// Each iteration is a child process. Counters: p50_us / p99_us of the latency;
// wake_cpu_pct, the process's CPU time over the sampling window / its wall time (100 =
// one core busy); idle_cpu_pct, the same over 200 ms with no work at all after the
// samples (what an idle pool burns).
#include <benchmark/benchmark.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>
#include <weft/weft.hpp>

#include "bench_common.hpp"
#include "bench_fiber.hpp"

namespace weft_bench {
namespace {

constexpr auto kIdle = std::chrono::milliseconds(2);

// Runs `samples` rounds of: sleep kIdle, t0, submit(&t1_ns), wait until done; returns
// latencies in microseconds and the CPU share over the whole window.
struct Sampled {
  std::vector<double> us;
  double cpu_pct = 0;       // over the sampling window
  double idle_cpu_pct = 0;  // over a window without work
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// `submit(int64_t* start_ns, std::atomic<int>* done)`: make something in the pool write
// now_ns() to *start_ns and then set *done to 1 and notify it.
template <class Submit>
Sampled sample(int samples, Submit&& submit) {
  Sampled out;
  const double cpu0 = process_cpu_seconds();
  const auto w0 = Clock::now();
  for (int i = 0; i < samples; ++i) {
    std::this_thread::sleep_for(kIdle);
    std::int64_t started = 0;
    std::atomic<int> done{0};
    const std::int64_t t0 = now_ns();
    submit(&started, &done);
    while (done.load(std::memory_order_acquire) == 0) done.wait(0, std::memory_order_acquire);
    out.us.push_back(static_cast<double>(started - t0) / 1e3);
  }
  const double wall = seconds_between(w0, Clock::now());
  out.cpu_pct = (process_cpu_seconds() - cpu0) / wall * 100.0;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double cpu1 = process_cpu_seconds();
  const auto w1 = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(config().smoke ? 20 : 200));
  out.idle_cpu_pct = (process_cpu_seconds() - cpu1) / seconds_between(w1, Clock::now()) * 100.0;
  return out;
}

void mark(std::int64_t* started, std::atomic<int>* done) {
  *started = now_ns();
  done->store(1, std::memory_order_release);
  done->notify_one();
}

std::vector<ChildValue> idle_child(const ChildArgs& a) {
  const int samples = static_cast<int>(a.size);
  Sampled r;
  if (a.peer == "weft") {
    weft::Scheduler sched(weft::Options{.workers = a.workers});
    r = sample(samples,
               [&](std::int64_t* s, std::atomic<int>* d) { sched.spawn(mark, s, d).detach(); });
  } else if (a.peer == "tbb") {
    tbb::task_arena arena(static_cast<int>(a.workers));
    arena.initialize();
    r = sample(samples, [&](std::int64_t* s, std::atomic<int>* d) {
      arena.enqueue([s, d] { mark(s, d); });
    });
  } else if (a.peer == "boost_fiber" || a.peer == "boost_fiber_spin") {
    // The pool: all N threads are helpers; this (outside) thread only pushes.
    namespace bf = boost::fibers;
    struct Job {
      std::int64_t* started;
      std::atomic<int>* done;
    };
    bf::buffered_channel<Job> ch(64);
    const bool suspend = a.peer == "boost_fiber";
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < a.workers; ++i) {
      pool.emplace_back([&, i] {
        if (a.workers > 1)
          bf::use_scheduling_algorithm<bf::algo::work_stealing>(a.workers, suspend);
        if (i == 0) {
          bf::fiber receiver([&] {
            Job j{};
            while (ch.pop(j) == bf::channel_op_status::success) mark(j.started, j.done);
          });
          receiver.join();
        } else {
          // Keep this thread in the pool until the channel closes.
          Job j{};
          while (ch.pop(j) == bf::channel_op_status::success) mark(j.started, j.done);
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r = sample(samples, [&](std::int64_t* s, std::atomic<int>* d) { ch.push(Job{s, d}); });
    ch.close();
    for (auto& t : pool) t.join();
  } else {
    throw std::runtime_error("idle_wake: unknown peer " + a.peer);
  }
  std::sort(r.us.begin(), r.us.end());
  const double p50 = r.us[r.us.size() / 2];
  const double p99 = r.us[std::min(r.us.size() - 1, r.us.size() * 99 / 100)];
  return {{"seconds", p50 * 1e-6},
          {"p50_us", p50},
          {"p99_us", p99},
          {"wake_cpu_pct", r.cpu_pct},
          {"idle_cpu_pct", r.idle_cpu_pct},
          {"workers", static_cast<double>(a.workers)}};
}

const bool idle_job = add_child_job("idle_wake", idle_child);

}  // namespace

void register_idle_benchmarks() {
  const auto max = static_cast<std::int64_t>(config().max_threads);
  for (const char* peer : {"weft", "tbb", "boost_fiber", "boost_fiber_spin"}) {
    const std::string p = peer;
    benchmark::RegisterBenchmark(
        ("BM_idle_wake/" + p).c_str(),
        [p](benchmark::State& s) {
          run_child_iteration(
              s, "idle_wake",
              ChildArgs{p, static_cast<unsigned>(s.range(0)), config().idle_samples});
        })
        ->ArgName("workers")
        ->Arg(max)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace weft_bench
