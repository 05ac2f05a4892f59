// SPDX-License-Identifier: Apache-2.0
// yield: storms of weft::yield() and weft::yield_to() among a group of peers (a peer may
// be running, queued, finished or stolen when another hands it the thread), plus
// yield_to a freshly spawned child. Checks: each peer runs all its steps and keeps its
// coroutine id across every switch; the step counts add up.
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {

void run_yield(Round& r) {
  Rng rng(r.seed);
  const std::uint64_t npeers = rng.range(2, kTsan ? 48 : 200);
  const std::uint64_t steps = std::max<std::uint64_t>(1, r.ops / npeers);
  std::vector<weft::Task<std::uint64_t>> peers;
  weft::Event start;
  weft::WaitGroup finished;  // peers past their last yield_to (peers[] is read until then)
  std::atomic<std::uint64_t> total{0};
  finished.add(static_cast<std::int64_t>(npeers));
  phase("yield: storm");
  Rng seeds = rng.split();
  for (std::uint64_t p = 0; p < npeers; ++p) {
    peers.push_back(go(r.sched, [&, p, seed = seeds.next()] {
      Rng prng(seed);
      STRESS_CHECK(start.wait_for(kWaitLimit), "peer %" PRIu64 " never saw the start Event", p);
      const std::uint64_t me = weft::this_coroutine_id();
      std::uint64_t done = 0;
      for (std::uint64_t i = 0; i < steps; ++i) {
        switch (prng.below(8)) {
          case 0:
          case 1:
          case 2:
            weft::yield();
            break;
          case 3:
          case 4:
          case 5:
            weft::yield_to(peers[prng.below(peers.size())]);
            break;
          case 6: {
            std::uint64_t ran = 0;
            weft::Task<void> child = go([&ran] {
              ran = 1;
              weft::yield();
            });
            weft::yield_to(child);
            child.join();
            STRESS_CHECK(ran == 1, "a child handed the thread by yield_to never ran");
            break;
          }
          default:
            break;
        }
        STRESS_CHECK(weft::this_coroutine_id() == me,
                     "this_coroutine_id() changed across a yield: %" PRIu64 " -> %" PRIu64, me,
                     weft::this_coroutine_id());
        STRESS_CHECK(weft::in_coroutine(), "in_coroutine() false inside a coroutine");
        ++done;
      }
      total.fetch_add(done, std::memory_order_relaxed);
      finished.done();
      return done;
    }));
  }
  start.set();
  STRESS_CHECK(finished.wait_for(kWaitLimit),
               "yield storm: %" PRId64 " peers unfinished after %lld s", finished.count(),
               static_cast<long long>(kWaitLimit.count()));
  std::uint64_t sum = 0;
  for (auto& t : peers) sum += t.join();
  STRESS_CHECK(sum == npeers * steps && total.load() == sum,
               "yield storm: %" PRIu64 " steps done, expected %" PRIu64, sum, npeers * steps);
  add_ops(sum);
}

}  // namespace stress
