// SPDX-License-Identifier: Apache-2.0
// The worker thread: its identity, its root context and the loop that runs coroutines
// (looking for work and parking: worker_idle.cpp; choosing the next: worker_ready.cpp;
// switching and handoffs: worker_switch.cpp; completion and joins: worker_join.cpp).
#include "worker.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>

#include <algorithm>
#include <thread>

#include "check_run.hpp"
#include "core.hpp"
#include "overflow.hpp"

namespace weft::detail {
namespace {

constexpr std::uint64_t kIdBlock = 1024;

}  // namespace
}  // namespace weft::detail

// Read by static_tls.hpp's asm (hence C linkage), which needs the initial-exec model:
// one thread-pointer-relative load, no __tls_get_addr call; fine for a library linked
// into the program (not dlopen'ed late). Constant-initialized, so they read nullptr
// before anything ran on the thread.
extern "C" {
// The worker this thread is (current_worker()); set once, when the worker thread starts.
[[gnu::tls_model("initial-exec"),
  gnu::used]] constinit thread_local weft::detail::Worker* weft_current_worker_tls = nullptr;
// The running coroutine's deque (fork_deque.hpp, running_forks()), kept by note_switch().
[[gnu::tls_model("initial-exec"),
  gnu::used]] constinit thread_local weft::detail::ForkDeque* weft_running_forks = nullptr;
}

namespace weft::detail {

void Worker::note_running_forks(ForkDeque* d) noexcept {
  weft_running_forks = d;
}

constinit ForkDeque plain_thread_forks{ForkDeque::Inert{}};

// Called by a TaskGroup constructor that found no deque through running_forks().
[[gnu::noinline]] ForkDeque* current_forks() {
  Worker* w = current_worker();
  const Coroutine* c = w ? w->current() : nullptr;
  if (!c) return &plain_thread_forks;
  return c->forks ? c->forks : w->current_forks();
}

ForkDeque* Worker::current_forks() {
  Coroutine* c = current_;
  if (!c) return nullptr;
  if (!c->forks) {
    ForkDeque* d = core_.forks().get();
    c->forks = d;
    active_forks_.store(d, std::memory_order_release);
    note_running_forks(d);
  }
  return c->forks;
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

void Worker::main() {
  weft_current_worker_tls = this;
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
    after_switch(transfer);
    if (unstartable_) fail_unstartable();
  }
  // Exiting: what is left in the deque are stale entries of coroutines run elsewhere.
  while (Coroutine* c = deque_.pop()) unref(c);
  stacks_.trim();
}

}  // namespace weft::detail
