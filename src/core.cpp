#include "core.hpp"

#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

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
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  if (o.stack_size < page || o.stack_size > kMaxStackSize) {
    throw std::invalid_argument("weft::Options::stack_size = " + std::to_string(o.stack_size) +
                                " bytes is out of range: accepted " + std::to_string(page) +
                                " (one page) to " + std::to_string(kMaxStackSize) + " bytes");
  }
  o.stack_size = (o.stack_size + page - 1) / page * page;
  return o;
}

std::uint64_t take_ids(std::uint64_t count) noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(count, std::memory_order_relaxed);
}

Core::Core(const Options& options)
    : options_(resolve_options(options)), stacks_(options_.stack_size), idle_(options_.workers) {
  install_overflow_handler();
  idle_.set_interrupt([](void* poller) { static_cast<Poller*>(poller)->interrupt(); }, &poller_);
  workers_.reserve(options_.workers);
  for (unsigned i = 0; i < options_.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, i));
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
  stopping_.store(true, std::memory_order_seq_cst);
  // An outside spawn that passed its stopping_ check before we set it finishes its push
  // within a few instructions; wait for it so live() counts it.
  wait_external_calls();
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
  // Entries left in the injection queue are stale (their coroutines ran via a claim).
  Coroutine* c = nullptr;
  while (injected_.try_pop(c)) unref(c);
}

void Core::submit_external(Coroutine* c) {
  ExternalCall call(*this);
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
  if (!injected_.empty()) return true;
  for (const auto& w : workers_) {
    if (w->has_queued()) return true;
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

Stats Core::stats() const noexcept {
  Stats s;
  s.spawned = external_spawned_.load(std::memory_order_acquire);
  for (const auto& w : workers_) {
    s.completed += w->completed();
    s.spawned += w->spawned();
    s.switches += w->switches();
    s.steals += w->steals();
    s.parks += w->parks();
  }
  return s;
}

}  // namespace weft::detail
