// SPDX-License-Identifier: Apache-2.0
// Core: the shared state of one scheduler — its workers, the injection queue for work
// from outside the pool, the idle set, the stack allocator and the shutdown protocol.
#pragma once

#include <tbb/concurrent_queue.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "fork_pool.hpp"
#include "parking.hpp"
#include "poller.hpp"
#include "sanitizers.hpp"
#include "stack.hpp"
#include "trace.hpp"
#include "weft/detail/coroutine.hpp"
#include "weft/options.hpp"
#include "weft/stats.hpp"

namespace weft::detail {

class Worker;
class CheckRun;

// Validates `o` (std::invalid_argument naming the field and its range) and resolves
// workers == 0 and the stack size rounding.
Options resolve_options(Options o);

// Process-wide coroutine ids; workers take them in blocks to avoid a shared counter.
std::uint64_t take_ids(std::uint64_t count) noexcept;

// fork(): in the child, every Core created before the fork is dead (its worker threads
// were not copied) and says so: true for such a Core. detail::wait checks it before
// joining, submit_external before accepting a spawn.
bool core_forked_away(const Core* c) noexcept;
// Throws the std::logic_error that says so when core_forked_away(c).
void refuse_if_forked_away(const Core* c);
// A forked-away Core cannot be shut down or destroyed in the child (there are no
// threads to join): it is parked here for good, reachable, so LeakSanitizer stays quiet.
void abandon_forked_core(Core* c);

class Core {
 public:
  // `check`: the deterministic scheduler of weft::check::explore() (check_run.hpp), which
  // then takes every scheduling decision of this Core's (single) worker; nullptr normally.
  explicit Core(const Options& options, CheckRun* check = nullptr);
  // Refuses outside spawns from now on, waits until every coroutine spawned here has
  // finished, then stops the workers and writes the trace. Idempotent. Called from
  // ~Scheduler's body, so that outside threads calling spawn() meanwhile still reach a
  // live object and get the clear refusal.
  void shutdown();
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  const Options& options() const noexcept { return options_; }
  unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()); }
  Worker& worker(unsigned i) noexcept { return *workers_[i]; }
  IdleSet& idle() noexcept { return idle_; }
  StackAllocator& stack_allocator() noexcept { return stacks_; }
  ForkPool& forks() noexcept { return forks_; }
  Poller& poller() noexcept { return poller_; }
  // Earliest timer of any worker (steady-clock ns), TimerQueue::kNone when none.
  std::int64_t earliest_timer() const noexcept;
  // Earliest time a parked worker will wake by itself (TimerQueue::kNone: none will).
  std::int64_t earliest_planned_wake() const noexcept;
  bool exiting() const noexcept { return exiting_.load(std::memory_order_acquire); }
  CheckRun* check() const noexcept { return check_; }

  // A spawn from a thread that is not one of this scheduler's workers. Throws
  // std::logic_error once the scheduler is shutting down, or in a fork()ed child.
  void submit_external(Coroutine* c);
  // A coroutine of this scheduler made runnable by a thread that is not its worker.
  void wake_external(Coroutine* c);
  bool try_pop_injected(Coroutine*& c) { return injected_.try_pop(c); }
  // Any queued work anywhere (a snapshot, for the park re-check).
  bool has_work() const noexcept;
  // A worker is going idle: lets a waiting destructor re-check.
  void on_worker_idle();

  Stats stats() const;

 private:
  friend bool core_forked_away(const Core* c) noexcept;

  void write_trace() noexcept;

  std::uint64_t live() const noexcept;
  void wait_external_calls() const noexcept;

  // Marks a call from outside the pool (which may outlive the coroutine it makes
  // runnable) so the destructor waits for it to return.
  struct ExternalCall {
    explicit ExternalCall(Core& c) : core(c) {
      core.external_inflight_.fetch_add(1, std::memory_order_seq_cst);
    }
    ~ExternalCall() { core.external_inflight_.fetch_sub(1, std::memory_order_seq_cst); }
    Core& core;
  };

  struct FileCloser {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };

  const Options options_;
  CheckRun* const check_;  // see the constructor
  // The process's fork generation when this Core was made (see core_forked_away()).
  const std::uint64_t fork_generation_;
  // Opened at construction (a bad path fails early), written once the workers are joined.
  std::string trace_path_;
  std::unique_ptr<std::FILE, FileCloser> trace_file_;
  const std::int64_t trace_origin_ns_ = TraceLog::now_ns();
  StackAllocator stacks_;  // outlives the workers' stack caches
  ForkPool forks_;         // outlives every coroutine (and thief) that uses a deque
  IdleSet idle_;
  Poller poller_;
  // Under TSan, std::allocator: TBB's allocator recycles memory behind TSan's back, which
  // it reports as races (oneTBB's scalable allocator is invisible to the sanitizer).
  using InjectAllocator = std::conditional_t<WEFT_TSAN, std::allocator<Coroutine*>,
                                             tbb::cache_aligned_allocator<Coroutine*>>;
  tbb::concurrent_queue<Coroutine*, InjectAllocator> injected_;
  std::vector<std::unique_ptr<Worker>> workers_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> exiting_{false};
  std::atomic<std::uint64_t> external_spawned_{0};
  std::atomic<int> external_inflight_{0};
  std::mutex done_mu_;
  std::condition_variable done_cv_;
};

}  // namespace weft::detail
