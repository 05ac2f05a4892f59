// SPDX-License-Identifier: Apache-2.0
// TaskGroup's slow paths: syncing shared and stolen children, children spawned by others
// than the owner, errors, and the destructor.
#include "weft/task_group.hpp"

#include <cstdio>
#include <exception>
#include <stdexcept>
#include <utility>

#include "weft/detail/runtime.hpp"
#include "weft/this_coroutine.hpp"
#include "weft/wait_group.hpp"
#include "worker.hpp"

namespace weft {
namespace detail {

struct ForeignChildren {
  WaitGroup pending;
};

void GroupState::fail(std::exception_ptr e) noexcept {
  // kFailing decides the one writer of error_; wait() reads it only after every child
  // completed, and each completion happens-before wait()'s return (slot done word,
  // inline run, or the foreign WaitGroup).
  if (!(flags_.fetch_or(kFailing | kCancelled, std::memory_order_acq_rel) & kFailing)) {
    ::new (static_cast<void*>(&error_.e)) std::exception_ptr(std::move(e));
  }
}

std::exception_ptr GroupState::take_error() noexcept {
  std::exception_ptr e = std::move(error_.e);
  error_.e.~exception_ptr();
  return e;
}

void sync_one(ForkDeque& d) noexcept {
  ForkSlot* s = d.newest();
  --s->group->local_;
  if (d.take_back()) {
    s->run(s);
    return;
  }
  // Stolen: suspend until the thief is done (acquire pairs with its exchange), then the
  // slot may be reused.
  if (s->done().load(std::memory_order_acquire) != kJoinDone)
    current_worker()->wait_word(&s->done());
  // The thief's exchange was its last touch of the slot (our acquire above pairs with
  // it): the next push may make the slot anew.
  d.pop_stolen();
}

void sync_newest(ForkDeque& d) noexcept {
  bool once = true;
  sync_while(d, [&once] { return std::exchange(once, false); });
}

void sync_all(ForkDeque& d) noexcept {
  sync_while(d, [&d] { return !d.empty(); });
}

}  // namespace detail

void TaskGroup::spawn_foreign(std::function<void()> f) {
  detail::ForeignChildren* fc = foreign_.load(std::memory_order_acquire);
  if (!fc) {
    auto fresh = std::make_unique<detail::ForeignChildren>();
    // acq_rel: the winner publishes its object; a loser reads the winner's.
    if (foreign_.compare_exchange_strong(fc, fresh.get(), std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
      fc = fresh.release();
      flags_.fetch_or(kForeign, std::memory_order_release);
    }
  }
  fc->pending.add(1);
  try {
    weft::spawn([this, fc, f = std::move(f)]() mutable {
      if (!cancelled()) {
        try {
          f();
        } catch (...) {
          fail(std::current_exception());
        }
      }
      f = nullptr;         // what it captured dies before wait() returns
      fc->pending.done();  // the last touch of the group
    }).detach();
  } catch (...) {
    fc->pending.done();
    throw;
  }
}

void TaskGroup::refuse_foreign_wait() const {
  throw std::logic_error(
      "weft::TaskGroup::wait: called from a coroutine other than the one that created the "
      "group (only its owner can run the children it holds)");
}

void TaskGroup::wait_foreign() noexcept {
  if (detail::ForeignChildren* fc = foreign_.load(std::memory_order_acquire)) fc->pending.wait();
}

void TaskGroup::finish_wait() {
  wait_foreign();
  // The object for foreign children stays (kForeign with it): the group is reusable.
  const std::uint32_t flags = flags_.fetch_and(kForeign, std::memory_order_acq_rel);
  if (flags & kFailing) std::rethrow_exception(take_error());
}

void TaskGroup::destroy_slow() noexcept {
  if (std::uncaught_exceptions() > 0) cancel();  // unwinding: skip what has not started
  if (local_ != 0) {
    if (!forks_->owned_by_caller()) {
      std::fprintf(stderr,
                   "weft: a TaskGroup with unfinished children was destroyed outside the "
                   "coroutine that owns them\n");
      std::terminate();
    }
    detail::sync_while(*forks_, [this] { return local_ != 0; });
  }
  wait_foreign();
  delete foreign_.load(std::memory_order_acquire);
  if (flags_.load(std::memory_order_acquire) & kFailing) {
    detail::unhandled_exception(0, take_error());
  }
}

}  // namespace weft
