#include "worker.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "check_run.hpp"
#include "core.hpp"
#include "futex.hpp"
#include "overflow.hpp"
#include "weft/detail/job.hpp"

namespace weft::detail {
namespace {

// initial-exec: a plain %fs-relative load instead of a __tls_get_addr call on every
// current_worker(); fine for a library linked into the program (not dlopen'ed late).
[[gnu::tls_model("initial-exec")]] thread_local Worker* tls_worker = nullptr;

constexpr std::uint32_t kFairnessTick = 61;  // as Go: every 61st pick looks at the old work
constexpr int kSpinRounds = 64;
constexpr int kPausesPerRound = 32;
constexpr std::uint64_t kIdBlock = 1024;

void cpu_relax() noexcept {
  __builtin_ia32_pause();
}

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Claims a queued coroutine for running: the one CAS that decides which queue entry,
// inline join or yield_to gets to run it. acquire pairs with the release that made it
// queued (spawn or the handoff that saved its context).
bool claim(Coroutine* c) noexcept {
  std::uint32_t s = c->state.load(std::memory_order_acquire);
  while (s == kFresh || s == kReady) {
    if (c->state.compare_exchange_weak(s, kRunning, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      return true;
    }
  }
  return false;
}

// Claims a never-started coroutine to run it inline on its joiner's stack. Only kFresh:
// a child that a thief started, that suspended and was woken (kReady) since the joiner
// looked must be resumed on its own stack, not entered a second time.
bool claim_fresh(Coroutine* c) noexcept {
  std::uint32_t s = kFresh;
  return c->state.compare_exchange_strong(s, kRunning, std::memory_order_acq_rel,
                                          std::memory_order_relaxed);
}

const char* state_name(std::uint32_t s) noexcept {
  static constexpr const char* kNames[] = {"fresh", "ready", "running", "waiting", "done", "free"};
  return s < std::size(kNames) ? kNames[s] : "corrupt";
}

[[noreturn]] void report_overflow(const Coroutine* c) {
  std::fprintf(stderr,
               "weft: coroutine %llu overflowed its %zu-byte stack (canary at the low end "
               "overwritten)\n",
               static_cast<unsigned long long>(c->id), c->stack ? c->stack->size : 0);
  std::abort();
}

}  // namespace

[[gnu::noinline]] Worker* current_worker() noexcept {
  // The empty volatile asm makes this function impure to the optimizer, so no call to it
  // is merged with an earlier one across a context switch.
  asm volatile("");
  return tls_worker;
}

void unref(Coroutine* c) noexcept {
  // A holder of the last reference skips the atomic read-modify-write: nobody can take a
  // new reference without holding one (spawn sets the count; yield_to adds one through
  // its handle), so a count of 1 is ours alone. The acquire load pairs with the release
  // half of every earlier holder's fetch_sub, as the RMW's acquire would.
  if (c->refs.load(std::memory_order_acquire) != 1 &&
      c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) {
    return;
  }
  // No user code here: the payload was destroyed by its coroutine or its handle's owner
  // (coroutine.hpp, payload_word), so dropping the last reference inside a handoff or a
  // queue clean-up only recycles the record.
  Worker* w = current_worker();
  if (w) {
    w->records().put(c);
  } else {
    delete_record(c);
  }
}

Worker::Worker(Core& core, unsigned index)
    : core_(core),
      check_(core.check()),
      index_(index),
      stacks_(core.stack_allocator()),
      rng_(0x9E3779B97F4A7C15ULL * (index + 1)) {}

Worker::~Worker() = default;

void Worker::start() {
  thread_ = std::thread([this] { main(); });
}

void Worker::join_thread() {
  if (thread_.joinable()) thread_.join();
}

std::uint64_t Worker::next_id() noexcept {
  if (next_id_ == id_limit_) {
    next_id_ = take_ids(kIdBlock);
    id_limit_ = next_id_ + kIdBlock;
  }
  return next_id_++;
}

void Worker::push_local(Coroutine* c) {
  if (check_) [[unlikely]]  // weft::check: its ready list instead of the deque
    return check_->ready(c, /*woken=*/false);
  deque_.push(c);
  core_.idle().notify(/*strict=*/false);
}

// A coroutine woken (or requeued by yield) goes to the newest end, where this worker
// picks it next, and wakes a sleeping peer only if the deque already held other work:
// the woken one has a worker, and waking a peer to steal it turns every hand-off of a
// contended Mutex or Channel into a wake/steal/park cycle across cores (measured: up to
// 100x slower). Tokio's LIFO slot makes the same choice. Peers already searching still
// steal it.
void Worker::push_ready(Coroutine* c) {
  if (check_) [[unlikely]]  // weft::check: its ready list instead of the deque
    return check_->ready(c, /*woken=*/true);
  const bool surplus = deque_.size_estimate() != 0;
  c->state.store(kReady, std::memory_order_release);
  deque_.push(c);
  if (surplus) core_.idle().notify(/*strict=*/false);
}

void expect_waiting(const Coroutine* c) noexcept {
  // Relaxed: whoever suspended it published kWaiting before any waker could find it, and
  // the check is only a tripwire; it costs a plain load on the wake path.
  const std::uint32_t s = c->state.load(std::memory_order_relaxed);
  if (s == kWaiting) return;
  std::fprintf(stderr,
               "weft: internal error: coroutine %llu woken while %s (two wake-ups for one "
               "suspension would run it twice)\n",
               static_cast<unsigned long long>(c->id), state_name(s));
  std::abort();
}

void Worker::make_ready(Coroutine* c) {
  if (c->core != &core_) {  // a waiter of another scheduler goes home (checked there)
    c->core->wake_external(c);
    return;
  }
  expect_waiting(c);
  push_ready(c);
}

SwitchTarget Worker::target_for(Coroutine* next) {
  if (!next) return {root_sp_, root_tsan_fiber_, root_stack_lo_, root_stack_size_};
  return {next->context, next->tsan_fiber, next->stack->lo, next->stack->size};
}

Coroutine* Worker::startable(Coroutine* c) noexcept {
  if (!c || c->stack) return c;
  try {
    give_stack(c);
    return c;
  } catch (...) {
    // No stack can be mapped (RLIMIT_AS, huge stacks): the coroutine fails as if it had
    // thrown. Its completion may run user code (a detached one's payload), which belongs
    // on no coroutine's path between a switch decision and its handoff: the root context
    // completes it, right after this switch (there is only ever one: the switch goes to
    // the root).
    c->result->fail(std::current_exception());
    unstartable_ = c;
    return nullptr;
  }
}

void Worker::fail_unstartable() {
  Coroutine* c = std::exchange(unstartable_, nullptr);
  // The payload protocol as at the end of coroutine_entry; with no stack of its own, a
  // detached coroutine's payload (and the handler that reports the failure) is destroyed
  // on this worker's own stack, outside any handoff.
  if (c->payload_word.fetch_or(kPayloadFinished, std::memory_order_acq_rel) & kPayloadHandleGone) {
    c->destroy(c);
  }
  publish_completion(c);
}

void Worker::note_switch(const Coroutine* next) noexcept {
  switches_.bump();
  if (next) runs_.bump();
  // A switch to the root context is traced when the root resumes (main()), so a run slice
  // ends where the root takes over whatever the path.
  if (trace_.on() && next) [[unlikely]]
    trace_.switch_to(next->active_id);
}

void Worker::trade_exception_state(Coroutine* from, Coroutine* to) noexcept {
  void*& save_caught = from ? from->eh_caught : root_eh_caught_;
  unsigned& save_uncaught = from ? from->eh_uncaught : root_eh_uncaught_;
  swap_exception_state(thread_eh_, save_caught, save_uncaught, to ? to->eh_caught : root_eh_caught_,
                       to ? to->eh_uncaught : root_eh_uncaught_);
}

void Worker::give_stack(Coroutine* c) {
  if (c->context) {  // it ran before and completed: a stale claim would restart it
    std::fprintf(stderr, "weft: internal error: finished coroutine %llu claimed to run again\n",
                 static_cast<unsigned long long>(c->id));
    std::abort();
  }
  Stack* s = stacks_.get();
  c->stack = s;
  c->context = make_context(s->top(), &Worker::coroutine_entry);
  c->tsan_fiber = s->tsan_fiber;
}

// ---- the root context ----

void Worker::main() {
  tls_worker = this;
  const AltSignalStack alt_stack;         // the overflow handler cannot run on the full stack
  thread_eh_ = thread_exception_state();  // this thread's, for every switch it makes
  root_tsan_fiber_ = tsan_current_fiber();
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* lo = nullptr;
    std::size_t size = 0;
    pthread_attr_getstack(&attr, &lo, &size);
    root_stack_lo_ = lo;
    root_stack_size_ = size;
    pthread_attr_destroy(&attr);
  }
  // Timed sleeps of parked workers serve coroutine timers: no 50 us default slack.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  if (core_.options().pin_workers) {
    cpu_set_t set;
    CPU_ZERO(&set);
    const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
    CPU_SET(index_ % cpus, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }

