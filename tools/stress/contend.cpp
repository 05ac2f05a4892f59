// SPDX-License-Identifier: Apache-2.0
// contend: plain threads and coroutines contend on one Mutex and one Channel at once, while
// some coroutines only poll (try_lock / try_recv + weft::yield(), no sleep) and lockers
// sometimes yield inside the critical section. A waiter woken by a plain thread must still
// get to run behind the pollers' yield loops. Checks: mutual exclusion (an "inside" flag),
// the exact critical-section counter, every sent value received exactly once, the sums.
// Every wait is bounded by kWaitLimit, so a starved waiter is reported, not hung on; and a
// poller reports a livelock much sooner, once its object made no progress for kStallLimit.
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

using Clock = std::chrono::steady_clock;

struct Shared {
  weft::Mutex mu;
  std::atomic<int> inside{0};
  std::uint64_t counter = 0;                               // guarded by mu
  std::atomic<Clock::rep> mu_progress{0}, ch_progress{0};  // last acquisition, last take

  explicit Shared(std::size_t cap) : ch(cap) {}
  weft::Channel<std::uint64_t> ch;
  std::unique_ptr<std::atomic<std::uint8_t>[]> seen;
  std::atomic<std::uint64_t> received{0}, sum{0};
};

void critical_section(Shared& s, Rng& rng) {
  STRESS_CHECK(s.inside.fetch_add(1) == 0, "two holders inside one weft::Mutex");
  stamp(s.mu_progress);
  const std::uint64_t v = s.counter;
  if (weft::in_coroutine() && rng.chance(10)) weft::yield();  // holds it suspended
  s.counter = v + 1;
  s.inside.fetch_sub(1);
  s.mu.unlock();
}

// A blocking locker (coroutine or thread): lock with a bounded wait.
void lock_blocking(Shared& s) {
  STRESS_CHECK(s.mu.try_lock_for(kWaitLimit),
               "a locker waited %lld s for the Mutex (a woken owner that never ran?)",
               static_cast<long long>(kWaitLimit.count()));
}

// A polling coroutine: try_lock + yield only.
void lock_polling(Shared& s) {
  const auto t0 = std::chrono::steady_clock::now();
  while (!s.mu.try_lock()) {
    STRESS_CHECK(std::chrono::steady_clock::now() - t0 < kWaitLimit,
                 "try_lock() + yield() failed for %lld s (livelock?)",
                 static_cast<long long>(kWaitLimit.count()));
    expect_progress(s.mu_progress, "the Mutex");
    weft::yield();
  }
}

void take(Shared& s, std::uint64_t v) {
  STRESS_CHECK(s.seen[v].fetch_add(1, std::memory_order_relaxed) == 0,
               "value %" PRIu64 " received twice", v);
  s.received.fetch_add(1, std::memory_order_relaxed);
  stamp(s.ch_progress);
  s.sum.fetch_add(mix(v), std::memory_order_relaxed);
}

// A blocking consumer: recv_for until closed and drained.
void consume_blocking(Shared& s) {
  for (;;) {
    if (std::optional<std::uint64_t> v = s.ch.recv_for(kWaitLimit)) {
      take(s, *v);
      continue;
    }
    STRESS_CHECK(s.ch.closed(), "recv_for() waited %lld s on an open channel (lost wake-up?)",
                 static_cast<long long>(kWaitLimit.count()));
    return;  // closed and drained: recv_for() returns nullopt at once only then
  }
}

// A polling consumer coroutine: try_recv + yield only.
void consume_polling(Shared& s) {
  auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    // closed() first: once it is seen, no send can still add a value, so an empty
    // try_recv() after it means drained.
    const bool closed = s.ch.closed();
    if (std::optional<std::uint64_t> v = s.ch.try_recv()) {
      take(s, *v);
      t0 = std::chrono::steady_clock::now();
      continue;
    }
    if (closed) return;
    STRESS_CHECK(std::chrono::steady_clock::now() - t0 < kWaitLimit,
                 "try_recv() + yield() found nothing for %lld s (livelock?)",
                 static_cast<long long>(kWaitLimit.count()));
    expect_progress(s.ch_progress, "the Channel");
    weft::yield();
  }
}

void produce(Shared& s, std::uint64_t first, std::uint64_t n) {
  for (std::uint64_t v = first; v < first + n; ++v) {
    STRESS_CHECK(s.ch.send_for(v, kWaitLimit),
                 "send_for() waited %lld s (a woken receiver that never ran?)",
                 static_cast<long long>(kWaitLimit.count()));
  }
}

}  // namespace

