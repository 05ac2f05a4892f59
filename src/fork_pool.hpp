// SPDX-License-Identifier: Apache-2.0
// ForkPool: a scheduler's TaskGroup deques. It recycles them (they are large and lazily
// touched), and lists the *stranded* ones: deques of suspended coroutines with children
// nobody took, which thieves must still find (a parked owner is on no worker).
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include "weft/detail/fork_deque.hpp"

namespace weft::detail {

class ForkPool {
 public:
  ForkPool() = default;
  ~ForkPool();
  ForkPool(const ForkPool&) = delete;
  ForkPool& operator=(const ForkPool&) = delete;

  ForkDeque* get();
  // Back from a completed coroutine (empty). Deques are never freed before the pool:
  // a thief may still hold a pointer read from Worker::active_forks, and a steal from a
  // recycled deque is either empty-handed or a valid steal (its CAS checks ts).
  void put(ForkDeque* d) noexcept;

  // The owner of `d` suspends: shares everything and lists `d` if something is shared.
  // True when it listed it.
  bool strand(ForkDeque* d);
  // A thief: a slot from some stranded deque, dropping the emptied ones.
  ForkSlot* steal_stranded();
  bool any_stranded() const noexcept {
    return stranded_count_.load(std::memory_order_seq_cst) != 0;
  }

 private:
  std::mutex mu_;
  std::vector<ForkDeque*> free_;      // under mu_
  std::vector<ForkDeque*> all_;       // under mu_: every deque made, freed with the pool
  std::vector<ForkDeque*> stranded_;  // under mu_
  std::atomic<std::size_t> stranded_count_{0};
};

}  // namespace weft::detail
