// SPDX-License-Identifier: Apache-2.0
// weft::check — deterministic, seed-replayable exploration of a concurrent program's
// schedules, with virtual time and deadlock reports. See README "Finding concurrency bugs".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "weft/detail/check_hook.hpp"

namespace weft::check {

/// How explore() takes each scheduling decision.
enum class Policy : std::uint8_t {
  /// Uniformly among the coroutines that could run, at every decision.
  kRandom,
  /// Probabilistic Concurrency Testing (Burckhardt et al., ASPLOS 2010): each coroutine gets
  /// a random priority, the highest-priority ready one runs, and at depth-1 random steps
  /// the running one drops below all others. A bug that needs `depth` ordering constraints
  /// is found with probability at least 1/(n k^(depth-1)) per iteration (n coroutines, k
  /// steps).
  kPct,
  /// Replays Options::schedule, a schedule recorded by an earlier run (Result::schedule).
  kReplay,
};

/// What explore() runs and how.
struct Options {
  /// The scheduling policy.
  Policy policy = Policy::kRandom;
  /// How many schedules to try (each a fresh run of the function); stops at the first
  /// failure.
  std::uint64_t iterations = 1000;
  /// The exploration's seed: iteration i of seed s always takes the same decisions.
  std::uint64_t seed = 1;
  /// PCT's bug depth d (kPct only): d-1 priority-change points per iteration.
  unsigned depth = 3;
  /// PCT's step estimate k (kPct only); 0: the most steps any earlier iteration took
  /// (at least 16). The replay line records the value used.
  std::uint64_t pct_steps = 0;
  /// A preemption point at every weft primitive call (lock, unlock, send, recv, notify,
  /// wait, spawn, join, sleep, yield); false: coroutines switch only where they block,
  /// yield or finish.
  bool preempt = true;
  /// Scheduling decisions after which an iteration counts as a livelock.
  std::uint64_t max_steps = 200000;
  /// A replay line ("random:1:37:0:0", as printed in a failure report): runs only that
  /// iteration. The environment variable WEFT_CHECK_REPLAY, when set, overrides it.
  std::string replay;
  /// For Policy::kReplay: the decisions to take, as Result::schedule recorded them.
  std::vector<std::uint32_t> schedule;
  /// Stack size of each coroutine.
  std::size_t stack_size = 256 * 1024;
  /// Print the failure report to stderr.
  bool print = true;
};

/// The outcome of explore().
struct Result {
  /// True when every iteration passed.
  bool ok = true;
  /// Iterations run (the failing one included).
  std::uint64_t iterations = 0;
  /// The failing iteration's number (0-based), when !ok.
  std::uint64_t failed_iteration = 0;
  /// The failure's kind: "exception", "deadlock", "leak", "livelock", "uncontrolled",
  /// "tsan" or "diverged" (a kReplay schedule that does not fit the program); empty when ok.
  std::string kind;
  /// The whole report: what failed, every blocked coroutine, the replay line.
  std::string report;
  /// The line to rerun exactly the failing iteration: the value of WEFT_CHECK_REPLAY.
  std::string replay;
  /// A hash of the failing (or, when ok, the last) iteration's decisions: a replay that
  /// took the same schedule has the same hash.
  std::uint64_t schedule_hash = 0;
  /// That iteration's decisions, replayable with Policy::kReplay.
  std::vector<std::uint32_t> schedule;
  /// Scheduling decisions the most expensive iteration took.
  std::uint64_t max_steps = 0;
  /// True when the result is a success.
  explicit operator bool() const noexcept { return ok; }
};

/// Runs `fn` as the root coroutine of a deterministic one-thread scheduler, once per
/// iteration, each time with the schedule the policy draws, until one fails: it throws,
/// a weft::check::require fails, every coroutine blocks with no timer pending (deadlock),
/// coroutines are left blocked when all else finished (leak), an iteration exceeds
/// max_steps (livelock), or it leaves the model (a plain thread waking one of its
/// coroutines, a real fd, an absolute real-clock deadline). sleep_for, timed waits and
/// timeouts run on a virtual clock that jumps to the next timer when everything is
/// blocked. Everything `fn` shares must be made inside it (each iteration starts afresh).
/// After a failure with coroutines left blocked, their scheduler and stacks are leaked
/// on purpose (nothing can unwind them).
Result explore(std::function<void()> fn, const Options& options = {});

/// The current time: under explore(), on its coroutines, the virtual clock; elsewhere
/// std::chrono::steady_clock::now().
std::chrono::steady_clock::time_point now() noexcept;

/// Thrown by require().
class Failure : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// Throws Failure("`what` at file:line") unless `condition` holds: a failed check that
/// explore() reports (it also works outside explore()). `where` defaults to the caller's
/// location.
void require(bool condition, std::string_view what, detail::Where where = WEFT_HERE);

}  // namespace weft::check
