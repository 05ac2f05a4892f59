// SPDX-License-Identifier: Apache-2.0
#include "fork_pool.hpp"

#include <memory>

#include "core.hpp"
#include "worker.hpp"

namespace weft::detail {

ForkPool::~ForkPool() {
  for (ForkDeque* d : all_) delete d;
}

ForkDeque* ForkPool::get() {
  std::lock_guard lock(mu_);
  if (!free_.empty()) {
    ForkDeque* d = free_.back();
    free_.pop_back();
    return d;
  }
  // The constructor writes the header alone: each push makes its own slot (push_slot()).
  auto d = std::make_unique<ForkDeque>();
  if (all_.size() == all_.capacity()) all_.reserve(2 * all_.size() + 8);
  free_.reserve(all_.capacity());  // put() never reallocates: it cannot fail
  all_.push_back(d.get());
  return d.release();
}

void ForkPool::put(ForkDeque* d) noexcept {
  d->reset();
  std::lock_guard lock(mu_);
  free_.push_back(d);
}

bool ForkPool::strand(ForkDeque* d) {
  // Under mu_, so that a thief dropping `d` as empty cannot miss what is shared here.
  std::lock_guard lock(mu_);
  if (!d->share_all() || d->listed.load(std::memory_order_relaxed)) return false;
  d->listed.store(true, std::memory_order_relaxed);
  stranded_.push_back(d);
  stranded_count_.store(stranded_.size(), std::memory_order_seq_cst);
  return true;
}

ForkSlot* ForkPool::steal_stranded() {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < stranded_.size();) {
    ForkDeque* d = stranded_[i];
    if (ForkSlot* s = d->steal()) return s;
    // Nothing left (the owner may have resumed and taken its slots back): unlisted.
    d->listed.store(false, std::memory_order_relaxed);
    stranded_[i] = stranded_.back();
    stranded_.pop_back();
  }
  stranded_count_.store(stranded_.size(), std::memory_order_seq_cst);
  return nullptr;
}

void ForkDeque::announce_shared() noexcept {
  // strict: a worker about to park re-checks Core::has_work(), which looks at every
  // worker's running deque; this StoreLoad pairing makes the wake-up certain.
  if (Worker* w = current_worker()) w->core().idle().notify(/*strict=*/true);
}

}  // namespace weft::detail
