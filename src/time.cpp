// SPDX-License-Identifier: Apache-2.0
// weft::sleep_for / sleep_until.
#include "weft/time.hpp"

#include <algorithm>
#include <thread>

#include "weft/detail/wait.hpp"
#include "weft/detail/wait_queue.hpp"
#include "worker.hpp"

namespace weft {

void sleep_until(std::chrono::steady_clock::time_point t, detail::Where where) {
  if (detail::check_active()) [[unlikely]] {
    detail::check_point(detail::CheckOp::kSleep, nullptr, where);
    detail::check_deadline_slow(t);  // a real-clock deadline means nothing in virtual time
  }
  detail::Worker* w = detail::current_worker();
  if (!w || !w->current()) {
    // In bounded steps, so no library arithmetic on `t` can overflow (t - now does not:
    // now < t and both are on one clock).
    using namespace std::chrono_literals;
    for (auto now = detail::Clock::now(); now < t; now = detail::Clock::now()) {
      std::this_thread::sleep_for(std::min<detail::Clock::duration>(t - now, 24h));
    }
    return;
  }
  if (t <= detail::steady_now()) return;
  // A waiter in no queue: only its timer can wake it (never, for time_point::max()).
  detail::Waiter waiter;
  detail::park_alone(waiter, t);
}

void sleep_for(std::chrono::nanoseconds d, detail::Where where) {
  // Saturates: nanoseconds::max() gives time_point::max(); d <= 0 gives now.
  sleep_until(detail::deadline_after(d), where);
}

}  // namespace weft
