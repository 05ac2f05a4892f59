// weft::sleep_for / sleep_until.
#include "weft/time.hpp"

#include <thread>

#include "weft/detail/wait.hpp"
#include "worker.hpp"

namespace weft {

void sleep_until(std::chrono::steady_clock::time_point t) {
  detail::Worker* w = detail::current_worker();
  if (!w || !w->current()) {
    std::this_thread::sleep_until(t);
    return;
  }
  if (t <= detail::Clock::now()) return;
  // A waiter in no queue: only its timer can wake it.
  detail::Waiter waiter;
  detail::park_alone(waiter, t);
}

void sleep_for(std::chrono::nanoseconds d) {
  sleep_until(std::chrono::steady_clock::now() + d);
}

}  // namespace weft