  while (Coroutine* c = find_work()) {
    if (!startable(c)) {
      fail_unstartable();
      continue;
    }
    const SwitchTarget to = target_for(c);
    current_ = c;
    note_switch(c);
    trade_exception_state(nullptr, c);
    void* transfer = switch_context(&root_sp_, &root_fake_stack_, to, nullptr);
    // The root context never migrates: `this` is still the running worker.
    current_ = nullptr;
    if (trace_.on()) [[unlikely]]
      trace_.switch_to(0);
    run_handoff(transfer);
    if (unstartable_) fail_unstartable();
  }
  // Exiting: what is left in the deque are stale entries of coroutines run elsewhere.
  while (Coroutine* c = deque_.pop()) unref(c);
  stacks_.trim();
}

Coroutine* Worker::find_work() {
  if (check_) [[unlikely]]  // weft::check: virtual time, deadlock detection, iterations
    return check_->find_work(*this);
  for (;;) {
    fire_timers();
    Coroutine* c = pick_next(Order::kNewest);
    if (!c) c = take_injected();
    if (c) {
      found_work_while_searching();
      return c;
    }
    if (!searching_) searching_ = core_.idle().try_start_search();
    if (searching_) {
      for (int round = 0; round < kSpinRounds; ++round) {
        c = steal_round();
        if (!c) c = take_injected();
        if (c) {
          found_work_while_searching();
          return c;
        }
        for (int i = 0; i < kPausesPerRound; ++i) cpu_relax();
      }
      searching_ = false;
      core_.idle().stop_search();  // full barrier before the re-check
      if (core_.has_work()) continue;
    }
    if (core_.exiting()) return nullptr;

    // Nothing to run: give back idle stack pages, then sleep until work, I/O or the next
    // timer of any worker (a busy worker's timers must not wait for it).
    stacks_.trim();
    core_.idle().prepare_park(&sleeper_);
    core_.on_worker_idle();  // after prepare_park: see the shutdown pairing in core.cpp
    // After announcing sleep (Dekker with release_poller()): either a worker giving up
    // the poller role sees us and wakes us, or we see the role free and take it.
    const bool as_poller = core_.poller().active() && core_.poller().try_acquire();
    if (as_poller) sleeper_.in_epoll.store(true, std::memory_order_seq_cst);
    const std::int64_t deadline = core_.earliest_timer();
    if (core_.has_work() || core_.exiting() || deadline <= now_ns()) {
      if (as_poller) release_poller();
      if (core_.idle().cancel_park(&sleeper_)) continue;
      IdleSet::park(&sleeper_);  // a waker already took us: consume its wake-up
      searching_ = true;
      continue;
    }
    parks_.bump();
    const std::int64_t parked_at = trace_.on() ? TraceLog::now_ns() : 0;
    planned_wake_.store(deadline, std::memory_order_seq_cst);
    searching_ = sleep(as_poller, deadline);
    planned_wake_.store(TimerQueue::kNone, std::memory_order_relaxed);
    if (searching_) wakeups_.bump();
    if (parked_at) trace_.park(parked_at, TraceLog::now_ns());
  }
}

// While coroutines wait on fds some idle worker should be blocked in epoll_wait, or their
// readiness waits for a busy worker's next look. So whoever gives the role up hands it
// on: it wakes a sleeper, which takes the role when it parks again.
void Worker::release_poller() noexcept {
  sleeper_.in_epoll.store(false, std::memory_order_relaxed);
  core_.poller().release();
  if (core_.poller().active()) core_.idle().wake_one_sleeper();
}

bool Worker::sleep(bool as_poller, std::int64_t deadline_ns) {
  if (as_poller) {
    const std::int64_t timeout =
        deadline_ns == TimerQueue::kNone ? -1 : std::max<std::int64_t>(0, deadline_ns - now_ns());
    // Skip the wait if a waker already took us (it saw in_epoll or not: Dekker on word).
    if (sleeper_.word.load(std::memory_order_seq_cst) == 1) {
      core_.poller().poll(timeout);  // the ready coroutines land in this worker's deque
    }
    release_poller();
  } else if (deadline_ns == TimerQueue::kNone) {
    IdleSet::park(&sleeper_);
  } else {
    futex_wait_until(&sleeper_.word, 1, deadline_ns);
  }
  const bool listed = core_.idle().cancel_park(&sleeper_);
  if (!listed) IdleSet::park(&sleeper_);  // taken by a waker: wait for its store
  return !listed;
}

bool Worker::fire_timers() {
  const auto now = Clock::now();
  std::size_t fired = 0;
  for (unsigned i = 0; i < core_.size(); ++i) {
    fired += core_.worker(i).timers().fire(now, [this](Waiter* w) { make_ready(w->co); });
  }
  if (fired) timer_fires_.add(fired);
  return fired != 0;
}

void Worker::poll_events() {
  if (timers_.earliest() != TimerQueue::kNone) {
    const std::size_t fired = timers_.fire(Clock::now(), [this](Waiter* w) { make_ready(w->co); });
    if (fired) timer_fires_.add(fired);
  }
  Poller& poller = core_.poller();
  if (poller.active() && poller.try_acquire()) {
    poller.poll(0);
    release_poller();
  }
}

void Worker::found_work_while_searching() noexcept {
  if (!searching_) return;
  searching_ = false;
  // A worker woken to collect I/O (the collector-wake hook, or release_poller()) may find
  // work instead: pass the role's wake-up on while others sleep, so that while any worker
  // is idle one of them is in epoll_wait. Two seq_cst loads, on the searching path only.
  if (core_.poller().needs_collector()) core_.idle().wake_one_sleeper();
  // The last searcher to find work wakes another if more work is queued (Go wakes one
  // unconditionally; on a pool woken for a single task that puts a futex wake, and a
  // second worker's spin, ahead of the task). The look is racy by design: work queued
  // after it is announced by its own notify(), which now sees no searcher; the StoreLoad
  // pairing is that of stop_search() with the strict notify(), as for any searcher.
  if (core_.idle().stop_search() && core_.has_work()) core_.idle().notify(/*strict=*/false);
}

// Every scheduling decision of this worker (after a coroutine yields, suspends or
// finishes, and in the loop) comes through here. LIFO from the deque keeps fork-join and
// message ping-pong hot, and alone would starve the rest (tokio#5686): so each run of
// kFairnessTick consecutive decisions takes the head of the injection queue first once
// and the oldest entry of the deque first once. That is the fairness bound of DESIGN.md:
// wherever a coroutine was made ready, it reaches the front of its queue and then runs
// within kFairnessTick decisions of the worker that holds it, or is stolen sooner.
Coroutine* Worker::pick_next(Order order) {
  if (check_) [[unlikely]]  // weft::check: the policy decides (only yield asks for kOldest)
    return check_->pick(/*yielding=*/order == Order::kOldest);
  const std::uint32_t turn = ++decisions_ % kFairnessTick;
  if (turn == 0) {
    if (Coroutine* c = take_injected()) return c;
  } else if (turn == kFairnessTick / 2) {
    order = Order::kOldest;
  }
  for (;;) {
    Coroutine* c = order == Order::kOldest ? deque_.pop_oldest() : deque_.pop();
    if (!c) break;
    if (claim(c)) return c;
    unref(c);  // stale entry: claimed out of band (inline join or yield_to)
  }
  // yield() rotates through everything ready, injected work included; the other paths
  // leave an empty deque to find_work(), which also steals.
  return order == Order::kOldest ? take_injected() : nullptr;
}

Coroutine* Worker::take_injected() {
  Coroutine* c = nullptr;
  while (core_.try_pop_injected(c)) {
    if (claim(c)) return c;
    unref(c);
  }
  return nullptr;
}

Coroutine* Worker::steal_round() {
  const unsigned n = core_.size();
  if (n < 2) return nullptr;
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const unsigned start = static_cast<unsigned>(rng_ % n);
  for (unsigned i = 0; i < n; ++i) {
    Worker& victim = core_.worker((start + i) % n);
    if (&victim == this) continue;
    steal_attempts_.bump();
    while (Coroutine* c = victim.steal()) {
      if (claim(c)) {
        steals_.bump();
        if (trace_.on()) [[unlikely]]
          trace_.steal(c->id, victim.index());
        return c;
      }
      unref(c);
    }
  }
  return nullptr;
}

// ---- switching ----

void Worker::leave(Worker* w, Coroutine* me, Coroutine* next, Handoff& h) {
  next = w->startable(next);
  const SwitchTarget to = w->target_for(next);
  w->current_ = next;
  w->note_switch(next);
  w->trade_exception_state(me, next);
  void* transfer = switch_context(&me->context, &me->asan_fake_stack, to, &h);
  // Resumed, possibly on another thread: re-read the worker.
  current_worker()->run_handoff(transfer);
}

void Worker::run_handoff(void* transfer) {
  if (transfer) perform(*static_cast<const Handoff*>(transfer));
  // Every few dozen switches a busy worker looks at due timers and I/O readiness: only
  // after the handoff, never in pick_next(), because a parking coroutine holds its
  // primitive's lock until its handoff runs, and collecting I/O takes fd locks.
  if (++handoffs_ % kFairnessTick == 0) poll_events();
}

void Worker::perform(const Handoff& handoff) {
  const Handoff h = handoff;  // copy before publishing prev: it lives on prev's stack
  if (h.prev->stack && !h.prev->stack->canary_intact()) report_overflow(h.prev);
  switch (h.kind) {
    case Handoff::kRequeue:
      push_ready(h.prev);
      break;
    case Handoff::kWaitJoin: {
      h.prev->state.store(kWaiting, std::memory_order_relaxed);
      std::uintptr_t expected = 0;
      // acq_rel: publishes prev's saved context to the completer; acquire on failure
      // sees the result of a child that finished meanwhile.
      if (!h.other->join_word.compare_exchange_strong(
              expected, reinterpret_cast<std::uintptr_t>(h.prev), std::memory_order_acq_rel,
              std::memory_order_acquire)) {
        make_ready(h.prev);  // already done: run the waiter again
      }
      break;
    }
    case Handoff::kComplete:
      complete(h.prev);
      break;
    case Handoff::kPark: {
      h.prev->state.store(kWaiting, std::memory_order_relaxed);
      // Once armed, the timer may fire on another worker and resume prev, whose stack
      // holds the waiter: read what we need first and touch the waiter no more.
      if (h.waiter->has_deadline) {
        const std::int64_t due = TimerQueue::ns_of(h.waiter->deadline);
        timers_.add(h.waiter);
        // Sleeping workers planned their wake-ups before this deadline existed.
        // If it is due before any sleeping worker planned to wake, wake one to re-plan.
        if (timers_.earliest() == due && due < core_.earliest_planned_wake()) {
          core_.idle().wake_one_sleeper();
        }
      }
      // From here a waker may find and resume prev. (The lock is the primitive's, which
      // outlives its waiters; a wait with no queue has none.)
      if (h.lock) h.lock->unlock();
      break;
    }
  }
}

void Worker::complete(Coroutine* c) {
  // Only now that no thread runs on it; its TSan fiber stays with the stack.
  stacks_.put(c->stack);
  c->stack = nullptr;
  c->tsan_fiber = nullptr;
  publish_completion(c);
}

void Worker::publish_completion(Coroutine* c) {
  if (check_) [[unlikely]]  // weft::check: no longer live (before the record can be reused)
    check_->completed(c);
  c->state.store(kDone, std::memory_order_relaxed);
  completed_.bump();
  const std::uintptr_t waiter = c->join_word.exchange(kJoinDone, std::memory_order_acq_rel);
  if (waiter > kJoinDone) {
    if (waiter & kThreadWaiterTag) {
      reinterpret_cast<ThreadWaiter*>(waiter & ~std::uintptr_t{7})->wake();
    } else {
      make_ready(reinterpret_cast<Coroutine*>(waiter));
    }
  }
  unref(c);  // the execution's reference
}

void Worker::coroutine_entry(void* transfer) {
  enter_fresh_context();
  Worker* w = current_worker();
  w->run_handoff(transfer);
  Coroutine* me = w->current_;
  me->invoke(me);
  // Still on its own stack: if the handle is gone, the payload's destructors (and the
  // unhandled-exception handler) run here, where they may suspend like any coroutine
  // code. acq_rel: pairs with release() (api.cpp), the other half of the protocol.
  if (me->payload_word.fetch_or(kPayloadFinished, std::memory_order_acq_rel) & kPayloadHandleGone) {
    me->destroy(me);
  }
  current_worker()->finish_current();
}

void Worker::finish_current() {
  Coroutine* me = current_;
  Coroutine* next = startable(pick_next(Order::kNewest));
  // The handoff lives in the worker, not on this stack: the ASan fake stack of a
  // finishing context dies at the switch. The next context on this thread reads it first.
  final_handoff_ = {Handoff::kComplete, me, nullptr};
  const SwitchTarget to = target_for(next);
  current_ = next;
  note_switch(next);
  trade_exception_state(me, next);
  // nullptr fake-stack save: this context is finished and its ASan fake stack may die.
  switch_context(&me->context, nullptr, to, &final_handoff_);
  __builtin_unreachable();
}

void Worker::yield_current() {
  Coroutine* me = current_;
  Coroutine* next = pick_next(Order::kOldest);  // the oldest ready work: yield rotates
  if (!next) {
    // Nothing else is ready: keep running. A coroutine that polls in a yield() loop makes
    // no handoffs, so look at due timers (any worker's) and I/O from here too, or the
    // very thing it waits for may never be woken.
    if (++handoffs_ % kFairnessTick != 0) return;
    fire_timers();
    poll_events();
    next = pick_next(Order::kOldest);
    if (!next) return;
  }
  Handoff h{Handoff::kRequeue, me, nullptr};
  leave(this, me, next, h);
}

void Worker::yield_to_current(Coroutine* target) {
  Coroutine* me = current_;
  if (target != me && target->core == &core_ && claim(target)) {
    // Claimed out of band: its queue entry goes stale but keeps its reference, so the
    // execution takes one of its own.
    target->refs.fetch_add(1, std::memory_order_relaxed);
    Handoff h{Handoff::kRequeue, me, nullptr};
    leave(this, me, target, h);
    return;
  }
  yield_current();
}

void Worker::wait_current(Coroutine* child) {
  Coroutine* me = current_;
  if (child->core == &core_ && child->state.load(std::memory_order_relaxed) == kFresh) {
    // The common fork-join case: the child is our newest entry. Taking the entry itself
    // leaves nothing stale behind and hands us its reference. Stale entries above it
    // (children already run inline out of order) are dropped on the way, so joining in
    // spawn order does not pile them up.
    for (;;) {
      std::int64_t at = -1;
      const Coroutine* newest = deque_.peek_newest(at);
      if (!newest) break;
      // In-order joins (spawn ten, join the first) find the same live sibling on top each
      // time: seen live in this very slot by the last join, it is left alone, saving the
      // pop's fence. Were it claimed since, it is merely cleaned up later.
      if (newest != child && newest == live_hint_ && at == live_hint_at_) break;
      Coroutine* x = deque_.pop();  // the newest (or nothing, if a thief took the last)
      if (!x) break;
      if (x == child && claim_fresh(child)) {
        // We hold every reference there is: the handle (the only one, in this join) and
        // the one entry its spawn made, just popped. Drop the entry's without an atomic
        // read-modify-write; the handle's goes in Task::join.
        child->refs.store(1, std::memory_order_relaxed);
        run_inline(me, child);
        return;
      }
      // Not startable here: live work (perhaps the child itself, started by a thief and
      // since woken) stays for the worker loop; a stale entry is dropped.
      const std::uint32_t s = x->state.load(std::memory_order_acquire);
      if (s == kFresh || s == kReady) {
        deque_.push(x);  // back into slot `at`
        live_hint_ = x;
        live_hint_at_ = at;
        break;
      }
      unref(x);  // the child's handle keeps it alive if x was the child
      if (x == child) break;
    }
    if (claim_fresh(child)) {
      // Its entry goes stale and keeps its reference; the run needs none of its own: the
      // handle, held by this join, keeps the record alive until the run is over.
      run_inline(me, child);
      return;
    }
  }
  Handoff h{Handoff::kWaitJoin, me, child};
  leave(this, me, pick_next(Order::kNewest), h);
  // Resumed: the child is done (its completion woke us, or the handoff found it done).
}

void Worker::park_current(Waiter& w, SpinLock* lock) {
  Coroutine* me = current_;
  Handoff h{Handoff::kPark, me, nullptr, &w, lock};
  leave(this, me, pick_next(Order::kNewest), h);
}

// Runs a claimed, never-started child on the joiner's stack (no stack, no switch). If the
// child suspends, the joiner's coroutine suspends with it, which is what join means. The
// run holds no reference: the joiner's handle outlives it.
void Worker::run_inline(Coroutine* me, Coroutine* child) {
  const std::uint64_t outer = me->active_id;
  me->active_id = child->id;
  runs_.bump();
  // The child sees exactly what it would on a fresh stack: the default FP control state;
  // and whatever it sets stays its own, as the switcher guarantees between contexts.
  const FpControl fp = read_fp_control();
  if (!(fp == kDefaultFpControl)) write_fp_control(kDefaultFpControl);
  child->invoke(child);
  // The joiner holds the only handle and destroys the payload after the join
  // (release_joined): nobody else reads this word.
  child->payload_word.store(kPayloadFinished, std::memory_order_relaxed);
  if (!(read_fp_control() == fp)) write_fp_control(fp);
  me->active_id = outer;
  Worker* w = current_worker();  // the child may have migrated us
  if (w->check_) [[unlikely]]    // weft::check: no longer live
    w->check_->completed(child);
  child->state.store(kDone, std::memory_order_relaxed);
  w->completed_.bump();
  // Nobody else can wait: the joiner is this coroutine, which holds the only handle.
  child->join_word.store(kJoinDone, std::memory_order_release);
}

}  // namespace weft::detail
