// SPDX-License-Identifier: Apache-2.0
/// @file
/// weft::Task<T> — the handle of a spawned coroutine.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/detail/check_hook.hpp"
#include "weft/detail/coroutine.hpp"
#include "weft/detail/job.hpp"
#include "weft/detail/runtime.hpp"

namespace weft {

template <class T>
class Task;

namespace detail {
/// The one door between a Task and its record, for the spawn and yield_to templates.
struct TaskAccess {
  template <class T>
  static Task<T> adopt(Coroutine* c) noexcept {
    return Task<T>(c);
  }
  template <class T>
  static Coroutine* record(const Task<T>& t) noexcept {
    return t.c_;
  }
};
}  // namespace detail

/// Move-only. join() returns the coroutine's value or rethrows what it threw; in a
/// coroutine it suspends only the caller, on a plain thread it blocks the thread.
/// A Task destroyed or reassigned without join() is detached: the coroutine runs on,
/// and an exception escaping it goes to the unhandled-exception handler.
template <class T>
class Task {
 public:
  Task() noexcept = default;
  /// Takes over `o`'s coroutine; `o` becomes empty.
  Task(Task&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  /// Detaches the coroutine this one holds, if any, then takes over `o`'s.
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  /// Waits for the coroutine and returns its value, or rethrows what it threw; the
  /// handle is empty afterwards. Throws std::logic_error on an empty handle and
  /// std::system_error (resource_deadlock_would_occur) when a coroutine joins itself.
  T join(detail::Where where = WEFT_HERE) {
    if (!c_)
      throw std::logic_error(
          "weft::Task::join: no coroutine (already joined, detached or moved from)");
    detail::check_point(detail::CheckOp::kJoin, c_, where);
    detail::wait(c_);
    struct Release {
      detail::Coroutine* c;
      ~Release() { detail::release_joined(c); }
    } release{std::exchange(c_, nullptr)};
    return static_cast<detail::Result<T>*>(release.c->result)->take();
  }

  /// Lets the coroutine run on unjoined (see the class comment); the handle is empty
  /// afterwards. Throws std::logic_error on an empty handle.
  void detach() {
    if (!c_)
      throw std::logic_error(
          "weft::Task::detach: no coroutine (already joined, detached or moved from)");
    reset();
  }

  /// True while this handle owns a coroutine (not joined, detached or moved from).
  bool valid() const noexcept { return c_ != nullptr; }
  /// True once the coroutine has finished; join() then returns without waiting.
  bool done() const noexcept {
    return c_ && c_->join_word.load(std::memory_order_acquire) == detail::kJoinDone;
  }
  /// The coroutine's id (as weft::this_coroutine_id() reports inside it), 0 if !valid().
  std::uint64_t id() const noexcept { return c_ ? c_->id : 0; }

 private:
  friend struct detail::TaskAccess;

  explicit Task(detail::Coroutine* c) noexcept : c_(c) {}
  void reset() noexcept {
    if (c_) detail::release(std::exchange(c_, nullptr));
  }

  detail::Coroutine* c_ = nullptr;
};

template <class F, class... A>
/// The value type of the Task that spawn(f, args...) returns: what f(args...) returns, decayed.
using spawn_result_t = std::decay_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>>;

namespace detail {
/// Spawns `f(a...)` on `core`; the function and arguments are decay-copied, as std::thread does.
template <class F, class... A>
auto make_task(detail::Core* core, F&& f, A&&... a) {
  using R = spawn_result_t<F, A...>;
  using J = Job<R, std::decay_t<F>, std::decay_t<A>...>;
  Coroutine* c = allocate(core);
  try {
    J::emplace(c, std::forward<F>(f), std::forward<A>(a)...);
  } catch (...) {
    discard(c);
    throw;
  }
  try {
    submit(c);
  } catch (...) {
    J::destroy(c);
    discard(c);
    throw;
  }
  // weft::check: names what the coroutine runs (for its reports), and the child may run
  // first (a preemption point).
  if (check_active()) [[unlikely]]
    check_spawned_slow(c, typeid(std::decay_t<F>));
  return TaskAccess::adopt<R>(c);
}
}  // namespace detail

}  // namespace weft
