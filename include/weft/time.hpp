// Sleeping that suspends only the calling coroutine.
#pragma once

#include <chrono>

namespace weft {

// In a coroutine: suspends it (its worker runs others meanwhile) until at least `d` has
// passed. On a plain thread: std::this_thread::sleep_for.
void sleep_for(std::chrono::nanoseconds d);
// The same, until `t` on the steady clock.
void sleep_until(std::chrono::steady_clock::time_point t);

template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  sleep_for(std::chrono::ceil<std::chrono::nanoseconds>(d));
}
template <class Duration>
void sleep_until(std::chrono::time_point<std::chrono::steady_clock, Duration> t) {
  sleep_until(std::chrono::time_point_cast<std::chrono::steady_clock::duration>(t));
}

}  // namespace weft
