// SPDX-License-Identifier: Apache-2.0
#include "timer.hpp"

namespace weft::detail {
namespace {
constexpr std::size_t kNotQueued = SIZE_MAX;
}

void TimerQueue::add(Waiter* w) {
  std::lock_guard lock(mu_);
  w->timers = this;
  w->timer_index = heap_.size();
  heap_.push_back(w);
  sift_up(w->timer_index);
  publish_earliest();
}

void TimerQueue::cancel(Waiter* w) noexcept {
  std::lock_guard lock(mu_);
  if (w->timer_index != kNotQueued && w->timer_index < heap_.size() && heap_[w->timer_index] == w) {
    remove_at(w->timer_index);
    publish_earliest();
  }
  w->timers = nullptr;
}

void TimerQueue::remove_at(std::size_t i) noexcept {
  heap_[i]->timer_index = kNotQueued;
  const std::size_t last = heap_.size() - 1;
  if (i != last) {
    heap_[i] = heap_[last];
    heap_[i]->timer_index = i;
  }
  heap_.pop_back();
  if (i < heap_.size()) {
    sift_up(i);
    sift_down(i);
  }
}

void TimerQueue::sift_up(std::size_t i) noexcept {
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!(heap_[i]->deadline < heap_[parent]->deadline)) break;
    std::swap(heap_[i], heap_[parent]);
    heap_[i]->timer_index = i;
    heap_[parent]->timer_index = parent;
    i = parent;
  }
}

void TimerQueue::sift_down(std::size_t i) noexcept {
  for (;;) {
    const std::size_t l = 2 * i + 1, r = l + 1;
    std::size_t m = i;
    if (l < heap_.size() && heap_[l]->deadline < heap_[m]->deadline) m = l;
    if (r < heap_.size() && heap_[r]->deadline < heap_[m]->deadline) m = r;
    if (m == i) break;
    std::swap(heap_[i], heap_[m]);
    heap_[i]->timer_index = i;
    heap_[m]->timer_index = m;
    i = m;
  }
}

}  // namespace weft::detail
