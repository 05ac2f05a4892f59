// SPDX-License-Identifier: Apache-2.0
// weft::Event.
#include "weft/event.hpp"

namespace weft {

Event::~Event() {
  detail::check_unused_on_destroy(lk_, "weft::Event destroyed while waited on", q_);
}

void Event::set() noexcept {
  detail::check_point(detail::CheckOp::kEventSet, this, {});
  detail::WakeList wakes;  // wakes after lk_.unlock(): see wait.hpp's rule
  lk_.lock();
  set_.store(true, std::memory_order_release);
  // Every queued waiter is released, even one whose deadline raced with this (completion
  // by dequeue, wait_queue.hpp): it returns true, since the event was set before it gave up.
  while (detail::Waiter* w = q_.pop_front()) wakes.add(*w);
  lk_.unlock();
}

void Event::reset() noexcept {
  detail::check_point(detail::CheckOp::kEventReset, this, {});
  lk_.lock();
  set_.store(false, std::memory_order_relaxed);
  lk_.unlock();
}

void Event::wait(detail::Where where) {
  detail::check_point(detail::CheckOp::kEventWait, this, where);
  if (is_set()) return;
  wait_impl(nullptr);
}

bool Event::wait_impl(const detail::Clock::time_point* deadline) {
  detail::Waiter w;
  lk_.lock();
  if (set_.load(std::memory_order_relaxed)) {
    lk_.unlock();
    return true;
  }
  q_.push_back(w);
  return detail::block(q_, w, lk_, deadline);
}

}  // namespace weft
