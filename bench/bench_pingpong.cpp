// SPDX-License-Identifier: Apache-2.0
// Workload 6: pingpong — two parties pass a token back and forth through a pair of
// one-slot channels, 1,000,000 passes (one-way messages) per iteration.
//
//   BM_pingpong/weft/workers:1          two coroutines on one worker, weft::Channel<int>(1)
//   BM_pingpong/weft/workers:2          the same on 2 workers (a coroutine cannot be pinned
//                                       to a worker: a woken coroutine runs next on its
//                                       waker's worker unless another worker steals it;
//                                       the counter steals_per_msg says how often that is)
//   BM_pingpong/boost_fiber/workers:W   two fibers, buffered_channel<int>(2) (one slot);
//                                       W=1 round_robin, W=2 work_stealing(2, suspend=true)
//                                       in a child process
//   BM_pingpong/std_thread/workers:2    two std::threads, a mutex+condvar queue each way,
//                                       100,000 passes (each costs microseconds)
//
// Counter ns_per_msg = time / passes (one-way).
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include "bench_common.hpp"
#include "bench_fiber.hpp"

namespace weft_bench {
namespace {

void BM_pingpong_weft(benchmark::State& state) {
  const std::int64_t n = config().pingpong / 2;  // round trips
  const auto workers = static_cast<unsigned>(state.range(0));
  weft::Scheduler sched(weft::Options{.workers = workers});
  const weft::Stats before = sched.stats();
  double total_s = 0;
  for (auto _ : state) {
    const double s = sched.run([n] {
      weft::Channel<int> ping(1), pong(1);
      const auto t0 = Clock::now();
      auto echo = weft::spawn([&] {
        while (auto v = ping.recv()) pong.send(*v);
      });
      for (std::int64_t i = 0; i < n; ++i) {
        ping.send(static_cast<int>(i));
        pong.recv();
      }
      ping.close();
      echo.join();
      return seconds_between(t0, Clock::now());
    });
    state.SetIterationTime(s);
    total_s += s;
  }
  const weft::Stats after = sched.stats();
  state.SetLabel("weft");
  const double msgs = static_cast<double>(state.iterations()) * static_cast<double>(2 * n);
  if (msgs > 0) {
    state.counters["ns_per_msg"] = total_s * 1e9 / msgs;
    state.counters["steals_per_msg"] = static_cast<double>(after.steals - before.steals) / msgs;
  }
  state.counters["workers"] = workers;
}

// Boost.Fiber, in a child process.
const bool pingpong_fiber_job = add_child_job("pingpong_fiber", [](const ChildArgs& a) {
  const std::int64_t n = a.size / 2;
  const double s = with_fiber_pool(a.workers, true, [&] {
    return median_of_runs([&] {
      using Ch = boost::fibers::buffered_channel<int>;
      Ch ping(2), pong(2);
      const auto t0 = Clock::now();
      boost::fibers::fiber echo([&] {
        int v = 0;
        while (ping.pop(v) == boost::fibers::channel_op_status::success) pong.push(v);
      });
      for (std::int64_t i = 0; i < n; ++i) {
        ping.push(static_cast<int>(i));
        int v = 0;
        pong.pop(v);
      }
      ping.close();
      echo.join();
      return seconds_between(t0, Clock::now());
    });
  });
  return std::vector<ChildValue>{{"seconds", s},
                                 {"ns_per_msg", s * 1e9 / static_cast<double>(2 * n)},
                                 {"workers", static_cast<double>(a.workers)}};
});

void BM_pingpong_fiber(benchmark::State& state) {
  const auto workers = static_cast<unsigned>(state.range(0));
  run_child_iteration(state, "pingpong_fiber",
                      ChildArgs{"boost_fiber", workers, config().pingpong});
}

// The usual thread-to-thread queue: a deque under a mutex, a condvar to wait on.
template <class T>
class ThreadQueue {
 public:
  void push(T v) {
    {
      std::lock_guard lock(mu_);
      q_.push_back(v);
    }
    cv_.notify_one();
  }
  T pop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !q_.empty(); });
    T v = q_.front();
    q_.pop_front();
    return v;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> q_;
};

void BM_pingpong_threads(benchmark::State& state) {
  const std::int64_t n = config().pingpong_threads / 2;
  double total_s = 0;
  for (auto _ : state) {
    ThreadQueue<std::int64_t> ping, pong;
    std::thread echo([&] {
      for (;;) {
        const std::int64_t v = ping.pop();
        if (v < 0) return;
        pong.push(v);
      }
    });
    const auto t0 = Clock::now();
    for (std::int64_t i = 0; i < n; ++i) {
      ping.push(i);
      pong.pop();
    }
    const double s = seconds_between(t0, Clock::now());
    ping.push(-1);
    echo.join();
    state.SetIterationTime(s);
    total_s += s;
  }
  state.SetLabel("std_thread");
  const double msgs = static_cast<double>(state.iterations()) * static_cast<double>(2 * n);
  if (msgs > 0) state.counters["ns_per_msg"] = total_s * 1e9 / msgs;
  state.counters["workers"] = 2;
}

}  // namespace

void register_pingpong_benchmarks() {
  finish(benchmark::RegisterBenchmark("BM_pingpong/weft", BM_pingpong_weft), 0.3)
      ->ArgName("workers")
      ->Arg(1)
      ->Arg(2)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_pingpong/boost_fiber", BM_pingpong_fiber)
      ->ArgName("workers")
      ->Arg(1)
      ->Arg(2)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  finish(benchmark::RegisterBenchmark("BM_pingpong/std_thread", BM_pingpong_threads), 0.3)
      ->ArgName("workers")
      ->Arg(2)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace weft_bench
