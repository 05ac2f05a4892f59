// SPDX-License-Identifier: Apache-2.0
/// @file
/// Sleeping that suspends only the calling coroutine.
#pragma once

#include <chrono>

#include "weft/detail/deadline.hpp"

namespace weft {

/// In a coroutine: suspends it (its worker runs others meanwhile) until at least `d` has
/// passed. On a plain thread: blocks the thread. Zero or negative: returns at once. Huge
/// durations (nanoseconds::max(), hours::max()) saturate: practically forever.
void sleep_for(std::chrono::nanoseconds d, detail::Where where = WEFT_HERE);
/// The same, until `t` on the steady clock (time_point::max(): practically forever).
void sleep_until(std::chrono::steady_clock::time_point t, detail::Where where = WEFT_HERE);

template <class Rep, class Period>
/// sleep_for() for any duration type (rounded up to nanoseconds, saturating).
void sleep_for(std::chrono::duration<Rep, Period> d, detail::Where where = WEFT_HERE) {
  sleep_for(detail::saturating_ceil<std::chrono::nanoseconds>(d), where);
}
template <class Duration>
/// sleep_until() for any steady_clock time point (rounded up, saturating).
void sleep_until(std::chrono::time_point<std::chrono::steady_clock, Duration> t,
                 detail::Where where = WEFT_HERE) {
  using Steady = std::chrono::steady_clock;
  sleep_until(Steady::time_point(detail::saturating_ceil<Steady::duration>(t.time_since_epoch())),
              where);
}

}  // namespace weft
