// SPDX-License-Identifier: Apache-2.0
// Coroutine records: allocated from the heap, recycled through per-worker caches.
//
// A record returns to a cache only when its reference count drops to zero (no Task
// handle, no queue entry, no execution), so recycling never races with a stale queue
// entry. Records are plain heap blocks not tied to any scheduler: a Task may be joined
// after its scheduler is gone, and a record may be freed on any worker or thread.
#pragma once

#include <cstddef>
#include <vector>

#include "weft/detail/coroutine.hpp"

namespace weft::detail {

Coroutine* new_record();
void delete_record(Coroutine* c) noexcept;
// Clears the scheduling fields of a record taken from a cache or the heap.
void reset_record(Coroutine* c) noexcept;

// One worker's cache (owner thread only).
class RecordCache {
 public:
  static constexpr std::size_t kMax = 4096;

  RecordCache() = default;
  ~RecordCache();
  RecordCache(const RecordCache&) = delete;
  RecordCache& operator=(const RecordCache&) = delete;

  Coroutine* get() {
    if (free_.empty()) return new_record();
    Coroutine* c = free_.back();
    free_.pop_back();
    return c;
  }
  void put(Coroutine* c) noexcept;

 private:
  std::vector<Coroutine*> free_;
};

}  // namespace weft::detail
