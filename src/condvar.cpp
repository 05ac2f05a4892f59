// weft::CondVar: the non-template halves of a wait, and the notifiers.
#include "weft/condvar.hpp"

namespace weft {
namespace {
// Waiter::slot of a CondVar waiter: nullptr until it parks, then this mark.
void* parked_mark(detail::Waiter& w) noexcept {
  return &w;
}

// Under lk_: completes a dequeued waiter. One that has not parked yet finds itself
// unlinked in sleep() and does not park; a parked one is woken. If its deadline fired
// first, notify() returns false but the waiter still reports no_timeout (it re-takes lk_
// and finds itself unlinked), so the notification is not lost either way.
void complete(detail::Waiter& w) noexcept {
  if (w.slot) detail::notify(w);
}
}  // namespace

CondVar::~CondVar() {
  lk_.lock();
  const bool waited_on = !q_.empty();
  lk_.unlock();
  if (waited_on) detail::destroyed_in_use("weft::CondVar destroyed while waited on");
}

void CondVar::enqueue(detail::Waiter& w) noexcept {
  lk_.lock();
  q_.push_back(w);
  lk_.unlock();
}

void CondVar::cancel(detail::Waiter& w) noexcept {
  lk_.lock();
  if (w.linked) q_.remove(w);
  lk_.unlock();
}

bool CondVar::sleep(detail::Waiter& w, const detail::Clock::time_point* deadline) {
  lk_.lock();
  if (!w.linked) {  // notified between enqueue() and here
    lk_.unlock();
    return true;
  }
  w.slot = parked_mark(w);
  return detail::block(q_, w, lk_, deadline);
}

void CondVar::notify_one() noexcept {
  lk_.lock();
  if (detail::Waiter* w = q_.pop_front()) complete(*w);
  lk_.unlock();
}

void CondVar::notify_all() noexcept {
  lk_.lock();
  while (detail::Waiter* w = q_.pop_front()) complete(*w);
  lk_.unlock();
}

}  // namespace weft
