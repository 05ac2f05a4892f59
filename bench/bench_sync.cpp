// Blocking primitives, each beside its thread-based peer in the same run:
//
//   BM_channel_pingpong/weft      two coroutines on one worker pass a token back and forth
//                                 through two weft::Channel<int>(1)
//   BM_channel_pingpong/threads   two std::threads doing the same through two queues built
//                                 from std::mutex + std::condition_variable
//   BM_mutex_contended/weft/N     N coroutines on 2 workers increment a counter under a
//                                 weft::Mutex
//   BM_mutex_contended/std/N      N std::threads doing the same under a std::mutex
//   BM_sleep_lateness/weft        weft::sleep_for(100us) in a coroutine: how late it wakes
//   BM_sleep_lateness/thread      std::this_thread::sleep_for(100us) on a plain thread with
//                                 the same 1 ns timer slack weft's workers use
//
// Counters: ns_per_msg (one-way), ns_per_lock (lock+unlock pair), late_us_p50/p99.
#include <benchmark/benchmark.h>
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>
#include <weft/channel.hpp>
#include <weft/mutex.hpp>
#include <weft/time.hpp>
#include <weft/weft.hpp>

#include "bench_common.hpp"

namespace weft_bench {
namespace {

std::int64_t messages() {
  return config().smoke ? 100 : 100000;
}
std::int64_t lock_ops() {
  return config().smoke ? 100 : 200000;
}
int sleeps() {
  return config().smoke ? 5 : 200;
}

// ---- channel ping-pong ----

void BM_channel_weft(benchmark::State& state) {
  const std::int64_t n = messages();
  weft::Scheduler sched(weft::Options{.workers = 1});
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
    state.counters["ns_per_msg"] = s * 1e9 / static_cast<double>(2 * n);
  }
  state.SetLabel("weft");
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

void BM_channel_threads(benchmark::State& state) {
  const std::int64_t n = messages();
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
    state.counters["ns_per_msg"] = s * 1e9 / static_cast<double>(2 * n);
  }
  state.SetLabel("threads");
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
  finish(benchmark::RegisterBenchmark("BM_channel_pingpong/weft", BM_channel_weft), 0.5)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  finish(benchmark::RegisterBenchmark("BM_channel_pingpong/threads", BM_channel_threads), 0.5)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
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
