// SPDX-License-Identifier: Apache-2.0
/// @file
/// weft::Stats — what a Scheduler's workers did: monotone counters (per worker and summed)
/// and a few gauges sampled at the snapshot.
#pragma once

#include <cstdint>
#include <vector>

namespace weft {

/// One worker's counters (Stats::workers[i]).
struct WorkerStats {
  // Monotone counters.
  std::uint64_t spawned = 0;          ///< coroutines spawned by code running on this worker
  std::uint64_t completed = 0;        ///< coroutines that finished on this worker
  std::uint64_t runs = 0;             ///< coroutines started or resumed here (a joined child
                                      ///< run inline on its joiner's stack included)
  std::uint64_t switches = 0;         ///< stack switches made by this worker's thread
  std::uint64_t steal_attempts = 0;   ///< peer deques probed while searching for work
  std::uint64_t steals = 0;           ///< coroutines taken from another worker's deque
  std::uint64_t children_stolen = 0;  ///< TaskGroup children a thief took here: each ran as a
                                      ///< coroutine of its own (counted in spawned and
                                      ///< completed too, and in steals)
  std::uint64_t parks = 0;            ///< times it went to sleep for lack of work
  std::uint64_t wakeups = 0;          ///< parks ended by another thread's wake-up (not by a
                                      ///< timer deadline or I/O on the poller)
  std::uint64_t timer_fires = 0;      ///< timed waits (sleeps, timeouts) this worker expired
  ///< Gauge.
  std::uint64_t stacks_pooled = 0;  ///< stacks in this worker's cache, ready for reuse
};

/// A snapshot of a Scheduler's counters (Scheduler::stats()): per worker and summed.
struct Stats {
  // Sums over the workers of WorkerStats' counters (see there for each one's meaning).
  std::uint64_t spawned = 0;          ///< spawned, from threads outside the pool too
  std::uint64_t completed = 0;        ///< completed
  std::uint64_t runs = 0;             ///< runs
  std::uint64_t switches = 0;         ///< stack switches
  std::uint64_t steal_attempts = 0;   ///< peer deques probed
  std::uint64_t steals = 0;           ///< coroutines stolen
  std::uint64_t children_stolen = 0;  ///< TaskGroup children stolen
  std::uint64_t parks = 0;            ///< parks
  std::uint64_t wakeups = 0;          ///< parks ended by a wake-up
  std::uint64_t timer_fires = 0;      ///< timed waits expired
  // Gauges.
  std::uint64_t live = 0;            ///< spawned and not yet finished (never counts a finished
                                     ///< coroutine whose spawn the snapshot missed)
  std::uint64_t stacks_pooled = 0;   ///< in the workers' caches
  std::uint64_t stacks_mapped = 0;   ///< stacks this scheduler has mapped so far (a stack
                                     ///< outlives its coroutines until the scheduler ends)
  std::vector<WorkerStats> workers;  ///< index = worker index (weft::current_worker())
};

}  // namespace weft
