// SPDX-License-Identifier: Apache-2.0
// weft::CondVar: the non-template halves of a wait, and the notifiers.
#include "weft/condvar.hpp"

namespace weft {
namespace {
// Waiter::slot of a CondVar waiter: nullptr until it parks, then this mark.
void* parked_mark(detail::Waiter& w) noexcept {
  return &w;
}

// Under lk_: completes a dequeued waiter. One that has not parked yet finds itself
// unlinked in sleep() and does not park; a parked one is claimed, to be woken after lk_ is
// released. If its deadline fired first, the claim fails but the waiter still reports
// no_timeout (it re-takes lk_ and finds itself unlinked), so the notification is not lost
// either way.
void complete(detail::Waiter& w, detail::WakeList& wakes) noexcept {
  if (w.slot) wakes.add(w);
}
}  // namespace

CondVar::~CondVar() {
  detail::check_unused_on_destroy(lk_, "weft::CondVar destroyed while waited on", q_);
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

// The wakes come from `wakes`' destructor, after lk_.unlock(): see wait.hpp's rule.
void CondVar::notify_one() noexcept {
  detail::check_point(detail::CheckOp::kCondVarNotifyOne, this, {});
  detail::WakeList wakes;
  lk_.lock();
  // Any waiter may be the one woken: under weft::check the policy picks it (FIFO otherwise).
  detail::Waiter* w = detail::check_active() ? detail::check_pick_waiter(q_) : q_.pop_front();
  if (w) complete(*w, wakes);
  lk_.unlock();
}

void CondVar::notify_all() noexcept {
  detail::check_point(detail::CheckOp::kCondVarNotifyAll, this, {});
  detail::WakeList wakes;
  lk_.lock();
  while (detail::Waiter* w = q_.pop_front()) complete(*w, wakes);
  lk_.unlock();
}

}  // namespace weft
