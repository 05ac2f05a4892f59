// SPDX-License-Identifier: Apache-2.0
// mutex: coroutines and plain threads increment counters under weft::Mutex with every way
// of locking (lock, try_lock, try_lock_for with short timeouts, unique_lock), sometimes
// suspending while they hold it; then a CondVar-guarded bounded queue with producers and
// consumers of both kinds, notify_one/notify_all and timed waits. Checks: mutual exclusion
// (an "inside" flag), the counter total, every item consumed once, the queue sum.
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

struct Counter {
  weft::Mutex mu;
  std::atomic<int> inside{0};
  std::uint64_t value = 0;                                  // guarded by mu (TSan checks that too)
  std::atomic<std::chrono::steady_clock::rep> progress{0};  // the last acquisition
};

void lock_somehow(Counter& c, Rng& rng) {
  switch (rng.below(4)) {
    case 0:
      c.mu.lock();
      return;
    case 1: {
      const auto t0 = std::chrono::steady_clock::now();
      for (std::uint64_t turn = 0; !c.mu.try_lock(); ++turn) {
        STRESS_CHECK(std::chrono::steady_clock::now() - t0 < kWaitLimit,
                     "try_lock() failed for %lld s", static_cast<long long>(kWaitLimit.count()));
        expect_progress(c.progress, "the counter's Mutex");
        spin_pause(turn);
      }
      return;
    }
    default: {
      const auto t0 = std::chrono::steady_clock::now();
      while (!c.mu.try_lock_for(std::chrono::microseconds(rng.range(1, 500)))) {
        STRESS_CHECK(std::chrono::steady_clock::now() - t0 < kWaitLimit,
                     "try_lock_for() kept timing out for %lld s (lost hand-off?)",
                     static_cast<long long>(kWaitLimit.count()));
        expect_progress(c.progress, "the counter's Mutex");
      }
      return;
    }
  }
}

void increment(Counter& c, Rng& rng) {
  lock_somehow(c, rng);
  STRESS_CHECK(c.inside.fetch_add(1) == 0, "two holders inside one weft::Mutex");
  stamp(c.progress);
  const std::uint64_t v = c.value;
  const unsigned pause = static_cast<unsigned>(rng.below(20));
  if (pause == 0) weft::yield();  // suspended while holding the mutex
  if (pause == 1) weft::sleep_for(std::chrono::microseconds(rng.below(100)));
  c.value = v + 1;
  c.inside.fetch_sub(1);
  c.mu.unlock();
}

struct Queue {
  weft::Mutex mu;
  weft::CondVar not_empty, not_full;
  std::deque<std::uint64_t> items;
  std::size_t cap = 1;
  bool closed = false;
};

}  // namespace