void run_contend(Round& r) {
  Rng rng(r.seed);
  static constexpr std::size_t kCaps[] = {0, 0, 1, 4};
  Shared s(kCaps[rng.below(std::size(kCaps))]);

  // Mutex: blocking coroutines, polling coroutines and plain threads.
  const std::uint64_t nblock = rng.range(1, kTsan ? 16 : 64);
  const std::uint64_t npoll = rng.range(1, kTsan ? 8 : 32);
  const unsigned nthreads = static_cast<unsigned>(rng.range(1, 2));
  const std::uint64_t lockers = nblock + npoll + nthreads;
  const std::uint64_t each = std::max<std::uint64_t>(1, r.ops / 2 / lockers);
  // Channel: producers of both kinds, blocking and polling consumers of both kinds.
  const std::uint64_t nprod = rng.range(1, kTsan ? 8 : 32);
  const unsigned thread_prods = static_cast<unsigned>(rng.range(0, 1));
  const std::uint64_t per_prod = std::max<std::uint64_t>(1, r.ops / 2 / (nprod + thread_prods));
  const std::uint64_t total = (nprod + thread_prods) * per_prod;
  const std::uint64_t ncons = rng.range(1, kTsan ? 8 : 16);
  const std::uint64_t npollcons = rng.range(1, kTsan ? 4 : 16);
  const unsigned thread_cons = static_cast<unsigned>(rng.range(0, 1));
  s.seen.reset(new std::atomic<std::uint8_t>[total]);
  for (std::uint64_t i = 0; i < total; ++i) s.seen[i].store(0, std::memory_order_relaxed);

  phase("contend: mutex and channel");
  stamp(s.mu_progress);
  stamp(s.ch_progress);
  std::vector<weft::Task<void>> lock_tasks, prod_tasks, cons_tasks;
  std::vector<std::thread> lock_threads, prod_threads, cons_threads;
  for (std::uint64_t i = 0; i < nblock + npoll; ++i) {
    const bool polls = i >= nblock;
    lock_tasks.push_back(go(r.sched, [&s, each, polls, seed = rng.next()] {
      Rng crng(seed);
      for (std::uint64_t k = 0; k < each; ++k) {
        if (polls) {
          lock_polling(s);
        } else {
          lock_blocking(s);
        }
        critical_section(s, crng);
      }
    }));
  }
  for (unsigned t = 0; t < nthreads; ++t) {
    lock_threads.emplace_back([&s, each, seed = rng.next()] {
      Rng trng(seed);
      for (std::uint64_t k = 0; k < each; ++k) {
        lock_blocking(s);
        critical_section(s, trng);
      }
    });
  }
  for (std::uint64_t p = 0; p < nprod; ++p) {
    prod_tasks.push_back(go(r.sched, [&s, p, per_prod] { produce(s, p * per_prod, per_prod); }));
  }
  for (unsigned t = 0; t < thread_prods; ++t) {
    prod_threads.emplace_back(
        [&s, first = (nprod + t) * per_prod, per_prod] { produce(s, first, per_prod); });
  }
  for (std::uint64_t c = 0; c < ncons + npollcons; ++c) {
    const bool polls = c >= ncons;
    cons_tasks.push_back(go(r.sched, [&s, polls] {
      if (polls) {
        consume_polling(s);
      } else {
        consume_blocking(s);
      }
    }));
  }
  for (unsigned t = 0; t < thread_cons; ++t)
    cons_threads.emplace_back([&s] { consume_blocking(s); });

  for (auto& t : prod_tasks) t.join();
  for (auto& t : prod_threads) t.join();
  s.ch.close();  // every producer is done: consumers drain, then stop
  for (auto& t : cons_tasks) t.join();
  for (auto& t : cons_threads) t.join();
  for (auto& t : lock_tasks) t.join();
  for (auto& t : lock_threads) t.join();

  const std::uint64_t expect = lockers * each;
  STRESS_CHECK(s.counter == expect, "Mutex counter %" PRIu64 " != %" PRIu64 " increments",
               s.counter, expect);
  STRESS_CHECK(s.mu.try_lock(), "the Mutex is still locked after every holder left");
  s.mu.unlock();
  std::uint64_t expect_sum = 0;
  for (std::uint64_t v = 0; v < total; ++v) {
    STRESS_CHECK(s.seen[v].load(std::memory_order_relaxed) == 1, "value %" PRIu64 " never received",
                 v);
    expect_sum += mix(v);
  }
  STRESS_CHECK(s.received.load() == total && s.ch.size() == 0,
               "Channel: %" PRIu64 " received, %zu left buffered, %" PRIu64 " sent",
               s.received.load(), s.ch.size(), total);
  STRESS_CHECK(s.sum.load() == expect_sum, "Channel: sum %" PRIu64 " != %" PRIu64, s.sum.load(),
               expect_sum);
  add_ops(expect + total);
}

}  // namespace stress
