// weft::Event.
#include "weft/event.hpp"

namespace weft {

Event::~Event() {
  lk_.lock();
  const bool waited_on = !q_.empty();
  lk_.unlock();
  if (waited_on) detail::destroyed_in_use("weft::Event destroyed while waited on");
}

void Event::set() noexcept {
  lk_.lock();
  set_.store(true, std::memory_order_release);
  // Every queued waiter is released, even one whose deadline raced with this (completion
  // by dequeue, wait_queue.hpp): it returns true, since the event was set before it gave up.
  while (detail::Waiter* w = q_.pop_front()) detail::notify(*w);
  lk_.unlock();
}

void Event::reset() noexcept {
  lk_.lock();
  set_.store(false, std::memory_order_relaxed);
  lk_.unlock();
}

void Event::wait() {
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
