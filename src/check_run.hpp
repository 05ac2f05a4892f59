// SPDX-License-Identifier: Apache-2.0
// CheckRun: the deterministic scheduler under weft::check::explore(). One Worker of a
// one-worker Core defers every scheduling decision to it (the hooks in worker.cpp and
// core.cpp, each one predictable branch on a null pointer when off): which ready coroutine
// runs next, whether a preemption point switches, when virtual time jumps, and when the
// iteration is over. Everything but begin()/wait_end()/stop() and external() runs on that
// worker's thread, so the state below needs no locks.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <typeinfo>
#include <vector>

#include "weft/check.hpp"
#include "weft/detail/check_hook.hpp"
#include "weft/detail/coroutine.hpp"

namespace weft::detail {

class Core;
class Worker;

class CheckRun {
 public:
  // What one iteration runs with (all of it is in the replay line).
  struct Params {
    check::Policy policy = check::Policy::kRandom;
    std::uint64_t seed = 0;
    std::uint64_t iteration = 0;
    unsigned depth = 0;
    std::uint64_t pct_steps = 0;
    bool preempt = true;
    std::uint64_t max_steps = 0;
    const std::vector<std::uint32_t>* schedule = nullptr;  // kReplay
  };
  // What the iteration left, read by the explorer after wait_end().
  struct Outcome {
    std::string kind;        // first failure's kind, empty when none
    std::string details;     // every failure's text
    bool abandoned = false;  // coroutines are left blocked: the Core cannot be reused
    std::uint64_t steps = 0;
    std::uint64_t hash = 0;
  };

  // The last iteration's decisions (read by the explorer after wait_end()).
  const std::vector<std::uint32_t>& schedule() const noexcept { return schedule_; }

  // ---- the explorer's thread ----
  void begin(const Params& p);
  Outcome wait_end();
  void stop();

  // ---- the hooks (the worker's thread) ----
  Coroutine* find_work(Worker& w);
  Coroutine* pick(bool yielding);
  void ready(Coroutine* c, bool woken);
  void completed(const Coroutine* c) noexcept;
  void point(CheckOp op, const void* object, Where where) noexcept;
  std::int64_t now_ns() const noexcept { return now_ns_; }
  // The policy's choice of which of `n` waiters a notify_one() wakes.
  std::size_t choose_waiter(std::size_t n);
  void spawned(const Coroutine* c, const std::type_info& body) noexcept;
  // Any thread: a spawn or wake-up from outside the worker (a plain thread, another
  // scheduler): outside the model while an iteration runs.
  void external(const std::string& what);
  // Any thread: `object` was used by a thread outside the exploration; a failure when the
  // running iteration's coroutines use it too.
  void touched_from_outside(const void* object, const std::string& what);
  // Records a failure of the running iteration (kind: see check::Result::kind).
  void fail(const char* kind, const std::string& text);
  // The CheckRun whose worker is the calling thread, or nullptr.
  static CheckRun* of_this_thread() noexcept;

  // Virtual time starts here, far past any real steady_clock reading (which counts from
  // boot), so the worker's own real-time timer checks never fire a virtual timer, and an
  // absolute deadline computed from the real clock is recognisable.
  static constexpr std::int64_t kEpochNs = std::int64_t{1} << 62;

 private:
  struct Co {
    std::uint64_t id = 0;  // Coroutine::id
    const Coroutine* record = nullptr;
    std::uint32_t seq = 0;      // 1 for the root, then in order of spawn
    std::uint32_t parent = 0;   // seq of the spawner (0: the explorer)
    std::int64_t priority = 0;  // PCT
    const std::type_info* body = nullptr;
    Where spawned_after{};              // the parent's last weft call before the spawn
    Where last{};                       // its own last weft call
    CheckOp wait_op{};                  // its last call that may block ...
    const void* wait_object = nullptr;  // ... on this object ...
    Where wait_at{};                    // ... from here
    bool has_wait = false;
  };

  Co* find_co(std::uint64_t id) noexcept;
  Co* co_of(const Coroutine* c) noexcept { return c ? find_co(c->active_id) : nullptr; }
  void drop_stale() noexcept;
  // The policy's choice among `n` candidates (the ready list, then, at a preemption
  // point, the running coroutine as the last one).
  std::size_t choose(std::size_t n, const Coroutine* running);
  void record(std::size_t n, std::size_t chosen) noexcept;
  std::uint64_t next_random() noexcept;
  void count_step() noexcept;
  Coroutine* take(std::size_t index) noexcept;
  std::string describe_blocked() const;
  // Abandoned coroutines' stacks become LeakSanitizer root regions: what only they point
  // to (their frames' heap objects) is still reachable, not leaked.
  void keep_stacks_reachable() const noexcept;
  // Ends the iteration: the explorer gets the outcome; with `abandon`, this thread then
  // blocks for good (coroutines are left suspended mid-call and nothing may resume them).
  void end_iteration(bool abandon);

  Params params_{};
  std::uint64_t rng_ = 0;
  std::vector<Coroutine*> ready_;  // in the order they became ready
  // Live coroutines, sorted by id. Flat vectors here and below, cleared (not freed)
  // between iterations: an iteration allocates nothing of its own once they have grown,
  // which matters under TSan, where every allocation records a stack trace.
  std::vector<Co> cos_;
  std::vector<std::uint32_t> schedule_;  // this iteration's decisions
  std::vector<const void*> seen_;        // the worker's copy of touched_ (no lock)
  std::uint32_t next_seq_ = 1;
  std::int64_t now_ns_ = kEpochNs;
  std::uint64_t steps_ = 0;
  std::vector<std::uint64_t> change_points_;  // PCT, ascending
  std::size_t next_change_ = 0;
  std::int64_t lowest_ = 0;      // PCT: priorities handed to yielders go below everything
  Coroutine* forced_ = nullptr;  // a preemption point's choice, taken by the next pick()
  Outcome out_{};

  // The explorer's hand-over, under mu_.
  enum class Phase : std::uint8_t { kIdle, kRunning, kEnded, kStop };
  std::mutex mu_;
  std::condition_variable cv_;
  Phase phase_ = Phase::kIdle;
  std::uint64_t external_failures_ = 0;  // under mu_ (any thread)
  std::string external_text_;            // under mu_
  std::vector<const void*> touched_;     // under mu_: objects this iteration used
};

}  // namespace weft::detail
