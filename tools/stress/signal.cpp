// SPDX-License-Identifier: Apache-2.0
// signal: WaitGroup fan-out/fan-in (workers that add more work before finishing, waiters
// of both kinds) and Event gates: waiters (coroutines and a thread) block on an Event
// that is set after a random delay, then reset for the next phase. Checks: every waiter
// released by set(), none by a reset event, WaitGroup counts back at zero, add() below
// zero throws and leaves the count unchanged.
#include <stdexcept>
#include <thread>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

void wg_worker(weft::WaitGroup* wg, std::atomic<std::uint64_t>* done, std::uint64_t seed,
               unsigned depth) {
  Rng rng(seed);
  if (depth > 0 && rng.chance(30)) {
    const unsigned n = static_cast<unsigned>(rng.range(1, 3));
    wg->add(n);  // before finishing: the count cannot touch zero early
    for (unsigned i = 0; i < n; ++i) {
      go([wg, done, s = rng.next(), depth] { wg_worker(wg, done, s, depth - 1); }).detach();
    }
  }
  if (rng.chance(20)) weft::yield();
  if (rng.chance(5)) weft::sleep_for(std::chrono::microseconds(rng.below(200)));
  done->fetch_add(1, std::memory_order_relaxed);
  wg->done();
}

}  // namespace

void run_signal(Round& r) {
  Rng rng(r.seed);
  std::uint64_t ops = 0;
  while (ops < r.ops) {
    // WaitGroup.
    {
      phase("signal: WaitGroup");
      weft::WaitGroup wg;
      std::atomic<std::uint64_t> done{0};
      const std::uint64_t n = rng.range(1, kTsan ? 64 : 256);
      const unsigned waiters = static_cast<unsigned>(rng.range(1, 8));
      std::atomic<unsigned> released{0};
      wg.add(static_cast<std::int64_t>(n));
      std::vector<weft::Task<void>> ws;
      for (unsigned i = 0; i < waiters; ++i) {
        ws.push_back(go(r.sched, [&wg, &released] {
          STRESS_CHECK(wg.wait_for(kWaitLimit), "a coroutine's WaitGroup::wait_for timed out");
          STRESS_CHECK(wg.count() == 0, "WaitGroup released a waiter at count %" PRId64,
                       wg.count());
          released.fetch_add(1);
        }));
      }
      go(r.sched, [&wg, &done, n, seed = rng.next()] {
        Rng srng(seed);
        for (std::uint64_t i = 0; i < n; ++i) {
          go([&wg, &done, s = srng.next()] { wg_worker(&wg, &done, s, 3); }).detach();
        }
      }).detach();
      if (rng.chance(50)) {
        std::thread t([&wg] {
          STRESS_CHECK(wg.wait_for(kWaitLimit), "a thread's WaitGroup::wait_for timed out");
        });
        t.join();
      } else {
        wg.wait();
      }
      for (auto& w : ws) w.join();
      STRESS_CHECK(released.load() == waiters, "%u of %u WaitGroup waiters released",
                   released.load(), waiters);
      STRESS_CHECK(done.load() >= n,
                   "WaitGroup reached zero after %" PRIu64 " of %" PRIu64 " workers", done.load(),
                   n);
      bool threw = false;
      try {
        wg.add(-1);
      } catch (const std::logic_error&) {
        threw = true;
      }
      STRESS_CHECK(threw && wg.count() == 0, "WaitGroup::add(-1) at zero: threw %d, count %" PRId64,
                   threw, wg.count());
      ops += done.load();
    }
    // Event gates: several phases on one Event.
    {
      phase("signal: Event gates");
      weft::Event ev;
      const unsigned nwait = static_cast<unsigned>(rng.range(1, kTsan ? 32 : 128));
      const unsigned phases = static_cast<unsigned>(rng.range(1, 4));
      for (unsigned ph = 0; ph < phases; ++ph) {
        std::atomic<unsigned> passed{0};
        weft::WaitGroup arrived;
        arrived.add(nwait);
        std::vector<weft::Task<void>> ws;
        for (unsigned i = 0; i < nwait; ++i) {
          ws.push_back(go(r.sched, [&ev, &passed, &arrived] {
            arrived.done();
            STRESS_CHECK(ev.wait_for(kWaitLimit), "an Event waiter was not released by set()");
            STRESS_CHECK(ev.is_set(), "Event waiter released while the event is reset");
            passed.fetch_add(1);
          }));
        }
        const bool thread_waiter = rng.chance(30);
        std::thread t;
        if (thread_waiter) {
          t = std::thread([&ev, &passed] {
            STRESS_CHECK(ev.wait_for(kWaitLimit), "a thread waiting on an Event was not released");
            passed.fetch_add(1);
          });
        }
        STRESS_CHECK(arrived.wait_for(kWaitLimit), "Event waiters did not start");
        if (rng.chance(50)) weft::sleep_for(std::chrono::microseconds(rng.below(500)));
        if (rng.chance(50)) {
          ev.set();
        } else {
          go(r.sched, [&ev] { ev.set(); }).join();
        }
        for (auto& w : ws) w.join();
        if (thread_waiter) t.join();
        STRESS_CHECK(passed.load() == nwait + (thread_waiter ? 1 : 0),
                     "%u Event waiters passed, expected %u", passed.load(),
                     nwait + (thread_waiter ? 1 : 0));
        ev.reset();
        STRESS_CHECK(!ev.wait_for(std::chrono::microseconds(50)),
                     "wait_for() on a reset Event returned true");
        ops += nwait;
      }
    }
  }
  add_ops(ops);
}

}  // namespace stress
