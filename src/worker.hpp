// SPDX-License-Identifier: Apache-2.0
// Worker: one pthread with its root context, its deque of ready coroutines, its stack and
// record caches, and the loop that runs, steals and parks. Its protocols live in one file
// each: worker.cpp (thread and loop), worker_ready.cpp (queueing, picking, stealing),
// worker_idle.cpp (searching, parking, timer and I/O cadence), worker_switch.cpp (switch
// and handoff, yield, park), worker_join.cpp (completion and joins), fork_steal.cpp
// (stolen TaskGroup children).
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "context.hpp"
#include "deque.hpp"
#include "fork_pool.hpp"
#include "parking.hpp"
#include "record_pool.hpp"
#include "stack.hpp"
#include "timer.hpp"
#include "trace.hpp"
#include "weft/detail/coroutine.hpp"
#include "weft/detail/static_tls.hpp"
#include "weft/detail/wait.hpp"

namespace weft::detail {

class CheckRun;
class Core;

// What a context that switched away asks the next context to do once it is off its
// stack (suspend-then-publish: nobody may resume a coroutine still running on its stack).
struct Handoff {
  enum Kind : std::uint8_t { kRequeue, kWaitJoin, kComplete, kPark } kind;
  Coroutine* prev;  // the coroutine that switched away
  // kWaitJoin: the completion word it waits on (a join_word, or a stolen ForkSlot's done)
  std::atomic<std::uintptr_t>* join_word = nullptr;
  Waiter* waiter = nullptr;  // kPark: its waiter (timer armed here) ...
  SpinLock* lock = nullptr;  // ... and the primitive's lock, released here
};

// A single-writer event counter that other threads may read.
class Counter {
 public:
  void bump() noexcept { add(1); }
  void add(std::uint64_t n) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }
  std::uint64_t read() const noexcept { return v_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Worker {
 public:
  Worker(Core& core, unsigned index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  void join_thread();

  // ---- on this worker's own thread ----
  Coroutine* current() const noexcept { return current_; }
  RecordCache& records() noexcept { return records_; }
  std::uint64_t next_id() noexcept;
  void count_spawn() noexcept { spawned_.bump(); }
  // Queues a ready coroutine here and wakes a sleeper if nobody is searching.
  void push_local(Coroutine* c);
  // A suspended coroutine is runnable again (sent to its own scheduler if not ours).
  void make_ready(Coroutine* c);
  void push_ready(Coroutine* c);

  void yield_current();
  void yield_to_current(Coroutine* target);
  // Returns once `child` is done: runs it inline if it has not started, else suspends.
  void wait_current(Coroutine* child);
  // Suspends the running coroutine until `*word` (join_word protocol) is kJoinDone.
  void wait_word(std::atomic<std::uintptr_t>* word);
  // weft::check: a TaskGroup child nobody took from a suspended owner's deque, as a fresh
  // coroutine for the explorer's ready list (nullptr if there is none).
  Coroutine* take_stranded_child();
  // The running coroutine's TaskGroup deque, created on first use.
  ForkDeque* current_forks();
  // This thread's running_forks() (fork_deque.hpp) becomes `d`.
  static void note_running_forks(ForkDeque* d) noexcept;
  // park() for the running coroutine: suspends it; the next context arms its timer and
  // releases `lock` (if any).
  void park_current(Waiter& w, SpinLock* lock);

  // ---- any thread ----
  unsigned index() const noexcept { return index_; }
  Core& core() noexcept { return core_; }
  bool has_queued() const noexcept { return !deque_.empty(); }
  Coroutine* steal() noexcept { return deque_.steal(); }
  // The TaskGroup deque of the coroutine this worker runs (a snapshot for thieves).
  ForkDeque* active_forks() const noexcept { return active_forks_.load(std::memory_order_acquire); }
  TimerQueue& timers() noexcept { return timers_; }
  // While parked: when this worker will wake by itself (TimerQueue::kNone: never).
  std::int64_t planned_wake() const noexcept {
    return planned_wake_.load(std::memory_order_seq_cst);
  }
  const TimerQueue& timers() const noexcept { return timers_; }
  std::uint64_t spawned() const noexcept { return spawned_.read(); }
  std::uint64_t completed() const noexcept { return completed_.read(); }
  std::uint64_t runs() const noexcept { return runs_.read(); }
  std::uint64_t switches() const noexcept { return switches_.read(); }
  std::uint64_t steal_attempts() const noexcept { return steal_attempts_.read(); }
  std::uint64_t steals() const noexcept { return steals_.read(); }
  std::uint64_t children_stolen() const noexcept { return children_stolen_.read(); }
  std::uint64_t parks() const noexcept { return parks_.read(); }
  std::uint64_t wakeups() const noexcept { return wakeups_.read(); }
  std::uint64_t timer_fires() const noexcept { return timer_fires_.read(); }
  std::uint64_t stacks_pooled() const noexcept { return stacks_.pooled(); }
  // Enabled before the thread starts; read by the Core after the thread is joined.
  TraceLog& trace() noexcept { return trace_; }
  const TraceLog& trace() const noexcept { return trace_; }

  // The entry of every fresh coroutine stack.
  [[noreturn]] static void coroutine_entry(void* transfer);

 private:
  // As Go: every 61st scheduling decision looks at the oldest work (pick_next), and every
  // 61st handoff of a busy worker at due timers and I/O (after_switch).
  static constexpr std::uint32_t kFairnessTick = 61;

  void main();
  Coroutine* find_work();
  enum class Order : std::uint8_t { kNewest, kOldest };
  // The next coroutine to run from this worker's queues (see the fairness bound there).
  Coroutine* pick_next(Order order);
  Coroutine* take_injected();
  Coroutine* steal_round();
  // A TaskGroup child taken from `d` (or a stranded deque if `d` is null), wrapped in a
  // coroutine of its own; nullptr if there was none (fork_steal.cpp).
  Coroutine* steal_fork(ForkDeque* d);
  Coroutine* adopt_stolen_slot(ForkSlot* s);
  void found_work_while_searching() noexcept;
  // Fires due timers of every worker of this scheduler; true if any coroutine woke.
  bool fire_timers();
  // Sleeps (futex, or epoll_wait as the poller) until woken, I/O, or `deadline_ns`.
  // True when a waker took this worker off the idle list (it is then a searcher).
  bool sleep(bool as_poller, std::int64_t deadline_ns);
  // Periodic look at timers and I/O from the scheduling path of a busy worker.
  void poll_events();
  void release_poller() noexcept;
  void run_inline(Coroutine* me, Coroutine* child);
  // A finished coroutine that ran on its own stack: recycles the stack, then
  // publish_completion().
  void complete(Coroutine* c);
  // Marks `c` done, wakes its joiner and drops the execution's reference.
  void publish_completion(Coroutine* c);
  // `c` itself when it can run (it has a stack, or one was mapped for it); nullptr when
  // its stack cannot be mapped: it is then left in unstartable_ for the root context.
  Coroutine* startable(Coroutine* c) noexcept;
  // On the root context: completes unstartable_ with its stack-mapping error.
  void fail_unstartable();
  // Runs on whatever context a switch landed on: finishes the previous context's handoff
  // (if any) and, every kFairnessTick switches, looks at due timers and I/O.
  void after_switch(void* transfer);
  // Does what the context that switched away asked for (requeue, wait on a join word,
  // complete, park), now that it is off its stack.
  void finish_handoff(const Handoff& h);
  // Switches from the running coroutine `me` to `next` (nullptr: the root context) and,
  // once something resumes `me` (on whichever worker), runs the handoff there.
  static void switch_away(Worker* w, Coroutine* me, Coroutine* next, Handoff& h);
  [[noreturn]] void finish_current();
  // Maps (or takes from the cache) a stack for a never-started coroutine; throws when
  // none can be mapped.
  void give_stack(Coroutine* c);
  // Where a switch to `next` lands (nullptr: the root context); `next` has a stack.
  SwitchTarget target_for(Coroutine* next);
  // Counts (and traces) a switch of this thread to `next` (nullptr: the root context).
  void note_switch(const Coroutine* next) noexcept;
  // Just before a switch from `from` to `to` (nullptr: the root context): the thread's C++
  // exception state is saved into `from` and `to`'s is installed.
  void trade_exception_state(Coroutine* from, Coroutine* to) noexcept;

  Core& core_;
  // weft::check: non-null on the one worker of an exploration's Core; every hook on it is
  // one predictable branch (check_run.hpp).
  CheckRun* const check_;
  const unsigned index_;
  ChaseLevDeque<Coroutine> deque_;
  TimerQueue timers_;
  StackCache stacks_;
  RecordCache records_;
  Sleeper sleeper_;
  Coroutine* current_ = nullptr;                   // the coroutine whose stack this thread runs on
  std::atomic<ForkDeque*> active_forks_{nullptr};  // current_->forks, for thieves
  Handoff final_handoff_{};                        // carried by a finishing coroutine's last switch
  // The live entry a join last found above its child, and its slot: the next join that
  // finds the same pointer in the same slot leaves it there instead of popping it to look.
  const Coroutine* live_hint_ = nullptr;
  std::int64_t live_hint_at_ = -1;
  bool searching_ = false;
  Coroutine* unstartable_ = nullptr;  // see startable()
  std::uint32_t pick_turn_ = 0;       // pick_next() calls, for the fairness turns
  std::uint32_t poll_turn_ = 0;       // switches, for the timer and I/O cadence
  std::uint64_t rng_;
  std::uint64_t next_id_ = 0, id_limit_ = 0;

  // Root context (the pthread's own stack).
  void* root_sp_ = nullptr;
  void* root_fake_stack_ = nullptr;
  void* root_tsan_fiber_ = nullptr;
  const void* root_stack_lo_ = nullptr;
  std::size_t root_stack_size_ = 0;
  ExceptionState* thread_eh_ = nullptr;  // this worker thread's C++ exception globals
  void* root_eh_caught_ = nullptr;
  unsigned root_eh_uncaught_ = 0;

  std::atomic<std::int64_t> planned_wake_{TimerQueue::kNone};
  Counter spawned_, completed_, runs_, switches_, steal_attempts_, steals_, children_stolen_,
      parks_, wakeups_, timer_fires_;
  TraceLog trace_;
  std::thread thread_;
};

// The worker the calling thread is, or nullptr: weft_current_worker_tls (worker.cpp), read
// afresh on every call by static_tls.hpp's asm, so a coroutine that resumed on another
// thread after a switch never sees the previous thread's worker (docs/DESIGN.md, "Thread
// identity: coroutines migrate"). The "memory" clobber keeps each read on its side of
// every call, switches included, as the out-of-line function it replaced did.
[[gnu::always_inline]] inline Worker* current_worker() noexcept {
  Worker* w;
  WEFT_DETAIL_LOAD_STATIC_TLS(w, weft_current_worker_tls, "memory");
  return w;
}

// Aborts with a diagnostic unless `c` is suspended (kWaiting): called by every wake-up.
void expect_waiting(const Coroutine* c) noexcept;

// Drop one reference; the last one destroys the payload and recycles the record.
void unref(Coroutine* c) noexcept;

}  // namespace weft::detail
