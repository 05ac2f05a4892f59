// SPDX-License-Identifier: Apache-2.0
// weft::WaitGroup.
#include "weft/wait_group.hpp"

#include <stdexcept>
#include <string>

namespace weft {

WaitGroup::~WaitGroup() {
  detail::check_unused_on_destroy(lk_, "weft::WaitGroup destroyed while waited on", q_);
}

void WaitGroup::add(std::int64_t n) {
  detail::check_point(detail::CheckOp::kWaitGroupAdd, this, {});
  detail::WakeList wakes;  // wakes after lk_.unlock(): see wait.hpp's rule
  lk_.lock();
  const std::int64_t c = count_.load(std::memory_order_relaxed);
  // The counter is never negative, so the sum overflows only upwards (n > 0).
  std::int64_t sum = 0;
  const bool overflow = __builtin_add_overflow(c, n, &sum);
  if (overflow || sum < 0) {
    lk_.unlock();
    const std::string what = " (" + std::to_string(c) + " + " + std::to_string(n) + ")";
    if (overflow) throw std::overflow_error("weft::WaitGroup::add: counter would overflow" + what);
    throw std::logic_error("weft::WaitGroup::add: counter would become negative" + what);
  }
  // Release: the done() that reaches zero publishes everything before it (and, through
  // lk_, everything before the earlier done()s) to a fast-path wait() that reads 0.
  count_.store(sum, std::memory_order_release);
  if (sum == 0) {
    // Completion by dequeue (wait_queue.hpp): a waiter whose deadline raced with this
    // still returns true, which is right: the counter did reach zero.
    while (detail::Waiter* w = q_.pop_front()) wakes.add(*w);
  }
  lk_.unlock();
}

void WaitGroup::wait(detail::Where where) {
  detail::check_point(detail::CheckOp::kWaitGroupWait, this, where);
  if (count_.load(std::memory_order_acquire) == 0) return;
  wait_impl(nullptr);
}

bool WaitGroup::wait_impl(const detail::Clock::time_point* deadline) {
  detail::Waiter w;
  lk_.lock();
  if (count_.load(std::memory_order_relaxed) == 0) {
    lk_.unlock();
    return true;
  }
  q_.push_back(w);
  return detail::block(q_, w, lk_, deadline);
}

}  // namespace weft
