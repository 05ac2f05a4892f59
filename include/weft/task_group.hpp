// SPDX-License-Identifier: Apache-2.0
// weft::TaskGroup — structured fork-join: spawn children, wait for all of them.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "weft/detail/fork_deque.hpp"

namespace weft {

class TaskGroup;

namespace detail {

// What a group's children report to it, from any thread.
struct GroupState {
  bool cancelled() const noexcept { return flags_.load(std::memory_order_relaxed) & kCancelled; }
  void cancel() noexcept { flags_.fetch_or(kCancelled, std::memory_order_relaxed); }
  // The first exception wins; it also cancels the group, as in oneTBB and Cilk.
  void fail(std::exception_ptr e) noexcept;

  // Moves the exception out of error_ and ends error_'s lifetime (kFailing was set).
  std::exception_ptr take_error() noexcept;

  // kFailing: error_ holds the first exception (its writer is whoever set the bit).
  // kForeign: children spawned by others than the owner exist (TaskGroup::foreign_).
  // Any bit sends wait() and the destructor down their slow path.
  static constexpr std::uint32_t kCancelled = 1, kFailing = 2, kForeign = 4;
  std::atomic<std::uint32_t> flags_{0};
  // Children pushed into the owner's deque and not yet synced (owner only). Next to
  // flags_: the constructor zeroes both with one store.
  std::uint32_t local_ = 0;
  // Alive only while kFailing is set: a group that never fails neither constructs nor
  // destroys an exception_ptr (spawn+wait stays a handful of stores).
  union Error {
    Error() noexcept {}
    ~Error() {}
    std::exception_ptr e;
  } error_;
};

// Children spawned by anyone but the owner coroutine (plain threads, other coroutines):
// ordinary coroutines, counted here.
struct ForeignChildren;

// Pops the owner's newest slot, shared or stolen, and runs it (or waits for the thief
// that took it).
void sync_one(ForkDeque& d) noexcept;

// Syncs the owner's newest slot: pops and runs it if private, else sync_one().
void sync_newest(ForkDeque& d) noexcept;

// Syncs the owner's newest slot while more() holds: private ones with plain loads and
// stores, the rest through sync_one().
template <class More>
[[gnu::always_inline]] inline void sync_while(ForkDeque& d, More more) noexcept {
  while (more()) {
    if (ForkSlot* s = d.pop_private()) [[likely]] {
      --s->group->local_;
      s->run(s);
    } else {
      sync_one(d);
    }
  }
}

// The thunk stored in a slot for a callable F.
template <class F>
struct SlotTask {
  static constexpr bool kInline =
      sizeof(F) <= kForkSlotStorage && alignof(F) <= 8 && std::is_nothrow_move_constructible_v<F>;
  using Stored = std::conditional_t<kInline, F, F*>;

  template <class G>
  static void emplace(ForkSlot* s, G&& f) {
    if constexpr (kInline) {
      ::new (static_cast<void*>(s->storage)) F(std::forward<G>(f));
    } else {
      F* boxed = new F(std::forward<G>(f));  // an oversized capture: one allocation
      ::new (static_cast<void*>(s->storage)) F*(boxed);
    }
    s->run = &run;
  }
  // The captured state leaves the slot before the call: a slot synced by its owner was
  // popped, and the children this one spawns reuse it while it runs.
  static void run(ForkSlot* s) noexcept {
    GroupState* g = s->group;
    if constexpr (kInline) {
      F* stored = std::launder(reinterpret_cast<F*>(s->storage));
      F f(std::move(*stored));
      stored->~F();
      call(g, f);
    } else {
      F* boxed = *std::launder(reinterpret_cast<F**>(s->storage));
      call(g, *boxed);
      delete boxed;
    }
  }
  static void call(GroupState* g, F& f) noexcept {
    if (g->cancelled()) return;
    try {
      std::invoke(f);
    } catch (...) {
      g->fail(std::current_exception());
    }
  }
};

}  // namespace detail

/// A set of child tasks that one coroutine (or thread) forks and then waits for, with
/// the semantics of oneTBB's task_group and Cilk's spawn/sync.
///
/// In a coroutine, spawn() stores the child in the calling coroutine's own deque: no
/// allocation (unless the callable is larger than 40 bytes) and no atomic
/// read-modify-write while nobody steals. wait() runs the children nobody stole on the
/// caller's stack, newest first, and suspends only while stolen ones finish elsewhere. A
/// stolen child runs as a coroutine of its own, so children may block (Mutex, Channel,
/// sleep, join) like any coroutine code. Children spawned from a plain thread, or from a
/// coroutine other than the group's creator, run as ordinary coroutines of the current
/// (or default) scheduler and are waited for all the same.
///
/// An exception escaping a child cancels the group and is rethrown by wait() (the first
/// one; later ones are dropped). After wait() returns or throws the group is empty and may
/// be reused. The destructor waits for children still running (cancelling them first
/// while an exception is propagating) and reports an exception nobody waited for to the
/// unhandled-exception handler.
class TaskGroup : private detail::GroupState {
 public:
  // The fast paths are always_inline: a fork costs a few stores only when they sit in the
  // caller (g++ otherwise leaves wait() out of line in a large translation unit, and fib's
  // fork-join costs 15% more).

