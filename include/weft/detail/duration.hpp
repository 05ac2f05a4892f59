// Saturating duration conversion for the public headers (timeouts, sleeps). Not public API.
#pragma once

#include <chrono>

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

}  // namespace weft::detail
