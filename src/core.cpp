// SPDX-License-Identifier: Apache-2.0
#include "core.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "arch.hpp"
#include "check_run.hpp"
#include "overflow.hpp"
#include "worker.hpp"

namespace weft::detail {

Options resolve_options(Options o) {
  if (o.workers > kMaxWorkers) {
    throw std::invalid_argument("weft::Options::workers = " + std::to_string(o.workers) +
                                " is out of range: accepted 0 (hardware_concurrency) to " +
                                std::to_string(kMaxWorkers));
  }
  if (o.workers == 0) o.workers = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t page = page_size();
  if (o.stack_size < page || o.stack_size > kMaxStackSize) {
    throw std::invalid_argument("weft::Options::stack_size = " + std::to_string(o.stack_size) +
                                " bytes is out of range: accepted " + std::to_string(page) +
                                " (one page) to " + std::to_string(kMaxStackSize) + " bytes");
  }
  o.stack_size = (o.stack_size + page - 1) / page * page;
  if (o.guard_size < page || o.guard_size > kMaxGuardSize) {
    throw std::invalid_argument("weft::Options::guard_size = " + std::to_string(o.guard_size) +
                                " bytes is out of range: accepted " + std::to_string(page) +
                                " (one page) to " + std::to_string(kMaxGuardSize) + " bytes");
  }
  o.guard_size = (o.guard_size + page - 1) / page * page;
  return o;
}

std::uint64_t take_ids(std::uint64_t count) noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(count, std::memory_order_relaxed);
}

namespace {
// Events kept per worker: 8M in all (256 MiB at most), whatever the worker count.
constexpr std::size_t kTraceEventsTotal = std::size_t{1} << 23;

// Bumped in every fork()ed child (pthread_atfork), so a Core from before the fork sees a
// newer generation than its own. Relaxed: it changes only in the child's only thread,
// before any thread of the child that reads it exists (thread creation orders the two).
std::atomic<std::uint64_t> g_fork_generation{0};

std::uint64_t fork_generation_for_new_core() {
  static const int registered = pthread_atfork(
      nullptr, nullptr, [] { g_fork_generation.fetch_add(1, std::memory_order_relaxed); });
  if (registered != 0) {
    throw std::system_error(registered, std::generic_category(), "weft: pthread_atfork");
  }
  return g_fork_generation.load(std::memory_order_relaxed);
}
}  // namespace

bool core_forked_away(const Core* c) noexcept {
  return c->fork_generation_ != g_fork_generation.load(std::memory_order_relaxed);
}

void refuse_if_forked_away(const Core* c) {
  if (core_forked_away(c)) {
    throw std::logic_error(
        "weft: this scheduler was created before fork(); it cannot run anything in the "
        "child process, where its worker threads do not exist (use a new Scheduler, or "
        "weft::spawn: the child's default scheduler is a fresh one)");
  }
}

void abandon_forked_core(Core* c) {
  static auto* abandoned = new std::vector<Core*>;  // never freed: keeps them reachable
  abandoned->push_back(c);
}

Core::Core(const Options& options, CheckRun* check)
    : options_(resolve_options(options)),
      check_(check),
      fork_generation_(fork_generation_for_new_core()),
      trace_path_(resolve_trace_path(options_.trace)),
      stacks_(options_.stack_size, options_.guard_size),
      idle_(options_.workers) {
  if (!trace_path_.empty()) {
    trace_file_.reset(std::fopen(trace_path_.c_str(), "w"));
    if (!trace_file_) {
      const int err = errno;
      if (!options_.trace.empty()) {
        throw std::system_error(
            err, std::generic_category(),
            "weft: cannot create the trace file '" + trace_path_ + "' (weft::Options::trace)");
      }
      // An environment variable should not take the program down: say so and run untraced.
      std::fprintf(stderr, "weft: WEFT_TRACE: cannot create '%s' (%s); tracing is off\n",
                   trace_path_.c_str(), std::generic_category().message(err).c_str());
    }
  }
  install_overflow_handler();
  idle_.set_interrupt([](void* poller) { static_cast<Poller*>(poller)->interrupt(); }, &poller_);
  // An fd wait that starts while nobody holds the poller role wakes a parked worker, which
  // takes the role as it parks again (I/O liveness: docs/DESIGN.md, "Timers and I/O").
  poller_.set_collector_wake([](void* idle) { static_cast<IdleSet*>(idle)->wake_one_sleeper(); },
                             &idle_);
  workers_.reserve(options_.workers);
  for (unsigned i = 0; i < options_.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, i));
    if (trace_file_) {
      workers_.back()->trace().enable(
          std::max<std::size_t>(1 << 16, kTraceEventsTotal / options_.workers));
    }
  }
  unsigned started = 0;
  try {
    for (; started < options_.workers; ++started) workers_[started]->start();
  } catch (...) {
    exiting_.store(true, std::memory_order_seq_cst);
    idle_.wake_all();
    for (unsigned i = 0; i < started; ++i) workers_[i]->join_thread();
    throw;
  }
}

Core::~Core() {
  shutdown();
}

