// SPDX-License-Identifier: Apache-2.0
// Job<R, F, Args...>: the function, its arguments and its result, placed in a record's
// payload (or boxed on the heap when too large). Not public API.
#pragma once

#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "weft/detail/coroutine.hpp"
#include "weft/detail/runtime.hpp"

namespace weft::detail {

// The part of a Result<T> the runtime sees: a coroutine that cannot start (its stack
// cannot be mapped) fails with an exception like one that threw.
class ResultBase {
 public:
  void fail(std::exception_ptr e) noexcept { error_ = std::move(e); }

 protected:
  std::exception_ptr error_;
};

template <class T>
class Result : public ResultBase {
 public:
  template <class Call>
  void capture(Call&& call) noexcept {
    try {
      if constexpr (std::is_void_v<T>) {
        std::forward<Call>(call)();
        value_ = true;
      } else {
        value_.emplace(std::forward<Call>(call)());
      }
    } catch (...) {
      error_ = std::current_exception();
    }
  }
  // Moves the value out, or rethrows (after taking) the stored exception.
  T take() {
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    if constexpr (!std::is_void_v<T>) return std::move(*value_);
  }
  std::exception_ptr take_error() noexcept { return std::exchange(error_, nullptr); }

 private:
  std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value_{};
};

template <class R, class F, class... Args>
struct Job {
  template <class F2, class... A2>
  explicit Job(F2&& f, A2&&... a)
      : call(std::in_place, std::forward<F2>(f), std::forward<A2>(a)...) {}

  std::optional<std::tuple<F, Args...>> call;  // reset right after the call returns
  Result<R> result;

  static constexpr bool kInline =
      sizeof(Job) <= kPayloadSize && alignof(Job) <= alignof(std::max_align_t);

  static Job* of(Coroutine* c) noexcept {
    if constexpr (kInline) {
      return std::launder(reinterpret_cast<Job*>(c->payload));
    } else {
      return *std::launder(reinterpret_cast<Job**>(c->payload));
    }
  }

  static void invoke(Coroutine* c) noexcept {
    Job* j = of(c);
    j->result.capture([j]() -> R {
      return std::apply(
          [](F& fn, Args&... args) -> R { return std::invoke(std::move(fn), std::move(args)...); },
          *j->call);
    });
    j->call.reset();  // captured state dies when the coroutine ends, as with std::thread
  }

  static void destroy(Coroutine* c) noexcept {
    Job* j = of(c);
    if (std::exception_ptr e = j->result.take_error()) unhandled_exception(c->id, e);
    if constexpr (kInline) {
      j->~Job();
    } else {
      delete j;
    }
  }

  // Builds the job inside `c`; on a throwing copy/move the record is left untouched.
  template <class F2, class... A2>
  static void emplace(Coroutine* c, F2&& f, A2&&... a) {
    Job* j;
    if constexpr (kInline) {
      j = ::new (static_cast<void*>(c->payload)) Job(std::forward<F2>(f), std::forward<A2>(a)...);
    } else {
      j = new Job(std::forward<F2>(f), std::forward<A2>(a)...);
      ::new (static_cast<void*>(c->payload)) Job*(j);
    }
    c->invoke = &invoke;
    c->destroy = &destroy;
    c->result = &j->result;
  }
};

}  // namespace weft::detail