  /// An empty group owned by the calling coroutine or thread.
  [[gnu::always_inline]] TaskGroup() : forks_(owner_forks()) {}
  [[gnu::always_inline]] ~TaskGroup() {
    if ((local_ | flags_.load(std::memory_order_relaxed)) != 0) [[unlikely]]
      destroy_slow();
  }
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  /// Forks `f()` (decay-copied) as a child of this group. Thread-safe: any coroutine or
  /// thread may add children. After cancel(), children that have not started are skipped.
  template <class F>
  [[gnu::always_inline]] void spawn(F&& f) {
    using Fn = std::decay_t<F>;
    static_assert(std::is_invocable_v<Fn&>, "weft::TaskGroup::spawn: f() must be callable");
    if (forks_->owned_by_caller()) [[likely]] {
      detail::ForkSlot* s = forks_->push_slot();
      detail::SlotTask<Fn>::emplace(s, std::forward<F>(f));
      s->group = this;
      ++local_;
      // A full deque: the newest child (this one) runs at once.
      if (forks_->commit_push()) [[unlikely]]
        detail::sync_newest(*forks_);
      return;
    }
    spawn_foreign(std::function<void()>(std::forward<F>(f)));
  }

  /// Runs or waits for every child spawned so far (and those they add meanwhile).
  /// Rethrows the first exception a child threw. Must be called by the group's owner.
  [[gnu::always_inline]] void wait() {
    if (forks_->owned_by_caller()) [[likely]] {
      detail::sync_while(*forks_, [this] { return local_ != 0; });
    } else if (forks_ != &detail::plain_thread_forks) {
      refuse_foreign_wait();
    }
    // Relaxed: every child's completion already happens-before this point (run here, or
    // the done word's acquire in sync_one()); finish_wait() acquires what the flags guard
    // (the error, foreign children).
    if (flags_.load(std::memory_order_relaxed) != 0) [[unlikely]]
      finish_wait();
  }

  /// Children that have not started yet are skipped; running ones finish. wait() still
  /// waits for them (and throws nothing unless a child threw).
  void cancel() noexcept { GroupState::cancel(); }
  /// True after cancel() or a child's exception, until wait() returns.
  bool is_cancelling() const noexcept { return cancelled(); }

 private:
  [[gnu::always_inline]] static detail::ForkDeque* owner_forks() {
    detail::ForkDeque* d = detail::running_forks();
    return d ? d : detail::current_forks();
  }
  void spawn_foreign(std::function<void()> f);
  [[noreturn]] void refuse_foreign_wait() const;
  // The slow half of wait(): foreign children, then the error and the flags.
  void finish_wait();
  void wait_foreign() noexcept;
  void destroy_slow() noexcept;

  // The owner coroutine's deque; &plain_thread_forks when a thread owns the group.
  detail::ForkDeque* const forks_;
  std::atomic<detail::ForeignChildren*> foreign_{nullptr};
};

}  // namespace weft