// The shutdown pairings (nothing here relies on a StoreLoad between unrelated atomics):
//  - With an outside spawn (submit_external): Dekker on two seq_cst locations. We store
//    stopping_ then read external_inflight_; a spawner increments external_inflight_ then
//    reads stopping_. So either it sees stopping_ and refuses, or we see it in flight and
//    wait until its push (counted in external_spawned_) is done, so live() counts it.
//  - With the workers, through mutexes only: every worker going idle announces itself
//    under the IdleSet's mutex (prepare_park) and only then reads stopping_
//    (on_worker_idle). Our wake_all() takes that mutex after storing stopping_: a worker
//    that announced itself before that is on the idle list and is woken, and announces
//    itself again; one that announces itself after it reads stopping_ == true. So the
//    worker that completed the last coroutine passes on_worker_idle() with stopping_ seen,
//    after that completion, and notifies done_cv_ under done_mu_, where we re-check live().
void Core::shutdown() {
  if (stopping_.exchange(true, std::memory_order_seq_cst)) return;  // already shut down
  wait_external_calls();
  idle_.wake_all();
  {
    std::unique_lock lock(done_mu_);
    done_cv_.wait(lock, [this] { return live() == 0; });
  }
  // A thread that woke our last coroutine may still be inside wake_external(), after
  // the push that let it finish: let it leave before this Core goes away.
  wait_external_calls();
  exiting_.store(true, std::memory_order_seq_cst);
  idle_.wake_all();
  for (auto& w : workers_) w->join_thread();
  if (trace_file_) write_trace();
  // Entries left in the injection queue are stale (their coroutines ran via a claim).
  Coroutine* c = nullptr;
  while (injected_.try_pop(c)) unref(c);
}

void Core::submit_external(Coroutine* c) {
  refuse_if_forked_away(this);
  ExternalCall call(*this);
  // weft::check: a spawn from outside the exploration's thread is outside the model.
  if (check_) [[unlikely]]
    check_->external("a spawn");
  if (stopping_.load(std::memory_order_seq_cst)) {
    throw std::logic_error("weft: spawn refused: the scheduler is shutting down");
  }
  c->id = take_ids(1);
  c->active_id = c->id;
  c->refs.store(2, std::memory_order_relaxed);  // the Task handle and the queue entry
  c->state.store(kFresh, std::memory_order_relaxed);
  external_spawned_.fetch_add(1, std::memory_order_release);
  injected_.push(c);  // the queue's internal synchronization publishes the record
  idle_.notify(/*strict=*/true);
}

void Core::wake_external(Coroutine* c) {
  expect_waiting(c);
  ExternalCall call(*this);
  // weft::check: a wake-up from outside the exploration's thread is outside the model.
  if (check_) [[unlikely]]
    check_->external("a wake-up");
  c->state.store(kReady, std::memory_order_release);
  injected_.push(c);
  idle_.notify(/*strict=*/true);
}

void Core::wait_external_calls() const noexcept {
  while (external_inflight_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
}

std::int64_t Core::earliest_timer() const noexcept {
  std::int64_t t = TimerQueue::kNone;
  for (const auto& w : workers_) t = std::min(t, w->timers().earliest());
  return t;
}

std::int64_t Core::earliest_planned_wake() const noexcept {
  std::int64_t t = TimerQueue::kNone;
  for (const auto& w : workers_) t = std::min(t, w->planned_wake());
  return t;
}

bool Core::has_work() const noexcept {
  if (!injected_.empty() || forks_.any_stranded()) return true;
  for (const auto& w : workers_) {
    if (w->has_queued()) return true;
    const ForkDeque* d = w->active_forks();
    if (d && d->has_shared()) return true;
  }
  return false;
}

void Core::on_worker_idle() {
  if (!stopping_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(done_mu_);
  done_cv_.notify_all();
}

// Every spawn happens-before its coroutine's completion, and each completion counter is
// read with acquire before any spawn counter: so every spawn whose completion we count is
// counted too, and live() never reads zero while a coroutine is unfinished.
std::uint64_t Core::live() const noexcept {
  std::uint64_t done = 0;
  for (const auto& w : workers_) done += w->completed();
  std::uint64_t spawned = external_spawned_.load(std::memory_order_acquire);
  for (const auto& w : workers_) spawned += w->spawned();
  return spawned - done;
}

// Completions are read before spawns, as in live(): a snapshot never shows more coroutines
// completed than spawned.
Stats Core::stats() const {
  Stats s;
  s.workers.resize(workers_.size());
  for (std::size_t i = 0; i < workers_.size(); ++i)
    s.workers[i].completed = workers_[i]->completed();
  s.spawned = external_spawned_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    const Worker& w = *workers_[i];
    WorkerStats& ws = s.workers[i];
    ws.spawned = w.spawned();
    ws.runs = w.runs();
    ws.switches = w.switches();
    ws.steal_attempts = w.steal_attempts();
    ws.steals = w.steals();
    ws.children_stolen = w.children_stolen();
    ws.parks = w.parks();
    ws.wakeups = w.wakeups();
    ws.timer_fires = w.timer_fires();
    ws.stacks_pooled = w.stacks_pooled();
    s.spawned += ws.spawned;
    s.completed += ws.completed;
    s.runs += ws.runs;
    s.switches += ws.switches;
    s.steal_attempts += ws.steal_attempts;
    s.steals += ws.steals;
    s.children_stolen += ws.children_stolen;
    s.parks += ws.parks;
    s.wakeups += ws.wakeups;
    s.timer_fires += ws.timer_fires;
    s.stacks_pooled += ws.stacks_pooled;
  }
  s.live = s.spawned - s.completed;
  s.stacks_mapped = stacks_.mapped();
  return s;
}

void Core::write_trace() noexcept {
  std::vector<const TraceLog*> logs;
  try {
    for (const auto& w : workers_) logs.push_back(&w->trace());
  } catch (const std::bad_alloc&) {
    return;
  }
  const bool written = write_chrome_trace(trace_file_.get(), logs, trace_origin_ns_);
  if (std::fclose(trace_file_.release()) != 0 || !written) {
    std::fprintf(stderr, "weft: could not write the trace file '%s'\n", trace_path_.c_str());
  }
}

}  // namespace weft::detail
