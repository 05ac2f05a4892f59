// SPDX-License-Identifier: Apache-2.0
// weft::parallel_invoke, parallel_for and parallel_reduce: fork-join loops over TaskGroup.
#pragma once

#include <algorithm>
#include <concepts>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/task_group.hpp"
#include "weft/this_coroutine.hpp"

namespace weft {
namespace detail {

// Lazy binary splitting (Tzannes, Caragea, Barua and Vishkin, PPoPP 2010): a loop splits
// its range in two only when its coroutine's deque has no shared half left for thieves;
// otherwise it runs a chunk and looks again. So a busy pool splits a range about once
// per steal, and one worker runs it almost serially. Without a grain, chunks start at
// one iteration and double up to kMaxChunk while no thief needs work: cheap bodies
// amortize the look, costly ones stay responsive.
inline constexpr long kMaxChunk = 4096;

template <class I, class F>
struct ForRange {
  const F& f;
  I grain;  // 0: automatic

  void run(I b, I e) const {
    ForkDeque& d = *current_forks();
    TaskGroup g;
    I chunk = grain ? grain : I{1};
    const I min_split = grain ? grain : I{1};
    while (b < e) {
      if (e - b > min_split && d.nothing_shared()) {
        const I mid = b + (e - b) / 2;
        g.spawn([this, mid, e] { run(mid, e); });
        d.share_now();
        e = mid;
        if (!grain) chunk = 1;
        continue;
      }
      const I stop = e - b > chunk ? b + chunk : e;
      for (; b != stop; ++b) f(b);
      if (!grain && chunk < static_cast<I>(kMaxChunk)) chunk *= 2;
    }
    g.wait();
  }
};

template <class I, class T, class F, class C>
struct ReduceRange {
  const T& identity;
  const F& f;
  const C& combine;
  I grain;  // 0: automatic

  T run(I b, I e) const {
    ForkDeque& d = *current_forks();
    T acc = identity;
    I chunk = grain ? grain : I{1};
    const I min_split = grain ? grain : I{1};
    while (b < e) {
      if (e - b > min_split && d.nothing_shared()) {
        const I mid = b + (e - b) / 2;
        std::optional<T> right;
        TaskGroup g;
        g.spawn([this, &right, mid, e] { right.emplace(run(mid, e)); });
        d.share_now();
        T left = run(b, mid);
        g.wait();
        return combine(combine(std::move(acc), std::move(left)), std::move(*right));
      }
      const I stop = e - b > chunk ? b + chunk : e;
      acc = f(b, stop, std::move(acc));
      b = stop;
      if (!grain && chunk < static_cast<I>(kMaxChunk)) chunk *= 2;
    }
    return acc;
  }
};

// Runs `body` in a coroutine: itself when already in one, else on the default scheduler
// with the calling thread blocked (as join() does).
template <class Body>
decltype(auto) in_coroutine_or_spawn(Body&& body) {
  if (weft::in_coroutine()) return std::forward<Body>(body)();
  return weft::spawn(std::forward<Body>(body)).join();
}

}  // namespace detail

/// Runs every `f()` in parallel and returns when all are done. The first exception any of
/// them throws is rethrown once the others have finished; it cancels those that had not
/// started. Works from a coroutine and from a plain thread.
template <class... F>
void parallel_invoke(F&&... f) {
  TaskGroup g;
  (g.spawn([&f] { f(); }), ...);
  g.wait();
}

/// Calls `f(i)` for every i in [first, last), in parallel. Partitioning is automatic
/// (lazy binary splitting): no grain is needed. From a plain thread the loop runs on the
/// default scheduler and the thread blocks until it is done. The first exception `f`
/// throws is rethrown once every running chunk has stopped; chunks not yet started are
/// skipped.
template <std::integral I, class F>
void parallel_for(I first, I last, F&& f) {
  if (first >= last) return;
  detail::in_coroutine_or_spawn([&] {
    detail::ForRange<I, std::remove_reference_t<F>>{f, I{0}}.run(first, last);
  });
}

/// parallel_for() that never splits a range of `grain` or fewer iterations and runs
/// chunks of `grain` iterations. Throws std::invalid_argument if grain < 1.
template <std::integral I, class F>
void parallel_for(I first, I last, I grain, F&& f) {
  if (grain < 1) throw std::invalid_argument("weft::parallel_for: grain must be at least 1");
  if (first >= last) return;
  detail::in_coroutine_or_spawn([&] {
    detail::ForRange<I, std::remove_reference_t<F>>{f, grain}.run(first, last);
  });
}

/// Reduces [first, last) in parallel: each part starts from `identity`, `f(lo, hi, acc)`
/// folds the sub-range [lo, hi) into acc and returns it, and `combine(a, b)` joins two
/// adjacent parts (a before b). `combine` must be associative and `identity` its
/// neutral element; the order of parts is kept, so it need not be commutative.
template <std::integral I, class T, class F, class C>
T parallel_reduce(I first, I last, const T& identity, F&& f, C&& combine) {
  if (first >= last) return identity;
  return detail::in_coroutine_or_spawn([&] {
    return detail::ReduceRange<I, T, std::remove_reference_t<F>, std::remove_reference_t<C>>{
        identity, f, combine, I{0}}
        .run(first, last);
  });
}

/// parallel_reduce() with a fixed grain (see the grain overload of parallel_for()).
template <std::integral I, class T, class F, class C>
T parallel_reduce(I first, I last, I grain, const T& identity, F&& f, C&& combine) {
  if (grain < 1) throw std::invalid_argument("weft::parallel_reduce: grain must be at least 1");
  if (first >= last) return identity;
  return detail::in_coroutine_or_spawn([&] {
    return detail::ReduceRange<I, T, std::remove_reference_t<F>, std::remove_reference_t<C>>{
        identity, f, combine, grain}
        .run(first, last);
  });
}

}  // namespace weft