void run_mutex(Round& r) {
  Rng rng(r.seed);
  // Part 1: the counter.
  {
    phase("mutex: counter");
    Counter c;
    stamp(c.progress);
    const std::uint64_t ncoro = rng.range(2, kTsan ? 64 : 256);
    const unsigned nthreads = static_cast<unsigned>(rng.range(0, 2));
    const std::uint64_t each = std::max<std::uint64_t>(1, r.ops / 2 / (ncoro + nthreads));
    std::vector<weft::Task<void>> tasks;
    for (std::uint64_t i = 0; i < ncoro; ++i) {
      tasks.push_back(go(r.sched, [&c, each, seed = rng.next()] {
        Rng crng(seed);
        for (std::uint64_t k = 0; k < each; ++k) increment(c, crng);
      }));
    }
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < nthreads; ++t) {
      threads.emplace_back([&c, each, seed = rng.next()] {
        Rng trng(seed);
        for (std::uint64_t k = 0; k < each; ++k) increment(c, trng);
      });
    }
    for (auto& t : threads) t.join();
    for (auto& t : tasks) t.join();
    const std::uint64_t expect = (ncoro + nthreads) * each;
    STRESS_CHECK(c.value == expect, "Mutex counter %" PRIu64 " != %" PRIu64 " increments", c.value,
                 expect);
    STRESS_CHECK(c.mu.try_lock(), "the Mutex is still locked after every holder left");
    c.mu.unlock();
    bool threw = false;
    try {
      c.mu.unlock();
    } catch (const std::logic_error&) {
      threw = true;
    }
    STRESS_CHECK(threw, "unlock() of an unlocked Mutex did not throw std::logic_error");
    add_ops(expect);
  }
  // Part 2: the CondVar queue.
  {
    phase("mutex: condvar queue");
    Queue q;
    q.cap = rng.range(1, 16);
    const std::uint64_t nprod = rng.range(1, kTsan ? 16 : 64);
    const std::uint64_t ncons = rng.range(1, kTsan ? 16 : 64);
    const std::uint64_t each = std::max<std::uint64_t>(1, r.ops / 2 / nprod);
    const bool thread_producer = rng.chance(30);
    const bool thread_consumer = rng.chance(30);
    std::atomic<std::uint64_t> got{0}, sum{0};
    auto produce = [&q, each](std::uint64_t p, std::uint64_t seed) {
      Rng prng(seed);
      for (std::uint64_t k = 0; k < each; ++k) {
        std::unique_lock lock(q.mu);
        const bool ok =
            prng.chance(50)
                ? q.not_full.wait_for(lock, kWaitLimit, [&q] { return q.items.size() < q.cap; })
                : q.not_full.wait_until(lock, std::chrono::steady_clock::now() + kWaitLimit,
                                        [&q] { return q.items.size() < q.cap; });
        STRESS_CHECK(ok, "a producer waited %lld s for room in a CondVar queue (lost notify?)",
                     static_cast<long long>(kWaitLimit.count()));
        q.items.push_back(mix(p * each + k));
        if (prng.chance(10)) {
          q.not_empty.notify_all();
        } else {
          q.not_empty.notify_one();
        }
      }
    };
    auto consume = [&q, &got, &sum](std::uint64_t seed) {
      Rng crng(seed);
      std::unique_lock lock(q.mu);
      for (;;) {
        if (crng.chance(50)) {
          STRESS_CHECK(
              q.not_empty.wait_for(lock, kWaitLimit, [&q] { return !q.items.empty() || q.closed; }),
              "a consumer waited %lld s on a CondVar queue (lost notify?)",
              static_cast<long long>(kWaitLimit.count()));
        } else {
          // Short timed waits in a loop: timeouts racing notifications.
          const auto t0 = std::chrono::steady_clock::now();
          while (q.items.empty() && !q.closed) {
            q.not_empty.wait_for(lock, std::chrono::microseconds(crng.range(1, 300)));
            STRESS_CHECK(std::chrono::steady_clock::now() - t0 < kWaitLimit,
                         "a consumer found nothing for %lld s",
                         static_cast<long long>(kWaitLimit.count()));
          }
        }
        if (q.items.empty()) return;  // closed and drained
        sum.fetch_add(q.items.front(), std::memory_order_relaxed);
        got.fetch_add(1, std::memory_order_relaxed);
        q.items.pop_front();
        q.not_full.notify_one();
      }
    };
    std::vector<weft::Task<void>> producers, consumers;
    std::vector<std::thread> threads;
    for (std::uint64_t p = 0; p < nprod; ++p) {
      if (p == 0 && thread_producer) {
        threads.emplace_back(produce, p, rng.next());
      } else {
        producers.push_back(go(r.sched, [produce, p, seed = rng.next()] { produce(p, seed); }));
      }
    }
    for (std::uint64_t c = 0; c < ncons; ++c) {
      if (c == 0 && thread_consumer) {
        threads.emplace_back(consume, rng.next());
      } else {
        consumers.push_back(go(r.sched, [consume, seed = rng.next()] { consume(seed); }));
      }
    }
    for (auto& t : producers) t.join();
    if (thread_producer) threads.front().join();
    {
      std::lock_guard lock(q.mu);
      q.closed = true;
    }
    q.not_empty.notify_all();
    for (auto& t : consumers) t.join();
    for (std::size_t i = thread_producer ? 1 : 0; i < threads.size(); ++i) threads[i].join();
    std::uint64_t expect_sum = 0;
    for (std::uint64_t i = 0; i < nprod * each; ++i) expect_sum += mix(i);
    STRESS_CHECK(got.load() == nprod * each && q.items.empty(),
                 "CondVar queue: %" PRIu64 " items consumed, %zu left, %" PRIu64 " produced",
                 got.load(), q.items.size(), nprod * each);
    STRESS_CHECK(sum.load() == expect_sum, "CondVar queue: sum %" PRIu64 " != %" PRIu64, sum.load(),
                 expect_sum);
    add_ops(nprod * each);
  }
}

}  // namespace stress
