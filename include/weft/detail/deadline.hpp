// SPDX-License-Identifier: Apache-2.0
// The one place where timeouts and deadlines become steady-clock time points: every
// timeout of every weft call goes through deadline_after() or to_steady(), which saturate
// at time_point::max() ("forever") instead of overflowing. Not public API.
#pragma once

#include <chrono>
#include <type_traits>

#include "weft/detail/check_hook.hpp"

namespace weft::detail {

// `d` in `To` units, rounded up (a wait converted this way never ends early), clamped to
// To's range instead of overflowing: hours::max() in nanoseconds is nanoseconds::max(),
// which the deadline helpers treat as "forever". NaN counts as zero.
template <class To, class Rep, class Period>
constexpr To saturating_ceil(std::chrono::duration<Rep, Period> d) noexcept {
  // long double holds every int64 exactly (x86-64: 64-bit mantissa) and the product of
  // any integral count with a ratio without overflow, so the range check is exact.
  using Wide = std::chrono::duration<long double, typename To::period>;
  const long double x = std::chrono::duration_cast<Wide>(d).count();
  if (x != x) return To::zero();
  if (x >= static_cast<long double>(To::max().count())) return To::max();
  if (x <= static_cast<long double>(To::min().count())) return To::min();
  return std::chrono::ceil<To>(d);
}

// now + d on the steady clock, saturating at time_point::max() ("forever") instead of
// overflowing for huge `d` (duration::max()), and clamping negative `d` to "now".
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(std::chrono::duration<Rep, Period> d) {
  using Steady = std::chrono::steady_clock;
  const Steady::time_point now = steady_now();  // virtual under weft::check
  if (d <= d.zero()) return now;
  using Long = std::chrono::duration<long double, Steady::period>;
  const Long room = Long(Steady::time_point::max() - now);
  if (std::chrono::duration_cast<Long>(d) >= room) return Steady::time_point::max();
  return now + std::chrono::ceil<Steady::duration>(d);
}

// A deadline on any clock, converted to the steady clock (non-steady clocks are sampled
// once, as std::condition_variable_any does), with the same saturation.
template <class C, class D>
std::chrono::steady_clock::time_point to_steady(const std::chrono::time_point<C, D>& t) {
  using Steady = std::chrono::steady_clock;
  if constexpr (std::is_same_v<C, Steady>) {
    const Steady::time_point s(saturating_ceil<Steady::duration>(t.time_since_epoch()));
    if (check_active()) [[unlikely]]
      check_deadline_slow(s);  // a real-clock deadline cannot mean anything in virtual time
    return s;
  } else {
    // In long double nanoseconds: t - now, or even t <= now, overflows in t's own
    // representation for t near its maximum (time_point<system_clock, seconds>::max()).
    using Long = std::chrono::duration<long double, std::nano>;
    const Long left = Long(t.time_since_epoch()) - Long(C::now().time_since_epoch());
    return deadline_after(left);
  }
}

}  // namespace weft::detail
