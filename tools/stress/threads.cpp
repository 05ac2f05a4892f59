// SPDX-License-Identifier: Apache-2.0
// threads: plain threads outside the pool spawn coroutines (the injection path) and join
// them; coroutines spawn tasks that plain threads join, and plain threads hand tasks to
// coroutines that join them (Tasks travel through Channels); some tasks are detached and
// report through a WaitGroup. Every task's value is counted exactly once.
#include <thread>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

using Task = weft::Task<std::uint64_t>;

// A task's body: its value is mix(id); it may yield, sleep briefly or spawn and join a child.
std::uint64_t body(std::uint64_t id, unsigned style) {
  switch (style % 4) {
    case 1:
      weft::yield();
      break;
    case 2:
      weft::sleep_for(std::chrono::microseconds(id % 200));
      break;
    case 3:
      return go([id] { return mix(id) - 1; }).join() + 1;
    default:
      break;
  }
  return mix(id);
}

}  // namespace

void run_threads(Round& r) {
  Rng rng(r.seed);
  const unsigned nthreads = static_cast<unsigned>(rng.range(1, 3));
  const std::uint64_t per_thread = std::max<std::uint64_t>(1, r.ops / nthreads);
  const std::uint64_t window = kTsan ? 64 : 256;  // tasks a thread keeps unjoined at once
  std::atomic<std::uint64_t> sum{0};
  std::atomic<std::uint64_t> count{0};
  weft::WaitGroup detached;
  weft::Channel<Task> to_coroutines(rng.range(0, 4));  // threads' tasks, joined by coroutines
  weft::Channel<Task> to_threads(rng.range(0, 4));     // coroutines' tasks, joined by threads
  std::uint64_t expected = 0;
  std::uint64_t expected_count = 0;
  std::vector<Rng> rngs;
  for (unsigned t = 0; t < nthreads; ++t) rngs.push_back(rng.split());
  // Ids: thread t uses [t * per_thread, (t + 1) * per_thread), tasks from coroutines add 1 << 62.
  for (std::uint64_t id = 0; id < nthreads * per_thread; ++id) expected += mix(id);
  expected_count = nthreads * per_thread;

  phase("threads: coroutine joiners and spawners");
  // Coroutine joiners: take tasks from to_coroutines until it closes.
  const unsigned njoiners = static_cast<unsigned>(rng.range(1, 3));
  std::vector<Task> joiners;
  for (unsigned j = 0; j < njoiners; ++j) {
    joiners.push_back(go(r.sched, [&] {
      std::uint64_t n = 0;
      for (;;) {
        std::optional<Task> t = to_coroutines.recv_for(kWaitLimit);
        if (!t) {
          STRESS_CHECK(to_coroutines.closed(),
                       "a coroutine waited %lld s on a Channel<Task> that was never closed",
                       static_cast<long long>(kWaitLimit.count()));
          return n;
        }
        sum.fetch_add(t->join(), std::memory_order_relaxed);
        count.fetch_add(1, std::memory_order_relaxed);
        ++n;
      }
    }));
  }
  // A coroutine spawning tasks for the threads to join.
  const std::uint64_t from_coroutines = rng.range(0, per_thread);
  for (std::uint64_t i = 0; i < from_coroutines; ++i) expected += mix((1ULL << 62) + i);
  expected_count += from_coroutines;
  Task spawner = go(r.sched, [&, seed = rng.next()] {
    Rng crng(seed);
    for (std::uint64_t i = 0; i < from_coroutines; ++i) {
      const std::uint64_t id = (1ULL << 62) + i;
      Task t = go([id, style = static_cast<unsigned>(crng.below(4))] { return body(id, style); });
      STRESS_CHECK(to_threads.send_for(std::move(t), kWaitLimit),
                   "no plain thread took a task from a Channel<Task> in %lld s",
                   static_cast<long long>(kWaitLimit.count()));
    }
    to_threads.close();
    return std::uint64_t{0};
  });

  phase("threads: plain threads spawning, joining, passing tasks");
  std::vector<std::thread> threads;
  for (unsigned ti = 0; ti < nthreads; ++ti) {
    threads.emplace_back([&, ti] {
      Rng& trng = rngs[ti];
      std::vector<Task> mine;
      auto join_some = [&](std::size_t keep) {
        while (mine.size() > keep) {
          const std::size_t k = trng.below(mine.size());
          sum.fetch_add(mine[k].join(), std::memory_order_relaxed);
          count.fetch_add(1, std::memory_order_relaxed);
          mine[k] = std::move(mine.back());
          mine.pop_back();
        }
      };
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        const std::uint64_t id = ti * per_thread + i;
        const unsigned style = static_cast<unsigned>(trng.below(4));
        const unsigned what = static_cast<unsigned>(trng.below(10));
        if (what == 0) {
          // Detached: reports through the WaitGroup.
          detached.add(1);
          go(r.sched, [&, id, style] {
            sum.fetch_add(body(id, style), std::memory_order_relaxed);
            count.fetch_add(1, std::memory_order_relaxed);
            detached.done();
          }).detach();
        } else if (what <= 2) {
          Task t = go(r.sched, [id, style] { return body(id, style); });
          STRESS_CHECK(to_coroutines.send_for(std::move(t), kWaitLimit),
                       "no coroutine took a task from a Channel<Task> in %lld s",
                       static_cast<long long>(kWaitLimit.count()));
        } else {
          mine.push_back(go(r.sched, [id, style] { return body(id, style); }));
          if (mine.size() > window) join_some(window / 2);
        }
        // Also join what the coroutines spawned.
        if (trng.chance(30)) {
          if (std::optional<Task> t = to_threads.try_recv()) {
            sum.fetch_add(t->join(), std::memory_order_relaxed);
            count.fetch_add(1, std::memory_order_relaxed);
          }
        }
      }
      join_some(0);
      // Drain the coroutines' tasks until that channel closes.
      for (;;) {
        std::optional<Task> t = to_threads.recv_for(kWaitLimit);
        if (!t) {
          STRESS_CHECK(to_threads.closed(), "a plain thread waited %lld s on a Channel<Task>",
                       static_cast<long long>(kWaitLimit.count()));
          break;
        }
        sum.fetch_add(t->join(), std::memory_order_relaxed);
        count.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();
  phase("threads: closing, joining joiners");
  to_coroutines.close();
  spawner.join();
  for (auto& j : joiners) j.join();
  STRESS_CHECK(detached.wait_for(kWaitLimit), "detached tasks unfinished after %lld s",
               static_cast<long long>(kWaitLimit.count()));
  STRESS_CHECK(count.load() == expected_count,
               "%" PRIu64 " task values collected, expected %" PRIu64, count.load(),
               expected_count);
  STRESS_CHECK(sum.load() == expected, "sum of task values %" PRIu64 " != expected %" PRIu64,
               sum.load(), expected);
  STRESS_CHECK(to_coroutines.size() == 0 && to_threads.size() == 0,
               "tasks left in the channels after the round");
  add_ops(expected_count);
}

}  // namespace stress
