// SPDX-License-Identifier: Apache-2.0
#include "record_pool.hpp"

#include <new>

namespace weft::detail {

Coroutine* new_record() {
  return new Coroutine;
}

void delete_record(Coroutine* c) noexcept {
  delete c;
}

void reset_record(Coroutine* c) noexcept {
  // Exclusively owned here (reference count zero), so relaxed stores suffice; the record
  // is published later by the release operations of submit().
  c->state.store(kFree, std::memory_order_relaxed);
  c->refs.store(0, std::memory_order_relaxed);
  c->join_word.store(0, std::memory_order_relaxed);
  c->payload_word.store(0, std::memory_order_relaxed);
  c->invoke = nullptr;
  c->destroy = nullptr;
  c->result = nullptr;
  c->context = nullptr;
  c->stack = nullptr;
  c->core = nullptr;
  c->id = 0;
  c->active_id = 0;
  c->tsan_fiber = nullptr;
  c->asan_fake_stack = nullptr;
  c->eh_caught = nullptr;
  c->eh_uncaught = 0;
  c->forks = nullptr;
}

RecordCache::~RecordCache() {
  for (Coroutine* c : free_) delete_record(c);
}

void RecordCache::put(Coroutine* c) noexcept {
  if (free_.size() >= kMax) {
    delete_record(c);
    return;
  }
  try {
    free_.push_back(c);
  } catch (const std::bad_alloc&) {
    delete_record(c);
  }
}

}  // namespace weft::detail
